"""Everything the bot says to members, with English defaults; `[texts]` in the TOML overrides
any of them (a community can write them in its members' language)."""

from __future__ import annotations

from string import Formatter

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

# The texts the bot fills in, and the placeholders each may use.
PLACEHOLDERS = {
    "report_received": {"case"},
    "report_received_anonymous": {"case"},
    "report_closed": {"case", "outcome"},
    "dm_allowed": {"member"},
    "dm_revoked": {"member"},
}


class Texts(BaseModel):
    """Member-facing texts. ``{case}``, ``{code}``, ``{outcome}`` are filled in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    report_start: str = (
        "I can take a confidential report for the moderators. Your name is not shown to them "
        "unless you agree. What happened? (Send `cancel` at any time to stop.)"
    )
    report_ask_who: str = (
        "Who was it? A mention, an id (@name:server or a Discord id), or a link to one of "
        "their messages."
    )
    report_who_unclear: str = (
        "I could not tell who that is. Please send a mention, an id like @name:server or "
        "discord:123..., or a link to one of their messages."
    )
    report_ask_where: str = (
        "Where did it happen? A room or channel, a message link, or `DM` if they wrote to you "
        "directly."
    )
    report_ask_evidence: str = (
        "Any evidence? Send message links (I will save what they say), or `none`."
    )
    report_ask_share: str = (
        "May I tell the moderators that the report comes from you? Answer `yes` or `no`. "
        "If you answer no, they will not be told who you are."
    )
    private_only: str = (
        "Others can read this chat. For a report or anything else, please start a direct "
        "chat with me alone."
    )
    report_no_files: str = (
        "I cannot keep files or pictures. Please say in words what it shows, or send a link "
        "to the message it is in."
    )
    too_fast: str = (
        "You are writing faster than I can read. I will read your messages again in a minute."
    )
    report_cancelled: str = "Cancelled. Nothing was sent to anyone."
    report_received: str = (
        "Thank you. Your report is case #{case}. The moderators will look at it. "
        "I will tell you when it is closed."
    )
    report_received_anonymous: str = (
        "Thank you. Your report is case #{case}. The moderators will look at it; they are not "
        "told who reported it. I will tell you when it is closed."
    )
    report_too_many: str = (
        "You have sent several reports recently. Please wait a little, or write to a "
        "moderator directly if it is urgent."
    )
    report_closed: str = "Your report (case #{case}) has been closed: {outcome}. Thank you."
    outcome_action: str = "the moderators took action"
    outcome_no_action: str = "the moderators looked into it and decided no action was needed"
    dm_help: str = (
        "Direct messages: `dm allow <member>` lets someone write to you, `dm revoke <member>` "
        "takes it back, `dm open` lets every member write to you, `dm closed` only those you "
        "allowed. Send `report` to report something, `link` to link your accounts, "
        "`my data` to see what modbridge holds about you."
    )
    dm_allowed: str = "{member} may now send you direct messages."
    dm_revoked: str = "{member} may no longer send you direct messages."
    dm_open: str = "Every member may now send you direct messages."
    dm_closed: str = "Only members you allowed may now send you direct messages."

    @field_validator(*PLACEHOLDERS)
    @classmethod
    def _known_placeholders(cls, value: str, info: ValidationInfo) -> str:
        """A translated text with a mistyped placeholder would fail when a member needs it."""
        allowed = PLACEHOLDERS[str(info.field_name)]
        try:
            used = {name for _, name, _, _ in Formatter().parse(value) if name is not None}
        except ValueError as exc:  # a lone "{" or "}"
            raise ValueError(f"{exc}; write {{{{ and }}}} for a literal brace") from None
        unknown = used - allowed
        if unknown:
            names = ", ".join(f"{{{n}}}" for n in sorted(unknown))
            can = ", ".join(f"{{{n}}}" for n in sorted(allowed))
            raise ValueError(f"unknown placeholder {names}: this text can use {can}")
        return value
