"""Ask the browser to show each frame as soon as it is decoded.

Chromium holds received video in a jitter buffer whose target grows with
the size of the largest frames; after a 1080p keyframe it held frames for
35 to 65 ms (bench/glass_to_glass.py). WebRTC's playout-delay RTP header
extension lets the sender ask for no smoothing at all: with a minimum and
maximum delay of zero, Chromium decodes and renders every frame at once,
as remote desktop tools want.

aiortc 1.16 neither offers nor writes this extension. So the offer gets an
extmap line for it, and when the guest's answer accepts it, every video
RTP packet gets the extension element before encryption.
"""

from __future__ import annotations

import re
import struct

PLAYOUT_DELAY_URI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
# Minimum and maximum delay of zero, each 12 bits in units of 10 ms.
ZERO_DELAY = b"\x00\x00\x00"
ONE_BYTE_PROFILE = 0xBEDE
RTP_HEADER_SIZE = 12

_EXTMAP = re.compile(r"^a=extmap:(\d+)(?:/\w+)? (\S+)", re.MULTILINE)


def offer_playout_delay(sdp: str) -> str:
    """Return the offer with the playout-delay extension in every video section.

    The extension takes the lowest one-byte id (1 to 14) no section uses.
    """
    used = {int(match.group(1)) for match in _EXTMAP.finditer(sdp)}
    free = [number for number in range(1, 15) if number not in used]
    if not free:
        return sdp
    line = f"a=extmap:{free[0]} {PLAYOUT_DELAY_URI}"
    newline = "\r\n" if "\r\n" in sdp else "\n"
    sections = re.split(r"(?=^m=)", sdp, flags=re.MULTILINE)
    for index, section in enumerate(sections):
        if section.startswith("m=video") and PLAYOUT_DELAY_URI not in section:
            sections[index] = section.rstrip("\r\n") + newline + line + newline
    return "".join(sections)


def accepted_extension_id(answer: str) -> int | None:
    """Return the id the answer gives the playout-delay extension, or None if it declined it."""
    for match in _EXTMAP.finditer(answer):
        if match.group(2) == PLAYOUT_DELAY_URI:
            number = int(match.group(1))
            return number if 1 <= number <= 14 else None
    return None


def add_extension(packet: bytes, extension_id: int, value: bytes = ZERO_DELAY) -> bytes:
    """Return an RTP packet with a one-byte header extension element added.

    An element of three bytes takes exactly one 32-bit word: its header
    byte and the value. It goes first in the extension block, ahead of the
    elements aiortc wrote, so their padding stays at the end.
    """
    if len(value) != 3:
        raise ValueError(f"expected a 3-byte extension value, got {len(value)} bytes")
    if len(packet) < RTP_HEADER_SIZE:
        return packet
    first = packet[0]
    header_end = RTP_HEADER_SIZE + 4 * (first & 0x0F)
    element = bytes([(extension_id << 4) | (len(value) - 1)]) + value
    if first & 0x10:
        profile, words = struct.unpack_from("!HH", packet, header_end)
        if profile != ONE_BYTE_PROFILE:
            return packet
        return (
            packet[:header_end]
            + struct.pack("!HH", profile, words + 1)
            + element
            + packet[header_end + 4 :]
        )
    return (
        bytes([first | 0x10])
        + packet[1:header_end]
        + struct.pack("!HH", ONE_BYTE_PROFILE, 1)
        + element
        + packet[header_end:]
    )
