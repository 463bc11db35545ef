"""Contact details in a message: phone numbers and e-mail addresses.

The code of conduct forbids sharing another member's contact details (doxxing). This module
finds them in text already passed through ``rules.text.clean`` (NFKC-folded, case-folded,
invisible characters removed), including the usual disguises: digits spaced out one by one,
the letters ``o`` and ``l`` written for 0 and 1, ``name at domain dot com``.

Technical chatter is full of digits (versions, addresses, ports, dates, hashes, ids, sums of
money), so a phone candidate must be a run of digit groups that starts like a dialled number
(``+``, the default region's trunk prefix or its country code) and that ``phonenumbers``
accepts as a valid number. Every regex here is linear: possessive quantifiers leave the
engine nothing to backtrack into, and repetitions are over disjoint character classes.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import phonenumbers
import re2

from rules.pii_emails import AT_WORD, find_emails
from rules.pii_forms import social_handles, spaced_out, spoken_numbers
from rules.pii_signals import EMAIL_CUE, ENOUGH_DIGITS, HANDLE_CUE, NUMBER_WORDS, SIGNAL_PATTERNS
from rules.text import ascii_table

__all__ = ["Contact", "find_contacts"]


@dataclass(frozen=True, slots=True)
class Contact:
    """One contact detail found in a message, normalised (E.164 number, plain address)."""

    kind: Literal["phone", "email", "handle"]
    excerpt: str
    start: int = field(default=0, compare=False)  # where it begins in the cleaned text


# "call me on", "my number is", "namba yangu ni", "nipigie": the author gives their own.
# Only right before the contact, so "my friend's number is ..." is not one.
_OWN = re.compile(
    r"(?:\b(?:my|our)\s+(?:own\s+|personal\s+|work\s+|office\s+|phone\s+|mobile\s+"
    r"|cell\s+|whatsapp\s+|safaricom\s+|airtel\s+|email\s+|e-mail\s+)?"
    r"(?:number|no|phone|line|contact|contacts|email|e-mail|mail|address|whatsapp"
    r"|ig|insta|instagram|twitter|tiktok|snap|snapchat|facebook|fb|telegram|tg|handle"
    r"|username)"
    r"(?:\s+(?:is|ni))?"
    r"|\b(?:call|text|sms|reach|ping|email|mail|whatsapp|contact|phone|dm)\s+(?:me|us)"
    r"(?:\s+(?:on|at|via|through|kwa))?"
    r"|\b(?:namba|nambari|simu|email)\s+yangu(?:\s+ni)?"
    r"|\bni(?:pigie|tumie|andikie)(?:\s+(?:kwa|kwenye|on))?"
    r"|\b(?:my|our)"  # "my ig is @x": the handle's match starts at the platform
    r"|\b(?:follow|add|find)\s+(?:me|us)"  # "follow me on insta @x"
    r")\s*[:,-]?\s*$"
)


def is_own(cleaned: str, contact: Contact) -> bool:
    """Whether the words just before ``contact`` give it as the author's own."""
    return _OWN.search(cleaned[max(0, contact.start - 60) : contact.start]) is not None


# --- phone numbers -------------------------------------------------------------------------

# A run of digit groups joined by short separators. The letters o and l count as digits only
# inside a group that also holds a real digit (checked later), so "lol" never becomes 101.
# The look-behind keeps runs from starting inside a word, a hash or a longer number.
# The look-ahead drops, inside the regex engine, the many runs too short to hold a number.
# The last capture is the letter a run may be glued to ("2nd", "5pm", "0712abc").
# Runs stop after 32 groups (a number spaced out digit by digit, with its country code, has
# 12): digit soup is then read in slices, and the check budget can stop it early.
_PHONE_RUN = re.compile(
    r"(?<![\w+#])(?=[0-9oli ()\[\].+\-]{9})"
    r"((?:[(\[]\s?)?(?:\+\s?)?(?:[(\[]\s?)?[0-9oli]++(?:[ .\-()\[\]]{1,3}+[0-9oli]++){0,31}+)"
    r"([^\W\d_]?)"
)
_GROUP = re.compile(r"([^0-9oli]*+)([0-9oli]++)")
_LETTER_DIGITS = ascii_table("oli", "011")
# Words that announce a contact detail right after them.
_CUE = re.compile(
    r"\b(?:call|text|sms|ring|reach|ping|phone|number|no|namba|nambari|simu|mobile|cell"
    r"|whatsapp|wa|piga|mpigie|nipigie|contact|line|on|kwa)\b\W*+$"
)
# A number labelled as something else: "order #0712...", "invoice 0722...", "ticket id is ...",
# "commit 2547...", "till number 0712...".
_LABELS = (
    "order", "invoice", "receipt", "ref", "reference", "ticket", "tracking", "transaction",
    "txn", "booking", "serial", "imei", "case", "issue", "build", "job", "pr", "id", "oda",
    "risiti", "commit", "sha", "hash", "rev", "revision", "changeset", "pipeline", "run",
    "version", "release", "cve", "sku", "model", "part", "pid", "port", "till", "paybill",
    "block", "height", "nonce", "checksum", "seq", "row", "page", "item", "batch", "lot",
    "meter",
)  # fmt: skip
_LABEL_NOUNS = ("id", "no", "number", "num", "namba", "code", "ref")
_LABELLED = re.compile(
    rf"\b(?:{'|'.join(_LABELS)}|account\s++id)"
    rf"(?:\s++(?:{'|'.join(_LABEL_NOUNS)})\.?)?(?:\s++(?:is|ni|was))?\s*+[:#=]?\s*+$"
)
# The word a label ends with: most text before a number ends otherwise, and this set says
# so for a tenth of what the regex takes to try its labels at every place.
_LABEL_ENDS = frozenset((*_LABELS, *_LABEL_NOUNS, "is", "ni", "was"))


def _labelled(cleaned: str, start: int) -> bool:
    """Whether the words right before ``start`` label the number there as something else."""
    before = cleaned[max(0, start - 40) : start].rstrip(" \t\n:#=").rsplit(None, 1)
    if not before:
        return False
    last = before[-1].removesuffix(".")  # "no."
    i = len(last)
    while i and (last[i - 1].isalnum() or last[i - 1] == "_"):
        i -= 1  # back to the start of the word, as the regex's \b finds it
    if last[i:] not in _LABEL_ENDS:
        return False
    return _LABELLED.search(cleaned, max(0, start - 40), start) is not None


# Digit shapes that are not phone numbers even when their digits would pass as one: dates
# (2026-11-24, 24.11.2026, a range of two dates), IPv4 addresses and fractions (0.712345678).
# They are cut out of a run before its groups are read, so a date next to a number cannot
# lend it digits.
_NOT_A_PHONE = re.compile(
    r"(?:19|20)\d\d([-.])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12]\d|3[01])(?!\d)"
    r"|(?<!\d)\d{1,2}([-.])\d{1,2}\2(?:19|20)\d\d(?!\d)"
    r"|(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?!\.?\d)"
    r"|(?<![\d.])0\.\d++(?!\.\d)"
)

_MIN_DIGITS = 9  # 07xx xxx xxx has 10; fewer digits is mostly ids, sums and versions
_MAX_DIGITS = 15  # E.164 maximum; Discord snowflakes (17-20 digits) are longer
# Work allowed per message on digit-heavy text, in checks of a national number (~4 us); a
# full parse of an international one (~19 us) costs _PARSE_COST of them.
_MAX_CHECKS = 160
_PARSE_COST = 5


@dataclass(slots=True)
class _Budget:
    """Numbering-plan checks still allowed for the message being read (see _MAX_CHECKS)."""

    left: int = _MAX_CHECKS


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a national number looks like in the default region."""

    country_code: str
    trunk: str  # the national (trunk) prefix, "0" in Kenya; "" where there is none
    mobile_lengths: tuple[int, ...]  # digits of a national mobile number, 9 in Kenya
    fewest_digits: int  # of any number read: _MIN_DIGITS, or a national mobile's if fewer


@lru_cache(maxsize=64)
def _plan(region: str) -> _Plan:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
    if metadata is None:
        raise ValueError(f"unknown phone region {region!r}")
    mobile = metadata.mobile
    lengths = tuple(mobile.possible_length) if mobile is not None else ()
    fewest = min((_MIN_DIGITS, *lengths))
    return _Plan(str(metadata.country_code), metadata.national_prefix or "", lengths, fewest)


@lru_cache(maxsize=8192)
def _valid_e164(digits: str, international: bool, region: str) -> str | None:
    """The E.164 form of ``digits`` if it is a valid number, else None.

    Cached: the same junk digits repeated in a flood cost one check.
    """
    plan = _plan(region)
    if international:
        # Rare in chat (a "+" or "00" was written), so the full parser is affordable here;
        # it also handles "+254 (0)712 ..." with the trunk zero kept in brackets.
        try:
            number = phonenumbers.parse("+" + digits, None)
        except phonenumbers.NumberParseException:
            return None
    else:
        # The common case, 07xx.../254 7xx...: build the number directly, ~5x cheaper than
        # phonenumbers.parse.
        if plan.trunk and digits.startswith(plan.trunk):
            national = digits[len(plan.trunk) :]
        elif digits.startswith(plan.country_code):
            national = digits[len(plan.country_code) :]
            if plan.trunk and national.startswith(plan.trunk):
                national = national[len(plan.trunk) :]
        else:
            national = digits
        if not national or national.startswith("0"):
            return None
        number = phonenumbers.PhoneNumber(
            country_code=int(plan.country_code), national_number=int(national)
        )
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# One digit group: its digits ("" for a word), whether a "+" precedes it, and whether it is
# tied to the group before by a lone "-" or "." (the middle of an ISBN, a part number).
_Group = tuple[str, bool, bool]


def _groups(segment: str) -> list[_Group]:
    """The digit groups of one run segment."""
    # A group of letters only ("lol", "o") is a word, which ends a number: its digits are "".
    return [
        (
            "" if text.isalpha() else text.translate(_LETTER_DIGITS),
            "+" in before,
            before in ("-", "."),
        )
        for before, text in _GROUP.findall(segment)
    ]


def _phones_in_groups(groups: list[_Group], region: str, plan: _Plan, budget: _Budget) -> list[str]:
    """Valid numbers made of consecutive groups: the longest one from each possible start."""
    found: list[str] = []
    start = 0
    while start < len(groups) and budget.left > 0:
        digits, plus, tied = groups[start]
        international = plus or digits.startswith("00")
        may_start = (
            bool(digits)
            and not (tied and start > 0)
            and (
                international
                or not plan.trunk
                or digits.startswith(plan.trunk)
                or digits.startswith(plan.country_code)
            )
        )
        if not may_start:
            start += 1
            continue
        best: tuple[str, int] | None = None
        joined = ""
        pairs = True
        for end in range(start, len(groups)):
            if not groups[end][0] or (end > start and groups[end][1]):
                break  # a word or a new "+" number interrupts this one
            joined += groups[end][0]
            pairs = pairs and len(groups[end][0]) == 2
            number = joined.lstrip("0") if international else joined
            if len(number) > _MAX_DIGITS + 2:  # +2: a trunk prefix, "(0)" kept by a writer
                break
            if len(joined) < _MIN_DIGITS or budget.left <= 0:
                continue
            if pairs and end - start >= 4 and (international or start or end < len(groups) - 1):
                continue  # "00 01 02 03 04 05 06": a hex dump's bytes; "07-12-34-56-78" alone
            if international and not plus and len(joined) - len(number) > 3:
                continue  # an IDD prefix is "00" or "000"; "0000080000" is padding
            budget.left -= _PARSE_COST if international else 1
            e164 = _valid_e164(number, international, region)
            if e164 is not None:
                best = (e164, end)
        if best is None:
            start += 1
        else:
            found.append(best[0])
            start = best[1] + 1
    return found


def _find_phones(cleaned: str, region: str) -> list[tuple[str, int]]:
    """E.164 numbers, each with the start of the run of digit groups it was read from."""
    plan = _plan(region)
    budget = _Budget()
    found: list[tuple[str, int]] = []
    for run in _PHONE_RUN.finditer(cleaned):
        text, glued = run.groups()
        if budget.left <= 0:
            break  # digit soup: what was read so far is all this message gets
        if glued:
            # The last group is glued to a word ("10 lbs" is fine, "2nd" or "5pm" is not a
            # digit group): drop it rather than the whole run.
            cut = max(text.rfind(c) for c in " .-()[]")
            text = text[: cut + 1] if cut >= 0 else ""
        segments = _segments(text) if ("-" in text or "." in text) else (text,)
        for segment in segments:
            if len(segment) < plan.fewest_digits:
                continue  # shorter than any number's digits: what is left around an IP address
            groups = _groups(segment)
            numbers = _phones_in_groups(groups, region, plan, budget)
            if not numbers and budget.left > 0:
                numbers = _without_trunk(groups, region, plan, budget, cleaned, run.start())
            if numbers and _labelled(cleaned, run.start()):
                break  # an order or ticket number that happens to look like a phone
            found.extend((number, run.start()) for number in numbers)
    return found


def _without_trunk(
    groups: list[_Group], region: str, plan: _Plan, budget: _Budget, cleaned: str, start: int
) -> list[str]:
    """A mobile number written without its trunk prefix ("712 345 678"): only as digit
    groups that make exactly a national mobile number, so ids and sums stay out; as one
    group of digits only after a word that announces a contact ("text him on 712345678").
    ``start``: where the run of ``groups`` starts in ``cleaned``."""
    if not groups or any(not digits or plus for digits, plus, _ in groups):
        return []
    joined = "".join(digits for digits, _, _ in groups)
    if len(joined) not in plan.mobile_lengths or (plan.trunk and joined.startswith(plan.trunk)):
        return []
    if len(groups) == 1 and _CUE.search(cleaned, max(0, start - 30), start) is None:
        return []  # the cue, looked for last: it is the dearest test
    budget.left -= 1
    return [e164] if (e164 := _valid_mobile(joined, region)) is not None else []


@lru_cache(maxsize=1024)
def _valid_mobile(national: str, region: str) -> str | None:
    number = phonenumbers.PhoneNumber(
        country_code=int(_plan(region).country_code), national_number=int(national)
    )
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _segments(run: str) -> tuple[str, ...]:
    """The parts of a run left once dates and IP addresses are cut out."""
    segments: list[str] = []
    last = 0
    for match in _NOT_A_PHONE.finditer(run):
        segments.append(run[last : match.start()])
        last = match.end()
    segments.append(run[last:])
    return tuple(segments)


_ZERO_WORD = re.compile(r"\b(?:zero|sifuri)\s*+(?=[0-9])")


# One automaton pass tells which readers a message needs (most chat needs none): six digits
# or more (a phone number has nine or more; o, l and i may stand for a few), three number words,
# an "@" or the word "at" (e-mail addresses), an "@" or a possessive (social handles). RE2's
# ASCII word boundaries hold wherever the readers' Unicode ones do, so a reader the pass skips
# would have found nothing; the readers still make their own exact checks.
def min_phone_digits(region: str) -> int:
    """The fewest digits a phone number the reader accepts has (default ``region``)."""
    return _plan(region).fewest_digits


_SIGNALS = re2.Set.SearchSet()
for _pattern in SIGNAL_PATTERNS:
    _SIGNALS.Add(_pattern)
_SIGNALS.Compile()


# --- public entry point --------------------------------------------------------------------


def find_contacts(
    cleaned: str,
    *,
    phones: bool = True,
    emails: bool = True,
    default_region: str = "KE",
    handles: bool = True,
    signals: Collection[int] | None = None,
) -> list[Contact]:
    """Every phone number and e-mail address in ``cleaned`` (text passed through ``clean``).

    Phone numbers are returned in E.164 form (``+254712345678``), addresses as
    ``local@domain.tld`` whatever disguise they were written in. ``default_region`` is the
    ISO country whose national numbers (``0712 345 678`` in Kenya) are recognised without
    a country code. Messages with no digit, no "@" and no word "at" return at once.
    ``signals``: the indices of ``SIGNAL_PATTERNS`` that match ``cleaned``, when the caller
    matched them already.
    """
    contacts: list[Contact] = []
    if signals is None:
        signals = _SIGNALS.Match(cleaned.encode("utf-8", "surrogatepass")) or ()
    if phones and ENOUGH_DIGITS in signals:
        # "zero7 12 34 56 78", "sifuri 722 ...": the word for 0 written before digits
        # (the substring tests spare most messages the regex scan)
        spelled = "zero" in cleaned or "sifuri" in cleaned
        digits_text = (
            _ZERO_WORD.sub("0", cleaned) if spelled and _ZERO_WORD.search(cleaned) else cleaned
        )
        contacts.extend(
            Contact("phone", e164, start)
            for e164, start in _find_phones(digits_text, default_region)
        )
    if phones and NUMBER_WORDS in signals:
        for digits, start in spoken_numbers(cleaned):
            contacts.extend(
                Contact("phone", e164, start) for e164, _ in _find_phones(digits, default_region)
            )
    # Cheapest tests first: most messages have neither "@" nor the letters "at".
    if (
        emails
        and EMAIL_CUE in signals
        and ("@" in cleaned or ("at" in cleaned and AT_WORD.search(cleaned)))
    ):
        contacts.extend(Contact("email", address, start) for address, start in find_emails(cleaned))
        for closed, start in spaced_out(cleaned) if "@" in cleaned else ():
            contacts.extend(Contact("email", address, start) for address, _ in find_emails(closed))
    if handles and HANDLE_CUE in signals:
        contacts.extend(
            Contact("handle", handle, start) for handle, start in social_handles(cleaned)
        )
    return contacts
