"""Safe names for received files, and saving them without replacing anything."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pairview.host.downloads import (
    MAX_NAME_BYTES,
    PendingFile,
    SaveError,
    numbered,
    prepare_folder,
    safe_name,
)

# An unprivileged user id: "nobody" in /etc/passwd on Debian, which these tests run on.
NOBODY = 65534


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("a/b\\c", "c"),
        ("C:\\Windows\\system.ini", "system.ini"),
        ("\x01con.txt", "_con.txt"),
        ("NUL", "_NUL"),
        ("lpt1.log", "_lpt1.log"),
        ("console.txt", "console.txt"),
        ("..", "file"),
        ("/", "file"),
        ("", "file"),
        (".bashrc", "bashrc"),
        ("name. . ", "name"),
        ("evil\u202etxt.exe", "eviltxt.exe"),
        ("tab\there", "tabhere"),
        ("e\u0301t\u00e9.txt", "\u00e9t\u00e9.txt"),
        ("photo 👨\u200d👩\u200d👧.png", "photo 👨\u200d👩\u200d👧.png"),
    ],
)
def test_safe_name(name: str, expected: str) -> None:
    assert safe_name(name) == expected


def test_long_name_keeps_extension() -> None:
    name = safe_name("é" * 300 + ".tar")
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert name.endswith("é.tar")


def test_numbered_names() -> None:
    assert numbered("report.pdf", 0) == "report.pdf"
    assert numbered("report.pdf", 2) == "report (2).pdf"
    assert numbered("README", 1) == "README (1)"
    assert numbered("archive.tar.gz", 1) == "archive.tar (1).gz"


def test_saved_under_free_name(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "notes (1).txt").write_text("mine too")

    pending = PendingFile(tmp_path, "../notes.txt")
    pending.write(b"theirs")
    assert pending.temporary.parent == tmp_path
    assert pending.temporary.name.startswith(".pairview-")
    path = pending.finish()

    assert path == tmp_path / "notes (2).txt"
    assert path.read_bytes() == b"theirs"
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "notes (1).txt").read_text() == "mine too"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "notes (1).txt",
        "notes (2).txt",
        "notes.txt",
    ]


def test_discard_leaves_nothing(tmp_path: Path) -> None:
    pending = PendingFile(tmp_path, "half.bin")
    pending.write(b"x" * 1000)
    pending.discard()
    pending.discard()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SaveError, match="finished twice or after discard"):
        pending.finish()


def test_symlink_in_folder_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "outside.txt"
    target.write_text("keep")
    folder = tmp_path / "downloads"
    folder.mkdir()
    (folder / "link.txt").symlink_to(target)

    pending = PendingFile(folder, "link.txt")
    pending.write(b"new")
    path = pending.finish()

    assert path == folder / "link (1).txt"
    assert target.read_text() == "keep"


def test_unwritable_folder_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(SaveError, match=str(blocker)):
        PendingFile(blocker / "sub", "a.txt")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_read_only_folder_is_named(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(SaveError, match="Permission denied"):
            PendingFile(tmp_path, "a.txt")
    finally:
        tmp_path.chmod(0o700)


@contextlib.contextmanager
def unwritable_folder() -> Iterator[Path]:
    """Yield a folder that this process cannot create files in until the block ends.

    Root passes every permission check, so a root process takes the user id
    NOBODY inside the block. Only its effective user id changes, so it can
    switch back.
    """
    base = Path(tempfile.mkdtemp(prefix="pairview-test-"))
    folder = base / "downloads"
    try:
        base.chmod(0o755)
        folder.mkdir(mode=0o555)
        if os.geteuid() == 0:
            os.seteuid(NOBODY)
            try:
                yield folder
            finally:
                os.seteuid(0)
        else:
            yield folder
    finally:
        folder.chmod(0o755)
        shutil.rmtree(base)


def test_prepare_creates_missing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"

    prepare_folder(folder)

    assert folder.is_dir()
    assert list(folder.iterdir()) == []


def test_prepare_keeps_existing_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")

    prepare_folder(tmp_path)

    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_prepare_rejects_file(tmp_path: Path) -> None:
    file = tmp_path / "Downloads"
    file.write_text("mine")

    with pytest.raises(SaveError) as raised:
        prepare_folder(file)

    assert str(raised.value) == f"{file} is a file, not a folder"
    assert file.read_text() == "mine"


def test_prepare_rejects_device() -> None:
    with pytest.raises(SaveError) as raised:
        prepare_folder(Path("/dev/null"))

    assert str(raised.value) == "/dev/null exists but is not a folder"


def test_prepare_rejects_dangling_link(tmp_path: Path) -> None:
    link = tmp_path / "Downloads"
    link.symlink_to(tmp_path / "gone")

    with pytest.raises(SaveError) as raised:
        prepare_folder(link)

    assert str(raised.value) == (
        f"{link} is a symbolic link to {tmp_path / 'gone'}, which does not exist"
    )
    assert not (tmp_path / "gone").exists()


@pytest.mark.parametrize(
    ("below", "reason"),
    [("file", "Not a directory"), ("/proc/no-such-process", "No such file or directory")],
)
def test_prepare_reports_uncreatable_folder(tmp_path: Path, below: str, reason: str) -> None:
    (tmp_path / "file").write_text("")
    folder = tmp_path / below / "Downloads"

    with pytest.raises(SaveError) as raised:
        prepare_folder(folder)

    assert str(raised.value) == f"{folder} cannot be created: {reason}"


def test_prepare_rejects_unwritable_folder() -> None:
    with unwritable_folder() as folder:
        with pytest.raises(SaveError) as raised:
            prepare_folder(folder)
        contents = list(folder.iterdir())

    assert str(raised.value) == f"{folder} is not writable: Permission denied"
    assert contents == []
