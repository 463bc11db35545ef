"""Carrying out modbridge actions in Matrix rooms over a logged-in matrix-nio client.

Every response is checked at the nio boundary (:mod:`adapters.matrix.responses`): an error
becomes a :class:`TransientError` (retry later) or a :class:`PermanentError` (dead letter).
Permissions are checked up front and mutes written by :mod:`adapters.matrix.levels`.

Every message and redaction is sent with a transaction id derived from the action's
idempotency key: a retry the homeserver already applied (its answer was lost in an outage)
returns the first event instead of sending a second one.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from nio import AsyncClient, RoomPreset

from adapters.matrix.levels import RoomLevels
from adapters.matrix.powers import PowerAction, RoomPowers
from adapters.matrix.purge import purge_room
from adapters.matrix.responses import call
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
from domain.ports import ActionExecutor, PermanentError, request_token


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
        self._direct_rooms = direct_rooms
        self._powers = RoomLevels(client, levels=levels, known_powers=known_powers)

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
                return await self._powers.mute(room, action.target.id)
            case Unmute():
                return await self._powers.unmute(room, action.target.id)
            case Remove():
                return await self._remove(room, action.target.id, action.reason)
            case Ban():
                done = await self._ban(room, action.target.id, action.reason)
                if action.purge is None:
                    return done
                since = datetime.now(UTC) - action.purge
                removed = await purge_room(
                    call, self._client, room, action.target.id, since, action.reason
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

    async def _membership(self, room: str, user_id: str) -> str | None:
        """The member's current membership in ``room``; None when they never had one."""
        try:
            event = await call(
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
        await self._powers.check(room, PowerAction.REDACT, None)
        await call(
            f"redact {event_id} in {room}",
            self._client.room_redact(room, event_id, reason=action.reason or None, tx_id=txn),
        )
        return f"redacted {event_id} in {room}"

    async def _remove(self, room: str, target: str, reason: str) -> str:
        await self._powers.check(room, PowerAction.KICK, target)
        # A retry after a kick that went through must not end as a dead letter.
        if await self._membership(room, target) not in ("join", "invite", "knock"):
            return f"{target} was not in {room}"
        await call(
            f"kick {target} from {room}", self._client.room_kick(room, target, reason=reason)
        )
        return f"kicked {target} from {room}"

    async def _ban(self, room: str, target: str, reason: str) -> str:
        await self._powers.check(room, PowerAction.BAN, target)
        # A second case (two moderators at once) or a retry after a crash must not ban
        # again: with another reason, the homeserver would add a second ban event.
        if await self._membership(room, target) == "ban":
            return f"{target} was already banned from {room}"
        await call(f"ban {target} from {room}", self._client.room_ban(room, target, reason=reason))
        return f"banned {target} from {room}"

    async def _unban(self, room: str, target: str, reason: str) -> str:
        await self._powers.check(room, PowerAction.UNBAN, target)
        if await self._membership(room, target) != "ban":
            return f"{target} was not banned from {room}"
        # nio's room_unban takes no reason; the case log keeps it.
        del reason
        await call(f"unban {target} in {room}", self._client.room_unban(room, target))
        return f"unbanned {target} in {room}"

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
        await call(
            f"send the warning to {target}",
            self._client.room_send(room, "m.room.message", content, tx_id=txn),
        )
        return f"warned {target} in direct room {room}"

    async def _tell(self, action: Tell, txn: str | None) -> str:
        """A private message in the bot's direct room with the member."""
        target = action.target.id
        room = await self._direct_room(target)
        await call(
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
        created = await call(
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
        await call(
            f"notify the moderators in {mod_room}",
            self._client.room_send(mod_room, "m.room.message", content, tx_id=txn),
        )
        return f"notified the moderators in {mod_room}"


if TYPE_CHECKING:
    # mypy proves here that the executor satisfies the port it is written for.
    _PORT: type[ActionExecutor] = MatrixExecutor
