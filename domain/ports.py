"""Ports: the Protocols that adapters and storage implement, and the errors they raise.

The core talks to platforms only through these. A platform library's error values become
one of the two exceptions below at the adapter boundary, so the action worker knows whether
to retry (transient) or to give up and tell the moderators (permanent).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Protocol

from domain.model import (
    Account,
    Action,
    Author,
    Channel,
    HomeserverReport,
    ListRule,
    MembershipEvent,
    Message,
    ModCommand,
    Platform,
    Space,
)


class PlatformError(Exception):
    """Base of the errors an adapter raises while carrying out an action."""


class TransientError(PlatformError):
    """Worth retrying later: rate limited, server error, connection lost."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(PlatformError):
    """Retrying will not help: missing permission, member above the bot, unknown user."""


MessageHandler = Callable[[Message], Awaitable[None]]
MembershipHandler = Callable[[MembershipEvent], Awaitable[None]]


class ActionExecutor(Protocol):
    """Carries out actions on one platform, in one space at a time."""

    platform: Platform

    async def execute(self, action: Action, space: Space, *, key: str = "") -> str:
        """Carry out ``action`` in ``space``; return a short description of what was done.

        ``key`` is the action's idempotency key (the outbox row's): a platform that can
        recognise a repeated request (a Matrix transaction id, a Discord nonce) derives its
        own from it with `request_token`, so a retry the platform already carried out (its
        answer was lost) changes nothing. Raises TransientError or PermanentError.
        """
        ...


def request_token(key: str, size: int = 32) -> str | None:
    """A platform's deduplication token for the action with idempotency ``key``: the same
    key always gives the same token; None without a key (the platform then picks one)."""
    if not key:
        return None
    return hashlib.sha256(key.encode()).hexdigest()[:size]


class Inbound(Protocol):
    """The core's entry points: what every adapter hands in (the core implements it).

    One port for all platforms; a platform that has no such event never calls that entry
    (Matrix has no report menu or native AutoMod, Discord has no text commands). Each entry
    raises NotRecorded when the core could not record the event: hand it in again later.
    """

    async def on_message(self, message: Message) -> None:
        """A message or an edit in a protected space (never the bot's own)."""
        ...

    async def on_membership(self, event: MembershipEvent) -> None:
        """A join, leave, kick, ban or unban in a protected space."""
        ...

    async def on_command(self, message: Message) -> None:
        """A moderator's text command (``!`` text in the mod room or a direct room)."""
        ...

    async def on_mod_command(self, command: ModCommand, *, moderator: Author, origin: str) -> str:
        """Carry out a structured ``command`` for ``moderator``; return the answer to show.

        ``origin`` identifies the command uniquely (e.g. ``discord:interaction:<id>``) so a
        repeated delivery is carried out once.
        """
        ...

    async def on_direct_message(self, message: Message) -> None:
        """A member wrote to the bot directly (reports, DM consent, linking accounts)."""
        ...

    async def on_report(
        self, *, reporter: Account, message: Message | None, details: str, origin: str
    ) -> str:
        """A member reported a message; return the confirmation to show them (privately)."""
        ...

    async def on_automod_hit(
        self, *, rule_name: str, author: Account, channel: Channel, matched: str
    ) -> None:
        """The platform's native AutoMod blocked a message for one of our rules."""
        ...

    async def known_accounts(self, text: str) -> list[Account]:
        """Accounts on any platform whose id or name contains ``text`` (autocomplete)."""
        ...


class EcosystemInbound(Protocol):
    """What the core does with the wider Matrix ecosystem: policy lists, room upgrades and
    reports made to the homeserver (a different object of the core than :class:`Inbound`)."""

    async def on_list_rule(self, rule: ListRule) -> None:
        """A rule of a subscribed policy list as it stands now (removed: no entity)."""
        ...

    async def on_room_upgraded(self, old: str, new: str) -> None:
        """A protected room (or the mod room) was upgraded; ``new`` is protected now."""
        ...

    async def on_homeserver_report(self, report: HomeserverReport) -> None:
        """A report made to the homeserver about a message in a protected room."""
        ...


class KeyValueStore(Protocol):
    """Small named text values that survive restarts (a sync token, a device id, a marker).

    The service backs it with SQLite (storage.kv); tests use an in-memory twin.
    """

    async def get(self, key: str) -> str | None:
        """The value stored under ``key``, or None when nothing was stored."""
        ...

    async def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing what was there."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove ``key``; False when it was not there."""
        ...


class Replier(Protocol):
    """Answers someone where they spoke to the bot (a command in a room, a direct message)."""

    async def reply(self, channel: Channel, text: str) -> None: ...


class Directory(Protocol):
    """Names a platform already knows (from its cache, no request): for answers and the
    modlog, which name members and spaces as people read them."""

    def account_name(self, account_id: str) -> str:
        """The account's display name, or "" when unknown."""
        ...

    def space_name(self, space_id: str) -> str:
        """A guild's, channel's or room's name as members read it, or "" when unknown."""
        ...

    def accounts_named(self, name: str) -> list[str]:
        """Ids of the protected spaces' members whose display name is ``name`` (any case)."""
        ...


class MessageFetcher(Protocol):
    """Reads a message a member linked to (evidence in a report)."""

    async def fetch(self, link: str) -> Message | None:
        """The message behind ``link`` if it is one of this platform's and can be read."""
        ...


def split_message(text: str, limit: int) -> list[str]:
    """Split ``text`` at line ends into pieces of at most ``limit`` characters (a platform's
    largest message); a longer line is cut."""
    out: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        if len(line) > limit and current:  # what came before goes first
            out.append(current)
            current = ""
        while len(line) > limit:
            out.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            out.append(current)
            current = ""
        current += line
    if current:
        out.append(current)
    return out


class NotRecorded(Exception):
    """The core could not record an event it was handed (its storage failed: disk full,
    read-only, I/O error). The adapter must hand the event in again later, and must not
    acknowledge it to the platform (a sync token, a catch-up marker) before that succeeds."""


class InviteGate(Protocol):
    """The core's DM-consent decision, as the homeserver's spam-checker transport asks it."""

    async def may_invite(
        self, inviter: str, invitee: str, room_id: str, *, direct: bool
    ) -> str | None:
        """Whether the Matrix user ``inviter`` may invite ``invitee`` (into ``room_id``, ""
        for a room being created; ``direct``: a direct-message invite). None lets it through;
        a text refuses it, and the inviter reads that text."""
        ...
