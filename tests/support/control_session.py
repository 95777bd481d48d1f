"""A running `pairview share` and Chromium guests for the remote control tests.

`pairview share` runs in the host namespace of a `netns.lan()` with its
standard input on a pipe, so that a test types console commands as the host
would. Chromium runs in the guest namespace through a wrapper script, with a
page script that keeps the control data channel reachable, so that a test
can also send what no honest page sends.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.netns import Lan
from tests.support.timing import seconds, wait_for

LINK = re.compile(r"^https://\S+/r/\S+#\S+$")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Keeps every data channel the page receives in window.pairviewChannels, and
# every peer connection in window.pairviewConnections.
CHANNEL_HOOK = """
window.pairviewChannels = [];
window.pairviewConnections = [];
const NativePeerConnection = window.RTCPeerConnection;
window.RTCPeerConnection = class extends NativePeerConnection {
  constructor(...args) {
    super(...args);
    window.pairviewConnections.push(this);
    this.addEventListener("datachannel", (event) => window.pairviewChannels.push(event.channel));
  }
};
"""


@dataclass
class ShareProcess:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    link: str = ""

    def start_reading(self) -> None:
        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line.rstrip("\n"))

        threading.Thread(target=read, daemon=True).start()

    def type(self, line: str) -> None:
        """Type a line into the host's terminal."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def mark(self) -> int:
        """Return a position in the output; `wait_for_line` looks only after it."""
        return len(self.lines)

    def wait_for_line(self, pattern: str, after: int = 0, timeout: float = 15) -> str:
        regex = re.compile(pattern)

        def found() -> str | None:
            for line in self.lines[after:]:
                if regex.search(line):
                    return line
            return None

        return wait_for(found, timeout, what=f"host output matching {pattern!r}")

    def output_since(self, after: int) -> str:
        return "\n".join(self.lines[after:])


@contextlib.contextmanager
def share(
    net: Lan, display: str, data_dir: Path, *options: str, env: dict[str, str] | None = None
) -> Iterator[ShareProcess]:
    """Run `pairview share` in the host namespace, sharing `display`, until the block ends.

    `env` adds environment variables, such as PULSE_SERVER.
    """
    env = dict(os.environ, DISPLAY=display, PYTHONUNBUFFERED="1", COLUMNS="200", **(env or {}))
    command = [
        sys.executable,
        "-m",
        "pairview",
        "share",
        "--bind",
        net.host.address,
        "--data-dir",
        str(data_dir),
        "--fps",
        "15",
        *options,
    ]
    if "--downloads-dir" not in options:
        # The share checks its downloads folder at start: keep it out of the home folder.
        command += ["--downloads-dir", str(data_dir / "downloads")]
    process = subprocess.Popen(
        net.host.command(command),
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = ShareProcess(process)
    running.start_reading()
    try:
        running.link = wait_for_link(running)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(2)
            try:
                process.wait(timeout=seconds(15))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def wait_for_link(running: ShareProcess) -> str:
    def link() -> str | None:
        if running.process.poll() is not None:
            raise AssertionError("pairview share exited:\n" + "\n".join(running.lines))
        return next((line.strip() for line in running.lines if LINK.match(line.strip())), None)

    return wait_for(link, 30, what="the guest link")


def chromium_wrapper(net: Lan, directory: Path) -> Path:
    """Write a script that starts Chromium inside the guest namespace."""
    wrapper = directory / "chromium-in-guest-namespace"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {net.guest.name} /usr/bin/chromium "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def launch_in_guest(playwright: Any, net: Lan, directory: Path) -> Any:
    """Start headless Chromium inside the guest namespace, its wrapper script in `directory`."""
    wrapper = chromium_wrapper(net, directory)
    return playwright.chromium.launch(executable_path=str(wrapper), args=CHROMIUM_FLAGS)


@dataclass
class Guest:
    """One guest's page, joined and playing the host's screen."""

    name: str
    page: Any
    context: Any

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self.page.evaluate(
            "() => ({...document.body.dataset,"
            " controlText: document.getElementById('control-status').textContent,"
            " statusText: document.getElementById('status').textContent})"
        )
        return result

    def wait_for_control(self, value: str, timeout: float = 10) -> None:
        wait_for(
            lambda: self.state().get("control") == value,
            timeout,
            what=f"{self.name}'s page to show control {value!r}, last {self.state()}",
        )

    def picture(self) -> dict[str, float]:
        """Where the video shows the picture on the page, computed here independently."""
        box: dict[str, float] = self.page.evaluate(
            """() => {
              const video = document.getElementById('screen');
              const r = video.getBoundingClientRect();
              return {left: r.left, top: r.top, width: r.width, height: r.height,
                      videoWidth: video.videoWidth, videoHeight: video.videoHeight};
            }"""
        )
        scale = min(box["width"] / box["videoWidth"], box["height"] / box["videoHeight"])
        return {
            "left": box["left"] + (box["width"] - box["videoWidth"] * scale) / 2,
            "top": box["top"] + (box["height"] - box["videoHeight"] * scale) / 2,
            "scale": scale,
        }

    def page_point(self, x: int, y: int) -> tuple[float, float]:
        """Return where screen pixel (x, y) shows on the page, at the pixel's centre."""
        picture = self.picture()
        return (
            picture["left"] + (x + 0.5) * picture["scale"],
            picture["top"] + (y + 0.5) * picture["scale"],
        )

    def send_raw(self, data: str) -> None:
        """Send text on the control channel as it is, bypassing the page's own checks."""
        self.page.evaluate(
            "(data) => window.pairviewChannels.filter((c) => c.label === 'control')"
            ".at(-1).send(data)",
            data,
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.context.close()


def join(
    browser: Any,
    link: str,
    name: str,
    viewport: tuple[int, int] = (1000, 700),
    scale: float = 1,
    init_script: str = "",
) -> Guest:
    """Open the guest link in a new browser context and wait until the video plays.

    `init_script` runs in the page before its own scripts, as CHANNEL_HOOK does.
    """
    context = browser.new_context(
        ignore_https_errors=True,
        viewport={"width": viewport[0], "height": viewport[1]},
        device_scale_factor=scale,
    )
    context.add_init_script(CHANNEL_HOOK + init_script)
    page = context.new_page()
    page.goto(link)
    page.fill("#name-input", name)
    page.click("button[type=submit]")
    guest = Guest(name, page, context)
    deadline = time.monotonic() + seconds(30)
    while time.monotonic() < deadline:
        state = guest.state()
        if state.get("state") == "playing" and "control" in state:
            return guest
        time.sleep(0.2)
    last_state = guest.state()
    guest.close()
    raise AssertionError(f"{name}'s page did not start playing: {last_state}")


def press_local_keys(display: str, keysyms: list[int]) -> None:
    """Press and release keys as the host's own keyboard would, through the test's own XTEST."""
    from Xlib import X
    from Xlib import display as xdisplay
    from Xlib.ext import xtest

    connection = xdisplay.Display(display)
    try:
        keycodes = [connection.keysym_to_keycode(keysym) for keysym in keysyms]
        for keycode in keycodes:
            xtest.fake_input(connection, X.KeyPress, keycode)
        for keycode in reversed(keycodes):
            xtest.fake_input(connection, X.KeyRelease, keycode)
        connection.sync()
    finally:
        connection.close()


def keys_down(display: str) -> list[int]:
    """Return the keycodes the X server holds down, from XQueryKeymap."""
    from Xlib import display as xdisplay

    connection = xdisplay.Display(display)
    try:
        bitmap = connection.query_keymap()
    finally:
        connection.close()
    return [
        index * 8 + bit for index, byte in enumerate(bitmap) for bit in range(8) if byte >> bit & 1
    ]


def buttons_down(display: str) -> int:
    """Return the X pointer's button mask (Button1Mask and up), from XQueryPointer."""
    from Xlib import display as xdisplay

    connection = xdisplay.Display(display)
    try:
        mask = int(connection.screen().root.query_pointer().mask)
    finally:
        connection.close()
    return mask & 0x1F00
