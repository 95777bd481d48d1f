"""Database models, engine set-up and migrations.

SQLite in the data directory is the default; PostgreSQL is used through
`PAIRVIEW_DATABASE_URL` (for example `postgresql+asyncpg://user@host/db`).
Migrations are Alembic scripts shipped in the package and run at start.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, ForeignKey, String, TypeDecorator, event
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite drops the offset, so values are stored naive in UTC and tagged
    with UTC again when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class RoomRecord(Base):
    """A room: only token hashes and times are kept, never the tokens."""

    __tablename__ = "rooms"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host_token_hash: Mapped[str] = mapped_column(String(64))
    invite_token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    invite_expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # Set when a signed-in host created the room: its account, and the
    # SHA-256 of the session that did, so that revoking the session ends it.
    owner_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    owner_session_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)


# Seconds to wait for a database server to accept a connection, and for
# any one statement: a hung server gives a quick "unavailable", not a hang.
CONNECT_TIMEOUT = 5.0
STATEMENT_TIMEOUT = 10.0


class DatabaseUnavailable(SQLAlchemyError):
    """The database server refused or did not answer a new connection.

    The driver raises a plain OSError or TimeoutError for these, which
    SQLAlchemy passes through unwrapped; as a SQLAlchemyError every handler
    that answers "database unavailable" catches it too.
    """


# What a database call raises when the database is down or hung: asyncpg's
# statement timeout is a plain TimeoutError that SQLAlchemy does not wrap.
DATABASE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, TimeoutError)


def create_engine(url: str) -> AsyncEngine:
    """Create the async engine; SQLite gets foreign keys and WAL turned on."""
    engine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
    else:
        event.listen(engine.sync_engine, "do_connect", _connect_or_report)
    return engine


def _connect_or_report(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
    if dialect.driver == "asyncpg":
        cparams.setdefault("timeout", CONNECT_TIMEOUT)
        cparams.setdefault("command_timeout", STATEMENT_TIMEOUT)
    try:
        return dialect.connect(*cargs, **cparams)
    except (OSError, TimeoutError) as error:
        raise DatabaseUnavailable(f"cannot connect to the database: {error}") from None


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the database schema up to the newest migration."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


# Every table must be known to the metadata wherever rooms are used, because
# rooms refer to users and migrations compare the metadata with the database.
import pairview.server.accounts.models  # noqa: E402
import pairview.server.audit.models  # noqa: E402
import pairview.server.usage.models  # noqa: E402, F401
