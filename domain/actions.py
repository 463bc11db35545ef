"""One name per kind of action, and whom an action is carried out on.

The kind names are the outbox's ``kind`` column (the schema's CHECK lists the same names),
the policy's action words and the names in `rules eval` output.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum, StrEnum

from domain.model import (
    Account,
    Action,
    Ban,
    DeleteMessage,
    Mute,
    NotifyModerators,
    PauseDms,
    Remove,
    ResumeDms,
    Tell,
    Unban,
    Unmute,
    Warn,
)


class ActionKind(StrEnum):
    """The outbox's ``kind`` column (the schema's CHECK lists the same names)."""

    WARN = "warn"
    MUTE = "mute"
    UNMUTE = "unmute"
    REMOVE = "remove"
    BAN = "ban"
    UNBAN = "unban"
    DELETE = "delete"
    NOTIFY = "notify"
    TELL = "tell"
    PAUSE_DMS = "pause-dms"
    RESUME_DMS = "resume-dms"


def action_kind(action: Action) -> ActionKind:
    """The outbox kind of a model action."""
    match action:
        case Warn():
            return ActionKind.WARN
        case Mute():
            return ActionKind.MUTE
        case Unmute():
            return ActionKind.UNMUTE
        case Remove():
            return ActionKind.REMOVE
        case Ban():
            return ActionKind.BAN
        case Unban():
            return ActionKind.UNBAN
        case DeleteMessage():
            return ActionKind.DELETE
        case NotifyModerators():
            return ActionKind.NOTIFY
        case Tell():
            return ActionKind.TELL
        case PauseDms():
            return ActionKind.PAUSE_DMS
        case ResumeDms():
            return ActionKind.RESUME_DMS
    raise TypeError(f"not an action: {action!r}")


def action_target(action: Action) -> Account | None:
    """The account an action is carried out on, if it has one."""
    match action:
        case Warn() | Mute() | Unmute() | Remove() | Ban() | Unban() | Tell():
            return action.target
    return None


class Urgency(IntEnum):
    """How soon an action must run when many wait (lowest first): during a raid the content
    goes first, then what stops the member, then what tells them, then the moderators."""

    REMOVAL = 0  # delete the message
    SANCTION = 1  # mute, ban, remove, and the unmute and unban that end them
    WARNING = 2  # warn, and private words to a member
    NOTICE = 3  # tell the moderators


URGENCY: Mapping[ActionKind, Urgency] = {
    ActionKind.DELETE: Urgency.REMOVAL,
    ActionKind.MUTE: Urgency.SANCTION,
    ActionKind.BAN: Urgency.SANCTION,
    ActionKind.REMOVE: Urgency.SANCTION,
    ActionKind.UNMUTE: Urgency.SANCTION,
    ActionKind.UNBAN: Urgency.SANCTION,
    ActionKind.PAUSE_DMS: Urgency.SANCTION,  # a raid measure
    ActionKind.RESUME_DMS: Urgency.SANCTION,
    ActionKind.WARN: Urgency.WARNING,
    ActionKind.TELL: Urgency.WARNING,
    ActionKind.NOTIFY: Urgency.NOTICE,
}

# What the one writer hands to the worker itself as its case commits: removals of content,
# which no other action has to precede.
HANDED_OVER = frozenset(kind for kind, urgency in URGENCY.items() if urgency is Urgency.REMOVAL)
