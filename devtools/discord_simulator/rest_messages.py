"""REST routes for the bot's identity, the gateway URL, channels, DMs and messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from aiohttp import web

from . import events
from . import permissions as perms
from .entities import DM_CHANNEL, Channel, Message, User
from .payloads import (
    application_payload,
    channel_payload,
    me_payload,
    message_payload,
    user_payload,
)
from .responses import ApiError, invalid_form, json_answer, missing_permissions, no_content
from .rest_base import RouteGroup, snowflake_value

MAX_CONTENT: Final = 2000
#: How long Discord remembers an enforced nonce ("the past few minutes").
NONCE_MEMORY: Final = timedelta(minutes=5)


def check_content(content: str, embeds: list[Any]) -> None:
    """Discord's limits on a message body: not empty, at most 2,000 characters."""
    if len(content) > MAX_CONTENT:
        raise invalid_form(
            "content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length."
        )
    if not content and not embeds:
        raise ApiError(400, 50006, "Cannot send an empty message")


class MessageRoutes(RouteGroup):
    """Users, gateway discovery, channels, DM channels and messages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (author, nonce) -> the message it created: ``enforce_nonce`` makes a repeated
        # create (a retry whose first answer was lost) return that message, not a new one.
        self._nonces: dict[tuple[int, str], Message] = {}

    def routes(self) -> list[web.RouteDef]:
        """The routes of this group, relative to the API prefix."""
        return [
            web.get("/users/@me", self.get_me),
            web.post("/users/@me/channels", self.open_dm),
            web.get("/users/{user_id}", self.get_user),
            web.get("/oauth2/applications/@me", self.get_application),
            web.get("/gateway", self.get_gateway),
            web.get("/gateway/bot", self.get_gateway_bot),
            web.get("/channels/{channel_id}", self.get_channel),
            web.get("/channels/{channel_id}/messages", self.list_messages),
            web.post("/channels/{channel_id}/messages", self.create_message),
            web.post("/channels/{channel_id}/messages/bulk-delete", self.bulk_delete),
            web.get("/channels/{channel_id}/messages/{message_id}", self.get_message),
            web.patch("/channels/{channel_id}/messages/{message_id}", self.edit_message),
            web.delete("/channels/{channel_id}/messages/{message_id}", self.delete_message),
        ]

    async def get_me(self, request: web.Request) -> web.Response:
        """``GET /users/@me``: the bot itself (a bad token never gets here: 401)."""
        return json_answer(me_payload(self.bot(request)))

    async def get_user(self, request: web.Request) -> web.Response:
        """``GET /users/{id}``."""
        return json_answer(user_payload(self.user(self.snowflake(request, "user_id"))))

    async def get_application(self, request: web.Request) -> web.Response:
        """``GET /oauth2/applications/@me``; the owner is the owner of the bot's first guild."""
        bot = self.bot(request)
        guilds = self.world.guilds_of(bot.id)
        owner = self.world.users[guilds[0].owner_id] if guilds else None
        return json_answer(application_payload(bot, owner))

    async def get_gateway(self, request: web.Request) -> web.Response:
        """``GET /gateway``: where to connect."""
        return json_answer({"url": self.gateway.url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        """``GET /gateway/bot``: where to connect, one shard, no session start limit to speak of."""
        return json_answer(
            {
                "url": self.gateway.url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def get_channel(self, request: web.Request) -> web.Response:
        """``GET /channels/{id}``."""
        return json_answer(channel_payload(self.world, self.channel(request)))

    async def open_dm(self, request: web.Request) -> web.Response:
        """``POST /users/@me/channels``: the DM channel with a user.

        Opening new DM channels too fast is refused with 403 40003 ("You are opening direct
        messages too fast", JSON error codes); an existing channel is handed back freely.
        """
        body = await self.body(request)
        bot = self.bot(request)
        recipient = self.user(snowflake_value(body.get("recipient_id"), "recipient_id"))
        if self.world.find_dm_channel(bot, recipient) is None:
            self._count_dm_open(bot)
        channel = self.world.dm_channel(bot, recipient)
        return json_answer(channel_payload(self.world, channel))

    def _count_dm_open(self, bot: User) -> None:
        limit, window = self.world.dm_open_limit
        now = self.world.clock()
        recent = [t for t in self.world.dm_opens.get(bot.id, []) if now - t < window]
        if len(recent) >= limit:
            self.world.dm_opens[bot.id] = recent
            raise ApiError(403, 40003, "You are opening direct messages too fast.")
        self.world.dm_opens[bot.id] = [*recent, now]

    async def list_messages(self, request: web.Request) -> web.Response:
        """``GET /channels/{id}/messages`` (``limit``, ``before``, ``after``), newest first."""
        channel = self.channel(request)
        if channel.guild_id is not None:
            self.require_in_channel(channel, self.bot(request), perms.READ_MESSAGE_HISTORY)
        messages = self.world.channel_messages(channel.id)
        limit = max(1, min(100, self.query_int(request, "limit", 50)))
        before = self.query_int(request, "before", 0)
        after = self.query_int(request, "after", 0)
        if before:
            messages = [m for m in messages if m.id < before]
        # With "after" Discord pages forward from it; otherwise back from the newest.
        messages = [m for m in messages if m.id > after][:limit] if after else messages[-limit:]
        return json_answer([message_payload(self.world, m) for m in reversed(messages)])

    async def get_message(self, request: web.Request) -> web.Response:
        """``GET /channels/{id}/messages/{id}``."""
        channel = self.channel(request)
        return json_answer(message_payload(self.world, self.message(request, channel)))

    async def create_message(self, request: web.Request) -> web.Response:
        """``POST /channels/{id}/messages``, with Discord's checks and the MESSAGE_CREATE echo."""
        channel = self.channel(request)
        bot = self.bot(request)
        body = await self.body(request)
        content = str(body.get("content") or "")
        embeds = list(body.get("embeds") or [])
        nonce = str(body["nonce"]) if body.get("enforce_nonce") and body.get("nonce") else ""
        earlier = self._nonces.get((bot.id, nonce)) if nonce else None
        if earlier is not None and datetime.now(UTC) - earlier.timestamp < NONCE_MEMORY:
            return json_answer(message_payload(self.world, earlier))
        check_content(content, embeds)
        if channel.type == DM_CHANNEL:
            self._check_dm_allowed(bot, channel)
        else:
            guild = self.world.guilds[channel.guild_id or 0]
            self.require_in_channel(channel, bot, perms.SEND_MESSAGES)
            if guild.members[bot.id].is_timed_out():
                raise missing_permissions()
        message = self.world.store_message(
            bot,
            channel,
            content,
            flags=int(body.get("flags") or 0),
            embeds=embeds,
            components=list(body.get("components") or []),
        )
        if nonce:
            if len(self._nonces) > 10_000:  # forget what Discord would have forgotten
                old = datetime.now(UTC) - NONCE_MEMORY
                self._nonces = {k: m for k, m in self._nonces.items() if m.timestamp > old}
            self._nonces[(bot.id, nonce)] = message
        events.message_created(self.world, self.gateway, message)
        return json_answer(message_payload(self.world, message))

    def _check_dm_allowed(self, bot: User, channel: Channel) -> None:
        # A DM reaches a user only if their settings allow DMs from members of a guild they
        # share with the bot; otherwise Discord answers 50007.
        recipient = self.world.users[next(u for u in channel.recipients if u != bot.id)]
        shares_guild = any(recipient.id in g.members for g in self.world.guilds_of(bot.id))
        if recipient.bot or not recipient.dms_open or not shares_guild:
            raise ApiError(403, 50007, "Cannot send messages to this user")

    async def edit_message(self, request: web.Request) -> web.Response:
        """``PATCH /channels/{id}/messages/{id}``: only the author may change the content."""
        channel = self.channel(request)
        message = self.message(request, channel)
        body = await self.body(request)
        if message.author_id != self.bot(request).id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        if "content" in body:
            message.content = str(body["content"] or "")
        if "embeds" in body:
            message.embeds = list(body["embeds"] or [])
        if "components" in body:
            message.components = list(body["components"] or [])
        check_content(message.content, message.embeds)
        message.edited_timestamp = datetime.now(UTC)
        events.message_updated(self.world, self.gateway, message)
        return json_answer(message_payload(self.world, message))

    async def delete_message(self, request: web.Request) -> web.Response:
        """``DELETE /channels/{id}/messages/{id}``: own ones, others' with Manage Messages."""
        channel = self.channel(request)
        message = self.message(request, channel)
        bot = self.bot(request)
        if message.author_id != bot.id:
            if channel.guild_id is None:
                raise ApiError(403, 50003, "Cannot execute action on a DM channel")
            self.require_in_channel(channel, bot, perms.MANAGE_MESSAGES)
        message.deleted = True
        events.message_deleted(self.world, self.gateway, message)
        return no_content()

    async def bulk_delete(self, request: web.Request) -> web.Response:
        """``POST /channels/{id}/messages/bulk-delete``: 2 to 100 messages, Manage Messages."""
        channel = self.channel(request)
        if channel.guild_id is None:
            raise ApiError(403, 50003, "Cannot execute action on a DM channel")
        self.require_in_channel(channel, self.bot(request), perms.MANAGE_MESSAGES)
        ids = [
            snowflake_value(i, "messages") for i in (await self.body(request)).get("messages", [])
        ]
        if not 2 <= len(ids) <= 100:
            raise invalid_form("messages", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100.")
        for message_id in ids:
            message = self.world.messages.get(message_id)
            if message is not None and message.channel_id == channel.id and not message.deleted:
                message.deleted = True
                events.message_deleted(self.world, self.gateway, message)
        return no_content()
