"""Answers to people who spoke to the bot: an m.notice in the room they used."""

from __future__ import annotations

from nio import AsyncClient, RoomSendResponse

from adapters.matrix.responses import error_from_response
from domain.model import Channel
from domain.ports import split_message

# Matrix events are at most 64 KiB of JSON: 10,000 characters fit whatever their UTF-8 size.
LIMIT = 10_000


class MatrixReplier:
    """Sends m.notice answers (to commands, to direct messages) with the executor's client."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def reply(self, channel: Channel, text: str) -> None:
        """Post ``text`` as m.notice messages (split if long) in the room of ``channel``;
        raise on failure."""
        for part in split_message(text, LIMIT):
            response = await self._client.room_send(
                channel.id, "m.room.message", {"msgtype": "m.notice", "body": part}
            )
            if not isinstance(response, RoomSendResponse):
                error = error_from_response(response, f"answer in {channel.id}")
                if error is not None:
                    raise error
