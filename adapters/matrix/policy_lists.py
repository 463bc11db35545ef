"""Matrix policy lists on the wire: reading rules from state events, writing our own.

Reading is pure: :func:`list_rule_from_event` turns one state event of a list room into a
:class:`~domain.model.ListRule` (the core decides what it means). Writing is the
:class:`PublishingExecutor`: a ban or unban queued for the space ``list:<room id>`` (see
``domain.model.LIST_SPACE_PREFIX``) becomes an ``m.policy.rule.user`` rule in that room, or
its removal (the same state key with empty content), which Mjolnir, Draupnir and Meowlnir
read. Every other action goes on to the ordinary executor.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from nio import AsyncClient

from adapters.matrix.responses import error_from_response
from domain.model import LIST_SPACE_PREFIX, Action, Ban, ListRule, Platform, Space, Unban
from domain.ports import ActionExecutor, PermanentError, TransientError

USER_RULE = "m.policy.rule.user"
# Every event type a list may use for each kind of rule: the stable names, the names of
# the first published spec (m.room.rule.*), and Mjolnir's original ones.
RULE_TYPES: Mapping[str, str] = {
    f"{prefix}.{kind}": kind
    for prefix in ("m.policy.rule", "m.room.rule", "org.matrix.mjolnir.rule")
    for kind in ("user", "server", "room")
}


def list_rule_from_event(
    list_room: str, list_name: str, source: Mapping[str, Any]
) -> ListRule | None:
    """The rule a state event of a policy list states (None: not a rule event)."""
    kind = RULE_TYPES.get(str(source.get("type", "")))
    state_key = source.get("state_key")
    if kind is None or not isinstance(state_key, str):
        return None
    content = source.get("content")
    content = content if isinstance(content, dict) else {}
    entity, recommendation, reason = (
        content.get(k) for k in ("entity", "recommendation", "reason")
    )
    stamp = source.get("origin_server_ts")
    ts = datetime.fromtimestamp(stamp / 1000, UTC) if isinstance(stamp, int) else datetime.now(UTC)
    valid = isinstance(entity, str) and isinstance(recommendation, str)
    return ListRule(
        list_room=list_room,
        list_name=list_name,
        kind=kind,
        state_key=state_key,
        # A rule without an entity or a recommendation is no rule: treated as removed.
        entity=str(entity) if valid else "",
        recommendation=str(recommendation) if valid else "",
        reason=reason if isinstance(reason, str) else "",
        sender=str(source.get("sender", "")),
        ts=ts,
    )


def rule_state_key(entity: str) -> str:
    """The state key of our rule about ``entity`` (Mjolnir's ``rule:<entity>`` form)."""
    return f"rule:{entity}"


class PublishingExecutor:
    """Writes bans to the published policy list; hands every other action to ``inner``."""

    platform: Platform = Platform.MATRIX

    def __init__(self, inner: ActionExecutor, client: AsyncClient) -> None:
        self._inner = inner
        self._client = client

    async def execute(self, action: Action, space: Space, *, key: str = "") -> str:
        """Carry out ``action``: in a policy list (``list:<room>``) or a room."""
        if not space.id.startswith(LIST_SPACE_PREFIX):
            return await self._inner.execute(action, space, key=key)
        room = space.id.removeprefix(LIST_SPACE_PREFIX)
        if isinstance(action, Ban):
            user = action.target.id
            content = {"entity": user, "recommendation": "m.ban", "reason": action.reason}
            await self._call(
                f"publish the ban of {user} in {room}",
                self._client.room_put_state(room, USER_RULE, content, rule_state_key(user)),
            )
            return f"listed {user} as banned in {room}"
        if isinstance(action, Unban):
            user = action.target.id
            if not await self._listed(room, user):
                return f"{user} was not listed in {room}"
            await self._call(
                f"remove the ban of {user} from {room}",
                self._client.room_put_state(room, USER_RULE, {}, rule_state_key(user)),
            )
            return f"removed {user} from the ban list {room}"
        raise PermanentError(f"a policy list takes bans and unbans, not {type(action).__name__}")

    async def _listed(self, room: str, user: str) -> bool:
        try:
            answer = await self._call(
                f"read the rule about {user} in {room}",
                self._client.room_get_state_event(room, USER_RULE, rule_state_key(user)),
            )
        except PermanentError as exc:
            if "M_NOT_FOUND" in str(exc):
                return False
            raise
        return bool(getattr(answer, "content", None))

    async def _call(self, doing: str, request: Awaitable[Any]) -> Any:
        try:
            response = await request
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise TransientError(f"{doing}: homeserver unreachable ({type(exc).__name__})") from exc
        error = error_from_response(response, doing)
        if error is not None:
            raise error
        return response


if TYPE_CHECKING:
    _PORT: type[ActionExecutor] = PublishingExecutor
