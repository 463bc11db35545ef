"""Benchmark of the conduct engine: messages per second on one core, and the worst message.

Usage: .venv/bin/python scripts/bench_engine.py [--messages N]

Runs, in the same process and on the same corpus:
  1. the engine with the example policy (config.example.toml);
  2. the engine with a large policy: 200 regex rules and 2,000 keywords;
  3. a naive baseline for the large policy: one Python `re.search` per pattern and keyword;
and times the slowest 8 KB messages we could think of. Prints a table and the ratios.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import string
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.config import load_settings, parse_settings
from bridge.evaluate import make_message
from bridge.model import Message, Platform
from rules.engine import Engine
from rules.text import clean

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 24, tzinfo=UTC)

CHATTER = [
    "has anyone upgraded nova to 2025.1 yet? the placement api keeps timing out",
    "try bumping the haproxy timeout to 60s, we hit the same on 10.0.0.12:8778",
    "Karibu! the meetup is on Saturday at iHub, 2pm, slides on github",
    "kolla-ansible deploy failed: TASK [nova : Check nova-compute containers] fatal",
    "ceph health detail says HEALTH_WARN 1 pool(s) have no replicas configured",
    "thanks @wanjiru that fixed it 🎉",
    "the CI job openstack-tox-py311 is flaky again, see ticket OPS-4821",
    "commit 9f3c2a1b fixes the neutron ovn metadata agent",
    "who is bringing the projector? I can bring extension cables",
    "kubectl get pods -n openstack | grep -v Running",
    "Budget for the venue is KES 25,000 for the afternoon",
    "lol yes, the wifi at the last meetup was terrible",
    "I'll share the recording on the meetup page tomorrow",
    "swift proxy logs show 503s between 14:00 and 14:30 on 2026-11-20",
]
VIOLATIONS = [
    "you are such an 1d10t, l o s e r",
    "whats ur whatsapp? lets talk privately",
    "call him on 0712 345 678, he deserves it",
    "join https://discord.gg/free-nitro now",
]


def corpus(n: int, seed: int = 7) -> list[Message]:
    """Realistic traffic: mostly technical chatter, 5 % violations, 40 authors, 2 msg/s."""
    rng = random.Random(seed)
    messages = []
    for i in range(n):
        text = rng.choice(VIOLATIONS) if rng.random() < 0.05 else rng.choice(CHATTER)
        messages.append(
            make_message(
                id=str(i),
                platform=Platform.DISCORD,
                author=f"member{rng.randrange(40)}",
                channel="general",
                text=text,
                ts=T0 + timedelta(seconds=i * 0.5),
            )
        )
    return messages


def _word(rng: random.Random) -> str:
    syllables = ["ka", "zu", "mbo", "ri", "ta", "ngo", "we", "shi", "lo", "pe", "du", "xa"]
    return "".join(rng.choice(syllables) for _ in range(rng.randint(3, 5)))


def large_policy(seed: int = 11) -> tuple[str, list[str], list[str]]:
    """A TOML policy with 2,000 keywords over 10 rules and 200 regex rules."""
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
    """One Python `re` call per keyword and pattern: what a simple bot does."""
    compiled = [re.compile(rf"\b{re.escape(w)}\b", re.IGNORECASE) for w in words]
    compiled += [re.compile(p, re.IGNORECASE) for p in patterns]

    def evaluate(message: Message) -> int:
        text = clean(message.text)
        return sum(1 for rx in compiled if rx.search(text))

    return evaluate


def throughput(evaluate: Callable[[Message], object], messages: Sequence[Message]) -> float:
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for message in messages:
            evaluate(message)
        best = max(best, len(messages) / (time.perf_counter() - start))
    return best


def worst_messages() -> dict[str, str]:
    size = 8192
    return {
        "one long word": "a" * size,
        "digits": ("0712 345 678 " * 700)[:size],
        "spaced letters": ("l o s e r " * 900)[:size],
        "at/dot words": ("name at domain dot com " * 400)[:size],
        "links": ("https://discord.gg/abc " * 400)[:size],
        "look-alikes": ("Ｌ０ѕеr іdіοt " * 700)[:size],
        "zero-width": ("i\u200bd\u200bi\u200bo\u200bt " * 800)[:size],
        "masks": ("l*s*r i*i*t " * 700)[:size],
        "solicitation": ("what is your whatsapp number " * 300)[:size],
        "chatter": (" ".join(CHATTER) * 10)[:size],
    }


def worst_time(engine: Engine) -> tuple[str, float]:
    worst = ("", 0.0)
    for name, text in worst_messages().items():
        best = float("inf")
        for attempt in range(5):
            message = make_message(
                id=name, platform=Platform.DISCORD, author=f"w{attempt}", channel="c",
                text=text, ts=T0 + timedelta(hours=attempt),
            )  # fmt: skip
            start = time.perf_counter()
            engine.evaluate(message)
            best = min(best, time.perf_counter() - start)
        if best > worst[1]:
            worst = (name, best)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=50_000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    messages = corpus(args.messages)
    example = Engine(load_settings(ROOT / "config.example.toml").policy)
    toml, words, patterns = large_policy()
    start = time.perf_counter()
    large = Engine(parse_settings(toml).policy)
    build = time.perf_counter() - start
    baseline = naive_baseline(words, patterns)

    ex_rate = throughput(example.evaluate, messages)
    large_rate = throughput(large.evaluate, messages)
    base_rate = throughput(baseline, messages[: max(1000, args.messages // 20)])
    worst_name, worst = worst_time(example)
    large_worst_name, large_worst = worst_time(large)

    print(f"corpus: {len(messages)} messages, 5% violations; one core")
    print(f"{'policy':44} {'msg/s':>10}")
    print(f"{'example policy (config.example.toml)':44} {ex_rate:>10,.0f}")
    print(f"{'large policy (200 regex rules, 2,000 words)':44} {large_rate:>10,.0f}")
    print(f"{'naive baseline, large policy (1 re per item)':44} {base_rate:>10,.0f}")
    print(f"large policy vs naive baseline: {large_rate / base_rate:.1f}x")
    print(f"large policy build time: {build * 1000:.0f} ms")
    print(f"worst 8 KB message, example policy: {worst * 1000:.2f} ms ({worst_name})")
    print(f"worst 8 KB message, large policy: {large_worst * 1000:.2f} ms ({large_worst_name})")


if __name__ == "__main__":
    main()
