"""The guest page's hellos on the channels the host opens, in headless Chromium.

Playwright serves the page's modules from the repository at a made-up
address, so no request leaves the browser. The channels are stand-ins that
record what the page sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import module_page

pytestmark = pytest.mark.e2e

ORIGIN = "https://pairview.test"

PAGE = """<!doctype html>
<script type="module">
import { HostConnection } from "/static/js/guest.js";
import { CONTROL_VERSION } from "/static/js/protocol.js";

// Stands in for an RTCDataChannel that the host opened: keeps what the page sends.
class RecordingChannel extends EventTarget {
  constructor(label, readyState) {
    super();
    this.label = label;
    this.readyState = readyState;
    this.sent = [];
  }
  send(data) { this.sent.push(JSON.parse(data).type); }
}

// Attaches a control and a chat channel in `readyState`, fires "open" on both
// if `fireOpen`, delivers the host's hello `hellos` times on the control
// channel, and returns the types of the messages the page sent on each.
window.attach = (readyState, fireOpen, hellos) => {
  const host = new HostConnection({ send() {} }, "Robin");
  clearInterval(host.watch);
  const control = new RecordingChannel("control", readyState);
  const chat = new RecordingChannel("chat", readyState);
  host.attachControl(control);
  host.attachChat(chat);
  if (fireOpen) {
    for (const channel of [control, chat]) {
      channel.readyState = "open";
      channel.dispatchEvent(new Event("open"));
    }
  }
  for (let i = 0; i < hellos; i++) {
    const data = JSON.stringify({ type: "hello", version: CONTROL_VERSION, name: "Host" });
    control.dispatchEvent(new MessageEvent("message", { data }));
  }
  return { control: control.sent, chat: chat.sent };
};
window.ready = true;
</script>
"""


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    with module_page(ORIGIN, PAGE) as opened:
        yield opened


@pytest.mark.parametrize(
    ("ready_state", "fire_open"),
    [("open", False), ("open", True), ("connecting", True)],
    ids=["open-without-event", "open-with-event", "opens-later"],
)
def test_hello_in_reply_once(page: Any, ready_state: str, fire_open: bool) -> None:
    """The page greets on each channel once, after the host's hello, whether or not "open" fires."""
    sent = page.evaluate(
        "([state, fire]) => window.attach(state, fire, 2)", [ready_state, fire_open]
    )
    assert sent["control"] == ["hello"]
    assert sent["chat"] == ["hello"]


def test_no_hello_before_host_hello(page: Any) -> None:
    sent = page.evaluate("() => window.attach('open', true, 0)")
    assert sent["control"] == []
    assert sent["chat"] == []
