"""Usage statistics of a real share: `pairview share` against a standalone `pairview server`.

The server and the host app run in the host namespace, a headless
Chromium guest in the guest namespace. The test reads the server's
SQLite database, as an operator's dashboard would.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pairview import __version__
from pairview.host.client_info import leading_version
from pairview.server.tokens import load_or_create_secret_key
from pairview.server.usage.events import UsageKeys
from tests.e2e import test_share
from tests.e2e.test_share import GuestFactory, Network, watch
from tests.support.desktop import PatternApp
from tests.support.share import running_server, running_share
from tests.support.timing import wait_for
from tests.support.xvfb import Display

pytestmark = pytest.mark.e2e

# The screen, the namespaces and the browser, as the screen sharing tests set them up.
display = test_share.display
pattern = test_share.pattern
network = test_share.network
nothing_leaves = test_share.nothing_leaves
browser = test_share.browser
open_guest = test_share.open_guest


def usage_events(database: Path) -> list[dict[str, Any]]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        connection.row_factory = sqlite3.Row
        rows = connection.execute("SELECT * FROM usage_events ORDER BY id").fetchall()
        return [dict(row) for row in rows]
    finally:
        connection.close()


def counted(database: Path, kind: str, count: int) -> list[dict[str, Any]] | None:
    rows = usage_events(database)
    return rows if sum(row["kind"] == kind for row in rows) >= count else None


def test_share_and_guest_are_counted(
    network: Network,
    display: Display,
    tmp_path: Path,
    open_guest: GuestFactory,
    pattern: PatternApp,
) -> None:
    host = network.lan.host
    data_dir = tmp_path / "server"
    database = data_dir / "pairview.db"
    with running_server(host, data_dir, env={"PAIRVIEW_RECONNECT_GRACE": "2"}) as server:
        server_args = ["--server", server.url, "--cafile", str(server.cafile)]
        with running_share(host, display.name, tmp_path / "share", server_args) as share:
            page = open_guest()
            watch(page, share.link, "Ana", pattern)
            share.wait_for_line(r"Ana \(peer [A-Za-z0-9_-]+\): connected directly", 20)
            joined = wait_for(
                lambda: counted(database, "peer-connection", 1), 10, what="a peer-connection event"
            )

            page.close()
            wait_for(lambda: counted(database, "participant-left", 1), 20, what="the guest leaving")
            share.interrupt()
            assert share.wait(timeout=20) == 0
        rows = wait_for(lambda: counted(database, "room-ended", 1), 10, what="the room ending")

    kinds = Counter(row["kind"] for row in rows)
    assert kinds == {
        "room-created": 1,
        "room-started": 1,
        "room-ended": 1,
        "participant-joined": 2,
        "participant-left": 2,
        "client-connected": 2,
        "presenter-changed": 1,
        "peer-connection": 1,
    }
    connection = next(row for row in joined if row["kind"] == "peer-connection")
    assert connection["detail"] == "direct"

    clients = {row["role"]: row for row in rows if row["kind"] == "client-connected"}
    assert clients["host"]["client"] == f"Pairview {leading_version(__version__, 3)}"
    assert clients["host"]["os"].startswith("Linux ")
    assert clients["guest"]["client"].startswith(("Chromium ", "Chrome "))
    assert clients["guest"]["os"] == "Linux"

    keys = UsageKeys(load_or_create_secret_key(data_dir))
    guest_joined = next(
        row for row in rows if row["kind"] == "participant-joined" and row["role"] == "guest"
    )
    assert guest_joined["participant_ref"] == keys.participant_ref("Ana")
    room_refs = {row["room_ref"] for row in rows if row["room_ref"] is not None}
    assert len(room_refs) == 1

    stored = repr(rows)
    for secret in ("Ana", host.address, network.lan.guest.address, "v=0", share.link):
        assert secret not in stored
