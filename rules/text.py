"""Text cleaning shared by every detector.

``clean`` is the first, cheap step: Unicode compatibility folding (full-width letters and
digits become ASCII), case folding, invisible characters removed, look-alike letters from
other scripts mapped to their Latin twins. Spacing and punctuation are kept, so detectors
that care about layout (phone numbers, e-mail addresses, phrases) can still see it.
"""

from __future__ import annotations

import re
import unicodedata

from rules.confusables import lookalike_table

_LOOKALIKE_MAP = lookalike_table()


def ascii_table(source: str, target: str) -> str:
    """A ``str.translate`` table mapping each character of ``source`` to the one at the same
    place in ``target``; other characters stay. A string indexed by code point: on short
    text it translates about four times faster than the dict ``str.maketrans`` builds."""
    table = [chr(code) for code in range(128)]
    for old, new in zip(source, target, strict=True):
        table[ord(old)] = new
    return "".join(table)


def _as_list(table: dict[int, str]) -> list[int | str]:
    """The table indexed by code point, identity where nothing maps: ``str.translate`` then
    looks characters up without hashing, over twice as fast as a dict on long messages."""
    listed: list[int | str] = list(range(max(table) + 1))
    for code, latin in table.items():
        listed[code] = latin
    return listed


_LOOKALIKES = _as_list(_LOOKALIKE_MAP)
_MAYBE_LOOKALIKE = re.compile(
    "["
    + "".join(chr(code) for code in sorted(_LOOKALIKE_MAP) if code < 0x10000)
    + "\U00010000-\U0010ffff]"
)

# ASCII control characters (NUL, BEL, ESC...) hide inside words like zero-width ones do;
# tab, line feed and carriage return are layout and stay.
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# The characters past ASCII in a text: found by one C scan, about four times faster than
# ``set(text) - ascii`` on chat (which hashes every character; most are ASCII).
_NOT_ASCII = re.compile(r"[^\x00-\x7f]")
# What cleaning looks at in text that is not all ASCII: the characters past ASCII and the
# ASCII control ones (classified as invisible), found together in one scan.
_TO_CLASSIFY = re.compile(r"[^\t\n\x20-\x7e]")

# What a non-ASCII character needs, by class; worked out once per character seen. _WORDLIKE:
# a letter, digit or mark, which keeps text from reading as ASCII (``reads_as_ascii``);
# _LINK_HIDER: one of ``LINK_HIDERS`` (see ``clean_reading``).
_INVISIBLE, _OVERRIDE, _FOLD, _LOOKALIKE, _SPACE, _WORDLIKE, _LINK_HIDER = 1, 2, 4, 8, 16, 32, 64
RLO = "\u202e"  # right-to-left override: what follows shows reversed (see _displayed)
# Letters that match an ASCII letter only case-insensitively ("ſ" is an "s" to re.IGNORECASE).
CASE_ODD = ("\u0130", "\u0131", "\u017f", "\u212a")
# What may hide a link's opening written in a text from its cleaned text. Without these
# an opening stays whole through cleaning (only other characters are removed, spaced or
# folded; no mark composes with "/", "." or ":"), so the prefilter's LINK sign, read on the
# cleaned text, is a necessary condition of rules.windows.find_links finding a link. But a
# right-to-left override shows what follows it reversed, and re's case-insensitive reading
# takes the letters of CASE_ODD for ASCII ones ("dıscord.gg/x"), which cleaning folds.
LINK_HIDERS = (RLO, *CASE_ODD)
_LRO, _PDF, _PDI = "\u202d", "\u202c", "\u2069"
# Default-ignorable code points that are not format characters (Unicode's
# Default_Ignorable_Code_Point property less Cf): Hangul fillers, Khmer inherent vowels,
# Mongolian and standard variation selectors, the combining grapheme joiner, the keycap mark
# that turns 0 into a keycap, and the reserved ranges kept for future ignorables.
_IGNORABLE = (
    (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F), (0x20E3, 0x20E3),
    (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
    (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)  # fmt: skip
_CLASS_CACHE_SIZE = 65_536  # distinct characters remembered; text has few
_classes: dict[str, int] = {}
_FEW = 8  # odd characters in a message removed one by one rather than by a table


def _classify(char: str) -> int:
    """The treatment one non-ASCII character needs (a bit set of the classes above)."""
    code = ord(char)
    category = unicodedata.category(char)
    kind = _LINK_HIDER if char in LINK_HIDERS else 0
    if char in (RLO, _LRO, _PDF, _PDI):
        kind |= _OVERRIDE
    if category in ("Cc", "Cf", "Cs") or any(low <= code <= high for low, high in _IGNORABLE):
        return kind | _INVISIBLE
    if category in ("Zs", "Zl", "Zp") or code == 0x2800:  # braille blank shows as a space
        return _SPACE
    if (
        category[0] == "M"
        or unicodedata.normalize("NFKC", char) != char
        or char.casefold() != char
        or char.lower() != char
    ):
        kind |= _FOLD
    if code in _LOOKALIKE_MAP:
        kind |= _LOOKALIKE
    if _wordlike(char):
        kind |= _WORDLIKE
    return kind


def _wordlike(char: str) -> bool:
    """A letter, digit or mark: what keeps text from reading as ASCII."""
    return char.isalnum() or unicodedata.category(char)[0] == "M"


def _displayed(text: str) -> str:
    """Text as shown: a right-to-left override shows what follows it reversed (up to the
    end of the override or the line), so "\u202etoidi" reads "idiot" on screen."""
    out: list[str] = []
    for line in text.split("\n"):
        parts = line.split(RLO)
        shown = parts[0]
        for part in parts[1:]:
            inside, _, after = part.partition(_PDF)
            shown += inside[::-1] + after
        out.append(shown)
    return "\n".join(out)


def clean(text: str) -> str:
    """Fold ``text`` into the form every detector reads (see the module docstring)."""
    return clean_reading(text)[0]


def clean_reading(text: str) -> tuple[str, bool, bool]:
    """``clean(text)``; whether it reads as ASCII (``reads_as_ascii`` of it); and whether
    ``text`` is free of ``LINK_HIDERS``, so that an opening of a link written in it stays
    whole in the cleaned text. For most text the last two come with the first, from the
    characters cleaning looks at anyway."""
    if text.isascii():  # most chat: nothing to fold but case
        if text.isprintable():  # one line of printable ASCII: no control character
            return text.lower(), True, True
        if _ASCII_CONTROL.search(text) is not None:
            text = _ASCII_CONTROL.sub("", text)
        return text.lower(), True, True
    classes = _classes
    kinds = 0
    kept = 0  # the classes of the characters that stay
    odd: list[str] = []
    for char in set(_TO_CLASSIFY.findall(text)):
        kind = classes.get(char)
        if kind is None:
            if len(classes) >= _CLASS_CACHE_SIZE:
                classes.clear()
            kind = classes[char] = _classify(char)
        if kind & (_INVISIBLE | _SPACE):
            odd.append(char)
        else:
            kept |= kind
        kinds |= kind
    links_kept = not kinds & _LINK_HIDER
    if kinds & _OVERRIDE:
        text = _displayed(text)
    if odd:
        # Invisible characters (ASCII control ones too) go first: left in, one between a
        # letter and its accent would keep NFKC from composing them.
        if len(odd) <= _FEW:
            # str.replace scans at C speed; translate looks every character up in a dict
            for char in odd:
                text = text.replace(char, " " if classes[char] & _SPACE else "")
        else:
            table = {ord(c): (" " if classes[c] & _SPACE else None) for c in odd}
            text = text.translate(table)
    if not kinds & (_FOLD | _LOOKALIKE | _OVERRIDE):
        # the characters past ASCII that stay are as they were (none folds, lower() leaves
        # them), so they alone decide whether the text reads as ASCII
        return text.lower(), not kept & _WORDLIKE, links_kept
    if not kinds & _FOLD:
        folded = text.lower()
    else:
        # NFKC again after casefold: folding can leave decomposed sequences (e.g. U+01F0).
        folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    if kinds & _LOOKALIKE or (kinds & _FOLD and _MAYBE_LOOKALIKE.search(folded) is not None):
        folded = folded.translate(_LOOKALIKES)
        if not unicodedata.is_normalized("NFKC", folded):
            # a look-alike mapped to Latin may now compose with the accent that follows it
            folded = unicodedata.normalize("NFKC", folded)
    return folded, reads_as_ascii(folded), links_kept


_SYMBOLS: dict[str, bool] = {}  # non-ASCII character -> whether it is no letter, digit or mark
_SYMBOLS_SIZE = 65_536  # characters remembered; text uses few


def reads_as_ascii(cleaned: str) -> bool:
    """Whether ``cleaned`` is ASCII once its emoji and symbols are read as spaces."""
    if cleaned.isascii():
        return True
    known = _SYMBOLS
    for char in set(_NOT_ASCII.findall(cleaned)):
        symbol = known.get(char)
        if symbol is None:
            if len(known) >= _SYMBOLS_SIZE:
                known.clear()
            symbol = known[char] = not _wordlike(char)
        if not symbol:
            return False
    return True
