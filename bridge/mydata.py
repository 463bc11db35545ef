"""``my data``: a member's own view of what modbridge holds about their accounts.

Answered in the member's direct conversation with the bot only (the conversation refuses
anything private in a group). It lists their linked accounts, their DM consent, the cases
about them with their state, and the reports they made -- never a case's evidence, a report's
words, or who reported them.
"""

from __future__ import annotations

from datetime import datetime

from domain.records import Holdings

MY_DATA = "my data"

_ORIGIN = {"rule": "rule {origin}", "moderator": "a moderator", "report": "a member's report"}


def _day(when: datetime) -> str:
    return when.strftime("%Y-%m-%d")


def describe(holdings: Holdings | None, retention_days: int) -> str:
    """The answer to ``my data`` for the member whose holdings these are."""
    if holdings is None:
        return "modbridge holds nothing about this account."
    lines = ["What modbridge holds about you:"]
    lines.append("Accounts (linked as one member): " +
                 ", ".join(a.key for a in holdings.accounts))  # fmt: skip
    default = holdings.dm_default or "not chosen (the community's default applies)"
    lines.append(f"Direct messages from other members: {default}")
    if holdings.dm_allowed:
        lines.append("You accept DMs from: " + ", ".join(a.key for a in holdings.dm_allowed))
    if holdings.cases:
        lines.append("Cases about you:")
        for case in holdings.cases:
            opened_by = _ORIGIN.get(case.origin_kind, case.origin_kind).format(origin=case.origin)
            lines.append(f"  #{case.id} ({_day(case.created_at)}, from {opened_by}): "
                         f"{case.status}")  # fmt: skip
    else:
        lines.append("Cases about you: none")
    for kind, until in holdings.sanctions:
        lines.append(f"In force: {kind} " + (f"until {_day(until)}" if until else "until lifted"))
    if holdings.reports:
        lines.append("Reports you made:")
        for case_id, status, when in holdings.reports:
            lines.append(f"  case #{case_id} ({_day(when)}): {status}")
    else:
        lines.append("Reports you made: none")
    lines.append(
        f"Excerpts of messages and report texts are deleted {retention_days} days after their "
        "case is closed. To have your data erased, ask the community's admins."
    )
    return "\n".join(lines)
