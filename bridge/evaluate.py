"""Running the engine on text from the command line: one message, or a JSON Lines stream.

This is the admin's test bench for a policy; the service uses the same engine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from domain.actions import action_kind
from domain.model import (
    Account,
    Action,
    Author,
    Ban,
    Channel,
    DeleteMessage,
    Message,
    Mute,
    NotifyModerators,
    PauseDms,
    Platform,
    Remove,
    ResumeDms,
    Tell,
    Unban,
    Unmute,
    Verdict,
    Warn,
)
from rules.engine import Engine
from rules.windows import find_links

# Mentions as they appear in plain text: Discord's <@123>, Matrix ids, and @name.
_MENTION = re.compile(r"<@!?(\d+)>|(@[\w.=/-]+:[\w.-]+)|(?<![\w@])@(\w{2,32})")


class InputLine(BaseModel):
    """One line of `rules eval` input."""

    model_config = ConfigDict(extra="ignore")

    id: str | int
    platform: Platform = Platform.CLI
    author: str = Field(min_length=1)
    channel: str = "general"
    text: str
    ts: float | None = None

    @field_validator("platform", mode="before")
    @classmethod
    def _older_name(cls, value: object) -> object:
        # input written for earlier versions named the command line's platform "test"
        return Platform.CLI if value == "test" else value


def make_message(
    *, id: str, platform: Platform, author: str, channel: str, text: str, ts: datetime
) -> Message:
    """A common-model message from plain fields, with mentions and links read from the text."""
    return _Messages().make(
        id=id, platform=platform, author=author, channel=channel, text=text, ts=ts
    )


class _Messages:
    """Builds messages for a stream of lines, each author and channel built once: lines of
    the same people in the same channels (all real traffic) share those frozen values."""

    _LIMIT = 10_000  # authors or channels remembered; a stream with more starts over

    def __init__(self) -> None:
        self._authors: dict[tuple[Platform, str], Author] = {}
        self._channels: dict[tuple[Platform, str], Channel] = {}

    def make(
        self, *, id: str, platform: Platform, author: str, channel: str, text: str, ts: datetime
    ) -> Message:
        """See ``make_message``."""
        by = self._authors.get((platform, author))
        if by is None:
            if len(self._authors) >= self._LIMIT:
                self._authors.clear()
            by = Author(account=Account(platform=platform, id=author))
            self._authors[platform, author] = by
        where = self._channels.get((platform, channel))
        if where is None:
            if len(self._channels) >= self._LIMIT:
                self._channels.clear()
            where = Channel(platform=platform, id=channel, space_id="cli")
            self._channels[platform, channel] = where
        # every mention shape holds an "@": most lines skip the scan
        mentions = (
            tuple(
                Account(platform=platform, id=next(g for g in m.groups() if g))
                for m in _MENTION.finditer(text)
            )
            if "@" in text
            else ()
        )
        return Message(
            id=id,
            author=by,
            channel=where,
            text=text,
            ts=ts,
            mentions=mentions,
            links=find_links(text),
        )


def action_to_json(action: Action) -> dict[str, Any]:
    """A small JSON description of an action, for `rules eval` and logs: its kind (the one
    name of :class:`domain.actions.ActionKind`) and what it acts on (never a private text)."""
    described: dict[str, Any] = {"action": action_kind(action).value}
    match action:
        case DeleteMessage():
            described["message"] = action.message_id
        case Warn():
            described.update(target=action.target.key, clause=action.clause)
        case Mute():
            described.update(target=action.target.key, until=action.until.isoformat())
        case Ban():
            until = action.until.isoformat() if action.until else None
            described.update(target=action.target.key, until=until)
        case Unmute() | Remove() | Unban() | Tell():
            described["target"] = action.target.key
        case PauseDms():
            described.update(space=action.space_id, until=action.until.isoformat())
        case ResumeDms():
            described["space"] = action.space_id
        case NotifyModerators():
            pass
    return described


def verdict_to_json(message_id: str | int, verdict: Verdict) -> dict[str, Any]:
    return {
        "id": message_id,
        "hits": [
            {
                "rule": h.rule_id,
                "kind": h.kind,
                "clause": h.clause,
                "matched": h.matched,
                "mode": h.mode.value,
            }
            for h in verdict.hits
        ],
        "actions": [action_to_json(a) for a in verdict.actions],
        "observed": [action_to_json(a) for a in verdict.observed],
        "points": verdict.points_total,
    }


def _error_text(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "line"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def evaluate_lines_json(engine: Engine, lines: Iterable[str]) -> Iterator[tuple[bool, str]]:
    """``evaluate_lines`` written as JSON: (whether it is an error, the JSON text) per line.

    The answer to a clean message, most lines, is written without building its object.
    """
    encode = _ENCODER.encode
    for result in evaluate_lines(engine, lines, clean_as_none=True):
        if isinstance(result, tuple):
            # an int id is written as str() writes it; a string id needs JSON's escapes
            answer_id = str(result[0]) if type(result[0]) is int else encode(result[0])
            yield False, _CLEAN_ANSWER.format(answer_id)
        else:
            yield "error" in result, encode(result)


# What json.dumps(..., ensure_ascii=False) uses, built once: json.dumps builds an encoder on
# every call when given any option.
_ENCODER = json.JSONEncoder(ensure_ascii=False)


# json.dumps of verdict_to_json for a verdict without hits, as it writes it
_CLEAN_ANSWER = '{{"id": {}, "hits": [], "actions": [], "observed": [], "points": 0}}'


@overload
def evaluate_lines(
    engine: Engine, lines: Iterable[str], *, clean_as_none: Literal[False] = ...
) -> Iterator[dict[str, Any]]: ...
@overload
def evaluate_lines(
    engine: Engine, lines: Iterable[str], *, clean_as_none: Literal[True]
) -> Iterator[dict[str, Any] | tuple[str | int]]: ...
def evaluate_lines(
    engine: Engine, lines: Iterable[str], *, clean_as_none: bool = False
) -> Iterator[dict[str, Any] | tuple[str | int]]:
    """Evaluate JSON Lines in order; yield one result (or error) object per input line.

    ``clean_as_none``: a message no rule hit is answered by the 1-tuple of its id.
    """
    messages = _Messages()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            yield {"id": None, "line": number, "error": "empty line"}
            continue
        try:
            item = InputLine.model_validate_json(raw)
        except ValidationError as exc:
            yield {"id": None, "line": number, "error": _error_text(exc)}
            continue
        ts = datetime.fromtimestamp(item.ts, UTC) if item.ts is not None else datetime.now(UTC)
        message = messages.make(
            id=str(item.id),
            platform=item.platform,
            author=item.author,
            channel=item.channel,
            text=item.text,
            ts=ts,
        )
        verdict = engine.evaluate(message)
        if clean_as_none and not (
            verdict.hits or verdict.actions or verdict.observed or verdict.points_total
        ):
            yield (item.id,)
        else:
            yield verdict_to_json(item.id, verdict)


def describe(verdict: Verdict) -> list[str]:
    """Human-readable lines for `rules test`: which rules hit, why, and what would be done."""
    if verdict.clean:
        return ["no rule hit: nothing would be done"]
    out = []
    for hit in verdict.hits:
        observe = " [observe mode: recorded only]" if hit.mode.value == "observe" else ""
        out.append(f"hit  {hit.rule_id} ({hit.kind}, +{hit.points} points){observe}")
        out.append(f"     why:     {hit.reason}")
        out.append(f"     matched: {hit.matched!r}")
        out.append(f"     clause:  {hit.clause}")
    out.extend(f"note {note}" for note in verdict.notes)
    out.extend(f"do   {json.dumps(action_to_json(a))}" for a in verdict.actions)
    out.extend(f"would {json.dumps(action_to_json(a))}" for a in verdict.observed)
    return out
