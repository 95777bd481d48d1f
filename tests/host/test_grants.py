"""The grant state machine, with no I/O: requests, answers, timeouts, revocations."""

from __future__ import annotations

import pytest

from pairview.host.grants import ALL_CAPABILITIES, Grants, UnknownGuest
from pairview.protocol.control import Capability, ControlReason

POINTER = frozenset({Capability.POINTER})
KEYBOARD = frozenset({Capability.KEYBOARD})


def test_guest_starts_with_nothing() -> None:
    grants = Grants()
    change = grants.join("a", "Alice")
    assert change.after == frozenset()
    assert change.reason is ControlReason.CURRENT
    assert not grants.allows("a", Capability.POINTER)
    assert not grants.allows("a", Capability.KEYBOARD)
    assert not grants.allows("nobody", Capability.POINTER)


def test_request_waits_then_granted() -> None:
    grants = Grants()
    grants.join("a", "Alice")
    pending = grants.request("a", ALL_CAPABILITIES, now=10)
    assert pending.reason is ControlReason.PENDING
    assert pending.pending
    assert not grants.allows("a", Capability.POINTER)
    assert [guest.peer_id for guest in grants.pending()] == ["a"]

    granted = grants.answer("a", allow=True)
    assert granted is not None
    assert granted.reason is ControlReason.GRANTED
    assert granted.gained == ALL_CAPABILITIES
    assert not granted.pending
    assert grants.allows("a", Capability.KEYBOARD)
    assert grants.answer("a", allow=True) is None


def test_request_declined() -> None:
    grants = Grants()
    grants.join("a", "Alice")
    grants.request("a", POINTER, now=0)
    declined = grants.answer("a", allow=False)
    assert declined is not None
    assert declined.reason is ControlReason.DECLINED
    assert declined.after == frozenset()
    assert grants.pending() == []


def test_unanswered_request_expires() -> None:
    grants = Grants(request_timeout=60)
    grants.join("a", "Alice")
    grants.join("b", "Bob")
    grants.request("a", POINTER, now=0)
    grants.request("b", POINTER, now=30)
    assert grants.expire(now=59.9) == []
    expired = grants.expire(now=60)
    assert [(change.peer_id, change.reason) for change in expired] == [
        ("a", ControlReason.TIMED_OUT)
    ]
    assert not grants.allows("a", Capability.POINTER)
    assert [guest.peer_id for guest in grants.pending()] == ["b"]


def test_capabilities_granted_separately() -> None:
    grants = Grants()
    grants.join("a", "Alice")
    grants.grant("a", POINTER)
    assert grants.allows("a", Capability.POINTER)
    assert not grants.allows("a", Capability.KEYBOARD)
    change = grants.revoke("a", POINTER)
    assert change.lost == POINTER
    assert change.reason is ControlReason.REVOKED
    assert not grants.allows("a", Capability.POINTER)


def test_revoke_all_stops_automatic_grants() -> None:
    grants = Grants(allow_all=True)
    first = grants.join("a", "Alice")
    assert first.gained == ALL_CAPABILITIES
    grants.join("b", "Bob")
    changes = grants.revoke_all(ControlReason.PANIC)
    assert {change.peer_id for change in changes} == {"a", "b"}
    assert all(change.reason is ControlReason.PANIC for change in changes)
    assert all(change.lost == ALL_CAPABILITIES for change in changes)
    assert not grants.allow_all
    late = grants.join("c", "Carol")
    assert late.after == frozenset()


def test_revoke_all_declines_pending() -> None:
    grants = Grants()
    grants.join("a", "Alice")
    grants.request("a", POINTER, now=0)
    changes = grants.revoke_all()
    assert [(change.peer_id, change.pending) for change in changes] == [("a", False)]
    assert grants.pending() == []


def test_request_for_held_grant_is_no_question() -> None:
    grants = Grants()
    grants.join("a", "Alice")
    grants.grant("a", ALL_CAPABILITIES)
    change = grants.request("a", POINTER, now=0)
    assert change.reason is ControlReason.CURRENT
    assert not change.pending


def test_allow_all_grants_request_at_once() -> None:
    grants = Grants(allow_all=True)
    grants.join("a", "Alice")
    grants.release("a")
    change = grants.request("a", KEYBOARD, now=0)
    assert change.reason is ControlReason.GRANTED
    assert change.after == KEYBOARD


def test_release_gives_back_everything() -> None:
    grants = Grants()
    grants.join("a", "Alice")
    grants.grant("a", ALL_CAPABILITIES)
    change = grants.release("a")
    assert change.reason is ControlReason.RELEASED
    assert change.lost == ALL_CAPABILITIES


def test_leave_forgets_grants() -> None:
    grants = Grants()
    grants.join("a", "Alice")
    grants.grant("a", ALL_CAPABILITIES)
    grants.leave("a")
    assert not grants.allows("a", Capability.POINTER)
    with pytest.raises(UnknownGuest):
        grants.grant("a", POINTER)


def test_find_by_peer_id_or_name() -> None:
    grants = Grants()
    grants.join("a1", "Alice")
    grants.join("a2", "alice")
    grants.join("b", "Bob")
    assert [guest.peer_id for guest in grants.find("a2")] == ["a2"]
    assert sorted(guest.peer_id for guest in grants.find("ALICE")) == ["a1", "a2"]
    assert [guest.peer_id for guest in grants.find("bob")] == ["b"]
    assert grants.find("Carol") == []
