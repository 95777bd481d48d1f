"""Fixtures for the account tests: an HTTPS server with accounts, its mailbox and providers."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pairview.server.runner import RunningServer, start_server
from pairview.server.tls import ensure_self_signed
from pairview.settings import ServerSettings
from tests.support.mailbox import Mailbox, smtp_server
from tests.support.providers import ProviderServer, provider_server

PASSWORD = "correct horse battery"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as running:
        yield running


@pytest.fixture
def mailbox(smtp: tuple[Mailbox, int]) -> Mailbox:
    return smtp[0]


@pytest.fixture
async def providers() -> AsyncIterator[ProviderServer]:
    async with provider_server() as running:
        yield running


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert = ensure_self_signed(tmp_path / "tls", ["127.0.0.1", "localhost"])
    return cert.cert_path, cert.key_path


def account_settings(
    tmp_path: Path,
    database_url: str,
    smtp_port: int,
    certificate: tuple[Path, Path],
    **overrides: Any,
) -> ServerSettings:
    """Settings of an HTTPS server with accounts, Argon2 at the OWASP minimum for speed."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "host": "127.0.0.1",
        "port": 0,
        "database_url": database_url,
        "tls_cert": certificate[0],
        "tls_key": certificate[1],
        "accounts": True,
        "argon2_memory_kib": 19456,
        "argon2_iterations": 2,
        "argon2_parallelism": 1,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_security": "none",
        "mail_from": "Pairview <pairview@test.invalid>",
        "reconnect_grace": 2,
        "signaling_join_timeout": 3,
    }
    values.update(overrides)
    return ServerSettings(**values)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Extra settings for the `accounts_server` of one test module; override to change."""
    return {}


@pytest.fixture
async def accounts_server(
    tmp_path: Path,
    database_url: str,
    smtp: tuple[Mailbox, int],
    certificate: tuple[Path, Path],
    settings_overrides: dict[str, Any],
) -> AsyncIterator[RunningServer]:
    settings = account_settings(tmp_path, database_url, smtp[1], certificate, **settings_overrides)
    running = await start_server(settings, access_log=False)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def client_factory(
    accounts_server: RunningServer, certificate: tuple[Path, Path]
) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """Make HTTPS clients of the server, each with its own cookie jar, like separate browsers."""
    made: list[httpx.AsyncClient] = []

    def make(**kwargs: Any) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            base_url=accounts_server.local_url,
            verify=ssl.create_default_context(cafile=str(certificate[0])),
            headers={"Origin": accounts_server.local_url},
            **kwargs,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def client(client_factory: Callable[..., httpx.AsyncClient]) -> httpx.AsyncClient:
    return client_factory()
