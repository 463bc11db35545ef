"""DM consent: whether a direct-message invite between two members may go through. Pure.

The code of conduct says members must not reach out to others outside community platforms
unless invited. The homeserver asks about every invite (see :mod:`bridge.antispam` for how
the facts are gathered and :mod:`adapters.matrix.antispam_http` for the transport); this is
the decision itself: DM invites between members need the invitee's consent, invites into
ordinary rooms and invites from or to outsiders are not ours to judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    """Why an invite is allowed, or that it is refused."""

    NOT_DIRECT = "not_direct"  # an invite into an ordinary room
    OUTSIDER = "outsider"  # the inviter or the invitee is not a community member
    CONSENT = "consent"  # the invitee consented, or their default is open
    REFUSED = "no_consent"

    @property
    def allowed(self) -> bool:
        """Whether the homeserver should let the invite through."""
        return self is not Verdict.REFUSED


@dataclass(frozen=True, slots=True, kw_only=True)
class InviteFacts:
    """What the decision needs to know about one invite."""

    direct: bool
    inviter_is_member: bool
    invitee_is_member: bool
    consented: bool  # the invitee accepts DMs from the inviter (or by default)


def decide(facts: InviteFacts) -> Verdict:
    """The decision: DM invites between members need the invitee's consent."""
    if not facts.direct:
        return Verdict.NOT_DIRECT
    if not (facts.inviter_is_member and facts.invitee_is_member):
        return Verdict.OUTSIDER
    return Verdict.CONSENT if facts.consented else Verdict.REFUSED


def refusal_text(invitee: str) -> str:
    """What the inviter reads when the homeserver refuses the invite."""
    return (
        f"{invitee} does not accept direct messages from members they have not invited; "
        "ask in a community room first"
    )
