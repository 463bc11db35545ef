"""Running the engine on text from the command line: one message, or a JSON Lines stream.

This is the admin's test bench for a policy; the service uses the same engine. The wheel
compiles this module with the engine (setup.py): `rules eval` spends as long reading and
writing a line as judging it. The input line's pydantic model, which the compiler cannot
take, is in bridge/eval_input.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Literal, overload

from pydantic_core import from_json

from bridge.eval_input import Fields, validated
from domain.actions import action_kind
from domain.fastbuild import fast_constructor
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


# The platform names a line may give; "test" is the command line's older name (see InputLine).
_PLATFORMS = {"test": Platform.CLI, **{p.value: p for p in Platform}}


def _read_line(raw: str) -> Fields | str:
    """The fields of one input line, or the error text saying why it is not a message.

    A line written the usual way is read here without building an InputLine (that cost
    more than the parse); any other line goes to InputLine, which accepts it or says why
    not. Safe because the JSON is parsed by pydantic's own parser (pydantic_core.from_json:
    the same numbers, escapes, duplicate keys and NaN as model_validate_json), and a line is
    taken here only when every field already has the exact type InputLine makes of it (no
    bool or float for an id, no int-like string, a known platform name, a non-empty author):
    anything else, even what pydantic would only coerce, is left to pydantic.
    """
    try:
        data = from_json(raw)
    except (ValueError, TypeError):  # bad JSON; TypeError: a lone surrogate. pydantic judges
        return validated(raw)
    if type(data) is not dict:
        return validated(raw)
    id_ = data.get("id")
    author = data.get("author")
    text = data.get("text")
    channel = data.get("channel", "general")
    platform = data.get("platform", "cli")
    ts = data.get("ts")
    if not (
        (type(id_) is str or type(id_) is int)
        and type(author) is str
        and author
        and type(text) is str
        and type(channel) is str
        and type(platform) is str
        and platform in _PLATFORMS
        and (ts is None or type(ts) is float)
    ):
        return validated(raw)
    return id_, _PLATFORMS[platform], author, channel, text, ts


def make_message(
    *, id: str, platform: Platform, author: str, channel: str, text: str, ts: datetime
) -> Message:
    """A common-model message from plain fields, with mentions and links read from the text."""
    return _Messages().make(id, platform, author, channel, text, ts)


class _Messages:
    """Builds messages for a stream of lines, each author and channel built once: lines of
    the same people in the same channels (all real traffic) share those frozen values."""

    _LIMIT = 10_000  # authors or channels remembered; a stream with more starts over

    def __init__(self) -> None:
        # by platform, then by name: no key tuple to build and hash on every line
        self._authors: dict[Platform, dict[str, Author]] = {p: {} for p in Platform}
        self._channels: dict[Platform, dict[str, Channel]] = {p: {} for p in Platform}

    def make(
        self, id: str, platform: Platform, author: str, channel: str, text: str, ts: datetime
    ) -> Message:
        """See ``make_message`` (positional: this runs once per line of `rules eval`)."""
        authors = self._authors[platform]
        by = authors.get(author)
        if by is None:
            if len(authors) >= self._LIMIT:
                authors.clear()
            by = authors[author] = Author(account=Account(platform=platform, id=author))
        channels = self._channels[platform]
        where = channels.get(channel)
        if where is None:
            if len(channels) >= self._LIMIT:
                channels.clear()
            where = channels[channel] = Channel(platform=platform, id=channel, space_id="cli")
        # every mention shape holds an "@": most lines skip the scan
        mentions = (
            tuple(
                Account(platform=platform, id=next(g for g in m.groups() if g))
                for m in _MENTION.finditer(text)
            )
            if "@" in text
            else ()
        )
        links = find_links(text)
        return _Message(
            id=id, author=by, channel=where, text=text, ts=ts, mentions=mentions, links=links
        )


# Message at a fifth of its constructor's cost (domain.fastbuild): one per line.
_Message = fast_constructor(Message)


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


def evaluate_lines_json(engine: Engine, lines: Iterable[str]) -> Iterator[tuple[bool, str]]:
    """``evaluate_lines`` written as JSON: (whether it is an error, the JSON text) per line.

    The answer to a clean message, most lines, is written without building its object.
    """
    encode = _ENCODER.encode
    for result in _verdicts(engine, lines):
        if isinstance(result, dict):
            yield True, encode(result)
            continue
        answer_id, verdict = result
        if not _nothing_to_say(verdict):
            yield False, encode(verdict_to_json(answer_id, verdict))
        else:
            # an int id is written as str() writes it; a string id needs JSON's escapes
            written_id = str(answer_id) if type(answer_id) is int else encode(answer_id)
            yield False, '{"id": ' + written_id + _CLEAN_ANSWER_REST


def _nothing_to_say(verdict: Verdict) -> bool:
    """Whether ``verdict``'s answer is the clean one: no hit, action or point."""
    return not (verdict.hits or verdict.actions or verdict.observed or verdict.points_total)


# What json.dumps(..., ensure_ascii=False) uses, built once: json.dumps builds an encoder on
# every call when given any option.
_ENCODER = json.JSONEncoder(ensure_ascii=False)


# json.dumps of verdict_to_json for a verdict without hits, as it writes it, after the id
# (joined with +: str.format parses its template on every call)
_CLEAN_ANSWER_REST = ', "hits": [], "actions": [], "observed": [], "points": 0}'


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
    for result in _verdicts(engine, lines):
        if isinstance(result, dict):
            yield result
            continue
        answer_id, verdict = result
        if clean_as_none and _nothing_to_say(verdict):
            yield (answer_id,)
        else:
            yield verdict_to_json(answer_id, verdict)


# A message's time must leave room for the longest sanction after it (a datetime ends in 9999).
_LAST_TS = 32_503_680_000.0  # 3000-01-01T00:00:00Z
_TS_RANGE = "ts: seconds since 1970 (UTC) before the year 3000"


def _verdicts(
    engine: Engine, lines: Iterable[str]
) -> Iterator[tuple[str | int, Verdict] | dict[str, Any]]:
    """Each line's id and verdict in order, or the error object of a line that is no message."""
    messages = _Messages()
    make = messages.make
    evaluate = engine.evaluate
    from_timestamp = datetime.fromtimestamp
    now = datetime.now
    for number, raw in enumerate(lines, start=1):
        # the same lines as `not raw.strip()` (both use str.isspace's whitespace), no copy
        if not raw or raw.isspace():
            yield {"id": None, "line": number, "error": "empty line"}
            continue
        fields = _read_line(raw)
        if isinstance(fields, str):
            yield {"id": None, "line": number, "error": fields}
            continue
        line_id, platform, author, channel, text, ts = fields
        if ts is not None and not 0 <= ts <= _LAST_TS:  # NaN and infinities too
            yield {"id": None, "line": number, "error": _TS_RANGE}
            continue
        when = from_timestamp(ts, UTC) if ts is not None else now(UTC)
        message = make(str(line_id), platform, author, channel, text, when)
        yield line_id, evaluate(message)


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
