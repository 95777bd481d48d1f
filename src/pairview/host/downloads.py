"""Files that guests send to the host, saved in the downloads folder under safe names.

A received file is written to a hidden temporary file inside the folder and
flushed to disk. Only after its hash has been checked does it get its final
name: a hard link that fails when the name exists, so that nothing already
in the folder is ever replaced. A cancelled or failed transfer removes the
temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import BinaryIO

from pairview.errors import PairviewError

logger = logging.getLogger(__name__)

# Names that Windows reserves for devices, with or without an extension;
# a file called so could not be opened there once copied over.
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)
# C0 and C1 controls, and bidirectional overrides that make "exe.txt" read as "txt.exe".
_UNWANTED = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SEPARATORS = re.compile(r"[/\\]")
MAX_NAME_BYTES = 255
FALLBACK_NAME = "file"
# NOTE: a host app killed during a transfer leaves its hidden temporary file
# (.pairview-*.part) behind; nothing removes such files later.
TEMPORARY_PREFIX = ".pairview-"
TEMPORARY_SUFFIX = ".part"
# Attempts at a free name before giving up: "name (1).ext" up to this number.
MAX_NUMBERED_NAMES = 9999


class SaveError(PairviewError):
    """A received file could not be written or given its name."""


def safe_name(name: str) -> str:
    """Turn a name chosen by a remote participant into a plain file name.

    The result has no path separator, control character or bidirectional
    override, is neither "." nor ".." nor hidden, is not a reserved device
    name and fits in 255 bytes of UTF-8 with its extension kept.
    """
    name = unicodedata.normalize("NFC", name)
    parts = [part for part in _SEPARATORS.split(name) if part.strip(" .")]
    name = parts[-1] if parts else ""
    name = _UNWANTED.sub("", name)
    # Leading dots hide a file; trailing dots and spaces vanish on Windows.
    name = name.strip().lstrip(".").rstrip(". ")
    if not name:
        return FALLBACK_NAME
    if _RESERVED.match(name):
        name = "_" + name
    return _fit(name, MAX_NAME_BYTES)


def _fit(name: str, limit: int) -> str:
    """Shorten the stem so that the name fits in `limit` bytes, keeping a short extension."""
    if len(name.encode()) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension.encode()) > 16:
        stem, extension, dot = name, "", ""
    room = limit - len((dot + extension).encode())
    shortened = stem.encode()[:room].decode(errors="ignore").rstrip(". ")
    return (shortened or FALLBACK_NAME) + dot + extension


def numbered(name: str, number: int) -> str:
    """Return "report (2).pdf" for ("report.pdf", 2)."""
    if number == 0:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        stem, dot, extension = name, "", ""
    return _fit(f"{stem} ({number}){dot}{extension}", MAX_NAME_BYTES)


# errno values of a folder that this user may not write to, or that sits on
# a read-only file system: EACCES, EPERM, EROFS.
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}


def prepare_folder(folder: Path) -> None:
    """Create the downloads folder if it is missing, and check that files can be saved in it.

    Raise SaveError naming the folder and the problem with it. Saving checks
    the folder again, because it may be removed or changed later.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise SaveError(_not_a_folder(folder)) from None
    except OSError as error:
        raise SaveError(f"{folder} cannot be created: {error.strerror}") from None

    # Creating a file tests exactly what saving does, which access() may not,
    # because access(2) can be wrong on NFS with UID mapping.
    try:
        descriptor, temporary = _mkstemp(folder)
        os.close(descriptor)
        os.unlink(temporary)
    except OSError as error:
        if error.errno in _NOT_WRITABLE:
            raise SaveError(f"{folder} is not writable: {error.strerror}") from None
        raise SaveError(f"cannot create a file in {folder}: {error.strerror}") from None


def _not_a_folder(path: Path) -> str:
    if path.is_symlink() and not path.exists():
        return f"{path} is a symbolic link to {os.readlink(path)}, which does not exist"
    if path.is_file():
        return f"{path} is a file, not a folder"
    return f"{path} exists but is not a folder"


class PendingFile:
    """A received file in the making: a temporary file in the downloads folder."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.name = safe_name(name)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = _mkstemp(folder)
        except OSError as error:
            raise SaveError(
                f"cannot create a file in the downloads folder {folder}: {error.strerror}"
            ) from None
        self.temporary = Path(temporary)
        self._file: BinaryIO | None = os.fdopen(descriptor, "wb", buffering=1024 * 1024)
        self.path: Path | None = None

    def write(self, data: bytes) -> None:
        if self._file is None:
            raise SaveError(f"{self.name}: write after the file was closed")
        try:
            self._file.write(data)
        except OSError as error:
            raise SaveError(f"cannot write {self.temporary}: {error.strerror}") from None

    def finish(self) -> Path:
        """Flush to disk and give the file a free name; return its path. Blocks on fsync."""
        if self._file is None:
            raise SaveError(f"{self.name}: finished twice or after discard")
        file, self._file = self._file, None
        try:
            file.flush()
            os.fsync(file.fileno())
            file.close()
            self.path, moved = self._link()
            if not moved:
                self.temporary.unlink()
            _fsync_directory(self.folder)
        except OSError as error:
            self.discard()
            raise SaveError(f"cannot save {self.name} in {self.folder}: {error.strerror}") from None
        return self.path

    def discard(self) -> None:
        """Remove the temporary file, leaving nothing of the transfer behind."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        with contextlib.suppress(FileNotFoundError):
            self.temporary.unlink()

    def _link(self) -> tuple[Path, bool]:
        """Give the temporary file a free name; return it and whether the file was moved."""
        for number in range(MAX_NUMBERED_NAMES + 1):
            target = self.folder / numbered(self.name, number)
            try:
                os.link(self.temporary, target)
            except FileExistsError:
                continue
            except OSError as error:
                if error.errno not in _NO_HARD_LINKS:
                    raise
                if _claim(target):
                    os.replace(self.temporary, target)
                    return target, True
                continue
            return target, False
        raise SaveError(f"no free name for {self.name} in {self.folder}")


# errno values of file systems without hard links (such as FAT): EPERM,
# EOPNOTSUPP, EMLINK. There the name is claimed with O_EXCL and replaced.
_NO_HARD_LINKS = {1, 95, 31}


def _claim(target: Path) -> bool:
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    os.close(descriptor)
    return True


def _mkstemp(folder: Path) -> tuple[int, str]:
    return tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=TEMPORARY_SUFFIX, dir=folder)


def _fsync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
