"""Matrix events (as matrix-nio parsed them) into the common model: pure functions, no I/O.

nio models the common fields (sender, event id, body, membership); the newer parts of the
spec it does not model (``m.mentions``, ``m.new_content``, ``m.relates_to``) are read from the
event's ``source`` dict, which nio keeps as it came from the homeserver.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from nio import BadEvent, RoomMemberEvent, RoomMessage

from domain.model import (
    Account,
    Author,
    Channel,
    MembershipChange,
    MembershipEvent,
    Message,
    Platform,
    Space,
    SpaceKind,
)
from domain.userids import is_matrix_id, strip_reply_fallback, user_from_link

__all__ = ["strip_reply_fallback", "user_from_link"]  # the one parser, re-exported for callers

MESSAGE_EVENT = "m.room.message"
# Media whose ``body`` is a caption only beside a separate ``filename`` (Matrix 1.10).
_MEDIA_TYPES = frozenset({"m.image", "m.file", "m.video", "m.audio"})
# A bare URL in a plain body; trailing punctuation belongs to the sentence, not the link.
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
# The quoted text a reply carries for old clients: it is the other person's words, and a
# member must not be judged for what they quoted.
_MX_REPLY = re.compile(r"<mx-reply>.*?</mx-reply>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomContext:
    """What the caller knows about the room an event came from (nio events do not say)."""

    room_id: str
    name: str = ""
    is_dm: bool = False
    is_space: bool = False
    space_id: str | None = None  # the enclosing space; the room itself when None (not a DM)

    def channel(self) -> Channel:
        """The room as the place a message was posted."""
        space_id = None if self.is_dm else (self.space_id or self.room_id)
        return Channel(
            platform=Platform.MATRIX,
            id=self.room_id,
            space_id=space_id,
            name=self.name,
            is_dm=self.is_dm,
        )

    def space(self) -> Space:
        """The room as the place a member joins and leaves."""
        kind = SpaceKind.SPACE if self.is_space else SpaceKind.ROOM
        return Space(platform=Platform.MATRIX, id=self.room_id, kind=kind, name=self.name)


def account(user_id: str, display_name: str = "") -> Account:
    """The common-model account of a Matrix user id."""
    return Account(platform=Platform.MATRIX, id=user_id, display_name=display_name)


def timestamp(event: Any) -> datetime:
    """The event's origin_server_ts as an aware UTC datetime."""
    return datetime.fromtimestamp(event.server_timestamp / 1000, tz=UTC)


def is_message(event: Any) -> bool:
    """Whether ``event`` is an m.room.message, also one nio's schema refused (a BadEvent: no
    ``msgtype``, media without ``url``...), which clients still show."""
    if isinstance(event, RoomMessage):
        return True
    return isinstance(event, BadEvent) and event.type == MESSAGE_EVENT


def message_from_event(
    event: RoomMessage | BadEvent,
    room: RoomContext,
    *,
    display_name: str = "",
    power_level: int | None = None,
    is_moderator: bool = False,
    is_bot: bool = False,
    names: Mapping[str, str] | None = None,
) -> Message | None:
    """Translate an m.room.message event (of any msgtype, or an edit of one).

    Clients show the ``body`` of every message type, known or not (``m.text``, ``m.notice``,
    ``m.emote``, ``m.location``, ``m.weird``...), so every string body is judged, read from
    the event as the homeserver sent it; of media, the caption (Matrix 1.10: a body beside a
    separate ``filename``) and any formatted body. Returns None for what is not a message.
    An edit (``m.replace``) becomes a Message whose text is the new content and whose
    ``edit_of`` is the original event id. The sender's display name, power level and role
    come from the caller, which has the room state, as may the display ``names`` of users
    mentioned only in ``m.mentions`` (a pill's own text names its user).
    """
    names = names or {}
    if not is_message(event):
        return None
    content = event.source.get("content")
    content = content if isinstance(content, Mapping) else {}
    relates_to = content.get("m.relates_to")
    relates_to = relates_to if isinstance(relates_to, Mapping) else {}
    edit_of: str | None = None
    effective: Mapping[str, Any] = content
    if relates_to.get("rel_type") == "m.replace" and isinstance(content.get("m.new_content"), dict):
        edit_of = relates_to.get("event_id")
        effective = content["m.new_content"]
    reply_to = _reply_to(relates_to)
    body, attachments, reader = _shown_body(effective, is_reply=bool(reply_to))
    anchors = reader.hrefs if reader is not None else []
    pills = reader.pills if reader is not None else {}
    mentions = _mentions(effective, anchors)
    links = _links(body, anchors)
    author = Author(
        account=account(event.sender, display_name),
        power_level=power_level,
        is_moderator=is_moderator,
        is_bot=is_bot,
    )
    return Message(
        id=event.event_id,
        author=author,
        channel=room.channel(),
        text=body,
        ts=timestamp(event),
        # A pill's shown text is the name the body carries in the id's place (``!ban Kip``).
        mentions=tuple(
            account(user_id, pills.get(user_id) or names.get(user_id, "")) for user_id in mentions
        ),
        links=tuple(links),
        attachments=attachments,
        reply_to=reply_to,
        edit_of=edit_of,
    )


def _shown_body(
    effective: Mapping[str, Any], *, is_reply: bool
) -> tuple[str, int, _HtmlReader | None]:
    """The text members read in a message's content, how many attachments it carries, and
    its formatted body read (None when it has none)."""
    body = effective.get("body")
    body = body if isinstance(body, str) else ""
    html = effective.get("formatted_body")
    if effective.get("format") != "org.matrix.custom.html" or not isinstance(html, str):
        html = None
    attachments = 0
    if effective.get("msgtype") in _MEDIA_TYPES:
        attachments = 1
        # A media body is its file name unless a separate ``filename`` makes it a caption.
        filename = effective.get("filename")
        body = body if isinstance(filename, str) and filename and filename != body else ""
    if is_reply:
        body = strip_reply_fallback(body)
    html = _MX_REPLY.sub("", html) if html is not None else None
    reader = _read_html(html) if html else None
    if reader is not None:
        body = _shown_text(body, "".join(reader.text))
    return body, attachments, reader


def membership_from_event(event: RoomMemberEvent, room: RoomContext) -> MembershipEvent | None:
    """Translate an m.room.member event into a join, leave, kick, ban or unban.

    Returns None for what is not a change of who is in the room: invitations, knocks,
    declined or withdrawn invitations, and profile changes (a join on top of a join).
    """
    target = event.state_key
    sender = event.sender
    new = event.membership
    old = event.prev_membership or "leave"
    by_other = sender != target
    change: MembershipChange | None = None
    if new == "join" and old != "join":
        change = MembershipChange.JOIN
    elif new == "ban" and old != "ban":
        change = MembershipChange.BAN
    elif new == "leave" and old == "ban":
        change = MembershipChange.UNBAN
    elif new == "leave" and old == "join":
        change = MembershipChange.KICK if by_other else MembershipChange.LEAVE
    if change is None:
        return None
    reason = event.content.get("reason")
    return MembershipEvent(
        account=account(target, str(event.content.get("displayname") or "")),
        space=room.space(),
        change=change,
        ts=timestamp(event),
        actor=account(sender) if by_other else None,
        reason=reason if isinstance(reason, str) else "",
    )


def _reply_to(relates_to: Mapping[str, Any]) -> str | None:
    in_reply_to = relates_to.get("m.in_reply_to")
    if not isinstance(in_reply_to, Mapping):
        return None
    # In a thread, a fallback in_reply_to only points at the latest thread message for
    # clients without threads; the member did not reply to it.
    if relates_to.get("rel_type") == "m.thread" and relates_to.get("is_falling_back"):
        return None
    event_id = in_reply_to.get("event_id")
    return event_id if isinstance(event_id, str) else None


def _mentions(content: Mapping[str, Any], anchors: Iterable[str]) -> list[str]:
    found: list[str] = []
    m_mentions = content.get("m.mentions")
    if isinstance(m_mentions, Mapping):
        user_ids = m_mentions.get("user_ids") or []
        if isinstance(user_ids, list):
            found.extend(user for user in user_ids if isinstance(user, str))
    for href in anchors:
        user = user_from_link(href)
        if user:
            found.append(user)
    return _unique(user for user in found if is_matrix_id(user))


def _links(body: str, anchors: Iterable[str]) -> list[str]:
    found = [match.group(0).rstrip(_TRAILING) for match in _URL.finditer(body)]
    found.extend(href for href in anchors if href.lower().startswith(("http://", "https://")))
    # A user pill is a mention, not a link; a room permalink stays a link (invite spam).
    return _unique(link for link in found if not user_from_link(link))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


class _HtmlReader(HTMLParser):
    """The links and the visible text of a formatted body."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.text: list[str] = []
        self.pills: dict[str, str] = {}  # user id -> the text its link shows
        self._pill: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href.strip())
                user = user_from_link(href)
                self._pill = (user, []) if user else None
        elif tag in ("br", "p", "div", "li", "tr", "blockquote", "pre"):
            self.text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._pill is not None:
            user, shown = self._pill
            self.pills.setdefault(user, "".join(shown).strip())
            self._pill = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._pill is not None:
            self._pill[1].append(data)


def _read_html(html: str) -> _HtmlReader:
    reader = _HtmlReader()
    reader.feed(html)
    reader.close()
    return reader


def _shown_text(body: str, html_text: str) -> str:
    """What members read: the plain body, plus the formatted body's text when that says
    something else (clients show the formatted body; anyone can make the two differ)."""
    if _squashed(html_text) == _squashed(_MD_LINK_TARGET.sub("]", body)):
        return body
    return f"{body}\n{html_text.strip()}" if body else html_text.strip()


def _squashed(text: str) -> str:
    return _SQUASH.sub("", text).lower()


# Markdown punctuation and white space: "**hi** _there_" and "<b>hi</b> <i>there</i>" agree;
# so do "[docs](https://...)" and "<a href=...>docs</a>" once the link target is dropped.
_SQUASH = re.compile(r"[\s*_~`#>|\[\]()!-]+")
_MD_LINK_TARGET = re.compile(r"\]\(\s*[^)\s]*\s*\)")
