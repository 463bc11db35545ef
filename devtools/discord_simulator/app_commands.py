"""The simulated members' side of application commands: running a slash command, typing into
an option with autocomplete, picking a message context menu, submitting a modal.

A part of :class:`devtools.discord_simulator.DiscordSimulator`'s scripting API, kept apart
because it is one job: turning what a member does in Discord's UI into the interaction the
bot receives.
"""

from __future__ import annotations

from typing import Any

from .entities import Channel, Message, SimulatorError, User
from .gateway import Gateway
from .interactions import (
    APPLICATION_COMMAND,
    AUTOCOMPLETE,
    CHAT_INPUT,
    MESSAGE_COMMAND,
    MODAL_SUBMIT,
    InteractionHandle,
    InteractionRegistry,
)
from .state import World


class MembersUsingApps:
    """What a simulated member does with a bot's application commands (a mixin of the
    simulator, which gives it ``world``, ``gateway`` and ``interactions``)."""

    world: World
    gateway: Gateway
    interactions: InteractionRegistry

    def invoke_slash_command(
        self,
        bot: User,
        user: User,
        channel: Channel,
        name: str,
        options: dict[str, Any] | None = None,
    ) -> InteractionHandle:
        """``user`` runs ``/name`` (``"mod warn"`` for a subcommand) of ``bot`` in ``channel``.

        Option values are sent as given; a :class:`User` or :class:`Channel` value becomes a
        resolved snowflake. Await ``handle.response()`` for the bot's answer.
        """
        command = self.interactions.find_command(bot, channel, name.split()[0], CHAT_INPUT)
        data = self.interactions.command_data(command, channel, options, name)
        return self._send_interaction(bot, user, channel, APPLICATION_COMMAND, data)

    def invoke_autocomplete(
        self,
        bot: User,
        user: User,
        channel: Channel,
        name: str,
        options: dict[str, Any],
        focused: str,
    ) -> InteractionHandle:
        """``user`` is typing option ``focused`` of ``/name`` (the others as in ``options``):
        Discord asks the bot for choices; ``(await handle.response())["data"]["choices"]``."""
        command = self.interactions.find_command(bot, channel, name.split()[0], CHAT_INPUT)
        data = self.interactions.command_data(command, channel, options, name)
        values = data["options"]
        while values and values[0].get("type") in (1, 2):  # into the subcommand's options
            values = values[0]["options"]
        for option in values:
            if option["name"] == focused:
                option["focused"] = True
        return self._send_interaction(bot, user, channel, AUTOCOMPLETE, data)

    def invoke_message_context_menu(
        self, bot: User, user: User, message: Message, name: str
    ) -> InteractionHandle:
        """``user`` picks Apps > ``name`` on ``message`` (in a guild channel or a DM)."""
        channel = self.world.channels[message.channel_id]
        command = self.interactions.find_command(bot, channel, name, MESSAGE_COMMAND)
        data = self.interactions.message_command_data(command, message)
        return self._send_interaction(bot, user, channel, APPLICATION_COMMAND, data)

    def submit_modal(self, handle: InteractionHandle, values: dict[str, str]) -> InteractionHandle:
        """The user fills in the modal the bot answered ``handle`` with and submits it."""
        if handle.modal is None:
            raise SimulatorError("the bot did not answer this interaction with a modal")
        data = self.interactions.modal_data(handle.modal, values)
        return self._send_interaction(handle.bot, handle.user, handle.channel, MODAL_SUBMIT, data)

    def _send_interaction(
        self, bot: User, user: User, channel: Channel, kind: int, data: dict[str, Any]
    ) -> InteractionHandle:
        handle = self.interactions.create(bot, user, channel, kind, data)
        self.gateway.dispatch_to(bot, "INTERACTION_CREATE", handle.payload)
        return handle
