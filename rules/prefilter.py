"""One pass over a message that tells which detectors need to read it at all.

Every stateless detector has cheap necessary conditions for a hit: the keyword index needs
one of the words its listed phrases start with (or a sign of disguise), the contact reader
needs six digits, three number words, an "@" or a possessive, the solicitation grammar one
of its contact nouns, an admin regex its own match. All of them go into ONE RE2 set, so a
message is scanned once by one automaton whatever the number of rules; most chat matches
nothing and no detector reads it. A detector the pass rules out would have found nothing:
each pattern is exactly the test that detector used to run first on its own.

RE2 sets are matched by a DFA (time linear in the text). The set is given far more memory
than it needs, because a set whose DFA runs out of memory answers "no match", not an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import re2

from rules import pii_signals
from rules.keyword_signs import ADJACENT, ASCII_SIGN_PATTERNS
from rules.solicitation import TRIGGER_PATTERN
from rules.windows import LINK_SIGN_PATTERN

# Bits of the answer for the fixed patterns; admin regexes are reported by index.
KEYWORD_SIGNS = tuple(1 << i for i in range(len(ASCII_SIGN_PATTERNS)))
ANY_KEYWORD_SIGN = sum(KEYWORD_SIGNS)
KEYWORD_WORD = 1 << 4
PII = tuple(1 << (5 + i) for i in range(len(pii_signals.SIGNAL_PATTERNS)))
ANY_PII = sum(PII)
SOLICITATION = 1 << 10
LINK = 1 << 11  # a link's opening (rules.windows.LINK_SIGN_PATTERN; see text.LINK_HIDERS)
_MAX_MEMORY = 256 << 20  # budget, not use: the DFA grows with the text it meets


class Prefilter:
    """The merged pattern set of one engine's detectors."""

    def __init__(
        self,
        keyword_trigger: str | None,
        admin_patterns: Sequence[str],
        phone_digits: int = 9,
        keyword_disguise: str | None = None,
        keyword_phrase: str | None = None,
    ) -> None:
        """``keyword_trigger``, ``keyword_disguise``, ``keyword_phrase``: the keyword index's
        ``trigger_pattern``, ``disguise_pattern`` and ``phrase_pattern``. ``phone_digits``:
        the fewest digits of a phone number any pii rule reads."""
        options = re2.Options()
        options.log_errors = False
        options.max_mem = _MAX_MEMORY
        pattern_set = re2.Set.SearchSet(options)
        bits: list[int] = []
        for bit, pattern in zip(KEYWORD_SIGNS, ASCII_SIGN_PATTERNS, strict=True):
            bits.append(bit)
            pattern_set.Add(pattern)
        if keyword_trigger is not None:
            bits.append(KEYWORD_WORD)
            pattern_set.Add(keyword_trigger)
        # Keyword signs that are no reason to read a message, checked by sets of their own,
        # run only on the few messages they concern (merged, they would multiply the states
        # the DFA builds for every message); see rules.keyword_signs:
        # - a digit or leet symbol touching a letter ("k8s", "10am", "@wanjiru") as the one
        #   keyword sign, without a word the closer look could read as a listed phrase's
        #   first word (``keyword_disguise``): the closer look would find nothing;
        # - a listed phrase's first word with no sign of disguise, without the whole phrase
        #   (``keyword_phrase``): the plain reading would find nothing.
        self._keyword_bits = 0 if keyword_trigger is None else ANY_KEYWORD_SIGN | KEYWORD_WORD
        self._disguised = _matcher(keyword_disguise, options)
        self._phrased = _matcher(keyword_phrase, options)
        for bit, pattern in zip(PII, pii_signals.prefilter_patterns(phone_digits), strict=True):
            bits.append(bit)
            pattern_set.Add(pattern)
        bits.append(SOLICITATION)
        pattern_set.Add(TRIGGER_PATTERN)
        bits.append(LINK)
        pattern_set.Add(LINK_SIGN_PATTERN)
        self.first_admin = len(bits)
        for pattern in admin_patterns:
            # admin regexes read case-insensitively (rules.regex); the rest is lower case
            pattern_set.Add(f"(?i:{pattern})")
        pattern_set.Compile()
        self._bits = bits
        # the C++ set's own Match: the Python wrapper around it costs more than the scan
        self._match: Any = pattern_set._set.Match

    def scan(self, cleaned: str) -> tuple[int, list[int]]:
        """The bits of the fixed patterns ``cleaned`` matches, and the admin regexes (by
        index in the regex index) it matches."""
        encoded = cleaned.encode("utf-8", "surrogatepass")
        found = self._match(encoded)
        if not found:
            return 0, _NONE
        signals = 0
        admin: list[int] = []
        bits, first_admin = self._bits, self.first_admin
        for index in found:
            if index < first_admin:
                signals |= bits[index]
            else:
                admin.append(index - first_admin)
        keyword = signals & self._keyword_bits
        if keyword == _ADJACENT:
            if not self._disguised(encoded):
                signals ^= _ADJACENT
        elif keyword == KEYWORD_WORD and not self._phrased(encoded):
            signals ^= KEYWORD_WORD
        return signals, admin


_NONE: list[int] = []
_ADJACENT = KEYWORD_SIGNS[ADJACENT]


def _keep(_encoded: bytes) -> bool:
    return True  # no pattern to check: the sign stands


def _matcher(pattern: str | None, options: Any) -> Any:
    """The C++ match of a set holding ``pattern`` alone (truthy: a match), or ``_keep``."""
    if pattern is None:
        return _keep
    pattern_set = re2.Set.SearchSet(options)
    pattern_set.Add(pattern)
    pattern_set.Compile()
    return pattern_set._set.Match


def indices(signals: int, bits: Sequence[int]) -> list[int]:
    """The positions in ``bits`` whose bit is set in ``signals``."""
    return [i for i, bit in enumerate(bits) if signals & bit]
