"""The `modbridge` command line."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import TextIO

from bridge.config import ConfigError, Settings, load_settings, missing_secrets
from bridge.evaluate import describe, evaluate_lines, evaluate_lines_json, make_message
from bridge.logs import LOG_FORMATS, LOG_LEVELS, configure
from domain.durations import format_duration
from domain.model import Platform
from rules.engine import Engine

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modbridge",
        description="One code of conduct, enforced across Discord servers and Matrix rooms.",
    )
    parser.add_argument("--version", action="version", version=f"modbridge {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check-config", help="validate a config file and summarise it")
    check.add_argument("path", type=Path)

    run = sub.add_parser("run", help="run the moderation service")
    run.add_argument("--config", type=Path, required=True)
    run.add_argument(
        "--log-level", type=str.upper, choices=LOG_LEVELS,
        default=os.environ.get("MODBRIDGE_LOG_LEVEL", "INFO").upper(),
        help="DEBUG, INFO (default), WARNING or ERROR; or MODBRIDGE_LOG_LEVEL",
    )  # fmt: skip
    run.add_argument(
        "--log-format", type=str.lower, choices=LOG_FORMATS,
        default=os.environ.get("MODBRIDGE_LOG_FORMAT", "text").lower(),
        help="text (default) or json, one object a line; or MODBRIDGE_LOG_FORMAT",
    )  # fmt: skip
    run.add_argument(
        "--dry-run", action="store_true",
        help="judge, record and tell the moderators, but do nothing on the platforms",
    )  # fmt: skip

    save = sub.add_parser("backup", help="a consistent copy of the database, while it runs")
    save.add_argument("--config", type=Path, required=True)
    save.add_argument("out", type=Path, help="the backup file to write, or a directory")
    back = sub.add_parser("restore", help="put a backup in place (the service stopped)")
    back.add_argument("--config", type=Path, required=True)
    back.add_argument("backup", type=Path, help="a file written by `modbridge backup`")
    erase = sub.add_parser("erase", help="an erasure request: remove a member's data")
    erase.add_argument("--config", type=Path, required=True)
    erase.add_argument("account", help="matrix:@user:server or discord:<user id>")

    sub.add_parser(
        "demo",
        help="watch the service moderate a local Synapse and a simulated Discord (no accounts)",
    )

    rules = sub.add_parser("rules", help="try the policy on text")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    test = rules_sub.add_parser("test", help="which rules hit one message, and what would be done")
    test.add_argument("--config", type=Path, required=True)
    test.add_argument("text")
    ev = rules_sub.add_parser("eval", help="evaluate JSON Lines messages, one result per line")
    ev.add_argument("--config", type=Path, required=True)
    ev.add_argument("--input", type=Path, help="JSON Lines file (default: standard input)")
    ev.add_argument("--output", type=Path, help="result file (default: standard output)")
    replay = rules_sub.add_parser(
        "replay", help="play a sample conversation through the engine and narrate it"
    )
    replay.add_argument("--config", type=Path, default=Path("config.example.toml"))
    replay.add_argument("input", type=Path, nargs="?", help="JSON Lines (default: built-in)")
    return parser


def _summary(settings: Settings, path: Path) -> list[str]:
    policy = settings.policy
    lines = [f"{path}: OK", f"community: {settings.community.name}"]
    kinds = Counter(rule.kind for rule in policy.rules)
    lines.append(
        f"{len(policy.rules)} rules ("
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        + ")"
    )
    for rule in policy.rules:
        actions = ", ".join(str(a) for a in rule.actions) or "nothing"
        mode = "" if rule.mode.value == "enforce" else " [observe only]"
        lines.append(f"  {rule.id} ({rule.kind}, {rule.points} points): {actions}{mode}")
        lines.append(f"      enforces: {rule.clause}")
    esc = policy.escalation
    ladder = " -> ".join(f"{s.points} points: {s.action}" for s in esc.ladder)
    lines.append(f"escalation: {ladder}; points expire after {format_duration(esc.decay)}")
    platforms = [
        name
        for name, section in (("matrix", settings.matrix), ("discord", settings.discord))
        if section is not None
    ]
    lines.append(f"platforms: {', '.join(platforms) or 'none configured'}")
    return lines


def _rules_test(engine: Engine, text: str, out: TextIO) -> int:
    message = make_message(
        id="cli", platform=Platform.CLI, author="you", channel="cli", text=text,
        ts=datetime.now(UTC),
    )  # fmt: skip
    for line in describe(engine.evaluate(message)):
        print(line, file=out)
    return 0


def _reads_a_file(source: TextIO) -> bool:
    """Whether ``source`` is a regular file (``--input``, ``< file``), never waiting on input."""
    try:
        return stat.S_ISREG(os.fstat(source.fileno()).st_mode)
    except (OSError, ValueError):  # a StringIO has no file descriptor
        return False


def _rules_eval(engine: Engine, source: TextIO, out: TextIO) -> int:
    status = 0
    # A pipe or terminal may wait for each answer before it sends the next line: flush every
    # result then. Read from a file, results go out in buffered blocks (one write per line
    # cost more than judging the line).
    each_line = not _reads_a_file(source)
    for error, answer in evaluate_lines_json(engine, source):
        if error:
            status = 1
        out.write(answer + "\n")
        if each_line:
            out.flush()
    out.flush()
    return status


def _rules_replay(engine: Engine, path: Path | None, out: TextIO) -> int:
    if path is None:
        text = resources.files("bridge").joinpath("data/sample-conversation.jsonl").read_text()
    else:
        text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    by_id = {}
    for raw in lines:
        if raw.strip():
            item = json.loads(raw)
            by_id[str(item.get("id"))] = item
    for result in evaluate_lines(engine, lines):
        if "error" in result:
            print(f"line {result['line']}: {result['error']}", file=out)
            continue
        item = by_id.get(str(result["id"]), {})
        print(f"<{item.get('author')}> {item.get('text')}", file=out)
        for hit in result["hits"]:
            print(f"    ! {hit['rule']} ({hit['kind']}): {hit['clause']}", file=out)
        for action in result["actions"]:
            detail = {k: v for k, v in action.items() if k != "action"}
            print(f"    -> {action['action']} {json.dumps(detail) if detail else ''}", file=out)
        for action in result["observed"]:
            print(f"    (observe mode: would {action['action']})", file=out)
    return 0


def _version() -> str:
    try:
        return metadata.version("modbridge")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _run(path: Path, level: str, log_format: str, dry_run: bool) -> int:
    # The service (and with it discord.py, nio, aiohttp) is imported only here: `rules` and
    # `check-config` start without it.
    import asyncio

    from bridge.service import Service

    # argparse checks choices on the command line only, not on defaults from the environment.
    if level not in LOG_LEVELS:
        raise ConfigError(f"MODBRIDGE_LOG_LEVEL: {level!r} is not one of {', '.join(LOG_LEVELS)}")
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"MODBRIDGE_LOG_FORMAT: {log_format!r} is not one of text, json")
    configure(level, log_format, sys.stderr)
    settings = load_settings(path)
    service = Service(settings, path, dry_run=dry_run)
    asyncio.run(service.run())
    return 0


def _admin(args: argparse.Namespace) -> int:
    # Storage and the service are imported only for these commands, as for `run`.
    from cli.admin import backup_command, erase_command, restore_command

    if args.command == "backup":
        return backup_command(args.config, args.out, sys.stdout)
    if args.command == "restore":
        return restore_command(args.config, args.backup, sys.stdout)
    return erase_command(args.config, args.account, sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `modbridge` console command."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args.config, args.log_level, args.log_format, args.dry_run)
        if args.command in ("backup", "restore", "erase"):
            return _admin(args)
        if args.command == "demo":
            from devtools.demo import run_demo

            return run_demo(sys.stdout)
        if args.command == "check-config":
            settings = load_settings(args.path)
            print("\n".join(_summary(settings, args.path)))
            for missing in missing_secrets(settings):
                print(f"warning: `modbridge run` will refuse to start: {missing}")
            return 0
        engine = Engine(load_settings(args.config).policy)
    except ConfigError as exc:
        print(f"modbridge: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.rules_command == "test":
        return _rules_test(engine, args.text, sys.stdout)
    if args.rules_command == "replay":
        return _rules_replay(engine, args.input, sys.stdout)
    with ExitStack() as stack:
        try:
            source = (
                # bytes that are not UTF-8 reach the line's reader (an error answer for that
                # line), as they do through a pipe, instead of stopping the whole run
                stack.enter_context(args.input.open(encoding="utf-8", errors="surrogateescape"))
                if args.input
                else sys.stdin
            )
            out = (
                stack.enter_context(args.output.open("w", encoding="utf-8"))
                if args.output
                else sys.stdout
            )
        except OSError as exc:
            print(f"modbridge: cannot open {exc.filename}: {exc.strerror}", file=sys.stderr)
            return EXIT_CONFIG
        return _rules_eval(engine, source, out)


if __name__ == "__main__":
    sys.exit(main())
