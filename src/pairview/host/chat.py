"""Chat on the host: guests' texts checked, printed and passed to everyone.

Every guest's page talks only to the host, so the host passes each text on
to every guest, the sender included, with the sender's name as the
signaling server announced it and the host's time. Lines that the host
types in its terminal, other than commands and answers, go to everyone
too. Chat text is never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pairview.host.console import Console
from pairview.host.output import ShareOutput
from pairview.host.ratelimit import TokenBucket
from pairview.protocol.chat import (
    ChatError,
    ChatHello,
    ChatMessage,
    ChatSend,
    ChatTextError,
    ChatVersionError,
    GuestChatMessage,
    HostChatMessage,
    Participant,
    Roster,
    Sender,
    check_chat_text,
)

logger = logging.getLogger(__name__)

HOST_ID = "host"
# Messages per guest: a fast typist with pasted lines, not a flood.
CHAT_RATE = 2.0
CHAT_BURST = 10
SendChat = Callable[[HostChatMessage], None]
# Returns the media ID that carries each participant's voice to one guest.
VoiceMids = Callable[[str], dict[str, str]]


@dataclass
class _Guest:
    peer_id: str
    name: str
    bucket: TokenBucket
    send: SendChat | None = None
    dropped: int = 0


class Chat:
    def __init__(
        self,
        output: ShareOutput,
        host_name: str,
        voice_mids: VoiceMids | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._output = output
        self._host = Sender(id=HOST_ID, name=host_name, role="host")
        self._voice_mids = voice_mids
        self._clock = clock
        self._guests: dict[str, _Guest] = {}
        self._next_id = 1

    def set_voice_mids(self, voice_mids: VoiceMids) -> None:
        self._voice_mids = voice_mids

    def register(self, console: Console) -> None:
        """Send the lines that the host types, other than commands and answers, as chat."""
        console.set_text_handler(self.say)

    # Guests

    def add_guest(self, peer_id: str, name: str) -> None:
        bucket = TokenBucket(CHAT_RATE, CHAT_BURST, time.monotonic())
        self._guests.setdefault(peer_id, _Guest(peer_id, name, bucket))
        self.send_rosters()

    def remove_guest(self, peer_id: str) -> None:
        if self._guests.pop(peer_id, None) is not None:
            self.send_rosters()

    def channel_open(self, peer_id: str, send: SendChat) -> None:
        """Start sending chat and rosters to a guest whose chat channel exchanged hellos."""
        guest = self._guests.get(peer_id)
        if guest is None:
            return
        guest.send = send
        send(self._roster(guest))

    def channel_closed(self, peer_id: str) -> None:
        guest = self._guests.get(peer_id)
        if guest is not None:
            guest.send = None

    def send_rosters(self) -> None:
        """Tell every guest who is in the room and which track carries whose voice."""
        for guest in self._guests.values():
            if guest.send is not None:
                guest.send(self._roster(guest))

    def _roster(self, guest: _Guest) -> Roster:
        mids = self._voice_mids(guest.peer_id) if self._voice_mids is not None else {}
        participants = [
            Participant(id=HOST_ID, name=self._host.name, role="host", mid=mids.get(HOST_ID))
        ]
        participants += [
            Participant(
                id=other.peer_id, name=other.name, role="guest", mid=mids.get(other.peer_id)
            )
            for other in self._guests.values()
        ]
        return Roster(you=guest.peer_id, participants=participants[:64])

    # Messages

    def handle(self, peer_id: str, message: GuestChatMessage) -> None:
        guest = self._guests.get(peer_id)
        if guest is None:
            return
        match message:
            case ChatSend():
                self._receive(guest, message.text)
            case ChatHello() | ChatVersionError():
                pass

    def _receive(self, guest: _Guest, text: str) -> None:
        if not guest.bucket.take(time.monotonic()):
            guest.dropped += 1
            if guest.dropped == 1 or guest.dropped % 100 == 0:
                logger.warning(
                    "peer %s: %d chat messages over the rate limit", guest.peer_id, guest.dropped
                )
            if guest.send is not None:
                guest.send(ChatError(message="You are sending messages too fast; wait a moment."))
            return
        try:
            checked = check_chat_text(text)
        except ChatTextError as error:
            logger.warning("peer %s: rejected a chat message: %s", guest.peer_id, error)
            if guest.send is not None:
                guest.send(ChatError(message=str(error)))
            return
        self._publish(Sender(id=guest.peer_id, name=guest.name, role="guest"), checked)

    def say(self, text: str) -> None:
        """Send a line that the host typed to every guest."""
        try:
            checked = check_chat_text(text)
        except ChatTextError as error:
            self._output.warning(f"Not sent: {error}")
            return
        self._publish(self._host, checked)
        if not any(guest.send is not None for guest in self._guests.values()):
            self._output.info("Nobody else is here to read it yet.")

    def _publish(self, sender: Sender, text: str) -> None:
        now = self._clock()
        message = ChatMessage(id=self._next_id, sender=sender, text=text, time=int(now * 1000))
        self._next_id += 1
        self._output.chat(sender.name, sender.role, text, datetime.fromtimestamp(now))
        for guest in self._guests.values():
            if guest.send is not None:
                guest.send(message)
