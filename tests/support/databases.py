"""Fresh databases for tests: a SQLite file, or a new database on the local PostgreSQL."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextlib.asynccontextmanager
async def fresh_database(kind: str, directory: Path) -> AsyncIterator[str]:
    """Yield the SQLAlchemy URL of an empty database of `kind` ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'test.db'}"
        return
    name = f"pairview_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
