"""coturn for tests, and a small TURN client that tries to reach peers through it.

`coturn()` writes the configuration that `pairview turn-config` produces,
adds the test's own listening and relay addresses, log, pid and user
database paths, starts `turnserver` inside a namespace and stops it by its
pid.

Run as a program inside a namespace, this module is either a UDP
listener that echoes and reports what it receives, or a TURN client that
allocates, asks for permissions and sends to a list of peers:

    python -m tests.support.turn listen 127.0.0.1:5000 10.0.0.1:5000
    python -m tests.support.turn probe --server 198.51.100.1:3478 --secret S \\
        --family 4 198.51.100.20:5000 127.0.0.1:5000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pairview.cli import main as pairview_main
from tests.support.timing import seconds, wait_for
from tests.support.topology import Node

TURN_PORT = 3478
REQUESTED_ADDRESS_FAMILY = 0x0017


def turn_config_text(secret: str, realm: str, extra_args: Sequence[str], workdir: Path) -> str:
    """Run `pairview turn-config` as an operator would and return the file it wrote."""
    output = workdir / "turnserver.conf"
    previous = os.environ.get("PAIRVIEW_TURN_SECRET")
    os.environ["PAIRVIEW_TURN_SECRET"] = secret
    try:
        code = pairview_main(
            ["turn-config", "--output", str(output), "--realm", realm, *extra_args]
        )
    finally:
        if previous is None:
            del os.environ["PAIRVIEW_TURN_SECRET"]
        else:
            os.environ["PAIRVIEW_TURN_SECRET"] = previous
    assert code == 0, "pairview turn-config failed"
    return output.read_text()


def free_port() -> int:
    """A port that is free for both UDP and TCP on loopback right now."""
    for _ in range(50):
        with (
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
        ):
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            try:
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("found no port free for both UDP and TCP in 50 attempts")


@contextlib.contextmanager
def coturn(
    node: Node | None,
    workdir: Path,
    secret: str,
    addresses: Sequence[str],
    extra_args: Sequence[str] = (),
    port: int = TURN_PORT,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run coturn from `pairview turn-config` in `node` (None: this namespace, on loopback)."""
    workdir.mkdir(parents=True, exist_ok=True)
    ip_args = [arg for address in addresses for arg in ("--listening-ip", address)]
    ip_args += [arg for address in addresses for arg in ("--relay-ip", address)]
    ip_args += ["--port", str(port)]
    text = turn_config_text(secret, "pairview.test", [*ip_args, *extra_args], workdir)
    log = workdir / "turnserver.log"
    # Paths of the test's own, so nothing is written outside its directory.
    text += f"userdb={workdir / 'turndb'}\npidfile={workdir / 'turnserver.pid'}\n"
    text += f"log-file={log}\nsimple-log\nverbose\n"
    config = workdir / "turnserver.conf"
    config.write_text(text)

    argv = ["turnserver", "-c", str(config), "--no-stdout-log"]
    process = subprocess.Popen(
        node.command(argv) if node is not None else argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: process.poll() is not None or _listening(node, port),
            timeout=15,
            what="coturn to listen",
        )
        if process.poll() is not None:
            raise RuntimeError(f"turnserver exited with {process.returncode}; see {log}")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=seconds(5))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _listening(node: Node | None, port: int) -> bool:
    argv = ["ss", "-Hlun", f"sport = :{port}"]
    result = subprocess.run(
        node.command(argv) if node is not None else argv,
        capture_output=True,
        text=True,
        check=False,
    )
    return bool(result.stdout.strip())


def turn_credential(secret: str, user: str, ttl: float) -> tuple[str, str]:
    username = f"{int(time.time() + ttl)}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def parse_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


# The programs run inside namespaces.


async def listen(addresses: list[str]) -> None:
    """Echo every datagram back and report it as a JSON line."""
    loop = asyncio.get_running_loop()

    class Echo(asyncio.DatagramProtocol):
        def __init__(self, name: str) -> None:
            self.name = name
            self.transport: Any = None

        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            print(
                json.dumps({"listener": self.name, "from": addr[0], "data": data.hex()}), flush=True
            )
            self.transport.sendto(data, addr)

    for text in addresses:
        host, port = parse_address(text)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        await loop.create_datagram_endpoint(
            functools.partial(Echo, text), local_addr=(host, port), family=family
        )
    print(json.dumps({"ready": True}), flush=True)
    await asyncio.Event().wait()


async def probe(
    server: tuple[str, int], secret: str, family: int, peers: list[str]
) -> dict[str, Any]:
    """Allocate, then try CreatePermission and Send to each peer; collect echoes."""
    from aioice import stun
    from aioice.turn import UDP_TRANSPORT, TurnClientUdpProtocol

    entry = (
        REQUESTED_ADDRESS_FAMILY,
        "REQUESTED-ADDRESS-FAMILY",
        stun.pack_unsigned,
        stun.unpack_unsigned,
    )
    stun.ATTRIBUTES_BY_TYPE[REQUESTED_ADDRESS_FAMILY] = entry
    stun.ATTRIBUTES_BY_NAME["REQUESTED-ADDRESS-FAMILY"] = entry

    username, password = turn_credential(secret, "probe", 600)
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: TurnClientUdpProtocol(server, username, password, 600, 500), remote_addr=server
    )
    echoes: list[str] = []

    class Receiver(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            echoes.append(f"{addr[0]}:{addr[1]}")

    protocol.receiver = Receiver()
    allocate = stun.Message(message_method=stun.Method.ALLOCATE, message_class=stun.Class.REQUEST)
    allocate.attributes["LIFETIME"] = 600
    allocate.attributes["REQUESTED-TRANSPORT"] = UDP_TRANSPORT
    allocate.attributes["REQUESTED-ADDRESS-FAMILY"] = (1 if family == 4 else 2) << 24
    response, _ = await protocol.request_with_retry(allocate)
    relayed = response.attributes["XOR-RELAYED-ADDRESS"]

    permissions: dict[str, int] = {}
    for text in peers:
        peer = parse_address(text)
        request = stun.Message(
            message_method=stun.Method.CREATE_PERMISSION, message_class=stun.Class.REQUEST
        )
        request.attributes["XOR-PEER-ADDRESS"] = peer
        try:
            await protocol.request_with_retry(request)
            permissions[text] = 0
        except stun.TransactionFailed as error:
            permissions[text] = error.response.attributes["ERROR-CODE"][0]

        # Send regardless of the answer: the relay must drop it for a denied peer.
        indication = stun.Message(
            message_method=stun.Method.SEND, message_class=stun.Class.INDICATION
        )
        indication.attributes["XOR-PEER-ADDRESS"] = peer
        indication.attributes["DATA"] = b"pairview-probe"
        protocol.send_stun(indication, server)

        # A channel carries the echo back; binding one is refused like a permission.
        if permissions[text] == 0:
            with contextlib.suppress(stun.TransactionFailed, ConnectionError):
                await protocol.send_data(b"pairview-channel", peer)

    await asyncio.sleep(1.0)
    transport.close()
    return {"relayed": list(relayed), "permissions": permissions, "echoes": sorted(set(echoes))}


def main() -> None:
    parser = argparse.ArgumentParser(description="UDP listener or TURN probe for relay tests.")
    commands = parser.add_subparsers(dest="command", required=True)
    listener = commands.add_parser("listen", help="echo datagrams on these addresses")
    listener.add_argument("addresses", nargs="+", help="host:port to listen on")
    prober = commands.add_parser("probe", help="allocate and try to reach these peers")
    prober.add_argument("--server", required=True, help="TURN server host:port")
    prober.add_argument("--secret", required=True, help="coturn's static-auth-secret")
    prober.add_argument(
        "--family", type=int, choices=[4, 6], default=4, help="relay address family"
    )
    prober.add_argument("peers", nargs="+", help="peer host:port to try")
    args = parser.parse_args()
    if args.command == "listen":
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(listen(args.addresses))
    else:
        result = asyncio.run(
            probe(parse_address(args.server), args.secret, args.family, args.peers)
        )
        print(json.dumps(result), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
