"""What tells the contact reader (``rules.pii``) that a message may hold contact details.

Each signal is a necessary condition of one of its readers finding anything: a message
without it is not read. ``SIGNAL_PATTERNS`` are the reader's own first checks;
``prefilter_patterns`` the same signals as the engine's one pass (``rules.prefilter``) runs
them among every other detector's patterns.
"""

from __future__ import annotations

import re

from rules.pii_emails import GATE as EMAIL_GATE
from rules.pii_forms import DIGIT_WORDS, HANDLES_PATTERN

__all__ = [
    "EMAIL_CUE", "ENOUGH_DIGITS", "HANDLE_CUE", "NUMBER_WORDS", "SIGNAL_PATTERNS",
    "enough_digits", "phone_run_pattern", "prefilter_patterns",
]  # fmt: skip

# By index: six digits, three number words, an address's shape, a handle with its platform.
ENOUGH_DIGITS, NUMBER_WORDS, EMAIL_CUE, HANDLE_CUE = 0, 1, 2, 3
_WORDS = "|".join(DIGIT_WORDS)
SIGNAL_PATTERNS = (
    r"[0-9](?:[^0-9]*[0-9]){5}",
    rf"(?s)\b(?:{_WORDS})\b.*\b(?:{_WORDS})\b.*\b(?:{_WORDS})\b",
    EMAIL_GATE,
    # every handle social_handles reads is a match of its own RE2 pattern
    HANDLES_PATTERN,
)


def phone_run_pattern(min_digits: int) -> str:
    """An RE2 pattern every phone number the reader finds matches (a necessary condition):
    ``min_digits`` digits (or o, l, i, or a spelled zero) with at most three separators
    between neighbours, as _PHONE_RUN joins its groups."""
    digit = r"(?:[0-9oli]|(?:zero|sifuri)\s*)"
    return rf"{digit}(?:[ .\-()\[\]]{{0,3}}{digit}){{{min_digits - 1}}}"


# One token of _SPOKEN_RUN in rules.pii_forms: a number word or a group of up to four digits.
_SPOKEN_TOKEN = rf"(?:{_WORDS}|double|triple|[0-9]{{1,4}})"
_ENOUGH = re.compile(r"[0-9](?:[^0-9]*+[0-9]){5}")


def prefilter_patterns(min_digits: int) -> tuple[str, ...]:
    """``SIGNAL_PATTERNS`` as the engine's one pass runs them, by the same indices: each
    looks at a few words only, so that in a set with every other detector's patterns the
    automaton stays small. Each is still a necessary condition for its reader: a phone
    number's shape (confirm six digits with ``enough_digits``), six number tokens in a row
    (see below), an address's shape, a handle with its platform."""
    # spoken_numbers reads only runs of _SPOKEN_RUN: six tokens or more, each a number word
    # or up to four digits, joined by one to three of [\s,.\-], the run bounded by start,
    # end or a character that is not an ASCII word character (RE2's \w, as here). Its first
    # six tokens match this, \b on both sides included. Two number words side by side
    # ("tatu nne", "sita sita") are everyday Swahili; six in a row are a number.
    spoken = rf"\b{_SPOKEN_TOKEN}(?:[\s,.\-]{{1,3}}{_SPOKEN_TOKEN}){{5}}\b"
    return (phone_run_pattern(min_digits), spoken, EMAIL_GATE, HANDLES_PATTERN)


def enough_digits(cleaned: str) -> bool:
    """Whether ``cleaned`` has the six digits the phone reader needs at least."""
    return _ENOUGH.search(cleaned) is not None
