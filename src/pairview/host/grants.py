"""Who may drive the host's pointer and keyboard: the grant state machine, free of I/O.

Grants are per guest and per capability, and every guest starts with none.
A guest's request waits for the host's answer until it times out, which
counts as a no. The host may grant, revoke or decline at any time, and
revoking every grant (by command or with the panic shortcut) also stops
granting control to newcomers automatically.

Every method that changes a guest's grants returns a `GrantChange`, which
the caller turns into a message to the guest and, when a capability is
lost, into releasing whatever that guest held down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pairview.protocol.control import Capability, ControlReason

ALL_CAPABILITIES = frozenset(Capability)
REQUEST_TIMEOUT = 60.0


def match_guests(query: str, names: Mapping[str, str]) -> list[str]:
    """Return the peer ids in `names` that `query` names: a peer id, or else a name in any case."""
    if query in names:
        return [query]
    folded = query.casefold()
    return [peer_id for peer_id, name in names.items() if name.casefold() == folded]


class UnknownGuest(LookupError):
    """No guest with this peer id is in the room."""


@dataclass
class GuestGrants:
    peer_id: str
    name: str
    granted: set[Capability] = field(default_factory=set)
    # The capabilities of a request waiting for the host's answer, if any.
    requested: frozenset[Capability] | None = None
    requested_at: float = 0.0

    @property
    def pending(self) -> bool:
        return self.requested is not None


@dataclass(frozen=True, slots=True)
class GrantChange:
    peer_id: str
    name: str
    before: frozenset[Capability]
    after: frozenset[Capability]
    pending: bool
    reason: ControlReason

    @property
    def lost(self) -> frozenset[Capability]:
        return self.before - self.after

    @property
    def gained(self) -> frozenset[Capability]:
        return self.after - self.before


def describe(capabilities: frozenset[Capability] | set[Capability]) -> str:
    """Return capabilities in words, such as "pointer and keyboard"."""
    names = [capability.value for capability in Capability if capability in capabilities]
    return " and ".join(names) if names else "nothing"


class Grants:
    def __init__(self, allow_all: bool = False, request_timeout: float = REQUEST_TIMEOUT) -> None:
        self._guests: dict[str, GuestGrants] = {}
        self.allow_all = allow_all
        self.request_timeout = request_timeout

    def join(self, peer_id: str, name: str) -> GrantChange:
        """Add a guest, with every grant if the host allows control to everyone."""
        guest = self._guests.setdefault(peer_id, GuestGrants(peer_id, name))
        guest.name = name
        if self.allow_all:
            return self._change(guest, ControlReason.GRANTED, granted=set(ALL_CAPABILITIES))
        return self._change(guest, ControlReason.CURRENT)

    def leave(self, peer_id: str) -> GuestGrants | None:
        return self._guests.pop(peer_id, None)

    def get(self, peer_id: str) -> GuestGrants:
        guest = self._guests.get(peer_id)
        if guest is None:
            raise UnknownGuest(peer_id)
        return guest

    def allows(self, peer_id: str, capability: Capability) -> bool:
        guest = self._guests.get(peer_id)
        return guest is not None and capability in guest.granted

    def guests(self) -> list[GuestGrants]:
        return list(self._guests.values())

    def pending(self) -> list[GuestGrants]:
        """Return the guests waiting for an answer, oldest request first."""
        waiting = [guest for guest in self._guests.values() if guest.pending]
        return sorted(waiting, key=lambda guest: guest.requested_at)

    def find(self, query: str) -> list[GuestGrants]:
        """Return the guests whose peer id is `query`, or else whose name is, ignoring case."""
        names = {peer_id: guest.name for peer_id, guest in self._guests.items()}
        return [self._guests[peer_id] for peer_id in match_guests(query, names)]

    def request(self, peer_id: str, capabilities: frozenset[Capability], now: float) -> GrantChange:
        """Record a guest's request; it waits for the host unless nothing is left to grant."""
        guest = self.get(peer_id)
        missing = capabilities - guest.granted
        if not missing:
            return self._change(guest, ControlReason.CURRENT)
        if self.allow_all:
            return self._change(guest, ControlReason.GRANTED, granted=guest.granted | missing)
        guest.requested = frozenset(missing)
        guest.requested_at = now
        return self._change(guest, ControlReason.PENDING)

    def answer(self, peer_id: str, allow: bool) -> GrantChange | None:
        """Apply the host's answer to a waiting request; None if none waits."""
        guest = self.get(peer_id)
        if guest.requested is None:
            return None
        requested, guest.requested = guest.requested, None
        if not allow:
            return self._change(guest, ControlReason.DECLINED)
        return self._change(guest, ControlReason.GRANTED, granted=guest.granted | requested)

    def expire(self, now: float) -> list[GrantChange]:
        """Decline every request older than the timeout."""
        changes = []
        for guest in self.pending():
            if now - guest.requested_at >= self.request_timeout:
                guest.requested = None
                changes.append(self._change(guest, ControlReason.TIMED_OUT))
        return changes

    def grant(self, peer_id: str, capabilities: frozenset[Capability]) -> GrantChange:
        guest = self.get(peer_id)
        guest.requested = None
        return self._change(guest, ControlReason.GRANTED, granted=guest.granted | capabilities)

    def revoke(self, peer_id: str, capabilities: frozenset[Capability]) -> GrantChange:
        guest = self.get(peer_id)
        guest.requested = None
        return self._change(guest, ControlReason.REVOKED, granted=guest.granted - capabilities)

    def release(self, peer_id: str) -> GrantChange:
        """Take back every grant that the guest gives back of its own accord."""
        guest = self.get(peer_id)
        guest.requested = None
        return self._change(guest, ControlReason.RELEASED, granted=set())

    def revoke_all(self, reason: ControlReason = ControlReason.REVOKED) -> list[GrantChange]:
        """Take back every grant and decline every request; newcomers then get nothing."""
        self.allow_all = False
        changes = []
        for guest in self._guests.values():
            if guest.granted or guest.pending:
                guest.requested = None
                changes.append(self._change(guest, reason, granted=set()))
        return changes

    @staticmethod
    def _change(
        guest: GuestGrants, reason: ControlReason, granted: set[Capability] | None = None
    ) -> GrantChange:
        before = frozenset(guest.granted)
        if granted is not None:
            guest.granted = set(granted)
        return GrantChange(
            guest.peer_id, guest.name, before, frozenset(guest.granted), guest.pending, reason
        )
