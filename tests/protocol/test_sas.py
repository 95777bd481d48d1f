"""The short authentication string: fingerprints taken from real SDP, and the code's shape."""

from __future__ import annotations

import re

from aiortc import RTCConfiguration, RTCPeerConnection

from pairview.protocol.sas import (
    connection_code,
    keep_sha256_fingerprint,
    sha256_fingerprint,
    short_authentication_string,
)

HOST = "AA:" * 31 + "AA"
GUEST = "BB:" * 31 + "BB"


async def test_fingerprint_from_aiortc_offer() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.createDataChannel("probe")
        await pc.setLocalDescription(await pc.createOffer())
        assert pc.sctp is not None
        expected = next(
            fingerprint.value
            for fingerprint in pc.sctp.transport.getLocalParameters().fingerprints
            if fingerprint.algorithm == "sha-256"
        )
        assert sha256_fingerprint(pc.localDescription.sdp) == expected.upper()
    finally:
        await pc.close()


def test_fingerprint_sha256_only_any_case() -> None:
    sdp = (
        "v=0\r\n"
        "a=fingerprint:sha-512 " + "CC:" * 63 + "CC\r\n"
        "a=fingerprint:sha-256 " + HOST.lower() + "\r\n"
    )
    assert sha256_fingerprint(sdp) == HOST
    assert sha256_fingerprint("v=0\r\na=fingerprint:sha-1 AB:CD\r\n") is None


def test_code_is_six_digits_in_two_groups() -> None:
    code = short_authentication_string(HOST, GUEST)
    assert re.fullmatch(r"\d{3} \d{3}", code), code


def test_code_depends_on_both_fingerprints_and_their_order() -> None:
    code = short_authentication_string(HOST, GUEST)
    assert short_authentication_string(HOST.lower(), GUEST.lower()) == code
    assert short_authentication_string(GUEST, HOST) != code
    other = "AA:" * 31 + "AB"
    assert short_authentication_string(other, GUEST) != code
    assert short_authentication_string(HOST, other) != code


def test_both_ends_get_same_code() -> None:
    host_sdp = f"a=fingerprint:sha-256 {HOST}\r\n"
    guest_sdp = f"a=fingerprint:sha-256 {GUEST}\r\n"
    at_host = connection_code(host_sdp, guest_sdp, local_is_host=True)
    at_guest = connection_code(guest_sdp, host_sdp, local_is_host=False)
    assert at_host is not None
    assert at_host == at_guest == short_authentication_string(HOST, GUEST)


def test_no_code_without_a_fingerprint() -> None:
    assert (
        connection_code("v=0\r\n", f"a=fingerprint:sha-256 {GUEST}\r\n", local_is_host=True) is None
    )


async def test_offer_keeps_only_the_sha256_fingerprint() -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.createDataChannel("probe")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        assert "a=fingerprint:sha-512 " in sdp, "aiortc offers more than one fingerprint"

        kept = keep_sha256_fingerprint(sdp)
        fingerprints = [line for line in kept.splitlines() if line.startswith("a=fingerprint:")]
        assert fingerprints
        assert all(line.startswith("a=fingerprint:sha-256 ") for line in fingerprints)
        assert sha256_fingerprint(kept) == sha256_fingerprint(sdp)
        other_lines = [line for line in sdp.splitlines() if not line.startswith("a=fingerprint:")]
        assert [line for line in kept.splitlines() if not line.startswith("a=fingerprint:")] == (
            other_lines
        )
        assert kept.endswith("\r\n")
    finally:
        await pc.close()


def test_description_without_sha256_is_left_alone() -> None:
    sdp = "v=0\r\na=fingerprint:sha-512 " + "CC:" * 63 + "CC\r\n"
    assert keep_sha256_fingerprint(sdp) == sdp
