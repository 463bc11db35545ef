"""Cases and notes."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from domain.cases import CaseStatus, NewCase, OriginKind
from domain.model import Account, Platform
from storage.repositories import Repositories
from tests.fakes import T0, Clock

ANN = Account(platform=Platform.DISCORD, id="1001", display_name="ann")


def new_case(**overrides: object) -> NewCase:
    fields: dict[str, object] = {
        "subject": ANN,
        "origin_kind": OriginKind.RULE,
        "origin": "slurs.en",
        "reason": "slur in #general",
        "evidence": "…excerpt…",
    }
    fields.update(overrides)
    return NewCase(**fields)  # type: ignore[arg-type]


async def test_cases_are_numbered_and_belong_to_the_subjects_member(repos: Repositories) -> None:
    first, created = await repos.cases.open(new_case())
    second, _ = await repos.cases.open(new_case(origin_kind=OriginKind.MODERATOR, origin="x:1"))
    member = await repos.identity.get(ANN)
    assert created
    assert member is not None
    assert (first.id, second.id) == (1, 2)
    assert first.member_id == member.member_id
    assert first.subject.key == "discord:1001"
    assert first.status is CaseStatus.OPEN
    assert first.created_at == T0
    assert second.origin_kind is OriginKind.MODERATOR


async def test_dedupe_key_makes_opening_idempotent(repos: Repositories) -> None:
    first, created = await repos.cases.open(new_case(dedupe_key="msg:discord:1"))
    again, created_again = await repos.cases.open(new_case(dedupe_key="msg:discord:1"))
    assert created
    assert not created_again
    assert again == first
    other, created_other = await repos.cases.open(new_case(dedupe_key="msg:discord:2"))
    assert created_other
    assert other.id != first.id


async def test_close_once(repos: Repositories, clock: Clock) -> None:
    case, _ = await repos.cases.open(new_case())
    clock.advance(timedelta(hours=2))
    assert await repos.cases.close(case.id, "discord:mod")
    assert not await repos.cases.close(case.id, "discord:mod")
    assert not await repos.cases.close(999, "discord:mod")
    closed = await repos.cases.get(case.id)
    assert closed is not None
    assert closed.status is CaseStatus.CLOSED
    assert closed.closed_at == T0 + timedelta(hours=2)
    assert closed.closed_by == "discord:mod"
    assert await repos.cases.of_member(case.member_id, status=CaseStatus.OPEN) == []
    assert await repos.cases.of_member(case.member_id, status=CaseStatus.CLOSED) == [closed]


async def test_notes_in_order_and_only_on_real_cases(repos: Repositories) -> None:
    case, _ = await repos.cases.open(new_case())
    await repos.cases.add_note(case.id, "discord:mod", "spoke to them")
    await repos.cases.add_note(case.id, "matrix:@mod:example.org", "second")
    assert [n.body for n in await repos.cases.notes(case.id)] == ["spoke to them", "second"]
    with pytest.raises(sqlite3.IntegrityError):
        await repos.cases.add_note(999, "discord:mod", "nowhere")
