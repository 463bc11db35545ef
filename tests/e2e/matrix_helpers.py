"""Helpers for the Matrix end-to-end tests: nio clients for registered users, rooms, reads."""

from __future__ import annotations

from typing import Any

import aiohttp
from nio import AsyncClient, RoomCreateResponse, RoomMessagesResponse, RoomPreset

from adapters.matrix.responses import client_config
from tests.e2e.synapse import RegisteredUser, SynapseServer


def client_for(
    server: SynapseServer, user: RegisteredUser, *, timeout: float = 10.0
) -> AsyncClient:
    """A logged-in nio client that never retries on its own (as the executor requires)."""
    client = AsyncClient(
        server.base_url, user.user_id, config=client_config(request_timeout=timeout)
    )
    client.restore_login(user.user_id, user.device_id, user.access_token)
    return client


async def new_room(client: AsyncClient, **options: Any) -> str:
    """The id of a room ``client`` makes with nio's ``room_create(**options)``."""
    response = await client.room_create(**options)
    assert isinstance(response, RoomCreateResponse), response
    room_id: str = response.room_id
    return room_id


async def create_room(
    client: AsyncClient,
    *,
    version: str,
    joiners: tuple[AsyncClient, ...] = (),
    additional_creators: tuple[str, ...] = (),
) -> str:
    """A public room of ``version`` made by ``client``; every joiner joins it."""
    if additional_creators:
        # nio's room_create cannot pass additional_creators in creation_content.
        room_id = await _create_room_raw(client, version, list(additional_creators))
    else:
        room_id = await new_room(client, room_version=version, preset=RoomPreset.public_chat)
    for joiner in joiners:
        joined = await joiner.join(room_id)
        assert getattr(joined, "room_id", None) == room_id, joined
    return room_id


async def _create_room_raw(client: AsyncClient, version: str, creators: list[str]) -> str:
    body = {
        "room_version": version,
        "preset": "public_chat",
        "creation_content": {"additional_creators": creators},
    }
    headers = {"Authorization": f"Bearer {client.access_token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{client.homeserver}/_matrix/client/v3/createRoom", json=body, headers=headers
        ) as response,
    ):
        answer: dict[str, Any] = await response.json()
        assert response.status == 200, answer
        room_id: str = answer["room_id"]
        return room_id


async def power_levels(client: AsyncClient, room_id: str) -> dict[str, Any]:
    """The room's current m.room.power_levels content as ``client`` reads it."""
    response = await client.room_get_state_event(room_id, "m.room.power_levels")
    content: dict[str, Any] = response.content
    return content


async def set_level(client: AsyncClient, room_id: str, user_id: str, level: int) -> None:
    """Give ``user_id`` an explicit power level (by hand, as a room admin would)."""
    content = await power_levels(client, room_id)
    content.setdefault("users", {})[user_id] = level
    response = await client.room_put_state(room_id, "m.room.power_levels", content)
    assert getattr(response, "event_id", None), response


async def membership(client: AsyncClient, room_id: str, user_id: str) -> str | None:
    """``user_id``'s membership in ``room_id`` as ``client`` sees it (None: never a member)."""
    response = await client.room_get_state_event(room_id, "m.room.member", user_id)
    value = getattr(response, "content", {}).get("membership")
    return value if isinstance(value, str) else None


async def bodies(client: AsyncClient, room_id: str, msgtype: str | None = None) -> list[str]:
    """Bodies of the room's latest messages (oldest first), as ``client`` reads them."""
    response = await client.room_messages(room_id, limit=100)
    assert isinstance(response, RoomMessagesResponse), response
    found = []
    for event in reversed(response.chunk):
        content = event.source.get("content", {})
        if event.source.get("type") == "m.room.message" and (
            msgtype is None or content.get("msgtype") == msgtype
        ):
            found.append(content.get("body", ""))
    return found


async def send_text(client: AsyncClient, room_id: str, text: str) -> Any:
    """Send a plain m.text; returns nio's response value (success or error) unchecked."""
    return await client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": text})
