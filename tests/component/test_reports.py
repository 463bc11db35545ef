"""Confidential reports and unsolicited DMs, as a reporter and the moderators see them."""

from __future__ import annotations

import logging

import pytest

from domain.model import (
    Account,
    Author,
    Channel,
    Message,
    NotifyModerators,
    Platform,
    Tell,
    Warn,
)
from tests.component.harness import ModBot

REPORTER = Account(platform=Platform.DISCORD, id="424242424242424242", display_name="Wanjiku")
SUBJECT = Account(platform=Platform.MATRIX, id="@creep:hs")


def everything_said(bot: ModBot) -> list[str]:
    """Every text the bot sent anyone: answers, notices, warnings, private words."""
    texts = [text for _, text in bot.answers]
    for action, _ in bot.matrix.done + bot.discord.done:
        if isinstance(action, NotifyModerators | Tell):
            texts.append(action.text)
        elif isinstance(action, Warn):
            texts.extend([action.reason, action.clause])
    return texts


def notices(bot: ModBot) -> list[str]:
    return [a.text for a, _ in bot.matrix.done if isinstance(a, NotifyModerators)]


async def test_guided_report_reaches_moderators_without_the_reporter(
    bot: ModBot, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("bridge", "storage", "rules", "adapters"):
        caplog.set_level(logging.DEBUG, logger=name)
    assert "What happened?" in await bot.dm(REPORTER, "report")
    assert "Who was it?" in await bot.dm(REPORTER, "He keeps sending me creepy comments")
    assert "could not tell who" in await bot.dm(REPORTER, "that guy")
    assert "Where did it happen?" in await bot.dm(REPORTER, "@creep:hs")
    assert "Any evidence?" in await bot.dm(REPORTER, "in #general, yesterday evening")
    assert "May I tell the moderators" in await bot.dm(REPORTER, "none")
    answer = await bot.dm(REPORTER, "no")
    assert "Your report is case #1" in answer
    assert "not told who reported it" in answer
    await bot.drain()
    assert any("report about matrix:@creep:hs" in n for n in notices(bot))
    case = await bot.command("!case 1", origin="k")
    assert "He keeps sending me creepy comments" in case
    # Confidentiality: the reporter's ids and name appear nowhere but in their own answers.
    leaks = [REPORTER.id, REPORTER.key, REPORTER.display_name]
    said_to_others = [t for t in everything_said(bot) if t not in {a for _, a in bot.answers}]
    said_to_others.append(case)
    assert caplog.records  # the scan below reads something
    for text in [*said_to_others, caplog.text]:
        for leak in leaks:
            assert leak not in text
    # Kept apart, for the admins.
    report = await bot.repos.reports.of_case(1)
    assert report is not None
    assert report.reporter == Account(platform=Platform.DISCORD, id=REPORTER.id)


async def test_nothing_the_reporter_writes_or_links_names_them(bot: ModBot) -> None:
    """Their own words, a mention of themselves, a link to their own message: all left out."""
    theirs, mine = "https://matrix.to/#/!a:hs/$theirs", "https://matrix.to/#/!a:hs/$mine"
    bot.link_message(theirs, SUBJECT, "you are a useless noob\nWanjiku, nobody asked you")
    bot.link_message(mine, REPORTER, "Wanjiku here: please stop messaging me")
    answer = await bot.dm(
        REPORTER,
        f"I (<@{REPORTER.id}>), Wanjiku, was insulted by @creep:hs. {theirs} {mine}",
        mid="one",
    )
    assert "case #1" in answer
    await bot.drain()
    case = await bot.command("!case 1", origin="k")
    assert "Case #1 (open): @creep:hs" in case  # not the reporter's own mention
    assert "matrix:@creep:hs: 'you are a useless noob [the reporter], nobody asked you'" in case
    assert "(a message of the reporter's own: left out)" in case
    said = [case, *notices(bot)]
    for leak in (REPORTER.id, "Wanjiku", "$mine", "please stop"):
        assert not [t for t in said if leak in t], leak


async def test_a_reporter_who_tries_a_command_first_is_not_logged(
    bot: ModBot, caplog: pytest.LogCaptureFixture
) -> None:
    """`!report` is a likely first try: its refusal must not tie the account to the report."""
    for name in ("bridge", "storage", "rules", "adapters"):
        caplog.set_level(logging.DEBUG, logger=name)
    assert "Only moderators" in await bot.dm(REPORTER, "!report", mid="m1")
    assert "Only moderators" in await bot.dm(REPORTER, "!help", mid="m2")
    assert "case #1" in await bot.dm(REPORTER, "report @creep:hs insults me in #general")
    assert "report opened case 1" in caplog.text
    assert REPORTER.id not in caplog.text


async def test_a_screenshot_is_not_taken_for_an_answer(bot: ModBot) -> None:
    assert "What happened?" in await bot.dm(REPORTER, "report")
    assert "cannot keep files" in await bot.dm(REPORTER, "", attachments=1)
    # Still at the first step: the next words are what happened.
    assert "Who was it?" in await bot.dm(REPORTER, "He posted my photo without asking")


async def test_reporter_may_agree_to_be_named(bot: ModBot) -> None:
    await bot.dm(REPORTER, "report")
    await bot.dm(REPORTER, "He insulted me in the meetup channel")
    await bot.dm(REPORTER, "@creep:hs")
    await bot.dm(REPORTER, "#meetup")
    await bot.dm(REPORTER, "none")
    answer = await bot.dm(REPORTER, "yes")
    assert "Your report is case #1" in answer
    await bot.drain()
    assert any(f"reported by {REPORTER.key}" in n for n in notices(bot))


async def test_cancel_at_any_step_sends_nothing(bot: ModBot) -> None:
    await bot.dm(REPORTER, "report")
    await bot.dm(REPORTER, "something happened to me yesterday")
    assert await bot.dm(REPORTER, "cancel") == "Cancelled. Nothing was sent to anyone."
    await bot.drain()
    assert await bot.repos.cases.get(1) is None
    assert notices(bot) == []


async def test_one_message_report_goes_straight_through(bot: ModBot) -> None:
    answer = await bot.dm(REPORTER, "report @creep:hs keeps posting slurs in general")
    assert "Your report is case #1" in answer
    await bot.drain()
    assert any("report about matrix:@creep:hs" in n for n in notices(bot))


async def dm_invite_on_record(bot: ModBot, sender: Account, recipient: Account) -> None:
    """What the homeserver's callback records when one member opens a DM with another."""
    await bot.repos.audit.append(
        sender.key, "dm_invite_refused", recipient.key, {"inviter": sender.key}
    )


async def test_unsolicited_dm_claimed_without_proof_waits_for_a_moderator(bot: ModBot) -> None:
    await bot.dm(REPORTER, "report @creep:hs messaged me in DM asking for my number, never invited")
    await bot.drain()
    assert not [a for a, _ in bot.matrix.done if isinstance(a, Warn)]
    assert any("claimed but not proven" in n for n in notices(bot))
    assert (
        await bot.repos.strikes.live_points(await bot.members.member_of(SUBJECT), bot.clock()) == 0
    )


async def test_unsolicited_dm_without_consent_is_acted_on(bot: ModBot) -> None:
    await dm_invite_on_record(bot, SUBJECT, REPORTER)
    answer = await bot.dm(
        REPORTER, "report @creep:hs messaged me in DM asking for my number, I never invited him"
    )
    assert "case #1" in answer
    await bot.drain()
    warns = [a for a, _ in bot.matrix.done if isinstance(a, Warn)]
    assert len(warns) == 1
    assert warns[0].target == SUBJECT
    assert "outside community platforms" in warns[0].clause
    assert any("the DM rule was applied" in n for n in notices(bot))
    assert (
        await bot.repos.strikes.live_points(await bot.members.member_of(SUBJECT), bot.clock()) == 3
    )


async def test_unsolicited_dm_with_consent_is_an_ordinary_report(bot: ModBot) -> None:
    assert "may now send you direct messages" in await bot.dm(REPORTER, "dm allow @creep:hs")
    await bot.dm(REPORTER, "report @creep:hs sent me a DM I did not like, about work")
    await bot.drain()
    assert not [a for a, _ in bot.matrix.done if isinstance(a, Warn)]
    assert not any("DM rule" in n for n in notices(bot))
    assert any("report about matrix:@creep:hs" in n for n in notices(bot))


async def test_dm_open_and_closed(bot: ModBot) -> None:
    assert await bot.dm(REPORTER, "dm open") == "Every member may now send you direct messages."
    await bot.dm(REPORTER, "report @creep:hs sent me a DM out of the blue about crypto")
    await bot.drain()
    assert not [a for a, _ in bot.matrix.done if isinstance(a, Warn)]
    closed = "Only members you allowed may now send you direct messages."
    assert await bot.dm(REPORTER, "dm closed") == closed
    await dm_invite_on_record(bot, SUBJECT, REPORTER)
    await bot.dm(REPORTER, "report @creep:hs sent me another DM out of the blue", mid="again")
    await bot.drain()
    assert [a.target for a, _ in bot.matrix.done if isinstance(a, Warn)] == [SUBJECT]


async def test_report_about_a_moderator_goes_to_the_admins_only(bot: ModBot) -> None:
    await bot.dm(REPORTER, "report @mod:hs has been harassing me in DMs for weeks")
    await bot.drain()
    assert notices(bot) == []
    told = [(a.target.key, a.text) for a, _ in bot.matrix.done if isinstance(a, Tell)]
    assert len(told) == 1
    assert told[0][0] == "matrix:@admin:hs"
    assert "report about matrix:@mod:hs" in told[0][1]
    # The moderator cannot read that case; the admin can.
    assert await bot.command("!case 1", moderator="@mod:hs", origin="a") == "There is no case #1."
    assert "Case #1" in await bot.command("!case 1", moderator="@admin:hs", origin="b")


async def test_reporter_is_told_when_the_case_is_closed(bot: ModBot) -> None:
    await bot.dm(REPORTER, "report @creep:hs keeps posting slurs in general")
    answer = await bot.command("!close 1 action warned and muted", origin="c")
    assert answer == "Case #1 closed (action taken). The reporter is told."
    await bot.drain()
    told = [a for a, _ in bot.discord.done if isinstance(a, Tell)]
    assert len(told) == 1
    assert told[0].target.id == REPORTER.id
    assert told[0].text == (
        "Your report (case #1) has been closed: the moderators took action. Thank you."
    )
    assert "already closed" in await bot.command("!close 1 noaction", origin="d")


async def test_retaliation_is_flagged_without_saying_why(bot: ModBot) -> None:
    await bot.dm(REPORTER, "report @creep:hs keeps posting slurs in general")
    await bot.drain()
    before = len(notices(bot))
    for n in range(3):
        await bot.core.on_message(
            Message(
                id=f"$r{n}",
                author=Author(account=SUBJECT),
                channel=Channel(platform=Platform.MATRIX, id="!a:hs", space_id="!a:hs"),
                text="hey, I know what you did",
                ts=bot.clock(),
                mentions=(Account(platform=Platform.DISCORD, id=REPORTER.id),),
            )
        )
    await bot.drain()
    # Not right after the message (its timing would point at whom it mentioned), neither
    # as a notice nor in the case ...
    assert notices(bot)[before:] == []
    assert "needs a look" not in await bot.command("!case 1", origin="look")
    bot.clock.advance(hours=1)
    await bot.drain()
    # ... but at the end of the hour, once for the three.
    new = notices(bot)[before:]
    assert new == ["Case #1 needs a look: new activity by the reported member."]


async def test_reports_are_rate_limited(bot: ModBot) -> None:
    for i in range(5):
        await bot.dm(REPORTER, f"report @creep:hs did something bad again, number {i}", mid=f"r{i}")
    assert "several reports recently" in await bot.dm(REPORTER, "report", mid="r6")


async def test_a_reporter_can_still_link_accounts(bot: ModBot) -> None:
    await bot.dm(REPORTER, "report @creep:hs keeps posting slurs in general")
    other = Account(platform=Platform.MATRIX, id="@wanjiku:hs")
    await bot.dm(other, "link")
    assert "are now one member" in await bot.dm(REPORTER, "link 123456")


async def test_moderators_cannot_touch_a_case_about_a_moderator(bot: ModBot) -> None:
    await bot.dm(REPORTER, "report @mod:hs has been harassing me in DMs for weeks")
    assert await bot.command("!note 1 hm", moderator="@mod:hs", origin="n") == (
        "There is no case #1."
    )
    assert await bot.command("!pardon 1", moderator="@mod:hs", origin="p") == (
        "There is no case #1."
    )


async def test_a_direct_message_full_of_links_reads_only_a_few(bot: ModBot) -> None:
    """Each link read may take seconds and direct messages are answered in turn: a member
    cannot stall the bot with 1,500 links."""
    asked: list[str] = []
    real = bot.fetch

    async def counting(link: str) -> Message | None:
        asked.append(link)
        return await real(link)

    bot.fetch = counting  # type: ignore[method-assign]
    links = " ".join(f"https://matrix.to/#/!a:hs/$e{n}" for n in range(1500))
    await bot.dm(REPORTER, "report")
    await bot.dm(REPORTER, "He keeps posting in general")
    await bot.dm(REPORTER, links)  # the "who" step
    assert len(asked) == 5
    assert len(set(asked)) == len(asked)  # each link read once


async def test_a_member_writing_too_fast_is_read_again_a_minute_later(bot: ModBot) -> None:
    """A flood of direct messages cannot make the bot write or read links without end."""
    member = Account(platform=Platform.DISCORD, id="515151515151515151")

    async def send(n: int) -> None:
        await bot.core.on_direct_message(
            Message(
                id=f"flood{n}", author=Author(account=member),
                channel=Channel(platform=Platform.DISCORD, id="dm-flood", is_dm=True),
                text=f"dm allow @friend{n}:hs", ts=bot.clock(),
            )
        )  # fmt: skip

    before = len(bot.answers)
    for n in range(25):
        await send(n)
    answers = [text for _, text in bot.answers[before:]]
    assert len(answers) == 21
    assert answers[-1].startswith("You are writing faster than I can read")
    bot.clock.advance(minutes=1, seconds=1)
    await send(99)
    assert "may now send you direct messages" in bot.answers[-1][1]
