"""The simulated gateway: the websocket a bot keeps open to receive events.

One :class:`Session` per IDENTIFY. Every event sent to a session gets the next sequence number
and is kept in the session's log, whether or not a socket is attached at that moment: a client
that RESUMEs with the last sequence it saw gets everything after it, as on Discord. Frames are
sent as text, which discord.py reads even though it asks for ``compress=zlib-stream`` (it only
decompresses binary frames). Which events a session receives, by its intents: intents.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Final

from aiohttp import WSMsgType, web

from . import permissions as perms
from .entities import JSON, PRIVILEGED_INTENTS, Channel, Guild, User
from .intents import PERMISSION_OF_EVENT, redact, wants
from .members import initial_members, large_threshold, member_chunks
from .payloads import guild_create_payload, me_payload
from .state import World

HEARTBEAT_INTERVAL_MS: Final = 41_250
#: How many events a session keeps for RESUME; older ones force a fresh IDENTIFY.
LOG_LIMIT: Final = 10_000


@dataclass(frozen=True, slots=True)
class _Close:
    """Queued instruction: close the socket with this code."""

    code: int


class _Connection:
    """One websocket; a writer task drains the queue so frames leave in the order queued."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.session: Session | None = None
        self._queue: asyncio.Queue[JSON | _Close | None] = asyncio.Queue()

    def send(self, frame: JSON) -> None:
        self._queue.put_nowait(frame)

    def close(self, code: int) -> None:
        self._queue.put_nowait(_Close(code))

    def finish(self) -> None:
        self._queue.put_nowait(None)

    async def write_loop(self) -> None:
        while (item := await self._queue.get()) is not None:
            if isinstance(item, _Close):
                await self.ws.close(code=item.code)
                return
            if self.ws.closed:
                return
            await self.ws.send_str(json.dumps(item))


@dataclass(slots=True)
class Session:
    """A gateway session of one bot: its sequence, its event log, its current socket."""

    id: str
    bot: User
    intents: int
    large_threshold: int = 50
    seq: int = 0
    log: list[JSON] = field(default_factory=list)
    connection: _Connection | None = None

    def emit(self, event: str, data: JSON) -> None:
        """Number the event, keep it for RESUME, and send it if a socket is attached."""
        self.seq += 1
        frame: JSON = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.log.append(frame)
        if len(self.log) > LOG_LIMIT:
            del self.log[: len(self.log) - LOG_LIMIT]
        if self.connection is not None:
            self.connection.send(frame)


class Gateway:
    """Accepts bot websockets and fans events out to the sessions that should see them."""

    def __init__(self, world: World) -> None:
        self._world = world
        self.sessions: dict[str, Session] = {}
        #: The public ``ws://`` URL of this gateway, set when the server has a port.
        self.url = ""
        #: While True (:meth:`go_down`), the websocket upgrade is answered 503.
        self.down = False

    # -- sending events ---------------------------------------------------------------------

    def dispatch(
        self,
        event: str,
        data: JSON,
        *,
        guild_id: int | None = None,
        user_ids: tuple[int, ...] = (),
        channel: Channel | None = None,
    ) -> None:
        """Send an event to the bots that are members of ``guild_id`` or among ``user_ids``;
        with a guild ``channel``, only to those whose permissions let them view it."""
        for session in list(self.sessions.values()):
            if not self._reaches(session.bot.id, event, guild_id, user_ids, channel):
                continue
            if wants(session.intents, event, data):
                session.emit(event, redact(session.intents, session.bot.id, event, data))

    def _reaches(
        self,
        bot_id: int,
        event: str,
        guild_id: int | None,
        user_ids: tuple[int, ...],
        channel: Channel | None,
    ) -> bool:
        """Whether Discord sends this event to the bot: a member of the guild (or named),
        holding the permission the event needs and able to view its channel."""
        if bot_id in user_ids:
            return True
        if guild_id is None:
            return False
        guild = self._world.guilds[guild_id]
        if bot_id not in guild.members:
            return False
        any_of = PERMISSION_OF_EVENT.get(event)
        if any_of is not None and not self._world.permissions_of(guild, bot_id) & any_of:
            return False
        return channel is None or bool(
            self._world.channel_permissions(channel, bot_id) & perms.VIEW_CHANNEL
        )

    def dispatch_to(self, bot: User, event: str, data: JSON) -> None:
        """Send an event to every session of one bot (interactions go to their application)."""
        for session in list(self.sessions.values()):
            if session.bot.id == bot.id:
                session.emit(event, data)

    def guild_joined(self, bot: User, guild: Guild) -> None:
        """Tell a bot that joined a guild about it, as Discord does with GUILD_CREATE."""
        for session in self._sessions_of(bot):
            data = self._guild_create(session, guild)
            # Without "unavailable" the client treats it as a join (on_guild_join); with
            # unavailable=false, as an outage that ended (on_guild_available).
            del data["unavailable"]
            session.emit("GUILD_CREATE", data)

    def _guild_create(self, session: Session, guild: Guild) -> JSON:
        members, large = initial_members(
            guild,
            session.bot.id,
            intents=session.intents,
            large_threshold=session.large_threshold,
        )
        return guild_create_payload(self._world, guild, members=members, large=large)

    # -- test hooks -------------------------------------------------------------------------

    def request_reconnect(self, bot: User) -> None:
        """Send op 7 RECONNECT to the bot's sockets; events until its RESUME are kept."""
        for session in self._sessions_of(bot):
            connection = session.connection
            if connection is not None:
                connection.send({"op": 7, "d": None})
                self._detach(session)
                connection.finish()

    def drop_connections(self, bot: User, code: int = 4000) -> None:
        """Close the bot's sockets without warning (a network failure); it should RESUME."""
        for session in self._sessions_of(bot):
            connection = session.connection
            if connection is not None:
                self._detach(session)
                connection.close(code)

    def close_all(self) -> None:
        """Close every socket with 1001 (going away), as when the server shuts down."""
        for session in list(self.sessions.values()):
            connection = session.connection
            if connection is not None:
                self._detach(session)
                connection.close(1001)

    def go_down(self) -> None:
        """An outage: every socket is closed with 4000 (resumable: sessions are kept, so
        RESUME replays what was sent meanwhile) and the upgrade is answered 503 until
        :meth:`come_back`. REST keeps answering (Discord's gateway and API fail apart)."""
        self.down = True
        for session in list(self.sessions.values()):
            connection = session.connection
            if connection is not None:
                self._detach(session)
                connection.close(4000)

    def come_back(self) -> None:
        """End the outage of :meth:`go_down`: connections are accepted again."""
        self.down = False

    def is_connected(self, bot: User) -> bool:
        """Whether the bot has a socket attached to a live session."""
        return any(s.connection is not None for s in self._sessions_of(bot))

    def _sessions_of(self, bot: User) -> list[Session]:
        return [s for s in self.sessions.values() if s.bot.id == bot.id]

    @staticmethod
    def _detach(session: Session) -> None:
        if session.connection is not None:
            session.connection.session = None
            session.connection = None

    # -- the websocket ----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """``GET /gateway`` upgraded to a websocket: HELLO, then the client's opcodes."""
        if self.down:  # as a load balancer answers while Discord's gateway is out
            raise web.HTTPServiceUnavailable(text="gateway unavailable")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        connection = _Connection(ws)
        writer = asyncio.create_task(connection.write_loop())
        connection.send({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    break
                try:
                    frame = json.loads(message.data)
                except ValueError:
                    connection.close(4002)  # Decode error, as Discord closes
                    break
                if isinstance(frame, dict):
                    self._on_frame(connection, frame)
        finally:
            session = connection.session
            if session is not None:
                self._detach(session)
                # A clean close (1000/1001) ends the session on Discord; anything else keeps
                # it open for a RESUME.
                if ws.close_code in (1000, 1001):
                    self.sessions.pop(session.id, None)
            connection.finish()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await asyncio.wait_for(writer, timeout=1)
        return ws

    def _on_frame(self, connection: _Connection, frame: JSON) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == 1:
            connection.send({"op": 11})
        elif op == 2 and isinstance(data, dict):
            self._identify(connection, data)
        elif op == 6 and isinstance(data, dict):
            self._resume(connection, data)
        elif op == 8 and isinstance(data, dict) and connection.session is not None:
            self._request_members(connection.session, data)
        # Presence (3) and voice (4) updates change nothing a moderation bot can observe.

    def _identify(self, connection: _Connection, data: JSON) -> None:
        bot = self._world.user_by_token(str(data.get("token", "")))
        if bot is None:
            connection.close(4004)  # Authentication failed
            return
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~bot.privileged_intents:
            connection.close(4014)  # Disallowed intent(s): not enabled for the application
            return
        session = Session(
            id=secrets.token_hex(16),
            bot=bot,
            intents=intents,
            large_threshold=large_threshold(data),
        )
        self.sessions[session.id] = session
        self._attach(connection, session)
        guilds = self._world.guilds_of(bot.id)
        ready: JSON = {
            "v": 10,
            "user": me_payload(bot),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "resume_gateway_url": self.url,
            "session_type": "normal",
            "private_channels": [],
            "relationships": [],
            "application": {"id": str(bot.application_id), "flags": 0},
            "user_settings": {},
            "geo_ordered_rtc_regions": [],
        }
        if "shard" in data:
            # One shard holds every guild here; a sharded client expects its ids echoed.
            ready["shard"] = data["shard"]
        session.emit("READY", ready)
        for guild in guilds:
            session.emit("GUILD_CREATE", self._guild_create(session, guild))

    def _resume(self, connection: _Connection, data: JSON) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq")
        if (
            session is None
            or session.bot.token != data.get("token")
            or not isinstance(seq, int)
            or (session.log and session.log[0]["s"] > seq + 1)
        ):
            connection.send({"op": 9, "d": False})  # invalid session: IDENTIFY again
            return
        self._detach(session)
        self._attach(connection, session)
        for frame in session.log:
            if frame["s"] > seq:
                connection.send(frame)
        session.emit("RESUMED", {})

    def _attach(self, connection: _Connection, session: Session) -> None:
        connection.session = session
        session.connection = connection

    def _request_members(self, session: Session, data: JSON) -> None:
        guild = self._world.guilds.get(int(data.get("guild_id", 0)))
        if guild is None or session.bot.id not in guild.members:
            return
        for chunk in member_chunks(self._world, guild, data, intents=session.intents):
            session.emit("GUILD_MEMBERS_CHUNK", chunk)
