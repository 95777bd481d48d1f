"""Validation of control-channel messages, as the host reads them from a guest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from pairview.protocol.control import (
    CONTROL_VERSION,
    Button,
    ConnectionKind,
    ControlReason,
    ControlState,
    Cursor,
    Cursors,
    Key,
    PointerMove,
    ViewState,
    Wheel,
    guest_message_adapter,
    host_message_adapter,
)
from pairview.protocol.signaling import ConnectionType

PROTOCOL_JS = Path(__file__).parents[2] / "src/pairview/web/static/js/protocol.js"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type": "pointer-move", "x": 0.25, "y": 1}', PointerMove(x=0.25, y=1.0)),
        ('{"type": "pointer-move", "x": -1, "y": 2}', PointerMove(x=-1.0, y=2.0)),
        (
            '{"type": "button", "button": 2, "down": false, "x": 0.5, "y": 0.5}',
            Button(button=2, down=False, x=0.5, y=0.5),
        ),
        ('{"type": "wheel", "dx": -10, "dy": 10, "x": 0, "y": 0}', Wheel(dx=-10, dy=10, x=0, y=0)),
        (
            '{"type": "key", "code": "KeyQ", "key": "@", "down": true}',
            Key(code="KeyQ", key="@", down=True),
        ),
    ],
)
def test_valid_guest_messages(text: str, expected: object) -> None:
    assert guest_message_adapter.validate_json(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "json_invalid"),
        ('{"type": "teleport"}', "union_tag_invalid"),
        ('{"x": 0.5}', "union_tag_not_found"),
        ('{"type": "pointer-move", "x": 2.01, "y": 0}', "less_than_equal"),
        ('{"type": "pointer-move", "x": -1.5, "y": 0}', "greater_than_equal"),
        ('{"type": "pointer-move", "x": NaN, "y": 0}', "finite_number"),
        ('{"type": "pointer-move", "x": 1e308, "y": 0}', "less_than_equal"),
        ('{"type": "pointer-move", "x": "0.5", "y": 0}', "float_type"),
        ('{"type": "button", "button": 5, "down": true, "x": 0, "y": 0}', "less_than_equal"),
        ('{"type": "button", "button": 1.0, "down": true, "x": 0, "y": 0}', "int_type"),
        ('{"type": "button", "button": 0, "down": "yes", "x": 0, "y": 0}', "bool_type"),
        ('{"type": "wheel", "dx": 0, "dy": 11, "x": 0, "y": 0}', "less_than_equal"),
        ('{"type": "key", "code": "Key A", "key": "a", "down": true}', "string_pattern_mismatch"),
        ('{"type": "key", "code": "KeyA", "key": "", "down": true}', "string_too_short"),
        ('{"type": "key", "code": "KeyA", "key": "a", "down": true, "x": 1}', "extra_forbidden"),
        (
            '{"type": "control-state", "pointer": true, "keyboard": true, '
            '"pending": false, "reason": "granted"}',
            "union_tag_invalid",
        ),
    ],
)
def test_invalid_guest_messages(text: str, problem: str) -> None:
    with pytest.raises(ValidationError) as raised:
        guest_message_adapter.validate_json(text)
    assert problem in {error["type"] for error in raised.value.errors()}


def test_host_messages_round_trip() -> None:
    state = ControlState(pointer=True, keyboard=False, pending=False, reason=ControlReason.PANIC)
    assert host_message_adapter.validate_json(state.model_dump_json()) == state
    cursors = Cursors(
        cursors=[Cursor(id="abc", name="Alice", role="guest", colour=3, x=0.5, y=None)],
        removed=["old"],
    )
    assert host_message_adapter.validate_json(cursors.model_dump_json()) == cursors
    hidden = ViewState(visible=False)
    assert host_message_adapter.validate_json(hidden.model_dump_json()) == hidden
    relayed = ConnectionKind(kind=ConnectionType.RELAY)
    assert relayed.model_dump_json() == '{"type":"connection","kind":"relay"}'
    assert host_message_adapter.validate_json(relayed.model_dump_json()) == relayed


def test_connection_kind_rejects_others() -> None:
    with pytest.raises(ValidationError):
        host_message_adapter.validate_json('{"type": "connection", "kind": "lan"}')
    with pytest.raises(ValidationError):
        guest_message_adapter.validate_json('{"type": "connection", "kind": "direct"}')


def test_view_state_needs_a_real_boolean() -> None:
    with pytest.raises(ValidationError):
        host_message_adapter.validate_json('{"type": "view-state", "visible": "no"}')
    with pytest.raises(ValidationError):
        host_message_adapter.validate_json('{"type": "view-state"}')


def test_cursor_colour_is_a_palette_index() -> None:
    with pytest.raises(ValidationError):
        Cursor(id="abc", name="Alice", role="guest", colour=8)


def test_page_mirrors_version_and_types() -> None:
    source = PROTOCOL_JS.read_text(encoding="utf-8")
    assert f"export const CONTROL_VERSION = {CONTROL_VERSION};" in source
    for name in (
        "pointer-move",
        "pointer-leave",
        "button",
        "wheel",
        "key",
        "control-request",
        "control-release",
        "control-state",
        "view-state",
        "connection",
        "cursors",
    ):
        assert json.dumps(name) in source, name
    for reason in ControlReason:
        assert json.dumps(reason.value) in source, reason
    for kind in ConnectionType:
        assert json.dumps(kind.value) in source, kind
