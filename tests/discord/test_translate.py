"""translate.py on recorded payloads: what the core sees of each Discord event."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.discord import translate
from domain.model import Account, MembershipChange, Platform, SpaceKind
from tests.discord.payloads import Recorded, ids

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def recorded() -> Recorded:
    return Recorded()


def test_a_plain_message(recorded: Recorded) -> None:
    known = ids()
    message = translate.message(recorded.message("message_plain"))

    assert message.text == "hello everyone"
    assert message.author.account == Account(
        platform=Platform.DISCORD, id=str(known["alice"]), display_name="Alice A."
    )
    assert message.channel.id == str(known["general"])
    assert message.channel.space_id == str(known["guild"])
    assert message.channel.name == "general"
    assert not message.is_dm
    assert not message.author.is_moderator
    assert not message.author.is_bot
    assert message.author.roles == ()
    assert (message.mentions, message.links, message.attachments) == ((), (), 0)
    assert message.reply_to is None
    assert message.edit_of is None
    assert message.ts.tzinfo is not None


def test_mentions_links_attachments_and_the_reply(recorded: Recorded) -> None:
    known = ids()
    raw = recorded.message("message_reply_mentions_links")
    message = translate.message(raw)

    # Each mentioned user once, in order; links without the sentence's punctuation or the
    # angle brackets that suppress an embed.
    assert [m.id for m in message.mentions] == [str(known["bob"]), str(known["maria"])]
    assert message.links == ("https://example.org/a?b=1", "https://spam.example/x")
    assert message.attachments == 2
    assert raw.reference is not None
    assert message.reply_to == str(raw.reference.message_id)
    assert message.reply_to != message.id


def test_a_forward_is_not_a_reply_and_its_snapshot_is_judged(recorded: Recorded) -> None:
    message = translate.message(recorded.message("message_forward"))

    assert message.reply_to is None
    # The forward's own content is empty; members read the forwarded message.
    assert message.text == "what do you think?"


@pytest.mark.parametrize(
    ("name", "text", "attachments"),
    [
        # A poll's question and answers are the member's words, shown to everyone.
        ("message_poll", "who is the biggest idiot here?\nBob\ncall 0712 345 678", 0),
        # An image's description (alt text) too.
        ("message_attachment_alt", "look\nyou idiot", 1),
    ],
)
def test_what_else_members_write_into_a_message_is_judged(
    recorded: Recorded, name: str, text: str, attachments: int
) -> None:
    message = translate.message(recorded.message(name))

    assert (message.text, message.attachments) == (text, attachments)


def test_an_edit_keeps_the_message_id_and_says_so(recorded: Recorded) -> None:
    raw = recorded.message("message_update_edit")
    message = translate.message(raw, edit=True)

    assert message.text == "n1ce idiot"
    assert message.id == str(raw.id)
    assert message.edit_of == str(raw.id)
    assert message.ts == raw.edited_at


@pytest.mark.parametrize(
    ("payload", "moderator_roles", "expected"),
    [
        ("message_moderator", "configured", True),  # has a configured moderator role
        ("message_moderator", "none", False),  # the same role, not configured
        ("message_admin", "none", True),  # Administrator is always a moderator
        ("message_plain", "configured", False),
    ],
)
def test_who_is_a_moderator(
    recorded: Recorded, payload: str, moderator_roles: str, expected: bool
) -> None:
    roles = [ids()["moderators_role"]] if moderator_roles == "configured" else []
    message = translate.message(recorded.message(payload), moderator_roles=roles)

    assert message.author.is_moderator is expected


def test_roles_are_ids_without_everyone(recorded: Recorded) -> None:
    message = translate.message(recorded.message("message_moderator"))

    assert message.author.roles == (str(ids()["moderators_role"]),)


def test_a_bot_author_is_marked(recorded: Recorded) -> None:
    assert translate.message(recorded.message("message_other_bot")).author.is_bot


def test_a_direct_message(recorded: Recorded) -> None:
    message = translate.message(recorded.message("message_dm"))

    assert message.is_dm
    assert message.channel.space_id is None
    assert message.links == ("https://evidence.example/1",)
    assert not message.author.is_moderator


def test_join(recorded: Recorded) -> None:
    event = translate.joined(recorded.member("guild_member_add"))

    assert event.change is MembershipChange.JOIN
    assert event.account.id == str(ids()["bob"])
    assert event.space.id == str(ids()["guild"])
    assert event.space.kind is SpaceKind.GUILD
    assert event.space.name == "Community"


def test_leave_ban_and_unban(recorded: Recorded) -> None:
    guild = recorded.guild
    left = translate.left(recorded.user("guild_member_remove"), guild, now=NOW)
    banned = translate.banned(guild, recorded.user("guild_ban_add"), now=NOW)
    unbanned = translate.unbanned(guild, recorded.user("guild_ban_remove"), now=NOW)

    assert [e.change for e in (left, banned, unbanned)] == [
        MembershipChange.LEAVE,
        MembershipChange.BAN,
        MembershipChange.UNBAN,
    ]
    assert {e.account.id for e in (left, banned, unbanned)} == {str(ids()["bob"])}
    assert left.ts == NOW


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123456789012345678", "123456789012345678"),
        ("<@123456789012345678>", "123456789012345678"),
        ("<@!123456789012345678>", "123456789012345678"),
        ("discord:123456789012345678", "123456789012345678"),
        (" 123456789012345678 ", "123456789012345678"),
        ("@bob", None),
        ("12345", None),
        ("<@&123456789012345678>", None),  # a role mention
    ],
)
def test_parse_user(text: str, expected: str | None) -> None:
    account = translate.parse_user(text)
    assert (account.id if account else None) == expected
