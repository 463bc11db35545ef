"""Confidential reports end to end: members report to the bot in direct messages on Matrix
(a real Synapse) and Discord (the simulator, with the real discord.py client inside the
service), and through Discord's "Report message" menu; moderators are told without the
reporter being named; unsolicited DMs are acted on; the homeserver refuses DM invites
without consent; retaliation is flagged; reporters hear how their reports end.

One Synapse (with synapse-http-antispam pointed at the service), one Discord simulator and
one `modbridge run` serve the module. The scenarios build on each other in file order (the
retaliation and closing scenarios reuse the first report's case), and the last one scans
everything the bot said anywhere but to the reporters, and its whole log, for their names.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio
from nio import (
    JoinedMembersResponse,
    JoinedRoomsResponse,
    RoomCreateError,
    RoomCreateResponse,
    RoomInviteResponse,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)

from adapters.matrix.antispam_http import PREFIX
from devtools.discord_simulator import DiscordSimulator
from tests.e2e.community_helpers import (
    WAIT,
    Community,
    Person,
    build_community,
    config_text,
    eventually,
    mod_room_notices,
)
from tests.e2e.conftest import require_synapse
from tests.e2e.matrix_helpers import send_text
from tests.e2e.report_helpers import (
    DiscordDirect,
    MatrixDirect,
    Reporter,
    leaks,
    messages_by,
    named_person,
    said_on_discord,
    said_on_matrix,
)
from tests.e2e.service_helpers import join_invites
from tests.e2e.synapse import SynapseServer

pytestmark = [pytest.mark.synapse, pytest.mark.asyncio(loop_scope="module")]

SECRET = secrets.token_hex(16)
DIRECT_WINDOW = 2.0  # seconds after creating a room in which its invites count as DM invites
CALLBACKS = ["user_may_invite", "user_may_create_room"]
CLAUSE = (
    "Members must not reach out, follow, or engage with others outside community "
    "platforms unless invited"
)
_CASE = re.compile(r"case #(\d+)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Story:
    """What the scenarios leave for the ones after them."""

    reporters: list[Reporter] = field(default_factory=list)
    interaction_tokens: list[str] = field(default_factory=list)  # the reporters' own
    matrix_case: tuple[int, Reporter, Person] | None = None  # case, reporter, reported
    discord_case: tuple[int, Reporter] | None = None
    timings: dict[str, float] = field(default_factory=dict)


@pytest.fixture(scope="module")
def antispam_port() -> int:
    return _free_port()


@pytest.fixture(scope="module")
def homeserver(
    tmp_path_factory: pytest.TempPathFactory, antispam_port: int
) -> Iterator[SynapseServer]:
    """Synapse with the module pointed at the service's antispam server (failing open while
    the service is not up yet, as the module docstring recommends)."""
    require_synapse()
    module = {
        "base_url": f"http://127.0.0.1:{antispam_port}{PREFIX}",
        "authorization": SECRET,
        "enabled_callbacks": CALLBACKS,
        "fail_open": dict.fromkeys(CALLBACKS, True),
    }
    server = SynapseServer(
        tmp_path_factory.mktemp("synapse-reports"),
        extra_config={
            "modules": [{"module": "synapse_http_antispam.HTTPAntispam", "config": module}]
        },
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def community(
    homeserver: SynapseServer,
    sim: DiscordSimulator,
    antispam_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Community]:
    built = await build_community(
        homeserver, sim, tmp_path_factory.mktemp("reports"), guilds=1, rooms=2
    )
    built.config.write_text(
        config_text(built) + f'\n[antispam]\nlisten = "127.0.0.1:{antispam_port}"\n'
        f"direct_window_seconds = {DIRECT_WINDOW}\n"
    )
    built.service.env["MODBRIDGE_ANTISPAM__SECRET"] = SECRET
    # Retaliation flags wait for the end of a window (an hour by default): 2 seconds here.
    built.service.env["MODBRIDGE_REPORTS__FLAG_DELAY"] = "2s"
    try:
        up = await built.start()
        print(f"service up in {up:.2f}s")
        yield built
    finally:
        built.service.kill()


@pytest.fixture(scope="module")
def story() -> Story:
    return Story()


async def mod_notice(community: Community, wanted: str) -> str:
    """The first notice in the Matrix mod room that contains ``wanted`` (waiting for it)."""
    found: list[str] = []

    async def arrived() -> bool:
        found[:] = [n for n in await mod_room_notices(community) if wanted in n]
        return bool(found)

    await eventually(arrived, f"a mod-room notice with {wanted!r}", within=WAIT)
    return found[0]


async def mod_channel_message(community: Community, wanted: str) -> str:
    """The first bot message in the Discord mod channel that contains ``wanted``."""
    channel = community.mod_channels[0]
    found: list[str] = []

    async def arrived() -> bool:
        found[:] = [
            m.content
            for m in community.sim.messages_in(channel)
            if m.author_id == community.bot.id and wanted in m.content
        ]
        return bool(found)

    await eventually(arrived, f"a Discord mod-channel message with {wanted!r}", within=WAIT)
    return found[0]


def case_number(answer: str) -> int:
    match = _CASE.search(answer)
    assert match is not None, answer
    return int(match.group(1))


def assert_unnamed(texts: list[str], reporters: list[Reporter]) -> None:
    found = leaks(texts, reporters)
    assert not found, found


# -- 1. a report by direct message on Matrix ------------------------------------------------------


async def test_report_by_direct_message_on_matrix(community: Community, story: Story) -> None:
    reporter = await named_person(community, "wanjiku", "Wanjiku Mwangi")
    story.reporters.append(reporter)
    offender = await community.add_person("creep")
    room = community.rooms[0]
    writer = community.client(offender.matrix)
    try:
        sent = await send_text(writer, room, "nobody here wants you around, just leave")
    finally:
        await writer.close()
    assert isinstance(sent, RoomSendResponse), sent
    # As Element copies it: percent-encoded, with a via.
    link = (
        f"https://matrix.to/#/{quote(room, safe='')}/{quote(sent.event_id, safe='')}?via=localhost"
    )
    missing = f"https://matrix.to/#/{room}/$no-such-event"  # M_NOT_FOUND: stays a link

    started = time.monotonic()
    dm = MatrixDirect(community, reporter.person)
    try:
        await dm.open()
        assert "What happened?" in await dm.say("report")
        assert "Who was it?" in await dm.say("He keeps telling me to leave the community")
        assert "Where did it happen?" in await dm.say(offender.matrix.user_id)
        assert "Any evidence?" in await dm.say("in the general room, this morning")
        assert "May I tell the moderators" in await dm.say(f"{link} and {missing}")
        answer = await dm.say("no")
    finally:
        await dm.close()
    assert "not told who reported it" in answer
    case = case_number(answer)

    notice = await mod_notice(community, f"Case #{case}:")
    story.timings["matrix report, DM to mod notice"] = time.monotonic() - started
    print(f"mod room: {notice}")
    assert f"report about matrix:{offender.matrix.user_id}" in notice
    assert "He keeps telling me to leave the community" in notice
    # The evidence link was read: who said what, not just the link.
    assert f"matrix:{offender.matrix.user_id}: 'nobody here wants you around, just leave'" in notice
    assert f" | {missing}" in notice
    assert_unnamed([notice], [reporter])
    story.matrix_case = (case, reporter, offender)


async def test_a_group_chat_with_the_bot_takes_no_report(community: Community) -> None:
    """Element marks a "chat" with several people direct too; others would read along."""
    member = await community.add_person("talker")
    friend = await community.add_person("friend")
    chat = MatrixDirect(community, member)
    try:
        room = await chat.open()
        # A friend asked in later (an invite at creation would be a DM invite, refused).
        await asyncio.sleep(DIRECT_WINDOW)
        invited = await chat.client.room_invite(room, friend.matrix.user_id)
        assert isinstance(invited, RoomInviteResponse), invited
        answer = await chat.say("@creep:localhost was really rude to me at the meetup")
    finally:
        await chat.close()
    assert "start a direct chat with me alone" in answer
    assert "case #" not in answer.lower()
    assert not [n for n in await mod_room_notices(community) if "rude to me" in n]


# -- 2. the same by DM on Discord -----------------------------------------------------------------


async def test_report_by_direct_message_on_discord(community: Community, story: Story) -> None:
    reporter = await named_person(community, "akinyi", "Akinyi Otieno")
    story.reporters.append(reporter)
    offender = await community.add_person("troll")
    general = community.general[0]
    offending = community.sim.post_message(
        offender.discord, general, "go away, nobody likes your questions"
    )
    link = f"https://discord.com/channels/{community.guilds[0].id}/{general.id}/{offending.id}"
    deleted = community.sim.post_message(offender.discord, general, "this one is gone")
    community.sim.delete_message(deleted)  # 404 for the bot: the link stays a link
    gone = f"https://discord.com/channels/{community.guilds[0].id}/{general.id}/{deleted.id}"

    started = time.monotonic()
    dm = DiscordDirect(community, reporter.person.discord)
    assert "What happened?" in await dm.say("report")
    assert "Who was it?" in await dm.say("Someone keeps mocking my questions in general")
    assert "Where did it happen?" in await dm.say(f"<@{offender.discord.id}>")
    assert "Any evidence?" in await dm.say("#general, twice this week")
    assert "May I tell the moderators" in await dm.say(f"{link} {gone}")
    answer = await dm.say("no")
    assert "not told who reported it" in answer
    case = case_number(answer)

    notice = await mod_channel_message(community, f"Case #{case}:")
    story.timings["discord report, DM to mod notice"] = time.monotonic() - started
    print(f"mod channel: {notice}")
    assert f"report about {offender.discord_key}" in notice
    assert f"{offender.discord_key}: 'go away, nobody likes your questions'" in notice
    assert f" | {gone}" in notice
    assert "this one is gone" not in notice
    assert_unnamed([notice], [reporter])
    story.discord_case = (case, reporter)


# -- 3. "Report message" on Discord ---------------------------------------------------------------


async def test_report_message_menu_on_discord(community: Community, story: Story) -> None:
    reporter = await named_person(community, "njeri", "Njeri Kamau")
    story.reporters.append(reporter)
    offender = await community.add_person("heckler")
    sim, general = community.sim, community.general[0]
    offending = sim.post_message(offender.discord, general, "your talk was garbage and so are you")

    started = time.monotonic()
    menu = sim.invoke_message_context_menu(
        community.bot, reporter.person.discord, offending, "Report message"
    )
    story.interaction_tokens.append(menu.token)
    await menu.response(timeout=WAIT)
    assert menu.modal is not None
    submitted = sim.submit_modal(
        menu, {"What is wrong with it?": "A personal attack after my talk"}
    )
    story.interaction_tokens.append(submitted.token)
    answer = await submitted.wait_for_content(timeout=WAIT)
    story.timings["report message menu, submit to answer"] = time.monotonic() - started
    assert submitted.ephemeral
    assert "not told who reported it" in answer
    case = case_number(answer)

    notice = await mod_channel_message(community, f"Case #{case}:")
    matrix_notice = await mod_notice(community, f"Case #{case}:")
    for text in (notice, matrix_notice):
        assert f"report about {offender.discord_key}" in text
        assert "A personal attack after my talk" in text
        assert "your talk was garbage and so are you" in text
    assert_unnamed([notice, matrix_notice], [reporter])
    # Nothing in the channel where the message was, for anyone else to see.
    public = [m for m in sim.messages_in(general) if not m.flags & (1 << 6)]
    assert [m.id for m in public if m.id >= offending.id] == [offending.id]


# -- 4. an unsolicited DM, with and without consent -----------------------------------------------


async def history_points(community: Community, person: Person) -> int:
    answer = await community.matrix_command(
        f"!history {person.discord_key}",
        lambda n: person.discord_key in n and not n.startswith("[modlog]"),  # the answer
    )
    match = re.search(r"live points: (\d+)", answer, re.IGNORECASE)
    assert match is not None, answer
    return int(match.group(1))


async def test_unsolicited_dm_report_warns_without_consent_only(
    community: Community, story: Story
) -> None:
    reporter = await named_person(community, "otieno", "Otieno Ouma")
    story.reporters.append(reporter)
    pest = await community.add_person("pest")
    sim = community.sim
    # The member's word alone is not enough: without the DM shown, moderators decide.
    dm = DiscordDirect(community, reporter.person.discord)
    answer = await dm.say(
        f"report {pest.discord_key} sent me a DM asking for my phone number, I never invited him"
    )
    notice = await mod_notice(community, f"Case #{case_number(answer)}:")
    assert "claimed but not proven" in notice
    assert await history_points(community, pest) == 0
    # The DM itself, reported from inside it with "Report message": the rule acts at once.
    between = sim.open_dm(pest.discord, reporter.person.discord)
    unwanted = sim.post_message(pest.discord, between, "hey beautiful, send me your number")
    started = time.monotonic()
    menu = sim.invoke_message_context_menu(
        community.bot, reporter.person.discord, unwanted, "Report message"
    )
    story.interaction_tokens.append(menu.token)
    await menu.response(timeout=WAIT)
    submitted = sim.submit_modal(menu, {"What is wrong with it?": "I never invited him"})
    story.interaction_tokens.append(submitted.token)
    case = case_number(await submitted.wait_for_content(timeout=WAIT))
    warnings = DiscordDirect(community, pest.discord)

    async def warned() -> bool:
        return any(CLAUSE in m for m in warnings.bot_messages())

    await eventually(warned, "the warning in the reported member's DM", within=WAIT)
    story.timings["unsolicited DM report to warning"] = time.monotonic() - started
    notice = await mod_notice(community, f"Case #{case}:")
    assert "the DM rule was applied" in notice
    assert await history_points(community, pest) == 3
    assert_unnamed([*warnings.bot_messages(), notice], [reporter])

    # With consent given first, the same kind of report is an ordinary one.
    allowing = await named_person(community, "kamau", "Kamau Njoroge")
    story.reporters.append(allowing)
    friend = await community.add_person("friend")
    dm = DiscordDirect(community, allowing.person.discord)
    allowed = await dm.say(f"dm allow {friend.discord_key}")
    assert allowed == f"{friend.discord_key} may now send you direct messages."
    answer = await dm.say(
        f"report {friend.discord_key} sent me a DM about the meetup venue, I did not like the tone"
    )
    case = case_number(answer)
    notice = await mod_notice(community, f"Case #{case}:")
    assert f"report about {friend.discord_key}" in notice
    assert "DM rule" not in notice
    assert DiscordDirect(community, friend.discord).bot_messages() == []
    assert await history_points(community, friend) == 0


# -- 5. the homeserver refuses DM invites without consent -----------------------------------------


async def open_dm(community: Community, inviter: Person, invitee: Person) -> Any:
    client = community.client(inviter.matrix)
    try:
        return await client.room_create(
            is_direct=True, invite=[invitee.matrix.user_id], preset=RoomPreset.trusted_private_chat
        )
    finally:
        await client.close()


async def test_matrix_dm_invite_needs_consent_given_to_the_bot(
    community: Community, story: Story
) -> None:
    suitor = await community.add_person("suitor")
    amani = await community.add_person("amani")
    # Both have talked to the bot before, so modbridge knows them as members.
    for person, word in ((suitor, "dm open"), (amani, "dm closed")):
        dm = MatrixDirect(community, person)
        try:
            await dm.open()
            assert "direct messages" in await dm.say(word)
        finally:
            await dm.close()

    refused = await open_dm(community, suitor, amani)
    assert isinstance(refused, RoomCreateError), refused
    assert refused.status_code == "M_FORBIDDEN"
    assert amani.matrix.user_id in refused.message
    assert "does not accept direct messages" in refused.message

    dm = MatrixDirect(community, amani)
    try:
        await dm.open()
        answer = await dm.say(f"dm allow {suitor.matrix.user_id}")
    finally:
        await dm.close()
    assert answer == f"matrix:{suitor.matrix.user_id} may now send you direct messages."

    started = time.monotonic()
    allowed = await open_dm(community, suitor, amani)
    story.timings["consented DM invite"] = time.monotonic() - started
    assert isinstance(allowed, RoomCreateResponse), allowed
    invited = community.client(amani.matrix)
    try:

        async def sees_invite() -> bool:
            response = await invited.sync(timeout=100)
            assert isinstance(response, SyncResponse), response
            return allowed.room_id in response.rooms.invite

        await eventually(sees_invite, "the invite to reach the recipient", within=WAIT)
    finally:
        await invited.close()


# -- 6. retaliation against a reporter ------------------------------------------------------------


async def test_retaliation_is_flagged_without_naming_the_reporter(
    community: Community, story: Story
) -> None:
    assert story.matrix_case is not None, "the Matrix report scenario did not open a case"
    case, reporter, offender = story.matrix_case
    writer = community.client(offender.matrix)
    content = {
        "msgtype": "m.text",
        "body": f"{reporter.matrix_name}: I know it was you who went to the mods",
        "m.mentions": {"user_ids": [reporter.person.matrix.user_id]},
    }
    started = time.monotonic()
    try:
        sent = await writer.room_send(community.rooms[1], "m.room.message", content)
    finally:
        await writer.close()
    assert isinstance(sent, RoomSendResponse), sent
    notice = await mod_notice(community, f"Case #{case} needs a look")
    story.timings["retaliation to flag"] = time.monotonic() - started
    print(f"mod room: {notice}")
    assert_unnamed([notice], story.reporters)


# -- 7. closing a case tells the reporter ---------------------------------------------------------


async def test_closing_a_case_tells_the_reporter_privately(
    community: Community, story: Story
) -> None:
    assert story.matrix_case is not None, "the Matrix report scenario did not open a case"
    assert story.discord_case is not None, "the Discord report scenario did not open a case"
    case, reporter, _ = story.matrix_case
    answer = await community.matrix_command(
        f"!close {case} action warned him", lambda n: f"Case #{case} closed" in n
    )
    assert answer == f"Case #{case} closed (action taken). The reporter is told."
    closing = f"Your report (case #{case}) has been closed: the moderators took action. Thank you."

    member = community.client(reporter.person.matrix)
    bot = community.matrix_bot.user_id
    token: list[str | None] = [None]
    try:

        async def told() -> bool:
            _, token[0] = await join_invites(member, token[0])
            rooms = await member.joined_rooms()
            assert isinstance(rooms, JoinedRoomsResponse), rooms
            for room_id in rooms.rooms:
                members = await member.joined_members(room_id)
                assert isinstance(members, JoinedMembersResponse), members
                if {m.user_id for m in members.members} != {bot, reporter.person.matrix.user_id}:
                    continue  # not a direct room with the bot
                said = await messages_by(member, room_id, bot)
                if any(c.get("body") == closing for c in said):
                    return True
            return False

        await eventually(told, "the closing message in the reporter's Matrix DM", within=WAIT)
    finally:
        await member.close()

    case, discord_reporter = story.discord_case
    answer = await community.matrix_command(
        f"!close {case} noaction", lambda n: f"Case #{case} closed" in n
    )
    assert answer == f"Case #{case} closed (no action). The reporter is told."
    dm = DiscordDirect(community, discord_reporter.person.discord)
    expected = (
        f"Your report (case #{case}) has been closed: the moderators looked into it and "
        "decided no action was needed. Thank you."
    )

    async def told_on_discord() -> bool:
        return expected in dm.bot_messages()

    await eventually(told_on_discord, "the closing message in the reporter's Discord DM")


# -- 8. confidentiality over everything above -----------------------------------------------------


async def test_no_reporter_is_named_anywhere_but_to_themselves(
    community: Community, story: Story
) -> None:
    assert len(story.reporters) == 5, "an earlier scenario did not run to its end"
    assert story.matrix_case is not None
    assert story.discord_case is not None
    # What moderators read when they look at the cases, on each platform.
    case = story.matrix_case[0]
    shown = await community.matrix_command(f"!case {case}", lambda n: f"Case #{case} (" in n)
    assert "He keeps telling me to leave the community" in shown
    case = story.discord_case[0]
    look = community.slash("mod case", {"number": case})
    assert "Someone keeps mocking my questions" in await look.wait_for_content(timeout=WAIT)
    matrix = await said_on_matrix(community, story.reporters)
    discord = said_on_discord(community.sim, story.reporters, story.interaction_tokens)
    # The scan must see what the scenarios saw: the notices and the warning are there.
    mod_room = matrix.get(community.mod_room, [])
    assert sum("report about" in t for t in mod_room) >= 5, mod_room
    assert any(CLAUSE in t for t in discord), "the scan missed the Discord warning"
    assert any("needs a look" in t for t in mod_room)
    assert_unnamed([*matrix_texts(matrix), *discord], story.reporters)
    log = community.service.log_path.read_text(errors="replace")
    assert "report opened case" in log  # the log is the service's, and it is complete
    assert_unnamed(log.splitlines(), story.reporters)
    for what, seconds in story.timings.items():
        print(f"{what}: {seconds:.2f}s")


def matrix_texts(said: dict[str, list[str]]) -> list[str]:
    return [text for texts in said.values() for text in texts]


# -- 9. the documented antispam setup must let members reach the bot ------------------------------


async def test_members_reach_the_bot_when_its_homeserver_is_a_community_server(
    community: Community, antispam_port: int
) -> None:
    await community.stop()
    antispam = (
        f'[antispam]\nlisten = "127.0.0.1:{antispam_port}"\ncommunity_servers = ["localhost"]'
    )
    community.config.write_text(f"{config_text(community)}\n{antispam}\n")
    await community.start()
    newcomer = await community.add_person("newcomer")
    client = community.client(newcomer.matrix)
    try:
        answer = await client.room_create(
            is_direct=True,
            invite=[community.matrix_bot.user_id],
            preset=RoomPreset.trusted_private_chat,
        )
    finally:
        await client.close()
    assert isinstance(answer, RoomCreateResponse), answer
