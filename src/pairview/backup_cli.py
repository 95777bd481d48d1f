"""The `pairview backup` commands: create, list, restore and prune database backups."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path

from pairview.accounts_cli import confirm
from pairview.server.backup.store import BackupFile
from pairview.settings import ServerSettings, load_settings


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = commands.add_parser(
        "backup",
        help="back up, list, restore and prune the server's database",
        description="Back up the server's database (SQLite with its online backup API, "
        "PostgreSQL with pg_dump) into the backups directory, readable by its owner only. "
        "Backups older than the backup retention (default 15 days) are deleted by `create` "
        "and `prune`; run `pairview backup create` daily, for example from cron.",
    )
    actions = backup.add_subparsers(dest="backup_command", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="back up the database now, then prune expired backups",
        description="Back up the database now, while the server runs, then delete the "
        "backups older than the retention period.",
    )
    listing = actions.add_parser(
        "list", help="list the backups", description="List the backups, oldest first."
    )
    restore = actions.add_parser(
        "restore",
        help="replace the database's content with a backup",
        description="Replace every table of the database with a backup's, then migrate it to "
        "this version's schema. Stop the server first. A backup made by a newer Pairview "
        "is refused.",
    )
    restore.add_argument("name", help="the backup's file name, as `pairview backup list` shows")
    restore.add_argument("--yes", action="store_true", help="restore without asking first")
    prune = actions.add_parser(
        "prune",
        help="delete the backups older than the retention period",
        description="Delete the backups older than the backup retention period.",
    )
    for command in (create, listing, restore, prune):
        command.add_argument(
            "--database-url", help="SQLAlchemy URL (default: SQLite in --data-dir)"
        )
        command.add_argument("--data-dir", type=Path, help="the server's data directory")
        command.add_argument(
            "--backup-dir",
            type=Path,
            help="directory of the backups (default: backups in the data directory)",
        )
        command.add_argument(
            "--backup-retention",
            help="how long backups are kept, such as 15d (default: 15d)",
        )


def run(args: argparse.Namespace) -> int:
    from pairview.server.backup import operations

    settings = load_settings(
        ServerSettings,
        args.config,
        database_url=args.database_url,
        data_dir=args.data_dir,
        backup_dir=args.backup_dir,
        backup_retention=args.backup_retention,
    )
    if args.backup_command == "create":
        created, pruned = asyncio.run(operations.create_backup(settings))
        print(f"Created {created.path} ({created.size} bytes).")
        _print_pruned(pruned)
    elif args.backup_command == "list":
        _list(settings)
    elif args.backup_command == "restore":
        info = asyncio.run(operations.check_backup(settings, args.name))
        confirm(
            f"Replace every table of {_describe(settings)} with backup {info.file.name} "
            f"of {_when(info.file.created_at)}? Changes made since then are lost.",
            args.yes,
        )
        asyncio.run(operations.restore_backup(settings, args.name))
        print(f"Restored {info.file.name}; the database is at the current schema.")
    else:
        _print_pruned(asyncio.run(operations.prune_backups(settings)))
    return 0


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _describe(settings: ServerSettings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)


def _list(settings: ServerSettings) -> None:
    from pairview.server.backup import operations

    backups = asyncio.run(operations.list_backups(settings))
    if not backups:
        print(f"No backups in {settings.resolved_backup_dir}.")
        return
    now = datetime.now(UTC)
    for info in backups:
        backup = info.file
        age = (now - backup.created_at).total_seconds() / 86400
        expires = backup.created_at.timestamp() + settings.backup_retention
        left = max(0.0, (expires - now.timestamp()) / 86400)
        print(
            f"{backup.name}\t{_when(backup.created_at)}\t{age:.1f} days old\t"
            f"deleted in {left:.1f} days\t{backup.size} bytes\tschema {info.revision or '?'}"
        )


def _print_pruned(pruned: list[BackupFile]) -> None:
    for backup in pruned:
        print(f"Deleted expired backup {backup.name}.")
