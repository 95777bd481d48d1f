"""A real SMTP server (aiosmtpd) on loopback that keeps every message it receives."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.timing import seconds


@dataclass(frozen=True)
class ReceivedMail:
    to: list[str]
    subject: str
    text: str

    def link(self, path: str) -> str:
        """Return the first link in the text whose path starts with `path`."""
        match = re.search(r"https?://[^\s/]+" + re.escape(path) + r"[^\s]*", self.text)
        assert match is not None, f"no {path} link in mail {self.subject!r}: {self.text!r}"
        return match.group(0)

    def secret(self, path: str) -> str:
        """Return the fragment of the first `path` link: the secret it carries."""
        return self.link(path).partition("#")[2]


class Mailbox:
    """The messages the SMTP server accepted, in order."""

    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        body = parsed.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        self.messages.append(ReceivedMail(list(envelope.rcpt_tos), str(parsed["Subject"]), text))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.messages if address in m.to]

    async def wait_for(self, address: str, count: int = 1) -> ReceivedMail:
        """Wait until `address` has received `count` messages; return the last one."""
        limit = seconds(10)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            received = self.to(address)
            if len(received) >= count:
                return received[count - 1]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no mail number {count} to {address} within {limit} s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    """Run an SMTP server on 127.0.0.1; yield its mailbox and port."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield mailbox, controller.port
    finally:
        controller.stop()
