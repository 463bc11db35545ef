"""The core's face towards the adapters: what happens to each kind of event they hand in."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bridge.commands import CommandError, parse_command
from bridge.model import Author, MembershipEvent, Message, ModCommand, Platform
from bridge.moderation import Moderation
from bridge.pipeline import Pipeline
from bridge.ports import PlatformError, Replier
from storage.audit import AuditRepository

log = logging.getLogger(__name__)


class Core:
    """Routes adapter events into the pipeline and the moderators' commands."""

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        moderation: Moderation,
        audit: AuditRepository,
        repliers: Mapping[Platform, Replier],
    ) -> None:
        self._pipeline = pipeline
        self._moderation = moderation
        self._audit = audit
        self._repliers = repliers

    async def on_message(self, message: Message) -> None:
        """A message (or an edit) in a protected space: judge it."""
        await self._pipeline.on_message(message)

    async def on_membership(self, event: MembershipEvent) -> None:
        """Joins, leaves, kicks and bans, including those done by hand outside the bot."""
        await self._audit.append(
            event.actor.key if event.actor else event.account.key,
            f"membership_{event.change.value}",
            event.account.key,
            {"space": event.space.id},
        )

    async def on_command(self, message: Message) -> None:
        """A text command (Matrix): parse it, carry it out, answer where it was given."""
        try:
            command = parse_command(message.text)
        except CommandError as exc:
            if not message.author.is_moderator:
                log.warning("command refused: %s is not a moderator", message.author.account.key)
                await self._answer(message, "Only moderators can use moderation commands.")
                return
            await self._answer(message, str(exc))
            return
        answer = await self._moderation.on_mod_command(
            command,
            moderator=message.author,
            origin=f"{message.platform.value}:{message.id}",
        )
        await self._answer(message, answer)

    async def on_mod_command(self, command: ModCommand, *, moderator: Author, origin: str) -> str:
        """A structured command (Discord's slash commands)."""
        return await self._moderation.on_mod_command(command, moderator=moderator, origin=origin)

    async def on_direct_message(self, message: Message) -> None:
        """A member wrote to the bot directly. Confidential reports build on this."""
        log.info("direct message %s from %s", message.id, message.author.account.key)

    async def _answer(self, message: Message, text: str) -> None:
        replier = self._repliers.get(message.platform)
        if replier is None:
            return
        try:
            await replier.reply(message.channel, text)
        except PlatformError as exc:
            log.warning("could not answer in %s: %s", message.channel.id, exc)
