"""The core's side of the Matrix ecosystem: list rules, room upgrades, homeserver reports.

- A rule of a subscribed policy list goes to :class:`~bridge.policy_lists.ListBans`.
- An upgraded protected room: the mutes and bans in force are carried to the new room (the
  adapter already protects it), and the moderators are told.
- A report made with a client's own Report button, read from the homeserver, becomes a
  member report exactly like one made to the bot in a direct message: a case, the
  moderators' notice with the reported message as evidence, the reporter kept apart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bridge.members import Members
from bridge.policy_lists import ListBans
from bridge.reports import Report, Reports
from bridge.writer import CaseWriter
from domain.model import HomeserverReport, ListRule, NotifyModerators, Platform
from domain.storage_ports import SanctionFile

log = logging.getLogger(__name__)


class MatrixEcosystem:
    """Routes the Matrix adapter's ecosystem events to the parts of the core that decide."""

    def __init__(
        self,
        *,
        writer: CaseWriter,
        members: Members,
        lists: ListBans,
        reports: Reports,
        sanctions: SanctionFile,
        clock: Callable[[], datetime],
    ) -> None:
        self._writer = writer
        self._members = members
        self._lists = lists
        self._reports = reports
        self._sanctions = sanctions
        self._clock = clock

    async def on_list_rule(self, rule: ListRule) -> None:
        """A rule of a subscribed policy list as it stands now."""
        await self._lists.on_rule(rule)

    async def on_room_upgraded(self, old: str, new: str) -> None:
        """Carry every mute and ban in force to ``new``, which replaced ``old``."""
        carried = 0
        for member_id in await self._sanctions.members_in_force(self._clock()):
            for account in await self._members.accounts_of(member_id):
                if account.platform is Platform.MATRIX:
                    carried += await self._writer.reapply(
                        account, space_id=new, occasion=f"upgrade:{old}:{new}"
                    )
        log.info("room %s upgraded to %s: %d sanction(s) carried over", old, new, carried)
        await self._writer.enqueue_actions(
            None,
            [
                NotifyModerators(
                    text=f"Room {old} was upgraded to {new}: modbridge protects the new room "
                    f"now and carried {carried} mute(s) and ban(s) in force to it."
                )
            ],
            member_id=None,
            origin=f"upgrade:{old}:{new}",
        )

    async def on_homeserver_report(self, report: HomeserverReport) -> None:
        """A report made with a client's Report button: about a message in a protected
        room, or about a member of one."""
        opened = await self._reports.submit(
            Report(
                reporter=report.reporter,
                subject=report.sender,
                what=report.reason.strip() or "reported with the client's Report button",
                where=f"message {report.event_id} in {report.room_id}"
                if report.event_id
                else "a report of the member (no message named)",
                evidence=(report.text[:300],) if report.text else (),
                origin=f"homeserver:{report.report_id}",
            )
        )
        log.info("homeserver report %s opened case %s", report.report_id, opened.case.id)
