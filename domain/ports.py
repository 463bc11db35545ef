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
    Action,
    Author,
    Channel,
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


class CommandHandler(Protocol):
    """The core's side of a moderator command, for adapters with structured commands."""

    async def on_mod_command(self, command: ModCommand, *, moderator: Author, origin: str) -> str:
        """Carry out ``command`` for ``moderator``; return the answer to show them.

        ``origin`` identifies the command uniquely (e.g. ``discord:interaction:<id>``) so a
        repeated delivery is carried out once.
        """
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
