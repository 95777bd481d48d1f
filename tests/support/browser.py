"""Headless Chromium inside a network namespace, and helpers to read the guest page.

Playwright talks to Chromium over a pipe, so the browser itself can run in
the guest namespace through a small wrapper script while the test stays in
the root namespace. The Debian package's Chromium is used; Playwright never
downloads a browser here.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np

from tests.support.netns import Namespace
from tests.support.timing import seconds, wait_for

CHROMIUM = "/usr/bin/chromium"

# No background requests to Google services, and no sandbox because tests run as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--metrics-recording-only",
]


@contextlib.contextmanager
def offline_page() -> Iterator[Any]:
    """Yield a page of headless Chromium that resolves no host name, for tests of page code."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP * ~NOTFOUND"],
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


# The page's scripts, served to pages of `module_page` under /static/.
STATIC = Path(__file__).parents[2] / "src/pairview/web/static"


@contextlib.contextmanager
def module_page(origin: str, html: str) -> Iterator[Any]:
    """Yield an offline page that shows `html` at `origin` and may import the page's modules.

    Playwright fulfils every request to `origin` itself: the document at "/",
    the repository's scripts under "/static/", and "not found" for the rest,
    so no request leaves the browser. The page sets `window.ready` when its
    own script has run.
    """

    def answer(route: Any) -> None:
        path = route.request.url.removeprefix(origin)
        if path == "/":
            route.fulfill(body=html, content_type="text/html")
            return
        file = (STATIC / path.removeprefix("/static/")).resolve()
        if not path.startswith("/static/") or not file.is_file() or STATIC not in file.parents:
            route.fulfill(status=404, body=f"no such file: {path}")
            return
        route.fulfill(body=file.read_bytes(), content_type="text/javascript")

    with offline_page() as opened:
        opened.route(f"{origin}/**", answer)
        opened.goto(f"{origin}/")
        opened.wait_for_function("window.ready === true")
        yield opened


# Colour distance, per channel, within which a decoded video pixel matches the
# colour drawn on the host: VP8 at 4:2:0 moves flat colours by a few units.
COLOUR_TOLERANCE = 24

# Points inside each quadrant, as fractions of the frame, away from the edges
# where the encoder blurs one colour into the next.
SAMPLE_POINTS: dict[str, list[tuple[float, float]]] = {
    "top left": [(0.05, 0.08), (0.25, 0.25), (0.45, 0.42)],
    "top right": [(0.55, 0.08), (0.75, 0.25), (0.95, 0.42)],
    "bottom left": [(0.05, 0.58), (0.25, 0.75), (0.45, 0.92)],
    "bottom right": [(0.55, 0.58), (0.75, 0.75), (0.95, 0.92)],
}

Colour = tuple[int, int, int]


def chromium_wrapper(namespace: Namespace, directory: Path) -> Path:
    """Write a script that starts Chromium inside `namespace`; return its path."""
    path = directory / f"chromium-in-{namespace.name}"
    path.write_text(
        "#!/bin/sh\n"
        "# Start Chromium inside the test's network namespace, with Playwright's arguments.\n"
        f'exec ip netns exec {namespace.name} {CHROMIUM} "$@"\n',
        encoding="ascii",
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def launch_options(wrapper: Path, servers: Sequence[str]) -> dict[str, Any]:
    """Return keyword arguments for Playwright's `chromium.launch`.

    Chromium reaches only the addresses in `servers`. Despite the flags above
    it looks up accounts.google.com and update.googleapis.com at start-up, so
    every other name and address resolves to nothing and no DNS query leaves.
    """
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(
            f"{CHROMIUM} is missing; scripts/setup --dev installs the chromium package"
        )
    return {"executable_path": str(wrapper), "args": reaching_only(servers), "headless": True}


def reaching_only(servers: Sequence[str]) -> list[str]:
    """Return Chromium's arguments for a browser that reaches only the addresses in `servers`.

    Every other name resolves to nothing inside Chromium, so no DNS query
    leaves, not even for the Google services it contacts at start-up.
    """
    resolver_rules = ", ".join(["MAP * ~NOTFOUND", *(f"EXCLUDE {host}" for host in servers)])
    return [*CHROMIUM_ARGS, f"--host-resolver-rules={resolver_rules}"]


# JavaScript run in the page: draw the current video frame into a canvas and
# read the pixels at the given fractions of its size.
_READ_PIXELS = """(points) => {
  const video = document.getElementById("screen");
  if (!video || !video.videoWidth || !video.videoHeight) return null;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(video, 0, 0);
  const pixels = points.map(([x, y]) => {
    const data = context.getImageData(
      Math.min(canvas.width - 1, Math.floor(x * canvas.width)),
      Math.min(canvas.height - 1, Math.floor(y * canvas.height)), 1, 1).data;
    return [data[0], data[1], data[2]];
  });
  return { width: video.videoWidth, height: video.videoHeight, pixels };
}"""


def body_data(page: Any) -> dict[str, str]:
    """Return the page's `document.body.dataset`: state, connectionState, signaling, peerId."""
    data: dict[str, str] = page.evaluate("() => ({ ...document.body.dataset })")
    return data


def problem_code(page: Any) -> str | None:
    """Return the `data-code` of the page's visible problem card, or None."""
    code: str | None = page.evaluate(
        """() => {
          const problem = document.getElementById("problem");
          return problem && !problem.hidden ? problem.dataset.code ?? null : null;
        }"""
    )
    return code


def wait_for_state(page: Any, state: str, timeout: float = 30) -> dict[str, str]:
    """Wait until the page's body has `data-state` equal to `state`; return the dataset."""

    def reached() -> dict[str, str] | None:
        data = body_data(page)
        return data if data.get("state") == state else None

    return wait_for(
        reached,
        timeout,
        interval=0.2,
        what=f"the guest page to reach state {state!r}",
    )


def join(page: Any, link: str, name: str) -> None:
    """Open the guest link, enter `name` and join the room."""
    page.goto(link, timeout=seconds(30) * 1000)
    page.fill("#name-input", name, timeout=seconds(15) * 1000)
    page.click("button[type=submit]", timeout=seconds(15) * 1000)


def video_frame(page: Any) -> tuple[int, int, dict[str, list[Colour]]]:
    """Return the video's width, height and the colours at each quadrant's sample points."""
    points = [point for quadrant_points in SAMPLE_POINTS.values() for point in quadrant_points]
    frame = page.evaluate(_READ_PIXELS, points)
    if frame is None:
        raise AssertionError("the guest page's video has no frame yet")
    colours: dict[str, list[Colour]] = {}
    index = 0
    for quadrant, quadrant_points in SAMPLE_POINTS.items():
        colours[quadrant] = [tuple(frame["pixels"][index + i]) for i in range(len(quadrant_points))]
        index += len(quadrant_points)
    return frame["width"], frame["height"], colours


def colour_matches(
    actual: Sequence[int], expected: Colour, tolerance: int = COLOUR_TOLERANCE
) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def mismatched_quadrants(
    seen: dict[str, list[Colour]], expected: dict[str, Colour]
) -> dict[str, list[Colour]]:
    """Return the quadrants where some sample point is not the expected colour."""
    return {
        quadrant: points
        for quadrant, points in seen.items()
        if not all(colour_matches(point, expected[quadrant]) for point in points)
    }


def wait_for_colours(page: Any, expected: dict[str, Colour], timeout: float = 20) -> None:
    """Wait until every quadrant of the page's video shows its expected colour."""
    last: dict[str, list[Colour]] = {}

    def matches() -> bool:
        nonlocal last
        try:
            _, _, seen = video_frame(page)
        except AssertionError:
            return False
        last = mismatched_quadrants(seen, expected)
        return not last

    try:
        wait_for(matches, timeout, interval=0.2, what="the expected quadrant colours")
    except AssertionError:
        wanted = {quadrant: expected[quadrant] for quadrant in last}
        raise AssertionError(
            f"the guest's video shows {last} where the host drew {wanted}"
        ) from None


def screenshot_pixels(page: Any) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Return a screenshot of the page as an array of RGB rows (height, width, 3)."""
    return png_pixels(page.screenshot(type="png"))


def png_pixels(png: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """Decode a PNG image into an array of RGB rows (height, width, 3)."""
    with av.open(io.BytesIO(png), mode="r", format="png_pipe") as container:
        frame = next(container.decode(video=0))
        return np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)


def websocket_frames(page: Any, direction: str = "received") -> list[str]:
    """Collect the text of every WebSocket frame the page receives (or sends) from now on."""
    frames: list[str] = []

    def on_websocket(socket: Any) -> None:
        socket.on(
            f"frame{direction}",
            lambda payload: frames.append(
                payload if isinstance(payload, str) else base64.b64encode(payload).decode()
            ),
        )

    page.on("websocket", on_websocket)
    return frames
