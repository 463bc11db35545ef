"""Carrying out modbridge actions in Matrix rooms over a logged-in matrix-nio client.

matrix-nio returns errors as values and, with its default config, retries 429s and timeouts
forever. This module is the boundary where both stop: every response is checked, and every
error becomes a :class:`TransientError` (retry later) or a :class:`PermanentError` (dead
letter) with a message a moderator can act on. Permissions are checked up front with
:mod:`adapters.matrix.powers`, because nio does not understand room version 12 creators:
from the power levels the sync already knows when there are any (no round trip on the hot
path), and read afresh only when they are unknown, when they say no (they may be a moment
stale), or when the bot is about to rewrite them (mute, unmute).

Every message and redaction is sent with a transaction id derived from the action's
idempotency key: a retry the homeserver already applied (its answer was lost in an outage)
returns the first event instead of sending a second one.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from nio import AsyncClient, AsyncClientConfig, ErrorResponse, RoomPreset

from adapters.matrix.powers import (
    POWER_LEVELS_EVENT,
    PowerAction,
    RoomPowers,
    default_level,
    denial,
    has_creator_power,
    is_muted,
    mute_content,
    room_powers,
    unmute_content,
    user_level,
)
from adapters.matrix.purge import purge_room
from adapters.matrix.stores import DirectRoomStore, PreviousLevelStore
from domain.model import (
    Action,
    Ban,
    DeleteMessage,
    Mute,
    NotifyModerators,
    Platform,
    Remove,
    Space,
    Tell,
    Unban,
    Unmute,
    Warn,
)
from domain.ports import ActionExecutor, PermanentError, TransientError, request_token

# Errors a token problem gives: the action is still right, the bot needs a new login, so the
# worker should keep it rather than dead-letter it.
_TOKEN_ERRORS = frozenset({"M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"})


def client_config(*, request_timeout: float = 10.0) -> AsyncClientConfig:
    """The nio config an executor's client must use: nio itself never retries.

    nio's defaults (``max_limit_exceeded=None``, ``max_timeouts=None``) retry 429s and
    connection errors forever inside one call, which stalls the action worker while the
    homeserver is down. With 0 the first 429 comes back as a value (with retry_after_ms) and
    the first connection error is raised, and the worker's own backoff decides.
    """
    return AsyncClientConfig(
        max_limit_exceeded=0,
        max_timeouts=0,
        request_timeout=request_timeout,
        store_sync_tokens=False,
        encryption_enabled=False,
    )


def error_from_response(response: Any, doing: str) -> TransientError | PermanentError | None:
    """The exception a nio response stands for, or None when it is a success.

    Pure: classifies on the Matrix errcode and the HTTP status nio keeps on the response.
    """
    transport = getattr(response, "transport_response", None)
    status: int | None = getattr(transport, "status", None)
    failed = isinstance(response, ErrorResponse) or (status is not None and status >= 400)
    if not failed:
        return None
    errcode = getattr(response, "status_code", None)
    message = getattr(response, "message", "") or ""
    retry_ms = getattr(response, "retry_after_ms", None)
    body = getattr(response, "content", None)
    if not isinstance(response, ErrorResponse) and isinstance(body, dict):
        # nio parses some error bodies as successes (a 403 on a state read becomes a
        # RoomGetStateEventResponse whose content is the error): read the error from there.
        errcode, message = body.get("errcode"), str(body.get("error", ""))
        retry_ms = body.get("retry_after_ms")
    message = message or "no error message"
    where = f"{doing}: {errcode or 'error'} {message}" + (f" (HTTP {status})" if status else "")
    if errcode == "M_LIMIT_EXCEEDED" or status == 429:
        retry_after = retry_ms / 1000 if isinstance(retry_ms, int | float) and retry_ms else None
        return TransientError(f"{where}; rate limited", retry_after=retry_after)
    if status is not None and status >= 500:
        return TransientError(f"{where}; homeserver error")
    if errcode in _TOKEN_ERRORS:
        return TransientError(f"{where}; the bot's access token was refused, log it in again")
    return PermanentError(where)


class MatrixExecutor:
    """Carries out actions in Matrix rooms: the ActionExecutor of :mod:`domain.ports`.

    The client must be logged in and made with :func:`client_config` (give the executor its
    own client; a syncing client wants nio's retries). ``mod_room_id`` is where
    NotifyModerators goes. ``levels`` and ``direct_rooms`` keep what must survive a restart.
    ``known_powers`` gives a room's powers as the sync last saw them (None: unknown).
    """

    platform: Platform = Platform.MATRIX

    def __init__(
        self,
        client: AsyncClient,
        *,
        mod_room_id: str,
        levels: PreviousLevelStore,
        direct_rooms: DirectRoomStore,
        known_powers: Callable[[str], RoomPowers | None] | None = None,
    ) -> None:
        config = client.config
        if config.max_limit_exceeded is None or config.max_timeouts is None:
            raise ValueError("the executor's nio client would retry forever: use client_config()")
        self._client = client
        self._mod_room_id = mod_room_id
        self._levels = levels
        self._direct_rooms = direct_rooms
        self._known = known_powers
        # The create event never changes: fetch it once per room.
        self._creates: dict[str, tuple[dict[str, Any], str | None]] = {}
        # Mutes rewrite the whole power levels event: two at once in one room (a raid)
        # would each write back the other's target unmuted.
        self._writing: dict[str, asyncio.Lock] = {}

    @property
    def _me(self) -> str:
        user_id: str = self._client.user_id
        return user_id

    async def execute(self, action: Action, space: Space, *, key: str = "") -> str:
        """Carry out ``action`` in the Matrix room ``space``; return what was done.

        ``key`` (the action's idempotency key) gives the transaction id of what is sent.

        Raises TransientError (rate limited, homeserver down or failing) or PermanentError
        (not enough power, unknown room or user, anything else the homeserver refuses).
        """
        if space.platform is not Platform.MATRIX:
            raise PermanentError(f"{space.platform} space {space.id} given to the Matrix executor")
        room = space.id
        txn = request_token(key)
        match action:
            case DeleteMessage():
                return await self._delete(action, txn)
            case Warn():
                return await self._warn(action, space, txn)
            case Mute():
                return await self._mute(room, action.target.id)
            case Unmute():
                return await self._unmute(room, action.target.id)
            case Remove():
                return await self._remove(room, action.target.id, action.reason)
            case Ban():
                done = await self._ban(room, action.target.id, action.reason)
                if action.purge is None:
                    return done
                since = datetime.now(UTC) - action.purge
                removed = await purge_room(
                    self._call, self._client, room, action.target.id, since, action.reason
                )
                return f"{done}; {removed} message{'' if removed == 1 else 's'} removed"
            case Unban():
                return await self._unban(room, action.target.id, action.reason)
            case NotifyModerators():
                # The planner names the mod room as it is now (it may have been upgraded).
                return await self._notify(action.text, room or self._mod_room_id, txn)
            case Tell():
                return await self._tell(action, txn)
        raise PermanentError(f"the Matrix executor cannot carry out {type(action).__name__}")

    # -- the nio boundary --------------------------------------------------------------------

    async def _call(self, doing: str, request: Awaitable[Any]) -> Any:
        """Await one nio request and turn its failures into our two exceptions."""
        try:
            response = await request
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # With client_config() nio re-raises the first connection error or timeout.
            raise TransientError(
                f"{doing}: homeserver unreachable ({type(exc).__name__}: {exc})"
            ) from exc
        error = error_from_response(response, doing)
        if error is not None:
            raise error
        return response

    async def _powers(self, room: str) -> RoomPowers:
        """Read the room's create event (cached) and current power levels."""
        if room not in self._creates:
            create = await self._call(
                f"read the create event of {room}",
                self._client.room_get_state_event(room, "m.room.create"),
            )
            content: dict[str, Any] = create.content
            sender: str | None = None
            version = str(content.get("room_version", "1"))
            if has_creator_power(version):
                # Since v12 the room id is the create event's id with another sigil, and the
                # creator is only known as that event's sender.
                event = await self._call(
                    f"read the create event of {room}",
                    self._client.room_get_event(room, "$" + room.removeprefix("!")),
                )
                sender = event.event.sender
            self._creates[room] = (content, sender)
        content, sender = self._creates[room]
        levels = await self._call(
            f"read the power levels of {room}",
            self._client.room_get_state_event(room, POWER_LEVELS_EVENT),
        )
        return room_powers(
            create_content=content, create_sender=sender, power_levels=levels.content
        )

    async def _check(self, room: str, action: PowerAction, target: str | None) -> RoomPowers:
        known = self._known(room) if self._known is not None else None
        if known is not None and denial(known, action, self._me, target) is None:
            return known
        # Unknown, or a refusal that may be a moment stale (the bot was just promoted).
        powers = await self._powers(room)
        reason = denial(powers, action, self._me, target)
        if reason:
            raise PermanentError(f"cannot {action.value} in {room}: {reason}")
        return powers

    async def _membership(self, room: str, user_id: str) -> str | None:
        """The member's current membership in ``room``; None when they never had one."""
        try:
            event = await self._call(
                f"read the membership of {user_id} in {room}",
                self._client.room_get_state_event(room, "m.room.member", user_id),
            )
        except PermanentError as exc:
            if "M_NOT_FOUND" in str(exc):
                return None
            raise
        membership = event.content.get("membership")
        return membership if isinstance(membership, str) else None

    # -- the actions ---------------------------------------------------------------------------

    async def _delete(self, action: DeleteMessage, txn: str | None) -> str:
        room, event_id = action.channel_id, action.message_id
        await self._check(room, PowerAction.REDACT, None)
        await self._call(
            f"redact {event_id} in {room}",
            self._client.room_redact(room, event_id, reason=action.reason or None, tx_id=txn),
        )
        return f"redacted {event_id} in {room}"

    async def _remove(self, room: str, target: str, reason: str) -> str:
        await self._check(room, PowerAction.KICK, target)
        # A retry after a kick that went through must not end as a dead letter.
        if await self._membership(room, target) not in ("join", "invite", "knock"):
            return f"{target} was not in {room}"
        await self._call(
            f"kick {target} from {room}", self._client.room_kick(room, target, reason=reason)
        )
        return f"kicked {target} from {room}"

    async def _ban(self, room: str, target: str, reason: str) -> str:
        await self._check(room, PowerAction.BAN, target)
        # A second case (two moderators at once) or a retry after a crash must not ban
        # again: with another reason, the homeserver would add a second ban event.
        if await self._membership(room, target) == "ban":
            return f"{target} was already banned from {room}"
        await self._call(
            f"ban {target} from {room}", self._client.room_ban(room, target, reason=reason)
        )
        return f"banned {target} from {room}"

    async def _unban(self, room: str, target: str, reason: str) -> str:
        await self._check(room, PowerAction.UNBAN, target)
        if await self._membership(room, target) != "ban":
            return f"{target} was not banned from {room}"
        # nio's room_unban takes no reason; the case log keeps it.
        del reason
        await self._call(f"unban {target} in {room}", self._client.room_unban(room, target))
        return f"unbanned {target} in {room}"

    def _write_lock(self, room: str) -> asyncio.Lock:
        return self._writing.setdefault(room, asyncio.Lock())

    async def _mute(self, room: str, target: str) -> str:
        async with self._write_lock(room):
            return await self._mute_now(room, target)

    async def _unmute(self, room: str, target: str) -> str:
        async with self._write_lock(room):
            return await self._unmute_now(room, target)

    async def _mute_now(self, room: str, target: str) -> str:
        powers = await self._powers(room)
        if is_muted(powers, target):
            # Already muted (a retry, or by hand): keep the remembered level as it is.
            return f"{target} was already muted in {room}"
        try:
            content, previous = mute_content(powers, self._me, target)
        except ValueError as exc:
            raise PermanentError(f"cannot mute {target} in {room}: {exc}") from exc
        # Remember first: if the write below succeeds and we crash, unmute still knows.
        await self._levels.set_previous_level(room, target, previous)
        await self._put_power_levels(room, content, f"mute {target}")
        return f"muted {target} in {room} (level {previous} -> {content['users'][target]})"

    async def _unmute_now(self, room: str, target: str) -> str:
        powers = await self._powers(room)
        if not is_muted(powers, target):
            # Never lower or reset a member who is not muted (it could demote a moderator).
            await self._levels.forget_previous_level(room, target)
            return f"{target} was not muted in {room}"
        previous = await self._levels.get_previous_level(room, target)
        if previous is None and user_level(powers, target) > default_level(powers):
            # Nothing remembered, and falling back to users_default would lower them: a room
            # where only some members may write (announcements), not a mute of ours.
            return (
                f"{target} is below the send level of {room} by the room's own rules, not by "
                "a mute: already as it should be"
            )
        try:
            content = unmute_content(powers, self._me, target, previous)
        except ValueError as exc:
            raise PermanentError(f"cannot unmute {target} in {room}: {exc}") from exc
        await self._put_power_levels(room, content, f"unmute {target}")
        await self._levels.forget_previous_level(room, target)
        restored = "users_default" if previous is None else str(previous)
        before = user_level(powers, target)
        return f"unmuted {target} in {room} (level {int(before)} -> {restored})"

    async def _put_power_levels(self, room: str, content: dict[str, Any], doing: str) -> None:
        await self._call(
            f"{doing}: write the power levels of {room}",
            self._client.room_put_state(room, POWER_LEVELS_EVENT, content),
        )

    async def _warn(self, action: Warn, space: Space, txn: str | None) -> str:
        target = action.target.id
        room = await self._direct_room(target)
        where = space.name or space.id
        body = f"A warning from the moderators of {where}: {action.reason}"
        formatted = f"<p>A warning from the moderators of {html.escape(where)}: "
        formatted += f"{html.escape(action.reason)}</p>"
        if action.clause:
            body += "\n\n" + "\n".join(f"> {line}" for line in action.clause.splitlines())
            formatted += f"<blockquote>{html.escape(action.clause)}</blockquote>"
        content = {
            # m.text, not m.notice: default push rules silence notices, and the member
            # should be told.
            "msgtype": "m.text",
            "body": body,
            "format": "org.matrix.custom.html",
            "formatted_body": formatted,
        }
        await self._call(
            f"send the warning to {target}",
            self._client.room_send(room, "m.room.message", content, tx_id=txn),
        )
        return f"warned {target} in direct room {room}"

    async def _tell(self, action: Tell, txn: str | None) -> str:
        """A private message in the bot's direct room with the member."""
        target = action.target.id
        room = await self._direct_room(target)
        await self._call(
            f"send a private message to {target}",
            self._client.room_send(
                room, "m.room.message", {"msgtype": "m.text", "body": action.text}, tx_id=txn
            ),
        )
        return f"told {target} in direct room {room}"

    async def _direct_room(self, target: str) -> str:
        """The direct room with ``target``: the remembered one while they are in it, or new."""
        room = await self._direct_rooms.get_direct_room(target)
        if room is not None:
            try:
                membership = await self._membership(room, target)
            except PermanentError:
                membership = None  # the bot left it or it is gone: make a new one
            if membership in ("join", "invite"):
                return room
        created = await self._call(
            f"create a direct room with {target}",
            self._client.room_create(
                is_direct=True,
                invite=[target],
                preset=RoomPreset.trusted_private_chat,
            ),
        )
        room_id: str = created.room_id
        await self._direct_rooms.set_direct_room(target, room_id)
        return room_id

    async def _notify(self, text: str, mod_room: str, txn: str | None) -> str:
        content = {"msgtype": "m.notice", "body": text}
        await self._call(
            f"notify the moderators in {mod_room}",
            self._client.room_send(mod_room, "m.room.message", content, tx_id=txn),
        )
        return f"notified the moderators in {mod_room}"


if TYPE_CHECKING:
    # mypy proves here that the executor satisfies the port it is written for.
    _PORT: type[ActionExecutor] = MatrixExecutor
