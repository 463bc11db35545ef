"""Planning: an action on a member becomes one outbox entry per (account, space).

Pure functions. Every entry gets an idempotency key derived from what caused it (a message,
a moderator's command, a timer) and the action's kind (:class:`domain.actions.ActionKind`, the
one name of each kind), so planning the same cause twice enqueues nothing new.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from domain.actions import action_kind
from domain.model import (
    LIST_SPACE_PREFIX,
    Account,
    Action,
    Ban,
    DeleteMessage,
    Mute,
    NotifyModerators,
    PauseDms,
    Platform,
    Remove,
    ResumeDms,
    Tell,
    Unban,
    Unmute,
    Warn,
)

# Actions that apply in every protected space of the member's platform.
SPACE_WIDE = (Mute, Unmute, Remove, Ban, Unban)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlannedAction:
    """One action in one space; ``key`` makes enqueueing it idempotent."""

    key: str
    platform: Platform
    space_id: str
    action: Action


@dataclass(frozen=True, slots=True, kw_only=True)
class Community:
    """Where modbridge acts: protected spaces and the moderators' room per platform."""

    spaces: Mapping[Platform, Sequence[str]]
    mod_rooms: Mapping[Platform, Sequence[str]]
    # The moderators' rooms and channels that keep the modlog; None: all of them.
    modlog_rooms: Mapping[Platform, Sequence[str]] | None = None
    publish_list: str | None = None  # the Matrix policy list room bans are published to

    def modlog(self) -> Mapping[Platform, Sequence[str]]:
        """Where modlog lines go."""
        return self.mod_rooms if self.modlog_rooms is None else self.modlog_rooms


def plan(
    origin: str,
    actions: Sequence[Action],
    *,
    community: Community,
    accounts: Sequence[Account] = (),
    message_space: str | None = None,
    publish: bool = True,
) -> list[PlannedAction]:
    """Fan ``actions`` out over the member's ``accounts`` and the community's spaces.

    ``origin`` names the cause (``msg:matrix:$event``, ``cmd:discord:123``); ``accounts`` are
    every account linked to the target (the target itself when empty); ``message_space`` is
    the space a deleted message lives in. With ``publish`` and a ``publish_list``, a ban or
    unban of a Matrix account is also written to (or removed from) that policy list.
    """
    planned: list[PlannedAction] = []
    for action in actions:
        kind = action_kind(action).value
        if isinstance(action, DeleteMessage):
            space = message_space or action.channel_id
            planned.append(
                PlannedAction(
                    key=f"{origin}:{kind}:{action.platform.value}:{action.message_id}",
                    platform=action.platform,
                    space_id=space,
                    action=action,
                )
            )
        elif isinstance(action, NotifyModerators):
            # A case's modlog line and its notice may go to the same room: keys apart.
            label = "modlog" if action.modlog else kind
            rooms_of = community.modlog() if action.modlog else community.mod_rooms
            planned.extend(
                PlannedAction(
                    key=f"{origin}:{label}:{platform.value}:{room}",
                    platform=platform,
                    space_id=room,
                    action=action,
                )
                for platform, rooms in rooms_of.items()
                for room in rooms
            )
        elif isinstance(action, PauseDms | ResumeDms):
            # Discord's incident action, in the one guild it names (Matrix has none).
            planned.append(
                PlannedAction(
                    key=f"{origin}:{kind}:{Platform.DISCORD.value}:{action.space_id}",
                    platform=Platform.DISCORD,
                    space_id=action.space_id,
                    action=action,
                )
            )
        elif isinstance(action, Warn | Tell):
            # A warning (or a private word) reaches the member once, on the account addressed.
            planned.append(
                PlannedAction(
                    key=f"{origin}:{kind}:{action.target.key}",
                    platform=action.target.platform,
                    space_id="",
                    action=action,
                )
            )
        elif isinstance(action, SPACE_WIDE):
            planned.extend(
                PlannedAction(
                    key=f"{origin}:{kind}:{account.key}:{space}",
                    platform=account.platform,
                    space_id=space,
                    action=replace(action, target=account),
                )
                for account in accounts or (action.target,)
                for space in community.spaces.get(account.platform, ())
            )
            if publish and community.publish_list and isinstance(action, Ban | Unban):
                planned.extend(_published(origin, action, accounts, community.publish_list))
    return planned


def _published(
    origin: str, action: Ban | Unban, accounts: Sequence[Account], room: str
) -> list[PlannedAction]:
    """The policy-list entries of a ban or unban: Matrix accounts only (a list names Matrix
    users); a timed ban is listed too, and unlisted when its timer unbans."""
    return [
        PlannedAction(
            key=f"{origin}:publish-{action_kind(action).value}:{account.key}",
            platform=Platform.MATRIX,
            space_id=LIST_SPACE_PREFIX + room,
            action=replace(action, target=account),
        )
        for account in accounts or (action.target,)
        if account.platform is Platform.MATRIX
    ]
