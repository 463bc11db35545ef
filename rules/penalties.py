"""Penalties for conduct the engine did not judge as a message: points earned elsewhere (a
message the platform blocked by itself, a proven unsolicited direct message) and what they
lead to on the escalation ladder.

Pure: the caller reads the member's live points from storage (the one record of them) and
hands them in as ``before``; nothing here keeps points of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.model import Account, Action, NotifyModerators, Warn
from rules.engine import plain_reason, sanction_for
from rules.escalation import ladder_step
from rules.policy import ActionSpec, Escalation, Policy

DM_REASON = "contacting a member outside community spaces without being invited"


def escalation_actions(
    escalation: Escalation,
    *,
    before: int,
    points: int,
    target: Account,
    rule_id: str,
    now: datetime,
) -> tuple[Action, ...]:
    """What ``points`` more for ``rule_id`` lead to for a member who had ``before`` live
    points: the ladder's step they cross, if any (they count like a judged message's)."""
    step = ladder_step(escalation, before, before + points)
    if step is None:
        return ()
    reason = f"{rule_id}: escalation"
    if step.kind == "warn":
        return (Warn(target=target, reason=reason),)
    action = sanction_for(step, target, now, reason)
    return () if action is None else (action,)


def blocked_hit_actions(
    policy: Policy,
    rule_id: str,
    *,
    author: Account,
    channel_id: str,
    before: int,
    now: datetime,
) -> tuple[Action, ...] | None:
    """A message the platform blocked by itself (Discord AutoMod) for one of our rules: the
    hit counts like any other (the ladder's step, a warning if the rule warns, the rule's own
    mute, removal or ban, the moderators told); there is no message left to delete. None
    when ``rule_id`` is not one of the policy's rules."""
    rule = next((r for r in policy.rules if r.id == rule_id), None)
    if rule is None:
        return None
    actions: list[Action] = []
    if rule.points:
        actions += escalation_actions(
            policy.escalation, before=before, points=rule.points, target=author,
            rule_id=rule.id, now=now,
        )  # fmt: skip
    if any(spec.kind == "warn" for spec in rule.actions):
        # The member reads this: the rule's plain reason, as for any hit, not its id.
        actions.append(Warn(target=author, reason=plain_reason(rule), clause=rule.clause))
    for spec in rule.actions:
        action = sanction_for(spec, author, now, f"{rule.id}: blocked")
        if action is not None:
            actions.append(action)
    actions.append(
        NotifyModerators(
            text=f"{author.key} in {channel_id}: {rule.id} ({rule.clause}), "
            "blocked by Discord AutoMod"
        )
    )
    return tuple(actions)


def unsolicited_dm_actions(
    specs: Sequence[ActionSpec], *, clause: str, target: Account, now: datetime
) -> list[Action]:
    """The DM rule's own actions for a proven unsolicited direct message (a warning with the
    rule's clause, a mute); the ladder's step for its points comes from
    :func:`escalation_actions`."""
    actions: list[Action] = []
    for spec in specs:
        if spec.kind == "warn":
            actions.append(Warn(target=target, reason=DM_REASON, clause=clause))
        elif spec.kind == "mute" and (mute := sanction_for(spec, target, now, DM_REASON)):
            actions.append(mute)
    return actions
