"""REST routes for application commands, interaction callbacks and interaction webhooks.

The callback and webhook routes carry no Authorization header: the interaction token is the
credential, as on Discord.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from aiohttp import web

from . import events
from .entities import EPHEMERAL, JSON, Message
from .gateway import Gateway
from .interactions import InteractionHandle, InteractionRegistry
from .payloads import message_payload
from .responses import ApiError, json_answer, missing_access, no_content, unknown
from .rest_base import RouteGroup, json_body
from .rest_messages import check_content
from .state import World

#: Callback types that create the original response message.
CHANNEL_MESSAGE: Final = 4
DEFERRED_CHANNEL_MESSAGE: Final = 5
#: Message flag of a deferred response that is still "thinking".
LOADING: Final = 1 << 7
CALLBACK_DEADLINE: Final = 3.0  # seconds Discord waits for the first answer
#: "Interaction tokens are valid for 15 minutes" (Receiving and Responding to Interactions).
TOKEN_LIFETIME: Final = 15 * 60.0
#: "Apps are limited to 5 followup messages per interaction if it was initiated from a
#: user-installed app and isn't installed in the server" (same page). Discord documents no
#: other cap (followups are webhook messages under the usual rate limits), so none is
#: invented for guild-installed commands.
USER_INSTALL_FOLLOWUPS: Final = 5


class InteractionRoutes(RouteGroup):
    """Command registration (tree.sync), interaction callbacks, followups and @original."""

    def __init__(self, world: World, gateway: Gateway, registry: InteractionRegistry) -> None:
        super().__init__(world, gateway)
        self.registry = registry

    def routes(self) -> list[web.RouteDef]:
        """The routes of this group, relative to the API prefix."""
        webhook = "/webhooks/{application_id}/{token}"
        return [
            web.get("/applications/{application_id}/commands", self.get_commands),
            web.put("/applications/{application_id}/commands", self.put_commands),
            web.get("/applications/{application_id}/guilds/{guild_id}/commands", self.get_commands),
            web.put("/applications/{application_id}/guilds/{guild_id}/commands", self.put_commands),
            web.post("/interactions/{interaction_id}/{token}/callback", self.callback),
            web.post(webhook, self.followup),
            web.get(webhook + "/messages/@original", self.get_original),
            web.patch(webhook + "/messages/@original", self.edit_original),
            web.delete(webhook + "/messages/@original", self.delete_original),
            web.patch(webhook + "/messages/{message_id}", self.edit_followup),
        ]

    # -- commands ---------------------------------------------------------------------------

    def _command_list(self, request: web.Request) -> list[JSON]:
        bot = self.bot(request)
        if self.snowflake(request, "application_id") != bot.application_id:
            raise missing_access()
        app_id = bot.application_id or 0
        if "guild_id" in request.match_info:
            return self.guild(request).commands.setdefault(app_id, [])
        return self.world.global_commands.setdefault(app_id, [])

    async def get_commands(self, request: web.Request) -> web.Response:
        """``GET`` the application's global or guild commands."""
        return json_answer(self._command_list(request))

    async def put_commands(self, request: web.Request) -> web.Response:
        """``PUT`` (bulk overwrite) the commands; a command keeps its id across syncs."""
        commands = self._command_list(request)
        bot = self.bot(request)
        body = await json_body(request)
        if not isinstance(body, list) or not all(
            isinstance(spec, dict) and isinstance(spec.get("name"), str) for spec in body
        ):
            raise ApiError(400, 50109, "The request body contains invalid JSON.")
        previous = {(c["name"], c["type"]): c["id"] for c in commands}
        guild_id = request.match_info.get("guild_id")
        stored: list[JSON] = []
        for spec in body:
            kind = int(spec.get("type", 1))
            stored.append(
                {
                    "id": previous.get((spec["name"], kind)) or str(self.world.new_id()),
                    "application_id": str(bot.application_id),
                    "guild_id": guild_id,
                    "version": str(self.world.new_id()),
                    "type": kind,
                    "name": spec["name"],
                    "name_localizations": spec.get("name_localizations"),
                    "description": spec.get("description", ""),
                    "description_localizations": spec.get("description_localizations"),
                    "options": spec.get("options") or [],
                    "default_member_permissions": _permissions(spec),
                    "dm_permission": spec.get("dm_permission", True),
                    "nsfw": spec.get("nsfw", False),
                    "contexts": spec.get("contexts"),
                    "integration_types": spec.get("integration_types") or [0],
                }
            )
        commands[:] = stored
        return json_answer(stored)

    # -- callbacks and webhooks -------------------------------------------------------------

    def _by_token(self, request: web.Request) -> InteractionHandle:
        handle = self.registry.by_token(request.match_info["token"])
        if handle is None or request.match_info["application_id"] != str(handle.bot.application_id):
            raise unknown("Webhook")
        if self.world.clock() - handle.created > TOKEN_LIFETIME:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return handle

    async def callback(self, request: web.Request) -> web.Response:
        """``POST /interactions/{id}/{token}/callback``: the bot's one answer to an interaction."""
        handle = self.registry.by_id.get(self.snowflake(request, "interaction_id"))
        if handle is None or handle.token != request.match_info["token"]:
            raise unknown("Interaction")
        if handle.callback is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if self.world.clock() - handle.created > CALLBACK_DEADLINE:
            # Discord forgets an interaction not answered (or deferred) within 3 seconds.
            raise unknown("Interaction")
        body = await self.body(request)
        kind = int(body.get("type", 0))
        data: JSON = dict(body.get("data") or {})
        message: Message | None = None
        if kind in (CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE):
            flags = int(data.get("flags") or 0)
            content = str(data.get("content") or "")
            if kind == CHANNEL_MESSAGE:
                check_content(content, list(data.get("embeds") or []))
            else:
                flags |= LOADING
            message = self.world.store_message(
                handle.bot,
                handle.channel,
                content,
                flags=flags,
                interaction_id=handle.id,
                embeds=list(data.get("embeds") or []),
                components=list(data.get("components") or []),
            )
            handle.original_message_id = message.id
            self._announce(message)
        handle.callback = {"type": kind, "data": data}
        handle.notify()
        if request.query.get("with_response") not in ("1", "true", "True"):
            return no_content()
        resource: JSON = {"type": kind}
        if message is not None:
            resource["message"] = message_payload(self.world, message)
        return json_answer(
            {
                "interaction": {
                    "id": str(handle.id),
                    "type": handle.payload["type"],
                    "activity_instance_id": None,
                    "response_message_id": None if message is None else str(message.id),
                    "response_message_loading": kind == DEFERRED_CHANNEL_MESSAGE,
                    "response_message_ephemeral": message is not None
                    and bool(message.flags & EPHEMERAL),
                },
                "resource": resource,
            }
        )

    def _announce(self, message: Message) -> None:
        # Ephemeral messages exist only for the user who interacted: no gateway event.
        if not message.flags & EPHEMERAL:
            events.message_created(self.world, self.gateway, message)

    async def followup(self, request: web.Request) -> web.Response:
        """``POST /webhooks/{app}/{token}``: a followup message (``?wait=true`` answers it)."""
        handle = self._by_token(request)
        if handle.callback is None:
            raise unknown("Webhook")
        owners = handle.payload.get("authorizing_integration_owners") or {}
        if set(owners) == {"1"} and len(handle.followup_ids) >= USER_INSTALL_FOLLOWUPS:
            raise ApiError(
                400, 40094, "This interaction has hit the maximum number of follow up messages"
            )
        body = await self.body(request)
        content = str(body.get("content") or "")
        embeds = list(body.get("embeds") or [])
        check_content(content, embeds)
        original = handle.original_message
        if original is not None and original.flags & LOADING:
            # The first followup after a deferral replaces the "thinking..." message and keeps
            # the deferral's visibility, whatever flags it asks for.
            message = original
            message.content, message.embeds = content, embeds
            message.components = list(body.get("components") or [])
            message.flags &= ~LOADING
            message.edited_timestamp = datetime.now(UTC)
            if not message.flags & EPHEMERAL:
                events.message_updated(self.world, self.gateway, message)
        else:
            message = self.world.store_message(
                handle.bot,
                handle.channel,
                content,
                flags=int(body.get("flags") or 0),
                interaction_id=handle.id,
                embeds=embeds,
                components=list(body.get("components") or []),
            )
            self._announce(message)
        handle.followup_ids.append(message.id)
        handle.notify()
        if request.query.get("wait") in ("1", "true", "True"):
            return json_answer(message_payload(self.world, message))
        return no_content()

    def _original(self, handle: InteractionHandle) -> Message:
        message = handle.original_message
        if message is None:
            raise unknown("Message")
        return message

    async def get_original(self, request: web.Request) -> web.Response:
        """``GET /webhooks/{app}/{token}/messages/@original``."""
        return json_answer(message_payload(self.world, self._original(self._by_token(request))))

    async def edit_original(self, request: web.Request) -> web.Response:
        """``PATCH .../@original``: fills a deferred answer or changes the original one."""
        handle = self._by_token(request)
        return await self._edit(request, handle, self._original(handle))

    async def edit_followup(self, request: web.Request) -> web.Response:
        """``PATCH /webhooks/{app}/{token}/messages/{id}``: change a followup."""
        handle = self._by_token(request)
        message_id = self.snowflake(request, "message_id")
        if message_id not in handle.followup_ids:
            raise unknown("Message")
        return await self._edit(request, handle, self.world.messages[message_id])

    async def _edit(
        self, request: web.Request, handle: InteractionHandle, message: Message
    ) -> web.Response:
        body = await self.body(request)
        if "content" in body:
            message.content = str(body["content"] or "")
        if "embeds" in body:
            message.embeds = list(body["embeds"] or [])
        if "components" in body:
            message.components = list(body["components"] or [])
        check_content(message.content, message.embeds)
        message.flags &= ~LOADING
        message.edited_timestamp = datetime.now(UTC)
        handle.notify()
        if not message.flags & EPHEMERAL:
            events.message_updated(self.world, self.gateway, message)
        return json_answer(message_payload(self.world, message))

    async def delete_original(self, request: web.Request) -> web.Response:
        """``DELETE .../@original``."""
        handle = self._by_token(request)
        message = self._original(handle)
        message.deleted = True
        handle.notify()
        if not message.flags & EPHEMERAL:
            events.message_deleted(self.world, self.gateway, message)
        return no_content()


def _permissions(spec: JSON) -> str | None:
    # Discord answers permission bit sets as strings, whatever the request sent.
    value = spec.get("default_member_permissions")
    return None if value is None else str(value)
