"""Benchmark of the conduct engine on distinct messages: msg/s on one core, worst message.

Usage: .venv/bin/python scripts/bench_engine.py [--messages N] [--skip-eval] [--compiled]

Runs, in the same process and on the same corpus of N distinct generated messages
(scripts/chat_corpus.py, fixed seed, 7 % violations):
  1. the engine with the example policy (config.example.toml);
  2. the engine with 200 regex rules and 2,000 keywords alone;
  3. the example policy plus those 200 regex rules and 2,000 keywords;
  4. the fair naive baseline for (2): 200 `re` patterns plus ONE alternation regex for the
     2,000 words, after the same text cleaning;
  5. (1) and (3) again with every cache emptied before each message;
  6. `modbridge rules eval` end to end (a subprocess, JSON Lines in and out) on two corpus
     sizes: the difference is the marginal rate, without the start-up;
and times the slowest 8 KB messages we could think of. Times are CPU time of this process
(and of the `rules eval` child), so other work on a shared machine disturbs them less; each
figure is the best of seven runs (every row, the naive baseline too, and each `rules eval`
size), the rows (and the two `rules eval` sizes) taking turns round after round so that a
slow spell of the machine falls on all alike.

The engine measured is the one Python imports: from the source tree in a development
install (interpreted). ``--compiled`` builds the wheel as Deploying does (setup.py compiles
rules/ with mypyc), unpacks it, and runs the same measurements again on the installed form.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import string
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chat_corpus import distinct_corpus, vocabulary_size

import rules.engine
from bridge.config import load_settings, parse_settings
from bridge.evaluate import make_message
from domain.model import Message, Platform
from rules import pii
from rules.engine import Engine
from rules.policy import Policy
from rules.text import clean

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config.example.toml"
T0 = datetime(2026, 11, 24, tzinfo=UTC)
# Every row (the naive baseline too: a ratio of a best to a single run would flatter the
# engine) and each `rules eval` size keeps the best of this many runs.
ROUNDS = 7


def as_messages(texts: Sequence[str], seed: int = 3) -> list[Message]:
    """Traffic: 40 authors, 2 messages a second."""
    rng = random.Random(seed)
    return [
        make_message(
            id=str(i),
            platform=Platform.DISCORD,
            author=f"member{rng.randrange(40)}",
            channel="general",
            text=text,
            ts=T0 + timedelta(seconds=i * 0.5),
        )
        for i, text in enumerate(texts)
    ]


def _word(rng: random.Random) -> str:
    syllables = ["ka", "zu", "mbo", "ri", "ta", "ngo", "we", "shi", "lo", "pe", "du", "xa"]
    return "".join(rng.choice(syllables) for _ in range(rng.randint(3, 5)))


def large_rules(seed: int = 11) -> tuple[str, list[str], list[str]]:
    """TOML for 2,000 keywords over 10 rules and 200 regex rules, and the words and patterns."""
    rng = random.Random(seed)
    words = sorted({_word(rng) for _ in range(2600)})[:2000]
    patterns = [
        rf"\b{_word(rng)}[{rng.choice(string.ascii_lowercase)}-z]{{2,4}}\d{{{rng.randint(1, 3)}}}\b"
        for _ in range(200)
    ]
    toml = []
    for r in range(10):
        chunk = words[r * 200 : (r + 1) * 200]
        toml.append(f"[[rules]]\nid = 'kw{r}'\nkind = 'keywords'\nwords = {chunk!r}\n")
    for r, pattern in enumerate(patterns):
        toml.append(f"[[rules]]\nid = 'rx{r}'\nkind = 'regex'\npatterns = [{pattern!r}]\n")
    return "\n".join(toml), words, patterns


def naive_baseline(words: Sequence[str], patterns: Sequence[str]) -> Callable[[Message], int]:
    """What a careful admin writes with `re`: one alternation for all words, one per pattern."""
    alternation = re.compile(
        r"\b(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\b"
    )
    compiled = [re.compile(p) for p in patterns]

    def evaluate(message: Message) -> int:
        text = clean(message.text)
        hits = 1 if alternation.search(text) else 0
        return hits + sum(1 for rx in compiled if rx.search(text))

    return evaluate


def clear_caches(engine: Engine | None = None) -> None:
    """Empty the engine's memo caches: the figures then get no help from earlier messages."""
    pii._valid_e164.cache_clear()
    pii._valid_mobile.cache_clear()
    if engine is not None:
        engine._keywords._cache.clear()
        engine._keywords._runs.clear()


def rate(
    make: Callable[[], tuple[Callable[[Message], object], Engine | None]],
    messages: Sequence[Message],
    *,
    cached: bool = True,
) -> float:
    """msg/s of one run on a fresh evaluator, every cache emptied first (``cached=False``:
    emptied before every message too)."""
    evaluate, engine = make()
    clear_caches(engine)
    if not cached:
        inner = evaluate

        def evaluate(
            message: Message,
            inner: Callable[[Message], object] = inner,
            engine: Engine | None = engine,
        ) -> object:
            clear_caches(engine)
            return inner(message)

    start = time.process_time()
    for message in messages:
        evaluate(message)
    return len(messages) / (time.process_time() - start)


Row = tuple[str, Callable[[], tuple[Callable[[Message], object], Engine | None]], bool]


def throughputs(rows: Sequence[Row], messages: Sequence[Message]) -> list[tuple[str, float]]:
    """Each row's best of ROUNDS runs. The rows take turns, round after round, so that a
    slow spell of a shared machine falls on all alike."""
    best = [0.0] * len(rows)
    for _ in range(ROUNDS):
        for i, (_name, make, cached) in enumerate(rows):
            best[i] = max(best[i], rate(make, messages, cached=cached))
    return [(row[0], value) for row, value in zip(rows, best, strict=True)]


def worst_messages(chatter: Sequence[str]) -> dict[str, str]:
    size = 8192
    return {
        "one long word": "a" * size,
        "digits": ("0712 345 678 " * 700)[:size],
        "digit soup": " ".join(str(random.Random(1).randrange(10**12)) for _ in range(700))[:size],
        "spaced letters": ("l o s e r " * 900)[:size],
        "spaced digits": ("0 7 1 2 3 4 5 6 7 8 " * 500)[:size],
        "number words": ("zero seven one two three four five six " * 300)[:size],
        "at/dot words": ("name at domain dot com " * 400)[:size],
        "links": ("https://discord.gg/abc " * 400)[:size],
        "look-alikes": ("Ｌ０ѕеr іdіοt " * 700)[:size],
        "zero-width": ("i\u200bd\u200bi\u200bo\u200bt " * 800)[:size],
        "controls": ("i\x00d\x07i\u202eo\u3164t " * 800)[:size],
        "masks": ("l*s*r i*i*t " * 700)[:size],
        "solicitation": ("what is your whatsapp number " * 300)[:size],
        "third person": ("reach her at his ig is @x " * 300)[:size],
        "chatter": " ".join(chatter)[:size],
    }


def worst_time(engine: Engine, chatter: Sequence[str]) -> tuple[str, float]:
    worst = ("", 0.0)
    for name, text in worst_messages(chatter).items():
        best = float("inf")
        for attempt in range(5):
            clear_caches(engine)
            message = make_message(
                id=name, platform=Platform.DISCORD, author=f"w{attempt}", channel="c",
                text=text, ts=T0 + timedelta(hours=attempt),
            )  # fmt: skip
            start = time.process_time()
            engine.evaluate(message)
            best = min(best, time.process_time() - start)
        if best > worst[1]:
            worst = (name, best)
    return worst


def eval_end_to_end(texts: Sequence[str], small: int, large: int) -> tuple[float, float, float]:
    """`modbridge rules eval` on ``small`` and ``large`` messages: (marginal msg/s, s, s).

    The two sizes take turns, ROUNDS rounds, and each keeps its best time: a slow spell of
    the machine then falls on both (the marginal rate is their difference)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for size in (small, large):
            path = Path(tmp) / f"in{size}.jsonl"
            with path.open("w", encoding="utf-8") as out:
                for i, text in enumerate(texts[:size]):
                    line = {"id": i, "author": f"m{i % 40}", "text": text, "ts": 1.8e9 + i / 2}
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
            paths.append(path)
        best = [float("inf"), float("inf")]
        for _ in range(ROUNDS):
            for which, path in enumerate(paths):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                # run outside the source tree: `-m` puts the working directory first on
                # the path, which would shadow an installed (compiled) engine
                subprocess.run(
                    [sys.executable, "-m", "cli.main", "rules", "eval", "--config",
                     str(EXAMPLE), "--input", str(path), "--output", os.devnull],
                    check=False, cwd=tmp,
                )  # fmt: skip
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
                best[which] = min(best[which], cpu)
    return (large - small) / (best[1] - best[0]), best[0], best[1]


def measure_compiled(args: argparse.Namespace) -> None:
    """Build the wheel (the engine compiled), unpack it, and run this benchmark on it."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
             "-w", tmp, str(ROOT)],
            check=True,
        )  # fmt: skip
        (wheel,) = Path(tmp).glob("modbridge-*.whl")
        site = Path(tmp) / "site"
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)
        print(f"\nthe wheel, built in {time.perf_counter() - started:.0f} s, unpacked:")
        again = [sys.executable, __file__, "--messages", str(args.messages)]
        if args.skip_eval:
            again.append("--skip-eval")
        env = {**os.environ, "PYTHONPATH": str(site)}
        subprocess.run(again, check=True, cwd=tmp, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--skip-eval", action="store_true", help="no `rules eval` subprocess")
    parser.add_argument(
        "--compiled", action="store_true", help="then again on the wheel's compiled engine"
    )
    args = parser.parse_args()
    compiled = rules.engine.__file__.endswith(".so")
    print(f"engine: {'compiled' if compiled else 'interpreted'} ({rules.engine.__file__})")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    texts = distinct_corpus(args.messages)
    messages = as_messages(texts)
    example_toml = EXAMPLE.read_text(encoding="utf-8")
    large_toml, words, patterns = large_rules()

    def policy(toml: str) -> Policy:
        return parse_settings(toml).policy

    example_policy = load_settings(EXAMPLE).policy
    combined_policy = policy(example_toml + "\n" + large_toml)
    large_policy = policy(large_toml)
    start = time.perf_counter()
    Engine(combined_policy)
    build = time.perf_counter() - start

    def engine(p: Policy) -> Callable[[], tuple[Callable[[Message], object], Engine | None]]:
        def make() -> tuple[Callable[[Message], object], Engine | None]:
            built = Engine(p)
            return built.evaluate, built

        return make

    rows = throughputs(
        [
            ("example policy", engine(example_policy), True),
            ("200 regex rules + 2,000 keywords alone", engine(large_policy), True),
            ("example + 200 regex rules + 2,000 keywords", engine(combined_policy), True),
            ("naive baseline (re; one alternation for the words)",
             lambda: (naive_baseline(words, patterns), None), True),
            ("example policy, caches emptied per message", engine(example_policy), False),
            ("example + large, caches emptied per message", engine(combined_policy), False),
        ],
        messages,
    )  # fmt: skip
    print(f"corpus: {len(texts)} distinct messages ({len(set(texts))} distinct), "
          f"vocabulary {vocabulary_size()} words + generated numbers; one core")  # fmt: skip
    print(f"{'evaluator':52} {'msg/s':>10}")
    for name, rate in rows:
        print(f"{name:52} {rate:>10,.0f}")
    print(f"large alone vs naive baseline: {rows[1][1] / rows[3][1]:.1f}x")
    if not args.skip_eval:
        small, large = len(texts) // 6, len(texts)
        marginal, t_small, t_large = eval_end_to_end(texts, small, large)
        print(f"rules eval end to end, example policy: {marginal:,.0f} msg/s marginal "
              f"({small} messages in {t_small:.2f} s, {large} in {t_large:.2f} s)")  # fmt: skip
        print(f"rules eval vs naive baseline: {marginal / rows[3][1]:.1f}x")
    print(f"example + large engine build: {build * 1000:.0f} ms")
    for name, p in (("example", example_policy), ("example + large", combined_policy)):
        worst_name, worst = worst_time(Engine(p), texts[:200])
        print(f"worst 8 KB message, {name}: {worst * 1000:.2f} ms ({worst_name})")
    if args.compiled:
        measure_compiled(args)


if __name__ == "__main__":
    main()
