"""The Matrix ecosystem around the protected rooms: policy lists and room upgrades.

The connection hands every synced state and timeline event of a joined room to
:meth:`Ecosystem.take`, after its own routing. Here:

- the rooms of the subscribed policy lists (``[matrix] policy_lists``, aliases resolved) and
  of the published list are joined, and each rule event of a subscribed list goes to the
  core as a :class:`~domain.model.ListRule`;
- an ``m.room.tombstone`` in a protected room, a space or the mod room is followed: the
  bot joins the replacement, the room book treats it as the old room was from then on, the
  mapping is kept (so the configured id keeps working across restarts), and the core is
  told so that it carries the mutes and bans in force over.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from nio import AsyncClient

from adapters.matrix.policy_lists import list_rule_from_event
from adapters.matrix.rooms import RoomBook, RoomKind, is_alias
from domain.model import Account, Platform
from domain.ports import EcosystemInbound, KeyValueStore, PermanentError

logger = logging.getLogger(__name__)

KEY_UPGRADES = "matrix.upgrades"
TOMBSTONE = "m.room.tombstone"

Call = Callable[[str, Awaitable[Any]], Awaitable[Any]]


class Ecosystem:
    """Policy-list rooms and room upgrades for one Matrix connection (module docstring)."""

    def __init__(
        self,
        *,
        client: AsyncClient,
        call: Call,
        book: RoomBook,
        state: KeyValueStore,
        handlers: EcosystemInbound | None,
        policy_lists: Sequence[str] = (),
        publish_list: str | None = None,
    ) -> None:
        self._client = client
        self._call = call
        self._book = book
        self._state = state
        self._handlers = handlers
        self._list_refs = tuple(policy_lists)
        self._publish_ref = publish_list
        self._lists: dict[str, str] = {}  # list room id -> as configured
        self._resolved: dict[str, str] = {}  # configured ref -> room id
        self._joined: set[str] = set()
        self._warned: set[str] = set()

    @property
    def publish_list_id(self) -> str | None:
        """The room id of the published policy list, once resolved."""
        return self._resolved.get(self._publish_ref) if self._publish_ref else None

    async def restore(self) -> None:
        """Follow again the upgrades followed before a restart."""
        for old, new in json.loads(await self._state.get(KEY_UPGRADES) or "{}").items():
            self._book.follow(old, new)

    async def reconcile(self) -> None:
        """Resolve the lists' aliases and join the list rooms not joined yet."""
        refs = [*self._list_refs, *([self._publish_ref] if self._publish_ref else [])]
        for ref in refs:
            if ref not in self._resolved:
                room = await self._resolve(ref)
                if room is None:
                    continue
                self._resolved[ref] = room
                if ref in self._list_refs:
                    self._lists[room] = ref
            room = self._resolved[ref]
            if room not in self._joined:
                try:
                    await self._call(f"join the policy list {ref}", self._client.join(room))
                except PermanentError as exc:
                    self._warn_once(ref, f"cannot join the policy list {ref}: {exc}")
                    continue
                self._joined.add(room)
                logger.info("joined the policy list %s", ref)

    def members(self) -> list[Account]:
        """The Matrix accounts joined to (or invited into) a protected room."""
        me = self._client.user_id
        found: dict[str, Account] = {}
        for room_id in self._book.protected:
            room = self._client.rooms.get(room_id)
            for user_id in room.users if room else ():
                if user_id != me:
                    found.setdefault(user_id, Account(platform=Platform.MATRIX, id=user_id))
        return list(found.values())

    async def take(self, room_id: str, source: Mapping[str, Any]) -> None:
        """One synced event of a joined room (state or timeline, oldest first)."""
        if self._handlers is None or "state_key" not in source:
            return
        try:
            if room_id in self._lists:
                rule = list_rule_from_event(room_id, self._lists[room_id], source)
                if rule is not None:
                    await self._handlers.on_list_rule(rule)
            elif source.get("type") == TOMBSTONE and source.get("state_key") == "":
                await self._upgraded(room_id, source)
        except Exception as exc:
            # A failing rule must not stop the sync (it comes again with the next start).
            logger.error(
                "handling %s in %s failed: %s", source.get("type"), room_id, type(exc).__name__
            )

    async def _upgraded(self, old: str, source: Mapping[str, Any]) -> None:
        content = source.get("content")
        new = content.get("replacement_room") if isinstance(content, dict) else None
        if not isinstance(new, str) or not new or self._book.current(old) != old:
            return  # no replacement named, or followed already
        if self._book.kind(old) not in (RoomKind.PROTECTED, RoomKind.MOD):
            return
        try:
            await self._call(f"join {new}, the upgrade of {old}", self._client.join(new))
        except PermanentError as exc:
            self._warn_once(new, f"cannot join {new}, the upgrade of {old}: {exc}")
            return
        self._book.follow(old, new)
        await self._state.set(KEY_UPGRADES, json.dumps(self._book.upgrades, sort_keys=True))
        logger.info("room %s was upgraded to %s: following it", old, new)
        if self._handlers is not None:
            await self._handlers.on_room_upgraded(old, new)

    async def _resolve(self, ref: str) -> str | None:
        if not is_alias(ref):
            return ref
        try:
            answer = await self._call(f"resolve {ref}", self._client.room_resolve_alias(ref))
        except PermanentError as exc:
            self._warn_once(ref, f"cannot resolve the policy list {ref}: {exc}")
            return None
        room_id: str = answer.room_id
        return room_id

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning("%s", text)
