"""The account commands: `pairview login`, `logout`, `db upgrade` and `admin`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import ssl
import sys

from pairview.errors import PairviewError
from pairview.login import CredentialStore, login_with_code, login_with_password, logout
from pairview.settings import ServerSettings, load_settings


def run(args: argparse.Namespace) -> int:
    if args.command == "login":
        return _login(args)
    if args.command == "logout":
        return _logout(args)
    settings = load_settings(
        ServerSettings, args.config, database_url=args.database_url, data_dir=args.data_dir
    )
    if args.command == "db":
        from pairview.server.accounts.admin import upgrade_database

        asyncio.run(upgrade_database(settings))
        print("The database is up to date.")
        return 0
    if args.admin_command == "create-user":
        return _create_user(args, settings)
    if args.admin_command == "delete-user":
        return _delete_user(args, settings)
    return _list_users(settings)


def _read_secret(prompt: str, from_stdin: bool) -> str:
    """Read a password or code from a prompt, or the first line of standard input."""
    if from_stdin or not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = getpass.getpass(prompt)
    if not value:
        raise PairviewError(f"No {prompt.removesuffix(': ').lower()} given.")
    return value


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=args.cafile) if args.cafile else None


def _server(url: str) -> str:
    url = url.rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise PairviewError(f"Expected the server's http:// or https:// URL, got {url!r}.")
    return url


def _login(args: argparse.Namespace) -> int:
    server = _server(args.server)
    store = CredentialStore()
    if args.code:
        code = _read_secret("One-time code: ", args.password_stdin)
        login = asyncio.run(login_with_code(server, code, _ssl_context(args)))
    else:
        email = args.email or input("Email: ").strip()
        password = _read_secret("Password: ", args.password_stdin)
        login = asyncio.run(
            login_with_password(
                server, email, password, store.device_token(server), _ssl_context(args)
            )
        )
    store.put(login)
    print(f"Logged in to {server} as {login.display_name}.")
    return 0


def _logout(args: argparse.Namespace) -> int:
    server = _server(args.server)
    store = CredentialStore()
    login = store.get(server)
    if login is None:
        print(f"Not logged in to {server}.")
        return 0
    asyncio.run(logout(server, login.token, _ssl_context(args)))
    store.remove(server)
    print(f"Logged out of {server}; every session of the account has ended.")
    return 0


def _create_user(args: argparse.Namespace, settings: ServerSettings) -> int:
    from pairview.server.accounts.admin import create_user
    from pairview.server.accounts.validation import InvalidInput

    password = _read_secret("Password: ", args.password_stdin)
    confirm = not args.password_stdin and sys.stdin.isatty()
    if confirm and getpass.getpass("Password again: ") != password:
        raise PairviewError("The two passwords differ.")
    try:
        user_id = asyncio.run(create_user(settings, args.email, args.name, password, args.admin))
    except InvalidInput as error:
        raise PairviewError(f"{error.field}: {error}") from None
    role = "admin" if args.admin else "user"
    print(f"Created {role} account {user_id}.")
    return 0


def _list_users(settings: ServerSettings) -> int:
    from pairview.server.accounts.admin import list_users

    for user_id, email, name, role in asyncio.run(list_users(settings)):
        print(f"{user_id}\t{email}\t{name}\t{role}")
    return 0


def confirm(question: str, assume_yes: bool) -> None:
    """Ask `question` at the terminal, and raise PairviewError unless the user types yes."""
    if assume_yes:
        return
    if not sys.stdin.isatty():
        raise PairviewError(f"{question} Give --yes to confirm when not at a terminal.")
    if input(f"{question} Type yes to go on: ").strip().lower() != "yes":
        raise PairviewError("Nothing was changed.")


def _delete_user(args: argparse.Namespace, settings: ServerSettings) -> int:
    from pairview.server.accounts.admin import delete_user, find_user
    from pairview.server.accounts.errors import AccountError

    try:
        user_id, email, name = asyncio.run(find_user(settings, args.account))
        confirm(f"Delete the account {user_id} ({email}, {name}) and its personal data?", args.yes)
        asyncio.run(delete_user(settings, user_id))
    except AccountError as error:
        raise PairviewError(str(error)) from None
    print(f"Deleted account {user_id}; its usage statistics no longer name it.")
    return 0
