"""The aiohttp application: routes, authentication, recording, faults, rate-limit headers."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from .gateway import Gateway
from .interactions import InteractionRegistry
from .ratelimits import RateLimits, Verdict
from .recorder import Fault, Faults, RecordedRequest, RequestLog
from .responses import ApiError, invalid_form, json_answer
from .rest_base import API_PREFIX, authenticated_bot
from .rest_guild import GuildRoutes
from .rest_interactions import InteractionRoutes
from .rest_messages import MessageRoutes
from .rest_safety import SafetyRoutes
from .state import World

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Characters of X-Audit-Log-Reason, decoded.
MAX_AUDIT_REASON: Final = 512
#: Routes authenticated by the interaction token in the path instead of a bot token.
_TOKEN_ROUTES: Final = ("/interactions/", "/webhooks/")


def build_app(
    world: World,
    gateway: Gateway,
    registry: InteractionRegistry,
    log: RequestLog,
    faults: Faults,
    limits: RateLimits,
) -> web.Application:
    """The simulator's web application: REST under ``/api/v10``, the gateway at ``/gateway``."""

    async def answer(request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        token_route = record.route.startswith(_TOKEN_ROUTES)
        bot = None if token_route else authenticated_bot(world, request)
        if not token_route and bot is None:
            raise ApiError(401, 0, "401: Unauthorized")
        verdict = limits.check(record, dict(request.match_info), None if bot is None else bot.id)
        if verdict.refused:
            return _limited(verdict)
        try:
            _check_audit_reason(record)
            response = await request.match_info.handler(request)
        except ApiError as error:
            response = json_answer(error.body(), error.status)
        response.headers.update(verdict.headers)
        return response

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        record = await _record(request)
        log.add(record)
        try:
            fault = faults.take(record)
            if fault is not None:
                record.injected = True
                response: web.StreamResponse = _fault_answer(fault)
            else:
                response = await answer(request, record)
        except ApiError as error:
            response = json_answer(error.body(), error.status)
        except web.HTTPException as error:
            # Unknown routes and methods, in Discord's error shape.
            body = {"message": f"{error.status}: {error.reason}", "code": 0}
            response = json_answer(body, error.status)
        record.status = response.status
        log.notify()
        return response

    app = web.Application(middlewares=[middleware])
    app.router.add_get("/gateway", gateway.handle)
    _add_routes(app, world, gateway, registry)
    return app


def _add_routes(
    app: web.Application, world: World, gateway: Gateway, registry: InteractionRegistry
) -> None:
    """Every REST route the simulator answers, under ``/api/v10``."""
    groups: list[MessageRoutes | GuildRoutes | SafetyRoutes | InteractionRoutes] = [
        MessageRoutes(world, gateway),
        GuildRoutes(world, gateway),
        SafetyRoutes(world, gateway),
        InteractionRoutes(world, gateway, registry),
    ]
    for group in groups:
        for route in group.routes():
            app.router.add_route(route.method, API_PREFIX + route.path, route.handler)


async def _record(request: web.Request) -> RecordedRequest:
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else request.path
    body: Any = None
    if request.body_exists and request.content_type == "application/json":
        with contextlib.suppress(ValueError):
            body = json.loads(await request.read())
    return RecordedRequest(
        method=request.method,
        path=request.path.removeprefix(API_PREFIX),
        route=route.removeprefix(API_PREFIX),
        query=dict(request.query),
        headers=dict(request.headers),
        json=body,
    )


def _check_audit_reason(record: RecordedRequest) -> None:
    # Discord documents the X-Audit-Log-Reason header as 1-512 characters, URL-encoded: the
    # limit applies to the decoded reason (what the audit log shows), so a reason of 512
    # characters passes however long its percent-encoding is. An empty one is refused too.
    reason = record.audit_reason
    if reason is not None and not 1 <= len(reason) <= MAX_AUDIT_REASON:
        raise invalid_form(
            "audit_log_reason",
            "BASE_TYPE_BAD_LENGTH",
            f"Must be between 1 and {MAX_AUDIT_REASON} in length.",
        )


def _limited(verdict: Verdict) -> web.Response:
    body = {
        "message": "You are being rate limited.",
        "retry_after": round(verdict.retry_after, 3),
        "global": verdict.is_global,
    }
    response = json_answer(body, 429)
    response.headers.update(verdict.headers)
    # discord.py treats a 429 without Via as a Cloudflare ban; Discord's own 429s have it.
    response.headers["Via"] = "1.1 google"
    return response


def _fault_answer(fault: Fault) -> web.Response:
    if fault.status == 429:
        body = {"message": "You are being rate limited.", "retry_after": fault.retry_after}
        body["global"] = False
        body.update(fault.body)
        response = json_answer(body, 429)
        response.headers["Retry-After"] = f"{fault.retry_after:.3f}"
        response.headers["X-RateLimit-Scope"] = "user"
        # discord.py treats a 429 without Via as a Cloudflare ban; Discord's own 429s have it.
        response.headers["Via"] = "1.1 google"
        return response
    body = {"message": f"{fault.status}: Simulated failure", "code": 0}
    body.update(fault.body)
    return json_answer(body, fault.status)
