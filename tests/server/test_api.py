"""The REST API, pages and response headers of the running server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from pairview.server.runner import RunningServer, start_server
from pairview.settings import ServerSettings
from tests.server.wsclient import create_room, peer


async def test_create_room_gives_long_random_secrets(server: RunningServer) -> None:
    first = await create_room(server)
    second = await create_room(server)

    for room in (first, second):
        # token_urlsafe(16) and (32): 128 and 256 random bits.
        assert len(room["room_id"]) >= 22
        assert len(room["host_token"]) >= 43
        assert len(room["invite_token"]) >= 43
        assert room["guest_url"].endswith(f"/r/{room['room_id']}#{room['invite_token']}")
    assert first["room_id"] != second["room_id"]
    assert first["invite_token"] != second["invite_token"]


async def test_invite_ttl_over_limit_rejected(server: RunningServer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{server.local_url}/api/rooms", json={"invite_ttl": 10**9})

    assert response.status_code == 422
    assert "invite_ttl" in response.json()["detail"]


async def test_malformed_body_rejected(server: RunningServer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{server.local_url}/api/rooms", json={"invite_ttl": "soon"})

    assert response.status_code == 422


async def test_room_creation_token_required_when_set(tmp_path: Path) -> None:
    settings = ServerSettings(
        data_dir=tmp_path, port=0, room_creation_token=SecretStr("s3cret-token")
    )
    running = await start_server(settings, access_log=False)
    try:
        async with httpx.AsyncClient() as client:
            missing = await client.post(f"{running.local_url}/api/rooms")
            wrong = await client.post(
                f"{running.local_url}/api/rooms", headers={"Authorization": "Bearer nope"}
            )
            right = await client.post(
                f"{running.local_url}/api/rooms", headers={"Authorization": "Bearer s3cret-token"}
            )
    finally:
        await running.stop()

    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert right.status_code == 201


async def test_end_room_needs_host_token(server: RunningServer) -> None:
    room = await create_room(server)
    url = f"{server.local_url}/api/rooms/{room['room_id']}"
    async with httpx.AsyncClient() as client:
        anonymous = await client.delete(url)
        guest = await client.delete(
            url, headers={"Authorization": f"Bearer {room['invite_token']}"}
        )
        async with peer(server) as member:
            await member.join(room)
            host = await client.delete(
                url, headers={"Authorization": f"Bearer {room['host_token']}"}
            )
            closed = await member.receive_type("room-closed")
        again = await client.delete(url, headers={"Authorization": f"Bearer {room['host_token']}"})

    assert anonymous.status_code == 401
    assert guest.status_code == 404
    assert host.status_code == 204
    assert closed["reason"] == "ended"
    assert again.status_code == 204


async def test_health_reports_ok(server: RunningServer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{server.local_url}/api/health")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize("path", ["/", "/r/AAAAAAAAAAAAAAAAAAAAAA", "/static/js/room.js"])
async def test_pages_carry_strict_security_headers(server: RunningServer, path: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(server.local_url + path)

    policy = response.headers["content-security-policy"]
    assert response.status_code == 200
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_pages_load_nothing_from_elsewhere(server: RunningServer) -> None:
    async with httpx.AsyncClient() as client:
        room_page = (await client.get(f"{server.local_url}/r/AAAAAAAAAAAAAAAAAAAAAA")).text

    assert "<script>" not in room_page
    assert "style=" not in room_page
    for attribute in ('src="', 'href="'):
        for value in room_page.split(attribute)[1:]:
            assert value.startswith("/"), value[:60]


async def test_bad_room_page_path_is_404(server: RunningServer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{server.local_url}/r/short")

    assert response.status_code == 404
