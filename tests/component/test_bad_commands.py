"""Moderators' typos and strange input: always a clear answer, never silence or harm."""

from __future__ import annotations

import pytest

from domain.model import Mute, Remove
from tests.component.harness import ModBot


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("!mute @x:hs 99999999d spam", "too long: at most 3650d"),
        ("!mute @x:hs 99999999999999999999d spam", "too long: at most 3650d"),
        ("!mute @x:hs 0s spam", "is not a duration"),
        ("!case ²", "is not a case number"),
        ("!pardon ①", "is not a case number"),
        ("!note ³ hello", "is not a case number"),
        ("!close ² action", "is not a case number"),
        ("!link @a:hs", "Usage: !link"),
        ("!case 99", "There is no case #99."),
        ("!link @a:hs @a:hs same person", "the same account: nothing to link"),
    ],
)
async def test_every_bad_command_gets_a_clear_answer(
    bot: ModBot, typed: str, expected: str
) -> None:
    assert expected in await bot.typed(typed)


async def test_the_bot_does_not_act_on_its_own_accounts(bot: ModBot) -> None:
    """A pasted wrong id would demote or kick the bot in every room."""
    for typed in ("!mute @bot:hs 10m oops", "!remove @bot:hs oops", "!ban @bot:hs oops"):
        assert "modbridge's own account" in await bot.typed(typed)
    assert "modbridge's own account" in await bot.typed(
        "!link @ann:hs discord:999999999999999999 same"
    )
    await bot.drain()
    assert not [a for a, _ in bot.matrix.done if isinstance(a, Mute | Remove)]


async def test_a_failure_inside_a_command_is_answered(bot: ModBot) -> None:
    async def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("a bug")

    bot.moderation.on_mod_command = broken  # type: ignore[method-assign]
    answer = await bot.typed("!ban @troll:hs raid")
    assert "failed inside modbridge (RuntimeError)" in answer
    assert "check with case or history" in answer
