"""Chat on the host: texts checked, stamped with the sender and passed to every guest."""

from __future__ import annotations

import io

from rich.console import Console as RichConsole

from pairview.host.chat import Chat
from pairview.host.output import ShareOutput
from pairview.protocol.chat import ChatError, ChatMessage, ChatSend, HostChatMessage, Roster


def make_chat() -> tuple[Chat, io.StringIO]:
    text = io.StringIO()
    output = ShareOutput(RichConsole(file=text, width=200, highlight=False))
    chat = Chat(
        output, "Hosta", voice_mids=lambda peer: {"host": "1"}, clock=lambda: 1_700_000_000.5
    )
    return chat, text


def test_guest_text_reaches_everyone_with_sender() -> None:
    chat, text = make_chat()
    inboxes: dict[str, list[HostChatMessage]] = {"a": [], "b": []}
    for peer, name in (("a", "Ana"), ("b", "Ben")):
        chat.add_guest(peer, name)
        chat.channel_open(peer, inboxes[peer].append)

    chat.handle("a", ChatSend(text="  hi 👋 <b>  "))

    for peer in ("a", "b"):
        message = inboxes[peer][-1]
        assert isinstance(message, ChatMessage)
        assert message.text == "hi 👋 <b>"
        assert message.sender.name == "Ana"
        assert message.sender.id == "a"
        assert message.time == 1_700_000_000_500
    assert "Ana: hi 👋 <b>" in text.getvalue()


def test_rejected_text_is_explained_to_sender_only() -> None:
    chat, text = make_chat()
    inboxes: dict[str, list[HostChatMessage]] = {"a": [], "b": []}
    for peer in ("a", "b"):
        chat.add_guest(peer, peer.upper())
        chat.channel_open(peer, inboxes[peer].append)
    before = {peer: len(box) for peer, box in inboxes.items()}

    chat.handle("a", ChatSend(text="x" * 4001))

    assert inboxes["a"][-1] == ChatError(
        message="The message has 4001 characters; the limit is 4000."
    )
    assert len(inboxes["b"]) == before["b"]
    assert "xxxx" not in text.getvalue()


def test_host_lines_and_rosters() -> None:
    chat, text = make_chat()
    inbox: list[HostChatMessage] = []
    chat.say("nobody here")
    assert "Nobody else is here to read it yet." in text.getvalue()
    chat.add_guest("a", "Ana")
    chat.channel_open("a", inbox.append)
    roster = inbox[0]
    assert isinstance(roster, Roster)
    assert roster.you == "a"
    assert [(p.id, p.name, p.mid) for p in roster.participants] == [
        ("host", "Hosta", "1"),
        ("a", "Ana", None),
    ]

    chat.say("hello \x1b[2J")
    assert "Not sent: The message contains the control character U+001B" in text.getvalue()
    chat.say("hello")
    message = inbox[-1]
    assert isinstance(message, ChatMessage)
    assert message.sender.role == "host"
    chat.add_guest("b", "Ben")
    assert isinstance(inbox[-1], Roster)
    assert [p.name for p in inbox[-1].participants] == ["Hosta", "Ana", "Ben"]


def test_flood_is_limited() -> None:
    chat, _ = make_chat()
    inboxes: dict[str, list[HostChatMessage]] = {"a": [], "b": []}
    for peer in ("a", "b"):
        chat.add_guest(peer, peer.upper())
        chat.channel_open(peer, inboxes[peer].append)

    for number in range(30):
        chat.handle("a", ChatSend(text=f"message {number}"))

    delivered = [m for m in inboxes["b"] if isinstance(m, ChatMessage)]
    assert 10 <= len(delivered) < 30
    assert ChatError(message="You are sending messages too fast; wait a moment.") in inboxes["a"]
