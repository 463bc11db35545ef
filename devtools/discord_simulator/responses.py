"""Discord's answer shapes: JSON bodies with the exact Content-Type, and error objects.

discord.py decodes a body only when Content-Type is exactly ``application/json``; aiohttp's
``json_response`` adds ``; charset=utf-8``, which would turn every answer into a string.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .entities import JSON


class ApiError(Exception):
    """An error answer in Discord's shape: HTTP status, JSON error code, message, details."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> JSON:
        """The JSON body Discord sends with this error."""
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def json_answer(data: Any, status: int = 200) -> web.Response:
    """A JSON answer whose Content-Type discord.py accepts."""
    return web.Response(
        body=json.dumps(data).encode(), status=status, content_type="application/json"
    )


def no_content() -> web.Response:
    """The 204 Discord gives for deletes, bans and role changes."""
    return web.Response(status=204)


def missing_permissions() -> ApiError:
    """403 50013, what Discord answers when the bot lacks a permission or is outranked."""
    return ApiError(403, 50013, "Missing Permissions")


def missing_access() -> ApiError:
    """403 50001, for a channel or guild the bot cannot see."""
    return ApiError(403, 50001, "Missing Access")


def unknown(kind: str) -> ApiError:
    """404 with Discord's code for an unknown object of ``kind``."""
    codes = {
        "Channel": 10003,
        "Guild": 10004,
        "Member": 10007,
        "Message": 10008,
        "Role": 10011,
        "User": 10013,
        "Webhook": 10015,
        "Ban": 10026,
        "Interaction": 10062,
        "Application Command": 10063,
        # Discord's table of JSON error codes has no code for an unknown AutoMod rule (10066
        # is "Unknown application command permissions", 10070 "Unknown Guild Scheduled
        # Event"): answer 404 with code 0 and the message, so nothing can rely on a guess.
        "Auto Moderation Rule": 0,
    }
    return ApiError(404, codes.get(kind, 0), f"Unknown {kind}")


def invalid_form(field: str, code: str, message: str) -> ApiError:
    """400 50035 Invalid Form Body with one field error, as Discord nests it.

    A dotted ``field`` (``trigger_metadata.regex_patterns.0``) nests one object per part.
    """
    errors: JSON = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(field.split(".")):
        errors = {part: errors}
    return ApiError(400, 50035, "Invalid Form Body", errors)
