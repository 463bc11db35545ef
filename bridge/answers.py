"""What moderators read back: what happened where, per platform and space, by name.

Failures first, then what is still being retried, then what was done; one line per space,
or, past ``LIST_LIMIT`` spaces of one platform, one line counting them (with one of the
errors). Discord clips an answer at 2000 characters, and a failure must not be what gets
cut off.
"""

from __future__ import annotations

import re

from bridge.names import PLATFORM_NAMES, Names
from domain.model import DeleteMessage, NotifyModerators, Platform, Tell
from domain.records import ActionRow, ActionState

LIST_LIMIT = 10
_PURGED = re.compile(r"(\d+) messages? (?:removed|redacted)|messages of the last \S+ deleted")
_KIND_NAMES = {
    "remove": "kick", "notify": "notice", "pause-dms": "pause DMs", "resume-dms": "resume DMs",
}  # fmt: skip


def summarise(rows: list[ActionRow], names: Names | None = None) -> list[str]:
    """The answer's lines about ``rows`` (a case's actions)."""
    names = names or Names()
    groups: dict[tuple[ActionState, str, str], list[ActionRow]] = {}
    for row in rows:
        # Notices and the modlog, and private words to reporters or admins (never shown).
        if not isinstance(row.action, NotifyModerators | Tell):
            groups.setdefault((row.state, row.kind, row.platform.value), []).append(row)
    lines = []
    for state in (ActionState.FAILED, ActionState.PENDING, ActionState.DONE):
        for (in_state, kind, platform), group in groups.items():
            if in_state is state:
                lines.extend(_summary_lines(state, kind, platform, group, names))
    return lines


def _summary_lines(
    state: ActionState, kind: str, platform: str, rows: list[ActionRow], names: Names
) -> list[str]:
    head = {
        ActionState.DONE: "done",
        ActionState.FAILED: "FAILED",
        ActionState.PENDING: "pending, will retry",
    }[state]
    kind = _KIND_NAMES.get(kind, kind)
    label = PLATFORM_NAMES.get(rows[0].platform, platform)
    if len(rows) > LIST_LIMIT:
        unit = "guilds" if platform == "discord" else "rooms"
        where = f"{len(rows)} {label} {unit}"
        error = next((r.last_error for r in rows if r.last_error), None)
        unchanged = sum(1 for r in rows if state is ActionState.DONE and was_already(r))
        purged = sum(_purged_count(r) for r in rows)
        extra = f"e.g. {error}" if error else f"{unchanged} already so" if unchanged else ""
        if purged:
            extra = ", ".join(x for x in (extra, f"{purged} messages removed") if x)
        return [f"  {head}: {kind} in {where}" + (f" ({extra})" if extra else "")]
    lines = []
    for row in rows:
        space = names.space(row.platform, _where(row))
        where = f"{space} ({label})" if row.space_id else f"a direct message ({label})"
        if state is ActionState.FAILED:
            lines.append(f"  {head}: {kind} in {where}: {row.last_error}")
        elif state is ActionState.PENDING and row.last_error:
            lines.append(f"  {head}: {kind} in {where} (last error: {row.last_error})")
        elif state is ActionState.DONE and was_already(row):
            purge = _purge_words(row)
            extra = f"already so; {purge}" if purge else "already so: nothing changed"
            lines.append(f"  {head}: {kind} in {where} ({extra})")
        else:
            purge = _purge_words(row)
            lines.append(f"  {head}: {kind} in {where}" + (f" ({purge})" if purge else ""))
    return lines


def _where(row: ActionRow) -> str:
    """The space to name: a deleted message's channel (``#general in OpenInfra KE``)."""
    action = row.action
    if isinstance(action, DeleteMessage) and action.platform is Platform.DISCORD:
        return action.channel_id
    return row.space_id


def _purge_words(row: ActionRow) -> str:
    """What a ban's purge removed there, as the executor said it."""
    match = _PURGED.search(row.result or "")
    return match.group(0) if match else ""


def _purged_count(row: ActionRow) -> int:
    match = _PURGED.search(row.result or "")
    return int(match.group(1)) if match and match.group(1) else 0


def was_already(row: ActionRow) -> bool:
    """The platform was already as asked (another case, or a moderator by hand, got there
    first): the executors say so in the result they return."""
    return " already " in (row.result or "")
