"""Members and accounts: ensure, link, unlink, lookups across platforms."""

from __future__ import annotations

from datetime import timedelta

from domain.cases import NewCase, OriginKind
from domain.model import Account, Platform
from storage.consent import DmPolicy
from storage.identity import AccountRow
from storage.repositories import Repositories
from tests.fakes import T0, Clock

ANN_DISCORD = Account(platform=Platform.DISCORD, id="1001", display_name="ann")
ANN_MATRIX = Account(platform=Platform.MATRIX, id="@ann:example.org", display_name="Ann")
BOB = Account(platform=Platform.MATRIX, id="@bob:example.org", display_name="Bob")


def keys(rows: list[AccountRow]) -> list[str]:
    return [r.account.key for r in rows]


async def test_new_account_gets_a_member_of_its_own(repos: Repositories) -> None:
    ann = await repos.identity.ensure(ANN_DISCORD)
    bob = await repos.identity.ensure(BOB)
    assert ann.member_id != bob.member_id
    assert ann.first_seen_at == T0
    again = await repos.identity.ensure(ANN_DISCORD)
    assert again.member_id == ann.member_id


async def test_display_name_is_kept_current_but_not_erased(
    repos: Repositories, clock: Clock
) -> None:
    await repos.identity.ensure(ANN_DISCORD)
    clock.advance(timedelta(hours=1))
    renamed = Account(platform=Platform.DISCORD, id="1001", display_name="ann2")
    await repos.identity.ensure(renamed)
    await repos.identity.ensure(Account(platform=Platform.DISCORD, id="1001"))
    row = await repos.identity.get(ANN_DISCORD)
    assert row is not None
    assert row.account.display_name == "ann2"
    assert row.first_seen_at == T0
    assert row.updated_at == T0 + timedelta(hours=1)


async def test_link_then_lookup_from_either_account(repos: Repositories) -> None:
    member = await repos.identity.link(ANN_DISCORD, ANN_MATRIX)
    await repos.identity.ensure(BOB)
    from_discord = await repos.identity.linked_accounts(ANN_DISCORD)
    from_matrix = await repos.identity.linked_accounts(ANN_MATRIX)
    assert keys(from_discord) == keys(from_matrix) == ["discord:1001", "matrix:@ann:example.org"]
    assert {r.member_id for r in from_matrix} == {member}
    assert keys(await repos.identity.accounts_of_member(member)) == keys(from_discord)
    assert keys(await repos.identity.linked_accounts(BOB)) == ["matrix:@bob:example.org"]


async def test_unknown_account_has_no_linked_accounts(repos: Repositories) -> None:
    assert await repos.identity.linked_accounts(BOB) == []
    assert await repos.identity.get(BOB) is None


async def test_unlink_gives_the_account_back_its_own_member(repos: Repositories) -> None:
    member = await repos.identity.link(ANN_DISCORD, ANN_MATRIX)
    alone = await repos.identity.unlink(ANN_MATRIX)
    assert alone != member
    assert keys(await repos.identity.linked_accounts(ANN_DISCORD)) == ["discord:1001"]
    assert keys(await repos.identity.linked_accounts(ANN_MATRIX)) == ["matrix:@ann:example.org"]
    # Unlinking an account that is already alone changes nothing.
    assert await repos.identity.unlink(ANN_MATRIX) == alone


async def test_linking_merges_history_and_consent(repos: Repositories, clock: Clock) -> None:
    matrix_member = (await repos.identity.ensure(ANN_MATRIX)).member_id
    bob = (await repos.identity.ensure(BOB)).member_id
    case, _ = await repos.cases.open(
        NewCase(subject=ANN_MATRIX, origin_kind=OriginKind.RULE, origin="spam", reason="spam")
    )
    await repos.strikes.give(matrix_member, "spam", 3, expires_at=None, case_id=case.id)
    await repos.consent.set_default(matrix_member, DmPolicy.CLOSED)
    await repos.consent.allow(matrix_member, bob)

    survivor = await repos.identity.link(ANN_DISCORD, ANN_MATRIX)

    assert survivor != matrix_member
    assert await repos.strikes.live_points(survivor, clock.now) == 3
    assert [c.id for c in await repos.cases.of_member(survivor)] == [case.id]
    assert await repos.consent.default(survivor) is DmPolicy.CLOSED
    assert await repos.consent.allowed(survivor) == [bob]
    assert await repos.strikes.of_member(matrix_member) == []


async def test_linking_drops_consent_between_the_two_merged_members(repos: Repositories) -> None:
    discord_member = (await repos.identity.ensure(ANN_DISCORD)).member_id
    matrix_member = (await repos.identity.ensure(ANN_MATRIX)).member_id
    await repos.consent.allow(discord_member, matrix_member)
    await repos.consent.allow(matrix_member, discord_member)
    survivor = await repos.identity.link(ANN_DISCORD, ANN_MATRIX)
    assert await repos.consent.allowed(survivor) == []
