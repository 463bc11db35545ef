"""`rules eval` reads its lines on a quick path; every line must be read exactly as the
validated path (pydantic's InputLine) reads it: the same fields of the same types, the same
error texts, and the same answers written for a whole stream."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge import eval_input, evaluate
from bridge.config import load_settings
from bridge.eval_input import InputLine
from bridge.evaluate import evaluate_lines_json
from domain.model import Account, Author, Channel, Message, Platform
from rules.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
BASE: dict[str, Any] = {"id": 7, "author": "ann", "text": "hello there", "ts": 1e9}

# Values of every JSON type and the edges InputLine coerces, refuses or keeps.
ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 2**53, 2**53 + 1, 2**63, 2**64 + 1, 10**30, -(10**30),
    0.0, -0.0, 1.0, 1.5, 1e3, 1e20, 1e-7, 1.8e9, float("nan"), float("inf"), float("-inf"),
    "", " ", "x", "1", "1.5", "true", "null", "test", "cli", "discord", "matrix", "Discord",
    "slack", "general", "ü\u2028\u0000", "🙂 ni poa", [], [1], {}, {"a": 1},
]  # fmt: skip

RAW_LINES = [
    "not json", "{", "}", "[]", "[1]", '"x"', "1", "null", "true", "{}",
    '{"id": 1, "id": "b", "author": "a", "text": "x"}',
    '{"id": "b", "id": 1, "author": "a", "text": "x"}',
    '{"id": 1, "author": "a", "text": "x", "text": 5}',
    '{"id": 1, "author": "a", "text": "x", "platform": "cli", "platform": "matrix"}',
    '{"id": 1, "author": "a", "text": "x", "ts": NaN}',
    '{"id": 1, "author": "a", "text": "x", "ts": -Infinity}',
    '{"id": 1, "author": "a", "text": "x", "ts": 1e400}',
    '{"id": NaN, "author": "a", "text": "x"}',
    '{"id": 01, "author": "a", "text": "x"}',
    '{"id": -0, "author": "a", "text": "x"}',
    '{"id": 1.0e0, "author": "a", "text": "x"}',
    '{"id": 1' + "0" * 5000 + ', "author": "a", "text": "x"}',
    '{"\\u0069d": 7, "author": "a", "text": "an escaped key"}',
    '{"id": 1, "author": "a", "text": "\\ud83d\\ude00 a pair"}',
    '{"id": 1, "author": "a", "text": "\\ud800 a lone escape"}',
    '{"id": 1, "author": "a", "text": "\ud800 a lone surrogate"}',  # stdin's surrogateescape
    '{"id": 1, "author": "a", "text": "\udcff"}',
    '{"id": 1, "author": "a", "text": "raw \x01 control"}',
    '{"id": 1, "author": "a", "text": "x"} trailing',
    '{"id": 1, "author": "a", "text": "x"},',
    '{"id": 1, "author": "a", "text": "x",}',
    "{'id': 1, 'author': 'a', 'text': 'x'}",
    '\ufeff{"id": 1, "author": "a", "text": "x"}',
    '{"id": 1, "author": "a", "text": "x"}\x00',
    "[" * 300 + "]" * 300,
    '{"id": 1, "author": "a", "text": "x", "deep": ' + "[" * 300 + "]" * 300 + "}",
    '  {"id": 1, "author": "a", "text": "spaces around"}  \r\n',
    '{"id": 1, "author": "a", "text": "x", "ts": 1800000000}',
    '{"id": 1, "author": "a", "text": "x", "ts": 9007199254740993}',
    '{"id": 1, "author": "a", "text": "x", "extra": {"n": [1, null, "z"]}}',
]  # fmt: skip


def tricky_lines() -> list[str]:
    """Each field of an ordinary line set to each odd value, or left out; then raw lines."""
    lines = []
    for field in ("id", "platform", "author", "channel", "text", "ts"):
        for value in ODD_VALUES:
            for ascii_only in (True, False):
                lines.append(json.dumps({**BASE, field: value}, ensure_ascii=ascii_only))
        lines.append(json.dumps({k: v for k, v in BASE.items() if k != field}))
    return lines + RAW_LINES


def typed(result: object) -> object:
    """A line's fields with their types, so that 100 and 100.0 or 1 and True differ."""
    if isinstance(result, tuple):
        return tuple((type(value).__name__, repr(value)) for value in result)
    return result


@pytest.mark.parametrize("raw", tricky_lines())
def test_a_line_reads_as_pydantic_reads_it(raw: str) -> None:
    assert typed(evaluate._read_line(raw)) == typed(eval_input.validated(raw))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(), inner, max_size=2),
    max_leaves=4,
)


@given(
    st.dictionaries(
        st.sampled_from(["id", "platform", "author", "channel", "text", "ts", "other"]),
        json_values | st.sampled_from(ODD_VALUES),
    ),
    st.booleans(),
)
def test_any_object_reads_as_pydantic_reads_it(line: dict[str, Any], ascii_only: bool) -> None:
    raw = json.dumps(line, ensure_ascii=ascii_only)
    assert typed(evaluate._read_line(raw)) == typed(eval_input.validated(raw))


@given(st.text(max_size=40))
def test_any_text_reads_as_pydantic_reads_it(raw: str) -> None:
    assert typed(evaluate._read_line(raw)) == typed(eval_input.validated(raw))


@pytest.mark.parametrize(
    "line",
    [
        {"id": 1, "author": "a", "text": "x"},
        {"id": "m-1", "author": "a", "text": "x", "ts": None},
        {"id": 2, "platform": "test", "author": "a", "channel": "c", "text": "x", "ts": 1.5},
        {"id": 3, "platform": "cli", "author": "a", "text": "", "ts": 0.0},
        {"id": 4, "platform": "discord", "author": "1234", "channel": "5678", "text": "🙂"},
        {"id": 5, "platform": "matrix", "author": "@a:hs", "channel": "!r:hs", "text": "x"},
        {"id": 6, "author": "a", "text": "x", "ts": 1.8e9, "extra": [1, {"y": None}]},
    ],
)
def test_ordinary_lines_take_the_quick_path(
    line: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The speed is only there if ordinary lines never reach pydantic."""

    def refuse(raw: str) -> InputLine:
        raise AssertionError(f"an ordinary line went to pydantic: {raw}")

    raw = json.dumps(line, ensure_ascii=False)
    expected = typed(eval_input.validated(raw))
    monkeypatch.setattr(InputLine, "model_validate_json", refuse)
    assert typed(evaluate._read_line(raw)) == expected


def stream() -> list[str]:
    """Lines that hit rules (flood, insults, contacts, links, mentions) among errors."""
    lines = [json.dumps({**BASE, "id": i, "text": t}) for i, t in enumerate(["hi", "you idiot"])]
    for i in range(12):
        lines.append(json.dumps({
            "id": f"f{i}", "platform": "discord", "author": "spam", "channel": "c",
            "text": f"buy now {i} http://x.example/{i} <@12> @bob", "ts": 1000 + i * 0.3,
        }))  # fmt: skip
    lines += [json.dumps({**BASE, "id": 99, "text": "call me 0712 345 678", "ts": 2000})]
    lines += ["", " \t", "\u2028", "\x1c"]
    # a ts out of a datetime's range fails the same way on both paths, ending the stream
    return lines + [line for line in tricky_lines() if not _out_of_range(line)]


def _out_of_range(line: str) -> bool:
    try:
        ts = json.loads(line).get("ts")
    except (ValueError, AttributeError):
        return False
    return isinstance(ts, int | float) and not -1e10 < ts < 1e10


# A line without ts is judged at the moment it is read: a penalty's end then differs by
# microseconds between two runs. Every given ts is before 2026.
_FROM_NOW = re.compile(r'"until": "20[2-9]\d-[^"]*"')


def answers(engine: Engine, lines: list[str]) -> list[tuple[bool, str]]:
    return [(e, _FROM_NOW.sub("<now>", a)) for e, a in evaluate_lines_json(engine, lines)]


def test_a_stream_is_answered_as_the_validated_path_answers_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = load_settings(ROOT / "config.example.toml").policy
    lines = stream()
    quick = answers(Engine(policy), lines)
    assert sum(error for error, _ in quick) > 50
    assert sum('"hits": [{' in answer for _, answer in quick) > 20
    monkeypatch.setattr(evaluate, "_read_line", eval_input.validated)
    assert quick == answers(Engine(policy), lines)


def test_blank_lines_are_answered_as_empty_lines() -> None:
    blank = ["", " ", "\t\n", "\u2028", "\x1c", "\xa0\u3000"]
    engine = Engine(load_settings(ROOT / "config.example.toml").policy)
    assert list(evaluate_lines_json(engine, blank)) == [
        (True, json.dumps({"id": None, "line": n, "error": "empty line"}))
        for n in range(1, len(blank) + 1)
    ]


def test_empty_lines_are_the_ones_strip_empties() -> None:
    """`not raw or raw.isspace()` replaced `not raw.strip()`: the same lines, every character."""
    for code in range(0x110000):
        char = chr(code)
        assert (not char or char.isspace()) is (not char.strip()), hex(code)
    assert not "".strip()


def test_a_written_message_is_the_constructed_one() -> None:
    assert evaluate._Message is not Message, (
        "Message changed shape: domain.fastbuild refused it (see its docstring)"
    )
    author = Author(account=Account(platform=Platform.DISCORD, id="1"))
    channel = Channel(platform=Platform.DISCORD, id="2", space_id="cli")
    ts = datetime(2026, 12, 3, tzinfo=UTC)
    mentions = (Account(platform=Platform.DISCORD, id="3"),)
    given = {
        "id": "9", "author": author, "channel": channel, "text": "hi <@3>", "ts": ts,
        "mentions": mentions, "links": ("x.org",),
    }  # fmt: skip
    written = evaluate._Message(**given)  # type: ignore[arg-type]
    built = Message(**given)  # type: ignore[arg-type]
    assert type(written) is Message
    assert written == built
    assert hash(written) == hash(built)
    assert dataclasses.asdict(written) == dataclasses.asdict(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        written.text = "changed"  # type: ignore[misc]
