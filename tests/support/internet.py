"""A whole deployment in namespaces: server and relay in public, host and guests behind NAT.

`internet()` starts Xvfb with the pattern app, the namespaces, coturn from
`pairview turn-config` and `pairview server` in the public namespace. Then
`share()` runs `pairview share` on a host namespace and `aiortc_guest()`
runs the test guest on a guest namespace; both collect their output lines
in the background so that tests can wait for them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.timing import seconds
from tests.support.topology import Node, Topology, topology
from tests.support.turn import coturn
from tests.support.xvfb import Display, xvfb

ROOT = Path(__file__).resolve().parents[2]
PAIRVIEW = str(ROOT / ".venv" / "bin" / "pairview")
TURN_SECRET = "network-test-secret-0123456789"
SERVER_PORT = 8800
STUN_PORT = 3479


@dataclass
class Process:
    """A child process whose output lines are collected by a thread."""

    popen: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    reader: threading.Thread | None = None

    def start_reading(self) -> None:
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def wait_for(self, check: Callable[[list[str]], Any], timeout: float, what: str) -> Any:
        """Wait until `check(lines)` returns something true; fail after `timeout` seconds."""
        deadline = time.monotonic() + seconds(timeout)
        with self.changed:
            while True:
                found = check(self.lines)
                if found:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.popen.poll() is not None:
                    tail = "\n".join(self.lines[-30:])
                    raise AssertionError(f"timed out waiting for {what}; last output:\n{tail}")
                self.changed.wait(min(remaining, 0.5))

    def wait_for_line(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        regex = re.compile(pattern)

        def check(lines: list[str]) -> re.Match[str] | None:
            for line in lines:
                match = regex.search(line)
                if match:
                    return match
            return None

        match: re.Match[str] = self.wait_for(check, timeout, f"a line matching {pattern!r}")
        return match

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(2)
            try:
                self.popen.wait(timeout=seconds(10))
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        if self.reader is not None:
            self.reader.join(timeout=seconds(5))
        if self.popen.stdout is not None:
            self.popen.stdout.close()


def start(argv: list[str], env: dict[str, str] | None = None) -> Process:
    popen = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    process = Process(popen)
    process.start_reading()
    return process


@dataclass
class Internet:
    net: Topology
    display: Display
    workdir: Path
    server: Process | None = None
    server_env: dict[str, str] = field(default_factory=dict)

    @property
    def server_url(self) -> str:
        return f"https://{self.net.public.address}:{SERVER_PORT}"

    @property
    def cafile(self) -> Path:
        return self.workdir / "server" / "tls-cert.pem"

    def start_server(self) -> None:
        """Start (or restart) `pairview server` in the public namespace, same port and data."""
        argv = [
            PAIRVIEW,
            "server",
            "--host",
            self.net.public.address,
            "--port",
            str(SERVER_PORT),
            "--data-dir",
            str(self.workdir / "server"),
            "--stun-port",
            str(STUN_PORT),
            "--turn-host",
            self.net.public.address,
        ]
        self.server = start(self.net.public.command(argv), self.server_env)
        self.server.wait_for_line(r"Pairview server listening on", timeout=30)

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.stop()


@contextlib.contextmanager
def internet(workdir: Path, server_secret: str = TURN_SECRET) -> Iterator[Internet]:
    """Xvfb, namespaces, coturn and the Pairview server; all stopped and removed afterwards."""
    with xvfb(1280, 720) as display, topology() as net:
        world = Internet(net, display, workdir)
        world.server_env = dict(
            os.environ,
            PAIRVIEW_TURN_SECRET=server_secret,
            PAIRVIEW_TURN_TRANSPORTS='["udp", "tcp"]',
        )
        with coturn(net.public, workdir / "turn", TURN_SECRET, [net.public.address]):
            world.start_server()
            try:
                yield world
            finally:
                world.stop_server()


@contextlib.contextmanager
def pattern_app(display: Display) -> Iterator[subprocess.Popen[str]]:
    """The Tk pattern program on `display`; write "rotate" lines to change the picture."""
    env = dict(os.environ, DISPLAY=display.name, PYTHONUNBUFFERED="1")
    app = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "support" / "apps" / "pattern.py")],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert app.stdout is not None
        assert app.stdout.readline().startswith("drawn")
        yield app
    finally:
        if app.stdin is not None:
            app.stdin.close()
        try:
            app.wait(timeout=seconds(5))
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
        if app.stdout is not None:
            app.stdout.close()


@dataclass
class Share:
    process: Process
    link: str

    @property
    def room(self) -> str:
        return urlsplit(self.link).path.rsplit("/", 1)[-1]

    @property
    def token(self) -> str:
        return urlsplit(self.link).fragment


@contextlib.contextmanager
def share(world: Internet, host: Node) -> Iterator[Share]:
    """Run `pairview share` on `host` against the public server and wait for its link."""
    env = dict(os.environ, DISPLAY=world.display.name, PYTHONUNBUFFERED="1")
    argv = [
        PAIRVIEW,
        "share",
        "--server",
        world.server_url,
        "--cafile",
        str(world.cafile),
        "--fps",
        "15",
        "--name",
        "Host",
        # The share checks its downloads folder at start: keep it out of the home folder.
        "--downloads-dir",
        str(world.workdir / f"downloads-{host.name}"),
    ]
    process = start(host.command(argv), env)
    try:
        match = process.wait_for_line(r"^(https://\S+/r/\S+#\S+)$", timeout=30)
        yield Share(process, match.group(1))
    finally:
        process.stop()


@dataclass
class Guest:
    process: Process

    def events(self, kind: str) -> list[dict[str, Any]]:
        found = []
        for line in list(self.process.lines):
            if line.startswith("{"):
                event = json.loads(line)
                if event.get("event") == kind:
                    found.append(event)
        return found

    def wait_event(
        self, kind: str, timeout: float, where: Callable[[dict[str, Any]], bool] = lambda e: True
    ) -> dict[str, Any]:
        def check(_lines: list[str]) -> dict[str, Any] | None:
            matching = [event for event in self.events(kind) if where(event)]
            return matching[0] if matching else None

        event: dict[str, Any] = self.process.wait_for(check, timeout, f"guest event {kind!r}")
        return event


@contextlib.contextmanager
def aiortc_guest(world: Internet, node: Node, room: Share) -> Iterator[Guest]:
    argv = [
        sys.executable,
        "-m",
        "tests.support.network_guest",
        "--url",
        world.server_url,
        # With "=", a token that starts with "-" is not taken for an option.
        f"--room={room.room}",
        f"--token={room.token}",
        "--cafile",
        str(world.cafile),
    ]
    process = start(node.command(argv), dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        yield Guest(process)
    finally:
        process.stop()


def chromium_wrapper(workdir: Path, node: Node) -> Path:
    """A script that starts Chromium inside `node`, for Playwright's executable_path."""
    wrapper = workdir / f"chromium-{node.name}"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {node.name} /usr/bin/chromium "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# The colours of tests/support/apps/pattern.py, top-left quadrant first.
PATTERN_COLOURS = [(0xE6, 0x28, 0x28), (0x28, 0xC8, 0x3C), (0x28, 0x3C, 0xDC), (0xF0, 0xDC, 0x28)]

READ_TOP_LEFT = """() => {
  const video = document.getElementById("screen");
  if (!video || !video.videoWidth) return null;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0);
  const x = Math.floor(canvas.width / 4), y = Math.floor(canvas.height / 4);
  return Array.from(context.getImageData(x, y, 1, 1).data.slice(0, 3));
}"""


def close_to(rgb: list[int] | None, expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return rgb is not None and all(
        abs(a - b) <= tolerance for a, b in zip(rgb, expected, strict=True)
    )


def rotate(app: subprocess.Popen[str]) -> int:
    """Move the pattern on by one quadrant; return the rotation count the app reports."""
    assert app.stdin is not None
    assert app.stdout is not None
    app.stdin.write("rotate\n")
    app.stdin.flush()
    return int(app.stdout.readline().split()[1])
