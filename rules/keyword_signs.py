"""Which messages the keyword index must read, and how closely: patterns for one RE2 pass.

``rules.keywords`` reads a message in one of two ways. Plain chat is split at every
punctuation mark and its words go straight to the automaton. A message showing signs of
disguise (the sign patterns here: a digit or leet symbol touching a letter, letters spaced
out, a letter three times) gets the closer look: leet symbols stay inside words, and every
word mixing letters, digits and symbols is decoded and compared with the listed words.

The engine's prefilter (``rules.prefilter``) runs these patterns, with two that depend on
the policy, over every message, and asks the index to read a message only if one says it
might hold a listed word:

- ``word_trigger``: a word a listed phrase starts with, or a second-person form ("u", "ur"),
  as a whole word: without it, the plain reading finds nothing;
- ``disguise_trigger``: a word that may be read as such a first word or second-person form
  by the closer look. Without it (and without spaced-out or tripled letters), the closer
  look finds nothing either: "k8s", "10am", "@wanjiru" or "sha256" alone do not make the
  engine read a message;
- ``phrase_trigger``: a listed phrase whole, not only its first word ("i" or "go" alone
  are everyday words): without it, the plain reading finds nothing.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Iterable, Sequence
from itertools import groupby
from typing import Any

from rules.text import ascii_table

LEET = "@$|!*#"  # symbols evaders put inside words: leetspeak and masks
# Leetspeak to letters; 'l' joins 'i' because '1', '|' and '!' can stand for either; '#' is
# a mask like '*'.
_LEET_FROM, _LEET_TO = "013456789@$!|l#", "oieasgtbgasiii*"
DECODE = ascii_table(_LEET_FROM, _LEET_TO)

ADJACENT, LONE_RUN, TRIPLE = 0, 1, 2  # the sign patterns, by index


def sign_patterns(letter: str, *extra: str) -> list[str]:
    """The patterns telling which closer looks a message needs, by index.

    0: a digit or leet symbol touching a letter; 1: a run of three lone glyphs, one a letter;
    then the ``extra`` patterns.
    """
    glyph = f"[{letter}0-9@$|!*#]"
    lone, gap, alpha = f"[{letter}0-9@$]", f"[^{letter}0-9@$|!*#]{{1,3}}", f"[{letter}]"
    run = "|".join(
        (
            f"{alpha}{gap}{lone}{gap}{lone}",
            f"{lone}{gap}{alpha}{gap}{lone}",
            f"{lone}{gap}{lone}{gap}{alpha}",
        )
    )
    return [
        f"[@$|!*#][{letter}0-9]|[{letter}0-9][@$|]|[{letter}][0-9]|[0-9][{letter}]",
        f"(?:^|[^{glyph[1:-1]}])(?:{run})(?:$|[^{glyph[1:-1]}])",
        *extra,
    ]


# 2: a Latin letter three times in a row (RE2 has no backreferences: all 26 spelled out).
# Other scripts' tripled letters go unnoticed: look-alikes are Latin by now, and a per-letter
# backreference scan of long non-Latin messages would cost more than it finds.
_TRIPLES = "|".join(c * 3 for c in string.ascii_lowercase)
# The ASCII signs, also run by the engine's prefilter (rules.prefilter) for text that is
# ASCII once emoji and symbols are read as spaces: there a code point is one character, so
# an emoji counts as one separator, as the space it becomes in rules.keywords does.
ASCII_SIGN_PATTERNS = sign_patterns("a-z", _TRIPLES)
UNICODE_SIGN_PATTERNS = sign_patterns(r"\pL", _TRIPLES)


_PLAIN_WORD = re.compile(r"[a-z0-9]+")  # what a word of plain ASCII chat can be


def word_trigger(words: Iterable[str]) -> str:
    """A regex matching ASCII text that holds one of ``words`` as a whole word of the plain
    reading (split at every punctuation mark); words that reading cannot hold are left out."""
    plain = sorted(word for word in set(words) if _PLAIN_WORD.fullmatch(word))
    return rf"(?:^|[^a-z0-9])(?:{'|'.join(plain)})(?:[^a-z0-9]|$)"


def _spelling_table() -> dict[str, str]:
    """Decoded character -> every ASCII character the closer look decodes to it."""
    table: dict[str, str] = {}
    for raw in map(chr, range(128)):
        decoded = raw.translate(DECODE)
        table[decoded] = table.get(decoded, "") + raw
    return table


_SPELLINGS = _spelling_table()  # "a": "4@a", "i": "!1il|", "*": "#*"...
_OUTSIDE = "[^a-z0-9@$|]"  # what stands around a word of the closer look (or a dropped edge)
# A mask that stays inside a word: a run of '!', '*' and '#' is dropped as the word's edge
# unless a letter, digit, '@', '$' or '|' stands on both sides of it.
_MASKED = "[a-z0-9@$|][!*#]*[*#][!*#]*[a-z0-9@$|]"


_DIGITS = frozenset(string.digits)
_MAX_NUMERAL_RUNS = 12  # letters of a word spelled by digits alone given the longer pattern


@functools.cache  # a policy has few distinct letters and many words
def _spelled(decoded: str, keep: str = "all") -> str:
    """A character class of what the closer look reads as ``decoded`` ("[4@a]" for "a"):
    ``keep`` "all", only the "digits" ("[4]") or only the "others" ("[@a]")."""
    chars = sorted(_SPELLINGS.get(decoded, decoded))
    if keep != "all":
        chars = [c for c in chars if (c in _DIGITS) is (keep == "digits")]
    return "[" + "".join("\\" + c if c in "\\]^-[" else c for c in chars) + "]"


def _not_a_number(runs: str) -> str | None:
    """``runs`` spelled, for a word whose every letter may be a digit ("i" as "1", "so" as
    "50"): a number is never read as a word (the closer look decodes words that mix letters,
    digits and symbols), so one place must hold something else than a digit."""
    spelled = [_spelled(c) + "+" for c in runs]
    branches = []
    for j, char in enumerate(runs):
        if _spelled(char, "others") == "[]":
            continue  # "2" is read as nothing else
        digits = "".join(_spelled(c, "digits") + "+" for c in runs[:j])
        other = _spelled(char, "digits") + "*" + _spelled(char, "others") + _spelled(char) + "*"
        branches.append(digits + other + "".join(spelled[j + 1 :]))
    return f"(?:{'|'.join(branches)})(?:{_OUTSIDE}|$)" if branches else None


def disguise_trigger(words: Iterable[str]) -> str | None:
    """A regex matching every ASCII text where the closer look (``rules.keywords``) could
    read a word as one of ``words``, or find one of them as it is; None for no words.

    The closer look reads a word W (a run of letters, digits and leet symbols; leet symbols
    at its edges are dropped first) as the listed word L only if, with leet decoded, W reads
    exactly as L, or as L with letters repeated, or as L with a letter or two masked by "*"
    or "#". Masks are matched on their own (``_MASKED``). Otherwise every character of W is
    one that decodes to the letter of L at its place, and W's characters fall into one run
    per letter of L with its repeats collapsed: W matches ``[4@a]+[$5s]+`` for L = "ass".
    Around W stands no letter, digit, "@", "$" or "|". The words' patterns share their
    common beginnings (a trie): distinct letters have disjoint classes, so the DFA follows
    one path of the trie per word of the text, whatever the number of words.
    """
    trie: dict[str, Any] = {}
    numerals: list[str] = []  # short words every letter of which may be a digit
    for word in words:
        runs = "".join(char for char, _ in groupby(word.translate(DECODE)))
        if len(runs) <= _MAX_NUMERAL_RUNS and all(_DIGITS & set(_spelled(c)) for c in runs):
            numeral = _not_a_number(runs)
            if numeral is not None:  # else only a number, which is no word: nothing to read
                numerals.append(numeral)
            continue
        node = trie
        for char in runs:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here
    if not trie and not numerals:
        return None
    spelled = [_alternatives(trie)] if trie else []
    return f"{_MASKED}|(?:^|{_OUTSIDE})(?:{'|'.join([*spelled, *sorted(set(numerals))])})"


def _alternatives(trie: dict[str, Any]) -> str:
    """The regex of ``trie``: built leaves first, without recursion (words may be long)."""
    built: dict[int, str] = {}  # id(node) -> its regex
    stack: list[tuple[dict[str, Any], bool]] = [(trie, False)]
    while stack:
        node, children_built = stack.pop()
        if not children_built:
            stack.append((node, True))
            stack.extend((child, False) for char, child in node.items() if char)
            continue
        branches = [
            f"(?:{_OUTSIDE}|$)" if not char else _spelled(char) + "+" + built[id(child)]
            for char, child in sorted(node.items())
        ]
        built[id(node)] = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
    return built[id(trie)]


def phrase_trigger(
    forms: Iterable[Sequence[str]], you_forms: Iterable[str], needs: frozenset[str] | None
) -> str | None:
    """A regex matching every ASCII text in which the plain reading (no closer look) finds
    one of the listed line ``forms`` (as words), as written or in the second-person reading
    (see ``rules.phrasing.reread_needs``: ``needs`` None means any of ``you_forms`` may
    do; empty, that reading finds nothing). None if no text can match.

    The plain reading's words are the runs of ASCII letters and digits, so a form of plain
    words is found only where its words stand in order with other characters between;
    the second-person reading adds a hit only to a message holding a second-person form
    and (unless ``needs`` is None) one of ``needs`` as whole words, in either order.
    """
    plain = sorted({r"[^a-z0-9]+".join(form) for form in forms if _plain(form)})
    branches = [f"(?:^|[^a-z0-9])(?:{'|'.join(plain)})(?:[^a-z0-9]|$)"] if plain else []
    you = "|".join(sorted(you_forms))
    if needs is None:
        branches.append(f"(?:^|[^a-z0-9])(?:{you})(?:[^a-z0-9]|$)")
    elif plain_needs := sorted(word for word in needs if _PLAIN_WORD.fullmatch(word)):
        need = "|".join(plain_needs)  # other words are never words of the plain reading
        for first, second in ((you, need), (need, you)):
            branches.append(
                f"(?:^|[^a-z0-9])(?:{first})[^a-z0-9](?s:.*[^a-z0-9])?(?:{second})(?:[^a-z0-9]|$)"
            )
    return "|".join(branches) or None


def _plain(words: Iterable[str]) -> bool:
    """Whether every word may be a word of the plain reading (letters and digits)."""
    return all(_PLAIN_WORD.fullmatch(word) for word in words)


_GLYPHS = frozenset(string.ascii_lowercase + string.digits + LEET)
_EDGE_MARKS = "!*#"
# In text this long with up to this many marks, finding them one by one beats the regex
_LONG, _FEW_MARKS = 200, 32


def drop_edges(text: str, edge: re.Pattern[str]) -> str:
    """ASCII ``text`` as ``edge.sub(" ", text)`` reads it, ``edge`` being the closer look's
    ASCII edge regex: each run of "!", "*" and "#" without a letter, digit or leet symbol
    on one side (a word's edge: "wow!", "#tag", "**bold**") becomes one space; runs inside
    words ("f**k") stay. Python's regex engine tries the pattern at every character of the
    text; in long text with few marks, ``str.find`` (a C scan) finds them for a tenth."""
    if len(text) < _LONG or sum(map(text.count, _EDGE_MARKS)) > _FEW_MARKS:
        return edge.sub(" ", text)
    marks = []
    for mark in _EDGE_MARKS:
        at = text.find(mark)
        while at >= 0:
            marks.append(at)
            at = text.find(mark, at + 1)
    marks.sort()
    pieces: list[str] = []
    kept = 0  # text before this index is in pieces
    k = 0
    while k < len(marks):
        start = end = marks[k]
        while k < len(marks) and marks[k] == end:  # one run of consecutive marks
            k += 1
            end += 1
        before = text[start - 1] if start else ""
        after = text[end] if end < len(text) else ""
        if before not in _GLYPHS or after not in _GLYPHS:
            pieces += (text[kept:start], " ")
            kept = end
    if not pieces:
        return text
    pieces.append(text[kept:])
    return "".join(pieces)
