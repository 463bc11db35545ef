"""Reports made with a Matrix client's own Report button, read from Synapse's admin API.

``POST /_matrix/client/v3/rooms/{roomId}/report/{eventId}`` (Element's "Report") goes to
the homeserver's admins, not to a community's moderators. When the bot account is a
Synapse server admin (``[matrix] read_abuse_reports = true``), :class:`AbuseReportReader`
polls ``GET /_synapse/admin/v1/event_reports`` (newest first, paged with ``from`` and
``next_token``), reads each new report about a protected room in full
(``GET /_synapse/admin/v1/event_reports/{id}``, which carries the reported event), and hands
it to the core. User reports (``GET /_synapse/admin/v1/user_reports``, a client's "Report
user") are taken when the reported user is a member of a protected room. The highest report
id examined of each kind is kept, so a report is taken once, across restarts too; the
core's case is also keyed by the report id. Reports about other rooms (and other users) are
left alone, and no report is deleted: the homeserver's admins keep their own record.
Synapse 1.163 has no admin listing of room reports: they are not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp

from domain.model import Account, HomeserverReport, Platform
from domain.ports import EcosystemInbound, KeyValueStore, PermanentError, TransientError

logger = logging.getLogger(__name__)

KEY_SEEN = "matrix.event_reports.seen"  # the highest report id examined
KEY_SEEN_USERS = "matrix.user_reports.seen"
REPORTS_PATH = "/_synapse/admin/v1/event_reports"
USER_REPORTS_PATH = "/_synapse/admin/v1/user_reports"
PAGE = 100


def report_from_admin_api(detail: Mapping[str, Any]) -> HomeserverReport | None:
    """The report a ``GET /event_reports/{id}`` answer describes (pure)."""
    event = detail.get("event_json")
    event = event if isinstance(event, dict) else {}
    content = event.get("content")
    body = content.get("body") if isinstance(content, dict) else None
    reporter, sender = detail.get("user_id"), detail.get("sender") or event.get("sender")
    if not isinstance(reporter, str) or not isinstance(sender, str):
        return None
    stamp = detail.get("received_ts")
    return HomeserverReport(
        report_id=f"event:{detail.get('id')}",
        room_id=str(detail.get("room_id", "")),
        event_id=str(detail.get("event_id", "")),
        reporter=Account(platform=Platform.MATRIX, id=reporter),
        sender=Account(platform=Platform.MATRIX, id=sender),
        reason=str(detail.get("reason") or ""),
        text=body if isinstance(body, str) else "",
        ts=datetime.fromtimestamp(stamp / 1000, UTC)
        if isinstance(stamp, int)
        else datetime.now(UTC),
    )


def report_from_user_report(summary: Mapping[str, Any]) -> HomeserverReport | None:
    """The report a ``GET /user_reports`` entry describes: a user, no message (pure)."""
    reporter, target = summary.get("user_id"), summary.get("target_user_id")
    if not isinstance(reporter, str) or not isinstance(target, str):
        return None
    stamp = summary.get("received_ts")
    return HomeserverReport(
        report_id=f"user:{summary.get('id')}",
        room_id="",
        event_id="",
        reporter=Account(platform=Platform.MATRIX, id=reporter),
        sender=Account(platform=Platform.MATRIX, id=target),
        reason=str(summary.get("reason") or ""),
        ts=datetime.fromtimestamp(stamp / 1000, UTC)
        if isinstance(stamp, int)
        else datetime.now(UTC),
    )


class AbuseReportReader:
    """Polls the homeserver's event reports (see the module docstring)."""

    def __init__(
        self,
        *,
        homeserver: str,
        token: Callable[[], str],
        protected: Callable[[], Collection[str]],
        members: Callable[[], Collection[str]],
        handler: EcosystemInbound,
        seen: KeyValueStore,
        interval: float = 5.0,
    ) -> None:
        self._base = homeserver.rstrip("/")
        self._token = token
        self._protected = protected
        self._members = members
        self._handler = handler
        self._seen = seen
        self._interval = interval
        self._warned = False

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; failures are logged and retried at the next poll."""
        async with aiohttp.ClientSession() as http:
            while not stop.is_set():
                try:
                    await self.poll(http)
                    self._warned = False
                except (TransientError, PermanentError) as exc:
                    if not self._warned:  # one warning per outage, not one per poll
                        logger.warning("reading the homeserver's reports failed: %s", exc)
                        self._warned = True
                except Exception as exc:
                    logger.error("reading the homeserver's reports failed: %s", type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._interval)

    async def poll(self, http: aiohttp.ClientSession) -> int:
        """Take every report newer than the last one examined; return how many were ours."""
        taken = 0
        for summary in await self._new(http, REPORTS_PATH, "event_reports", KEY_SEEN):
            if summary.get("room_id") in self._protected():
                detail = await self._get(http, f"{REPORTS_PATH}/{int(summary['id'])}")
                report = report_from_admin_api(detail)
                if report is not None:
                    await self._handler.on_homeserver_report(report)
                    taken += 1
            await self._seen.set(KEY_SEEN, str(int(summary["id"])))
        members = self._members()
        for summary in await self._new(http, USER_REPORTS_PATH, "user_reports", KEY_SEEN_USERS):
            report = report_from_user_report(summary)
            if report is not None and report.sender.id in members:
                await self._handler.on_homeserver_report(report)
                taken += 1
            await self._seen.set(KEY_SEEN_USERS, str(int(summary["id"])))
        if taken:
            logger.info("%d report(s) from the homeserver taken", taken)
        return taken

    async def _new(
        self, http: aiohttp.ClientSession, path: str, field: str, key: str
    ) -> list[Mapping[str, Any]]:
        """The reports listed at ``path`` newer than the last one examined, oldest first."""
        seen = int(await self._seen.get(key) or 0)
        new: list[Mapping[str, Any]] = []
        start = 0
        while True:  # newest first, until the reports already examined
            page = await self._get(http, f"{path}?dir=b&limit={PAGE}&from={start}")
            reports = page.get(field) or []
            fresh = [r for r in reports if isinstance(r.get("id"), int) and r["id"] > seen]
            new += fresh
            token = page.get("next_token")
            if len(fresh) < len(reports) or not isinstance(token, int) or not reports:
                break
            start = token
        return sorted(new, key=lambda r: int(r["id"]))

    async def _get(self, http: aiohttp.ClientSession, path: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._token()}"}
        try:
            async with http.get(
                self._base + path, headers=headers, timeout=aiohttp.ClientTimeout(total=30)
            ) as answer:
                text = await answer.text()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TransientError(f"homeserver unreachable ({type(exc).__name__})") from exc
        if status == 429 or status >= 500:
            raise TransientError(f"GET {path.split('?')[0]}: HTTP {status}")
        if status >= 400:
            # 403 M_FORBIDDEN: the bot account is not a server admin.
            raise PermanentError(
                f"GET {path.split('?')[0]}: HTTP {status} {text[:200]} (is the bot account a "
                "server admin?)"
            )
        data = json.loads(text)
        if not isinstance(data, dict):
            raise PermanentError(f"GET {path.split('?')[0]}: not a JSON object")
        return data
