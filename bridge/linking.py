"""Linked members: proving that a Discord account and a Matrix account are one person.

A member sends ``link`` to the bot from one account and gets a short-lived one-time code;
sending ``link <code>`` from the other account proves they hold both. Nobody can link an
account they do not control, and linking changes nothing about who is a moderator (that
is decided per account, by each platform's configuration). Moderators can link and unlink
with a reason; members can unlink themselves.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from bridge.pipeline import Pipeline
from bridge.sanctions import schedule_end
from domain.model import Account, Author
from storage.db import Transaction
from storage.links import SanctionRow
from storage.repositories import Repositories

log = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=10)
MAX_FAILURES = 5  # wrong codes per account per CODE_TTL: a 6-digit code cannot be guessed

HELP = (
    "To link your accounts on Discord and Matrix: send `link` here, then send "
    "`link <code>` to me from your other account within 10 minutes. "
    "Send `unlink` to separate this account again."
)


class Linking:
    """Member-facing link/unlink, and the moderators' !link/!unlink."""

    def __init__(
        self,
        *,
        repos: Repositories,
        pipeline: Pipeline,
        clock: Callable[[], datetime],
        new_code: Callable[[], str] = lambda: f"{secrets.randbelow(10**6):06d}",
    ) -> None:
        self._repos = repos
        self._pipeline = pipeline
        self._clock = clock
        self._new_code = new_code

    async def handle(self, author: Author, text: str) -> str | None:
        """Answer a member's ``link``/``unlink`` direct message; None if it is neither."""
        words = text.strip().split()
        if not words or words[0].lower() not in ("link", "unlink"):
            return None
        account = author.account
        if words[0].lower() == "unlink":
            member_id = await self._pipeline.member_of(account)
            if await self._repos.sanctions.in_force(member_id, self._clock()):
                return "You can unlink your accounts once your mute or ban has ended."
            return await self._unlink(account, by=account.key, reason="asked by the member")
        if len(words) == 1:
            code = self._new_code()
            # Another member may hold the same 6 digits right now: draw again.
            for _ in range(5):
                if await self._repos.links.issue(account, code, CODE_TTL):
                    break
                code = self._new_code()
            else:
                return "I could not make a code just now. Please send `link` again in a minute."
            log.info("link code issued to %s", account.key)
            return (
                f"Your link code is {code}. Within 10 minutes, send `link {code}` to me from "
                "your other account (a direct message on the other platform). It works once."
            )
        return await self._redeem(account, words[1])

    async def _redeem(self, account: Account, code: str) -> str:
        if await self._repos.links.recent_failures(account, CODE_TTL) >= MAX_FAILURES:
            return "Too many wrong codes. Wait 10 minutes, then ask for a new code with `link`."
        issuer = await self._repos.links.redeem(code.strip())
        if issuer is None:
            await self._repos.links.failed_attempt(account)
            return "That code is wrong, used or expired. Send `link` to get a new one."
        if issuer == account:
            return "Send the code from your other account, not from this one."
        return await self.link(issuer, account, by=account.key, reason="proved by the member")

    async def link(self, first: Account, second: Account, *, by: str, reason: str) -> str:
        """Make two accounts one member, and re-apply mutes and bans in force to both."""
        if first.key == second.key:
            return f"{first.key} and {second.key} are the same account: nothing to link."
        member_id = await self._repos.identity.link(first, second)
        await self._repos.audit.append(
            by, "accounts_linked", first.key, {"other": second.key, "reason": reason}
        )
        await self._pipeline.reload_strikes(member_id)
        occasion = f"link:{self._clock().isoformat()}"
        for account in await self._pipeline.accounts_of(member_id):
            await self._pipeline.reapply(account, space_id=None, occasion=occasion)
        log.info("accounts %s and %s linked", first.key, second.key)
        return f"Linked: {first.key} and {second.key} are now one member."

    async def _unlink(self, account: Account, *, by: str, reason: str) -> str:
        linked = await self._repos.identity.linked_accounts(account)
        if len(linked) <= 1:
            return f"{account.key} is not linked to another account."
        old_member = await self._pipeline.member_of(account)
        in_force = await self._repos.sanctions.in_force(old_member, self._clock())
        async with self._pipeline.transaction() as tx:
            new_member = await self._repos.identity.unlink(account, tx=tx)
            await self._carry_sanctions(in_force, new_member, tx=tx)
            await self._repos.audit.append(
                by, "account_unlinked", account.key, {"reason": reason}, tx=tx
            )
        return f"Unlinked: {account.key} is a separate member again."

    async def _carry_sanctions(
        self, sanctions: list[SanctionRow], member_id: int, *, tx: Transaction
    ) -> None:
        """The separated account is still muted or banned where it was: it takes the
        sanction along, with the timer that ends it, or it would never be lifted."""
        now = self._clock()
        for sanction in sanctions:
            await self._repos.sanctions.impose(
                member_id, sanction.kind, until=sanction.until, reason=sanction.reason,
                case_id=sanction.case_id, tx=tx,
            )  # fmt: skip
            if sanction.until is not None and sanction.case_id is not None:
                await schedule_end(
                    self._repos, sanction.kind, case_id=sanction.case_id, member_id=member_id,
                    until=sanction.until, reason=sanction.reason, now=now, tx=tx,
                    key_suffix=f":member:{member_id}", renew_now=True,
                )  # fmt: skip

    async def unlink(self, account: Account, *, by: str, reason: str) -> str:
        """A moderator separates ``account`` from the member it was linked to."""
        return await self._unlink(account, by=by, reason=reason)
