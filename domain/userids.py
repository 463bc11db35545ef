"""Reading accounts from what people write: the one parser of user ids in text.

Moderators' commands on both platforms, members' reports and the evidence they link all
name people the same handful of ways: a Matrix id (``@kip:example.org``, maybe prefixed
``matrix:``), a matrix.to link or ``matrix:u/`` URI (what Element's pills point at), a
Discord mention (``<@123>``, ``<@!123>``), ``discord:<id>`` or a bare snowflake. Every place
that reads a user from text goes through here, so punctuation around an id (``(@kip:hs),``,
the ``>`` of ``<@kip:hs>``) and a reply fallback quoting someone (``> <@ann:hs> ...``) are
handled once. Pure; imports only the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from urllib.parse import unquote

from domain.model import Account, Platform

# Matrix ids as the spec writes them (historical localparts allow a few more characters):
# a server name is a host name, an IPv4 or a bracketed IPv6 address, maybe with a port.
_LOCALPART = r"[A-Za-z0-9._=\-/+]+"
_SERVER = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d{1,5})?"
_MATRIX_ID = rf"@{_LOCALPART}:{_SERVER}"
_SNOWFLAKE = r"\d{15,21}"
_IN_TEXT = re.compile(
    rf"https?://matrix\.to/#/(?P<to>[^\s?/\"'<>)\]]+)"
    rf"|matrix:u/(?P<uri>[^\s?/#\"'<>)\]]+)"
    rf"|<@!?(?P<mention>{_SNOWFLAKE})>"
    rf"|(?<![\w])discord:(?P<discord>{_SNOWFLAKE})(?!\d)"
    rf"|(?<![\w@./:-])(?:matrix:)?(?P<mxid>{_MATRIX_ID})",
    re.IGNORECASE,
)
_BARE_SNOWFLAKE = re.compile(rf"^{_SNOWFLAKE}$")
_FULL_MXID = re.compile(rf"^{_MATRIX_ID}$")
# Punctuation a written id sits in: "(@kip:hs),", "'discord:1234...'", "<@kip:hs>".
_WRAPPING = "()[]{}<>,;.!?'\"`*_~"
# The first line of a reply fallback: "> <@alice:example.org> text" ("> * <@...>" for emotes).
_FALLBACK_HEAD = re.compile(r"^> (?:\* )?<@[^>\s]+:[^>\s]+>")


def matrix(user_id: str, display_name: str = "") -> Account:
    """A Matrix account."""
    return Account(platform=Platform.MATRIX, id=user_id, display_name=display_name)


def discord(user_id: str, display_name: str = "") -> Account:
    """A Discord account."""
    return Account(platform=Platform.DISCORD, id=user_id, display_name=display_name)


def is_matrix_id(text: str) -> bool:
    """Whether ``text`` is exactly a Matrix user id."""
    return _FULL_MXID.match(text) is not None


def user_from_link(href: str) -> str | None:
    """The Matrix user id a matrix.to permalink or ``matrix:u/`` URI points at, or None."""
    match = _IN_TEXT.match(href.strip())
    if match is None:
        return None
    return _link_user(match)


def _link_user(match: re.Match[str]) -> str | None:
    # Clients percent-encode the id (``%40ann%3Aexample.org``); rooms start with ! or #.
    if match.group("to") is not None:
        target = unquote(match.group("to"))
    elif match.group("uri") is not None:
        target = "@" + unquote(match.group("uri"))
    else:
        return None
    # The link ends a sentence or sits in brackets: "see https://matrix.to/#/@kip:hs)."
    target = _trim_server(target.rstrip(_WRAPPING + ":"))
    return target if _FULL_MXID.match(target) else None


def _account(match: re.Match[str]) -> Account | None:
    if match.group("mention") is not None:
        return discord(match.group("mention"))
    if match.group("discord") is not None:
        return discord(match.group("discord"))
    if match.group("mxid") is not None:
        return matrix(_trim_server(match.group("mxid")))
    user = _link_user(match)
    return matrix(user) if user else None


def _trim_server(user_id: str) -> str:
    """A host name does not end with a dot or a hyphen: "@kip:hs." ends a sentence."""
    return user_id.rstrip(".-")


def strip_reply_fallback(text: str) -> str:
    """Drop the ``> <@someone> quoted text`` lines a reply starts with for old clients: the
    people named there are whom the member quoted, not whom they name."""
    lines = text.split("\n")
    if not lines or not _FALLBACK_HEAD.match(lines[0]):
        return text
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    if index < len(lines) and lines[index] == "":
        index += 1
    return "\n".join(lines[index:])


def parse_account(text: str) -> Account | None:
    """The account one written token names (``@kip:hs``, ``matrix:@kip:hs``, a matrix.to
    link, ``<@123>``, ``<@!123>``, ``discord:123``, a bare snowflake), or None."""
    token = text.strip()
    bare_token = token.strip(_WRAPPING).rstrip(":")
    if _BARE_SNOWFLAKE.match(bare_token):
        return discord(bare_token)
    match = _IN_TEXT.search(token)
    if match is None or token[: match.start()].strip(_WRAPPING):
        return None
    rest = token[match.end() :]
    # A link may carry ?via=...; anything else after the id makes it something else.
    if rest.strip(_WRAPPING + ":") and not rest.startswith("?"):
        return None
    return _account(match)


def find_accounts(text: str, mentions: Iterable[Account] = ()) -> list[Account]:
    """Every account named in free text (each once, in order), the reply fallback left out,
    then ``mentions`` the platform reported (Matrix ``m.mentions``, pills, Discord mentions)."""
    found: list[Account] = []
    for match in _IN_TEXT.finditer(strip_reply_fallback(text)):
        account = _account(match)
        if account is not None:
            found.append(account)
    found.extend(Account(platform=m.platform, id=m.id) for m in mentions)
    return list(dict.fromkeys(found))


def without_accounts(text: str) -> str:
    """``text`` with the accounts it names (and a reply fallback) taken out: what is left
    is what the member said about them."""
    return _IN_TEXT.sub("", strip_reply_fallback(text))


def resolve_pills(text: str, mentions: Sequence[Account]) -> str:
    """``text`` with each pill's shown name replaced by the id it points at.

    Element puts a mention's display name in the plain body (``!ban Kip spam``) and the id
    only in the formatted body's link (and ``m.mentions``); the Matrix adapter hands the
    link text over as the mention's display name. Longer names first, so "Kip Kamau" is not
    taken for "Kip"; each name once, the first time it is written.
    """
    named = sorted(
        (m for m in mentions if m.display_name.strip()), key=lambda m: -len(m.display_name)
    )
    for mention in named:
        if mention.id in text:
            continue
        written = mention.id if mention.platform is Platform.MATRIX else f"discord:{mention.id}"
        name = mention.display_name.strip()
        pattern = re.compile(rf"(?<![\w@])@?{re.escape(name)}(?![\w])")
        match = pattern.search(text)
        if match is not None:  # spliced in, not substituted: an id holds no escapes to read
            text = text[: match.start()] + written + text[match.end() :]
    return text


def bare(account: Account) -> Account:
    """``account`` without its display name, for comparing who is who."""
    return Account(platform=account.platform, id=account.id)
