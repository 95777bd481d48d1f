"""Sealed values and join tickets: forged, changed, misused or late ones do not open."""

from __future__ import annotations

from pairview.server.accounts.crypto import JoinTickets, Sealer, new_token

KEY = b"k" * 32


def test_sealed_value_round_trip() -> None:
    sealer = Sealer(KEY)

    sealed = sealer.seal("flow", {"s": "state"}, now=1000)

    assert sealer.open("flow", sealed, max_age=60, now=1030) == {"s": "state"}
    assert "state" not in sealed


def test_sealed_value_rejected_when_misused() -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal("flow", {"s": "state"}, now=1000)
    changed = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]

    assert sealer.open("pending", sealed, now=1000) is None
    assert Sealer(b"x" * 32).open("flow", sealed, now=1000) is None
    assert sealer.open("flow", changed, now=1000) is None
    assert sealer.open("flow", sealed, max_age=60, now=1061) is None
    assert sealer.open("flow", "not base64 !", now=1000) is None
    assert sealer.open("flow", "", now=1000) is None


def test_join_ticket_only_for_its_room_and_time() -> None:
    tickets = JoinTickets(KEY)
    ticket = tickets.issue("room-a", expires_at=2000)
    prefix, _expiry, signature = ticket.split(".")

    assert tickets.valid(ticket, "room-a", now=1999)
    assert not tickets.valid(ticket, "room-a", now=2000)
    assert not tickets.valid(ticket, "room-b", now=1000)
    assert not tickets.valid(f"{prefix}.3000.{signature}", "room-a", now=1000)
    assert not JoinTickets(b"x" * 32).valid(ticket, "room-a", now=1000)
    assert not tickets.valid("t1..", "room-a", now=1000)


def test_tokens_carry_256_bits() -> None:
    tokens = {new_token() for _ in range(100)}

    assert len(tokens) == 100
    assert all(len(token) == 43 for token in tokens)
