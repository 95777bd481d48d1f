"""A virtual X display for tests, on a display number Xvfb picks itself."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Display:
    name: str
    width: int
    height: int


@contextlib.contextmanager
def xvfb(width: int = 1920, height: int = 1080, timeout: float = 15.0) -> Iterator[Display]:
    """Start Xvfb with one screen of the given size; stop it on exit."""
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is not installed; the test command installs the xvfb package")
    read_fd, write_fd = os.pipe()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write_fd),
            "-screen",
            "0",
            f"{width}x{height}x24",
            "-nolisten",
            "tcp",
            # Keep the server as it is when its last client disconnects.
            "-noreset",
        ],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], timeout)
        number = os.read(read_fd, 64).decode().strip() if ready else ""
        if not number:
            process.kill()
            process.wait(timeout=5)
            log.seek(0)
            output = log.read().decode(errors="replace")[-500:]
            raise RuntimeError(f"Xvfb did not start within {timeout} s: {output}")
        yield Display(f":{number}", width, height)
    finally:
        os.close(read_fd)
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
