"""The page's short authentication string against the host's, in headless Chromium."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pairview.protocol.sas import sha256_fingerprint, short_authentication_string
from tests.support.browser import offline_page

pytestmark = pytest.mark.e2e

SAS_JS = Path(__file__).parents[2] / "src/pairview/web/static/js/sas.js"

# The page's own offer, so that the page reads a fingerprint that Chromium wrote.
OWN_OFFER = """async () => {
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.createDataChannel("probe");
  const offer = await pc.createOffer();
  pc.close();
  return offer.sdp;
}"""


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    with offline_page() as opened:
        # Web Crypto needs a secure context, and a loopback origin is one.
        # The route fulfills the request in place of a server, so nothing is sent.
        opened.route(
            "http://127.0.0.1/",
            lambda route: route.fulfill(content_type="text/html", body="<!doctype html>"),
        )
        opened.goto("http://127.0.0.1/")
        source = SAS_JS.read_text(encoding="utf-8").replace("export ", "")
        opened.add_script_tag(
            content=source + "\nwindow.sas = { sha256Fingerprint, shortAuthenticationString };"
        )
        yield opened


def random_fingerprint() -> str:
    return ":".join(f"{byte:02X}" for byte in secrets.token_bytes(32))


@pytest.mark.parametrize("case", range(20))
def test_page_and_host_same_code(page: Any, case: int) -> None:
    host, guest = random_fingerprint(), random_fingerprint()
    if case % 2:
        guest = guest.lower()
    code = page.evaluate("([h, g]) => window.sas.shortAuthenticationString(h, g)", [host, guest])
    assert code == short_authentication_string(host, guest)


def test_same_fingerprint_from_chromium_sdp(page: Any) -> None:
    sdp = page.evaluate(OWN_OFFER)
    from_page = page.evaluate("(sdp) => window.sas.sha256Fingerprint(sdp)", sdp)
    assert from_page is not None
    assert from_page == sha256_fingerprint(sdp)
