"""Recall per category and false alarms of a policy on the labelled evaluation set.

Usage: .venv/bin/python scripts/eval_rules.py [--config config.example.toml]
                                              [--data tests/data/conduct_eval.jsonl] [--show]

A violation counts as caught when a rule enforcing its clause hits it in enforce mode; a clean
or false-alarm message counts as a false positive when a rule hits it that deletes, sanctions
or adds points (observe-only and notify-only hits are counted apart: a moderator reads them).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.config import load_settings
from bridge.evaluate import make_message
from domain.model import Mode, Platform
from rules.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "conduct_eval.jsonl"
# The rules of the example policy that catch each category (rules of the same clause).
CATCHERS = {
    "insults": {"insults", "threats"},
    "threats": {"threats", "insults"},
    "discrimination": {"discrimination"},
    "sexual": {"sexual-advances"},
    "contacts": {"contact-details"},
    "solicitation": {"off-platform-contact"},
    "invites": {"links"},
}
INNOCENT = ("clean", "false-alarm")


@dataclass
class Report:
    """What the evaluation found, by category."""

    total: dict[str, int] = field(default_factory=dict)
    caught: dict[str, int] = field(default_factory=dict)  # violations caught; FPs if innocent
    notified: dict[str, int] = field(default_factory=dict)  # innocent with a non-enforced hit
    misses: list[tuple[str, str, list[str]]] = field(default_factory=list)

    def recall(self, category: str) -> float:
        return self.caught.get(category, 0) / self.total[category]


def evaluate(config: Path = ROOT / "config.example.toml", data: Path = DATA) -> Report:
    """Run every labelled message through a fresh member of one engine."""
    policy = load_settings(config).policy
    engine = Engine(policy)
    rules = {rule.id: rule for rule in policy.rules}
    report = Report()
    t0 = datetime(2026, 11, 24, tzinfo=UTC)
    for i, raw in enumerate(data.read_text(encoding="utf-8").splitlines()):
        item = json.loads(raw)
        category, text = item["category"], item["text"]
        message = make_message(
            id=str(i), platform=Platform.CLI, author=f"member{i}", channel="general",
            text=text, ts=t0 + timedelta(minutes=i),
        )  # fmt: skip
        verdict = engine.evaluate(message)
        # what deletes or adds points: an enforced hit with points or more than a notice
        enforced = [
            h.rule_id
            for h in verdict.hits
            if h.mode is Mode.ENFORCE
            and (h.points or any(a.kind != "notify" for a in rules[h.rule_id].actions))
        ]
        report.total[category] = report.total.get(category, 0) + 1
        if category in INNOCENT:
            hit = bool(enforced)
            if not hit and verdict.hits:
                report.notified[category] = report.notified.get(category, 0) + 1
        else:
            hit = bool(CATCHERS[category].intersection(enforced))
        if hit:
            report.caught[category] = report.caught.get(category, 0) + 1
        if hit == (category in INNOCENT):
            report.misses.append((category, text, [h.rule_id for h in verdict.hits]))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, default=ROOT / "config.example.toml")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--show", action="store_true", help="list every miss and false alarm")
    args = parser.parse_args()
    report = evaluate(args.config, args.data)
    print(f"{'category':16} {'messages':>8} {'caught':>8} {'recall':>8}")
    for category in CATCHERS:
        if category in report.total:
            caught = report.caught.get(category, 0)
            print(f"{category:16} {report.total[category]:>8} {caught:>8} "
                  f"{report.recall(category):>8.3f}")  # fmt: skip
    for category in INNOCENT:
        n, fp = report.total.get(category, 0), report.caught.get(category, 0)
        note = report.notified.get(category, 0)
        print(f"{category:16} {n:>8} enforced hits {fp} ({fp / max(n, 1):.2%}); "
              f"observe/notify-only hits {note}")  # fmt: skip
    if args.show:
        for category, text, hits in report.misses:
            print(f"{category:16} {text!r} {hits}")


if __name__ == "__main__":
    main()
