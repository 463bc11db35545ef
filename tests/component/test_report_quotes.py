"""A report that quotes the reporter must not make the reporter the reported member."""

from __future__ import annotations

from domain.model import Account, Platform
from tests.component.harness import ModBot
from tests.component.test_reports import everything_said, notices

REPORTER = Account(platform=Platform.MATRIX, id="@wanjiku:hs")


async def test_reply_fallback_quoting_the_reporter_names_the_member_reported(bot: ModBot) -> None:
    # Old clients start a reply with "> <@sender:server> quoted text" and a blank line.
    text = (
        "> <@wanjiku:hs> he sent me his number again\n"
        "\n"
        "report @creep:hs keeps messaging me privately after I said no"
    )
    answer = await bot.dm(REPORTER, text)
    assert "case #1" in answer.lower()
    await bot.drain()
    assert any("report about matrix:@creep:hs" in n for n in notices(bot))
    case = await bot.command("!case 1", origin="k")
    assert case.startswith("Case #1 (open): @creep:hs")
    said_to_others = [t for t in everything_said(bot) if t not in {a for _, a in bot.answers}]
    assert not [t for t in [*said_to_others, case] if "wanjiku" in t]
