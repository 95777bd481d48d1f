"""The playout-delay header extension: offered in SDP and written into RTP packets."""

from __future__ import annotations

import struct

import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket, unpack_header_extensions

from pairview.host.playout import (
    PLAYOUT_DELAY_URI,
    ZERO_DELAY,
    accepted_extension_id,
    add_extension,
    offer_playout_delay,
)

OFFER = "\r\n".join(
    [
        "v=0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
        "m=video 9 UDP/TLS/RTP/SAVPF 97",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "",
    ]
)


def test_offer_gets_free_id_in_video_section_only() -> None:
    offer = offer_playout_delay(OFFER)

    sections = offer.split("m=")
    assert f"a=extmap:3 {PLAYOUT_DELAY_URI}\r\n" in sections[2]
    assert PLAYOUT_DELAY_URI not in sections[1]
    assert PLAYOUT_DELAY_URI not in sections[3]
    assert offer.count(PLAYOUT_DELAY_URI) == 1


def test_offer_unchanged_when_ids_run_out() -> None:
    crowded = OFFER + "".join(f"a=extmap:{n} urn:example:{n}\r\n" for n in range(3, 15))

    assert offer_playout_delay(crowded) == crowded


def test_answer_id_found_or_none() -> None:
    accepted = "m=video 9 UDP/TLS/RTP/SAVPF 97\r\na=extmap:5 " + PLAYOUT_DELAY_URI + "\r\n"

    assert accepted_extension_id(accepted) == 5
    assert accepted_extension_id(OFFER) is None


def serialized_packet(with_extensions: bool) -> tuple[bytes, HeaderExtensionsMap]:
    extensions = HeaderExtensionsMap()
    if with_extensions:
        extensions.configure(
            RTCRtpParameters(
                headerExtensions=[
                    RTCRtpHeaderExtensionParameters(
                        id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"
                    ),
                    RTCRtpHeaderExtensionParameters(
                        id=2, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
                    ),
                ]
            )
        )
    packet = RtpPacket(
        payload_type=97, sequence_number=7, timestamp=9000, ssrc=1234, payload=b"frame"
    )
    packet.extensions.mid = "0"
    packet.extensions.abs_send_time = 0x123456
    return packet.serialize(extensions), extensions


@pytest.mark.parametrize("with_extensions", [True, False], ids=["beside-others", "alone"])
def test_extension_added_and_rest_intact(with_extensions: bool) -> None:
    data, extensions = serialized_packet(with_extensions)

    marked = add_extension(data, 4)
    parsed = RtpPacket.parse(marked, extensions)
    profile, words = struct.unpack_from("!HH", marked, 12)
    elements = dict(unpack_header_extensions(profile, marked[16 : 16 + 4 * words]))

    assert elements[4] == ZERO_DELAY
    assert parsed.payload == b"frame"
    assert (parsed.sequence_number, parsed.timestamp, parsed.ssrc) == (7, 9000, 1234)
    if with_extensions:
        assert parsed.extensions.mid == "0"
        assert parsed.extensions.abs_send_time == 0x123456


def test_short_packet_left_alone() -> None:
    assert add_extension(b"\x80\x61", 4) == b"\x80\x61"


def test_bad_value_rejected() -> None:
    data, _ = serialized_packet(True)

    with pytest.raises(ValueError, match="3-byte"):
        add_extension(data, 4, b"\x00")
