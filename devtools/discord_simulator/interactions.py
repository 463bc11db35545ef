"""Interactions a scripted user starts (slash commands, context menus, modal submits).

An :class:`InteractionHandle` is what a test holds: it sees the bot's callback, the original
response message (ephemeral or not) and the followups, and can wait for each of them.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from . import permissions as perms
from .entities import DM_CHANNEL, EPHEMERAL, JSON, Channel, Message, SimulatorError, User
from .payloads import channel_payload, member_payload, message_payload, user_payload
from .state import World

APPLICATION_COMMAND: Final = 2
AUTOCOMPLETE: Final = 4
MODAL_SUBMIT: Final = 5
CHAT_INPUT: Final = 1
USER_COMMAND: Final = 2
MESSAGE_COMMAND: Final = 3
#: Callback types (``InteractionResponseType``).
MODAL: Final = 9


@dataclass(slots=True)
class InteractionHandle:
    """One interaction: what was sent to the bot and everything the bot answered."""

    id: int
    token: str
    bot: User
    user: User
    channel: Channel
    payload: JSON
    world: World
    #: The callback body the bot posted (``{"type": ..., "data": ...}``), once it has.
    callback: JSON | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    #: When Discord sent it (the world's clock): the first answer must come within 3 seconds,
    #: and the token dies after 15 minutes.
    created: float = 0.0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        """Wake the waiters: the bot answered or changed an answer."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def response(self, timeout: float = 5.0) -> JSON:  # noqa: ASYNC109
        """The bot's callback body, waiting up to ``timeout`` seconds for it."""
        await self._wait(lambda: self.callback is not None, timeout)
        if self.callback is None:  # only to narrow the type: the wait saw it set
            raise RuntimeError("callback vanished")
        return self.callback

    @property
    def ephemeral(self) -> bool:
        """Whether the original response is visible only to the user (flags 64)."""
        message = self.original_message
        return message is not None and bool(message.flags & EPHEMERAL)

    @property
    def original_message(self) -> Message | None:
        """The original response message (also after a deferral was edited), if any."""
        if self.original_message_id is None:
            return None
        message = self.world.messages[self.original_message_id]
        return None if message.deleted else message

    @property
    def followups(self) -> list[Message]:
        """The followup messages the bot sent, in order."""
        return [self.world.messages[i] for i in self.followup_ids]

    @property
    def modal(self) -> JSON | None:
        """The modal the bot answered with (callback type 9), if it did."""
        if self.callback is None or self.callback.get("type") != MODAL:
            return None
        data: JSON = self.callback.get("data") or {}
        return data

    async def wait_for_content(self, timeout: float = 5.0) -> str:  # noqa: ASYNC109
        """The original response's content once it is not empty (deferred answers fill it later)."""

        def ready() -> bool:
            message = self.original_message
            return message is not None and bool(message.content or message.embeds)

        await self._wait(ready, timeout)
        message = self.original_message
        if message is None:  # only to narrow the type: the wait saw it
            raise RuntimeError("original response vanished")
        return message.content

    async def _wait(self, condition: Callable[[], bool], timeout: float) -> None:  # noqa: ASYNC109
        async def loop() -> None:
            while not condition():
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)


class InteractionRegistry:
    """Interactions by id and token, and the payloads Discord sends for them."""

    def __init__(self, world: World) -> None:
        self._world = world
        self.by_id: dict[int, InteractionHandle] = {}

    def by_token(self, token: str) -> InteractionHandle | None:
        """The interaction whose webhook token this is."""
        for handle in self.by_id.values():
            if secrets.compare_digest(handle.token, token):
                return handle
        return None

    def find_command(self, bot: User, channel: Channel, name: str, kind: int) -> JSON:
        """The registered command ``name`` of this type that the user can see in ``channel``."""
        app_id = bot.application_id or 0
        candidates: list[JSON] = []
        if channel.guild_id is not None:
            candidates += self._world.guilds[channel.guild_id].commands.get(app_id, [])
        candidates += self._world.global_commands.get(app_id, [])
        for command in candidates:
            if command["name"] == name and command.get("type", CHAT_INPUT) == kind:
                if channel.type == DM_CHANNEL and 2 not in (command.get("contexts") or [0]):
                    raise SimulatorError(f"command {name!r} is not allowed in private channels")
                return command
        raise SimulatorError(f"{bot.username} registered no command {name!r} of type {kind}")

    def create(
        self, bot: User, user: User, channel: Channel, kind: int, data: JSON
    ) -> InteractionHandle:
        """Build and keep an interaction; the caller sends INTERACTION_CREATE."""
        interaction_id = self._world.new_id()
        token = f"aW50ZXJhY3Rpb24.{secrets.token_urlsafe(32)}"
        payload: JSON = {
            "id": str(interaction_id),
            "application_id": str(bot.application_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
            "channel_id": str(channel.id),
            "channel": channel_payload(self._world, channel),
        }
        if channel.guild_id is not None:
            guild = self._world.guilds[channel.guild_id]
            member = guild.members.get(user.id)
            if member is None:
                raise SimulatorError(f"{user.username} is not a member of {guild.name}")
            payload["guild_id"] = str(guild.id)
            payload["guild_locale"] = "en-US"
            payload["context"] = 0
            payload["authorizing_integration_owners"] = {"0": str(guild.id)}
            payload["member"] = {
                **member_payload(self._world, member),
                "permissions": str(self._world.permissions_of(guild, user.id)),
            }
            payload["app_permissions"] = str(self._world.permissions_of(guild, bot.id))
        else:
            # A user-installed command used in a DM between two people: Discord sends the user
            # and says the integration was authorised by that user.
            payload["context"] = 2 if bot.id not in channel.recipients else 1
            payload["authorizing_integration_owners"] = {"1": str(user.id)}
            payload["user"] = user_payload(user)
            payload["app_permissions"] = str(perms.DEFAULT_EVERYONE)
        handle = InteractionHandle(
            id=interaction_id,
            token=token,
            bot=bot,
            user=user,
            channel=channel,
            payload=payload,
            world=self._world,
            created=self._world.clock(),
        )
        self.by_id[interaction_id] = handle
        return handle

    def command_data(
        self, command: JSON, channel: Channel, options: dict[str, Any] | None, name: str
    ) -> JSON:
        """``data`` of a chat-input interaction: the options typed as the command declared them."""
        data: JSON = {"id": command["id"], "name": command["name"], "type": CHAT_INPUT}
        if command.get("guild_id") is not None:
            data["guild_id"] = command["guild_id"]
        declared: list[JSON] = list(command.get("options") or [])
        # "mod warn" addresses subcommand "warn" of "mod" (and "mod case show" a group's).
        wrappers: list[JSON] = []
        for part in name.split()[1:]:
            spec = next((o for o in declared if o["name"] == part), None)
            if spec is None:
                raise SimulatorError(f"no subcommand {part!r} in {name!r}")
            wrappers.append({"type": spec["type"], "name": part, "options": []})
            declared = list(spec.get("options") or [])
        resolved: JSON = {}
        values = [
            self._option(declared, key, value, resolved) for key, value in (options or {}).items()
        ]
        if wrappers:
            for outer, inner in itertools.pairwise(wrappers):
                outer["options"] = [inner]
            wrappers[-1]["options"] = values
            data["options"] = [wrappers[0]]
        else:
            data["options"] = values
        if resolved:
            data["resolved"] = resolved
        return data

    def _option(self, declared: list[JSON], key: str, value: Any, resolved: JSON) -> JSON:
        spec = next((o for o in declared if o["name"] == key), None)
        if spec is None:
            raise SimulatorError(f"the command declares no option {key!r}")
        kind = int(spec["type"])
        if isinstance(value, User):
            resolved.setdefault("users", {})[str(value.id)] = user_payload(value)
            for guild in self._world.guilds_of(value.id):
                member = member_payload(self._world, guild.members[value.id], with_user=False)
                resolved.setdefault("members", {})[str(value.id)] = member
                break
            value = str(value.id)
        elif isinstance(value, Channel):
            resolved.setdefault("channels", {})[str(value.id)] = channel_payload(self._world, value)
            value = str(value.id)
        return {"name": key, "type": kind, "value": value}

    def message_command_data(self, command: JSON, message: Message) -> JSON:
        """``data`` of a message context-menu interaction, with the target message resolved."""
        data: JSON = {
            "id": command["id"],
            "name": command["name"],
            "type": MESSAGE_COMMAND,
            "target_id": str(message.id),
            "resolved": {"messages": {str(message.id): message_payload(self._world, message)}},
        }
        if command.get("guild_id") is not None:
            data["guild_id"] = command["guild_id"]
        return data

    @staticmethod
    def modal_data(modal: JSON, values: dict[str, str]) -> JSON:
        """``data`` of a modal submit: each text input with the value typed into it.

        ``values`` is keyed by an input's custom_id or by its label (discord.py generates
        custom ids, so tests usually know only the labels).
        """
        unused = set(values)

        def answer(component: JSON, label: str | None) -> JSON:
            custom_id = str(component.get("custom_id", ""))
            label = label or str(component.get("label", ""))
            key = custom_id if custom_id in values else label
            unused.discard(key)
            value = values.get(key, "")
            return {"type": component["type"], "custom_id": custom_id, "value": value}

        components: list[JSON] = []
        for row in modal.get("components") or []:
            if row.get("type") == 1:
                answers = [answer(c, None) for c in row["components"]]
                components.append({"type": 1, "components": answers})
            elif row.get("type") == 18:
                answered = answer(row["component"], row.get("label"))
                components.append({"type": 18, "component": answered})
        if unused:
            raise SimulatorError(f"the modal has no inputs {sorted(unused)}")
        return {"custom_id": modal.get("custom_id", ""), "components": components}
