"""The `pairview` command's checks at start: each bad value stops it with advice.

No test here sends a packet: "bad host!" is neither an IP address nor a
valid host name, and glibc rejects it without asking a DNS server (a string
such as 999.1.1.1 would be looked up). 192.0.2.1 (TEST-NET-1) is not an
address of this machine, so binding to it fails locally.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pairview.cli import main
from tests.support.xvfb import Display, xvfb


@pytest.fixture(autouse=True)
def no_environment_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep settings from the environment of the test run out of these tests."""
    for name in os.environ:
        if name.startswith("PAIRVIEW_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def display() -> Iterator[Display]:
    with xvfb(320, 240) as running:
        yield running


def share_command(tmp_path: Path, *options: str) -> list[str]:
    """Return `pairview share` arguments that keep every file inside `tmp_path`."""
    return [
        "share",
        "--data-dir",
        str(tmp_path / "data"),
        "--downloads-dir",
        str(tmp_path / "downloads"),
        *options,
    ]


BAD_ADDRESSES = [
    ("bad host!", "is neither an IP address nor a host name that resolves"),
    ("192.0.2.1", "is not an address of this machine"),
]


@pytest.mark.parametrize(("host", "problem"), BAD_ADDRESSES)
def test_server_bad_host_advises_host(
    host: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["server", "--host", host, "--port", "0", "--stun-port", "off"])

    error = capsys.readouterr().err
    assert code == 2
    assert f"pairview: Cannot listen on {host}: it {problem}" in error
    assert "Choose one with --host, such as 127.0.0.1 or 0.0.0.0." in error
    assert "--port" not in error


@pytest.mark.parametrize(("address", "problem"), BAD_ADDRESSES)
def test_share_bad_bind_advises_bind(
    address: str,
    problem: str,
    tmp_path: Path,
    display: Display,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DISPLAY", display.name)

    code = main(share_command(tmp_path, "--bind", address))

    error = capsys.readouterr().err
    assert code == 2
    assert f"pairview: Cannot listen on {address}: it {problem}" in error
    assert "Choose one with --bind, such as 127.0.0.1 or 0.0.0.0." in error
    assert "--port" not in error
    assert "--host" not in error


def test_share_busy_port_advises_port(
    tmp_path: Path,
    display: Display,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DISPLAY", display.name)
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]

    try:
        code = main(share_command(tmp_path, "--bind", "127.0.0.1", "--port", str(port)))
    finally:
        blocker.close()

    error = capsys.readouterr().err
    assert code == 2
    assert f"pairview: Cannot listen on 127.0.0.1 port {port}:" in error
    assert "Choose another with --port, or stop what uses it." in error
    assert "--bind" not in error


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("notes.txt", "is a file, not a folder"),
        ("notes.txt/Downloads", "cannot be created: Not a directory"),
    ],
)
def test_share_bad_downloads_dir_stops(
    name: str,
    problem: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Without a display, a share that went past the check would stop at capture.
    monkeypatch.delenv("DISPLAY", raising=False)
    (tmp_path / "notes.txt").write_text("mine")
    folder = tmp_path / name

    code = main(["share", "--data-dir", str(tmp_path / "data"), "--downloads-dir", str(folder)])

    error = capsys.readouterr().err
    assert code == 2
    assert error == (
        "pairview: Invalid settings:\n"
        f"  downloads_dir (--downloads-dir / PAIRVIEW_SHARE_DOWNLOADS_DIR): {folder} {problem}\n"
    )
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_share_downloads_dir_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    (tmp_path / "notes.txt").write_text("mine")
    monkeypatch.setenv("PAIRVIEW_SHARE_DOWNLOADS_DIR", str(tmp_path / "notes.txt"))

    code = main(["share", "--data-dir", str(tmp_path / "data")])

    error = capsys.readouterr().err
    assert code == 2
    assert "PAIRVIEW_SHARE_DOWNLOADS_DIR): " in error
    assert f"{tmp_path / 'notes.txt'} is a file, not a folder" in error


def test_share_creates_downloads_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    folder = tmp_path / "Downloads" / "Pairview"

    code = main(["share", "--data-dir", str(tmp_path / "data"), "--downloads-dir", str(folder)])

    # The folder is ready before the screen is captured, which fails here.
    assert code == 2
    assert "No X display to capture" in capsys.readouterr().err
    assert folder.is_dir()


@pytest.mark.parametrize("after_command", [False, True], ids=["before", "after"])
def test_config_read_either_side(
    after_command: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    (tmp_path / "notes.txt").write_text("mine")
    config = tmp_path / "pairview.toml"
    config.write_text(f"[share]\ndownloads_dir = '{tmp_path / 'notes.txt'}'\n")
    share = ["share", "--data-dir", str(tmp_path / "data")]
    option = ["--config", str(config)]

    code = main(share + option if after_command else option + share)

    error = capsys.readouterr().err
    assert code == 2
    assert f"{tmp_path / 'notes.txt'} is a file, not a folder" in error
