"""The description of itself that the host app sends with its join: its version and OS."""

from __future__ import annotations

import platform
import re

from pairview import __version__
from pairview.protocol.signaling import ClientInfo, ClientName, OsName

_OS_NAMES = {"Linux": OsName.LINUX, "Windows": OsName.WINDOWS, "Darwin": OsName.MACOS}


def leading_version(text: str, parts: int) -> str | None:
    """Return the first `parts` dotted numbers of `text` ("6.1.0-18-amd64" -> "6.1"), or None."""
    match = re.match(r"\d{1,5}(?:\.\d{1,5})*", text.strip())
    if match is None:
        return None
    return ".".join(match.group(0).split(".")[:parts])


def app_client_info() -> ClientInfo:
    """Describe this host app: Pairview's version, the OS name and its major.minor version."""
    system = platform.system()
    os_name = _OS_NAMES.get(system, OsName.OTHER)
    release = platform.mac_ver()[0] if os_name is OsName.MACOS else platform.release()
    return ClientInfo(
        name=ClientName.PAIRVIEW,
        version=leading_version(__version__, 3),
        os=os_name,
        os_version=leading_version(release, 2),
    )
