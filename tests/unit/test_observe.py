"""What monitoring reads: the health answer and the metrics the hooks feed, on a real
database (the outbox) with the service's own Observatory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.observe import Link, Observatory, platform_state
from domain.cases import NewCase, OriginKind
from domain.model import Account, Ban, NotifyModerators, Platform
from storage.db import Database
from storage.outbox import NewAction
from storage.repositories import Repositories
from tests.fakes import Clock

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MEMBER = Account(platform=Platform.DISCORD, id="123456789012345678")


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (Link(up=True, down_since=None), "connected"),
        (Link(up=True, down_since=T0), "reconnecting since 2026-12-01T12:00:00+00:00"),
        (Link(up=False, down_since=None), "connecting since 2026-11-30T12:00:00+00:00"),
    ],
)
def test_platform_state_words(link: Link, expected: str) -> None:
    assert platform_state(link, T0 - timedelta(days=1)) == expected


async def test_health_and_metrics_from_the_outbox_and_the_hooks(tmp_path: Path) -> None:
    clock = Clock(T0)
    db = await Database.open(tmp_path / "m.db", clock=clock)
    repos = Repositories.over(db)
    links = {Platform.MATRIX: Link(up=True, down_since=None),
             Platform.DISCORD: Link(up=True, down_since=None)}  # fmt: skip
    running = [True]
    observatory = Observatory(
        outbox=repos.outbox, clock=clock, links=lambda: links, worker_running=lambda: running[0]
    )
    try:
        health = await observatory.health()
        assert health.healthy
        assert health.body() == {"matrix": "connected", "discord": "connected",
                                 "worker": "running", "outbox_oldest_pending_s": 0}  # fmt: skip

        case, _ = await repos.cases.open(
            NewCase(
                subject=MEMBER,
                origin_kind=OriginKind.RULE,
                origin="doxxing",
                reason="doxxing",
                dedupe_key="msg:1",
            ),
        )
        enqueued = await repos.outbox.enqueue(
            [NewAction(key="k1", platform=Platform.DISCORD, space_id="g1",
                       action=Ban(target=MEMBER, reason="doxxing")),
             NewAction(key="k2", platform=Platform.MATRIX, space_id="!mods:hs",
                       action=NotifyModerators(text="Case #1: 0712 345 678"))],
            case_id=case.id,
        )  # fmt: skip
        clock.now += timedelta(seconds=42)
        links[Platform.MATRIX] = Link(up=True, down_since=T0)
        health = await observatory.health()
        assert not health.healthy
        assert health.body()["outbox_oldest_pending_s"] == 42
        assert health.body()["matrix"] == "reconnecting since 2026-12-01T12:00:00+00:00"
        running[0] = False
        assert (await observatory.health()).body()["worker"] == "stopped"

        (row,) = await repos.outbox.claim(platform=Platform.DISCORD)
        await repos.outbox.mark_done(row.id, "banned")
        observatory.on_outcome(row, "done")
        observatory.on_report(Platform.MATRIX)
        await observatory.refresh()
        text = observatory.metrics.render().decode()
    finally:
        await db.close()
    assert enqueued
    assert 'modbridge_actions_total{kind="ban",outcome="done",platform="discord"} 1.0' in text
    assert 'modbridge_violation_to_action_seconds_count{platform="discord"} 1.0' in text
    assert 'modbridge_violation_to_action_seconds_sum{platform="discord"} 42.0' in text
    assert 'modbridge_reports_total{platform="matrix"} 1.0' in text
    assert "modbridge_outbox_pending 1.0" in text
    assert "modbridge_outbox_oldest_pending_seconds 42.0" in text
    assert 'modbridge_platform_connected{platform="matrix"} 0.0' in text
    assert MEMBER.id not in text
    assert "0712" not in text
