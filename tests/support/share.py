"""`pairview share` and `pairview server` run as a user runs them, inside a network namespace.

The process's standard output and standard error are read by a thread into
a list of lines, so a test can wait for a line and later assert on all of
them. Processes are stopped by their pid: SIGINT first, as Ctrl-C in a
terminal, and SIGKILL only if they do not exit in time.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.netns import Namespace
from tests.support.timing import seconds

PAIRVIEW = str(Path(sys.executable).with_name("pairview"))
GUEST_LINK = re.compile(r"^https://\S+/r/[A-Za-z0-9_-]+#\S+$")


def pairview_environment(
    display: str | None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return this process's environment without PAIRVIEW_* settings, plus `extra`.

    Settings of the developer's shell would otherwise change what the test runs.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("PAIRVIEW_")}
    env["PYTHONUNBUFFERED"] = "1"
    if display is not None:
        env["DISPLAY"] = display
    env.update(extra or {})
    return env


class PairviewProcess:
    """A running `pairview` command whose output lines are collected in `lines`."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str]) -> None:
        self.argv = list(argv)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._finished = False
        self.process = subprocess.Popen(
            self.argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._pump, name="pairview-output", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        self.process.stdout.close()
        with self._changed:
            self._finished = True
            self._changed.notify_all()

    def wait_for_line(self, pattern: str, timeout: float, start: int = 0) -> re.Match[str]:
        """Wait until a line from index `start` on matches `pattern`; return the match."""
        return self.wait_for_indexed_line(pattern, timeout, start)[1]

    def wait_for_indexed_line(
        self, pattern: str, timeout: float, start: int = 0
    ) -> tuple[int, re.Match[str]]:
        """Wait as `wait_for_line` does; return the line's index and the match.

        `timeout` is in base seconds, scaled like every test timeout.
        """
        regex = re.compile(pattern)
        limit = seconds(timeout)
        deadline = time.monotonic() + limit
        checked = start
        with self._changed:
            while True:
                for index in range(checked, len(self.lines)):
                    found = regex.search(self.lines[index])
                    if found is not None:
                        return index, found
                checked = max(checked, len(self.lines))
                if self._finished:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._changed.wait_for(
                    functools.partial(self._has_news, checked), timeout=remaining
                ):
                    break
            tail = "\n".join(self.lines[-30:])
        state = "exited" if self.process.poll() is not None else "is still running"
        raise AssertionError(
            f"no output line matched {pattern!r} within {limit:g} s; the process {state}. "
            f"Last lines:\n{tail}"
        )

    def _has_news(self, seen: int) -> bool:
        return len(self.lines) > seen or self._finished

    def interrupt(self) -> None:
        """Send SIGINT, as Ctrl-C in the terminal does."""
        self.process.send_signal(signal.SIGINT)

    def kill(self) -> None:
        """Send SIGKILL: the process ends with no chance to say goodbye."""
        self.process.kill()

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit and its output to be read; return its exit code."""
        try:
            code = self.process.wait(timeout=seconds(timeout))
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{' '.join(self.argv[-6:])} did not exit within {seconds(timeout):g} s"
            ) from None
        self._reader.join(seconds(5))
        return code

    def stop(self) -> None:
        """End the process if it still runs: SIGINT, then SIGKILL if it does not exit."""
        if self.process.poll() is None:
            self.interrupt()
            try:
                self.process.wait(timeout=seconds(15))
            except subprocess.TimeoutExpired:
                self.kill()
                self.process.wait()
        self._reader.join(seconds(5))


class ShareProcess(PairviewProcess):
    """`pairview share`, with the guest link it printed."""

    link = ""

    def read_link(self) -> str:
        """Wait for the guest link, printed alone on its line, and keep it in `link`."""
        self.link = self.wait_for_line(GUEST_LINK.pattern, timeout=30).group(0)
        return self.link


@contextlib.contextmanager
def running_share(
    namespace: Namespace,
    display: str,
    data_dir: Path,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Iterator[ShareProcess]:
    """Run `pairview share` inside `namespace` and wait for its guest link.

    Without `--server` in `args`, the embedded server binds the namespace's
    address. `env` adds environment variables.
    """
    server_args = [] if "--server" in args else ["--bind", namespace.address]
    if "--downloads-dir" not in args:
        # The share checks its downloads folder at start: keep it out of the home folder.
        server_args += ["--downloads-dir", str(data_dir / "downloads")]
    argv = namespace.command([PAIRVIEW, "share", *server_args, "--data-dir", str(data_dir), *args])
    share = ShareProcess(argv, pairview_environment(display, env))
    try:
        share.read_link()
        yield share
    finally:
        share.stop()


@dataclass(frozen=True)
class ServerInfo:
    url: str
    cafile: Path
    process: PairviewProcess


@contextlib.contextmanager
def running_server(
    namespace: Namespace, data_dir: Path, env: Mapping[str, str] | None = None
) -> Iterator[ServerInfo]:
    """Run `pairview server` on the namespace's address; it makes a self-signed certificate."""
    argv = namespace.command(
        [
            PAIRVIEW,
            "server",
            "--host",
            namespace.address,
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
        ]
    )
    process = PairviewProcess(argv, pairview_environment(None, env))
    try:
        url = process.wait_for_line(r"listening on (https://\S+)", timeout=30).group(1)
        yield ServerInfo(url, data_dir / "tls-cert.pem", process)
    finally:
        process.stop()
