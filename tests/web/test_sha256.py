"""The page's incremental SHA-256 against hashlib, in headless Chromium with no network."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import offline_page

pytestmark = pytest.mark.e2e

SHA256_JS = Path(__file__).parents[2] / "src/pairview/web/static/js/sha256.js"

# Hashes `size` bytes of the pattern (i * 7 + 3) mod 256, fed in pieces of `piece` bytes.
HASH_IN_PIECES = """([size, piece]) => {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7 + 3) & 255;
  const hash = new Sha256();
  for (let start = 0; start < size; start += piece) {
    hash.update(data.subarray(start, start + piece));
  }
  return hash.hex();
}"""


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    with offline_page() as opened:
        source = re.sub(r"^export ", "", SHA256_JS.read_text(encoding="utf-8"), flags=re.MULTILINE)
        opened.add_script_tag(content=source + "\nwindow.Sha256 = Sha256;")
        yield opened


@pytest.mark.parametrize(
    ("size", "piece"),
    [(0, 1), (3, 3), (55, 55), (56, 56), (63, 7), (64, 64), (65, 13), (1000, 1), (200_003, 65536)],
)
def test_matches_hashlib(page: Any, size: int, piece: int) -> None:
    data = bytes((i * 7 + 3) & 255 for i in range(size))
    assert page.evaluate(HASH_IN_PIECES, [size, piece]) == hashlib.sha256(data).hexdigest()
