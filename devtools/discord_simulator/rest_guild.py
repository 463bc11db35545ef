"""REST routes for guilds and members: timeouts, roles, kicks and bans, with Discord's checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import unquote

from aiohttp import web

from . import events
from . import permissions as perms
from .entities import Ban, Guild, Member, User
from .payloads import ban_payload, channel_payload, guild_payload, member_payload, role_payload
from .responses import invalid_form, json_answer, missing_permissions, no_content, unknown
from .rest_base import RouteGroup, snowflake_value

MAX_TIMEOUT: Final = timedelta(days=28)
#: The client computes "now + 28 days" a few milliseconds before the simulator checks it;
#: Discord refuses that exact 28 days, so the simulator allows for the transit time.
CLOCK_ALLOWANCE: Final = timedelta(seconds=10)
MAX_DELETE_MESSAGE_SECONDS: Final = 7 * 24 * 3600


def parse_time(value: Any, field: str) -> datetime | None:
    """An ISO 8601 timestamp from a body (None stays None); naive times are taken as UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise invalid_form(field, "DATE_TIME_TYPE_PARSE", "Could not parse timestamp.") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class GuildRoutes(RouteGroup):
    """Guilds, members, roles and bans."""

    def routes(self) -> list[web.RouteDef]:
        """The routes of this group, relative to the API prefix."""
        member = "/guilds/{guild_id}/members/{user_id}"
        return [
            web.get("/guilds/{guild_id}", self.get_guild),
            web.patch("/guilds/{guild_id}", self.edit_guild),
            web.get("/guilds/{guild_id}/channels", self.list_channels),
            web.get("/guilds/{guild_id}/roles", self.list_roles),
            web.get("/guilds/{guild_id}/members", self.list_members),
            web.get(member, self.get_member),
            web.patch(member, self.edit_member),
            web.delete(member, self.kick),
            web.put(member + "/roles/{role_id}", self.add_role),
            web.delete(member + "/roles/{role_id}", self.remove_role),
            web.get("/guilds/{guild_id}/bans", self.list_bans),
            web.get("/guilds/{guild_id}/bans/{user_id}", self.get_ban),
            web.put("/guilds/{guild_id}/bans/{user_id}", self.ban),
            web.delete("/guilds/{guild_id}/bans/{user_id}", self.unban),
        ]

    async def get_guild(self, request: web.Request) -> web.Response:
        """``GET /guilds/{id}``."""
        guild = self.guild(request)
        payload = guild_payload(self.world, guild)
        payload["approximate_member_count"] = len(guild.members)
        return json_answer(payload)

    async def edit_guild(self, request: web.Request) -> web.Response:
        """``PATCH /guilds/{id}`` (Manage Guild); only the name is modelled, the rest ignored.

        discord.py's ``Guild.edit`` sends it on every call, also with an empty body after
        changing incident actions.
        """
        guild = self.guild(request)
        self.require(guild, self.bot(request), perms.MANAGE_GUILD)
        body = await self.body(request)
        if body:
            if "name" in body:
                guild.name = str(body["name"])
            data = guild_payload(self.world, guild)
            self.gateway.dispatch("GUILD_UPDATE", data, guild_id=guild.id)
        return json_answer(guild_payload(self.world, guild))

    async def list_channels(self, request: web.Request) -> web.Response:
        """``GET /guilds/{id}/channels``."""
        guild = self.guild(request)
        channels = [self.world.channels[c] for c in guild.channel_ids]
        return json_answer([channel_payload(self.world, c) for c in channels])

    async def list_roles(self, request: web.Request) -> web.Response:
        """``GET /guilds/{id}/roles``."""
        return json_answer([role_payload(r) for r in self.guild(request).roles.values()])

    async def list_members(self, request: web.Request) -> web.Response:
        """``GET /guilds/{id}/members`` with ``limit`` and ``after``, by user id."""
        guild = self.guild(request)
        after = self.query_int(request, "after", 0)
        limit = max(1, min(1000, self.query_int(request, "limit", 1)))
        members = sorted((m for m in guild.members.values() if m.user_id > after), key=_user_id)
        return json_answer([member_payload(self.world, m) for m in members[:limit]])

    async def get_member(self, request: web.Request) -> web.Response:
        """``GET /guilds/{id}/members/{id}``."""
        guild = self.guild(request)
        member = self.member(guild, self.snowflake(request, "user_id"))
        return json_answer(member_payload(self.world, member))

    async def edit_member(self, request: web.Request) -> web.Response:
        """``PATCH /guilds/{id}/members/{id}``: timeout, roles, nickname; answers the member."""
        guild = self.guild(request)
        bot = self.bot(request)
        member = self.member(guild, self.snowflake(request, "user_id"))
        body = await self.body(request)
        if "communication_disabled_until" in body:
            self._timeout(guild, bot, member, body["communication_disabled_until"])
        if "roles" in body:
            wanted = [snowflake_value(r, "roles") for r in body["roles"] or []]
            for role_id in set(wanted) ^ set(member.roles):
                self._check_role_assignable(guild, bot, role_id)
            member.roles = wanted
        if "nick" in body:
            self.require(guild, bot, perms.MANAGE_NICKNAMES)
            if member.user_id != bot.id:
                self.require_outranks(guild, bot, member.user_id)
            member.nick = body["nick"] or None
        events.member_updated(self.world, self.gateway, member)
        return json_answer(member_payload(self.world, member))

    def _timeout(self, guild: Guild, bot: User, member: Member, raw: Any) -> None:
        self.require(guild, bot, perms.MODERATE_MEMBERS)
        # Discord protects administrators and the owner from timeouts whatever the hierarchy.
        if self.world.permissions_of(guild, member.user_id) & perms.ADMINISTRATOR:
            raise missing_permissions()
        self.require_outranks(guild, bot, member.user_id)
        until = parse_time(raw, "communication_disabled_until")
        if until is not None and until >= datetime.now(UTC) + MAX_TIMEOUT - CLOCK_ALLOWANCE:
            raise invalid_form(
                "communication_disabled_until",
                "COMMUNICATION_DISABLED_UNTIL_TOO_LONG",
                "Timeouts can be at most 28 days in the future.",
            )
        member.communication_disabled_until = until

    def _check_role_assignable(self, guild: Guild, bot: User, role_id: int) -> None:
        self.require(guild, bot, perms.MANAGE_ROLES)
        role = guild.roles.get(role_id)
        if role is None or role_id == guild.id:
            raise unknown("Role")
        # A bot can only hand out or take away roles below its own highest role.
        if role.managed or (
            bot.id != guild.owner_id and role.position >= self.world.top_position(guild, bot.id)
        ):
            raise missing_permissions()

    async def add_role(self, request: web.Request) -> web.Response:
        """``PUT /guilds/{id}/members/{id}/roles/{id}``."""
        return self._change_role(request, add=True)

    async def remove_role(self, request: web.Request) -> web.Response:
        """``DELETE /guilds/{id}/members/{id}/roles/{id}``."""
        return self._change_role(request, add=False)

    def _change_role(self, request: web.Request, *, add: bool) -> web.Response:
        guild = self.guild(request)
        member = self.member(guild, self.snowflake(request, "user_id"))
        role_id = self.snowflake(request, "role_id")
        self._check_role_assignable(guild, self.bot(request), role_id)
        if add and role_id not in member.roles:
            member.roles.append(role_id)
        elif not add and role_id in member.roles:
            member.roles.remove(role_id)
        events.member_updated(self.world, self.gateway, member)
        return no_content()

    async def kick(self, request: web.Request) -> web.Response:
        """``DELETE /guilds/{id}/members/{id}``: needs Kick Members and to outrank the member."""
        guild = self.guild(request)
        bot = self.bot(request)
        member = self.member(guild, self.snowflake(request, "user_id"))
        self.require(guild, bot, perms.KICK_MEMBERS)
        self.require_outranks(guild, bot, member.user_id)
        del guild.members[member.user_id]
        events.member_removed(self.world, self.gateway, guild, self.world.users[member.user_id])
        return no_content()

    async def list_bans(self, request: web.Request) -> web.Response:
        """``GET /guilds/{id}/bans`` (Ban Members)."""
        guild = self.guild(request)
        self.require(guild, self.bot(request), perms.BAN_MEMBERS)
        bans = sorted(guild.bans.values(), key=lambda b: b.user_id)
        after = self.query_int(request, "after", 0)
        before = self.query_int(request, "before", 0)
        bans = [b for b in bans if b.user_id > after and (not before or b.user_id < before)]
        bans = bans[: self.query_int(request, "limit", 1000)]
        return json_answer([ban_payload(self.world, b) for b in bans])

    async def get_ban(self, request: web.Request) -> web.Response:
        """``GET /guilds/{id}/bans/{id}``."""
        guild = self.guild(request)
        self.require(guild, self.bot(request), perms.BAN_MEMBERS)
        ban = guild.bans.get(self.snowflake(request, "user_id"))
        if ban is None:
            raise unknown("Ban")
        return json_answer(ban_payload(self.world, ban))

    async def ban(self, request: web.Request) -> web.Response:
        """``PUT /guilds/{id}/bans/{id}``: removes the member and their recent messages."""
        guild = self.guild(request)
        bot = self.bot(request)
        user = self.user(self.snowflake(request, "user_id"))
        self.require(guild, bot, perms.BAN_MEMBERS)
        if user.id in guild.members or user.id == guild.owner_id:
            self.require_outranks(guild, bot, user.id)
        body = await self.body(request)
        seconds = self.query_int(
            request, "delete_message_seconds", int(body.get("delete_message_seconds", 0))
        )
        if not 0 <= seconds <= MAX_DELETE_MESSAGE_SECONDS:
            raise invalid_form(
                "delete_message_seconds", "NUMBER_TYPE_MAX", "Must be between 0 and 604800."
            )
        ban = Ban(user_id=user.id, reason=_audit_reason(request))
        guild.bans[user.id] = ban
        if guild.members.pop(user.id, None) is not None:
            events.member_removed(self.world, self.gateway, guild, user)
        events.ban_added(self.world, self.gateway, guild, ban)
        self._delete_recent_messages(guild, user, seconds)
        return no_content()

    def _delete_recent_messages(self, guild: Guild, user: User, seconds: int) -> None:
        if not seconds:
            return
        since = datetime.now(UTC) - timedelta(seconds=seconds)
        for message in list(self.world.messages.values()):
            if (
                message.guild_id == guild.id
                and message.author_id == user.id
                and not message.deleted
                and message.timestamp >= since
            ):
                message.deleted = True
                events.message_deleted(self.world, self.gateway, message)

    async def unban(self, request: web.Request) -> web.Response:
        """``DELETE /guilds/{id}/bans/{id}``."""
        guild = self.guild(request)
        self.require(guild, self.bot(request), perms.BAN_MEMBERS)
        user = self.user(self.snowflake(request, "user_id"))
        if guild.bans.pop(user.id, None) is None:
            raise unknown("Ban")
        events.ban_removed(self.world, self.gateway, guild, user)
        return no_content()


def _user_id(member: Member) -> int:
    return member.user_id


def _audit_reason(request: web.Request) -> str | None:
    raw = request.headers.get("X-Audit-Log-Reason")
    return None if raw is None else unquote(raw)
