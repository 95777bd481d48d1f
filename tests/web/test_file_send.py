"""The page's file sender against a scripted data channel, in headless Chromium.

Playwright serves the page's modules from the repository at a made-up
address, so no request leaves the browser. The channel is a stand-in that
records what the page sends and never builds up a buffer. The test plays
the receiver, accepting and acknowledging as the host would.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.browser import module_page
from tests.support.timing import wait_for

pytestmark = pytest.mark.e2e

# Playwright serves every request to these origins. Only the first is a secure
# context, where the page has crypto.subtle.
SECURE = "https://pairview.test"
INSECURE = "http://pairview.test"
MIB = 1024 * 1024
WINDOW = 8 * MIB

PAGE = """<!doctype html>
<ul id="list"></ul><input id="input" type="file"><select id="target"></select>
<div id="drop"></div><div id="error"></div><input id="picker" type="file">
<script type="module">
import { FileTransfers } from "/static/js/files.js";
import * as protocol from "/static/js/protocol.js";

// Stands in for an RTCDataChannel: keeps the text messages, counts the
// binary bytes, and reports a buffer that is always empty.
class RecordingChannel extends EventTarget {
  constructor() {
    super();
    // Connecting until the test dispatches "open", as a new channel is.
    this.readyState = "connecting";
    this.addEventListener("open", () => { this.readyState = "open"; });
    this.bufferedAmount = 0;
    this.bufferedAmountLowThreshold = 0;
    this.binaryType = "blob";
    this.messages = [];
    this.bytes = 0;
  }
  send(data) {
    if (typeof data === "string") this.messages.push(JSON.parse(data));
    else this.bytes += data.byteLength;
  }
  close() { this.readyState = "closed"; }
  deliver(message) {
    this.dispatchEvent(new MessageEvent("message", { data: JSON.stringify(message) }));
  }
}

const channels = [];
const connection = {
  createDataChannel() {
    channels.push(new RecordingChannel());
    return channels.at(-1);
  },
};
// Hashes run on this thread: any is a defect, as the reader worker hashes.
const hashes = [];
if (globalThis.crypto.subtle) {
  const digest = crypto.subtle.digest.bind(crypto.subtle);
  crypto.subtle.digest = (algorithm, data) => {
    hashes.push(data.byteLength);
    return digest(algorithm, data);
  };
}
// What the reader worker posts: each message's type, and how many bytes had
// been sent when it arrived.
const posted = [];
let created = 0;
let terminated = 0;
const NativeWorker = globalThis.Worker;
globalThis.Worker = class extends NativeWorker {
  constructor(...args) {
    super(...args);
    created += 1;
    this.addEventListener("message", (event) => {
      posted.push({ type: event.data.type, sentBefore: channels.at(-1).bytes });
    });
  }
  terminate() {
    terminated += 1;
    super.terminate();
  }
};
const element = (id) => document.getElementById(id);
const transfers = new FileTransfers(
  { list: element("list"), input: element("input"), target: element("target"),
    drop: element("drop"), error: element("error") },
  () => connection,
);

// Offers `size` bytes of the pattern (i * 7 + 3) mod 256 to the host.
window.offer = (size) => {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + 3) & 255;
  transfers.sendFile(new File([bytes], "pattern.bin"), [{ id: "h", role: "host", name: "Host" }]);
  channels.at(-1).dispatchEvent(new Event("open"));
};
// Answers the last offer as the host: protocol.fileAccept() or protocol.fileDecline(reason).
window.answer = (accept) => {
  const declined = "The host declined the file.";
  channels.at(-1).deliver(accept ? protocol.fileAccept() : protocol.fileDecline(declined));
};
// Offers the pattern and accepts it as the host.
window.sendAccepted = (size) => {
  window.offer(size);
  window.answer(true);
};
// Offers the file picked in #picker, not the page's own input, and accepts it as the host
// unless `accept` is false. With `open` false, the channel stays unopened until openLast().
window.sendPicked = (accept = true, open = true) => {
  transfers.sendFile(element("picker").files[0], [{ id: "h", role: "host", name: "Host" }]);
  const channel = channels.at(-1);
  if (open) channel.dispatchEvent(new Event("open"));
  if (accept) channel.deliver(protocol.fileAccept());
};
window.openLast = () => channels.at(-1).dispatchEvent(new Event("open"));
window.transferState = () => element("list").querySelector(".transfer").dataset.state;
window.transferStatus = () => element("list").querySelector(".transfer-status").textContent;
// Delivers acknowledgements of 1, 2, ... `mebibytes` MiB at once, as a burst from the host.
window.acknowledgeBurst = (mebibytes) => {
  for (let i = 1; i <= mebibytes; i++) {
    channels.at(-1).deliver(protocol.fileProgress(i * 1024 * 1024));
  }
};
// Every progress value the transfer's entry showed, in order.
const progressValues = [];
new MutationObserver((records) => {
  for (const record of records) progressValues.push(Number(record.target.dataset.progress));
}).observe(element("list"), {
  subtree: true, attributes: true, attributeFilter: ["data-progress"],
});
window.shownProgress = () => progressValues;
window.acknowledgeAll = () => {
  const channel = channels.at(-1);
  channel.deliver(protocol.fileProgress(channel.bytes));
};
// Offers `size` bytes of the pattern to `count` guests at once, as "Everyone" does.
let many = [];
window.offerToMany = (size, count) => {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + 3) & 255;
  const receivers = Array.from(
    { length: count }, (_, i) => ({ id: `g${i}`, role: "guest", name: `Guest ${i}` }),
  );
  const first = channels.length;
  transfers.sendFile(new File([bytes], "pattern.bin"), receivers);
  many = channels.slice(first);
  for (const channel of many) channel.dispatchEvent(new Event("open"));
};
// Accepts or declines on each of those channels, as `answers` says.
window.answerMany = (answers) => many.forEach((channel, i) => {
  channel.deliver(answers[i] ? protocol.fileAccept() : protocol.fileDecline("Not now."));
});
// Acknowledges what arrived on each channel, and confirms each file that ended.
window.acknowledgeMany = () => many.forEach((channel) => {
  channel.deliver(protocol.fileProgress(channel.bytes));
  if (channel.messages.at(-1)?.type === "file-end") channel.deliver(protocol.fileComplete());
});
window.manyState = () => ({
  created, terminated, channels: many.map((c) => ({ bytes: c.bytes, messages: c.messages })),
});
// Offers `size` bytes to Bo, a guest, through the host.
window.offerToGuest = (size) => {
  const bo = { id: "b", role: "guest", name: "Bo" };
  transfers.sendFile(new File([new Uint8Array(size)], "for-bo.bin"), [bo]);
  channels.at(-1).dispatchEvent(new Event("open"));
};
// Offers `size` bytes to Bo and accepts them as Bo.
window.sendToGuest = (size) => {
  window.offerToGuest(size);
  channels.at(-1).deliver(protocol.fileAccept());
};
window.channelCount = () => channels.length;
window.deliver = (message) => channels.at(-1).deliver(message);
// Opens a channel from the host with an offer of 10 bytes from a sender of `role`.
window.receiveFrom = (role) => {
  const channel = new RecordingChannel();
  channel.readyState = "open";
  channels.push(channel);
  transfers.incoming(channel);
  const sender = role === "host"
    ? { id: "host", name: "Host", role }
    : { id: "a", name: "Ana", role };
  const offer = protocol.fileOffer({
    id: "transfer-1", name: "in.bin", size: 10, mime: "", to: "me",
  });
  channel.deliver({ ...offer, sender });
};
// Chooses `size` bytes in a room that takes up to `limit`, and returns the error shown.
window.chooseOverLimit = (size, limit) => {
  transfers.setLimit(limit);
  const participants = [
    { id: "me", role: "guest", name: "Me" },
    { id: "h", role: "host", name: "Host" },
  ];
  transfers.setRoster({ you: "me", participants });
  transfers.sendFiles([new File([new Uint8Array(size)], "toobig.bin")]);
  return element("error").textContent;
};
window.sender = () => {
  const channel = channels.at(-1);
  return { bytes: channel.bytes, messages: channel.messages, hashes, posted, terminated };
};
window.ready = true;
</script>
"""


def sender_page(origin: str) -> contextlib.AbstractContextManager[Any]:
    return module_page(origin, PAGE)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pattern(size: int) -> bytes:
    return ((np.arange(size, dtype=np.uint32) * 7 + 3) & 255).astype(np.uint8).tobytes()


def acknowledge_until_end(page: Any) -> dict[str, Any]:
    """Acknowledge what arrived until the page ends the file, and return what it sent."""

    def ended() -> bool:
        page.evaluate("() => window.acknowledgeAll()")
        return any(m["type"] == "file-end" for m in page.evaluate("() => window.sender().messages"))

    wait_for(ended, timeout=60, what="the page to send the end of the file")
    sender: dict[str, Any] = page.evaluate("() => window.sender()")
    return sender


def hash_posts(sender: dict[str, Any]) -> list[dict[str, Any]]:
    return [post for post in sender["posted"] if post["type"] == "hash"]


def test_native_hash_ready_before_last_chunk() -> None:
    """The worker reads and hashes a file while the window still keeps 4 MiB of it back."""
    data = pattern(12 * MIB)
    with sender_page(SECURE) as page:
        assert page.evaluate("() => window.isSecureContext") is True
        page.evaluate("(size) => window.sendAccepted(size)", len(data))

        # The test acknowledges nothing yet, so the page stops at the window
        # with 4 MiB unsent. By then the worker has read and hashed the whole file.
        wait_for(
            lambda: page.evaluate("() => window.sender().bytes") == WINDOW,
            timeout=30,
            what="the page to fill the window",
        )
        wait_for(
            lambda: hash_posts(page.evaluate("() => window.sender()")) or None,
            timeout=30,
            what="the worker to hash the file",
        )
        at_window = page.evaluate("() => window.sender()")
        # Acknowledging what arrived lets the rest go, and the end carries the hash.
        sender = acknowledge_until_end(page)
    assert at_window["bytes"] == WINDOW
    assert [m["type"] for m in at_window["messages"]] == ["file-offer"]
    [hashed] = hash_posts(sender)
    assert hashed["sentBefore"] == WINDOW
    assert sender["hashes"] == []
    assert sender["bytes"] == len(data)
    assert sender["messages"][-1] == {
        "type": "file-end",
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def test_progress_bar_redraws_at_most_every_100_ms() -> None:
    """A burst of acknowledgements shows the first at once and the last shortly after."""
    # Three windows, so that the window closes again after the burst.
    data = pattern(3 * WINDOW)
    with sender_page(SECURE) as page:
        page.evaluate("(size) => window.sendAccepted(size)", len(data))
        wait_for(
            lambda: page.evaluate("() => window.sender().bytes") == WINDOW,
            timeout=30,
            what="the page to fill the window",
        )
        page.evaluate("() => window.acknowledgeBurst(8)")
        after_burst = page.evaluate("() => window.shownProgress()")
        wait_for(
            lambda: len(page.evaluate("() => window.shownProgress()")) == 2 or None,
            timeout=5,
            what="the page to show the last acknowledgement",
        )
        trailing = page.evaluate("() => window.shownProgress()")
        status = page.evaluate("() => window.transferStatus()")
        acknowledge_until_end(page)
        # The page may end the file before the last acknowledgement, so the test sends the
        # full one, which the bar shows at once.
        page.evaluate("() => window.acknowledgeAll()")
        final = page.evaluate("() => window.shownProgress()")
    assert after_burst == [MIB]
    assert trailing == [MIB, WINDOW]
    # The status counts the bytes as well, in decimal units: 8 MiB of 24 MiB.
    assert status == "Sending… 8.4 MB of 25.2 MB"
    assert final[-1] == len(data)


def test_insecure_page_hashes_in_worker() -> None:
    """Off a secure context the worker reads block by block and hashes in JavaScript."""
    with sender_page(INSECURE) as page:
        assert page.evaluate("() => window.isSecureContext") is False
        data = pattern(3 * MIB + 5)
        page.evaluate("(size) => window.sendAccepted(size)", len(data))
        sender = acknowledge_until_end(page)
    blocks = [post for post in sender["posted"] if post["type"] == "block"]
    assert len(blocks) == 4
    assert len(hash_posts(sender)) == 1
    assert sender["bytes"] == len(data)
    assert sender["messages"][-1] == {
        "type": "file-end",
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def test_offer_reads_before_acceptance() -> None:
    """The worker reads the first blocks and hashes the file while the offer waits."""
    data = pattern(6 * MIB)
    with sender_page(SECURE) as page:
        page.evaluate("(size) => window.offer(size)", len(data))
        wait_for(
            lambda: hash_posts(page.evaluate("() => window.sender()")) or None,
            timeout=30,
            what="the worker to hash the offered file",
        )
        waiting = page.evaluate("() => window.sender()")
        page.evaluate("() => window.answer(true)")
        sender = acknowledge_until_end(page)
    blocks = [post for post in waiting["posted"] if post["type"] == "block"]
    assert len(blocks) == 4
    assert waiting["bytes"] == 0
    assert [m["type"] for m in waiting["messages"]] == ["file-offer"]
    assert sender["bytes"] == len(data)
    assert sender["messages"][-1] == {"type": "file-end", "sha256": sha256(data)}


def test_declined_offer_stops_reader() -> None:
    """Declining ends the worker that read ahead, and the page sends no data."""
    with sender_page(SECURE) as page:
        page.evaluate("(size) => window.offer(size)", 2 * MIB)
        page.evaluate("() => window.answer(false)")
        wait_for(
            lambda: page.evaluate("() => window.sender().terminated") or None,
            timeout=30,
            what="the page to end the reader",
        )
        sender = page.evaluate("() => window.sender()")
        status = page.evaluate("() => window.transferStatus()")
    # The page shows the receiver's reason unchanged, with no "Declined:" before it.
    assert status == "The host declined the file."
    assert sender["terminated"] == 1
    assert sender["bytes"] == 0
    assert [m["type"] for m in sender["messages"]] == ["file-offer"]


def test_unreadable_file_is_not_offered_late(tmp_path: Path) -> None:
    """A file that fails to read before its channel opens is never offered."""
    picked = tmp_path / "removed.bin"
    picked.write_bytes(pattern(MIB))
    with sender_page(SECURE) as page:
        page.set_input_files("#picker", str(picked))
        page.evaluate("() => document.getElementById('picker').files[0].size")
        picked.unlink()
        page.evaluate("() => window.sendPicked(false, false)")
        wait_for(
            lambda: page.evaluate("() => window.transferState()") == "cancelled" or None,
            timeout=30,
            what="the page to cancel the unreadable file",
        )
        page.evaluate("() => window.openLast()")
        state = page.evaluate("() => window.transferState()")
        sender = page.evaluate("() => window.sender()")
    assert state == "cancelled"
    assert [m["type"] for m in sender["messages"]] == []


@pytest.mark.parametrize("accept", [True, False], ids=["accepted", "waiting"])
def test_file_gone_after_picking_cancels(tmp_path: Path, accept: bool) -> None:
    """A file removed between picking and sending cannot be read, and the page cancels.

    The read starts with the offer, so the page cancels even while the offer waits.
    """
    picked = tmp_path / "removed.bin"
    picked.write_bytes(pattern(3 * MIB))
    with sender_page(SECURE) as page:
        page.set_input_files("#picker", str(picked))
        # Reading the size makes the browser record the file's size and modification time now.
        size = page.evaluate("() => document.getElementById('picker').files[0].size")
        picked.unlink()
        page.evaluate("(accept) => window.sendPicked(accept)", accept)
        wait_for(
            lambda: page.evaluate("() => window.sender().messages").pop()["type"] == "file-cancel",
            timeout=30,
            what="the page to cancel the transfer",
        )
        sender = page.evaluate("() => window.sender()")
        status = page.evaluate("() => window.transferStatus()")
    assert size == 3 * MIB
    assert sender["messages"][0]["size"] == 3 * MIB
    cancel = sender["messages"][-1]
    assert (
        cancel["reason"]
        == "the file could not be read: it was moved or deleted after it was chosen"
    )
    # The page shows the reason as well as sending it.
    assert status == f"Cancelled: {cancel['reason']}."
    assert [post["type"] for post in sender["posted"]] == ["error"]
    assert sender["bytes"] == 0


@pytest.mark.parametrize(("origin", "workers"), [(SECURE, 1), (INSECURE, 3)])
def test_file_to_everyone_read_once(origin: str, workers: int) -> None:
    """A file offered to three guests is read by one worker, unless it is hashed in JavaScript."""
    data = pattern(6 * MIB)
    with sender_page(origin) as page:
        page.evaluate("([size, count]) => window.offerToMany(size, count)", [len(data), 3])
        page.evaluate("() => window.answerMany([true, false, true])")

        def all_ended() -> dict[str, Any] | None:
            page.evaluate("() => window.acknowledgeMany()")
            state: dict[str, Any] = page.evaluate("() => window.manyState()")
            accepted = (state["channels"][0], state["channels"][2])
            ended = all(c["messages"][-1]["type"] == "file-end" for c in accepted)
            return state if ended and state["terminated"] == workers else None

        state = wait_for(all_ended, timeout=60, what="both accepted copies to end and be confirmed")
    assert state["created"] == workers
    first, declined, third = state["channels"]
    end = {"type": "file-end", "sha256": sha256(data)}
    assert first["bytes"] == len(data)
    assert first["messages"][-1] == end
    assert third["bytes"] == len(data)
    assert third["messages"][-1] == end
    # The guest who declined got the offer and nothing more, and the others were not held up.
    assert declined["bytes"] == 0
    assert [m["type"] for m in declined["messages"]] == ["file-offer"]


CANCELS_OUT = [
    ("guest", {"reason": "", "by": "host"}, "Cancelled by the host."),
    ("guest", {"reason": "", "by": "receiver"}, "Cancelled by the receiver."),
    (
        "guest",
        {"reason": "no room left", "by": "receiver"},
        "Cancelled by the receiver: no room left.",
    ),
    # A host that sends no `by` is the receiver itself, or an older one passing the file on.
    ("guest", {"reason": ""}, "Cancelled by the receiver."),
    ("host", {"reason": "the room ended", "by": "host"}, "Cancelled by the host: the room ended."),
    ("host", {"reason": ""}, "Cancelled by the host."),
]


@pytest.mark.parametrize(("receiver", "cancel", "status"), CANCELS_OUT)
def test_sender_cancel_status_names_who(receiver: str, cancel: dict[str, str], status: str) -> None:
    """The sender's page names who cancelled, with the reason only when one was given."""
    with sender_page(SECURE) as page:
        if receiver == "host":
            page.evaluate("(size) => window.sendAccepted(size)", MIB)
        else:
            page.evaluate("(size) => window.sendToGuest(size)", MIB)
        page.evaluate("(cancel) => window.deliver({ type: 'file-cancel', ...cancel })", cancel)
        state = page.evaluate("() => window.transferState()")
        status_shown = page.evaluate("() => window.transferStatus()")
    assert state == "cancelled"
    assert status_shown == status


CANCELS_IN = [
    ("guest", {"reason": "", "by": "host"}, "Cancelled by the host."),
    ("guest", {"reason": "", "by": "sender"}, "Cancelled by the sender."),
    (
        "guest",
        {"reason": "the file changed while it was being sent", "by": "sender"},
        "Cancelled by the sender: the file changed while it was being sent.",
    ),
    ("host", {"reason": "", "by": "host"}, "Cancelled by the host."),
    ("host", {"reason": "the room ended"}, "Cancelled by the host: the room ended."),
]


@pytest.mark.parametrize(("sender", "cancel", "status"), CANCELS_IN)
def test_receiver_cancel_status_names_who(sender: str, cancel: dict[str, str], status: str) -> None:
    """The receiver's page names who cancelled, with the reason only when one was given."""
    with sender_page(SECURE) as page:
        page.evaluate("(role) => window.receiveFrom(role)", sender)
        page.click('.transfer button[data-action="accept"]')
        page.evaluate("(cancel) => window.deliver({ type: 'file-cancel', ...cancel })", cancel)
        state = page.evaluate("() => window.transferState()")
        status_shown = page.evaluate("() => window.transferStatus()")
    assert state == "cancelled"
    assert status_shown == status


def test_cancel_buttons_send_no_reason() -> None:
    """A click on Cancel or Decline sends an empty reason: the other side names who acted."""
    with sender_page(SECURE) as page:
        page.evaluate("(size) => window.sendToGuest(size)", MIB)
        page.click('.transfer button[data-action="cancel"]')
        sent = page.evaluate("() => window.sender().messages")
        sender_status = page.evaluate("() => window.transferStatus()")

        page.evaluate("() => window.receiveFrom('guest')")
        page.click('.transfer button[data-action="accept"]')
        page.click('.transfer button[data-action="cancel"]')
        received = page.evaluate("() => window.sender().messages")
        receiver_status = page.evaluate("() => window.transferStatus()")

        page.evaluate("() => window.receiveFrom('guest')")
        page.click('.transfer button[data-action="decline"]')
        declined = page.evaluate("() => window.sender().messages")
        decliner_status = page.evaluate("() => window.transferStatus()")
    assert sent[-1] == {"type": "file-cancel", "reason": ""}
    assert sender_status == "Cancelled."
    assert received == [{"type": "file-accept"}, {"type": "file-cancel", "reason": ""}]
    assert receiver_status == "Cancelled."
    assert declined == [{"type": "file-decline", "reason": ""}]
    assert decliner_status == "You declined the file."


@pytest.mark.parametrize(
    ("receiver", "status"),
    [("guest", "Bo declined the file."), ("host", "The host declined the file.")],
)
def test_plain_decline_names_receiver(receiver: str, status: str) -> None:
    with sender_page(SECURE) as page:
        if receiver == "host":
            page.evaluate("(size) => window.offer(size)", MIB)
        else:
            page.evaluate("(size) => window.offerToGuest(size)", MIB)
        page.evaluate("() => window.deliver({ type: 'file-decline', reason: '' })")
        state = page.evaluate("() => window.transferState()")
        status_shown = page.evaluate("() => window.transferStatus()")
    assert state == "declined"
    assert status_shown == status


def test_size_limit_error_sizes_differ() -> None:
    """A file over the limit is not sent, and the error gives bytes where the sizes round alike."""
    limit = 5_000_000
    with sender_page(SECURE) as page:
        choose = "([size, limit]) => window.chooseOverLimit(size, limit)"
        just_over = page.evaluate(choose, [limit + 1, limit])
        far_over = page.evaluate(choose, [6_000_000, limit])
        channels = page.evaluate("() => window.channelCount()")
    assert just_over == (
        "toobig.bin is 5,000,001 bytes; this room takes files up to 5,000,000 bytes."
    )
    assert far_over == "toobig.bin is 6.0 MB; this room takes files up to 5.0 MB."
    assert channels == 0
