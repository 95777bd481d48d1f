"""File transfer throughput: Pairview's transfers next to a plain aiortc data channel.

Three paths, each measured with Pairview's framing and without it, in the
same run:

- host to host: two aiortc peers, one in each of two network namespaces.
  Pairview's side runs the transfer state machines of
  `pairview.protocol.transfer` with the host's channel backpressure, reads
  the file from disk and saves it in a downloads folder (SHA-256 on both
  sides, fsync at the end). The reference sends the same chunks with the
  same backpressure and only counts them.
- host to browser and browser to host: `pairview share` and headless
  Chromium in two namespaces. The file is sent with `/send` or picked in
  the page and accepted on the other side, and timed in the page from
  acceptance to the receiver's confirmation. The reference is a plain aiortc peer in
  the host namespace and a page script that sends or counts raw chunks. The
  aiortc peer makes the offer, as the host app does. Pairview's rounds send
  one random file under a new name each time, written to disk before the
  first round.

The reference's aiortc peers use the host's SCTP transport
(`pairview.host.sctp`), so that the ratio leaves out what it gains. One
more variant on every path is the plain channel with aiortc's own
transport, which acknowledges every packet. On
the browser paths, a "files" variant of the plain channel also reads the file
from disk on the sending side and keeps or writes it on the receiving side,
as any file transfer must, which leaves Pairview's protocol as the difference.

Each variant makes one transfer first that is not counted, so that every
counted one starts on a warm process and page. Every aiortc peer, Pairview's
and the reference's, runs on the event loop that `--event-loop` names:
uvloop by default, as `pairview share` does.

On a machine that also runs the browser, the receiving event loop waits for
a CPU behind Chromium's threads. `--pin` gives each side a CPU of its own,
as two machines would, and the figures vary less from round to round.

Run as root from the repository root: `.venv/bin/python -m bench.file_transfer`.
It prints the figures and writes them to docs/benchmarks.md, in a section of
its own between two marker comments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

DOCUMENT = Path(__file__).parents[1] / "docs" / "benchmarks.md"
START = "<!-- file-transfer:start -->"
END = "<!-- file-transfer:end -->"
# A run with --pin has a section of its own, after the run without.
PINNED_START = "<!-- file-transfer pinned:start -->"
PINNED_END = "<!-- file-transfer pinned:end -->"
MB = 1000 * 1000
CHUNK = 64 * 1024
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024
PEER_TIMEOUT = 300.0
LOOP_VARIABLE = "PAIRVIEW_SHARE_EVENT_LOOP"
# With --pin, the processes of each network namespace run on one CPU of their own.
GUEST_CPU = 0
HOST_CPU = 1


# The peer process: one aiortc end of a host-to-host or host-to-browser
# transfer, driven over standard input and output with JSON lines.


def _emit(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


async def _read_line() -> dict[str, Any]:
    line = await asyncio.to_thread(sys.stdin.readline)
    if not line:
        raise SystemExit("the benchmark's parent closed the pipe")
    result: dict[str, Any] = json.loads(line)
    return result


PLAIN = ("plain", "acked", "aiortc", "files")
# The file that a "files" sender reads, and that a "files" receiver writes, in its folder.
PLAIN_SOURCE = "random.bin"
PLAIN_TARGET = "plain-received.bin"
BLOCK = 1024 * 1024


async def run_peer(role: str, framing: str, size: int, folder: Path) -> None:
    """Run one end; a plain sender sends `size` bytes after each "go" line until "stop".

    Every framing but "aiortc" uses the host's SCTP transport.
    """
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from pairview.host import sctp
    from pairview.host.channel import ChannelPipe
    from pairview.protocol.transfer import PROGRESS_INTERVAL

    if framing != "aiortc":
        sctp.install()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    finished: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    opened = asyncio.Event()
    if role == "sender":
        channel = pc.createDataChannel("file")
        channel.on("open", opened.set)
    elif framing in PLAIN:
        ack_every = PROGRESS_INTERVAL if framing == "acked" else 0
        target = folder / PLAIN_TARGET if framing == "files" else None
        pc.on("datachannel", lambda channel: _count(channel, size, ack_every, target))
    else:
        pc.on("datachannel", lambda channel: _receive(channel, size, folder, finished))

    command = await _read_line()
    if command.get("offer"):
        if role == "receiver" and framing in PLAIN:
            # The offer needs a channel, so this end opens it and counts on it.
            _count(pc.createDataChannel("file"), size, ack_every, target)
        await pc.setLocalDescription(await pc.createOffer())
        _emit({"sdp": pc.localDescription.sdp, "type": "offer"})
        answer = await _read_line()
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    else:
        offer = await _read_line()
        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        _emit({"sdp": pc.localDescription.sdp, "type": "answer"})

    if role == "sender":
        await asyncio.wait_for(opened.wait(), PEER_TIMEOUT)
        pipe = ChannelPipe(channel)
        if framing in PLAIN:
            source = folder / PLAIN_SOURCE if framing == "files" else None
            while (await _read_line()).get("go"):
                _emit({"seconds": await _send_plain(pipe, size, source)})
        else:
            sending = asyncio.ensure_future(_send(pipe, size, folder, finished))
            _emit({"seconds": await asyncio.wait_for(finished, PEER_TIMEOUT)})
            await sending
            await _read_line()
    elif framing in PLAIN:
        await _read_line()
    else:
        _emit({"seconds": await asyncio.wait_for(finished, PEER_TIMEOUT)})
        await _read_line()
    await pc.close()


async def _send_plain(pipe: Any, size: int, source: Path | None) -> float:
    """Send `size` bytes in 64 KiB messages and wait for the receiver's "done".

    The bytes are one random chunk over and over, or with `source`, the
    bytes of that file.
    """
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def answered(data: str | bytes) -> None:
        if data == "done" and not done.done():
            done.set_result(None)

    pipe.on_message = answered
    started = time.perf_counter()
    if source is None:
        block = os.urandom(CHUNK)
        sent = 0
        while sent < size:
            length = min(CHUNK, size - sent)
            pipe.send(block if length == CHUNK else block[:length])
            sent += length
            await pipe.drain()
    else:
        await _send_file_plain(pipe, size, source)
    await asyncio.wait_for(done, PEER_TIMEOUT)
    return time.perf_counter() - started


async def _send_file_plain(pipe: Any, size: int, source: Path) -> None:
    """Send the first `size` bytes of `source`, read in 1 MiB blocks with one block ahead."""
    descriptor = os.open(source, os.O_RDONLY)

    def read(offset: int) -> asyncio.Future[bytes]:
        length = min(BLOCK, size - offset)
        return asyncio.ensure_future(asyncio.to_thread(os.pread, descriptor, length, offset))

    ahead: asyncio.Future[bytes] | None = read(0)
    try:
        sent = 0
        while ahead is not None:
            block = await ahead
            if not block:
                raise RuntimeError(
                    f"{source} ended after {sent} of {size} bytes: the source file is shorter "
                    "than the transfer, so run the benchmark again to write it anew"
                )
            sent += len(block)
            ahead = read(sent) if sent < size else None
            for start in range(0, len(block), CHUNK):
                pipe.send(block[start : start + CHUNK])
                await pipe.drain()
    finally:
        if ahead is not None:
            await asyncio.gather(ahead, return_exceptions=True)
        os.close(descriptor)


def _count(channel: Any, size: int, ack_every: int, target: Path | None) -> None:
    """Count what arrives and answer "done" after every `size` bytes.

    With `ack_every`, also send a short "ack" message after that many bytes,
    as often as Pairview's receiver acknowledges progress. With `target`,
    write each round's bytes into that file and fsync it before "done".
    """
    from pairview.host.channel import ChannelPipe

    pipe = ChannelPipe(channel)
    received = 0
    unacknowledged = 0
    file: Any = None
    syncs: set[asyncio.Future[None]] = set()

    async def sync_and_answer(done: Any) -> None:
        await asyncio.to_thread(os.fsync, done.fileno())
        done.close()
        pipe.send("done")

    def count(data: str | bytes) -> None:
        nonlocal received, unacknowledged, file
        if target is not None:
            if file is None:
                file = target.open("wb")
            file.write(data)
        received += len(data)
        unacknowledged += len(data)
        if ack_every and unacknowledged >= ack_every:
            unacknowledged = 0
            pipe.send("ack")
        if received >= size:
            received -= size
            if file is None:
                pipe.send("done")
                return
            sync = asyncio.ensure_future(sync_and_answer(file))
            syncs.add(sync)
            sync.add_done_callback(syncs.discard)
            file = None

    pipe.on_message = count


async def _send(pipe: Any, size: int, folder: Path, finished: Any) -> None:
    """Send the file in `folder` with Pairview's framing, as the host does."""
    from pairview.protocol.transfer import (
        TRANSFER_VERSION,
        Completed,
        FileOffer,
        OutgoingTransfer,
        new_transfer_id,
    )

    wake = asyncio.Event()
    path = folder / "source.bin"
    offer = FileOffer(
        version=TRANSFER_VERSION, id=new_transfer_id(), name="bench.bin", size=size, to="host"
    )
    outgoing = OutgoingTransfer(offer)

    def message(data: str | bytes) -> None:
        event = outgoing.receive(data)
        if isinstance(event, Completed):
            finished.set_result(time.perf_counter() - started)
        wake.set()

    pipe.on_message = message
    pipe.send(offer.model_dump_json())
    while outgoing.state.value == "offered":
        wake.clear()
        await wake.wait()
    started = time.perf_counter()
    with path.open("rb") as file:
        while not outgoing.finished:
            if outgoing.all_sent:
                pipe.send(outgoing.end().model_dump_json())
                break
            if not outgoing.can_send:
                wake.clear()
                await wake.wait()
                continue
            block = await asyncio.to_thread(file.read, 1024 * 1024)
            for start in range(0, len(block), CHUNK):
                while not outgoing.can_send:
                    wake.clear()
                    await wake.wait()
                pipe.send(outgoing.chunk(block[start : start + CHUNK]))
            await pipe.drain()


def _receive(channel: Any, size: int, folder: Path, finished: Any) -> None:
    """Receive a file with Pairview's framing into a downloads folder, as the host does."""
    from pairview.host.channel import ChannelPipe
    from pairview.host.downloads import PendingFile
    from pairview.protocol.transfer import Ended, IncomingTransfer, parse_offer

    pipe = ChannelPipe(channel)
    state: dict[str, Any] = {}

    def message(data: str | bytes) -> None:
        incoming: IncomingTransfer | None = state.get("incoming")
        if incoming is None:
            incoming = state["incoming"] = IncomingTransfer(parse_offer(data))
            state["file"] = PendingFile(folder / "downloads", incoming.offer.name)
            state["started"] = time.perf_counter()
            pipe.send(incoming.accept().model_dump_json())
            return
        pending: PendingFile = state["file"]
        if isinstance(data, bytes):
            if incoming.receive_data(data) is None:
                pending.write(data)
                ack = incoming.progress_due()
                if ack is not None:
                    pipe.send(ack.model_dump_json())
            return
        if isinstance(incoming.receive(data), Ended):
            started = state["started"]

            async def save() -> None:
                await asyncio.to_thread(pending.finish)
                pipe.send(incoming.complete().model_dump_json())
                finished.set_result(time.perf_counter() - started)

            state["save"] = asyncio.ensure_future(save())

    pipe.on_message = message


# The parent: namespaces, processes, Chromium, and the report.


class Pinning:
    """The CPUs that each side's processes may use: any CPU, or one CPU a side with --pin."""

    def __init__(self, pin: bool) -> None:
        self.pin = pin

    @contextlib.contextmanager
    def side(self, cpu: int) -> Iterator[None]:
        """Run the processes that the block starts on `cpu` alone, when pinning.

        A child process keeps the CPUs of the thread that started it, and so
        do the processes it starts in turn, such as Chromium's renderers.
        """
        if not self.pin:
            yield
            return
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})
        try:
            yield
        finally:
            os.sched_setaffinity(0, before)


class Peer:
    """A peer process inside a namespace, spoken to in JSON lines."""

    def __init__(self, namespace: Any, role: str, framing: str, size: int, folder: Path) -> None:
        argv = [sys.executable, "-m", "bench.file_transfer", "peer", role, framing, str(size)]
        self.process = subprocess.Popen(
            namespace.command([*argv, str(folder)]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[1],
        )

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the peer process exited with {self.process.wait()}")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


def host_to_host(net: Any, framing: str, size: int, folder: Path, pinning: Pinning) -> float:
    sender_dir = folder / "sender"
    receiver_dir = folder / "receiver"
    sender_dir.mkdir(parents=True, exist_ok=True)
    receiver_dir.mkdir(parents=True, exist_ok=True)
    (sender_dir / "source.bin").write_bytes(os.urandom(size))
    with pinning.side(HOST_CPU):
        sender = Peer(net.host, "sender", framing, size, sender_dir)
    with pinning.side(GUEST_CPU):
        receiver = Peer(net.guest, "receiver", framing, size, receiver_dir)
    try:
        sender.send({"offer": True})
        receiver.send({"offer": False})
        receiver.send(sender.receive())
        sender.send(receiver.receive())
        if framing != "pairview":
            sender.send({"go": True})
        seconds = float(sender.receive()["seconds"])
        if framing == "pairview":
            receiver.receive()
        sender.send({"go": False})
        receiver.send({"go": False})
    finally:
        sender.close()
        receiver.close()
    for saved in (receiver_dir / "downloads").glob("*"):
        saved.unlink()
    return seconds


# Defines window.benchWithin(promise, what): the promise, or an error that
# names `what` once PEER_TIMEOUT has passed. Every wait of the page scripts
# goes through it, so that a connection that never comes up ends the run.
BOUNDED_WAITS = f"""
window.benchWithin = (promise, what) => new Promise((resolve, reject) => {{
  const timer = setTimeout(
    () => reject(new Error(`timed out after {PEER_TIMEOUT:g} s waiting for ${{what}}`)),
    {PEER_TIMEOUT * 1000:g});
  promise.then(
    (value) => {{ clearTimeout(timer); resolve(value); }},
    (error) => {{ clearTimeout(timer); reject(error); }});
}});
"""

# Page scripts of the reference: a bare RTCPeerConnection in about:blank.
PAGE_ANSWER = """async (offer) => {
  const pc = new RTCPeerConnection({iceServers: []});
  window.benchPc = pc;
  window.benchChannel = new Promise((resolve) => pc.addEventListener('datachannel',
    (event) => { event.channel.binaryType = 'arraybuffer'; resolve(event.channel); }));
  await pc.setRemoteDescription({type: 'offer', sdp: offer});
  await pc.setLocalDescription(await pc.createAnswer());
  await window.benchWithin(new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') resolve();
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') resolve();
    });
  }), 'the page to gather its ICE candidates');
  return pc.localDescription.sdp;
}"""
# Copies `size` bytes into one buffer, makes a Blob of it, sends "done",
# and leaves a promise of that in window.benchCounted.
PAGE_KEEP = """async (size) => {
  const channel = await window.benchWithin(window.benchChannel, 'the data channel');
  window.benchCounted = new Promise((resolve) => {
    const buffer = new Uint8Array(size);
    let received = 0;
    const keep = (event) => {
      buffer.set(new Uint8Array(event.data), received);
      received += event.data.byteLength;
      if (received >= size) {
        channel.removeEventListener('message', keep);
        URL.revokeObjectURL(URL.createObjectURL(new Blob([buffer])));
        channel.send('done');
        resolve(received);
      }
    };
    channel.addEventListener('message', keep);
  });
}"""
# Counts `size` bytes, answers "done", and leaves a promise of that in window.benchCounted.
PAGE_COUNT = """async (size) => {
  const channel = await window.benchWithin(window.benchChannel, 'the data channel');
  window.benchCounted = new Promise((resolve) => {
    let received = 0;
    const count = (event) => {
      received += event.data.byteLength;
      if (received >= size) {
        channel.removeEventListener('message', count);
        channel.send('done');
        resolve(received);
      }
    };
    channel.addEventListener('message', count);
  });
}"""
# Helpers of the page scripts that send. benchSender() waits for the channel
# to open and returns it with a promise of the host's confirmation, and
# benchRoom(channel) waits while more than 1 MiB is buffered.
SENDER_HELPERS = """
window.benchSender = async () => {
  const channel = await window.benchWithin(window.benchChannel, 'the data channel');
  await window.benchWithin(new Promise((resolve) => channel.readyState === 'open'
    ? resolve() : channel.addEventListener('open', resolve, {once: true})),
    'the data channel to open');
  channel.bufferedAmountLowThreshold = 256 * 1024;
  const done = new Promise((resolve) => channel.addEventListener('message', resolve, {once: true}));
  return {channel, done};
};
window.benchRoom = async (channel) => {
  if (channel.bufferedAmount > 1024 * 1024) {
    await window.benchWithin(new Promise(
      (resolve) => channel.addEventListener('bufferedamountlow', resolve, {once: true})),
      'the data channel to send its buffer');
  }
};
"""
# Sends the picked file in messages of at most 64 KiB, read as a stream, as
# Pairview's page reads a file.
PAGE_SEND_FILE = """async (size) => {
  const {channel, done} = await window.benchSender();
  const file = document.getElementById('bench-file').files[0];
  const reader = file.stream().getReader();
  const started = performance.now();
  for (let sent = 0; sent < size;) {
    const {done: ended, value} = await reader.read();
    if (ended) throw new Error(`the file ended after ${sent} of ${size} bytes`);
    const piece = value.subarray(0, size - sent);
    for (let start = 0; start < piece.length; start += 64 * 1024) {
      channel.send(piece.subarray(start, start + 64 * 1024));
      await window.benchRoom(channel);
    }
    sent += piece.length;
  }
  reader.cancel();
  await window.benchWithin(done, "the host's confirmation");
  return performance.now() - started;
}"""
PAGE_SEND = """async (size) => {
  const {channel, done} = await window.benchSender();
  const block = new Uint8Array(64 * 1024);
  crypto.getRandomValues(block.subarray(0, 65536));
  const started = performance.now();
  let sent = 0;
  while (sent < size) {
    const length = Math.min(block.length, size - sent);
    channel.send(length === block.length ? block : block.subarray(0, length));
    sent += length;
    await window.benchRoom(channel);
  }
  await window.benchWithin(done, "the host's confirmation");
  return performance.now() - started;
}"""


class BrowserReference:
    """A plain aiortc peer in the host namespace and a bare page, connected once.

    Each round moves `size` bytes over the same channel, as Pairview's
    transfers share the guest's long-lived connection.
    """

    def __init__(
        self,
        net: Any,
        browser: Any,
        direction: str,
        size: int,
        folder: Path,
        framing: str,
        pinning: Pinning,
    ) -> None:
        self.size = size
        self.direction = direction
        self.files = framing == "files"
        role = "sender" if direction == "to-browser" else "receiver"
        with pinning.side(HOST_CPU):
            self.peer = Peer(net.host, role, framing, size, folder)
        self.context = browser.new_context()
        self.context.add_init_script(BOUNDED_WAITS + SENDER_HELPERS)
        self.page = self.context.new_page()
        if self.files and direction == "from-browser":
            self.page.set_content('<input type="file" id="bench-file">')
            self.page.set_input_files("#bench-file", str(folder / PLAIN_SOURCE))
        # aiortc offers and opens the channel, and the page answers, as
        # between `pairview share` and its guests.
        self.peer.send({"offer": True})
        offer = self.peer.receive()
        answer_sdp = self.page.evaluate(PAGE_ANSWER, offer["sdp"])
        self.peer.send({"sdp": answer_sdp, "type": "answer"})

    def round_number(self, _repeat: int) -> float:
        """Move `size` bytes once; return the seconds it took."""
        if self.direction == "to-browser":
            self.page.evaluate(PAGE_KEEP if self.files else PAGE_COUNT, self.size)
            self.peer.send({"go": True})
            seconds = float(self.peer.receive()["seconds"])
            self.page.evaluate("() => window.benchWithin(window.benchCounted, 'the last byte')")
            return seconds
        script = PAGE_SEND_FILE if self.files else PAGE_SEND
        return float(self.page.evaluate(script, self.size)) / 1000

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.peer.send({"go": False})
        self.context.close()
        self.peer.close()


# Times each transfer entry of the guest page from accepting (or offering) to complete.
# Host to browser: acceptance to the last byte in the page, before the page
# joins the chunks, checks the SHA-256 and hands the file to its downloads.
LAST_BYTE_SECONDS: list[float] = []

WATCH_TRANSFERS = """
window.benchTimes = {};
window.benchWaiting = {};
const FINAL = ['complete', 'failed', 'cancelled', 'declined'];
// Resolves with the transfer's times once it completes or fails, without polling.
window.benchSettled = (name) => new Promise((resolve) => {
  const times = window.benchTimes[name];
  if (times && FINAL.some((state) => state in times)) resolve(times);
  else (window.benchWaiting[name] ??= []).push(resolve);
});
new MutationObserver((records) => {
  for (const record of records) {
    const item = record.target;
    if (!(item instanceof HTMLElement) || !item.classList.contains('transfer')) continue;
    const times = window.benchTimes[item.dataset.name] ??= {};
    if (record.attributeName === 'data-progress') {
      // The time of the highest count: the receiver's last byte.
      const progress = Number(item.dataset.progress);
      if (progress > (times.progress ?? -1)) {
        times.progress = progress;
        times.lastProgress = performance.now();
      }
    } else {
      times[item.dataset.state] ??= performance.now();
      if (FINAL.includes(item.dataset.state)) {
        for (const resolve of window.benchWaiting[item.dataset.name] ?? []) resolve(times);
        delete window.benchWaiting[item.dataset.name];
      }
    }
  }
}).observe(document, {
  subtree: true, attributes: true, attributeFilter: ['data-state', 'data-progress'],
});
"""


def pairview_to_browser(host: Any, guest: Any, source: Path, counted: bool) -> float:
    name = source.name
    host.type(f"/send {source} {guest.name}")
    selector = f'.transfer[data-direction="in"][data-name="{name}"] button[data-action="accept"]'
    guest.page.wait_for_selector(selector, timeout=60_000)
    with guest.page.expect_download(timeout=PEER_TIMEOUT * 1000) as started:
        guest.page.click(selector)
    times = _wait_complete(guest, name)
    # The browser writes the download to disk after the transfer completes.
    # Waiting for it here keeps that write out of the next variant's round.
    download = started.value
    download.path()
    download.delete()
    if counted:
        LAST_BYTE_SECONDS.append((times["lastProgress"] - times["transferring"]) / 1000)
    return (times["complete"] - times["transferring"]) / 1000


def pairview_from_browser(host: Any, guest: Any, source: Path) -> float:
    mark = host.mark()
    guest.page.set_input_files("#file-input", str(source))
    host.wait_for_line(rf"sends you '{source.name}'", after=mark, timeout=60)
    host.type("y")
    times = _wait_complete(guest, source.name)
    return (times["complete"] - times["transferring"]) / 1000


def _wait_complete(guest: Any, name: str) -> dict[str, float]:
    """Wait in the page for the transfer to settle: a poll from here would load the machine."""
    times: dict[str, float] = guest.page.evaluate(
        "(name) => window.benchWithin(window.benchSettled(name), `the transfer of ${name}`)", name
    )
    if "complete" not in times:
        raise RuntimeError(f"the transfer of {name} did not complete: {times}")
    return times


def run(
    size: int, repeats: int, only: str | None = None, pin: bool = False
) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    from tests.support.control_session import join, launch_in_guest, share
    from tests.support.netns import lan
    from tests.support.xvfb import xvfb

    results: dict[str, list[float]] = {}
    pinning = Pinning(pin)

    def measure(path: str, variants: dict[str, Callable[[int], float]]) -> None:
        """Alternate the reference and Pairview, so that both see the machine's load alike.

        Round 0 warms each variant up and is not counted.
        """
        if only is not None and path != only:
            return
        for key in variants:
            results[f"{path} {key}"] = []
        for repeat in range(repeats + 1):
            for key, once in variants.items():
                seconds = once(repeat)
                if repeat > 0:
                    results[f"{path} {key}"].append(size / seconds / MB)
        for key in variants:
            values = results[f"{path} {key}"]
            print(f"{path} {key}: {', '.join(f'{v:.1f}' for v in values)} MB/s", flush=True)
        ratios = paired_ratios(results, path)
        print(f"{path} pairview / plain, round by round: {_listed(ratios)}", flush=True)
        for other in ("aiortc", "files"):
            if f"{path} {other}" in results:
                ratios = paired_ratios(results, path, other)
                print(f"{path} pairview / {other}, round by round: {_listed(ratios)}", flush=True)

    with (
        tempfile.TemporaryDirectory() as directory,
        lan() as net,
        contextlib.ExitStack() as stack,
    ):
        # The X server belongs to the host, as the screen it shares.
        with pinning.side(HOST_CPU):
            display = stack.enter_context(xvfb(1280, 720))
        folder = Path(directory)
        measure(
            "host-host",
            {
                "plain": lambda r: host_to_host(net, "plain", size, folder / f"p{r}", pinning),
                "pairview": lambda r: host_to_host(
                    net, "pairview", size, folder / f"f{r}", pinning
                ),
                "acked": lambda r: host_to_host(net, "acked", size, folder / f"a{r}", pinning),
                "aiortc": lambda r: host_to_host(net, "aiortc", size, folder / f"o{r}", pinning),
            },
        )
        downloads = folder / "downloads"
        options = ("--downloads-dir", str(downloads), "--microphone", "none", "--speaker", "none")
        with contextlib.ExitStack() as processes:
            with pinning.side(HOST_CPU):
                host = processes.enter_context(share(net, display.name, folder / "share", *options))
            with pinning.side(GUEST_CPU):
                playwright = processes.enter_context(sync_playwright())
                browser = launch_in_guest(playwright, net, folder)
            try:
                watch = BOUNDED_WAITS + WATCH_TRANSFERS
                guest = join(browser, host.link, "Bench", init_script=watch)
                guest.page.wait_for_selector('#file-target option[value="host"]', state="attached")
                guest.page.select_option("#file-target", "host")

                # One random file, written to disk before any round so that
                # its writeback does not run during a timed transfer.
                random_file = folder / PLAIN_SOURCE
                random_file.write_bytes(os.urandom(size))
                os.sync()

                def named(prefix: str, repeat: int) -> Path:
                    """Link the random file under a new name: the page finds transfers by name."""
                    source = folder / f"{prefix}-{repeat}.bin"
                    os.link(random_file, source)
                    return source

                def to_browser(repeat: int) -> float:
                    source = named("to-browser", repeat)
                    return pairview_to_browser(host, guest, source, counted=repeat > 0)

                def from_browser(repeat: int) -> float:
                    source = named("from-browser", repeat)
                    seconds = pairview_from_browser(host, guest, source)
                    for saved in downloads.glob("*"):
                        saved.unlink()
                    return seconds

                for path, framed in (("to-browser", to_browser), ("from-browser", from_browser)):
                    if only is not None and path != only:
                        continue
                    with contextlib.ExitStack() as references:
                        # The host's transport changes both what it acknowledges
                        # and how it sends, so both paths compare with aiortc's own.
                        framings = ["plain", "files", "aiortc"]
                        plain: dict[str, Callable[[int], float]] = {}
                        for framing in framings:
                            reference = BrowserReference(
                                net, browser, path, size, folder, framing, pinning
                            )
                            references.callback(reference.close)
                            plain[framing] = reference.round_number
                        # Pairview runs right after the plain channel it is compared with.
                        variants = {"plain": plain.pop("plain"), "pairview": framed, **plain}
                        measure(path, variants)
                if LAST_BYTE_SECONDS:
                    key = "to-browser pairview, to the last byte"
                    results[key] = [size / seconds / MB for seconds in LAST_BYTE_SECONDS]
                    print(f"{key}: {', '.join(f'{v:.1f}' for v in results[key])} MB/s")
                guest.close()
            finally:
                browser.close()
    return results


def paired_ratios(
    results: dict[str, list[float]], path: str, reference: str = "plain"
) -> list[float]:
    """Divide each Pairview transfer's rate by that of the `reference` variant's in its round.

    Neighbours share the machine's load, so their ratio varies less than the
    ratio of two medians taken over a run whose load drifts.
    """
    plain = results[f"{path} {reference}"]
    framed = results[f"{path} pairview"]
    return [f / p for p, f in zip(plain, framed, strict=True)]


def _listed(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def report(
    results: dict[str, list[float]],
    size: int,
    repeats: int,
    load: tuple[float, float],
    event_loop: str,
    pin: bool = False,
) -> str:
    from pairview.protocol.transfer import PROGRESS_INTERVAL

    rows = [
        ("host to host (two aiortc peers)", "host-host"),
        ("host to browser (Chromium)", "to-browser"),
        ("browser to host", "from-browser"),
    ]
    heading = "### Each side on a CPU of its own" if pin else "## File transfer throughput"
    lines = [
        heading,
        "",
        f"Measured by `bench/file_transfer.py` on a machine with {os.cpu_count()} cores "
        f"({platform.system()} {platform.release()}, Python {platform.python_version()}), "
        f"a {size / MB:.0f} MB file of random bytes, median of {repeats} transfers each "
        f"after one that warms up, on {time.strftime('%Y-%m-%d')}, every aiortc peer on "
        f"the {event_loop} event loop. The peers run in two "
        "network namespaces joined by a veth link. Pairview's transfers hash with SHA-256 "
        "on both sides, keep the receiver's acknowledgement window, and on the host read "
        "from disk or save into the downloads folder with fsync. To and from the browser "
        "they are the real `pairview share` and guest page. The reference is a plain "
        "aiortc data channel in the same run: 64 KiB messages with the same "
        "bufferedAmount backpressure, counted and discarded, and over one connection for "
        "all its transfers, as Pairview's transfers share the guest's connection. As "
        "between `pairview share` and a guest, aiortc makes the offer and the page answers. "
        "Its aiortc peers use the host's SCTP transport (`pairview/host/sctp.py`), with "
        "one SACK for every second packet and no search for chunks to retransmit "
        "without a loss, so that the ratio leaves out what those changes gain.",
        "",
        f"The load average was {load[0]:.1f} when the run began and {load[1]:.1f} when "
        "it ended. Single transfers vary widely on a shared machine, so the variants "
        "take turns, and each sees the same load. "
        + (
            f"With `--pin`, the guest side (Chromium, and the receiver host to host) ran on "
            f"CPU {GUEST_CPU} only and the host side (`pairview share`, its X server and the "
            f"reference's aiortc peers) on CPU {HOST_CPU} only, as two machines would."
            if pin
            else "Every process could run on every CPU."
        ),
        "",
        "The last column takes each Pairview transfer over the plain one that ran "
        "just before it, and gives the median of these ratios.",
        "",
        "| path | plain channel (MB/s) | Pairview (MB/s) | Pairview / plain | round by round |",
        "|---|---|---|---|---|",
    ]
    for label, key in rows:
        plain = statistics.median(results[f"{key} plain"])
        framed = statistics.median(results[f"{key} pairview"])
        paired = statistics.median(paired_ratios(results, key))
        lines.append(
            f"| {label} | {plain:.1f} | {framed:.1f} | {framed / plain:.2f} | {paired:.2f} |"
        )
    acked = statistics.median(results["host-host acked"])
    plain = statistics.median(results["host-host plain"])
    lines += [
        "",
        "A third host-to-host variant, a plain channel whose receiver sends a short "
        f"message back after every {PROGRESS_INTERVAL / 1024**2:g} MiB as Pairview's receiver "
        "does, moved "
        f"{acked:.1f} MB/s ({acked / plain:.2f} of the plain channel). It separates "
        "the cost of the framing from the effect of the receiver's traffic back.",
    ]
    lines += _other_references(
        results,
        "aiortc",
        "With aiortc's own transport, which acknowledges every packet and searches the "
        "chunks in flight after every SACK, a plain channel moved:",
        "plain channel, aiortc's transport (MB/s)",
    )
    lines += _other_references(
        results,
        "files",
        "A plain channel that also does a file's reads and writes moved the figures below. "
        "Sending, the page reads the picked file as a stream and the host reads 1 MiB "
        "blocks, one block ahead. Receiving, the page copies every message into one "
        "buffer and makes a Blob of it, and the host writes every message to a file and "
        "fsyncs it at the end. It has no hash, no acknowledgements and no progress display, "
        "so the ratio is the cost of Pairview's protocol over a bare file transfer:",
        "plain channel with the file (MB/s)",
    )
    last_byte = results.get("to-browser pairview, to the last byte")
    if last_byte:
        to_browser = statistics.median(results["to-browser plain"])
        fastest = statistics.median(last_byte)
        lines += [
            "",
            "Host to browser, counted only until the page has the last byte, before it "
            "joins the chunks, checks the SHA-256 and hands the file to its downloads, "
            f"Pairview moved {fastest:.1f} MB/s ({fastest / to_browser:.2f} of the plain "
            "channel).",
        ]
    lines += ["", "Every transfer, in MB/s, in the order measured:", ""]
    for key, values in results.items():
        lines.append(f"- {key}: {', '.join(f'{value:.1f}' for value in values)}")
    return "\n".join(lines)


def _other_references(
    results: dict[str, list[float]], reference: str, text: str, column: str
) -> list[str]:
    """Return a paragraph and a table of Pairview against another reference, where measured."""
    paths = [
        (label, key)
        for label, key in (
            ("host to host", "host-host"),
            ("host to browser", "to-browser"),
            ("browser to host", "from-browser"),
        )
        if f"{key} {reference}" in results
    ]
    if not paths:
        return []
    lines = [
        "",
        text,
        "",
        f"| path | {column} | Pairview / that | round by round |",
        "|---|---|---|---|",
    ]
    for label, key in paths:
        other = statistics.median(results[f"{key} {reference}"])
        framed = statistics.median(results[f"{key} pairview"])
        paired = statistics.median(paired_ratios(results, key, reference))
        lines.append(f"| {label} | {other:.1f} | {framed / other:.2f} | {paired:.2f} |")
    return lines


def write_section(text: str, pinned: bool = False) -> None:
    """Replace the run's section in docs/benchmarks.md, or add it.

    A new pinned section goes right after the section of the run without
    --pin, where there is one.
    """
    start, end = (PINNED_START, PINNED_END) if pinned else (START, END)
    block = f"{start}\n{text}\n{end}\n"
    if DOCUMENT.exists():
        current = DOCUMENT.read_text(encoding="utf-8")
        if start in current and end in current:
            before, _, rest = current.partition(start)
            _, _, after = rest.partition(end)
            updated = before + block.rstrip("\n") + after
        elif pinned and END in current:
            before, _, after = current.partition(END)
            updated = before + END + "\n\n" + block.rstrip("\n") + after
        else:
            updated = current.rstrip("\n") + "\n\n" + block
    else:
        DOCUMENT.parent.mkdir(parents=True, exist_ok=True)
        updated = "# Benchmarks\n\n" + block
    DOCUMENT.write_text(updated, encoding="utf-8")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "peer":
        role, framing, size, folder = sys.argv[2:6]
        from pairview.loop import run_loop
        from pairview.settings import EventLoop

        # The parent sets the variable, so the reference runs on Pairview's loop.
        chosen = os.environ.get(LOOP_VARIABLE)
        event_loop: EventLoop = "asyncio" if chosen == "asyncio" else "uvloop"
        run_loop(run_peer(role, framing, int(size), Path(folder)), event_loop)
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mb", type=int, default=50, help="file size in MB (default 50)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="counted transfers per path and variant, after one that warms up (default 5)",
    )
    parser.add_argument(
        "--event-loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="the event loop of `pairview share` and of the reference's aiortc peers "
        "(default: uvloop, as `pairview share` uses)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help=f"run the guest side (Chromium, the receiving peer host to host) on CPU "
        f"{GUEST_CPU} only and the host side (pairview share, its X server, the reference's "
        f"aiortc peers) on CPU {HOST_CPU} only, as two machines would; without it, every "
        "process may use every CPU",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print the figures without updating the docs"
    )
    parser.add_argument(
        "--only",
        choices=["host-host", "to-browser", "from-browser"],
        help="measure one path only; implies --no-write",
    )
    args = parser.parse_args()
    if not 1 <= args.size_mb <= 1000:
        parser.error(f"--size-mb must be between 1 and 1000, got {args.size_mb}")
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.pin and not {GUEST_CPU, HOST_CPU} <= os.sched_getaffinity(0):
        parser.error(
            f"--pin needs CPUs {GUEST_CPU} and {HOST_CPU}, "
            f"but this process may use only {sorted(os.sched_getaffinity(0))}"
        )
    size = args.size_mb * MB
    # `pairview share` reads this setting from its environment, and so do the peers.
    os.environ[LOOP_VARIABLE] = args.event_loop
    load_before = os.getloadavg()[0]
    results = run(size, args.repeats, args.only, args.pin)
    if args.only is not None:
        return 0
    load = (load_before, os.getloadavg()[0])
    text = report(results, size, args.repeats, load, args.event_loop, args.pin)
    print(text)
    if not args.no_write:
        write_section(text, args.pin)
        print(f"\nWritten to {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
