"""Every verdict of the engine on the benchmark corpus and the labelled set, as one digest.

Usage: .venv/bin/python scripts/verdict_digest.py [--messages N] [--dump FILE]

A change meant only to make the engine faster must not change what it decides. Run this
before and after: the digests must be equal. ``--dump`` writes every verdict (one JSON line
per message and policy) so that two dumps can be compared line by line when they differ.
Policies: the example policy, and the example policy plus the benchmark's 200 regex rules
and 2,000 keywords; texts: the benchmark's distinct corpus, the labelled evaluation set and
the worst-case 8 KB messages, all in one stream per policy (the windows see them in order).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_engine import EXAMPLE, as_messages, large_rules, worst_messages
from chat_corpus import distinct_corpus

from bridge.config import load_settings, parse_settings
from bridge.evaluate import verdict_to_json
from rules.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
LABELLED = ROOT / "tests" / "data" / "conduct_eval.jsonl"


def texts(count: int) -> list[str]:
    """The corpus, then the labelled set, then the 8 KB shapes."""
    corpus = distinct_corpus(count)
    labelled = [json.loads(line)["text"] for line in LABELLED.read_text("utf-8").splitlines()]
    return [*corpus, *labelled, *worst_messages(corpus[:200]).values()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--dump", type=Path)
    args = parser.parse_args()
    messages = as_messages(texts(args.messages))
    example = EXAMPLE.read_text(encoding="utf-8")
    policies = {
        "example": load_settings(EXAMPLE).policy,
        "example+large": parse_settings(example + "\n" + large_rules()[0]).policy,
    }
    digest = hashlib.sha256()
    dump = args.dump.open("w", encoding="utf-8") if args.dump else None
    for name, policy in policies.items():
        engine = Engine(policy)
        for message in messages:
            verdict = engine.evaluate(message)
            line = json.dumps(
                {"policy": name, **verdict_to_json(message.id, verdict), "notes": verdict.notes},
                ensure_ascii=False,
                sort_keys=True,
            )
            digest.update(line.encode("utf-8"))
            if dump is not None:
                dump.write(line + "\n")
    if dump is not None:
        dump.close()
    print(f"{len(messages)} messages x {len(policies)} policies: {digest.hexdigest()}")


if __name__ == "__main__":
    main()
