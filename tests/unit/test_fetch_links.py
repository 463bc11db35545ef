"""Message links in reports: which ones each platform's fetcher reads, and where they point."""

from __future__ import annotations

import pytest

from adapters.discord import fetch as discord_fetch
from adapters.discord.fetch import DiscordLink
from adapters.matrix import fetch as matrix_fetch
from adapters.matrix.fetch import MatrixLink

GUILD, CHANNEL, MESSAGE = 1100000000000000001, 1200000000000000002, 1300000000000000003
IN_GUILD = DiscordLink(guild_id=GUILD, channel_id=CHANNEL, message_id=MESSAGE)


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (f"https://discord.com/channels/{GUILD}/{CHANNEL}/{MESSAGE}", IN_GUILD),
        (f"https://discordapp.com/channels/{GUILD}/{CHANNEL}/{MESSAGE}", IN_GUILD),
        (f"https://ptb.discord.com/channels/{GUILD}/{CHANNEL}/{MESSAGE}", IN_GUILD),
        (f"https://canary.discord.com/channels/{GUILD}/{CHANNEL}/{MESSAGE}", IN_GUILD),
        (f"https://canary.discordapp.com/channels/{GUILD}/{CHANNEL}/{MESSAGE}", IN_GUILD),
        (f"HTTPS://Discord.com/channels/{GUILD}/{CHANNEL}/{MESSAGE}/", IN_GUILD),
        (f"<https://discord.com/channels/{GUILD}/{CHANNEL}/{MESSAGE}>", IN_GUILD),
        (
            f"https://discord.com/channels/@me/{CHANNEL}/{MESSAGE}",
            DiscordLink(guild_id=None, channel_id=CHANNEL, message_id=MESSAGE),
        ),
    ],
)
def test_discord_message_links_are_read(link: str, expected: DiscordLink) -> None:
    assert discord_fetch.parse_link(link) == expected


@pytest.mark.parametrize(
    "link",
    [
        f"https://discord.com/channels/{GUILD}/{CHANNEL}",  # a channel, not a message
        f"https://discord.com/channels/{GUILD}",
        f"https://evil.com/channels/{GUILD}/{CHANNEL}/{MESSAGE}",
        f"https://discord.com.evil.com/channels/{GUILD}/{CHANNEL}/{MESSAGE}",
        f"https://discord.gg/channels/{GUILD}/{CHANNEL}/{MESSAGE}",
        f"https://discord.com/channels/{GUILD}/{CHANNEL}/{MESSAGE}/extra",
        f"https://discord.com/channels/{GUILD}/general/{MESSAGE}",
        f"https://discord.com/channels/{GUILD}/{CHANNEL}/{MESSAGE}?x=1",
        "https://matrix.to/#/!room:example.org/$event",
        "discord.com/channels/1/2/3 and some words",
        "",
    ],
)
def test_other_links_are_not_discord_messages(link: str) -> None:
    assert discord_fetch.parse_link(link) is None


ROOM, EVENT = "!abcDEF:example.org", "$Xk1plain0Hs6tOr3cSzL9rYbq8dQv0w2uEo4yFnGpA"


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (f"https://matrix.to/#/{ROOM}/{EVENT}", MatrixLink(room=ROOM, event_id=EVENT)),
        (
            f"https://matrix.to/#/{ROOM}/{EVENT}?via=example.org",
            MatrixLink(room=ROOM, event_id=EVENT),
        ),
        (
            "https://matrix.to/#/%21abcDEF%3Aexample.org/%24Xk1plain0Hs6tOr3cSzL9rYbq8dQv0w2uEo4yFnGpA"
            "?via=example.org&via=other.org",
            MatrixLink(room=ROOM, event_id=EVENT),
        ),
        (
            f"https://matrix.to/#/#general:example.org/{EVENT}",
            MatrixLink(room="#general:example.org", event_id=EVENT),
        ),
        (
            f"https://matrix.to/#/%23general%3Aexample.org/{EVENT}",
            MatrixLink(room="#general:example.org", event_id=EVENT),
        ),
        (  # room version 12: the room id has no server part
            f"https://matrix.to/#/!aGVsbG8td29ybGQtcm9vbQ/{EVENT}",
            MatrixLink(room="!aGVsbG8td29ybGQtcm9vbQ", event_id=EVENT),
        ),
        (  # room version 3: standard base64 event ids may hold "/" and "+"
            f"https://matrix.to/#/{ROOM}/$abc/def+ghi",
            MatrixLink(room=ROOM, event_id="$abc/def+ghi"),
        ),
        (f"<https://matrix.to/#/{ROOM}/{EVENT}>", MatrixLink(room=ROOM, event_id=EVENT)),
    ],
)
def test_matrix_event_permalinks_are_read(link: str, expected: MatrixLink) -> None:
    assert matrix_fetch.parse_link(link) == expected


@pytest.mark.parametrize(
    "link",
    [
        f"https://matrix.to/#/{ROOM}",  # a room, not an event
        "https://matrix.to/#/@ann:example.org",  # a user
        f"https://matrix.to/#/@ann:example.org/{EVENT}",
        f"https://matrix.to/#/{ROOM}/not-an-event",
        f"https://matrix.to/#/general/{EVENT}",
        f"http://matrix.to/#/{ROOM}/{EVENT}",  # matrix.to is https only
        f"https://matrix.to.evil.com/#/{ROOM}/{EVENT}",
        f"https://evil.com/#/{ROOM}/{EVENT}",
        f"https://discord.com/channels/{GUILD}/{CHANNEL}/{MESSAGE}",
        "",
    ],
)
def test_other_links_are_not_matrix_events(link: str) -> None:
    assert matrix_fetch.parse_link(link) is None


async def test_a_link_into_a_members_direct_room_with_the_bot_is_never_read() -> None:
    """Someone else's report conversation is private: the fetcher does not even ask."""

    class Homeserver:
        def __init__(self) -> None:
            self.asked: list[str] = []

        async def room_get_event(self, room_id: str, event_id: str) -> object:
            self.asked.append(room_id)
            return object()  # not a RoomGetEventResponse: the link stays a link

    server = Homeserver()
    fetcher = matrix_fetch.MatrixFetcher(
        server,  # type: ignore[arg-type]  # the one method the fetcher calls here
        is_direct=lambda room: room == "!dm:hs",
    )
    assert await fetcher.fetch("https://matrix.to/#/!dm:hs/$secret") is None
    assert await fetcher.fetch("https://matrix.to/#/!general:hs/$open") is None
    assert server.asked == ["!general:hs"]
