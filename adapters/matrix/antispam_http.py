"""Synapse's spam-checker callbacks over HTTP: the transport of the DM-consent decision.

The Synapse module ``synapse-http-antispam`` (0.5.x) forwards Synapse's spam-checker
callbacks as JSON POSTs to ``{base_url}/{callback}``; this server answers them, asking the
core (:class:`domain.ports.InviteGate`, implemented by :mod:`bridge.antispam`) about invites:

- 200 with ``{}`` allows (the module parses the answer as JSON, so the body must be JSON);
- 403 with ``{"errcode": "M_FORBIDDEN", "error": "..."}`` refuses. The module takes the
  ``errcode`` out and hands the rest to Synapse as extra fields of its 403, so the inviter's
  client sees ``M_FORBIDDEN`` with our ``error`` text (it replaces Synapse's own message).

What reaches us, and how a DM invite is told apart
    The module sends ``user_may_invite`` as ``{inviter, invitee, room_id}`` and, because its
    method takes only the user id, ``user_may_create_room`` as ``{user_id}`` alone: the
    ``/createRoom`` body (``is_direct``, ``invite``) never arrives. Every client opens a DM with
    one ``/createRoom`` carrying ``invite`` (Element adds ``is_direct``), and Synapse runs
    ``user_may_create_room`` and then ``user_may_invite`` for each invitee inside that request.
    So an invite counts as a DM invite when its inviter asked to create a room less than
    ``direct_window_seconds`` (default 10 s) before and this is that new room (the first room
    the inviter invites to after the creation; further invites into it within the window count
    too). Invites into older rooms (``/invite``) are ordinary and untouched.
    Limits: a new private *group* room created with invitees is treated as a DM too (the
    creator can create it empty and invite afterwards); a member who creates an empty room,
    waits out the window and then invites someone is not stopped; server admins bypass the
    spam checker entirely; the memory is per process (lost on restart, at most one window).
    If a future module version sends the body (``{user_id, room_config}``), it is used:
    ``is_direct`` with an ``invite`` of someone who has not consented is refused at once.

Authentication
    The module sends ``Authorization: Bearer <secret>`` (its ``authorization`` or
    ``authorization_path`` option); the secret is ``MODBRIDGE_ANTISPAM__SECRET``. A request
    without it or with another one gets 401 (the module then refuses with M_UNAUTHORIZED, so a
    misconfigured secret shows at once); the secret is compared in constant time and never
    logged.

While modbridge is down (or cannot decide)
    The module's ``fail_open`` option decides, per callback. By default it fails CLOSED: with
    modbridge down, every invite and every room creation on the homeserver is refused with
    M_UNKNOWN "Failed to connect to antispam server". With ``fail_open: {user_may_invite: true,
    user_may_create_room: true}`` everything is allowed while modbridge is down (DM invites
    included). Recommended: fail open, and ``enabled_callbacks`` limited to these two (the
    module otherwise forwards logins, joins and every message too, all failing closed but
    ``check_event_for_spam``). A moderation outage should not stop a homeserver; refused DMs
    are a courtesy that reports and moderators back up. When the core cannot decide (storage
    error) this server answers 503 with a non-JSON body, which the module treats like an
    outage, so ``fail_open`` applies there too. A hung server holds the invite until the
    module's HTTP timeout (Synapse's SimpleHttpClient: 60 s).

homeserver.yaml::

    modules:
      - module: synapse_http_antispam.HTTPAntispam
        config:
          base_url: http://127.0.0.1:8787/antispam
          authorization_path: /etc/synapse/modbridge-antispam.secret
          enabled_callbacks: [user_may_invite, user_may_create_room]
          fail_open: {user_may_invite: true, user_may_create_room: true}
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.matrix.listener import BoundedListener, read_body
from domain.ports import InviteGate

log = logging.getLogger(__name__)

PREFIX = "/antispam"
# Callbacks the module may forward that modbridge has no opinion on: allowed, so that an
# admin who leaves ``enabled_callbacks`` out does not lock the homeserver.
NO_OPINION = frozenset(
    {
        "user_may_join_room", "accept_make_join", "user_may_send_3pid_invite",
        "user_may_create_room_alias", "user_may_publish_room", "check_username_for_spam",
        "check_login_for_spam", "check_event_for_spam", "federated_user_may_invite",
    }
)  # fmt: skip
_USER_ID = r"^@[^:\s]+:\S+$"


class DirectRooms:
    """Tells DM invites from ordinary ones: an invite into the room its inviter created less
    than ``window`` seconds before (see the module docstring for why and the limits).

    Every creation is counted: two ``/createRoom`` calls at once from one member make two new
    rooms, and the first invite into each uses up one creation (keeping only the latest
    creation time let the second DM invite through as an ordinary one).
    """

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        # user id -> when they asked to create a room, oldest first, one entry per creation
        self._creations: dict[str, list[float]] = {}
        self._rooms: dict[str, tuple[str, float]] = {}  # room id -> (creator, created at)

    def room_created(self, user_id: str) -> None:
        """``user_id`` is creating a room now."""
        self._prune()
        self._creations.setdefault(user_id, []).append(self._clock())

    def is_direct(self, inviter: str, room_id: str) -> bool:
        """Whether this invite goes into a room ``inviter`` has just created."""
        self._prune()
        known = self._rooms.get(room_id)
        if known is not None:
            return known[0] == inviter
        pending = self._creations.get(inviter)
        if not pending:
            return False
        created = pending.pop(0)
        if not pending:
            del self._creations[inviter]
        self._rooms[room_id] = (inviter, created)
        return True

    def _prune(self) -> None:
        oldest = self._clock() - self._window
        kept = {u: [t for t in times if t >= oldest] for u, times in self._creations.items()}
        self._creations = {u: times for u, times in kept.items() if times}
        self._rooms = {r: v for r, v in self._rooms.items() if v[1] >= oldest}


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


_B = TypeVar("_B", bound=_Body)


class InviteBody(_Body):
    """The module's ``user_may_invite`` request."""

    inviter: str = Field(pattern=_USER_ID)
    invitee: str = Field(pattern=_USER_ID)
    room_id: str = Field(pattern=r"^!\S+$")


class RoomConfig(BaseModel):
    """The parts of a /createRoom body that matter here."""

    model_config = ConfigDict(extra="ignore")

    is_direct: bool = False
    invite: list[Annotated[str, Field(pattern=_USER_ID)]] = []


class CreateRoomBody(_Body):
    """The module's ``user_may_create_room`` request (``room_config`` only if it sends it)."""

    user_id: str = Field(pattern=_USER_ID)
    room_config: RoomConfig | None = None


class PingBody(_Body):
    """The module's start-up ping."""

    id: str


class AntispamHttp:
    """Answers synapse-http-antispam's callbacks; ``start`` binds it, ``close`` stops it."""

    def __init__(
        self,
        gate: InviteGate,
        *,
        secret: str,
        direct_window: float,
        max_connections: int,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._gate = gate
        self._secret = f"Bearer {secret}".encode()
        self._direct = DirectRooms(direct_window, clock)
        self._max_connections = max_connections
        self._timeout = timeout
        self._listener: BoundedListener | None = None
        self._address: tuple[str, int] | None = None

    def app(self) -> web.Application:
        """The aiohttp application (tests serve it with aiohttp's test utilities)."""
        app = web.Application(middlewares=[self._guard])
        app.router.add_post(f"{PREFIX}/{{callback}}", self._callback)
        return app

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port``; return the port (OSError if it cannot).

        Slow and idle connections are closed after ``timeout`` seconds and at most
        ``max_connections`` are served at once (see :mod:`adapters.matrix.listener`)."""
        listener = BoundedListener(
            self.app(), max_connections=self._max_connections, timeout=self._timeout
        )
        self._address = await listener.start(host, port)
        self._listener = listener
        log.info("antispam callbacks listening on %s:%d%s", host, self._address[1], PREFIX)
        return self._address[1]

    @property
    def address(self) -> tuple[str, int] | None:
        """Where it listens (host, port), once started."""
        return self._address if self._listener is not None else None

    async def close(self) -> None:
        """Stop listening; closing twice is harmless."""
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Authenticate the homeserver, and never let an error become a 500 with a traceback."""
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, self._secret):
            why = "without the secret" if not given else "with a wrong secret"
            log.warning("antispam: refused a request %s from %s", why, request.remote)
            return _error(401, "M_UNAUTHORIZED", "the antispam secret is missing or wrong")
        try:
            return await handler(request)
        except web.HTTPException as exc:
            return _error(exc.status, "M_UNRECOGNIZED", exc.reason)
        except Exception:
            log.exception("antispam: could not decide %s", request.path)
            # Not JSON on purpose: the module then applies its fail_open setting, as if we were
            # down, instead of refusing with our errcode.
            return web.Response(status=503, text="modbridge could not decide")

    async def _callback(self, request: web.Request) -> web.Response:
        callback = request.match_info["callback"]
        if callback in NO_OPINION:
            return web.json_response({})
        handlers: Mapping[str, Callable[[Any], Awaitable[web.Response]]] = {
            "user_may_invite": self._may_invite,
            "user_may_create_room": self._may_create_room,
            "ping": self._ping,
        }
        handle = handlers.get(callback)
        if handle is None:
            return _error(404, "M_UNRECOGNIZED", f"unknown callback {callback!r}")
        raw = await read_body(request, self._timeout)
        if raw is None:  # a client that sends its body slowly holds a connection: not long
            return _error(408, "M_UNKNOWN", f"{callback}: the body came too slowly")
        try:
            data = json.loads(raw)
        except ValueError:
            return _error(400, "M_NOT_JSON", f"{callback}: the body is not JSON")
        return await handle(data)

    async def _ping(self, data: Any) -> web.Response:
        body = _parse(PingBody, data, "ping")
        if isinstance(body, web.Response):
            return body
        return web.json_response({"id": body.id, "status": "ok"})

    async def _may_invite(self, data: Any) -> web.Response:
        body = _parse(InviteBody, data, "user_may_invite")
        if isinstance(body, web.Response):
            return body
        direct = self._direct.is_direct(body.inviter, body.room_id)
        return await self._answer(body.inviter, body.invitee, body.room_id, direct)

    async def _may_create_room(self, data: Any) -> web.Response:
        body = _parse(CreateRoomBody, data, "user_may_create_room")
        if isinstance(body, web.Response):
            return body
        if body.room_config is None:
            self._direct.room_created(body.user_id)
            return web.json_response({})
        if not body.room_config.is_direct:
            return web.json_response({})
        for invitee in body.room_config.invite:
            answer = await self._answer(body.user_id, invitee, "", direct=True)
            if answer.status != 200:
                return answer
        self._direct.room_created(body.user_id)
        return web.json_response({})

    async def _answer(self, inviter: str, invitee: str, room_id: str, direct: bool) -> web.Response:
        refusal = await self._gate.may_invite(inviter, invitee, room_id, direct=direct)
        if refusal is None:
            return web.json_response({})
        return _error(403, "M_FORBIDDEN", refusal)


def _parse(model: type[_B], data: Any, callback: str) -> _B | web.Response:
    """Validate a request body, or the 400 answer that says what is wrong with it."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return _error(400, "M_BAD_JSON", f"{callback}: {problems}")


def _error(status: int, errcode: str, text: str) -> web.Response:
    return web.json_response({"errcode": errcode, "error": text}, status=status)
