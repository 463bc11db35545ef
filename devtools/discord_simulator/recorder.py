"""Every REST request the simulator received, and the faults tests ask it to inject."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote


@dataclass(slots=True)
class RecordedRequest:
    """One REST request as it arrived, and the status the simulator answered."""

    method: str
    #: The path below ``/api/v10``, e.g. ``/channels/1/messages/2``.
    path: str
    #: The route template, e.g. ``/channels/{channel_id}/messages/{message_id}``.
    route: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    status: int = 0
    #: True when the answer was a fault injected by the test (429, 500...).
    injected: bool = False

    @property
    def audit_reason(self) -> str | None:
        """The decoded X-Audit-Log-Reason header (discord.py percent-encodes it)."""
        raw = self.headers.get("X-Audit-Log-Reason")
        return None if raw is None else unquote(raw)

    def matches(self, method: str, path: str) -> bool:
        """Whether this is ``method`` on ``path`` (a concrete path or a route template)."""
        return self.method == method.upper() and path in (self.path, self.route)


class RequestLog:
    """The list of recorded requests, with a way to wait for one that has not come yet."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._changed = asyncio.Event()

    def add(self, request: RecordedRequest) -> None:
        """Record a request (its status is filled in once answered, then :meth:`notify`)."""
        self.requests.append(request)

    def notify(self) -> None:
        """Wake the waiters: a request was answered."""
        self._changed.set()
        self._changed = asyncio.Event()

    def find(self, method: str, path: str) -> list[RecordedRequest]:
        """The answered requests of ``method`` on ``path`` (concrete path or template)."""
        return [r for r in self.requests if r.status and r.matches(method, path)]

    async def wait_for(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> RecordedRequest:
        """The first answered request that matches, waiting up to ``timeout`` seconds for it.

        Matching is on ``method`` and ``path`` (concrete or template) when given, and on
        ``predicate``; requests already recorded count, so there is no race with the caller.
        """

        def wanted(r: RecordedRequest) -> bool:
            if not r.status:
                return False
            if method is not None and r.method != method.upper():
                return False
            if path is not None and path not in (r.path, r.route):
                return False
            return predicate is None or predicate(r)

        async def scan() -> RecordedRequest:
            while True:
                changed = self._changed
                for request in self.requests:
                    if wanted(request):
                        return request
                await changed.wait()

        return await asyncio.wait_for(scan(), timeout)


@dataclass(slots=True)
class Fault:
    """Answer the next ``remaining`` requests to a route with ``status``."""

    method: str
    path: str
    status: int
    remaining: int
    retry_after: float = 0.0
    body: dict[str, Any] = field(default_factory=dict)


class Faults:
    """Injected failures: 429 rate limits and 5xx errors, by route."""

    def __init__(self) -> None:
        self._pending: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Queue a fault; faults on the same route apply in the order added."""
        self._pending.append(fault)

    def take(self, request: RecordedRequest) -> Fault | None:
        """The fault to apply to this request, consuming one of its repetitions."""
        for fault in self._pending:
            if request.matches(fault.method, fault.path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._pending.remove(fault)
                return fault
        return None
