"""Strikes: decay, pardons, the live sum."""

from __future__ import annotations

from datetime import timedelta

from domain.cases import NewCase, OriginKind
from domain.model import Account, Platform
from storage.repositories import Repositories
from tests.fakes import T0

ANN = Account(platform=Platform.DISCORD, id="1001")
WEEK = timedelta(days=7)


async def member(repos: Repositories) -> int:
    return (await repos.identity.ensure(ANN)).member_id


async def test_points_count_until_they_expire(repos: Repositories) -> None:
    m = await member(repos)
    await repos.strikes.give(m, "spam", 3, expires_at=T0 + WEEK)
    await repos.strikes.give(m, "slur", 5, expires_at=T0 + 2 * WEEK, at=T0 + timedelta(days=1))
    await repos.strikes.give(m, "doxx", 10, expires_at=None, at=T0 + timedelta(days=2))

    assert await repos.strikes.live_points(m, T0) == 3  # the later strikes are not given yet
    assert await repos.strikes.live_points(m, T0 + timedelta(days=3)) == 18
    # Expiry is exclusive: at expires_at the strike no longer counts.
    assert await repos.strikes.live_points(m, T0 + WEEK) == 15
    assert await repos.strikes.live_points(m, T0 + 3 * WEEK) == 10  # only the one that never decays
    assert [s.rule_id for s in await repos.strikes.live(m, T0 + 3 * WEEK)] == ["doxx"]
    assert len(await repos.strikes.of_member(m)) == 3  # expired strikes are kept


async def test_pardon_by_case_stops_the_points_and_keeps_the_record(repos: Repositories) -> None:
    m = await member(repos)
    case, _ = await repos.cases.open(
        NewCase(subject=ANN, origin_kind=OriginKind.RULE, origin="spam", reason="spam")
    )
    await repos.strikes.give(m, "spam", 3, expires_at=None, case_id=case.id)
    await repos.strikes.give(m, "spam", 2, expires_at=None, case_id=case.id)
    await repos.strikes.give(m, "slur", 5, expires_at=None)
    assert await repos.strikes.live_points(m, T0) == 10

    assert await repos.strikes.pardon_case(case.id) == 2
    assert await repos.strikes.pardon_case(case.id) == 0  # already pardoned

    assert await repos.strikes.live_points(m, T0) == 5
    history = await repos.strikes.of_member(m)
    assert [(s.points, s.pardoned) for s in history] == [(3, True), (2, True), (5, False)]
    assert history[0].pardoned_at == T0
    assert not history[0].live_at(T0)
    assert history[2].live_at(T0)


async def test_pardon_one_strike(repos: Repositories) -> None:
    m = await member(repos)
    strike = await repos.strikes.give(m, "spam", 3, expires_at=None)
    assert await repos.strikes.pardon(strike.id)
    assert not await repos.strikes.pardon(strike.id)
    assert await repos.strikes.live_points(m, T0) == 0


async def test_members_points_are_separate(repos: Repositories) -> None:
    m = await member(repos)
    other = (await repos.identity.ensure(Account(platform=Platform.DISCORD, id="2"))).member_id
    await repos.strikes.give(m, "spam", 3, expires_at=None)
    assert await repos.strikes.live_points(other, T0) == 0
