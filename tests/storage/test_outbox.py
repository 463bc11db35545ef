"""The outbox: atomic enqueueing with the case, idempotency, claim/done/failed/retry."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.actions import ActionKind, action_kind
from domain.cases import CaseRow, NewCase, OriginKind
from domain.model import (
    Account,
    Action,
    Ban,
    DeleteMessage,
    Mute,
    NotifyModerators,
    Platform,
    Remove,
    Unban,
    Unmute,
    Warn,
)
from storage.codec import decode_action, encode_action
from storage.db import Database
from storage.outbox import ActionState, Enqueued, NewAction, Urgency
from storage.repositories import Repositories
from tests.fakes import T0, Clock

ANN = Account(platform=Platform.DISCORD, id="1001", display_name="ann")
ANN_MX = Account(platform=Platform.MATRIX, id="@ann:example.org")
CASE = NewCase(subject=ANN, origin_kind=OriginKind.RULE, origin="spam", reason="spam")


async def open_case(
    db: Database, repos: Repositories, case: NewCase, actions: list[NewAction]
) -> tuple[CaseRow, bool, list[Enqueued]]:
    """A case and its actions in one transaction, as the case writer opens them."""
    async with db.transaction() as tx:
        row, created = await repos.cases.open(case, tx=tx)
        enqueued = await repos.outbox.enqueue(actions, case_id=row.id, tx=tx)
    return row, created, enqueued


def ban(key: str, space: str = "guild-1") -> NewAction:
    return NewAction(
        key=key, platform=Platform.DISCORD, space_id=space, action=Ban(target=ANN, reason="spam")
    )


ALL_ACTIONS: list[Action] = [
    Warn(target=ANN, reason="be kind", clause="2.1"),
    Mute(target=ANN, until=T0 + timedelta(hours=1), reason="cool down"),
    Unmute(target=ANN),
    Remove(target=ANN, reason="spam"),
    Ban(target=ANN, reason="raid"),
    Ban(target=ANN, reason="raid", until=T0 + timedelta(days=7)),
    Unban(target=ANN, reason="appeal"),
    DeleteMessage(platform=Platform.DISCORD, channel_id="c1", message_id="m1", reason="spam"),
    NotifyModerators(text="case #1 opened"),
]


@pytest.mark.parametrize("action", ALL_ACTIONS, ids=lambda a: type(a).__name__)
def test_every_action_survives_the_payload_round_trip(action: Action) -> None:
    assert decode_action(action_kind(action), encode_action(action)) == action


async def test_case_and_actions_are_stored_together(db: Database, repos: Repositories) -> None:
    case, created, enqueued = await open_case(
        db, repos, CASE, [ban("k1", "guild-1"), ban("k2", "guild-2")]
    )
    assert created
    assert all(e.created for e in enqueued)
    stored = await repos.outbox.of_case(case.id)
    assert [(a.space_id, a.kind, a.state) for a in stored] == [
        ("guild-1", ActionKind.BAN, ActionState.PENDING),
        ("guild-2", ActionKind.BAN, ActionState.PENDING),
    ]
    assert stored[0].action == Ban(target=ANN, reason="spam")
    assert stored[0].next_attempt_at == T0
    assert stored[0].attempts == 0


async def test_a_bad_action_rolls_back_the_whole_case(db: Database, repos: Repositories) -> None:
    wrong_platform = NewAction(
        key="k2", platform=Platform.MATRIX, space_id="!room", action=Ban(target=ANN, reason="x")
    )
    with pytest.raises(ValueError, match="cannot be carried out"):
        await open_case(db, repos, CASE, [ban("k1"), wrong_platform])
    assert await repos.cases.get(1) is None
    assert await repos.outbox.claim() == []


async def test_same_idempotency_key_twice_is_one_action(repos: Repositories) -> None:
    first = await repos.outbox.enqueue([ban("msg:1:ban:guild-1")])
    again = await repos.outbox.enqueue([ban("msg:1:ban:guild-1")])
    assert first[0].created
    assert not again[0].created
    assert again[0].action.id == first[0].action.id
    assert len(await repos.outbox.claim(limit=100)) == 1


async def test_replayed_event_opens_no_second_case_and_no_second_action(
    db: Database, repos: Repositories
) -> None:
    case = NewCase(
        subject=ANN, origin_kind=OriginKind.RULE, origin="spam", reason="x", dedupe_key="msg:1"
    )
    first, _, _ = await open_case(db, repos, case, [ban("msg:1:ban")])
    again, created, enqueued = await open_case(db, repos, case, [ban("msg:1:ban")])
    assert not created
    assert not enqueued[0].created
    assert again.id == first.id
    assert len(await repos.outbox.of_case(first.id)) == 1


async def test_claim_done_failed_retry_cycle(repos: Repositories, clock: Clock) -> None:
    await repos.outbox.enqueue([ban("a", "guild-1"), ban("b", "guild-2"), ban("c", "guild-3")])
    lease = timedelta(minutes=5)
    claimed = await repos.outbox.claim(limit=10, lease=lease)
    assert [a.key for a in claimed] == ["a", "b", "c"]
    assert all(a.claimed_at == T0 for a in claimed)
    # Claimed rows are leased: a second worker gets nothing.
    assert await repos.outbox.claim() == []
    a, b, c = claimed

    assert await repos.outbox.mark_done(a.id, "banned in guild-1")
    assert await repos.outbox.mark_failed(b.id, "missing permission: BAN_MEMBERS")
    retry_at = T0 + timedelta(seconds=30)
    assert await repos.outbox.retry(c.id, "429 rate limited", retry_at)

    done, failed, waiting = [await repos.outbox.get(x.id) for x in claimed]
    assert done is not None
    assert (done.state, done.result) == (ActionState.DONE, "banned in guild-1")
    assert failed is not None
    assert (failed.state, failed.last_error) == (
        ActionState.FAILED,
        "missing permission: BAN_MEMBERS",
    )
    assert waiting is not None
    assert waiting.state is ActionState.PENDING
    assert waiting.attempts == 1
    assert waiting.next_attempt_at == retry_at
    assert waiting.last_error == "429 rate limited"

    assert [f.id for f in await repos.outbox.failed()] == [b.id]
    # Settled rows cannot be settled again.
    assert not await repos.outbox.mark_done(b.id)
    assert not await repos.outbox.retry(a.id, "x", retry_at)

    assert await repos.outbox.claim(now=retry_at - timedelta(seconds=1)) == []
    clock.advance(timedelta(seconds=30))
    (again,) = await repos.outbox.claim()
    assert again.id == c.id
    assert await repos.outbox.retry(again.id, "503", clock.now + timedelta(minutes=1))
    assert (await repos.outbox.get(c.id)).attempts == 2  # type: ignore[union-attr]


async def test_lease_expiry_makes_an_abandoned_action_due_again(
    repos: Repositories, clock: Clock
) -> None:
    await repos.outbox.enqueue([ban("a")])
    (first,) = await repos.outbox.claim(lease=timedelta(minutes=5))
    clock.advance(timedelta(minutes=5))  # the worker died without settling it
    (second,) = await repos.outbox.claim()
    assert second.id == first.id


async def test_claim_by_platform_and_not_before(repos: Repositories, clock: Clock) -> None:
    later = T0 + timedelta(hours=1)
    await repos.outbox.enqueue(
        [
            ban("discord"),
            NewAction(
                key="matrix", platform=Platform.MATRIX, space_id="!r", action=Unmute(target=ANN_MX)
            ),
            NewAction(
                key="later",
                platform=Platform.MATRIX,
                space_id="!r",
                action=Unmute(target=ANN_MX),
                not_before=later,
            ),
        ]
    )
    matrix = await repos.outbox.claim(platform=Platform.MATRIX)
    discord = await repos.outbox.claim(platform=Platform.DISCORD)
    assert [a.key for a in matrix] == ["matrix"]
    assert [a.key for a in discord] == ["discord"]
    for row in matrix + discord:
        await repos.outbox.mark_done(row.id)
    clock.now = later
    assert [a.key for a in await repos.outbox.claim()] == ["later"]


async def test_a_case_and_its_actions_join_the_callers_transaction(
    repos: Repositories, db: Database
) -> None:
    async def enqueue_audit_then_fail() -> None:
        async with db.transaction() as tx:
            row, _ = await repos.cases.open(CASE, tx=tx)
            await repos.outbox.enqueue([ban("k1")], case_id=row.id, tx=tx)
            await repos.audit.append("system", "case.opened", "case:1", tx=tx)
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        await enqueue_audit_then_fail()
    assert await repos.cases.get(1) is None
    assert await repos.audit.recent() == []


async def test_actions_on_one_member_in_one_space_are_claimed_in_order(
    repos: Repositories, clock: Clock
) -> None:
    """A mute waiting for its retry holds back the unmute queued after it."""
    mute = NewAction(
        key="mute", platform=Platform.DISCORD, space_id="guild-1",
        action=Mute(target=ANN, until=T0 + timedelta(hours=1), reason="x"),
    )  # fmt: skip
    unmute = NewAction(
        key="unmute", platform=Platform.DISCORD, space_id="guild-1", action=Unmute(target=ANN)
    )
    elsewhere = ban("elsewhere", "guild-2")
    await repos.outbox.enqueue([mute, unmute, elsewhere])
    first = await repos.outbox.claim(limit=10)
    assert [a.key for a in first] == ["mute", "elsewhere"]
    await repos.outbox.retry(first[0].id, "429", T0)  # due again at once, still first
    again = await repos.outbox.claim(limit=10)
    assert [a.key for a in again] == ["mute"]
    await repos.outbox.mark_done(again[0].id)
    assert [a.key for a in await repos.outbox.claim(limit=10)] == ["unmute"]


async def test_claims_take_the_most_urgent_first_and_each_urgency_its_own_share(
    repos: Repositories,
) -> None:
    """Queued in the worst order for a raid: notices, a warning, a mute, then a deletion.
    The deletion comes out first; with per-urgency shares, a full share of notices does not
    take the place of anything else."""

    def row(key: str, action: Action, space: str = "guild-1") -> NewAction:
        return NewAction(key=key, platform=Platform.DISCORD, space_id=space, action=action)

    mute = Mute(target=ANN, until=T0 + timedelta(hours=1), reason="raid")
    delete = DeleteMessage(platform=Platform.DISCORD, channel_id="c1", message_id="m1")
    await repos.outbox.enqueue(
        [
            *(row(f"n{i}", NotifyModerators(text=f"case {i}"), "mods") for i in range(3)),
            row("warn", Warn(target=ANN, reason="insults"), ""),
            row("mute", mute),
            row("delete", delete),
        ]
    )
    first = await repos.outbox.claim(limit=2)
    assert [a.key for a in first] == ["delete", "mute"]
    shares = {Urgency.REMOVAL: 5, Urgency.SANCTION: 5, Urgency.WARNING: 0, Urgency.NOTICE: 1}
    assert [a.key for a in await repos.outbox.claim(lanes=shares)] == ["n0"]
    rest = await repos.outbox.claim(limit=10)
    assert [a.key for a in rest] == ["warn", "n1", "n2"]
