"""Backups of a PostgreSQL database with pg_dump, restored with pg_restore and psql.

pg_dump reads one consistent snapshot while the server keeps running. A
restore drops every table of the database's current schema and loads the
dump in a single transaction, so it either replaces everything or
changes nothing. The client tools must have the server's major version:
an older pg_dump refuses a newer server, and a newer pg_restore can write
SQL that an older server rejects.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from pairview.server.backup.errors import BackupError

TIMEOUT = 3600.0

# Run before the dump's own SQL, in the same transaction.
DROP_EVERYTHING = r"""
DO $$
DECLARE
    item record;
BEGIN
    FOR item IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
        EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', item.tablename);
    END LOOP;
    FOR item IN
        SELECT p.oid::regprocedure AS signature FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema() AND p.proname LIKE 'pairview\_%'
    LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', item.signature);
    END LOOP;
END
$$;
"""


@dataclass(frozen=True, slots=True)
class Database:
    """The location and login of a PostgreSQL database.

    The tools get them as libpq environment variables, so no password appears in argv.
    """

    host: str | None
    port: int | None
    user: str | None
    password: str | None
    name: str
    sslmode: str | None = None

    @classmethod
    def from_url(cls, url: str) -> Database:
        parsed = make_url(url)
        if parsed.database is None:
            raise BackupError("The PostgreSQL URL names no database.")
        ssl = parsed.query.get("sslmode") or parsed.query.get("ssl")
        return cls(
            parsed.host,
            parsed.port,
            parsed.username,
            parsed.password,
            parsed.database,
            ssl if isinstance(ssl, str) else None,
        )

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        values = {
            "PGHOST": self.host,
            "PGPORT": str(self.port) if self.port else None,
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": self.name,
            "PGSSLMODE": self.sslmode,
        }
        env.update({key: value for key, value in values.items() if value})
        return env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed; install the PostgreSQL client tools of your server's "
            "version (on Debian: postgresql-client)."
        )
    return path


def _run(
    argv: list[str], database: Database, stdin: bytes | None = None, operation: str = ""
) -> bytes:
    try:
        result = subprocess.run(
            argv,
            input=stdin,
            env=database.environment(),
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BackupError(f"{operation or argv[0]} timed out after {TIMEOUT:g} s.") from None
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip().splitlines()
        raise BackupError(f"{operation or argv[0]} failed: {' '.join(detail[-3:]) or 'no output'}")
    return result.stdout


def tool_major(name: str) -> int:
    """Return the major version of a client tool, from "pg_dump (PostgreSQL) 15.20 (...)"."""
    output = subprocess.run(
        [_tool(name), "--version"], capture_output=True, text=True, timeout=60, check=False
    ).stdout
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", output)
    if match is None:
        raise BackupError(f"Cannot read the version of {name} from {output.strip()!r}.")
    return int(match.group(1))


def server_major(database: Database) -> int:
    query = [_tool("psql"), "-X", "-A", "-t", "-c", "SHOW server_version_num"]
    number = _run(query, database, operation="asking the PostgreSQL server for its version")
    return int(number.decode().strip()) // 10000


def check_versions(database: Database, tools: tuple[str, ...]) -> None:
    """Raise BackupError unless each tool has the server's major version."""
    server = server_major(database)
    for name in tools:
        tool = tool_major(name)
        if tool != server:
            raise BackupError(
                f"{name} is version {tool}, the PostgreSQL server version {server}: install "
                f"the client tools of version {server} (on Debian: postgresql-client-{server})."
            )


def tables(database: Database) -> set[str]:
    """Return the names of the tables in the database's current schema."""
    query = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    argv = [_tool("psql"), "-X", "-A", "-t", "-c", query]
    output = _run(argv, database, operation="listing the tables").decode()
    return {line for line in output.splitlines() if line}


def check_own_schema(database: Database) -> None:
    """Raise BackupError if the schema has tables that are not Pairview's.

    A restore drops every table of the schema first, and must not take
    another application's tables with it.
    """
    from pairview.server.db import Base

    ours = set(Base.metadata.tables) | {"alembic_version"}
    foreign = sorted(tables(database) - ours)
    if foreign:
        raise BackupError(
            f"Database {database.name} has tables that are not Pairview's "
            f"({', '.join(foreign[:10])}); a restore would drop them. Restore into a database "
            "of Pairview's own."
        )


def create(database: Database, target: str) -> None:
    """Dump the database into the new file `target`, in pg_dump's custom format."""
    check_versions(database, ("pg_dump", "pg_restore"))
    argv = [
        _tool("pg_dump"),
        "--format=custom",
        "--no-owner",
        "--no-privileges",
        f"--file={target}",
    ]
    _run(argv, database, operation="pg_dump")


def revision(dump: str) -> str | None:
    """Return the schema revision stored in a dump."""
    argv = [_tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", dump]
    output = _run(
        argv, Database(None, None, None, None, "-"), operation="reading the backup"
    ).decode()
    match = re.search(r"COPY \S*alembic_version \(version_num\) FROM stdin;\n([^\n\\]+)\n", output)
    return match.group(1) if match else None


def restore(dump: str, database: Database) -> None:
    """Replace every table of the database with the dump's, in one transaction."""
    check_versions(database, ("pg_restore", "psql"))
    check_own_schema(database)
    script = _run(
        [_tool("pg_restore"), "--no-owner", "--no-privileges", "--file=-", dump],
        database,
        operation="reading the backup",
    )
    argv = [_tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", "-"]
    _run(argv, database, DROP_EVERYTHING.encode() + script, operation="restoring with psql")
