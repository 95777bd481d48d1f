"""Chat texts and chat-channel messages, as the host checks them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from pairview.protocol.chat import (
    CHAT_VERSION,
    MAX_CHAT_TEXT,
    ChatTextError,
    check_chat_text,
    guest_chat_adapter,
)

PROTOCOL_JS = Path(__file__).parents[2] / "src/pairview/web/static/js/protocol.js"


@pytest.mark.parametrize(
    "text",
    [
        "hi",
        "  émoji 👋🏽 and 中文  ",
        "two\nlines\tand a tab",
        "<b>not markup</b>",
        "x" * MAX_CHAT_TEXT,
    ],
)
def test_chat_text_accepted(text: str) -> None:
    assert check_chat_text(text) == text.strip()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "The message is empty."),
        (" \n\t ", "The message is empty."),
        ("x" * (MAX_CHAT_TEXT + 1), f"has {MAX_CHAT_TEXT + 1} characters; the limit is 4000"),
        ("bell \x07", "U+0007"),
        ("escape \x1b[31m", "U+001B"),
        ("csi \x9b", "U+009B"),
        ("right-to-left \u202e", "U+202E"),
    ],
)
def test_chat_text_rejected(text: str, problem: str) -> None:
    with pytest.raises(ChatTextError) as raised:
        check_chat_text(text)
    assert problem in str(raised.value)


def test_emoji_count_as_code_points() -> None:
    assert check_chat_text("😀" * MAX_CHAT_TEXT) == "😀" * MAX_CHAT_TEXT


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "chat", "id": 1}',
        '{"type": "chat-send", "text": 5}',
        '{"type": "chat-send", "text": "hi", "sender": "host"}',
        '{"type": "roster", "you": "a", "participants": []}',
    ],
)
def test_guest_cannot_send_host_messages(text: str) -> None:
    with pytest.raises(ValidationError):
        guest_chat_adapter.validate_json(text)


def test_page_mirrors_chat_protocol() -> None:
    source = PROTOCOL_JS.read_text(encoding="utf-8")
    assert f"export const CHAT_VERSION = {CHAT_VERSION};" in source
    assert f"export const MAX_CHAT_TEXT = {MAX_CHAT_TEXT};" in source
    for name in ("chat-send", "chat", "chat-error", "roster", "file-offer", "file-cancel"):
        assert json.dumps(name) in source, name
