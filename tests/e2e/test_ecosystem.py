"""The Matrix moderation ecosystem, end to end: `modbridge run` against a real Synapse and
the Discord simulator, subscribed to a policy list, publishing its own, reading the
homeserver's event reports, and following a room upgrade.

One community (one guild, two Matrix rooms) and one service serve the module; the scenarios
run in order, and the server rule (which names the test homeserver, so everyone on it) is
the last.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from nio import AsyncClient, RoomCreateResponse, RoomPreset, RoomSendResponse

from devtools.discord_simulator import DiscordSimulator
from tests.e2e.community_helpers import (
    PHONE,
    Community,
    build_community,
    eventually,
    join_all,
    member_state,
    mod_room_notices,
)
from tests.e2e.matrix_helpers import client_for, send_text, set_level
from tests.e2e.service_helpers import is_redacted, notices
from tests.e2e.synapse import RegisteredUser, SynapseServer

pytestmark = [pytest.mark.synapse, pytest.mark.asyncio(loop_scope="module")]

WAIT = 25.0
LIST_ALIAS = "#coc-bans:localhost"
RULE = "m.policy.rule.user"


class World:
    """The community plus the two list rooms and the curator of the subscribed one."""

    def __init__(
        self, community: Community, curator: RegisteredUser, lists: dict[str, str]
    ) -> None:
        self.community = community
        self.curator = curator  # runs the subscribed list, for another community
        self.list_room = lists["subscribed"]
        self.publish_room = lists["published"]

    async def put_rule(
        self, key: str, entity: str | None, reason: str = "", kind: str = RULE
    ) -> None:
        """The curator adds (or, with no entity, removes) a ban rule in the subscribed list."""
        client = client_for(self.community.server, self.curator)
        try:
            content = (
                {"entity": entity, "recommendation": "m.ban", "reason": reason} if entity else {}
            )
            answer = await client.room_put_state(self.list_room, kind, content, key)
            assert getattr(answer, "event_id", None), answer
        finally:
            await client.close()

    async def rooms_banned(self, user_id: str) -> list[str]:
        """The protected rooms ``user_id`` is banned from, as the rooms' creator reads them
        (a member's client would not do: the server rule bans every member in the end)."""
        client = client_for(self.community.server, self.community.matrix_bot)
        try:
            states = [await member_state(client, r, user_id) for r in self.community.rooms]
        finally:
            await client.close()
        return [r for r, s in zip(self.community.rooms, states, strict=True) if s == "ban"]

    async def published(self, user_id: str) -> dict[str, Any]:
        """Our list's rule about ``user_id``, as another community's plain client reads it."""
        client = client_for(self.community.server, self.curator)
        try:
            answer = await client.room_get_state_event(self.publish_room, RULE, f"rule:{user_id}")
        finally:
            await client.close()
        content: dict[str, Any] = getattr(answer, "content", {})
        return {} if "errcode" in content else content


async def _http(
    client: AsyncClient, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {client.access_token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, client.homeserver + path, json=body, headers=headers) as answer,
    ):
        data: dict[str, Any] = await answer.json()
        assert answer.status == 200, (path, data)
        return data


async def _list_rooms(
    server: SynapseServer, community: Community, curator: RegisteredUser
) -> dict[str, str]:
    """The subscribed list (the curator's, public, known by its alias) and the community's
    own list (made by the bot's account, so it may write there), both public."""
    made = {}
    owners = (("subscribed", curator, "coc-bans"), ("published", community.matrix_bot, None))
    for name, owner, alias in owners:
        client = client_for(server, owner)
        try:
            answer = await client.room_create(
                name=f"{name} list", preset=RoomPreset.public_chat, alias=alias
            )
            assert isinstance(answer, RoomCreateResponse), answer
            made[name] = answer.room_id
        finally:
            await client.close()
    return made


async def _make_admin(server: SynapseServer, user_id: str) -> None:
    """What the README tells the homeserver's admin to do: make the bot a server admin."""
    admin = await asyncio.to_thread(server.register, "hsadmin", admin=True)
    client = client_for(server, admin)
    try:
        await _http(client, "PUT", f"/_synapse/admin/v2/users/{user_id}", {"admin": True})
    finally:
        await client.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    synapse: SynapseServer, sim: DiscordSimulator, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    community = await build_community(
        synapse, sim, tmp_path_factory.mktemp("ecosystem"), guilds=1, rooms=2
    )
    curator = await asyncio.to_thread(synapse.register, "curator")
    found = World(community, curator, await _list_rooms(synapse, community, curator))
    subscriber = client_for(synapse, curator)  # another community subscribes to ours
    try:
        await join_all(subscriber, [found.publish_room])
    finally:
        await subscriber.close()
    await _make_admin(synapse, community.matrix_bot.user_id)
    community.config.write_text(
        community.config.read_text().replace(
            "\n[discord]",
            f'policy_lists = ["{LIST_ALIAS}"]\npublish_list = "{found.publish_room}"\n'
            "read_abuse_reports = true\n\n[discord]",
        )
    )
    try:
        yield found
    finally:
        community.service.kill()


@pytest_asyncio.fixture(loop_scope="module")
async def running(world: World) -> World:
    await world.community.ensure_running()
    return world


def _names_list(notice: str) -> bool:
    return "policy list #coc-bans:localhost" in notice


async def test_a_rule_in_the_list_before_the_start_bans_at_the_start(world: World) -> None:
    community = world.community
    early = await community.add_person("early")
    await world.put_rule("early", early.matrix.user_id, "known spammer")
    await community.start()

    async def banned() -> bool:
        return await world.rooms_banned(early.matrix.user_id) == community.rooms

    await eventually(banned, "the listed member banned in every protected room", within=WAIT)
    notices = await mod_room_notices(community)
    assert any(
        _names_list(n) and early.matrix.user_id in n and "known spammer" in n for n in notices
    ), notices


async def test_a_rule_added_while_running_bans_on_both_platforms_and_its_removal_lifts(
    running: World,
) -> None:
    world, community = running, running.community
    person = await community.linked_person("listed")
    await world.put_rule("glob", "@listed*:localhost", "spam wave")

    async def banned_everywhere() -> bool:
        rooms = await world.rooms_banned(person.matrix.user_id)
        return rooms == community.rooms and community.banned_guilds(person) == community.guilds

    await eventually(banned_everywhere, "the list ban in every room and guild", within=WAIT)
    notices = await mod_room_notices(community)
    assert any(_names_list(n) and "spam wave" in n for n in notices), notices
    answer = await community.matrix_command("!lists", lambda n: "Subscribed" in n)
    assert f"{LIST_ALIAS}: 2 rules (2 user; 2 ban), updated" in answer

    await world.put_rule("glob", None)  # the curator removes the rule

    async def lifted() -> bool:
        rooms = await world.rooms_banned(person.matrix.user_id)
        return rooms == [] and community.banned_guilds(person) == []

    await eventually(lifted, "the bans of the removed rule lifted", within=WAIT)
    answer = await community.matrix_command("!lists", lambda n: "Subscribed" in n)
    assert f"{LIST_ALIAS}: 1 rules (1 user; 1 ban)" in answer


async def test_bans_are_published_to_our_list_and_unbans_remove_them(running: World) -> None:
    world, community = running, running.community
    person = await community.add_person("published")
    local = await community.add_person("local")
    user = person.matrix.user_id
    answer = await community.matrix_command(
        f"!ban {user} harassment in DMs", lambda n: n.startswith("Case #") and user in n
    )
    # The list is named as its room is (its name, or its id when the bot does not know it).
    published = [line for line in answer.splitlines() if "in the policy list" in line]
    assert len(published) == 1, answer
    assert published[0].startswith("  done: ban in the policy list ")
    assert published[0].endswith(" (Matrix)")

    async def listed() -> bool:
        return await world.published(user) == {
            "entity": user, "recommendation": "m.ban", "reason": "harassment in DMs",
        }  # fmt: skip

    await eventually(listed, "the ban rule in our policy list", within=WAIT)
    await community.matrix_command(
        f"!ban {local.matrix.user_id} --local a local matter",
        lambda n: n.startswith("Case #") and local.matrix.user_id in n,
    )
    await community.matrix_command(f"!unban {user}", lambda n: "unbanned" in n and user in n)

    async def unlisted() -> bool:
        return await world.published(user) == {}

    await eventually(unlisted, "the rule removed from our list", within=WAIT)
    assert await world.published(local.matrix.user_id) == {}
    assert await world.rooms_banned(local.matrix.user_id) == community.rooms


async def _report(client: AsyncClient, room: str, event_id: str, reason: str) -> None:
    """What Element's Report button sends."""
    await _http(
        client, "POST", f"/_matrix/client/v3/rooms/{room}/report/{event_id}",
        {"reason": reason, "score": -100},
    )  # fmt: skip


async def test_the_report_button_reaches_the_moderators_once_without_the_reporter(
    running: World,
) -> None:
    community = running.community
    reporter = await community.add_person("reporter")
    offender = await community.add_person("offender")
    members = client_for(community.server, offender.matrix)
    witness = client_for(community.server, reporter.matrix)
    try:
        # First a report about a room modbridge does not protect: left to the admins.
        elsewhere = await witness.room_create(preset=RoomPreset.public_chat)
        assert isinstance(elsewhere, RoomCreateResponse), elsewhere
        await join_all(members, [elsewhere.room_id])
        aside = await send_text(members, elsewhere.room_id, "an unprotected remark")
        assert isinstance(aside, RoomSendResponse), aside
        await _report(witness, elsewhere.room_id, aside.event_id, "not for the community")
        sent = await send_text(members, community.rooms[0], "you are all worthless")
        assert isinstance(sent, RoomSendResponse), sent
        why = f"{reporter.name} here: {offender.name} insults everyone"
        await _report(witness, community.rooms[0], sent.event_id, why)
    finally:
        await members.close()
        await witness.close()
    subject = f"report about matrix:{offender.matrix.user_id}"

    async def taken() -> list[str]:
        return [n for n in await mod_room_notices(community) if subject in n]

    async def arrived() -> bool:
        return bool(await taken())

    await eventually(arrived, "the report in the mod room", within=WAIT)
    notice = (await taken())[0]
    assert "you are all worthless" in notice
    assert sent.event_id in notice
    assert reporter.name not in notice
    assert "[the reporter]" in notice
    assert all("unprotected remark" not in n for n in await mod_room_notices(community))

    await community.stop()
    await community.start()
    # A second report after the restart: once it is in, the first one was read again too.
    later = client_for(community.server, offender.matrix)
    witness = client_for(community.server, reporter.matrix)
    try:
        again = await send_text(later, community.rooms[0], "and still worthless")
        assert isinstance(again, RoomSendResponse), again
        await _report(witness, community.rooms[0], again.event_id, "again")
    finally:
        await later.close()
        await witness.close()

    async def second() -> bool:
        return len(await taken()) >= 2

    await eventually(second, "the second report in the mod room", within=WAIT)
    found = await taken()
    assert len(found) == 2, found
    assert "and still worthless" in found[1]


async def test_a_user_report_about_a_member_reaches_the_moderators(running: World) -> None:
    world, community = running, running.community
    reporter = await community.add_person("target")
    stalker = await community.add_person("stalker")
    client = client_for(community.server, reporter.matrix)
    try:
        # About someone who is in no protected room: left to the homeserver's admins.
        path = f"/_matrix/client/v3/users/{world.curator.user_id}/report"
        await _http(client, "POST", path, {"reason": "an outsider"})
        path = f"/_matrix/client/v3/users/{stalker.matrix.user_id}/report"
        await _http(client, "POST", path, {"reason": "he follows me into every room"})
    finally:
        await client.close()
    subject = f"report about matrix:{stalker.matrix.user_id}"

    async def arrived() -> bool:
        return any(subject in n for n in await mod_room_notices(community))

    await eventually(arrived, "the user report in the mod room", within=WAIT)
    notices_now = await mod_room_notices(community)
    notice = next(n for n in notices_now if subject in n)
    assert "he follows me into every room" in notice
    assert reporter.name not in notice
    assert all(world.curator.user_id not in n for n in notices_now)


async def test_a_server_rule_bans_a_member_who_joins_later(running: World) -> None:
    """Every test member is on this one homeserver, so the rule names them all; it is
    removed again at the end, which lifts all of its bans."""
    world, community = running, running.community
    await world.put_rule("server", "localhost", "spam server", kind="m.policy.rule.server")
    observer = community.observer.user_id

    async def members_banned() -> bool:
        return await world.rooms_banned(observer) == community.rooms

    await eventually(members_banned, "the members of the listed server banned", within=WAIT)
    newcomer = await community.add_person("newcomer")

    async def newcomer_banned() -> bool:
        return await world.rooms_banned(newcomer.matrix.user_id) == community.rooms

    await eventually(newcomer_banned, "the newcomer banned on joining", within=WAIT)
    await world.put_rule("server", None, kind="m.policy.rule.server")

    async def lifted() -> bool:
        banned = [await world.rooms_banned(u) for u in (observer, newcomer.matrix.user_id)]
        return banned == [[], []]

    await eventually(lifted, "the server rule's bans lifted", within=WAIT)


async def test_an_upgraded_room_is_followed_and_a_mute_carried(running: World) -> None:
    community = running.community
    muted = await community.add_person("muted")
    speaker = await community.add_person("speaker")
    user = muted.matrix.user_id
    await community.matrix_command(f"!mute {user} 1h noise", lambda n: "muted" in n and user in n)
    # Another room admin upgrades the second protected room, keeping the bot a creator of
    # the new room (room version 12 gives creators their power): the bot must join it.
    creator = client_for(community.server, community.matrix_bot)
    admin = client_for(community.server, running.curator)
    try:
        await join_all(admin, [community.rooms[1]])
        await set_level(creator, community.rooms[1], running.curator.user_id, 150)
        upgraded = await _http(
            admin, "POST", f"/_matrix/client/v3/rooms/{community.rooms[1]}/upgrade",
            {"new_version": "12", "additional_creators": [community.matrix_bot.user_id]},
        )  # fmt: skip
    finally:
        await creator.close()
        await admin.close()
    new_room = str(upgraded["replacement_room"])

    async def followed() -> bool:
        return any(new_room in n and "upgraded" in n for n in await mod_room_notices(community))

    await eventually(followed, "the moderators told the room is followed", within=WAIT)
    mute_client = client_for(community.server, muted.matrix)
    speak_client = client_for(community.server, speaker.matrix)
    try:
        await join_all(mute_client, [new_room])
        await join_all(speak_client, [new_room])
        refused = await send_text(mute_client, new_room, "can I talk here?")
        assert not isinstance(refused, RoomSendResponse), "the muted member spoke in the new room"
        # The new room is protected: a phone number posted there is taken down.
        leak = await send_text(speak_client, new_room, f"call her on {PHONE}")
        assert isinstance(leak, RoomSendResponse), leak

        async def redacted() -> bool:
            return await is_redacted(speak_client, new_room, leak.event_id)

        await eventually(redacted, "the phone number redacted in the new room", within=WAIT)
        # The configured id keeps working: an unmute reaches the new room too.
        await community.matrix_command(f"!unmute {user}", lambda n: "unmuted" in n and user in n)

        async def can_talk() -> bool:
            return isinstance(await send_text(mute_client, new_room, "thanks"), RoomSendResponse)

        await eventually(can_talk, "the unmuted member speaking in the new room", within=WAIT)
    finally:
        await mute_client.close()
        await speak_client.close()


async def test_an_upgraded_mod_room_is_followed(running: World) -> None:
    community = running.community
    admin = client_for(community.server, community.matrix_bot)
    moderator = client_for(community.server, community.matrix_mod)
    try:
        upgraded = await _http(
            admin, "POST", f"/_matrix/client/v3/rooms/{community.mod_room}/upgrade",
            {"new_version": "12"},
        )  # fmt: skip
        new_room = str(upgraded["replacement_room"])
        # An invite-only room: its admin invites the moderators again, as Element offers.
        await admin.room_invite(new_room, community.matrix_mod.user_id)
        await join_all(moderator, [new_room])

        async def told_there() -> bool:
            return any("upgraded" in n for n in await notices(moderator, new_room))

        await eventually(told_there, "the upgrade notice in the new mod room", within=WAIT)
        sent = await send_text(moderator, new_room, "!lists")
        assert isinstance(sent, RoomSendResponse), sent

        async def answered() -> bool:
            return any("Subscribed" in n for n in await notices(moderator, new_room))

        await eventually(answered, "the answer to !lists in the new mod room", within=WAIT)
    finally:
        await admin.close()
        await moderator.close()
