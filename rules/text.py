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

# Format characters (Unicode category Cf: zero-width space and joiners, bidi controls, soft
# hyphen, tags...) as of Python 3.11's Unicode 14, plus a few invisible marks evaders use the
# same way (combining grapheme joiner, Mongolian and standard variation selectors, the keycap
# mark that makes 0⃣ of a digit) and lone
# surrogates, which malformed JSON can carry in. A fixed list, because scanning all of
# Unicode for Cf at import would cost ~50 ms per start.
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x0600, 0x0605), (0x061C, 0x061C),
    (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2),
    (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064),
    (0x2066, 0x206F), (0x20E3, 0x20E3), (0xD800, 0xDFFF), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)  # fmt: skip
_LOOKALIKE_MAP = lookalike_table()


def _as_list(table: dict[int, str]) -> list[int | str]:
    """The table indexed by code point, identity where nothing maps: ``str.translate`` then
    looks characters up without hashing, over twice as fast as a dict on long messages."""
    listed: list[int | str] = list(range(max(table) + 1))
    for code, latin in table.items():
        listed[code] = latin
    return listed


_LOOKALIKES = _as_list(_LOOKALIKE_MAP)
_INVISIBLE = re.compile(
    "[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in _INVISIBLE_RANGES) + "]"
)
# Searching first is far cheaper than rewriting every character of a long message. The
# searches test Basic Multilingual Plane characters against a bitmap and any character above
# it as "maybe": the regex engine checks a class's astral members one by one, which made an
# exact search 25 times slower than this on text full of accents.
_ASTRAL = "\U00010000-\U0010ffff"
_MAYBE_INVISIBLE = re.compile(
    "["
    + "".join(f"{chr(low)}-{chr(high)}" for low, high in _INVISIBLE_RANGES if high < 0x10000)
    + _ASTRAL
    + "]"
)
_MAYBE_LOOKALIKE = re.compile(
    "[" + "".join(chr(code) for code in sorted(_LOOKALIKE_MAP) if code < 0x10000) + _ASTRAL + "]"
)


def clean(text: str) -> str:
    """Fold ``text`` into the form every detector reads (see the module docstring)."""
    if text.isascii():  # most chat: nothing to fold but case
        return text.lower()
    # Invisible characters go first: left in, one between a letter and its accent would keep
    # NFKC from composing them, and the result would depend on where it was inserted.
    if _MAYBE_INVISIBLE.search(text) is not None:
        text = _INVISIBLE.sub("", text)
    # NFKC again after casefold: folding can leave decomposed sequences (e.g. U+01F0).
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    if _MAYBE_LOOKALIKE.search(folded) is not None:
        folded = folded.translate(_LOOKALIKES)
    if not unicodedata.is_normalized("NFKC", folded):
        # a look-alike mapped to Latin may now compose with the accent that follows it
        folded = unicodedata.normalize("NFKC", folded)
    return folded
