"""Reading a test database generically: every row of every table, every text value."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sqlalchemy import String, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.timing import seconds

Rows = dict[str, list[tuple[Any, ...]]]


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def _all_rows(connection: Connection) -> Rows:
    rows: Rows = {}
    for table in sorted(inspect(connection).get_table_names()):
        columns = [column["name"] for column in inspect(connection).get_columns(table)]
        names = ", ".join(_quote(connection, name) for name in columns)
        result = connection.execute(text(f"SELECT {names} FROM {_quote(connection, table)}"))  # noqa: S608
        rows[table] = sorted((tuple(row) for row in result), key=repr)
    return rows


def _text_values(connection: Connection) -> list[tuple[str, str, str]]:
    found = []
    for table in inspect(connection).get_table_names():
        for column in inspect(connection).get_columns(table):
            if not isinstance(column["type"], String):
                continue
            name = _quote(connection, column["name"])
            query = f"SELECT {name} FROM {_quote(connection, table)} WHERE {name} IS NOT NULL"  # noqa: S608
            for (value,) in connection.execute(text(query)):
                found.append((table, column["name"], str(value)))
    return found


async def _run(database_url: str, function: Callable[[Connection], Any]) -> Any:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(function)
    finally:
        await engine.dispose()


async def all_rows(database_url: str) -> Rows:
    """Return every row of every table, each table's rows in a stable order."""
    rows: Rows = await _run(database_url, _all_rows)
    return rows


async def text_values(database_url: str) -> list[tuple[str, str, str]]:
    """Return (table, column, value) for every value of every text column of every table."""
    values: list[tuple[str, str, str]] = await _run(database_url, _text_values)
    return values


async def execute(database_url: str, statement: str, **parameters: Any) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement), parameters)
    finally:
        await engine.dispose()


async def fetch(database_url: str, query: str, **parameters: Any) -> list[dict[str, Any]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(query), parameters)
            return [dict(row) for row in result.mappings()]
    finally:
        await engine.dispose()


async def make_admin(database_url: str, email: str) -> None:
    await execute(database_url, "UPDATE users SET role = 'admin' WHERE email = :email", email=email)


async def wait_for_rows(
    database_url: str,
    query: str,
    check: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 10,
    **parameters: Any,
) -> list[dict[str, Any]]:
    """Run `query` until `check` accepts its rows; fail after `timeout` base seconds."""
    deadline = asyncio.get_running_loop().time() + seconds(timeout)
    rows: list[dict[str, Any]] = []
    while asyncio.get_running_loop().time() < deadline:
        rows = await fetch(database_url, query, **parameters)
        if check(rows):
            return rows
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {seconds(timeout):g} s waiting for rows; last: {rows}")
