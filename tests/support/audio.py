"""Sound for tests: a private PulseAudio server, test tones, and their frequencies.

The server runs with a socket in the test's own directory, no cookie and no
D-Bus, so it touches nothing of the machine's own sound setup. Its null
sinks play into monitors that a test records from.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import subprocess
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.support.timing import seconds, wait_for

RATE = 48000


@dataclass(frozen=True)
class PulseServer:
    """A running PulseAudio server: `address` is its PULSE_SERVER value."""

    address: str

    def environment(self) -> dict[str, str]:
        return {"PULSE_SERVER": self.address}

    def run(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            env={**os.environ, **self.environment()},
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds(15),
            **kwargs,
        )


@contextlib.contextmanager
def pulseaudio(directory: Path, sinks: Sequence[str]) -> Iterator[PulseServer]:
    """Start PulseAudio with a null sink for each name in `sinks`, the first as default."""
    if shutil.which("pulseaudio") is None:
        raise RuntimeError("pulseaudio is missing; scripts/setup --dev installs it")
    directory.mkdir(parents=True, exist_ok=True)
    socket = directory / "native"
    argv = [
        "pulseaudio",
        "-n",
        "--daemonize=no",
        "--exit-idle-time=-1",
        "--disallow-exit",
        "--use-pid-file=no",
        "--system=no",
        "-L",
        f"module-native-protocol-unix socket={socket} auth-anonymous=1",
    ]
    for sink in sinks:
        argv += ["-L", f"module-null-sink sink_name={sink} rate={RATE}"]
    log = (directory / "pulseaudio.log").open("w")
    environment = {**os.environ, "XDG_RUNTIME_DIR": str(directory), "HOME": str(directory)}
    process = subprocess.Popen(argv, env=environment, stdout=log, stderr=subprocess.STDOUT)
    server = PulseServer(f"unix:{socket}")
    try:
        wait_for(lambda: socket.exists() or None, 10, what="PulseAudio's socket")
        server.run(["pactl", "set-default-sink", sinks[0]])
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=seconds(5))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def write_tone(path: Path, frequency: float, duration: float, pulsed: bool = True) -> Path:
    """Write a mono 48 kHz WAV of a sine; pulsed, it sounds 300 ms in every 500 ms.

    Pulses keep a browser's noise suppression from taking a steady tone for noise.
    """
    times = np.arange(int(RATE * duration)) / RATE
    signal = 0.5 * np.sin(2 * math.pi * frequency * times)
    if pulsed:
        signal *= (times % 0.5) < 0.3
    samples = (signal * 32767).astype("<i2")
    with wave.open(str(path), "wb") as output:
        output.setnchannels(1)
        output.setsampwidth(2)
        output.setframerate(RATE)
        output.writeframes(samples.tobytes())
    return path


@contextlib.contextmanager
def playing(server: PulseServer, sink: str, tone: Path) -> Iterator[None]:
    """Play a WAV file into `sink`, over and over, until the block ends."""
    script = f"while paplay -d {sink} {tone}; do :; done"
    process = subprocess.Popen(
        ["sh", "-c", script],
        env={**os.environ, **server.environment()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield
    finally:
        # The shell and its paplay share a process group of their own.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        process.wait(timeout=seconds(5))


def record(server: PulseServer, source: str, duration: float) -> np.ndarray[Any, Any]:
    """Record `duration` seconds of mono samples (-1 to 1) from a PulseAudio source."""
    size = int(RATE * duration) * 2
    process = subprocess.Popen(
        ["parec", "-d", source, "--raw", "--format=s16le", f"--rate={RATE}", "--channels=1"],
        env={**os.environ, **server.environment()},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    data = b""
    try:
        while len(data) < size:
            chunk = process.stdout.read(size - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        process.terminate()
        process.wait(timeout=seconds(5))
        process.stdout.close()
    return np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768


def spectrum_peaks(
    samples: Sequence[float] | np.ndarray[Any, Any], rate: int = RATE
) -> list[float]:
    """Return the frequencies of the spectrum's peaks, strongest first, 20 Hz apart at least."""
    values = np.asarray(samples, dtype=np.float64)
    if values.size < 1024 or float(np.max(np.abs(values))) < 1e-4:
        return []
    window = np.hanning(values.size)
    magnitudes = np.abs(np.fft.rfft(values * window))
    frequencies = np.fft.rfftfreq(values.size, 1 / rate)
    magnitudes[frequencies < 50] = 0
    peaks: list[float] = []
    for index in np.argsort(magnitudes)[::-1]:
        if magnitudes[index] < magnitudes.max() * 0.1 or len(peaks) == 5:
            break
        frequency = float(frequencies[index])
        if all(abs(frequency - peak) > 20 for peak in peaks):
            peaks.append(frequency)
    return peaks


def dominant_frequency(
    samples: Sequence[float] | np.ndarray[Any, Any], rate: int = RATE
) -> float | None:
    peaks = spectrum_peaks(samples, rate)
    return peaks[0] if peaks else None
