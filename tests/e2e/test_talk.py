"""Chat, files and voices end to end: Chromium guests and `pairview share` in namespaces.

One Xvfb screen, one `pairview share` with its terminal on a pipe and one
Chromium serve most of the module; each test joins guests of its own.
The voice test starts a share of its own, with a private PulseAudio server
for the host and Chromium's fake microphone playing a test tone.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.audio import (
    playing,
    pulseaudio,
    record,
    spectrum_peaks,
    write_tone,
)
from tests.support.control_session import (
    CHROMIUM_FLAGS,
    Guest,
    ShareProcess,
    chromium_wrapper,
    join,
    launch_in_guest,
    share,
)
from tests.support.netns import Lan, NetnsUnavailable, lan
from tests.support.timing import seconds, wait_for
from tests.support.xvfb import Display, xvfb

pytestmark = pytest.mark.e2e

MB = 1000 * 1000
QUIET = ("--microphone", "none", "--speaker", "none")


@pytest.fixture(scope="module")
def display() -> Iterator[Display]:
    with xvfb(1280, 720) as running:
        yield running


@pytest.fixture(scope="module")
def net() -> Iterator[Lan]:
    try:
        with lan() as created:
            yield created
    except NetnsUnavailable as error:
        pytest.fail(f"the end-to-end tests need network namespaces (run as root): {error}")


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def host(
    net: Lan, display: Display, downloads: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ShareProcess]:
    data = tmp_path_factory.mktemp("share")
    options = ("--downloads-dir", str(downloads), "--max-file-size", "50M", *QUIET)
    with share(net, display.name, data, *options) as running:
        yield running


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="module")
def browser(net: Lan, playwright: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    launched = launch_in_guest(playwright, net, tmp_path_factory.mktemp("chromium"))
    yield launched
    launched.close()


@pytest.fixture
def guests() -> Iterator[list[Guest]]:
    joined: list[Guest] = []
    yield joined
    for guest in joined:
        guest.close()


def enter(
    browser: Any, host: ShareProcess, name: str, guests: list[Guest], init_script: str = ""
) -> Guest:
    """Join as `name` and wait until the page lists the host in its roster."""
    guest = join(browser, host.link, name, viewport=(1280, 800), init_script=init_script)
    guests.append(guest)
    wait_for(
        lambda: guest.page.locator("#participants li").count() >= 2,
        15,
        what=f"{name}'s page to show the people in the room",
    )
    return guest


def peer_id(guest: Guest) -> str:
    value: str = guest.page.evaluate("() => document.body.dataset.peerId")
    return value


def target(guest: Guest, peer: str) -> None:
    """Choose whom the guest's next file goes to: a peer id, "host" or "all"."""
    guest.page.wait_for_selector(f'#file-target option[value="{peer}"]', state="attached")
    guest.page.select_option("#file-target", peer)


def messages(guest: Guest) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = guest.page.evaluate(
        """() => [...document.querySelectorAll('#messages .chat-message')].map((item) => ({
              name: item.querySelector('.message-name').textContent,
              text: item.querySelector('.message-text').textContent,
              html: item.querySelector('.message-text').innerHTML,
              elements: [...item.querySelectorAll('.message-text *')].map((e) => e.tagName),
              links: [...item.querySelectorAll('.message-text a')].map((a) => ({
                href: a.getAttribute('href'), rel: a.rel, text: a.textContent })),
            }))"""
    )
    return result


def wait_for_message(guest: Guest, text: str) -> dict[str, Any]:
    return wait_for(
        lambda: next((m for m in messages(guest) if m["text"] == text), None),
        15,
        what=f"{guest.name}'s page to show the message {text!r}",
    )


def random_file(path: Path, size: int) -> str:
    """Write `size` random bytes to `path`; return their SHA-256."""
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def transfer_state(guest: Guest, name: str, direction: str) -> dict[str, str] | None:
    result: dict[str, str] | None = guest.page.evaluate(
        """([name, direction]) => {
          const item = [...document.querySelectorAll('#transfers .transfer')]
            .find((t) => t.dataset.name === name && t.dataset.direction === direction);
          if (!item) return null;
          return {...item.dataset, status: item.querySelector('.transfer-status').textContent};
        }""",
        [name, direction],
    )
    return result


def wait_for_transfer(guest: Guest, name: str, direction: str, state: str) -> dict[str, str]:
    def reached() -> dict[str, str] | None:
        current = transfer_state(guest, name, direction)
        return current if current is not None and current.get("state") == state else None

    return wait_for(
        reached,
        60,
        what=f"{guest.name}'s transfer of {name!r} to be {state}, "
        f"last {transfer_state(guest, name, direction)}",
    )


def files_in(folder: Path) -> set[str]:
    return {entry.name for entry in folder.iterdir()}


def test_chat_page_host_and_guests(host: ShareProcess, browser: Any, guests: list[Guest]) -> None:
    ana = enter(browser, host, "Ana", guests)
    ben = enter(browser, host, "Ben", guests)
    mark = host.mark()

    hostile = (
        'Hi 👋🏽 <img src=x onerror="window.pwned=1"><b>bold</b> see https://example.com/a?b=1&c=2.'
    )
    ana.page.fill("#chat-input", hostile)
    ana.page.press("#chat-input", "Enter")

    host.wait_for_line(r"Ana: Hi 👋🏽 <img src=x", after=mark)
    for guest in (ana, ben):
        shown = wait_for_message(guest, hostile)
        assert shown["name"] == "Ana"
        assert shown["elements"] == ["A"], shown
        assert shown["links"] == [
            {
                "href": "https://example.com/a?b=1&c=2",
                "rel": "noopener noreferrer",
                "text": "https://example.com/a?b=1&c=2",
            }
        ]
        assert "<img" not in shown["html"].replace("&lt;img", "")
        assert guest.page.evaluate("() => window.pwned") is None

    # The host types in its terminal; both guests read it, emoji intact.
    host.type("Welcome 🎉 <script>alert(1)</script> javascript:alert(2)")
    for guest in (ana, ben):
        shown = wait_for_message(guest, "Welcome 🎉 <script>alert(1)</script> javascript:alert(2)")
        assert shown["name"] == "Host (host)"
        assert shown["elements"] == []

    # Ben answers Ana through the host.
    ben.page.fill("#chat-input", "Bonjour Ana, ça va? 🙂")
    ben.page.click("#chat-form button[type=submit]")
    assert wait_for_message(ana, "Bonjour Ana, ça va? 🙂")["name"] == "Ben"
    host.wait_for_line(r"Ben: Bonjour Ana, ça va\? 🙂", after=mark)


def test_chat_limits_are_explained(host: ShareProcess, browser: Any, guests: list[Guest]) -> None:
    ana = enter(browser, host, "Alba", guests)
    mark = host.mark()

    ana.page.fill("#chat-input", "x" * 4001)
    ana.page.press("#chat-input", "Enter")
    assert ana.page.inner_text("#chat-error") == (
        "The message has 4001 characters; the limit is 4000."
    )

    # A page that skips its own checks gets the host's error instead.
    for text in ("y" * 5000, "   ", "bell \u0007"):
        ana.page.evaluate(
            "(text) => window.pairviewChannels.filter((c) => c.label === 'chat').at(-1)"
            ".send(JSON.stringify({type: 'chat-send', text}))",
            text,
        )
    wait_for(
        lambda: "U+0007" in ana.page.inner_text("#chat-error") or None,
        10,
        what="the host's error for a control character",
    )
    host.wait_for_line(r"rejected a chat message: The message has 5000 characters", after=mark)
    assert "yyyy" not in host.output_since(mark)
    assert messages(ana) == []
    assert host.process.poll() is None


def test_file_host_to_browser_20mb(
    host: ShareProcess, browser: Any, guests: list[Guest], tmp_path: Path
) -> None:
    cara = enter(browser, host, "Cara", guests)
    source = tmp_path / "random-20MB.bin"
    expected = random_file(source, 20 * MB)
    mark = host.mark()

    host.type(f"/send {source} Cara")
    cara.page.wait_for_selector('.transfer[data-direction="in"] button[data-action="accept"]')
    with cara.page.expect_download(timeout=seconds(60) * 1000) as download_info:
        cara.page.click('.transfer[data-direction="in"] button[data-action="accept"]')
    saved = tmp_path / "downloaded.bin"
    download_info.value.save_as(saved)

    assert download_info.value.suggested_filename == "random-20MB.bin"
    assert sha256(saved) == expected
    host.wait_for_line(
        r"Sent 'random-20MB.bin' to Cara \(peer \S+\): 20.0 MB, SHA-256 verified", after=mark
    )
    state = wait_for_transfer(cara, "random-20MB.bin", "in", "complete")
    assert "SHA-256 verified" in state["status"]


def upload_to_host(
    host: ShareProcess, guest: Guest, source: Path, size: str, timeout: float
) -> Path:
    """Send `source` from the guest's page to the host, accept it, and return the saved path.

    `size` is the file's size as the terminal writes it, such as "20.0 MB".
    """
    mark = host.mark()
    target(guest, "host")
    guest.page.set_input_files("#file-input", str(source))
    name, sender, shown = re.escape(source.name), re.escape(guest.name), re.escape(size)
    host.wait_for_line(rf"{sender} \(peer \S+\) sends you '{name}' \({shown}\)", after=mark)
    host.type("y")
    line = host.wait_for_line(
        rf"Saved '{name}' from {sender} .* as (.+): {shown}", after=mark, timeout=timeout
    )
    return Path(re.search(rf" as (.+): {shown}", line).group(1))  # type: ignore[union-attr]


def test_file_browser_to_host_20mb(
    host: ShareProcess, browser: Any, guests: list[Guest], tmp_path: Path, downloads: Path
) -> None:
    dana = enter(browser, host, "Dana", guests)
    source = tmp_path / "upload-20MB.bin"
    expected = random_file(source, 20 * MB)

    saved = upload_to_host(host, dana, source, "20.0 MB", timeout=60)

    assert saved.parent == downloads
    assert sha256(saved) == expected
    state = wait_for_transfer(dana, "upload-20MB.bin", "out", "complete")
    assert "checked its SHA-256" in state["status"]
    assert not [name for name in files_in(downloads) if name.endswith(".part")]


def dropped_packets(namespace: Any) -> int:
    """Return how many packets the DROP rules of the namespace's OUTPUT chain matched."""
    listing = subprocess.run(
        namespace.command(["iptables", "-L", "OUTPUT", "-v", "-n", "-x"]),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return sum(int(line.split()[0]) for line in listing.splitlines() if " DROP " in line)


def test_file_to_host_through_lost_packets(
    net: Lan, host: ShareProcess, browser: Any, guests: list[Guest], tmp_path: Path
) -> None:
    """The host's SACKs recover lost data: every 25th UDP packet each way is dropped."""
    hana = enter(browser, host, "Hana", guests)
    source = tmp_path / "lossy-8MB.bin"
    expected = random_file(source, 8 * MB)
    every_25th = ["-m", "statistic", "--mode", "nth", "--every", "25", "--packet", "0"]
    rule = ["OUTPUT", "-p", "udp", *every_25th]
    for namespace in (net.guest, net.host):
        subprocess.run(namespace.command(["iptables", "-A", *rule, "-j", "DROP"]), check=True)
    try:
        saved = upload_to_host(host, hana, source, "8.0 MB", timeout=120)
        dropped = {
            name: dropped_packets(ns) for name, ns in (("guest", net.guest), ("host", net.host))
        }
    finally:
        for namespace in (net.guest, net.host):
            subprocess.run(namespace.command(["iptables", "-D", *rule, "-j", "DROP"]), check=True)

    assert sha256(saved) == expected
    # 8 MB takes about 7,000 packets from the page, and the host sends a SACK for every second one.
    assert dropped["guest"] > 100
    assert dropped["host"] > 20
    state = wait_for_transfer(hana, "lossy-8MB.bin", "out", "complete")
    assert "checked its SHA-256" in state["status"]


# A page outside a secure context has no crypto.subtle, and hashes in JavaScript.
WITHOUT_NATIVE_HASH = "Object.defineProperty(globalThis.crypto, 'subtle', {value: undefined});"


def files_both_ways(
    host: ShareProcess, guest: Guest, down: Path, up: Path, folder: Path
) -> tuple[Path, Path]:
    """Send `down` from the host to `guest` and `up` back; return where each was saved.

    Both transfers must complete, with the receiver's SHA-256 check.
    """
    mark = host.mark()
    host.type(f"/send {down} {guest.name}")
    accept = '.transfer[data-direction="in"] button[data-action="accept"]'
    guest.page.wait_for_selector(accept)
    with guest.page.expect_download(timeout=seconds(60) * 1000) as download_info:
        guest.page.click(accept)
    saved_down = folder / f"{guest.name}-downloaded-{down.name}"
    download_info.value.save_as(saved_down)
    target(guest, "host")
    guest.page.set_input_files("#file-input", str(up))
    name, sender = re.escape(up.name), re.escape(guest.name)
    host.wait_for_line(rf"{sender} \(peer \S+\) sends you '{name}'", after=mark)
    host.type("y")
    line = host.wait_for_line(rf"Saved '{name}' from {sender} .* as (.+): ", after=mark)

    received = wait_for_transfer(guest, down.name, "in", "complete")
    assert "SHA-256 verified" in received["status"]
    sent = wait_for_transfer(guest, up.name, "out", "complete")
    assert "checked its SHA-256" in sent["status"]
    saved_up = Path(re.search(r" as (.+): ", line).group(1))  # type: ignore[union-attr]
    return saved_down, saved_up


def test_files_both_ways_hashed_in_javascript(
    host: ShareProcess, browser: Any, guests: list[Guest], tmp_path: Path, downloads: Path
) -> None:
    erin = enter(browser, host, "Erin", guests, init_script=WITHOUT_NATIVE_HASH)
    assert erin.page.evaluate("() => globalThis.crypto.subtle") is None
    down = tmp_path / "down-3MB.bin"
    up = tmp_path / "up-3MB.bin"
    down_hash = random_file(down, 3 * MB + 17)
    up_hash = random_file(up, 3 * MB + 29)

    saved_down, saved_up = files_both_ways(host, erin, down, up, tmp_path)

    assert sha256(saved_down) == down_hash
    assert saved_up.parent == downloads
    assert sha256(saved_up) == up_hash


def test_empty_files_both_ways(
    host: ShareProcess, browser: Any, guests: list[Guest], tmp_path: Path, downloads: Path
) -> None:
    olga = enter(browser, host, "Olga", guests)
    down = tmp_path / "empty-down.txt"
    up = tmp_path / "empty-up.txt"
    down.write_bytes(b"")
    up.write_bytes(b"")

    saved_down, saved_up = files_both_ways(host, olga, down, up, tmp_path)

    assert saved_down.read_bytes() == b""
    assert saved_up.parent == downloads
    assert saved_up.read_bytes() == b""


def test_declined_and_oversized_files(
    host: ShareProcess, browser: Any, guests: list[Guest], tmp_path: Path, downloads: Path
) -> None:
    erin = enter(browser, host, "Erin", guests)
    before = files_in(downloads)
    small = tmp_path / "unwanted.txt"
    small.write_text("nobody wants this\n")
    mark = host.mark()

    target(erin, "host")
    erin.page.set_input_files("#file-input", str(small))
    host.wait_for_line(r"sends you 'unwanted.txt'", after=mark)
    host.type("n")
    state = wait_for_transfer(erin, "unwanted.txt", "out", "declined")
    assert state["status"] == "The host declined the file."

    # The page has the host's limit from its chat hello and rejects the file before sending.
    erin.page.evaluate(
        """() => {
          const input = document.getElementById('file-input');
          const transfer = new DataTransfer();
          transfer.items.add(new File([new Uint8Array(51 * 1000 * 1000)], 'huge.bin'));
          input.files = transfer.files;
          input.dispatchEvent(new Event('change'));
        }"""
    )
    assert erin.page.inner_text("#file-error") == (
        "huge.bin is 51.0 MB; this room takes files up to 50.0 MB."
    )
    host.type("/send /nonexistent/file.txt Erin")
    host.wait_for_line(
        r"Cannot send '/nonexistent/file.txt': No such file or directory", after=mark
    )
    assert files_in(downloads) == before


def test_cancel_halfway_leaves_no_partial_file(
    net: Lan, host: ShareProcess, browser: Any, guests: list[Guest], tmp_path: Path, downloads: Path
) -> None:
    fay = enter(browser, host, "Fay", guests)
    source = tmp_path / "cancelled-20MB.bin"
    random_file(source, 20 * MB)
    before = files_in(downloads)
    mark = host.mark()

    # Slow the guest's uplink to about 2 MB/s, so that the transfer takes long enough to stop it.
    shape = ["tc", "qdisc", "add", "dev", "pv1", "root", "tbf", "rate", "16mbit"]
    subprocess.run(net.guest.command([*shape, "burst", "64kb", "latency", "200ms"]), check=True)
    try:
        target(fay, "host")
        fay.page.set_input_files("#file-input", str(source))
        host.wait_for_line(r"sends you 'cancelled-20MB.bin'", after=mark)
        host.type("y")
        try:
            wait_for(
                lambda: (
                    int((transfer_state(fay, "cancelled-20MB.bin", "out") or {}).get("progress", 0))
                    >= 5 * MB
                    or None
                ),
                30,
                what="a quarter of the file to arrive",
            )
        except AssertionError as error:
            state = transfer_state(fay, "cancelled-20MB.bin", "out")
            raise AssertionError(f"{error}; transfer {state}; host: {host.lines[-10:]}") from None
        partial = [name for name in files_in(downloads) - before if name.endswith(".part")]
        assert len(partial) == 1, "the host writes into a hidden temporary file"
        fay.page.click('.transfer[data-direction="out"] button[data-action="cancel"]')
        line = host.wait_for_line(r"Fay \(peer \S+\) cancelled 'cancelled-20MB.bin'", after=mark)
    finally:
        subprocess.run(net.guest.command(["tc", "qdisc", "del", "dev", "pv1", "root"]), check=True)

    assert files_in(downloads) == before
    # Fay gave no reason, so the line names her and the file, with nothing after.
    assert line.endswith("cancelled 'cancelled-20MB.bin'.")
    state = wait_for_transfer(fay, "cancelled-20MB.bin", "out", "cancelled")
    assert state["status"] == "Cancelled."


HOSTILE_NAMES = ["../../etc/passwd", "a/b\\c", "\x01con.txt", "existing.txt", ".."]


def test_hostile_file_names_stay_inside(
    host: ShareProcess, browser: Any, guests: list[Guest], downloads: Path
) -> None:
    gus = enter(browser, host, "Gus", guests)
    existing = downloads / "existing.txt"
    existing.write_text("already here\n")
    passwd = downloads / "passwd"
    passwd.write_text("not the real one\n")
    before = files_in(downloads)
    outside = _neighbours(downloads)
    target(gus, "host")

    saved: dict[str, Path] = {}
    for index, name in enumerate(HOSTILE_NAMES):
        mark = host.mark()
        content = f"content {index}\n"
        gus.page.evaluate(
            """([name, content]) => {
              const transfer = new DataTransfer();
              transfer.items.add(new File([content], name));
              const zone = document.getElementById('drop-zone');
              zone.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true}));
            }""",
            [name, content],
        )
        host.wait_for_line(r"sends you ", after=mark)
        host.type("y")
        line = host.wait_for_line(r"Saved .* as (.+): \d+ bytes, SHA-256 verified", after=mark)
        path = Path(re.search(r" as (.+): \d+ bytes", line).group(1))  # type: ignore[union-attr]
        saved[name] = path
        assert path.parent == downloads, (name, path)
        assert path.read_text() == content, name

    assert saved["../../etc/passwd"].name == "passwd (1)"
    assert saved["a/b\\c"].name == "c"
    assert saved["\x01con.txt"].name == "_con.txt"
    assert saved["existing.txt"].name == "existing (1).txt"
    assert saved[".."].name == "file"
    assert existing.read_text() == "already here\n"
    assert passwd.read_text() == "not the real one\n"
    assert files_in(downloads) == before | {path.name for path in saved.values()}
    assert _neighbours(downloads) == outside
    assert Path("/etc/passwd").read_text() != "content 0\n"


def _neighbours(folder: Path) -> dict[Path, int]:
    """Return what lies beside `folder`, with modification times, to see that nothing changed."""
    return {
        path: path.stat().st_mtime_ns
        for path in folder.parent.iterdir()
        if path.resolve() != folder.resolve()
    }


def test_file_from_guest_to_guest(
    host: ShareProcess, browser: Any, guests: list[Guest], tmp_path: Path, downloads: Path
) -> None:
    hana = enter(browser, host, "Hana", guests)
    ivan = enter(browser, host, "Ivan", guests)
    source = tmp_path / "for-ivan.bin"
    expected = random_file(source, 3 * MB)
    before = files_in(downloads)
    mark = host.mark()

    target(hana, peer_id(ivan))
    hana.page.set_input_files("#file-input", str(source))
    ivan.page.wait_for_selector('.transfer[data-direction="in"] button[data-action="accept"]')
    assert "for-ivan.bin from Hana" in ivan.page.inner_text(".transfer[data-direction=in]")
    with ivan.page.expect_download(timeout=seconds(60) * 1000) as download_info:
        ivan.page.click('.transfer[data-direction="in"] button[data-action="accept"]')
    saved = tmp_path / "ivan-got.bin"
    download_info.value.save_as(saved)

    assert sha256(saved) == expected
    host.wait_for_line(r"Passed 'for-ivan.bin' \(3.0 MB\) from Hana .* to Ivan", after=mark)
    wait_for_transfer(hana, "for-ivan.bin", "out", "complete")
    # Passed on, not stored: the host's downloads folder did not change.
    assert files_in(downloads) == before


def test_file_to_everyone_from_page(
    host: ShareProcess, browser: Any, guests: list[Guest], tmp_path: Path
) -> None:
    """A file sent to everyone reaches the host and another guest with its hash intact."""
    jun = enter(browser, host, "Jun", guests)
    kai = enter(browser, host, "Kai", guests)
    source = tmp_path / "for-everyone.bin"
    expected = random_file(source, 6 * MB)
    mark = host.mark()

    target(jun, "all")
    jun.page.set_input_files("#file-input", str(source))
    host.wait_for_line(r"Jun \(peer \S+\) sends you 'for-everyone.bin'", after=mark)
    host.type("y")
    accept = (
        '.transfer[data-direction="in"][data-name="for-everyone.bin"] button[data-action="accept"]'
    )
    kai.page.wait_for_selector(accept)
    with kai.page.expect_download(timeout=seconds(60) * 1000) as download_info:
        kai.page.click(accept)
    saved = tmp_path / "kai-got.bin"
    download_info.value.save_as(saved)
    line = host.wait_for_line(r"Saved 'for-everyone.bin' from Jun .* as (.+): 6.0 MB", after=mark)
    saved_by_host = Path(line.split(" as ", 1)[1].rsplit(": 6.0 MB", 1)[0])

    assert sha256(saved) == expected
    assert sha256(saved_by_host) == expected
    sent = jun.page.evaluate(
        "() => [...document.querySelectorAll('.transfer[data-direction=\"out\"]')]"
        ".filter((t) => t.dataset.name === 'for-everyone.bin').length"
    )
    assert sent == 2
    for receiver in ("Host", "Kai"):
        copy = f'.transfer[data-direction="out"]:has-text("for-everyone.bin to {receiver}")'
        jun.page.wait_for_selector(f'{copy}[data-state="complete"]', timeout=seconds(30) * 1000)


# Sends a file offer of another protocol version on a channel of the page's
# own and returns the host's first reply.
OFFER_FROM_THE_FUTURE = """async () => {
  const pc = window.pairviewConnections.at(-1);
  const channel = pc.createDataChannel('file');
  await new Promise((resolve) => channel.addEventListener('open', resolve, {once: true}));
  const reply = new Promise(
    (resolve) => channel.addEventListener('message', (event) => resolve(event.data), {once: true}));
  channel.send(JSON.stringify({type: 'file-offer', version: 99, id: 'abcdefgh12', name: 'x',
                               size: 1, to: 'host'}));
  return JSON.parse(await reply);
}"""


def test_version_errors_are_explained(
    host: ShareProcess, browser: Any, guests: list[Guest]
) -> None:
    lee = enter(browser, host, "Lee", guests)
    mark = host.mark()

    reply = lee.page.evaluate(OFFER_FROM_THE_FUTURE)
    assert reply == {"type": "version-error", "expected": 1, "received": 99}
    host.wait_for_line(
        r"file offer rejected: the sender speaks file transfer version 99", after=mark
    )

    # A page that speaks another chat version shows that it must be reloaded.
    lee.page.evaluate(
        "() => window.pairviewChannels.filter((c) => c.label === 'chat').at(-1)"
        ".send(JSON.stringify({type: 'hello', version: 99}))"
    )
    host.wait_for_line(r"guest page speaks chat version 99, this host 1", after=mark)
    wait_for(
        lambda: (
            lee.page.evaluate("() => document.getElementById('problem').dataset.code")
            == "version-mismatch"
            or None
        ),
        10,
        what="the page to show that it is out of date",
    )
    assert lee.page.inner_text("#problem-title") == "Page out of date"
    assert host.process.poll() is None


TONE_GUEST = 440.0
TONE_HOST = 1000.0

# Records what the page plays for one participant, from the page's own audio
# elements, and returns the samples.
RECORD_VOICE = """async ([peerId, seconds]) => {
  const audio = [...document.querySelectorAll('audio.voice')]
    .find((a) => a.dataset.peerId === peerId);
  if (!audio || !audio.srcObject) return null;
  const context = new AudioContext({sampleRate: 48000});
  await context.resume();
  const analyser = context.createAnalyser();
  analyser.fftSize = 32768;
  context.createMediaStreamSource(audio.srcObject).connect(analyser);
  const samples = [];
  const chunk = new Float32Array(analyser.fftSize);
  for (let i = 0; i < seconds * 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    analyser.getFloatTimeDomainData(chunk);
    samples.push(...chunk.subarray(chunk.length - 24000));
  }
  await context.close();
  return samples;
}"""


def test_voices_reach_host_and_guests(
    net: Lan, display: Display, playwright: Any, tmp_path: Path
) -> None:
    tone = write_tone(tmp_path / "guest-tone.wav", TONE_GUEST, 10)
    host_tone = write_tone(tmp_path / "host-tone.wav", TONE_HOST, 10, pulsed=False)
    with (
        pulseaudio(tmp_path / "pulse", ["speakers", "hostmic"]) as pulse,
        share(
            net,
            display.name,
            tmp_path / "share",
            "--microphone",
            "hostmic.monitor",
            env=pulse.environment(),
        ) as host,
        playing(pulse, "hostmic", host_tone),
    ):
        wrapper = chromium_wrapper(net, tmp_path)
        media = [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={tone}",
            "--autoplay-policy=no-user-gesture-required",
        ]
        browser = playwright.chromium.launch(
            executable_path=str(wrapper), args=[*CHROMIUM_FLAGS, *media]
        )
        joined: list[Guest] = []
        try:
            jo = enter(browser, host, "Jo", joined)
            kim = enter(browser, host, "Kim", joined)
            jo.page.click("#mic-button")
            wait_for(
                lambda: jo.page.inner_text("#mic-status") == "Others hear you." or None,
                15,
                what="Jo's microphone to be on",
            )
            jo_id = peer_id(jo)

            # The host hears Jo: its speakers' monitor carries the tone.
            def host_hears() -> list[float] | None:
                peaks = spectrum_peaks(record(pulse, "speakers.monitor", 1.5))
                return peaks if peaks and abs(peaks[0] - TONE_GUEST) < 15 else None

            wait_for(host_hears, 30, what="Jo's tone on the host's speakers")

            # Kim hears Jo, passed on by the host, and the host's own microphone.
            def kim_hears(peer: str, frequency: float) -> list[float] | None:
                samples = kim.page.evaluate(RECORD_VOICE, [peer, 1])
                peaks = spectrum_peaks(samples or [])
                return peaks if peaks and abs(peaks[0] - frequency) < 15 else None

            wait_for(lambda: kim_hears(jo_id, TONE_GUEST), 30, what="Jo's tone on Kim's page")
            wait_for(lambda: kim_hears("host", TONE_HOST), 30, what="the host's tone on Kim's page")
            wait_for(
                lambda: (
                    kim.page.evaluate(
                        "(id) => document.querySelector(`#participants li[data-peer-id='${id}']`)"
                        "?.dataset.speaking === 'yes'",
                        jo_id,
                    )
                    or None
                ),
                15,
                what="Jo's speaking indicator on Kim's page",
            )

            # Muted, Jo falls silent for everyone.
            jo.page.click("#mic-button")
            assert jo.page.inner_text("#mic-status") == "Your microphone is muted."

            def host_silent() -> bool:
                peaks = spectrum_peaks(record(pulse, "speakers.monitor", 1.0))
                return not any(abs(peak - TONE_GUEST) < 15 for peak in peaks)

            wait_for(host_silent, 15, what="silence from Jo on the host after muting")
        finally:
            for guest in joined:
                guest.close()
            browser.close()
    assert "Traceback" not in "\n".join(host.lines)


FILL_TRANSFERS = """(count) => {
  const list = document.getElementById('transfers');
  for (let i = 0; i < count; i++) {
    const item = document.createElement('li');
    item.className = 'transfer';
    item.innerHTML = '<div class="transfer-title">a-long-file-name-' + i + '.bin to Host</div>'
      + '<progress max="1" value="1"></progress>'
      + '<div class="transfer-status">Sent 20.0 MB; the receiver checked its SHA-256.</div>';
    list.append(item);
  }
}"""
BOXES = """() => Object.fromEntries(['people-title', 'files-title', 'transfers', 'chat-input']
  .map((id) => [id, document.getElementById(id).getBoundingClientRect().toJSON()]))"""


@pytest.mark.parametrize("size", [(1280, 800), (1000, 600)])
def test_transfer_list_scrolls_chat_stays(
    host: ShareProcess, browser: Any, guests: list[Guest], size: tuple[int, int]
) -> None:
    guest = enter(browser, host, f"Lists{size[1]}", guests)
    guest.page.set_viewport_size({"width": size[0], "height": size[1]})
    guest.page.evaluate(FILL_TRANSFERS, 20)
    boxes = guest.page.evaluate(BOXES)
    status_bar = guest.page.evaluate(
        "() => document.getElementById('status-bar').getBoundingClientRect().top"
    )
    chat, transfers = boxes["chat-input"], boxes["transfers"]
    # The chat's input stays whole above the status bar; the list scrolls instead.
    assert chat["height"] > 0
    assert chat["bottom"] <= status_bar, boxes
    assert transfers["bottom"] <= chat["top"], boxes
    assert guest.page.evaluate(
        "() => { const l = document.getElementById('transfers'); "
        "return l.scrollHeight > l.clientHeight; }"
    )
    # The people section keeps its height and does not overlap the Files heading.
    people_bottom = guest.page.evaluate(
        "() => document.querySelector('.panel-section.people').scrollHeight"
        " + document.querySelector('.panel-section.people').getBoundingClientRect().top"
    )
    assert people_bottom <= boxes["files-title"]["top"] + 1, boxes
    # A tall window shows more of the list than a fixed 12rem (192 px).
    if size[1] >= 800:
        assert transfers["height"] > 12 * 16, boxes


# Whether the element that `selector` finds lies within the visible box of the list `id`.
SHOWN_IN_LIST = """([selector, id]) => {
  const element = document.querySelector(selector);
  if (element === null) return false;
  const box = element.getBoundingClientRect();
  const list = document.getElementById(id).getBoundingClientRect();
  return box.height > 0 && box.top >= list.top - 1 && box.bottom <= list.bottom + 1;
}"""


def test_new_offer_and_message_in_view(
    host: ShareProcess, browser: Any, guests: list[Guest], tmp_path: Path
) -> None:
    """In a short window, a new offer and a new message show without scrolling by hand."""
    guest = enter(browser, host, "Short", guests)
    guest.page.set_viewport_size({"width": 1000, "height": 600})
    for number in range(1, 9):
        host.type(f"line {number} before the files")
    wait_for_message(guest, "line 8 before the files")

    # The transfer list grows, which shortens the chat, and the guest scrolls
    # the list down to its oldest entries.
    guest.page.evaluate(FILL_TRANSFERS, 10)
    guest.page.evaluate(
        "() => { const l = document.getElementById('transfers'); l.scrollTop = l.scrollHeight; }"
    )

    host.type("a line after the files")
    wait_for_message(guest, "a line after the files")
    last = "#messages .chat-message:last-child"
    assert guest.page.evaluate(SHOWN_IN_LIST, [last, "messages"])

    offered = tmp_path / "offered.txt"
    offered.write_text("an offer to answer\n")
    host.type(f"/send {offered} Short")
    accept = '.transfer[data-name="offered.txt"] button[data-action="accept"]'
    guest.page.wait_for_selector(accept)
    assert guest.page.evaluate(SHOWN_IN_LIST, [accept, "transfers"])
    guest.page.click('.transfer[data-name="offered.txt"] button[data-action="decline"]')
    declined = wait_for_transfer(guest, "offered.txt", "in", "declined")
    assert declined["status"] == "You declined the file."
    assert not guest.page.is_visible('.transfer[data-name="offered.txt"] progress')
