"""The common model: what every platform's events and every action look like inside modbridge.

Frozen dataclasses only. Adapters build these from objects their platform library already
parsed; nothing from discord.py or matrix-nio ever enters here, and this module imports
nothing from the project.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum


class Platform(StrEnum):
    """A chat platform the community lives on."""

    DISCORD = "discord"
    MATRIX = "matrix"
    # Text tried on the command line (`modbridge rules test`, `rules eval`), read from no chat.
    CLI = "cli"


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """One account of a member on one platform (a Discord user, a Matrix user id)."""

    platform: Platform
    id: str
    display_name: str = ""

    @property
    def key(self) -> str:
        """A stable text key, e.g. ``discord:1234`` or ``matrix:@ann:example.org``."""
        # a StrEnum is its value: joined as a str, without the enum's slower .value lookup
        return ":".join((self.platform, self.id))


class SpaceKind(StrEnum):
    GUILD = "guild"  # a Discord server
    ROOM = "room"  # a Matrix room
    SPACE = "space"  # a Matrix space (a room whose children are rooms)


@dataclass(frozen=True, slots=True, kw_only=True)
class Space:
    """A place where the community meets: a Discord guild, a Matrix room or space."""

    platform: Platform
    id: str
    kind: SpaceKind
    name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """Where a message was posted: a Discord channel, or the Matrix room itself."""

    platform: Platform
    id: str
    space_id: str | None = None  # None for a direct conversation outside any space
    name: str = ""
    is_dm: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Author:
    """The sender of a message as the platform described them at that moment."""

    account: Account
    roles: tuple[str, ...] = ()  # Discord role ids
    power_level: int | None = None  # Matrix power level in that room
    is_moderator: bool = False  # decided by the adapter from the configured moderators
    is_bot: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """A message (or an edit of one) in a community space or a direct conversation."""

    id: str
    author: Author
    channel: Channel
    text: str
    ts: datetime
    mentions: tuple[Account, ...] = ()
    links: tuple[str, ...] = ()
    attachments: int = 0
    reply_to: str | None = None
    edit_of: str | None = None  # the id of the original message when this is an edit

    @property
    def platform(self) -> Platform:
        return self.author.account.platform

    @property
    def is_dm(self) -> bool:
        return self.channel.is_dm


class MembershipChange(StrEnum):
    JOIN = "join"
    LEAVE = "leave"
    KICK = "kick"
    BAN = "ban"
    UNBAN = "unban"


@dataclass(frozen=True, slots=True, kw_only=True)
class MembershipEvent:
    """A member joined, left or was removed from a space, by themselves or by someone."""

    account: Account
    space: Space
    change: MembershipChange
    ts: datetime
    actor: Account | None = None  # who did it, when it was not the member themselves
    reason: str = ""


# --- Actions: what modbridge can do, as data -------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Warn:
    """Tell the member privately which clause of the code of conduct they broke."""

    target: Account
    reason: str
    clause: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Mute:
    target: Account
    until: datetime
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Unmute:
    target: Account
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Remove:
    """Remove the member from the space (a kick); they may come back."""

    target: Account
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Ban:
    target: Account
    reason: str
    until: datetime | None = None  # None: until a moderator lifts it
    purge: timedelta | None = None  # also remove the member's messages of this last window


@dataclass(frozen=True, slots=True, kw_only=True)
class Unban:
    target: Account
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteMessage:
    platform: Platform
    channel_id: str
    message_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Tell:
    """A private message to a member: a reporter told how their report ended, an admin
    told about a report concerning a moderator."""

    target: Account
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyModerators:
    """Tell the moderators something; the text must never name a reporter. A ``modlog``
    line is the shared record of a case: it goes to the moderators' rooms and channels that
    keep the modlog, on every platform."""

    text: str
    modlog: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseDms:
    """Pause direct messages between members who are not friends in one Discord guild
    (``space_id``) until ``until``: Discord's incident action, which it accepts at most 24 h
    ahead, so the scheduler's timers apply it again until ``until``. Matrix has none."""

    space_id: str
    until: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumeDms:
    """Let direct messages between members flow again in one Discord guild."""

    space_id: str
    reason: str = ""


Action = (
    Warn | Mute | Unmute | Remove | Ban | Unban | DeleteMessage | NotifyModerators | Tell
    | PauseDms | ResumeDms
)  # fmt: skip


class CommandName(StrEnum):
    WARN = "warn"
    MUTE = "mute"
    UNMUTE = "unmute"
    KICK = "kick"  # "remove" is an alias
    BAN = "ban"
    UNBAN = "unban"
    CASE = "case"
    CASES = "cases"
    STATUS = "status"
    REASON = "reason"
    DURATION = "duration"
    HISTORY = "history"
    NOTE = "note"
    PARDON = "pardon"
    CLOSE = "close"
    LINK = "link"
    UNLINK = "unlink"
    HELP = "help"
    LISTS = "lists"  # the subscribed Matrix policy lists
    DMS = "dms"  # pause or resume DMs between members (Discord's incident action)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModCommand:
    """A moderator's command, however it was given (Matrix text, Discord slash command)."""

    name: CommandName
    target: Account | None = None
    other: Account | None = None  # !link: the second account
    duration: timedelta | None = None
    reason: str = ""
    case_id: int | None = None
    action_taken: bool = False  # !close: did the moderators act on the report?
    purge: timedelta | None = None  # !ban --purge 24h: the member's messages of that window
    local: bool = False  # !ban --local: not published to the community's policy list
    page: int = 1  # !cases: which page
    resume: bool = False  # !dms resume (else !dms pause <duration>)
    space_id: str | None = None  # /mod dms: the guild it was given in (None: every one)


class Mode(StrEnum):
    ENFORCE = "enforce"
    OBSERVE = "observe"  # record what would have been done, do nothing


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleHit:
    """One rule that matched a message, and why."""

    rule_id: str
    kind: str
    clause: str
    reason: str
    matched: str  # the matched text after normalisation
    points: int
    mode: Mode


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """What the engine decided about one message."""

    message_id: str
    member: str  # the key the engine's per-member state is kept under
    hits: tuple[RuleHit, ...] = ()
    actions: tuple[Action, ...] = ()  # to carry out
    observed: tuple[Action, ...] = ()  # what observe-mode rules would have done
    points_total: int = 0  # the member's live points after this message
    notes: tuple[str, ...] = field(default=())  # e.g. "escalation: 10 points reached -> remove"

    @property
    def clean(self) -> bool:
        return not self.hits


# --- The Matrix moderation ecosystem: policy lists, homeserver reports -------------------------

# The outbox's space id of the published policy list (``list:!room:hs``): a ban or unban
# "in" it is a rule written to (or removed from) that list.
LIST_SPACE_PREFIX = "list:"


@dataclass(frozen=True, slots=True, kw_only=True)
class ListRule:
    """One rule of a Matrix policy list (an ``m.policy.rule.*`` state event) as it stands now.

    ``kind`` is ``user``, ``server`` or ``room``; a rule whose state event was emptied (the
    way a list removes a rule) has no ``entity``. ``list_name`` is the list as configured
    (an alias or a room id), ``sender`` who wrote the rule, ``ts`` when.
    """

    list_room: str
    list_name: str
    kind: str
    state_key: str
    entity: str = ""
    recommendation: str = ""
    reason: str = ""
    sender: str = ""
    ts: datetime

    @property
    def key(self) -> str:
        """What identifies the rule in its list: a later event with this key replaces it."""
        return f"{self.list_room}|{self.kind}|{self.state_key}"

    @property
    def removed(self) -> bool:
        return not self.entity


@dataclass(frozen=True, slots=True, kw_only=True)
class HomeserverReport:
    """A member's report made with their client's own Report button, read from the
    homeserver's admin API. ``reporter`` must be kept apart exactly as for DM reports."""

    report_id: str
    room_id: str
    event_id: str
    reporter: Account
    sender: Account  # who sent the reported message
    reason: str = ""
    text: str = ""  # the reported message's text ("" when it cannot be read)
    ts: datetime
