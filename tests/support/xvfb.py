"""A virtual X display for tests, on a display number Xvfb picks itself."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
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
            "+extension",
            "DAMAGE",
        ],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], timeout)
        number = os.read(read_fd, 64).decode().strip() if ready else ""
        if not number:
            process.kill()
            _, stderr = process.communicate(timeout=5)
            raise RuntimeError(f"Xvfb did not start within {timeout} s: {stderr.decode()[-500:]}")
        yield Display(f":{number}", width, height)
    finally:
        os.close(read_fd)
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
