"""Member reports: a case for the moderators, the reporter kept apart and never named.

The code of conduct promises that reports are handled confidentially and that the
reporter's identity is not disclosed without permission: the case moderators read names
the reported member and the evidence, never the reporter; who reported is stored in a
separate table that only the configured admins can read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bridge.model import Account, Message, NotifyModerators
from bridge.pipeline import Pipeline
from storage.cases import CaseRow, NewCase, OriginKind
from storage.db import Transaction
from storage.repositories import Repositories

log = logging.getLogger(__name__)

REPORT_WINDOW = timedelta(hours=1)
MAX_REPORTS = 5  # per member per hour


class Reports:
    """Opens report cases and answers the reporter."""

    def __init__(
        self, *, pipeline: Pipeline, repos: Repositories, clock: Callable[[], datetime]
    ) -> None:
        self._pipeline = pipeline
        self._repos = repos
        self._clock = clock

    async def report(
        self, *, reporter: Account, message: Message | None, details: str, origin: str
    ) -> str:
        """Open a case about ``message`` (its author) for the moderators; return the answer
        to the reporter."""
        if await self._repos.reports.count_recent(reporter, REPORT_WINDOW) >= MAX_REPORTS:
            return (
                "You have sent several reports in the last hour. Please wait a little, or "
                "write to a moderator directly if it is urgent."
            )
        if message is None:
            return "Please report a specific message, or describe what happened to me in a DM."
        subject = message.author.account
        excerpt = message.text[:300]
        reporter_member = await self._pipeline.member_of(reporter)

        async def remember_reporter(case: CaseRow, tx: Transaction) -> None:
            await self._repos.reports.add(case.id, reporter, reporter_member=reporter_member, tx=tx)

        opened = await self._pipeline.enqueue_case(
            NewCase(
                subject=subject,
                origin_kind=OriginKind.REPORT,
                origin="member report",
                reason=(details.strip() or "reported message")[:500],
                evidence=excerpt,
                dedupe_key=f"report:{origin}",
            ),
            [
                NotifyModerators(
                    text=f"new member report about {subject.key} (message {message.id} in "
                    f"{message.channel.id}): {excerpt!r}; details: {details.strip()[:500]!r}"
                )
            ],
            member_id=await self._pipeline.member_of(subject),
            on_open=remember_reporter,
        )
        log.info("report opened case %s", opened.case.id)
        return (
            f"Thank you. Your report is case #{opened.case.id}. The moderators will look at "
            "it; they are not told who reported it."
        )
