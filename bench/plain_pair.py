"""One end of a plain aiortc pair, the reference for the network benchmark.

The offerer sends aiortc's synthetic video track; the answerer prints the
seconds from receiving the offer to its first decoded frame. The SDP goes
through standard input and output as one JSON line each way, so the
benchmark can run each end in its own namespace.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack, VideoStreamTrack

from pairview.server.ice import turn_credentials


async def read_line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def main(role: str, relay: str, secret: str) -> None:
    username, credential, _ = turn_credentials(secret, role, 600, time.time())
    servers = [
        RTCIceServer(urls=f"stun:{relay}:3478"),
        RTCIceServer(
            urls=f"turn:{relay}:3478?transport=udp", username=username, credential=credential
        ),
    ]
    pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
    first_frame = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()

    if role == "offer":
        pc.addTrack(VideoStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        print(json.dumps(pc.localDescription.sdp), flush=True)
        answer = json.loads(await read_line())
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        await read_line()  # the answerer's result, or end of input
    else:
        offer = json.loads(await read_line())
        started = time.monotonic()

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            async def first() -> None:
                await track.recv()
                first_frame.set()

            task = asyncio.ensure_future(first())
            tasks.add(task)

        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        print(json.dumps(pc.localDescription.sdp), flush=True)
        await asyncio.wait_for(first_frame.wait(), 60)
        print(json.dumps({"first_frame": time.monotonic() - started}), flush=True)
    await pc.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
