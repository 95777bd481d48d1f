"""Fixtures of the host app's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make aioice gather candidates on 127.0.0.1 only, so every packet stays on loopback."""
    monkeypatch.setattr("aioice.ice.get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
