"""REST routes for the guild's safety tools: incident actions (pause DMs) and AutoMod rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from aiohttp import web

from . import permissions as perms
from .automod_limits import check_rule
from .entities import JSON, Guild
from .payloads import guild_payload, incidents_payload
from .responses import invalid_form, json_answer, no_content, unknown
from .rest_base import RouteGroup
from .rest_guild import parse_time

MAX_INCIDENT_ACTION: Final = timedelta(hours=24)
KEYWORD_TRIGGER: Final = 1
INCIDENT_FIELDS: Final = ("dms_disabled_until", "invites_disabled_until")


class SafetyRoutes(RouteGroup):
    """``/guilds/{id}/incident-actions`` and ``/guilds/{id}/auto-moderation/rules``."""

    def routes(self) -> list[web.RouteDef]:
        """The routes of this group, relative to the API prefix."""
        rules = "/guilds/{guild_id}/auto-moderation/rules"
        return [
            web.put("/guilds/{guild_id}/incident-actions", self.incident_actions),
            web.get(rules, self.list_rules),
            web.post(rules, self.create_rule),
            web.get(rules + "/{rule_id}", self.get_rule),
            web.patch(rules + "/{rule_id}", self.edit_rule),
            web.delete(rules + "/{rule_id}", self.delete_rule),
        ]

    async def incident_actions(self, request: web.Request) -> web.Response:
        """``PUT /guilds/{id}/incident-actions``: pause DMs or invites for at most 24 hours.

        A PUT replaces the whole state: a field left out is reset to null (lifted), as other
        client libraries report from Discord, so a client must send both fields every time.
        """
        guild = self.guild(request)
        self.require(guild, self.bot(request), perms.MANAGE_GUILD)
        body = await self.body(request)
        latest = datetime.now(UTC) + MAX_INCIDENT_ACTION
        wanted: dict[str, datetime | None] = {}
        for field in INCIDENT_FIELDS:
            until = parse_time(body.get(field), field)
            if until is not None and until > latest:
                raise invalid_form(
                    field, "INCIDENT_ACTION_TOO_LONG", "Must be at most 24 hours in the future."
                )
            wanted[field] = until
        guild.incidents.update(wanted)
        # Discord tells connected clients through GUILD_UPDATE; discord.py reads
        # Guild.dms_paused_until from the incidents_data there.
        self.gateway.dispatch("GUILD_UPDATE", guild_payload(self.world, guild), guild_id=guild.id)
        return json_answer(incidents_payload(guild))

    def _rule(self, request: web.Request, guild: Guild) -> JSON:
        rule = guild.automod_rules.get(self.snowflake(request, "rule_id"))
        if rule is None:
            raise unknown("Auto Moderation Rule")
        return rule

    async def list_rules(self, request: web.Request) -> web.Response:
        """``GET /guilds/{id}/auto-moderation/rules`` (Manage Guild)."""
        guild = self.guild(request)
        self.require(guild, self.bot(request), perms.MANAGE_GUILD)
        return json_answer(list(guild.automod_rules.values()))

    async def get_rule(self, request: web.Request) -> web.Response:
        """``GET /guilds/{id}/auto-moderation/rules/{id}``."""
        guild = self.guild(request)
        self.require(guild, self.bot(request), perms.MANAGE_GUILD)
        return json_answer(self._rule(request, guild))

    async def create_rule(self, request: web.Request) -> web.Response:
        """``POST /guilds/{id}/auto-moderation/rules``, with Discord's size limits."""
        guild = self.guild(request)
        bot = self.bot(request)
        self.require(guild, bot, perms.MANAGE_GUILD)
        body = await self.body(request)
        rule_id = self.world.new_id()
        rule: JSON = {
            "id": str(rule_id),
            "guild_id": str(guild.id),
            "creator_id": str(bot.id),
            "name": str(body.get("name", "")),
            "event_type": int(body.get("event_type", 1)),
            "trigger_type": int(body.get("trigger_type", KEYWORD_TRIGGER)),
            "trigger_metadata": dict(body.get("trigger_metadata") or {}),
            "actions": list(body.get("actions") or []),
            "enabled": bool(body.get("enabled", False)),
            "exempt_roles": [str(r) for r in body.get("exempt_roles") or []],
            "exempt_channels": [str(c) for c in body.get("exempt_channels") or []],
        }
        check_rule(guild, rule)
        guild.automod_rules[rule_id] = rule
        self.gateway.dispatch("AUTO_MODERATION_RULE_CREATE", rule, guild_id=guild.id)
        return json_answer(rule)

    async def edit_rule(self, request: web.Request) -> web.Response:
        """``PATCH /guilds/{id}/auto-moderation/rules/{id}``."""
        guild = self.guild(request)
        self.require(guild, self.bot(request), perms.MANAGE_GUILD)
        rule = self._rule(request, guild)
        body = await self.body(request)
        editable = ("name", "event_type", "trigger_metadata", "actions", "enabled")
        changes: dict[str, Any] = {k: body[k] for k in editable if k in body}
        for key in ("exempt_roles", "exempt_channels"):
            if key in body:
                changes[key] = [str(i) for i in body[key] or []]
        if "trigger_metadata" in changes:
            changes["trigger_metadata"] = dict(changes["trigger_metadata"] or {})
        check_rule(guild, {**rule, **changes}, replacing=int(rule["id"]))
        rule.update(changes)
        self.gateway.dispatch("AUTO_MODERATION_RULE_UPDATE", rule, guild_id=guild.id)
        return json_answer(rule)

    async def delete_rule(self, request: web.Request) -> web.Response:
        """``DELETE /guilds/{id}/auto-moderation/rules/{id}``."""
        guild = self.guild(request)
        self.require(guild, self.bot(request), perms.MANAGE_GUILD)
        rule = self._rule(request, guild)
        del guild.automod_rules[int(rule["id"])]
        self.gateway.dispatch("AUTO_MODERATION_RULE_DELETE", rule, guild_id=guild.id)
        return no_content()
