"""The ICE servers handed to each member of a room: STUN and TURN URLs, TURN credentials.

TURN credentials follow the TURN REST convention that coturn checks with
`use-auth-secret`: the username is "<expiry>:<peer id>", with the expiry
in Unix seconds, and the credential is base64(HMAC-SHA1(secret, username)).
The relay needs no database and no call back to this server, and a
credential stops working by itself at its expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from pairview.protocol.signaling import IceServerInfo
from pairview.server.network import is_loopback, reachable_hosts, url_host
from pairview.settings import ServerSettings


@dataclass(frozen=True, slots=True)
class IceGrant:
    """The ICE servers for one peer, and when its TURN credentials expire (Unix seconds)."""

    servers: list[IceServerInfo]
    expires_at: int | None


def turn_credentials(secret: str, peer_id: str, ttl: float, now: float) -> tuple[str, str, int]:
    """Mint a TURN username and credential for `peer_id`, valid for `ttl` seconds."""
    expires_at = int(now + ttl)
    username = f"{expires_at}:{peer_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii"), expires_at


def public_host(settings: ServerSettings) -> str:
    """The host name or address that clients use for this server's STUN and the relay."""
    if settings.ice_host:
        return settings.ice_host
    if settings.public_url:
        hostname = urlsplit(settings.public_url).hostname
        if hostname:
            return hostname
    if settings.stun_host and not is_loopback(settings.stun_host):
        return reachable_hosts(settings.stun_host)[0]
    return reachable_hosts(settings.host)[0]


def stun_bind_host(settings: ServerSettings) -> str | None:
    """The address for the built-in STUN server, or None when it stays off.

    It is off when `stun_port` is off, and when no address is given for it
    and the server itself listens on loopback only: no client that needs
    STUN could reach it there.
    """
    if settings.stun_port is None:
        return None
    if settings.stun_host is not None:
        return settings.stun_host
    if is_loopback(settings.host):
        return None
    return settings.host


class IceConfig:
    """Builds the ICE server list for members of live rooms."""

    def __init__(self, settings: ServerSettings, stun_port: int | None) -> None:
        self._settings = settings
        self._stun_port = stun_port
        self.turn_credentials_issued = 0

    @property
    def turn_enabled(self) -> bool:
        return self._settings.turn_secret is not None

    def stun_urls(self) -> list[str]:
        if self._stun_port is None:
            return []
        return [f"stun:{url_host(public_host(self._settings))}:{self._stun_port}"]

    def turn_urls(self) -> list[str]:
        """TURN URLs in the order clients should try them: UDP, then TCP, then TLS."""
        settings = self._settings
        host = url_host(settings.turn_host or public_host(settings))
        urls = []
        if "udp" in settings.turn_transports:
            urls.append(f"turn:{host}:{settings.turn_port}?transport=udp")
        if "tcp" in settings.turn_transports:
            urls.append(f"turn:{host}:{settings.turn_port}?transport=tcp")
        if "tls" in settings.turn_transports:
            urls.append(f"turns:{host}:{settings.turn_tls_port}?transport=tcp")
        return urls

    def grant(self, peer_id: str, now: float | None = None) -> IceGrant:
        """Return the ICE servers for a member of a live room; the caller checks membership."""
        settings = self._settings
        servers: list[IceServerInfo] = []
        stun = self.stun_urls()
        if not stun and self.turn_enabled:
            # coturn answers STUN on its own port too.
            host = url_host(settings.turn_host or public_host(settings))
            stun = [f"stun:{host}:{settings.turn_port}"]
        if stun:
            servers.append(IceServerInfo(urls=stun))

        expires_at = None
        if settings.turn_secret is not None:
            username, credential, expires_at = turn_credentials(
                settings.turn_secret.get_secret_value(),
                peer_id,
                settings.turn_credential_ttl,
                time.time() if now is None else now,
            )
            servers.append(
                IceServerInfo(urls=self.turn_urls(), username=username, credential=credential)
            )
            self.turn_credentials_issued += 1

        for server in settings.ice_servers:
            servers.append(
                IceServerInfo(
                    urls=server.urls,
                    username=server.username,
                    credential=server.credential.get_secret_value() if server.credential else None,
                )
            )
        return IceGrant(servers, expires_at)
