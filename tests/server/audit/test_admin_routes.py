"""Every admin route is for administrators only, and every call of one is logged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from pairview.server.app import create_app
from pairview.server.runner import RunningServer
from pairview.settings import ServerSettings
from tests.server.accounts.conftest import PASSWORD
from tests.server.audit.routes import admin_endpoints, api_routes, is_admin_path, requires_admin
from tests.support.accounts import csrf_headers, sign_in, sign_up
from tests.support.database_rows import fetch, make_admin
from tests.support.mailbox import Mailbox

AUDIT = "SELECT actor_id, action, target, address FROM audit_log ORDER BY id"


def app_of(server: RunningServer) -> Any:
    return server.server.config.app


def test_admin_paths_and_admin_checks_match(server_settings: ServerSettings) -> None:
    routes = api_routes(create_app(server_settings.model_copy(update={"accounts": True})))
    admin_paths = {route.path for route in routes if is_admin_path(route.path)}
    checked = {route.path for route in routes if requires_admin(route)}

    assert admin_paths == checked
    assert {"/admin", "/api/admin/users", "/api/admin/usage", "/api/admin/audit"} <= admin_paths


def test_audit_log_has_no_route_that_changes_it(server_settings: ServerSettings) -> None:
    routes = api_routes(create_app(server_settings.model_copy(update={"accounts": True})))
    audit = [route for route in routes if "audit" in route.path]

    assert audit
    for route in audit:
        assert route.methods <= {"GET", "HEAD"}, route.path


async def test_non_admin_gets_403_everywhere(
    client: httpx.AsyncClient, mailbox: Mailbox, accounts_server: RunningServer, database_url: str
) -> None:
    await sign_up(client, mailbox, "plain@example.org", PASSWORD, "Plain User")
    headers = await csrf_headers(client)
    endpoints = admin_endpoints(app_of(accounts_server))
    assert len(endpoints) >= 7

    for endpoint in endpoints:
        response = await client.request(endpoint.method, endpoint.path, headers=headers)
        assert response.status_code == 403, f"{endpoint.method} {endpoint.path}"

    user_id = (await client.get("/api/account")).json()["id"]
    logged = await fetch(database_url, AUDIT)
    assert [(row["action"], row["target"]) for row in logged] == [
        ("denied", f"{endpoint.method} {endpoint.path}") for endpoint in endpoints
    ]
    assert {row["actor_id"] for row in logged} == {user_id}
    assert {row["address"] for row in logged} == {"127.0.0.1"}


async def test_admin_calls_are_logged_in_order(
    client_factory: Callable[..., httpx.AsyncClient],
    mailbox: Mailbox,
    accounts_server: RunningServer,
    database_url: str,
) -> None:
    admin = client_factory()
    await sign_up(admin, mailbox, "admin@example.org", PASSWORD, "Ada Admin")
    await make_admin(database_url, "admin@example.org")
    other = client_factory()
    await sign_up(other, mailbox, "other@example.org", PASSWORD, "Other Olga")
    other_id = (await other.get("/api/account")).json()["id"]
    gets = [e for e in admin_endpoints(app_of(accounts_server)) if e.method == "GET"]

    for endpoint in gets:
        response = await admin.get(endpoint.path, follow_redirects=False)
        assert response.status_code in (200, 404), f"{endpoint.path}: {response.status_code}"
    deleted = await admin.delete(f"/api/admin/users/{other_id}", headers=await csrf_headers(admin))
    listed = await admin.get("/api/admin/audit", params={"limit": 2})
    older = await admin.get("/api/admin/audit", params={"before": listed.json()[-1]["id"]})

    assert deleted.status_code == 204
    admin_id = (await admin.get("/api/account")).json()["id"]
    logged = await fetch(database_url, AUDIT)
    expected = [f"GET {e.path}" for e in gets] + [f"DELETE /api/admin/users/{other_id}"]
    expected.append("GET /api/admin/audit?limit=2")
    assert [row["target"] for row in logged][: len(expected)] == expected
    assert {(row["actor_id"], row["action"]) for row in logged} == {(admin_id, "request")}
    # The log reads newest first, and pages back from an entry.
    newest = listed.json()
    assert [entry["target"] for entry in newest] == [expected[-1], expected[-2]]
    assert older.json()[0]["target"] == expected[-3]
    assert len(older.json()) == len(expected) - 2


async def test_admin_cannot_delete_own_account(
    client: httpx.AsyncClient, mailbox: Mailbox, database_url: str
) -> None:
    await sign_up(client, mailbox, "admin@example.org", PASSWORD, "Ada Admin")
    await make_admin(database_url, "admin@example.org")
    own = (await client.get("/api/account")).json()["id"]

    refused = await client.delete(f"/api/admin/users/{own}", headers=await csrf_headers(client))
    unknown = await client.delete("/api/admin/users/nobody", headers=await csrf_headers(client))

    assert refused.status_code == 409
    assert unknown.status_code == 404
    assert "nobody" in unknown.json()["detail"]
    assert (await sign_in(client, "admin@example.org", PASSWORD)).status_code == 200
