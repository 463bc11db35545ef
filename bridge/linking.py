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

from bridge.members import Members
from bridge.writer import CaseWriter
from domain.model import Account, Author
from domain.storage_ports import LinkCodes

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
        codes: LinkCodes,
        members: Members,
        writer: CaseWriter,
        clock: Callable[[], datetime],
        new_code: Callable[[], str] = lambda: f"{secrets.randbelow(10**6):06d}",
    ) -> None:
        self._codes = codes  # one-time codes: a member's proof, not a change to a case
        self._members = members
        self._writer = writer
        self._clock = clock
        self._new_code = new_code

    async def handle(self, author: Author, text: str) -> str | None:
        """Answer a member's ``link``/``unlink`` direct message; None if it is neither."""
        words = text.strip().split()
        if not words or words[0].lower() not in ("link", "unlink"):
            return None
        account = author.account
        if words[0].lower() == "unlink":
            member_id = await self._members.member_of(account)
            if await self._members.sanctions_in_force(member_id):
                return "You can unlink your accounts once your mute or ban has ended."
            return await self._unlink(account, by=account.key, reason="asked by the member")
        if len(words) == 1:
            code = self._new_code()
            # Another member may hold the same 6 digits right now: draw again.
            for _ in range(5):
                if await self._codes.issue(account, code, CODE_TTL):
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
        if await self._codes.recent_failures(account, CODE_TTL) >= MAX_FAILURES:
            return "Too many wrong codes. Wait 10 minutes, then ask for a new code with `link`."
        issuer = await self._codes.redeem(code.strip())
        if issuer is None:
            await self._codes.failed_attempt(account)
            return "That code is wrong, used or expired. Send `link` to get a new one."
        if issuer == account:
            return "Send the code from your other account, not from this one."
        return await self.link(issuer, account, by=account.key, reason="proved by the member")

    async def link(self, first: Account, second: Account, *, by: str, reason: str) -> str:
        """Make two accounts one member, and re-apply mutes and bans in force to both."""
        if first.key == second.key:
            return f"{first.key} and {second.key} are the same account: nothing to link."
        member_id = await self._writer.link(first, second, by=by, reason=reason)
        occasion = f"link:{self._clock().isoformat()}"
        for account in await self._members.accounts_of(member_id):
            await self._writer.reapply(account, space_id=None, occasion=occasion)
        log.info("accounts %s and %s linked", first.key, second.key)
        return f"Linked: {first.key} and {second.key} are now one member."

    async def _unlink(self, account: Account, *, by: str, reason: str) -> str:
        if len(await self._members.linked_accounts(account)) <= 1:
            return f"{account.key} is not linked to another account."
        await self._writer.unlink(account, by=by, reason=reason)
        return f"Unlinked: {account.key} is a separate member again."

    async def unlink(self, account: Account, *, by: str, reason: str) -> str:
        """A moderator separates ``account`` from the member it was linked to."""
        return await self._unlink(account, by=by, reason=reason)
