"""Members' data as a member and an admin meet it: `my data` in a DM, the retention period
that deletes excerpts and report texts after a case is closed, and an erasure request."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from bridge.compose import housekeeping
from cli.main import main
from domain.model import Account, Author, Channel, Message, Platform
from tests.component.harness import ModBot

ANN = Account(platform=Platform.MATRIX, id="@ann:hs")
ANN_DISCORD = Account(platform=Platform.DISCORD, id="555555555555555555")
CREEP = Account(platform=Platform.MATRIX, id="@creep:hs")
REPORT_TEXT = "He keeps sending me creepy comments about my photos"


async def _report(bot: ModBot, reporter: Account, about: Account, what: str) -> str:
    await bot.dm(reporter, "report")
    await bot.dm(reporter, what)
    await bot.dm(reporter, about.id)
    await bot.dm(reporter, "in #general")
    await bot.dm(reporter, "none")
    return await bot.dm(reporter, "no")


async def _member_with_history(bot: ModBot) -> None:
    """Ann: linked on two platforms, a rule case about her, a report she made, DM consent;
    the creep: the case her report opened."""
    await bot.command(f"!link {ANN.key} {ANN_DISCORD.key} same person", origin="l")
    await bot.say("you idiot", author=ANN.id, mid="$insult")  # case #1, about Ann
    assert "case #2" in await _report(bot, ANN, CREEP, REPORT_TEXT)
    await bot.dm(ANN, "dm closed")
    await bot.drain()


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_my_data_lists_accounts_consent_cases_and_reports_without_any_text(
    bot: ModBot,
) -> None:
    await _member_with_history(bot)
    answer = await bot.dm(ANN_DISCORD, "My  Data")
    print(answer)
    assert "Accounts (linked as one member): discord:555555555555555555, matrix:@ann:hs" in answer
    assert "Direct messages from other members: closed" in answer
    assert "#1 (" in answer
    assert "from rule insults): open" in answer
    assert "Reports you made:\n  case #2 (" in answer
    assert "): open" in answer
    assert "idiot" not in answer
    assert REPORT_TEXT not in answer

    # The reported member sees that a report opened a case, not what it says nor who made it.
    theirs = await bot.dm(CREEP, "my data")
    assert "#2 (" in theirs
    assert "from a member's report): open" in theirs
    assert REPORT_TEXT not in theirs
    assert ANN.id not in theirs
    assert "Reports you made: none" in theirs

    assert "holds nothing" in await bot.dm(
        Account(platform=Platform.MATRIX, id="@new:hs"), "my data"
    )


async def test_my_data_is_never_answered_outside_a_direct_conversation(bot: ModBot) -> None:
    await _member_with_history(bot)
    before = len(bot.answers)
    await bot.core.on_direct_message(
        Message(
            id="g", author=Author(account=ANN),
            channel=Channel(platform=Platform.MATRIX, id="!group:hs", is_dm=False),
            text="my data", ts=bot.clock(),
        )
    )  # fmt: skip
    said = [text for _, text in bot.answers[before:]]
    assert said
    assert all("Cases about you" not in text for text in said)


async def test_excerpts_and_report_texts_go_after_the_retention_period(
    bot: ModBot, tmp_path: Path
) -> None:
    await _member_with_history(bot)
    assert "closed" in await bot.command("!close 2 noaction not enough to act on", origin="c")
    await bot.drain()
    chores = housekeeping(bot.repos, timedelta(days=180))
    bot.clock.advance(days=179)
    for chore in chores:
        await chore(bot.clock())
    assert REPORT_TEXT in await bot.command("!case 2", origin="k1")  # not yet

    bot.clock.advance(days=2)
    for chore in chores:
        await chore(bot.clock())
    case = await bot.command("!case 2", origin="k2")
    assert REPORT_TEXT not in case
    db = tmp_path / "modbridge.db"
    stored = _rows(db, "SELECT reason, evidence FROM cases WHERE id = 2")
    assert stored == [("(deleted after the retention period)", "")]
    payloads = " ".join(str(r[0]) for r in _rows(db, "SELECT payload FROM actions"))
    assert REPORT_TEXT not in payloads
    # Case #1 is still open: its excerpt stays for the moderators.
    assert _rows(db, "SELECT evidence FROM cases WHERE id = 1") == [("idiot",)]


async def test_an_erasure_removes_what_it_may_and_says_what_it_kept_and_why(
    bot: ModBot, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await _member_with_history(bot)
    await bot.say("call me on 0712 345 678 or she gets it", author=ANN.id, mid="$dox")  # a ban
    await bot.drain()
    assert "closed" in await bot.command("!close 2 noaction", origin="c")
    (tmp_path / "config.toml").write_text('[storage]\npath = "modbridge.db"\n')

    assert (
        await asyncio.to_thread(
            main, ["erase", "--config", str(tmp_path / "config.toml"), ANN_DISCORD.key]
        )
        == 0
    )
    said = capsys.readouterr().out
    print(said)
    assert said.startswith("erasure for discord:555555555555555555")
    assert "removed: 1 closed report(s) they made" in said
    assert "removed: direct-message consent (1 record(s))" in said
    assert "removed: evidence excerpts and report texts of 2 case(s) about them" in said
    assert "kept: the ban in force (until lifted, case #3), without its reason" in said
    assert "kept: the link between their 2 accounts" in said
    assert "kept: the audit log" in said

    db = tmp_path / "modbridge.db"
    assert _rows(db, "SELECT count(*) FROM reports") == [(0,)]
    assert _rows(db, "SELECT count(*) FROM dm_defaults") == [(0,)]
    dump = " ".join(str(r) for r in _rows(db, "SELECT * FROM cases"))
    dump += " ".join(str(r) for r in _rows(db, "SELECT payload FROM actions"))
    dump += " ".join(str(r) for r in _rows(db, "SELECT reason FROM sanctions"))
    for text in (REPORT_TEXT, "0712", "idiot"):
        assert text not in dump, text
    assert _rows(db, "SELECT kind FROM sanctions WHERE lifted_at IS NULL") == [("ban",)]
    # What she can still read about herself is what was kept.
    answer = await bot.dm(ANN, "my data")
    assert "In force: ban until lifted" in answer
    assert "Reports you made: none" in answer

    assert (
        await asyncio.to_thread(
            main, ["erase", "--config", str(tmp_path / "config.toml"), "matrix"]
        )
        == 2
    )
    assert (
        await asyncio.to_thread(
            main, ["erase", "--config", str(tmp_path / "config.toml"), "@nobody:hs"]
        )
        == 0
    )
    assert "holds no data about matrix:@nobody:hs" in capsys.readouterr().out
