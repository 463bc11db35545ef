"""The example policy on the labelled evaluation set (tests/data/conduct_eval.jsonl).

Recall per category of the code of conduct, false positives on clean chatter, and the
false alarms members hit before. A change that loses recall or adds false alarms fails here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("eval_rules", ROOT / "scripts" / "eval_rules.py")
assert _spec is not None
assert _spec.loader is not None
eval_rules = importlib.util.module_from_spec(_spec)
sys.modules["eval_rules"] = eval_rules
_spec.loader.exec_module(eval_rules)

# False alarms that deleted messages and added points: none may be enforced again.
NAMED_FALSE_ALARMS = (
    "nudes exhibition", "fag end", "kill the process", "order #0712345678", "invoice 07",
    "ticket id is 07", "renaissance room had nudes",
)  # fmt: skip


@pytest.fixture(scope="module")
def report() -> eval_rules.Report:
    return eval_rules.evaluate()


def test_the_set_is_large_enough_and_covers_every_enforced_category(
    report: eval_rules.Report,
) -> None:
    assert sum(report.total.values()) >= 2000
    assert report.total["clean"] >= 1000
    assert set(eval_rules.CATCHERS) <= set(report.total)


@pytest.mark.parametrize("category", sorted(eval_rules.CATCHERS))
def test_recall_per_category_is_at_least_95_percent(
    report: eval_rules.Report, category: str
) -> None:
    missed = [text for cat, text, _ in report.misses if cat == category]
    assert report.recall(category) >= 0.95, missed


def test_false_positives_on_clean_chatter_are_at_most_half_a_percent(
    report: eval_rules.Report,
) -> None:
    flagged = [text for cat, text, _ in report.misses if cat == "clean"]
    assert report.caught.get("clean", 0) / report.total["clean"] <= 0.005, flagged


def test_no_named_false_alarm_is_enforced(report: eval_rules.Report) -> None:
    enforced = [text for cat, text, _ in report.misses if cat == "false-alarm"]
    assert [t for t in enforced if any(n in t for n in NAMED_FALSE_ALARMS)] == []
