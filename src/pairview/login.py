"""Signing the host app in to a Pairview server, and the token it keeps.

The token lives in `credentials.json` in the user's configuration
directory (XDG), readable by its owner alone, one entry per server URL.
"""

from __future__ import annotations

import contextlib
import json
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pairview.errors import PairviewError
from pairview.settings import default_config_dir

CREDENTIALS_FILE = "credentials.json"


@dataclass(frozen=True, slots=True)
class Login:
    server: str
    token: str
    device_token: str | None
    display_name: str


class CredentialStore:
    """Reads and writes the login tokens, creating the file with mode 0600."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_config_dir() / CREDENTIALS_FILE

    def _load(self) -> dict[str, Any]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise PairviewError(
                f"Cannot read the login file {self.path}: {error}. Delete it and log in again."
            ) from None
        servers = document.get("servers") if isinstance(document, dict) else None
        return servers if isinstance(servers, dict) else {}

    def _save(self, servers: dict[str, Any]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump({"servers": servers}, file, indent=2)
        temporary.replace(self.path)

    def get(self, server: str) -> Login | None:
        entry = self._load().get(server.rstrip("/"))
        if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
            return None
        return Login(
            server.rstrip("/"),
            entry["token"],
            entry.get("device_token"),
            str(entry.get("display_name", "")),
        )

    def put(self, login: Login) -> None:
        servers = self._load()
        servers[login.server] = {
            "token": login.token,
            "device_token": login.device_token,
            "display_name": login.display_name,
        }
        self._save(servers)

    def remove(self, server: str) -> None:
        """Forget the token but keep the device token, which spares throttling next time."""
        servers = self._load()
        entry = servers.get(server.rstrip("/"))
        if isinstance(entry, dict):
            servers[server.rstrip("/")] = {"device_token": entry.get("device_token")}
            self._save(servers)

    def device_token(self, server: str) -> str | None:
        entry = self._load().get(server.rstrip("/"))
        value = entry.get("device_token") if isinstance(entry, dict) else None
        return value if isinstance(value, str) else None


def _verify(ssl_context: ssl.SSLContext | None) -> ssl.SSLContext | bool:
    return ssl_context if ssl_context is not None else True


async def _post(
    server: str,
    path: str,
    body: dict[str, Any] | None,
    ssl_context: ssl.SSLContext | None,
    token: str | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with httpx.AsyncClient(verify=_verify(ssl_context), timeout=30) as client:
            return await client.post(f"{server}{path}", json=body, headers=headers)
    except httpx.HTTPError as error:
        raise PairviewError(f"Cannot reach the Pairview server at {server}: {error}") from None


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail) if detail else f"HTTP {response.status_code}"


def _login(server: str, response: httpx.Response) -> Login:
    if response.status_code == 404 and "no accounts" in response.text:
        raise PairviewError(f"The server at {server} has no accounts; share without logging in.")
    if response.status_code != 200:
        raise PairviewError(f"Login to {server} failed: {_detail(response)}")
    body = response.json()
    return Login(server, body["token"], body.get("device_token"), body["user"]["display_name"])


async def login_with_password(
    server: str,
    email: str,
    password: str,
    device_token: str | None,
    ssl_context: ssl.SSLContext | None,
) -> Login:
    body = {"email": email, "password": password, "device_token": device_token}
    response = await _post(server, "/api/auth/app/sign-in", body, ssl_context)
    login = _login(server, response)
    # A login without a new device token keeps the one it had.
    return (
        login
        if login.device_token
        else Login(server, login.token, device_token, login.display_name)
    )


async def login_with_code(server: str, code: str, ssl_context: ssl.SSLContext | None) -> Login:
    response = await _post(server, "/api/auth/app/code/redeem", {"code": code}, ssl_context)
    return _login(server, response)


async def logout(server: str, token: str, ssl_context: ssl.SSLContext | None) -> None:
    """Revoke the token on the server; one it has already revoked is not an error."""
    response = await _post(server, "/api/auth/sign-out", None, ssl_context, token=token)
    if response.status_code not in (204, 401):
        raise PairviewError(f"Logout from {server} failed: {_detail(response)}")
