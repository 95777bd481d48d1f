"""Usage event fields: client labels cut to coarse versions, and keyed hashes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pairview import __version__
from pairview.host.client_info import app_client_info, leading_version
from pairview.protocol.signaling import ClientInfo, ClientName, OsName
from pairview.server.usage.events import UsageKeys, client_labels


def test_app_label_keeps_full_version() -> None:
    info = ClientInfo(name=ClientName.PAIRVIEW, version="1.2.3", os=OsName.LINUX, os_version="6.1")
    assert client_labels(info) == ("Pairview 1.2.3", "Linux 6.1")


def test_browser_label_keeps_major_version() -> None:
    info = ClientInfo(
        name=ClientName.CHROME, version="156.0.7000.1", os=OsName.MACOS, os_version="14.5.1"
    )
    assert client_labels(info) == ("Chrome 156", "macOS 14.5")


def test_missing_client_is_unknown() -> None:
    assert client_labels(None) == ("Unknown", None)
    assert client_labels(ClientInfo(name=ClientName.FIREFOX)) == ("Firefox", None)


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "chrome", "version": "156 (my laptop)"},
        {"name": "netscape", "version": "4"},
        {"name": "firefox", "os": "plan9"},
        {"name": "safari", "os": "macos", "os_version": "Sonoma"},
    ],
    ids=["free-text-version", "unknown-browser", "unknown-os", "named-os-version"],
)
def test_client_info_rejects_free_text(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        ClientInfo.model_validate(fields)


def test_host_app_describes_itself() -> None:
    info = app_client_info()
    assert info.name is ClientName.PAIRVIEW
    assert info.version == leading_version(__version__, 3)
    assert info.os is OsName.LINUX
    assert info.os_version is not None
    assert info.os_version.count(".") <= 1


def test_leading_version_cuts_suffixes() -> None:
    assert leading_version("6.1.0-18-amd64", 2) == "6.1"
    assert leading_version("0.1.0.dev3+g1234", 3) == "0.1.0"
    assert leading_version("unknown", 2) is None


def test_participant_ref_is_keyed() -> None:
    one, other = UsageKeys(b"a" * 32), UsageKeys(b"b" * 32)

    assert one.participant_ref("Ana") == one.participant_ref("  ana ")
    assert one.participant_ref("Ana") != one.participant_ref("Ben")
    assert one.participant_ref("Ana") != other.participant_ref("Ana")
    assert "Ana" not in one.participant_ref("Ana")
    assert len(one.participant_ref("Ana")) == 32


def test_room_ref_differs_from_participant_ref() -> None:
    keys = UsageKeys(b"k" * 32)
    assert keys.room_ref("Ana") != keys.participant_ref("Ana")
    assert keys.room_ref("room1") == keys.room_ref("room1")
