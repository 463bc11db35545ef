"""discord.py objects (already parsed from the gateway) into the common model: pure functions.

Nothing here does I/O or reads a clock: the connection passes the time in where the event
itself carries none (a leave, a ban). discord.py has already turned the JSON into
``discord.Message`` / ``discord.Member`` objects using its cache; these functions only read
them, so they are tested on recorded payloads turned into such objects.

What Discord does not say, this module does not guess: ``GUILD_MEMBER_REMOVE`` is the same
for a leave and a kick (only the audit log tells them apart), so it becomes a LEAVE; a ban
arrives as its own ``GUILD_BAN_ADD`` and becomes a BAN.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import datetime

import discord

from domain import userids
from domain.model import (
    Account,
    Author,
    Channel,
    MembershipChange,
    MembershipEvent,
    Message,
    Platform,
    Space,
    SpaceKind,
)

# A bare URL in message text; trailing punctuation belongs to the sentence, not the link.
# Discord also accepts <https://...> to suppress the embed: the angle brackets are not part of it.
_URL = re.compile(r"https?://[^\s<>\"'`|]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\"*_~"


def account(user: discord.abc.User | discord.Object, display_name: str = "") -> Account:
    """The common-model account of a Discord user (or of a bare id)."""
    if not display_name and isinstance(user, discord.abc.User):
        display_name = user.display_name
    return Account(platform=Platform.DISCORD, id=str(user.id), display_name=display_name)


def account_of_id(user_id: int | str) -> Account:
    """The account of a user known only by id (automod executions, raw events)."""
    return Account(platform=Platform.DISCORD, id=str(user_id))


def space(guild: discord.Guild | discord.Object, name: str = "") -> Space:
    """A guild as the place members join and leave."""
    if not name and isinstance(guild, discord.Guild):
        name = guild.name
    return Space(platform=Platform.DISCORD, id=str(guild.id), kind=SpaceKind.GUILD, name=name)


def is_moderator(user: discord.abc.User, moderator_roles: Collection[int]) -> bool:
    """Whether the configured moderator roles or the Administrator permission make them one.

    Only a guild Member can be one: in a DM Discord sends a User, who has no roles.
    The owner counts, because discord.py gives the owner every permission.
    """
    if not isinstance(user, discord.Member):
        return False
    if any(role.id in moderator_roles for role in user.roles):
        return True
    return user.guild_permissions.administrator


def author(user: discord.abc.User, moderator_roles: Collection[int]) -> Author:
    """The sender as Discord describes them now: roles (as ids), moderator, bot."""
    roles: tuple[str, ...] = ()
    if isinstance(user, discord.Member):
        roles = tuple(str(role.id) for role in user.roles if not role.is_default())
    return Author(
        account=account(user),
        roles=roles,
        is_moderator=is_moderator(user, moderator_roles),
        is_bot=user.bot,
    )


def channel(message: discord.Message) -> Channel:
    """Where the message was posted; a DM has no space."""
    where = message.channel
    name = where.name if isinstance(where, discord.abc.GuildChannel | discord.Thread) else ""
    guild_id = message.guild.id if message.guild is not None else None
    if guild_id is None and isinstance(where, discord.abc.GuildChannel | discord.Thread):
        guild_id = where.guild.id
    return Channel(
        platform=Platform.DISCORD,
        id=str(where.id),
        space_id=None if guild_id is None else str(guild_id),
        name=name,
        is_dm=guild_id is None,
    )


def message(
    msg: discord.Message, *, moderator_roles: Collection[int] = (), edit: bool = False
) -> Message:
    """Translate a message, or an edit of one (``edit=True``: ``edit_of`` is its id).

    Discord keeps one id for a message and all its edits, so an edit carries the same id in
    ``id`` and ``edit_of``: a DeleteMessage built from either deletes the message.
    """
    reply_to: str | None = None
    reference = msg.reference
    # A forward also carries a reference, but the member did not reply to anything.
    if (
        reference is not None
        and reference.message_id is not None
        and reference.type is discord.MessageReferenceType.reply
        and msg.type is discord.MessageType.reply
    ):
        reply_to = str(reference.message_id)
    # A forward's own content is empty: what members see is the forwarded snapshot, and the
    # member who forwards it into a protected channel answers for it.
    snapshots = msg.message_snapshots
    text = "\n".join(t for t in (msg.content, *(m.content for m in snapshots), *_written(msg)) if t)
    return Message(
        id=str(msg.id),
        author=author(msg.author, moderator_roles),
        channel=channel(msg),
        text=text,
        ts=msg.edited_at if edit and msg.edited_at is not None else msg.created_at,
        mentions=tuple(_unique_accounts(msg.mentions)),
        links=tuple(links(text)),
        attachments=len(msg.attachments) + sum(len(m.attachments) for m in snapshots),
        reply_to=reply_to,
        edit_of=str(msg.id) if edit else None,
    )


def _written(msg: discord.Message) -> list[str]:
    """What else a member writes into a message and everyone is shown: a poll's question and
    answers, and the descriptions (alt text) of attachments. (Embeds are not written by
    members: a link's preview is the linked site's.)"""
    found: list[str] = []
    if msg.poll is not None:
        found.append(msg.poll.question)
        found.extend(answer.text for answer in msg.poll.answers)
    found.extend(a.description for a in msg.attachments if a.description)
    return found


def links(text: str) -> list[str]:
    """The http(s) links in message text, in order, each once."""
    found = (match.group(0).rstrip(_TRAILING) for match in _URL.finditer(text))
    return list(dict.fromkeys(link for link in found if link))


def joined(member: discord.Member) -> MembershipEvent:
    """GUILD_MEMBER_ADD: the member joined the guild."""
    return MembershipEvent(
        account=account(member),
        space=space(member.guild),
        change=MembershipChange.JOIN,
        # joined_at is None only for members discord.py built without it; a join has it.
        ts=member.joined_at or discord.utils.snowflake_time(member.guild.id),
    )


def left(
    user: discord.abc.User, guild: discord.Guild | discord.Object, *, now: datetime
) -> MembershipEvent:
    """GUILD_MEMBER_REMOVE: a leave (or a kick: Discord sends the same event for both)."""
    return MembershipEvent(
        account=account(user), space=space(guild), change=MembershipChange.LEAVE, ts=now
    )


def banned(
    guild: discord.Guild | discord.Object, user: discord.abc.User, *, now: datetime
) -> MembershipEvent:
    """GUILD_BAN_ADD: the user was banned (by the bot, a moderator, or another bot)."""
    return MembershipEvent(
        account=account(user), space=space(guild), change=MembershipChange.BAN, ts=now
    )


def unbanned(
    guild: discord.Guild | discord.Object, user: discord.abc.User, *, now: datetime
) -> MembershipEvent:
    """GUILD_BAN_REMOVE: the ban was lifted."""
    return MembershipEvent(
        account=account(user), space=space(guild), change=MembershipChange.UNBAN, ts=now
    )


def parse_user(text: str) -> Account | None:
    """A user written as a Discord id, mention or ``discord:<id>``, or a Matrix id or link
    (moderators may name any account): the one parser of :mod:`domain.userids`."""
    return userids.parse_account(text)


def _unique_accounts(users: Iterable[discord.abc.User]) -> list[Account]:
    seen: dict[int, Account] = {}
    for user in users:
        seen.setdefault(user.id, account(user))
    return list(seen.values())
