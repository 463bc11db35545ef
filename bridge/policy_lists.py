"""Subscribed Matrix policy lists: the core's decision about whom their ban rules ban.

The Matrix adapter reads the lists' rules (``ListRule``) and hands every change here; the
rules module says whom a rule matches. A ban rule bans each matching member of the protected
rooms, in every protected room and space, as a case through the outbox
(the modlog names the list and the rule's reason), on the member's linked Discord accounts
too unless ``list_bans_reach_discord`` is off. A member who joins later and matches is
banned then (user globs and server rules alike). A rule removed from its list lifts
the bans it alone caused: not while another rule still bans the account, and not when a
moderator's own ban has taken over since.
Rules the bot wrote itself (its published list) are never applied from a list.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from bridge.members import Members
from bridge.writer import CaseWriter
from domain.cases import NewCase, OriginKind
from domain.model import Account, Action, Ban, ListRule, NotifyModerators, Platform, Unban
from domain.records import ListBanRow, SanctionRow
from domain.storage_ports import ListBanFile, SanctionFile
from rules.policy_lists import ListBook, bans_user, count_by_kind, is_ban, is_literal

log = logging.getLogger(__name__)


def _describe(rule: ListRule) -> str:
    if rule.removed:
        return f"{rule.kind} rule {rule.state_key!r}"
    reason = rule.reason.strip() or "no reason given"
    return f"{rule.kind} rule {rule.entity!r}: {reason}"


class ListBans:
    """Applies the ban rules of the subscribed lists (see the module docstring)."""

    def __init__(
        self,
        *,
        writer: CaseWriter,
        members: Members,
        list_bans: ListBanFile,
        sanctions: SanctionFile,
        lists: Sequence[str],
        bot_user: str,
        reach_discord: bool,
        clock: Callable[[], datetime],
    ) -> None:
        self._writer = writer
        self._members = members
        self._rows = list_bans
        self._sanctions = sanctions
        self._lists = tuple(lists)
        self._bot = bot_user
        self._platforms = None if reach_discord else (Platform.MATRIX,)
        self._clock = clock
        self._book = ListBook()
        self._names: dict[str, str] = {}  # list room id -> as configured
        self._lock = asyncio.Lock()
        # The Matrix accounts now in protected rooms; the adapter provides it once connected.
        self.members: Callable[[], Iterable[Account]] = list

    async def on_rule(self, rule: ListRule) -> None:
        """A rule of a subscribed list appeared, changed or was removed."""
        if rule.sender == self._bot:
            return  # our own published bans: already in force, never re-applied from a list
        self._names[rule.list_room] = rule.list_name
        async with self._lock:
            previous = self._book.update(rule)
            if previous is not None and is_ban(previous) and previous != rule:
                await self._lift(previous, still=rule)
            elif previous is None and not is_ban(rule):
                await self._lift(rule, still=rule)  # removed while modbridge was down
            if is_ban(rule) and previous != rule:
                await self._apply(rule)

    async def on_join(self, account: Account) -> None:
        """A member joined a protected room: a list ban rule (a server rule, a user glob)
        may name them."""
        if account.platform is not Platform.MATRIX:
            return
        async with self._lock:
            rules = self._book.bans_for(account.id)
            if rules:
                await self._ban(account, rules[0])

    async def reaches(self, sanction: SanctionRow, account: Account) -> bool:
        """Whether a ban in force is re-applied to ``account`` (a rejoin, a new link): a
        list ban kept to Matrix (``list_bans_reach_discord = false``) is not, on Discord."""
        if self._platforms is None or account.platform in self._platforms:
            return True
        return sanction.case_id not in await self._rows.case_ids(sanction.member_id)

    def describe(self) -> str:
        """The answer to ``!lists``: each subscribed list, its rules, its last update."""
        if not self._lists:
            return "No policy lists are subscribed ([matrix] policy_lists)."
        lines = ["Subscribed policy lists:"]
        rooms = {name: room for room, name in self._names.items()}
        for name in self._lists:
            room = rooms.get(name)
            if room is None:
                lines.append(f"  {name}: no rules read (not joined yet, or empty)")
                continue
            rules = self._book.rules_of(room)
            counts = count_by_kind(rules)
            bans = sum(1 for r in rules if is_ban(r))
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "none"
            updated = self._book.last_update(room)
            when = f"{updated:%Y-%m-%d %H:%M} UTC" if updated else "never"
            lines.append(f"  {name}: {len(rules)} rules ({kinds}; {bans} ban), updated {when}")
        return "\n".join(lines)

    # -- applying and lifting --------------------------------------------------------------------

    async def _apply(self, rule: ListRule) -> None:
        members = {a.id: a for a in self.members()}
        if rule.kind == "user" and is_literal(rule.entity):  # most rules: one lookup
            found = members.get(rule.entity)
            targets = {rule.entity: found} if found else {}
        else:
            targets = {i: a for i, a in members.items() if bans_user(rule, i)}
        targets.pop(self._bot, None)
        for account in targets.values():
            await self._ban(account, rule)

    async def _ban(self, account: Account, rule: ListRule) -> None:
        if await self._rows.active(rule_key=rule.key, account=account):
            return  # this rule already bans them
        member_id = await self._members.member_of(account)
        standing = await self._rows.active(account=account)
        if standing:
            # Banned by another list rule already: this one keeps them banned too.
            await self._rows.add(
                rule.key, account, member_id=member_id, case_id=standing[0].case_id
            )
            return
        if any(s.kind == "ban" for s in await self._sanctions.in_force(member_id, self._clock())):
            # Banned already by a moderator or a rule: the list did not cause that ban, and
            # its removal must not lift it.
            await self._rows.add(rule.key, account, member_id=member_id, case_id=None)
            return
        name = self._names.get(rule.list_room, rule.list_room)
        reason = f"policy list {name}: {rule.reason.strip() or 'no reason given'}"
        actions: list[Action] = [
            Ban(target=account, reason=reason),
            NotifyModerators(
                text=f"{account.key} banned by policy list {name} ({_describe(rule)})"
            ),
        ]
        seq = await self._rows.count(rule.key, account)
        opened = await self._writer.open_case(
            NewCase(
                subject=account,
                origin_kind=OriginKind.RULE,
                origin=f"policy list {name}",
                reason=reason,
                evidence=f"{rule.kind} rule {rule.entity}",
                dedupe_key=f"list:{rule.key}:{account.key}:{seq}",
            ),
            actions,
            member_id=member_id,
            platforms=self._platforms,
            publish=False,  # another community's judgement: not republished as ours
        )
        await self._rows.add(rule.key, account, member_id=member_id, case_id=opened.case.id)
        log.info("policy list %s banned %s (case %s)", name, account.key, opened.case.id)

    async def _lift(self, rule: ListRule, *, still: ListRule) -> None:
        """The bans of ``rule`` that ``still`` (its new version under the same key) no
        longer makes: lifted, where nothing else holds them."""
        rows = await self._rows.active(rule_key=rule.key)
        for row in rows:
            if bans_user(still, row.account.id):
                continue
            await self._rows.lift(row.id)
            if self._book.bans_for(row.account.id) or await self._rows.active(account=row.account):
                continue  # another rule still bans them
            if not await self._ours(row):
                continue  # a moderator's (or a rule's) own ban has taken over: it stays
            await self._unban(row, rule)

    async def _ours(self, row: ListBanRow) -> bool:
        """Whether the ban in force on the member is one a list caused."""
        ours = await self._rows.case_ids(row.member_id)
        in_force = [
            s for s in await self._sanctions.in_force(row.member_id, self._clock())
            if s.kind == "ban"
        ]  # fmt: skip
        return bool(in_force) and all(s.case_id in ours for s in in_force)

    async def _unban(self, row: ListBanRow, rule: ListRule) -> None:
        name = self._names.get(rule.list_room, rule.list_room)
        reason = f"rule removed from policy list {name}"
        await self._writer.open_case(
            NewCase(
                subject=row.account,
                origin_kind=OriginKind.RULE,
                origin=f"policy list {name}",
                reason=reason,
                evidence=f"{rule.kind} rule {rule.entity}",
                dedupe_key=f"list-lift:{row.id}",
            ),
            [
                Unban(target=row.account, reason=reason),
                NotifyModerators(
                    text=f"{row.account.key} unbanned: {_describe(rule)} was removed from "
                    f"policy list {name}"
                ),
            ],
            member_id=row.member_id,
            platforms=self._platforms,
            publish=False,
        )
        log.info("policy list %s lifted the ban of %s", name, row.account.key)
