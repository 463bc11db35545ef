"""What every group of REST routes needs: the world, the gateway, lookups that answer 404s."""

from __future__ import annotations

import json
from typing import Any, Final

from aiohttp import web

from . import permissions as perms
from .entities import EPHEMERAL, Channel, Guild, Member, Message, User
from .gateway import Gateway
from .responses import ApiError, invalid_form, missing_access, missing_permissions, unknown
from .state import World

#: Where discord.py's ``Route.BASE`` must point, below the simulator's root URL.
API_PREFIX: Final = "/api/v10"


class RouteGroup:
    """Base of the REST route groups: shared state and the lookups every route makes."""

    def __init__(self, world: World, gateway: Gateway) -> None:
        self.world = world
        self.gateway = gateway

    def bot(self, request: web.Request) -> User:
        """The bot that made this request, from its Authorization header, or 401."""
        bot = authenticated_bot(self.world, request)
        if bot is None:
            raise ApiError(401, 0, "401: Unauthorized")
        return bot

    @staticmethod
    async def body(request: web.Request) -> dict[str, Any]:
        """The JSON body, also from a multipart ``payload_json`` (messages with files)."""
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            raw = form.get("payload_json")
            return _object(json.loads(str(raw))) if raw is not None else {}
        if not request.body_exists:
            return {}
        return _object(await json_body(request))

    @staticmethod
    def snowflake(request: web.Request, name: str) -> int:
        """A snowflake path parameter; a malformed one is Discord's 400 50035 (not a 404)."""
        return snowflake_value(request.match_info[name], name)

    @staticmethod
    def query_int(request: web.Request, name: str, default: int) -> int:
        """An integer query parameter; a malformed one is Discord's 400 Invalid Form Body."""
        raw = request.query.get(name)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise invalid_form(name, "NUMBER_TYPE_COERCE", "Value is not int.") from None

    def guild(self, request: web.Request) -> Guild:
        """The guild of the path; the bot must be a member of it."""
        guild = self.world.guilds.get(self.snowflake(request, "guild_id"))
        if guild is None:
            raise unknown("Guild")
        if self.bot(request).id not in guild.members:
            raise missing_access()
        return guild

    def channel(self, request: web.Request) -> Channel:
        """The channel of the path; the bot must be able to see it."""
        channel = self.world.channels.get(self.snowflake(request, "channel_id"))
        if channel is None:
            raise unknown("Channel")
        bot = self.bot(request)
        if channel.guild_id is None:
            if bot.id not in channel.recipients:
                raise missing_access()
        else:
            guild = self.world.guilds[channel.guild_id]
            if bot.id not in guild.members:
                raise missing_access()
            # A channel hidden by its overwrites is "Missing Access", as on Discord.
            if not self.world.channel_permissions(channel, bot.id) & perms.VIEW_CHANNEL:
                raise missing_access()
        return channel

    def message(self, request: web.Request, channel: Channel) -> Message:
        """The message of the path, in ``channel``, not deleted."""
        message = self.world.messages.get(self.snowflake(request, "message_id"))
        if message is None or message.deleted or message.channel_id != channel.id:
            raise unknown("Message")
        if message.flags & EPHEMERAL:
            raise unknown("Message")  # only the interaction's own webhook routes reach it
        return message

    def member(self, guild: Guild, user_id: int) -> Member:
        """A member of ``guild``, or 404 Unknown Member."""
        member = guild.members.get(user_id)
        if member is None:
            raise unknown("Member")
        return member

    def user(self, user_id: int) -> User:
        """Any user, or 404 Unknown User."""
        user = self.world.users.get(user_id)
        if user is None:
            raise unknown("User")
        return user

    def require(self, guild: Guild, bot: User, needed: int) -> None:
        """403 Missing Permissions unless the bot holds ``needed`` in ``guild``."""
        if not perms.has(self.world.permissions_of(guild, bot.id), needed):
            raise missing_permissions()

    def require_in_channel(self, channel: Channel, bot: User, needed: int) -> None:
        """403 50013 unless the bot holds ``needed`` in this guild channel, overwrites and all."""
        if not perms.has(self.world.channel_permissions(channel, bot.id), needed):
            raise missing_permissions()

    def require_outranks(self, guild: Guild, bot: User, target_id: int) -> None:
        """403 Missing Permissions unless the role hierarchy lets the bot act on the target."""
        if not self.world.outranks(guild, bot.id, target_id):
            raise missing_permissions()


def authenticated_bot(world: World, request: web.Request) -> User | None:
    """The bot whose token is in the request's ``Authorization: Bot ...`` header, if any."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return world.user_by_token(token) if scheme == "Bot" and token else None


async def json_body(request: web.Request) -> Any:
    """The request's JSON; a body that does not parse is Discord's 400 50109 (not a 500)."""
    try:
        return json.loads(await request.read())
    except ValueError:
        raise ApiError(400, 50109, "The request body contains invalid JSON.") from None


def snowflake_value(value: Any, field: str) -> int:
    """A snowflake from a path or a body field: digits only, as Discord parses them.

    Discord answers a malformed one with 400 Invalid Form Body naming the field
    (``NUMBER_TYPE_COERCE``), which discord.py raises as HTTPException, not a retried 500.
    """
    text = str(value)
    if not text.isascii() or not text.isdigit() or int(text) >= 1 << 64:
        raise invalid_form(field, "NUMBER_TYPE_COERCE", f'Value "{text}" is not snowflake.')
    return int(text)


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError(400, 50109, "The request body contains invalid JSON.")
    return value
