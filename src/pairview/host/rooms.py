"""Creating and ending the host's room through the server's REST API."""

from __future__ import annotations

import ssl
from datetime import datetime

import httpx

from pairview.errors import PairviewError
from pairview.host.share import RoomTicket


async def create_room(
    server_url: str,
    bearer: str | None,
    invite_ttl: float,
    ssl_context: ssl.SSLContext | None,
) -> RoomTicket:
    """Ask the server for a new room, or raise PairviewError with the server's reason."""
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    verify: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
    try:
        async with httpx.AsyncClient(verify=verify, timeout=15) as client:
            response = await client.post(
                f"{server_url}/api/rooms", json={"invite_ttl": invite_ttl}, headers=headers
            )
    except httpx.HTTPError as error:
        raise PairviewError(f"Cannot reach the Pairview server at {server_url}: {error}") from None
    if response.status_code != 201:
        raise PairviewError(
            f"The server at {server_url} did not create a room "
            f"(HTTP {response.status_code}): {_detail(response)}"
        )
    body = response.json()
    return RoomTicket(
        server_url=server_url,
        room_id=body["room_id"],
        host_token=body["host_token"],
        guest_url=body["guest_url"],
        invite_expires_at=datetime.fromisoformat(body["invite_expires_at"]),
    )


async def end_room(ticket: RoomTicket, ssl_context: ssl.SSLContext | None) -> None:
    """End the room on the server; succeeds quietly if it has already ended."""
    verify: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
    async with httpx.AsyncClient(verify=verify, timeout=5) as client:
        await client.delete(
            f"{ticket.server_url}/api/rooms/{ticket.room_id}",
            headers={"Authorization": f"Bearer {ticket.host_token}"},
        )


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail) if detail else response.text[:200]
