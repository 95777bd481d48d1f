"""The processes a benchmark run starts, and what they cost in CPU time.

Every process here is started by the benchmark and stopped by it, by its
own process id.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

from bench.report import CpuShares
from tests.support.netns import Lan
from tests.support.xvfb import Display

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
LINK = re.compile(r"^https://\S+/r/[A-Za-z0-9_-]+#\S+$")
START_TIMEOUT = 30.0
SENDERS = {"pairview": "Pairview", "aiortc": "plain aiortc"}


class OutputPump:
    """Reads a child's output on a thread, keeping the last lines for error messages."""

    def __init__(
        self, process: subprocess.Popen[str], on_line: Callable[[str], None] | None = None
    ) -> None:
        self.lines: deque[str] = deque(maxlen=40)
        self._on_line = on_line
        self._process = process
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            if self._on_line is not None:
                self._on_line(line.rstrip("\n"))
            with self._condition:
                self.lines.append(line.rstrip("\n"))
                self._condition.notify_all()

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> str | None:
        """Return the first line matching `pattern`, or None on timeout or exit."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._condition:
            while time.monotonic() < deadline:
                for line in list(self.lines)[seen:]:
                    if pattern.match(line.strip()):
                        return line.strip()
                seen = len(self.lines)
                if self._process.poll() is not None and not self._thread.is_alive():
                    return None
                self._condition.wait(0.2)
        return None

    def tail(self) -> str:
        return "\n".join(self.lines)


def stop_process(process: subprocess.Popen[Any], sig: int = signal.SIGINT) -> None:
    """Stop a child we started: a signal first, SIGKILL after ten seconds."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def scene_running(display: Display, scene: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.scene", "--scene", scene],
        cwd=ROOT,
        env=dict(os.environ, DISPLAY=display.name),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        if not ready.startswith("ready"):
            raise RuntimeError(f"the scene did not start on {display.name}")
        yield process
    finally:
        if process.stdin is not None:
            process.stdin.close()
        stop_process(process, signal.SIGTERM)


@contextlib.contextmanager
def sender_running(
    kind: str, net: Lan, display: Display, fps: int, bitrate: int, data_dir: Path
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start a sender inside the host namespace; yield it with its guest link.

    `bitrate` is Pairview's maximum; plain aiortc keeps its own limits.
    """
    if kind == "pairview":
        argv = [
            str(ROOT / ".venv" / "bin" / "pairview"),
            "share",
            "--bind",
            net.host.address,
            "--data-dir",
            str(data_dir),
            "--codec",
            "vp8",
            "--fps",
            str(fps),
            "--max-bitrate",
            str(bitrate),
        ]
    else:
        argv = [
            sys.executable,
            "-m",
            "bench.plain_sender",
            "--bind",
            net.host.address,
            "--fps",
            str(fps),
        ]
    process = subprocess.Popen(
        net.host.command(argv),
        cwd=ROOT,
        env=dict(os.environ, DISPLAY=display.name, PYTHONUNBUFFERED="1", COLUMNS="400"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    pump = OutputPump(process)
    try:
        link = pump.wait_for(LINK, START_TIMEOUT)
        if link is None:
            raise RuntimeError(f"{SENDERS[kind]} printed no guest link:\n{pump.tail()}")
        yield process, link
    finally:
        stop_process(process)


# CPU accounting


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


class CpuMeter:
    """CPU time of the sender, of Chromium, of the benchmark and of the machine over a window."""

    def __init__(self, sender_pid: int) -> None:
        self._sender = psutil.Process(sender_pid)
        self._start = self._snapshot()

    @staticmethod
    def _own_processes() -> dict[int, tuple[str, float]]:
        """Return the name and CPU seconds of this process and every process it started."""
        found = {}
        me = psutil.Process()
        for process in [me, *me.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                found[process.pid] = (process.name(), _cpu_seconds(process))
        return found

    def _snapshot(self) -> dict[str, Any]:
        machine = psutil.cpu_times()
        return {
            "wall": time.monotonic(),
            "sender": _cpu_seconds(self._sender),
            "own": self._own_processes(),
            # Guest time is counted in user time already, and time stolen by
            # the hypervisor for other machines is not this machine's work.
            "busy": machine.user + machine.nice + machine.system + machine.irq + machine.softirq,
        }

    def finish(self) -> CpuShares:
        end = self._snapshot()
        wall = end["wall"] - self._start["wall"]
        started = self._start["own"]
        own = browser = 0.0
        for pid, (name, seconds) in end["own"].items():
            used = seconds - started.get(pid, (name, 0.0))[1]
            own += used
            if "chrom" in name:
                browser += used
        machine = end["busy"] - self._start["busy"]
        return CpuShares(
            sender=100 * (end["sender"] - self._start["sender"]) / wall,
            browser=100 * browser / wall,
            machine=100 * machine / wall,
            other=100 * max(0.0, machine - own) / wall,
        )


def chromium_wrapper(directory: Path, net: Lan) -> Path:
    """Write a script that starts Chromium inside the guest namespace."""
    wrapper = directory / "chromium-in-guest-namespace"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {net.guest.name} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def machine_facts(chromium_version: str = "") -> dict[str, str]:
    """Return the cores, CPU model and versions of the parts that a run used."""
    import aiortc
    import av

    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False)
    return {
        "cores": str(os.cpu_count()),
        "cpu": model,
        "chromium": chromium_version,
        "aiortc": aiortc.__version__,
        "pyav": av.__version__,
        "ffmpeg": ffmpeg.stdout.split("\n")[0].removeprefix("ffmpeg version ").split(" ")[0],
    }
