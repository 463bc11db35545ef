"""The core's side of the Matrix ecosystem, with fake platforms: policy-list bans and their
lifting, publishing bans, homeserver reports, and room upgrades."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.ecosystem import MatrixEcosystem
from bridge.planner import Community
from bridge.policy_lists import ListBans
from domain.model import Account, Ban, HomeserverReport, ListRule, Mute, Platform, Unban
from tests.component.harness import ModBot

ANN = Account(platform=Platform.MATRIX, id="@ann:spam.example")
ANN_D = Account(platform=Platform.DISCORD, id="123456789012345678")
BOB = Account(platform=Platform.MATRIX, id="@bob:hs")
LIST = "!list:hs"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # the harness clock's start


def lists(bot: ModBot, members: list[Account], *, reach_discord: bool = True) -> ListBans:
    found = ListBans(
        writer=bot.writer, members=bot.members, list_bans=bot.repos.list_bans,
        sanctions=bot.repos.sanctions, lists=["#coc-bans:hs"], bot_user="@bot:hs",
        reach_discord=reach_discord, clock=bot.clock,
    )  # fmt: skip
    found.members = lambda: members
    return found


def rule(entity: str, *, key: str = "r1", kind: str = "user", sender: str = "@admin:hs",
         reason: str = "spam wave") -> ListRule:  # fmt: skip
    return ListRule(
        list_room=LIST, list_name="#coc-bans:hs", kind=kind, state_key=key, entity=entity,
        recommendation="m.ban" if entity else "", reason=reason if entity else "",
        sender=sender, ts=NOW,
    )  # fmt: skip


def banned(bot: ModBot) -> list[tuple[str, str]]:
    executors = (bot.matrix, bot.discord)
    return sorted((a.target.id, s) for ex in executors for a, s in ex.done if isinstance(a, Ban))


def unbanned(bot: ModBot) -> list[tuple[str, str]]:
    executors = (bot.matrix, bot.discord)
    return sorted((a.target.id, s) for ex in executors for a, s in ex.done if isinstance(a, Unban))


async def test_a_ban_rule_bans_matching_members_everywhere_and_its_removal_lifts_it(
    bot: ModBot,
) -> None:
    await bot.command(f"!link {ANN.id} discord:{ANN_D.id} same person")
    subscribed = lists(bot, [ANN, BOB])
    await subscribed.on_rule(rule("@*:spam.example"))
    await bot.drain()
    assert banned(bot) == [
        (ANN_D.id, "g1"), (ANN_D.id, "g2"), (ANN.id, "!a:hs"), (ANN.id, "!b:hs"),
    ]  # fmt: skip
    notices = [a.text for a, _ in bot.matrix.done if hasattr(a, "text")]
    assert any("banned by policy list #coc-bans:hs" in n and "spam wave" in n for n in notices)
    cases = await bot.repos.cases.of_member(await bot.members.member_of(ANN))
    assert cases[-1].origin == "policy list #coc-bans:hs"
    assert "spam wave" in cases[-1].reason
    # the same rule again (a restart reads the whole list): nothing new
    await lists(bot, [ANN, BOB]).on_rule(rule("@*:spam.example"))
    await subscribed.on_rule(rule("@*:spam.example", reason="spam wave"))
    await bot.drain()
    assert len(banned(bot)) == 4
    await subscribed.on_rule(rule(""))  # removed: same state key, empty content
    await bot.drain()
    assert unbanned(bot) == banned(bot)
    assert await bot.repos.sanctions.in_force(await bot.members.member_of(ANN), bot.clock()) == []


async def test_list_bans_can_stay_on_matrix(bot: ModBot) -> None:
    await bot.command(f"!link {ANN.id} discord:{ANN_D.id} same person")
    await lists(bot, [ANN], reach_discord=False).on_rule(rule("@*:spam.example"))
    await bot.drain()
    assert banned(bot) == [(ANN.id, "!a:hs"), (ANN.id, "!b:hs")]


async def test_a_matrix_only_list_ban_stays_off_a_discord_account_linked_later(
    bot: ModBot,
) -> None:
    kept = lists(bot, [ANN], reach_discord=False)
    bot.writer.reaches = kept.reaches
    await kept.on_rule(rule("@*:spam.example"))
    await bot.command(f"!mute {BOB.id} 1h noise", origin="mute")
    await bot.command(f"!link {ANN.id} discord:{ANN_D.id} same person", origin="link1")
    await bot.command(f"!link {BOB.id} discord:876543210987654321 same person", origin="link2")
    await bot.drain()
    on_discord = [(type(a).__name__, a.target.id, s) for a, s in bot.discord.done
                  if isinstance(a, Ban | Mute)]  # fmt: skip
    assert on_discord == [
        ("Mute", "876543210987654321", "g1"),
        ("Mute", "876543210987654321", "g2"),
    ]


async def test_a_ban_held_by_another_rule_or_a_moderator_is_not_lifted(bot: ModBot) -> None:
    subscribed = lists(bot, [ANN, BOB])
    await subscribed.on_rule(rule("@*:spam.example", key="glob"))
    await subscribed.on_rule(rule("spam.example", key="server", kind="server"))
    await subscribed.on_rule(rule("@bob:hs", key="bob"))
    await bot.drain()
    assert len(banned(bot)) == 4  # Ann once, though two rules name her
    await subscribed.on_rule(rule("", key="glob"))
    await bot.drain()
    assert unbanned(bot) == []  # the server rule still bans Ann
    await subscribed.on_rule(rule("", key="server", kind="server"))
    await bot.drain()
    assert unbanned(bot) == [(ANN.id, "!a:hs"), (ANN.id, "!b:hs")]
    # Bob: a moderator banned him as well since; the list's removal leaves that ban alone
    await bot.command(f"!ban {BOB.id} threats in DMs", origin="mod-ban")
    await subscribed.on_rule(rule("", key="bob"))
    await bot.drain()
    assert [u for u, _ in unbanned(bot)] == [ANN.id, ANN.id]


async def test_a_ban_from_before_the_rule_outlives_the_rule(bot: ModBot) -> None:
    await bot.command(f"!ban {BOB.id} threats in DMs", origin="mod-ban")
    await bot.drain()
    subscribed = lists(bot, [BOB])
    await subscribed.on_rule(rule("@bob:hs"))
    await subscribed.on_rule(rule(""))
    await bot.drain()
    assert banned(bot) == [(BOB.id, "!a:hs"), (BOB.id, "!b:hs")]  # the moderator's, once
    assert unbanned(bot) == []


async def test_a_later_join_and_our_own_rules(bot: ModBot) -> None:
    subscribed = lists(bot, [])
    await subscribed.on_rule(rule("spam.example", kind="server"))
    await subscribed.on_rule(rule("@bob:hs", key="own", sender="@bot:hs"))  # our own list
    await bot.drain()
    assert banned(bot) == []
    await subscribed.on_join(BOB)
    await subscribed.on_join(ANN)
    await bot.drain()
    assert banned(bot) == [(ANN.id, "!a:hs"), (ANN.id, "!b:hs")]
    text = subscribed.describe()
    assert "#coc-bans:hs: 1 rules (1 server; 1 ban), updated 2026-11-24 12:00 UTC" in text


async def test_a_rule_removed_while_down_is_lifted_at_the_next_start(bot: ModBot) -> None:
    await lists(bot, [ANN]).on_rule(rule("@*:spam.example"))
    await bot.drain()
    await lists(bot, [ANN]).on_rule(rule(""))  # a new process reads the emptied rule
    await bot.drain()
    assert unbanned(bot) == [(ANN.id, "!a:hs"), (ANN.id, "!b:hs")]


async def test_bans_are_published_unless_local(bot: ModBot) -> None:
    bot.community = Community(
        spaces=bot.community.spaces, mod_rooms=bot.community.mod_rooms, publish_list="!ours:hs"
    )
    await bot.command(f"!ban {BOB.id} threats", origin="1")
    await bot.command(f"!ban {ANN.id} --local local matter", origin="2")
    await bot.command(f"!unban {BOB.id}", origin="3")
    await bot.drain()
    listed = [(type(a).__name__, a.target.id) for a, s in bot.matrix.done if s == "list:!ours:hs"]
    assert listed == [("Ban", BOB.id), ("Unban", BOB.id)]
    published = next(a for a, s in bot.matrix.done if s == "list:!ours:hs")
    assert isinstance(published, Ban)
    assert published.reason == "threats"


async def test_a_list_ban_is_not_republished(bot: ModBot) -> None:
    bot.community = Community(
        spaces=bot.community.spaces, mod_rooms=bot.community.mod_rooms, publish_list="!ours:hs"
    )
    await lists(bot, [ANN]).on_rule(rule("@*:spam.example"))
    await bot.drain()
    assert not [s for _, s in bot.matrix.done if s.startswith("list:")]


def ecosystem(bot: ModBot) -> MatrixEcosystem:
    return MatrixEcosystem(
        writer=bot.writer, members=bot.members, lists=lists(bot, []), reports=bot.reports,
        sanctions=bot.repos.sanctions, clock=bot.clock,
    )  # fmt: skip


async def test_a_homeserver_report_is_a_report_with_the_reporter_kept_apart(bot: ModBot) -> None:
    reporter = Account(platform=Platform.MATRIX, id="@carol:hs")
    report = HomeserverReport(
        report_id="7", room_id="!a:hs", event_id="$bad", reporter=reporter, sender=BOB,
        reason="carol here: he keeps insulting me", text="you idiot", ts=bot.clock(),
    )  # fmt: skip
    eco = ecosystem(bot)
    await eco.on_homeserver_report(report)
    await eco.on_homeserver_report(report)  # read again after a restart: one case
    await bot.drain()
    said = [a.text for a, _ in bot.matrix.done if hasattr(a, "text")]
    notices = [t for t in said if not t.startswith("[modlog]")]  # the case's modlog line aside
    assert len(notices) == 1
    assert all("carol" not in t.lower() for t in said)
    assert "report about matrix:@bob:hs" in notices[0]
    assert "you idiot" in notices[0]
    assert "$bad" in notices[0]
    assert "carol" not in notices[0].lower()
    case = (await bot.repos.cases.of_member(await bot.members.member_of(BOB)))[0]
    assert "carol" not in case.reason.lower()
    row = await bot.repos.reports.of_case(case.id)
    assert row is not None
    assert row.reporter == reporter


async def test_an_upgrade_carries_mutes_and_bans(bot: ModBot) -> None:
    await bot.command(f"!mute {ANN.id} 1h noise", origin="1")
    await bot.command(f"!ban {BOB.id} threats", origin="2")
    await bot.drain()
    bot.community = Community(
        spaces={**bot.community.spaces, Platform.MATRIX: ["!new:hs", "!b:hs"]},
        mod_rooms=bot.community.mod_rooms,
    )
    await ecosystem(bot).on_room_upgraded("!a:hs", "!new:hs")
    await bot.drain()
    carried = sorted(
        (type(a).__name__, a.target.id) for a, s in bot.matrix.done if s == "!new:hs"
    )  # fmt: skip
    assert carried == [("Ban", BOB.id), ("Mute", ANN.id)]
    notices = [a.text for a, _ in bot.matrix.done if hasattr(a, "text")]
    assert any("upgraded to !new:hs" in n and "carried 2" in n for n in notices)
