"""DM consent on the community's homeservers: the core's side of Synapse's spam checker.

The code of conduct says members must not reach out to others outside community platforms
unless invited. A moderation bot cannot see DM invites between other users; the homeserver
can, and asks (the HTTP transport is :mod:`adapters.matrix.antispam_http`, which also tells
DM invites from ordinary ones). Here the facts about one invite are gathered from storage,
:func:`rules.consent.decide` decides, and what was decided is recorded.

Who is a member, and consent
    A member is a Matrix account modbridge knows (the ``accounts`` table) or any user on one
    of ``[antispam] community_servers``; invites from or to anyone else are allowed. Consent
    is per member (linked accounts share it): ``ConsentFile.may_dm`` with the member's
    own default, else ``[antispam] default`` ("closed" follows the code of conduct). The bot's
    own accounts are always reachable (reports) and may always reach members (warnings).

What is recorded
    Every DM invite between members is in the audit log (``dm_invite_allowed`` /
    ``dm_invite_refused``, with who invited whom, for admins only); the log line names no
    one, since a member opening a DM with the bot may be starting a confidential report. In a
    dry run nothing is refused: a would-be refusal is recorded and the moderators are told,
    without names.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bridge.config import AntispamConfig
from bridge.dryrun import DRY_RUN, mark
from domain.model import Account, Platform
from domain.records import DmPolicy
from domain.storage_ports import AuditStore, ConsentFile, MemberFile
from rules.consent import InviteFacts, Verdict, decide, refusal_text

log = logging.getLogger(__name__)


class DmConsent:
    """Decides the homeserver's invites (:class:`domain.ports.InviteGate`)."""

    def __init__(
        self,
        *,
        identity: MemberFile,
        consent: ConsentFile,
        audit: AuditStore,
        config: AntispamConfig,
        on_direct_invite: Callable[[Account, Account], Awaitable[None]] | None = None,
        bots: frozenset[str] = frozenset(),
        dry_run: bool = False,
        tell_moderators: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._identity = identity
        self._consent = consent
        self._audit = audit
        self._on_direct_invite = on_direct_invite
        self._bots = bots  # the bot's own Matrix user ids
        # A dry run refuses nothing on the homeserver: it records and tells what it would.
        self._dry_run = dry_run
        self._tell_moderators = tell_moderators
        self._servers = frozenset(s.lower() for s in config.community_servers)
        self._fallback = DmPolicy(config.default)

    async def may_invite(
        self, inviter: str, invitee: str, room_id: str, *, direct: bool
    ) -> str | None:
        """Decide one invite and record it; None lets it through, else the refusal text."""
        verdict = await self.verdict(inviter, invitee, direct=direct)
        dry = self._dry_run and not verdict.allowed
        # No user ids: a member opening a DM with the bot may be starting a confidential
        # report; who invited whom is in the audit log, which only admins read.
        log.info(
            "antispam: %s invite in %s: %s",
            "allowed" if verdict.allowed else f"{DRY_RUN} would have refused" if dry
            else "refused", room_id or "a new room", verdict.value,
        )  # fmt: skip
        if verdict in (Verdict.CONSENT, Verdict.REFUSED):
            await self._record(inviter, invitee, room_id, verdict, dry=dry)
        if verdict.allowed:
            return None
        if dry:
            if self._tell_moderators is not None:
                # Who invited whom stays out of it, as with live refusals (audit log only).
                await self._tell_moderators(mark(
                    "would have refused a direct-message invite between two members "
                    "(no consent); it was let through. Who is in the audit log."
                ))  # fmt: skip
            return None
        return refusal_text(invitee)

    async def verdict(self, inviter: str, invitee: str, *, direct: bool) -> Verdict:
        """Gather the facts about one invite from storage and decide."""
        if not direct or inviter in self._bots or invitee in self._bots:
            # Members must always reach the bot (reports) and the bot them (warnings).
            return decide(_facts(direct=False))
        inviter_member, inviter_known = await self._member(inviter)
        invitee_member, invitee_known = await self._member(invitee)
        if not (inviter_known and invitee_known):
            return decide(_facts(direct=True, inviter=inviter_known, invitee=invitee_known))
        if invitee_member is None:  # never seen: no choice of their own, no consent given
            consented = self._fallback is DmPolicy.OPEN
        elif inviter_member is None:  # the invitee cannot have allowed an unknown account
            own = await self._consent.default(invitee_member)
            consented = (own or self._fallback) is DmPolicy.OPEN
        else:
            consented = await self._consent.may_dm(
                inviter_member, invitee_member, fallback=self._fallback
            )
        return decide(InviteFacts(
            direct=True, inviter_is_member=True, invitee_is_member=True, consented=consented
        ))  # fmt: skip

    async def _member(self, user_id: str) -> tuple[int | None, bool]:
        """The member id behind a Matrix account (None if unknown), and whether it is one of
        the community's members."""
        row = await self._identity.get(Account(platform=Platform.MATRIX, id=user_id))
        if row is not None:
            return row.member_id, True
        server = user_id.split(":", 1)[1].lower()
        return None, server in self._servers

    async def _record(
        self, inviter: str, invitee: str, room_id: str, verdict: Verdict, *, dry: bool
    ) -> None:
        """The audit record of a DM invite between members, and the retaliation watch."""
        inviter_account = Account(platform=Platform.MATRIX, id=inviter)
        invitee_account = Account(platform=Platform.MATRIX, id=invitee)
        inviter_key, invitee_key = inviter_account.key, invitee_account.key
        if self._on_direct_invite is not None:
            # Retaliation watch: a reported member inviting their reporter is flagged.
            await self._on_direct_invite(inviter_account, invitee_account)
        await self._audit.append(
            inviter_key,
            "dm_invite_allowed" if verdict.allowed else "dm_invite_refused",
            invitee_key,
            {"inviter": inviter_key, "invitee": invitee_key, "room_id": room_id,
             "why": verdict.value, **({"dry_run": True} if dry else {})},
        )  # fmt: skip


def _facts(*, direct: bool, inviter: bool = False, invitee: bool = False) -> InviteFacts:
    return InviteFacts(
        direct=direct, inviter_is_member=inviter, invitee_is_member=invitee, consented=False
    )
