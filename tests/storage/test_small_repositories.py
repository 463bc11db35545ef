"""DM consent, timers, key-value state and the append-only audit log."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from domain.model import Account, Platform
from storage.consent import DmPolicy
from storage.db import Database
from storage.repositories import Repositories
from storage.timers import NewTimer
from tests.fakes import T0, Clock


async def two_members(repos: Repositories) -> tuple[int, int]:
    ann = await repos.identity.ensure(Account(platform=Platform.DISCORD, id="1"))
    bob = await repos.identity.ensure(Account(platform=Platform.DISCORD, id="2"))
    return ann.member_id, bob.member_id


async def test_dm_consent_follows_the_default_and_the_allow_list(repos: Repositories) -> None:
    ann, bob = await two_members(repos)
    assert await repos.consent.default(ann) is None
    assert await repos.consent.may_dm(bob, ann)  # fallback: open
    assert not await repos.consent.may_dm(bob, ann, fallback=DmPolicy.CLOSED)

    await repos.consent.set_default(ann, DmPolicy.CLOSED)
    assert not await repos.consent.may_dm(bob, ann)
    assert await repos.consent.may_dm(ann, bob)  # consent is one-way

    assert await repos.consent.allow(ann, bob)
    assert not await repos.consent.allow(ann, bob)
    assert await repos.consent.may_dm(bob, ann)
    assert await repos.consent.allowed(ann) == [bob]

    assert await repos.consent.revoke(ann, bob)
    assert not await repos.consent.may_dm(bob, ann)
    await repos.consent.set_default(ann, DmPolicy.OPEN)
    assert await repos.consent.may_dm(bob, ann)


async def test_timers_fire_once_and_can_be_cancelled(repos: Repositories, clock: Clock) -> None:
    ann, _ = await two_members(repos)
    unmute = NewTimer(
        key="unmute:case:1",
        kind="unmute",
        due_at=T0 + timedelta(hours=1),
        member_id=ann,
        payload={"space": "guild-1"},
    )
    timer, created = await repos.timers.schedule(unmute)
    again, created_again = await repos.timers.schedule(unmute)
    assert created
    assert not created_again
    assert again.id == timer.id
    await repos.timers.schedule(NewTimer(key="other", kind="unban", due_at=T0 + timedelta(days=1)))

    assert await repos.timers.due(T0) == []
    (due,) = await repos.timers.due(T0 + timedelta(hours=1))
    assert (due.key, due.member_id, due.payload) == ("unmute:case:1", ann, {"space": "guild-1"})

    clock.advance(timedelta(hours=1))
    assert await repos.timers.mark_fired(due.id)
    assert not await repos.timers.mark_fired(due.id)
    assert await repos.timers.due(T0 + timedelta(hours=2)) == []

    assert await repos.timers.cancel("other")
    assert not await repos.timers.cancel("other")
    assert await repos.timers.due(T0 + timedelta(days=2)) == []


async def test_timers_are_still_due_after_a_restart(db_path: Path, clock: Clock) -> None:
    db = await Database.open(db_path, clock=clock)
    await Repositories.over(db).timers.schedule(
        NewTimer(key="t", kind="unmute", due_at=T0 + timedelta(minutes=1))
    )
    await db.close()
    db = await Database.open(db_path, clock=clock)
    try:
        due = await Repositories.over(db).timers.due(T0 + timedelta(minutes=1))
        assert [t.key for t in due] == ["t"]
    finally:
        await db.close()


async def test_kv_set_get_replace_delete(repos: Repositories) -> None:
    assert await repos.kv.get("matrix.sync_token") is None
    await repos.kv.set("matrix.sync_token", "s1")
    await repos.kv.set("matrix.sync_token", "s2")
    assert await repos.kv.get("matrix.sync_token") == "s2"
    assert await repos.kv.delete("matrix.sync_token")
    assert not await repos.kv.delete("matrix.sync_token")
    assert await repos.kv.get("matrix.sync_token") is None


async def test_audit_log_appends_and_reads_newest_first(repos: Repositories) -> None:
    await repos.audit.append("system", "case.opened", "case:1", {"rule": "spam", "member": 1})
    await repos.audit.append("discord:9", "case.closed", "case:1")
    await repos.audit.append("system", "case.opened", "case:2")
    entries = await repos.audit.recent(subject="case:1")
    assert [e.event for e in entries] == ["case.closed", "case.opened"]
    assert entries[1].details == {"rule": "spam", "member": 1}
    assert entries[1].ts == T0


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"],
)
async def test_audit_log_rejects_update_and_delete(
    repos: Repositories, db: Database, statement: str
) -> None:
    await repos.audit.append("system", "case.opened", "case:1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        async with db.transaction() as tx:
            await tx.execute(statement)
    assert len(await repos.audit.recent()) == 1


async def test_audit_details_refuse_message_text_by_default(repos: Repositories) -> None:
    with pytest.raises(ValueError, match="message text"):
        await repos.audit.append("system", "rule.hit", "case:1", {"hit": {"matched": "slur"}})
    with pytest.raises(ValueError, match="message text"):
        await repos.audit.append("system", "rule.hit", "case:1", {"text": "hello"})
    assert await repos.audit.recent() == []
    await repos.audit.append("system", "rule.hit", "case:1", {"text": "x"}, allow_text=True)
    assert len(await repos.audit.recent()) == 1
