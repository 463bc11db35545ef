"""The core's face towards the adapters: what happens to each kind of event they hand in."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping

from bridge.commands import CommandError, parse_command
from bridge.conversation import DirectMessages
from bridge.health import StorageHealth
from bridge.judge import Judge
from bridge.members import Members
from bridge.moderation import Moderation
from bridge.names import Names
from bridge.planner import Community
from bridge.policy_lists import ListBans
from bridge.reports import Reports
from bridge.writer import CaseWriter
from domain.cases import NewCase, OriginKind
from domain.model import (
    Account,
    Action,
    Author,
    Ban,
    Channel,
    MembershipChange,
    MembershipEvent,
    Message,
    ModCommand,
    NotifyModerators,
    Platform,
    Remove,
)
from domain.ports import PlatformError, Replier

log = logging.getLogger(__name__)

PACED_KEPT = 1000  # direct message ids remembered, so a message handed in again is paced once


class Core:
    """Routes adapter events into the pipeline and the moderators' commands."""

    def __init__(
        self,
        *,
        judge: Judge,
        writer: CaseWriter,
        members: Members,
        moderation: Moderation,
        direct: DirectMessages,
        reports: Reports,
        repliers: Mapping[Platform, Replier],
        bots: set[str],
        mirror_bans: bool = True,
        mirror_kicks: bool = False,
        prefixes: Mapping[Platform, str] | None = None,
        known: Callable[[str], Awaitable[list[Account]]] | None = None,
        names: Names | None = None,
        lists: ListBans | None = None,
        health: StorageHealth | None = None,
    ) -> None:
        self._names = names or Names()
        self._prefixes = prefixes or {}
        self._known = known
        # Storage failures while recording an event become NotRecorded: the adapter holds the
        # event and hands it in again (without a health, nobody is told; tests).
        self._health = health or StorageHealth(
            community=lambda: Community(spaces={}, mod_rooms={}), repliers={}
        )
        self._direct = direct
        self._paced: OrderedDict[str, None] = OrderedDict()  # direct message ids seen
        self._reports = reports
        self._commands: set[asyncio.Task[None]] = set()
        self._bots = bots  # account keys of the bot itself: its own actions are not "by hand"
        self._mirror_bans = mirror_bans
        self._mirror_kicks = mirror_kicks
        self._judge = judge
        self._writer = writer
        self._members = members
        self._moderation = moderation
        self._repliers = repliers
        self._lists = lists  # subscribed Matrix policy lists: a joining member may match

    async def on_message(self, message: Message) -> None:
        """A message (or an edit) in a protected space: judge it, and watch for retaliation
        against reporters. Raises NotRecorded when storage fails (hand it in again)."""
        await self._health.recording(f"message {message.id}", self._take_message(message))

    async def _take_message(self, message: Message) -> None:
        await self._judge.on_message(message)  # a message delivered again is judged once
        if message.mentions and not message.author.is_bot:
            await self._reports.watch(message)

    async def on_membership(self, event: MembershipEvent) -> None:
        """Joins, leaves, kicks and bans, including those done by hand outside the bot.
        Raises NotRecorded when storage fails (hand it in again)."""
        doing = f"membership {event.change.value} of {event.account.key} in {event.space.id}"
        await self._health.recording(f"{doing} at {event.ts.isoformat()}", self._membership(event))

    async def _membership(self, event: MembershipEvent) -> None:
        await self._writer.audit(
            event.actor.key if event.actor else event.account.key,
            f"membership_{event.change.value}",
            event.account.key,
            {"space": event.space.id},
        )
        if event.change is MembershipChange.JOIN:
            # Mute evasion: leaving and rejoining does not shake off a mute or a ban.
            await self._writer.reapply(
                event.account,
                space_id=event.space.id,
                occasion=f"join:{event.space.id}:{event.ts.isoformat()}",
            )
            if self._lists is not None:
                await self._lists.on_join(event.account)
        elif event.change in (MembershipChange.BAN, MembershipChange.KICK):
            await self._manual_action(event)
        elif event.change is MembershipChange.UNBAN:
            await self._manual_unban(event)

    async def on_command(self, message: Message) -> None:
        """A text command (Matrix): parse it, carry it out, answer where it was given.

        Runs beside the platform's event loop: answering waits for the actions' first
        attempts, and moderation of every room must not pause meanwhile.
        """
        task = asyncio.create_task(self._command(message), name=f"command {message.id}")
        self._commands.add(task)
        task.add_done_callback(self._command_done)

    def _command_done(self, task: asyncio.Task[None]) -> None:
        self._commands.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("command %s failed: %s", task.get_name(), type(task.exception()).__name__)

    async def drain_commands(self) -> None:
        """Wait for commands in progress (at shutdown, and in tests)."""
        while self._commands:
            await asyncio.gather(*list(self._commands), return_exceptions=True)

    async def _command(self, message: Message) -> None:
        took = ""
        try:
            try:
                command = parse_command(
                    message.text, prefix=self.prefix(message.platform), mentions=message.mentions
                )
            except CommandError as exc:
                guessed = self._by_name(message, exc) if message.author.is_moderator else None
                if guessed is None:
                    raise
                command, took = guessed
        except CommandError as exc:
            if not message.author.is_moderator:
                # In a direct message, the account could tie a reporter to their report.
                who = "a direct message" if message.is_dm else message.author.account.key
                log.warning("command refused: not from a moderator (%s)", who)
                await self._answer(message, "Only moderators can use moderation commands.")
                return
            await self._answer(message, str(exc))
            return
        answer = await self.on_mod_command(
            command,
            moderator=message.author,
            origin=f"{message.platform.value}:{message.id}",
        )
        await self._answer(message, took + answer)

    def _by_name(self, message: Message, error: CommandError) -> tuple[ModCommand, str] | None:
        """A member written by display name alone (``!ban Kip spam``, no pill): taken if the
        name, of one to three words, is exactly one member's in the protected spaces."""
        if "is not a user" not in str(error):
            return None
        words = message.text.split()
        prefix = self.prefix(message.platform)
        start = 2 if words and words[0] == prefix else 1  # "!mb ban Kip": the name is third
        for count in (3, 2, 1):
            name = " ".join(words[start : start + count])
            found = self._names.named(name) if len(words) >= start + count else []
            if len(found) != 1:
                continue
            try:
                command = parse_command(
                    message.text, prefix=prefix, mentions=[*message.mentions, *found]
                )
            except CommandError:
                return None
            return command, f"(Taking {name!r} to be {self._names.account(found[0])}.)\n"
        return None

    def prefix(self, platform: Platform) -> str:
        """What text commands start with on ``platform`` (``[matrix] command_prefix``)."""
        return self._prefixes.get(platform, "!")

    async def known_accounts(self, text: str) -> list[Account]:
        """Accounts whose id or name contains ``text``, for a command's autocomplete."""
        return await self._known(text) if self._known is not None else []

    async def on_mod_command(self, command: ModCommand, *, moderator: Author, origin: str) -> str:
        """A command, parsed (Matrix text) or structured (Discord's slash commands)."""
        aimed = [a for a in (command.target, command.other) if a is not None]
        if any(account.key in self._bots for account in aimed):
            # A pasted wrong id would mute or remove the bot itself in every room.
            return "That is modbridge's own account: it does not act on itself."
        try:
            return await self._moderation.on_mod_command(
                command, moderator=moderator, origin=origin
            )
        except CommandError as exc:  # a bad argument found while carrying it out
            return str(exc)
        except Exception as exc:  # a bug: the moderator still gets an answer
            log.error("command %s (%s) failed: %s", command.name.value, origin,
                      type(exc).__name__)  # fmt: skip
            return (
                f"That command failed inside modbridge ({type(exc).__name__}). Part of it may "
                "have been done: check with case or history before trying again."
            )

    async def on_direct_message(self, message: Message) -> None:
        """A member wrote to the bot directly: a report, DM consent, linking accounts.
        Raises NotRecorded when storage fails (hand it in again)."""
        # No account in this log line: a direct message may be a confidential report.
        log.info("direct message %s received", message.id)
        await self._health.recording(f"direct message {message.id}", self._direct_message(message))

    async def _direct_message(self, message: Message) -> None:
        # A message handed in again (held while storage failed) counts once towards the pace.
        again = message.id in self._paced
        self._paced[message.id] = None
        if len(self._paced) > PACED_KEPT:
            self._paced.popitem(last=False)
        refusal = None if again else self._direct.pace(message.author.account)
        if refusal is not None:  # too many in a minute: not read
            if refusal:
                await self._answer(message, refusal)
            return
        if message.text.lstrip().startswith(self.prefix(message.platform)):
            # A non-moderator's command (a moderator's arrives as on_command): refuse it
            # as a command rather than answer with the linking help.
            await self._command(message)
            return
        await self._answer(message, await self._direct.answer(message))

    async def on_report(
        self, *, reporter: Account, message: Message | None, details: str, origin: str
    ) -> str:
        """A member reported a message (Discord's "Report message" menu)."""
        return await self._reports.report(
            reporter=reporter, message=message, details=details, origin=origin
        )

    async def on_automod_hit(
        self, *, rule_name: str, author: Account, channel: Channel, matched: str
    ) -> None:
        """Discord's AutoMod blocked a message for one of our rules: count it as a hit.
        Raises NotRecorded when storage fails (hand it in again)."""
        await self._health.recording(
            f"AutoMod block of {author.key} in {channel.id} ({rule_name})",
            self._judge.blocked(rule_id=rule_name, author=author, channel=channel, matched=matched),
        )

    async def _manual_unban(self, event: MembershipEvent) -> None:
        """A ban lifted by hand: the ban is no longer in force (a rejoin must not re-ban)."""
        actor = event.actor
        if actor is None and await self._members.queued_by_us(event):
            return
        if actor is not None and actor.key in self._bots:
            return
        if await self._writer.lift_by_hand(event.account, "ban"):
            by = self._actor(event)
            who, where = self._names.account(event.account), self._where(event)
            await self._writer.enqueue_actions(
                None,
                [NotifyModerators(text=f"{who}: unbanned by {by} in {where}; the ban is "
                                  "lifted (use !unban to lift it everywhere)")],
                member_id=None,
                origin=f"unban-by-hand:{event.space.id}:{event.account.key}:{event.ts.isoformat()}",
            )  # fmt: skip

    async def _manual_action(self, event: MembershipEvent) -> None:
        """A ban or kick done by hand on a platform: record it, and carry it over if wanted."""
        actor = event.actor
        if actor is None and await self._members.queued_by_us(event):
            return  # the platform did not say who acted, but modbridge did it itself
        if actor is not None and (actor.key in self._bots or actor == event.account):
            return
        banned = event.change is MembershipChange.BAN
        carry = self._mirror_bans if banned else self._mirror_kicks
        kind = "ban" if banned else "kick"
        reason = event.reason or f"{kind} by hand on {event.space.platform.value}"
        by = actor.key if actor is not None else f"someone on {event.space.platform.value}"
        who, named_by = self._names.account(event.account), self._actor(event)
        notice = f"{who}: {kind} by {named_by} in {self._where(event)} recorded"
        actions: list[Action] = [NotifyModerators(text=notice)]
        if carry:
            sanction = Ban if banned else Remove
            actions.insert(0, sanction(target=event.account, reason=reason))
            actions[-1] = NotifyModerators(text=notice + ", carried to every space")
        await self._writer.open_case(
            NewCase(
                subject=event.account,
                origin_kind=OriginKind.MODERATOR,
                origin=by,
                reason=f"{reason} (in {event.space.id})",
                dedupe_key=f"manual:{event.space.id}:{event.account.key}:{event.ts.isoformat()}",
            ),
            actions,
            member_id=await self._members.member_of(event.account),
        )

    def _actor(self, event: MembershipEvent) -> str:
        if event.actor is None:
            return f"someone on {event.space.platform.value}"
        return self._names.account(event.actor)

    def _where(self, event: MembershipEvent) -> str:
        return event.space.name or self._names.space(event.space.platform, event.space.id)

    async def _answer(self, message: Message, text: str) -> None:
        replier = self._repliers.get(message.platform)
        if replier is None:
            return
        try:
            await replier.reply(message.channel, text)
        except PlatformError as exc:
            if message.is_dm:  # the error names the DM channel, which points at the member
                log.warning("could not answer a direct message: %s", type(exc).__name__)
            else:
                log.warning("could not answer in %s: %s", message.channel.id, exc)
