"""Matrix events, as recorded in tests/data/matrix/, into the common model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from nio import Event

from adapters.matrix.translate import (
    RoomContext,
    membership_from_event,
    message_from_event,
    strip_reply_fallback,
    user_from_link,
)
from domain.model import Account, MembershipChange, Platform, SpaceKind

DATA = Path(__file__).resolve().parents[1] / "data" / "matrix"
ROOM = RoomContext(room_id="!aGVsbG8td29ybGQtcm9vbQ", name="General")


def load(name: str, *, bad: bool = False) -> Any:
    """A recorded event as nio parses it (``bad``: nio's schema refuses it as a BadEvent)."""
    event = Event.parse_event(json.loads((DATA / f"{name}.json").read_text()))
    assert type(event).__name__.startswith("Bad") is bad, event
    return event


def ids(accounts: tuple[Account, ...]) -> list[str]:
    return [a.id for a in accounts]


def test_plain_text_gives_the_body_links_and_where_it_was_posted() -> None:
    message = message_from_event(load("text_plain"), ROOM, display_name="Ann", power_level=0)

    assert message is not None
    assert message.id == "$Xk1plain0Hs6tOr3cSzL9rYbq8dQv0w2uEo4yFnGpA"
    assert message.text == "See https://spam.example/offer?id=7, or (http://bit.ly/x1)."
    assert message.links == ("https://spam.example/offer?id=7", "http://bit.ly/x1")
    assert message.author.account == Account(
        platform=Platform.MATRIX, id="@ann:example.org", display_name="Ann"
    )
    assert message.author.power_level == 0
    assert message.channel.id == ROOM.room_id
    assert message.channel.space_id == ROOM.room_id
    assert not message.is_dm
    assert message.ts == datetime(2025, 11, 24, 16, 0, tzinfo=UTC)
    assert (message.reply_to, message.edit_of, message.mentions) == (None, None, ())


def test_mentions_come_from_m_mentions_and_pills_and_pills_are_not_links() -> None:
    message = message_from_event(load("text_pills"), ROOM)

    assert message is not None
    assert ids(message.mentions) == ["@bob:example.org", "@dee:example.org", "@cy:matrix.example"]
    assert all(m.platform is Platform.MATRIX for m in message.mentions)
    # A room permalink stays a link: invitations to other rooms are a spam vector.
    assert message.links == (
        "https://example.net/page",
        "https://matrix.to/#/#lounge:spam.example",
    )


def test_a_pill_carries_the_name_it_shows_and_m_mentions_the_names_the_room_knows() -> None:
    """Element's pill: "Bob" in the body, the id in the link; the command reads the id."""
    message = message_from_event(load("text_pills"), ROOM, names={"@dee:example.org": "Dee"})

    assert message is not None
    assert [(m.id, m.display_name) for m in message.mentions] == [
        ("@bob:example.org", "Bob"),
        ("@dee:example.org", "Dee"),
        ("@cy:matrix.example", "Cy"),
    ]


def test_a_reply_points_at_its_parent_and_drops_the_quoted_fallback() -> None:
    message = message_from_event(load("text_reply"), ROOM)

    assert message is not None
    assert message.reply_to == "$orig4Jh7gF5dS3aZ1xC9vB8nM6kL4pO2iU0yT8rE6w"
    # The quoted insult is Ann's, not Bob's: it must not reach the rules as Bob's text.
    assert message.text == "Please keep it civil."
    assert ids(message.mentions) == ["@ann:example.org"]
    assert message.links == ()


def test_an_edit_carries_the_new_content_and_the_original_id() -> None:
    message = message_from_event(load("text_edit"), ROOM)

    assert message is not None
    assert message.id == "$edit5Qw2eR4tY6uI8oP0aS2dF4gH6jK8lZ0xC2vB4n"
    assert message.edit_of == "$Xk1plain0Hs6tOr3cSzL9rYbq8dQv0w2uEo4yFnGpA"
    assert message.text == "you are a moron Cy"
    assert ids(message.mentions) == ["@cy:matrix.example"]


def test_a_threads_fallback_reply_is_not_a_reply() -> None:
    message = message_from_event(load("text_thread"), ROOM)

    assert message is not None
    assert message.reply_to is None
    assert message.text == "in the thread"


@pytest.mark.parametrize(
    ("name", "text", "links"),
    [
        ("image_caption", "free nitro at https://scam.example", ("https://scam.example",)),
        ("image_plain", "", ()),
    ],
)
def test_media_counts_as_an_attachment_and_only_a_caption_is_text(
    name: str, text: str, links: tuple[str, ...]
) -> None:
    message = message_from_event(load(name), ROOM)

    assert message is not None
    assert (message.attachments, message.text, message.links) == (1, text, links)


def test_a_dm_has_no_space() -> None:
    dm = RoomContext(room_id="!dm:example.org", is_dm=True)
    message = message_from_event(load("text_plain"), dm)

    assert message is not None
    assert message.is_dm
    assert message.channel.space_id is None


def test_what_is_not_a_message_gives_none() -> None:
    assert message_from_event(load("reaction"), ROOM) is None


@pytest.mark.parametrize(
    ("name", "bad", "text", "attachments"),
    [
        # Clients show the body of a message type they do not know: it is judged.
        ("unknown_msgtype", False, "you idiot", 0),
        ("location", False, "meet me here, idiot", 0),
        ("notice", False, "automated: you idiot", 0),
        ("emote", False, "calls Bob an idiot", 0),
        # A caption (a body beside a separate file name) and its formatted version.
        ("file_caption_html", False, "read this, idiot", 1),
        # No caption, but a formatted body some client may show: that is read.
        ("video_caption_formatted_only", False, "call me on 0712 345 678", 1),
        # A body that is only the file name is no caption.
        ("audio_filename_only", False, "", 1),
        # What nio's schema refuses still reaches members' screens.
        ("no_msgtype", True, "you idiot", 0),
        ("image_without_url", True, "you idiot", 1),
        ("weird_no_body", False, "", 0),
    ],
)
def test_every_message_type_clients_display_is_judged(
    name: str, bad: bool, text: str, attachments: int
) -> None:
    message = message_from_event(load(name, bad=bad), ROOM)

    assert message is not None
    assert (message.text, message.attachments) == (text, attachments)
    assert message.author.account.id == "@ann:example.org"


def test_an_edit_of_an_unknown_message_type_is_judged_by_its_new_content() -> None:
    message = message_from_event(load("weird_edit"), ROOM)

    assert message is not None
    assert message.text == "you idiot"
    assert message.edit_of == "$weird0Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1Gf0Ed9Cb8Aa"


@pytest.mark.parametrize(
    ("name", "change", "actor", "reason"),
    [
        ("member_join", MembershipChange.JOIN, None, ""),
        ("member_join_after_invite", MembershipChange.JOIN, None, ""),
        ("member_leave", MembershipChange.LEAVE, None, ""),
        ("member_kick", MembershipChange.KICK, "@mod:example.org", "flooding"),
        ("member_ban", MembershipChange.BAN, "@mod:example.org", "hate speech"),
        ("member_ban_never_joined", MembershipChange.BAN, "@mod:example.org", "known spammer"),
        ("member_unban", MembershipChange.UNBAN, "@mod:example.org", ""),
    ],
)
def test_membership_changes(
    name: str, change: MembershipChange, actor: str | None, reason: str
) -> None:
    event = membership_from_event(load(name), ROOM)

    assert event is not None
    assert event.change is change
    assert event.actor == (None if actor is None else Account(platform=Platform.MATRIX, id=actor))
    assert event.reason == reason
    assert event.space.id == ROOM.room_id
    assert event.space.kind is SpaceKind.ROOM
    assert event.account.id == load(name).state_key


@pytest.mark.parametrize(
    "name", ["member_profile_change", "member_invite", "member_invite_declined"]
)
def test_what_does_not_change_who_is_in_the_room_gives_none(name: str) -> None:
    assert membership_from_event(load(name), ROOM) is None


def test_a_space_room_is_a_space() -> None:
    space = RoomContext(room_id="!space:example.org", is_space=True)
    event = membership_from_event(load("member_join"), space)

    assert event is not None
    assert event.space.kind is SpaceKind.SPACE
    assert event.account.display_name == "Eve"


@pytest.mark.parametrize(
    ("href", "user"),
    [
        ("https://matrix.to/#/@ann:example.org", "@ann:example.org"),
        ("https://matrix.to/#/%40ann%3Aexample.org?via=example.org", "@ann:example.org"),
        ("matrix:u/ann:example.org?action=chat", "@ann:example.org"),
        ("https://matrix.to/#/#room:example.org", None),
        ("https://matrix.to/#/!room:example.org/$event", None),
        ("https://example.org/@ann", None),
    ],
)
def test_user_from_link(href: str, user: str | None) -> None:
    assert user_from_link(href) == user


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("> <@a:x> quoted\n\nanswer", "answer"),
        ("> <@a:x> one\n> two\n\nanswer\n> not a fallback", "answer\n> not a fallback"),
        ("no fallback here", "no fallback here"),
        (">no space is not the fallback form", ">no space is not the fallback form"),
        ("> * <@a:x> waves\n\nhi", "hi"),  # an emote's fallback
        # Not the fallback form: the member's own quote (clients send no fallback since 1.13).
        ("> you idiot, call 0712345678\n\nagreed", "> you idiot, call 0712345678\n\nagreed"),
    ],
)
def test_strip_reply_fallback(body: str, expected: str) -> None:
    assert strip_reply_fallback(body) == expected


def text_event(content: dict[str, Any]) -> Any:
    return Event.parse_event(
        {
            "type": "m.room.message", "event_id": "$e", "sender": "@m:example.org",
            "origin_server_ts": 1764000000000, "content": {"msgtype": "m.text", **content},
        }
    )  # fmt: skip


def test_what_the_formatted_body_shows_is_judged_too() -> None:
    """Clients show formatted_body: one that says something else than body is read."""
    sneaky = text_event(
        {
            "body": "hello",
            "format": "org.matrix.custom.html",
            "formatted_body": "<p>you idiot, call <b>0712345678</b></p>",
        }
    )
    message = message_from_event(sneaky, ROOM)
    assert message is not None
    assert "you idiot, call 0712345678" in message.text
    # Hidden inside a longer body ("the skys were blue" squashed holds "kys"): still read.
    hidden = text_event(
        {
            "body": "the skys were blue",
            "format": "org.matrix.custom.html",
            "formatted_body": "<b>kys</b>",
        }
    )
    message = message_from_event(hidden, ROOM)
    assert message is not None
    assert message.text == "the skys were blue\nkys"
    # The usual case, markdown and its HTML: the body alone, not twice.
    usual = text_event(
        {
            "body": "**deploy** is _done_, see [docs](https://docs.example.org)",
            "format": "org.matrix.custom.html",
            "formatted_body": "<strong>deploy</strong> is <em>done</em>, see "
            '<a href="https://docs.example.org">docs</a>',
        }
    )
    message = message_from_event(usual, ROOM)
    assert message is not None
    assert message.text == "**deploy** is _done_, see [docs](https://docs.example.org)"
