"""Why Discord refused an action (403 Missing Permissions), in words a moderator can act on.

Discord's 50013 says only "Missing Permissions". The cause is one of: the bot's roles lack
the permission in the guild; a channel's permission overwrites take it away (for @everyone,
for one of the bot's roles, or for the bot itself); the member is the owner, an
administrator (timeouts), or ranks at or above the bot's highest role. Everything is read
fresh over REST, because the cache may be stale (a role changed while the bot was away).
An explanation is a courtesy: if the reads fail, the plain refusal stands.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final

import aiohttp
import discord

MISSING_PERMISSIONS: Final = 50013

Explain = Callable[[discord.Forbidden], Awaitable[str]]


class RefusalExplainer:
    """Builds the ``explain`` callbacks the executor hands to each REST call."""

    def __init__(self, client: discord.Client, *, deadline: float) -> None:
        self._client = client
        self._deadline = deadline

    def member_action(
        self, guild_id: int, user_id: int | None, permission: str, label: str
    ) -> Explain:
        """For an action on a member (timeout, kick, ban, unban) needing ``permission``."""
        return self._guarded(lambda: self._why_member(guild_id, user_id, permission, label))

    def channel_action(self, channel_id: int, permission: str, label: str) -> Explain:
        """For an action in a channel (delete a message, post a notice)."""
        return self._guarded(lambda: self._why_channel(channel_id, permission, label))

    def _guarded(self, why: Callable[[], Awaitable[str]]) -> Explain:
        async def explain(exc: discord.Forbidden) -> str:
            if exc.code != MISSING_PERMISSIONS:
                return ""
            try:
                async with asyncio.timeout(self._deadline):
                    return await why()
            except (discord.HTTPException, discord.RateLimited, aiohttp.ClientError, OSError):
                return ""
            except TimeoutError:
                return ""

        return explain

    async def _my_roles(self, guild_id: int) -> tuple[dict[int, Any], list[int]]:
        http = self._client.http
        me = self._client.user
        roles = {int(r["id"]): r for r in await http.get_roles(guild_id)}
        if me is None:
            return roles, []
        return roles, [int(r) for r in (await http.get_member(guild_id, me.id))["roles"]]

    async def _why_member(
        self, guild_id: int, user_id: int | None, permission: str, label: str
    ) -> str:
        http = self._client.http
        guild = await http.get_guild(guild_id)
        roles, my_roles = await self._my_roles(guild_id)
        their_roles: list[int] | None = None
        if user_id is not None:
            try:
                their_roles = [int(r) for r in (await http.get_member(guild_id, user_id))["roles"]]
            except discord.NotFound:
                their_roles = None
        name = guild["name"]
        if not getattr(guild_permissions(roles, guild_id, my_roles), permission):
            return f"the bot lacks the {label} permission in {name}"
        if user_id is None or their_roles is None:
            return ""
        if user_id == int(guild["owner_id"]):
            return f"{user_id} owns {name}; nobody can act on the owner"
        if permission == "moderate_members" and (
            guild_permissions(roles, guild_id, their_roles).administrator
        ):
            return f"{user_id} is an administrator in {name}; Discord cannot time them out"
        mine, theirs = _top_role(roles, my_roles), _top_role(roles, their_roles)
        if theirs is not None and (mine is None or theirs[0] >= mine[0]):
            my_name = mine[1] if mine else "@everyone"
            return (
                f"{user_id}'s highest role ({theirs[1]}) is not below the bot's ({my_name}); "
                "move the bot's role above it"
            )
        return ""

    async def _why_channel(self, channel_id: int, permission: str, label: str) -> str:
        http = self._client.http
        channel: dict[str, Any] = dict(await http.get_channel(channel_id))
        guild_id = int(channel.get("guild_id") or 0)
        if not guild_id:
            return ""
        roles, my_roles = await self._my_roles(guild_id)
        where = f"#{channel.get('name', channel_id)}"
        base = guild_permissions(roles, guild_id, my_roles)
        if base.administrator:
            return ""
        if not getattr(base, permission):
            guild = await http.get_guild(guild_id)
            return f"the bot lacks the {label} permission in {guild['name']}"
        me = self._client.user
        denied_by = _denying_overwrites(
            channel.get("permission_overwrites") or [],
            roles,
            guild_id,
            my_roles,
            me.id if me is not None else 0,
            getattr(discord.Permissions, permission).flag,
        )
        if not denied_by:
            return ""
        return (
            f"the permission overwrites of {where} deny the bot {label} "
            f"(set for {', '.join(denied_by)}); allow it there in the channel's settings"
        )


def _denying_overwrites(
    overwrites: list[dict[str, Any]],
    roles: dict[int, Any],
    guild_id: int,
    my_roles: list[int],
    my_id: int,
    flag: int,
) -> list[str]:
    """Which overwrites take ``flag`` (or View Channel) from the bot, in Discord's order:
    @everyone, then the bot's roles together, then the bot's own overwrite."""
    by_id = {int(o["id"]): o for o in overwrites}
    view = discord.Permissions.view_channel.flag
    culprits: list[str] = []
    for needed in (view, flag):
        granted = True
        blamed: list[str] = []
        everyone = by_id.get(guild_id)
        if everyone is not None and int(everyone["deny"]) & needed:
            granted, blamed = False, ["@everyone"]
        mine = [by_id[r] for r in my_roles if r in by_id and int(by_id[r]["type"]) == 0]
        if any(int(o["allow"]) & needed for o in mine):
            granted, blamed = True, []
        elif any(int(o["deny"]) & needed for o in mine):
            granted = False
            blamed = [
                f"role {roles[int(o['id'])]['name']}" for o in mine if int(o["deny"]) & needed
            ]
        own = by_id.get(my_id)
        if own is not None and int(own["type"]) == 1:
            if int(own["allow"]) & needed:
                granted, blamed = True, []
            elif int(own["deny"]) & needed:
                granted, blamed = False, ["the bot itself"]
        if not granted:
            culprits.extend(blamed)
    return list(dict.fromkeys(culprits))


def guild_permissions(
    roles: dict[int, Any], guild_id: int, member_roles: list[int]
) -> discord.Permissions:
    """Guild-level permissions from @everyone (whose id is the guild's) and the member's roles."""
    value = 0
    for role_id in [guild_id, *member_roles]:
        role = roles.get(role_id)
        if role is not None:
            value |= int(role["permissions"])
    permissions = discord.Permissions(value)
    return discord.Permissions.all() if permissions.administrator else permissions


def _top_role(roles: dict[int, Any], member_roles: list[int]) -> tuple[int, str] | None:
    ranked = [
        (int(roles[r]["position"]), str(roles[r]["name"])) for r in member_roles if r in roles
    ]
    return max(ranked, default=None)
