"""E-mail addresses in a message, also disguised: the helper of ``rules.pii``.

"name at domain dot com", "[at]" and "(dot)", spaces around the "@": every regex is linear
(possessive quantifiers, repetitions over disjoint classes).
"""

from __future__ import annotations

import re

# "@" written plainly, spaced out, bracketed "[at]" / "(at)", or as the bare word " at ".
# A plain "@" with a space only before it is a chat mention ("thanks @bob"), not an address.
_AT = (
    r"(?P<at>@|\s{1,3}+@\s{1,3}+|@\s{1,3}+"
    r"|\s{0,3}+[\[(<{]\s?at\s?[\])>}]\s{0,3}+|\s{1,3}+at\s{1,3}+)"
)
_DOT = r"(?:\s{0,3}+\.\s{0,3}+|\s{0,3}+[\[(<{]\s?dot\s?[\])>}]\s{0,3}+|\s{1,3}+dot\s{1,3}+)"
_LABEL = r"[a-z0-9][a-z0-9\-]{0,62}+"
_EMAIL = re.compile(
    r"(?<![a-z0-9._%+\-])(?P<local>[a-z0-9][a-z0-9._%+\-]{0,63}+)"
    + _AT
    + rf"(?P<domain>{_LABEL}(?:{_DOT}{_LABEL}){{1,8}}+)"
)
_DOT_SPLIT = re.compile(_DOT)

# A necessary condition for an address, as an RE2 pattern for the engine's one pass: the
# last character of a local part, an "@" (or "at") of _AT and the domain up to the first
# letter of its second label, with no look-behind and no possessive quantifiers (RE2 has
# neither: it matches a superset). The bare word "at" counts only with a "dot" spelled out
# in the domain, as _email demands. Or an "@" standing alone, as in a spaced-out address
# ("b a r a k a @ g m a i l ..."). Cleaned text has ASCII whitespace only, so RE2's \s is
# the re module's here.
_LOCAL_END = r"[a-z0-9._%+\-]"
_LABEL_GATE = r"[a-z0-9][a-z0-9\-]{0,62}"
_SPELLED_DOT = r"(?:\s{0,3}[\[(<{]\s?dot\s?[\])>}]\s{0,3}|\s{1,3}dot\s{1,3})"
_DOT_GATE = rf"(?:\s{{0,3}}\.\s{{0,3}}|{_SPELLED_DOT})"
GATE = (
    rf"{_LOCAL_END}(?:@|\s{{1,3}}@\s|\s{{0,3}}[\[(<{{]\s?at\s?[\])>}}])"
    rf"\s{{0,3}}{_LABEL_GATE}{_DOT_GATE}[a-z0-9]"
    rf"|{_LOCAL_END}\s{{1,3}}at\s{{1,3}}{_LABEL_GATE}(?:{_DOT_GATE}{_LABEL_GATE}){{0,7}}"
    rf"{_SPELLED_DOT}[a-z0-9]"
    r"|(?:^|\s)@(?:\s|$)"
)

AT_WORD = re.compile(r"\bat\b")

# Top-level domains accepted in a disguised address; a plain one also accepts any two-letter
# country domain. Keeps "look at this dot product" and "a@b.transpose" (numpy) out.
_TLDS = frozenset({
    "com", "org", "net", "edu", "gov", "mil", "int", "io", "ke", "co", "ac", "dev", "info",
    "me", "app", "ai", "tech", "biz", "xyz", "online", "site", "africa", "email", "cloud",
    "pro", "name", "mobi", "uk", "us", "ug", "tz", "rw", "za", "ng", "gh", "et", "de", "fr",
    "nl", "in", "ca", "au", "eu", "tv", "ly"
})  # fmt: skip

# Mailboxes of a role, not of a person (RFC 2142 and their everyday kin): "write to the
# organisers at info@openinfra.ke" shares no one's contact details. At a free mail provider
# the same name is somebody's own account.
ROLE_MAILBOXES = frozenset({
    "info", "marketing", "sales", "support", "abuse", "noc", "security", "postmaster",
    "hostmaster", "webmaster", "www", "contact", "contacts", "hello", "hi", "admin", "team",
    "help", "helpdesk", "events", "event", "office", "press", "media", "jobs", "careers", "hr",
    "billing", "accounts", "noreply", "no-reply", "donotreply", "feedback", "community",
    "organizers", "organisers", "membership", "members", "secretariat", "enquiries",
    "inquiries", "general", "partners", "sponsors", "sponsorship", "speakers", "cfp",
    "conduct", "coc", "privacy", "legal", "registration", "tickets", "newsletter",
})  # fmt: skip
FREE_MAIL = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "ymail.com", "outlook.com",
    "hotmail.com", "live.com", "msn.com", "icloud.com", "me.com", "proton.me",
    "protonmail.com", "aol.com", "gmx.com", "gmx.net", "mail.com", "yandex.com", "zoho.com",
})  # fmt: skip


def is_role_address(address: str) -> bool:
    """Whether ``address`` (lower case) is a role's mailbox at an organisation's domain."""
    local, _, domain = address.rpartition("@")
    return local in ROLE_MAILBOXES and domain not in FREE_MAIL


# Words that stand before "at" in ordinary sentences ("i work at safaricom dot com" reads as
# speech, not as an address); the bare " at " form is refused after them.
_AT_STOPWORDS = frozenset({
    "a", "an", "the", "i", "we", "you", "he", "she", "they", "it", "me", "us", "him", "her",
    "them", "this", "that", "these", "those", "is", "am", "are", "was", "were", "be",
    "been", "being", "work", "works", "worked", "working", "look", "looks", "looked",
    "looking", "meet", "meeting", "see", "seen", "find", "found", "live", "lives", "lived",
    "stay", "stays", "based", "hosted", "available", "arrive", "arrived", "start",
    "started", "starts", "job", "role", "team", "here", "there", "someone", "anyone",
    "everyone", "people", "folks", "devs", "guys", "intern", "engineer", "engineers", "go",
    "going", "went", "get", "got", "come", "came", "running", "run", "runs", "deployed",
    "served", "listed", "posted", "published", "good", "great", "bad", "better", "best"
})  # fmt: skip


def _email(match: re.Match[str]) -> str | None:
    """The normalised address of one e-mail regex match, or None if it is not plausible."""
    local, at, domain = match.group("local", "at", "domain")
    after = match.string[match.end() : match.end() + 1]
    if at == "@" and "." in domain and not any(c in domain for c in " [](){}<>"):
        labels = domain.split(".")  # the common, plain form: skip the disguise handling
        dots = ["."] * (len(labels) - 1)
    else:
        labels = _DOT_SPLIT.split(domain)
        dots = _DOT_SPLIT.findall(domain)
    plain = at == "@" and all(d == "." for d in dots)
    if plain and after in (":", "/"):
        return None  # git@github.com:org/repo, a URL's user@host/ or user@host:port
    # Trim trailing words until the last label is a top-level domain ("...com. next").
    while len(labels) >= 2 and not (
        labels[-1] in _TLDS or (plain and len(labels[-1]) == 2 and labels[-1].isalpha())
    ):
        labels.pop()
    if len(labels) < 2:
        return None
    used_dots = dots[: len(labels) - 1]
    # The bare word "at" is only an address with a spelled-out "dot" as well, and not after
    # a word that usually stands before "at" in a sentence.
    if at.strip() == "at" and (local in _AT_STOPWORDS or not any("dot" in d for d in used_dots)):
        return None
    if local[-1] in "._%+-":
        return None  # "jane.@..." is not an address; the match took trailing punctuation
    return f"{local}@{'.'.join(labels)}"


_MAX_EMAILS = 32  # addresses read per message; an address list or spam is judged by these


def find_emails(cleaned: str) -> list[tuple[str, int]]:
    """Addresses in ``cleaned``, normalised, each with where it starts."""
    found: list[tuple[str, int]] = []
    position = 0
    while len(found) < _MAX_EMAILS and (match := _EMAIL.search(cleaned, position)) is not None:
        address = _email(match)
        if address is not None:
            found.append((address, match.start()))
            position = match.end()
        else:
            # "write to him at jo.k@x.org": the bare-word "at" reading failed; the real
            # address may start inside what it took
            position = match.start() + 1
    return found
