"""Listed words and phrases, found whole-word through the usual evasions.

A message is turned into a line of words, `` word word word ``, and one Aho-Corasick
automaton holding `` keyword `` (spaces included, so only whole words match) for every rule
finds all listed words and phrases in one C-level pass. Plain words are compared exactly:
"assistance", "class" and "looser" never hit "ass" or "loser".

Only a word that shows obfuscation is looked at more closely, and only if the closer look
lands exactly on a listed word is that word written into the line in its place:

- leetspeak and symbols inside letters (``l0s3r``, ``$h!t``, ``@ss``): decoded with one
  ``str.translate`` table; ``1``, ``|`` and ``!`` could be ``i`` or ``l``, so both sides
  compare with ``l`` folded into ``i``;
- runs of three or more identical letters (``looooser``): compared with repeats collapsed;
- masks (``l*ser``, ``f**k``): ``*`` or ``#`` stands for one letter, at most two of them
  and never most of the word;
- single letters with separators (``l o s e r``, ``l.o.s.e.r``) are joined first.

Speed: one RE2 set (a DFA pass) tells which of these closer looks a message needs; most chat
needs none and goes from ``str.translate`` and ``split`` straight to the automaton. The
engine's prefilter runs those signs with patterns from this index (``trigger_pattern``,
``disguise_pattern``, ``phrase_pattern``; see ``rules.keyword_signs``) and asks the index to
read only messages where it could find something. The closer
looks use ASCII-only regexes when the text is ASCII (several times faster than Unicode ones),
decode all new suspicious words of a message with one ``translate``, and remember what each
decoded to in a bounded cache, since spam and jargon repeat the same few words.
"""

from __future__ import annotations

import operator
import re
import string
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ahocorasick
import re2

from rules.keyword_signs import (
    ASCII_SIGN_PATTERNS,
    DECODE,
    LEET,
    LONE_RUN,
    TRIPLE,
    UNICODE_SIGN_PATTERNS,
    disguise_trigger,
    drop_edges,
    phrase_trigger,
    word_trigger,
)
from rules.phrasing import (
    FILLERS,
    READING_WORDS,
    WILL_FILLERS,
    YOU_FORMS,
    around_you,
    key_word,
    reread_needs,
    second_person,
    split_words,
    variants,
)
from rules.text import ascii_table, clean, reads_as_ascii


@dataclass(frozen=True, slots=True)
class _Syntax:
    """The word-level regexes for one alphabet: ASCII ones run several times faster."""

    separated: re.Pattern[str]  # 3+ lone glyphs with short gaps: "l o s e r", "l.o.s.e.r"
    edge: re.Pattern[str]  # '!', '*', '#' at a word's edge: punctuation, emphasis, hashtag
    triple: re.Pattern[str]  # a letter three times in a row
    token: re.Pattern[str]  # a word: a run of glyphs


def _syntax(glyph: str, lone: str, letter: str, flags: int) -> _Syntax:
    alone = f"(?<!{glyph}){lone}(?!{glyph})"
    gap = f"(?:(?!{glyph}).){{1,3}}"
    return _Syntax(
        separated=re.compile(f"{alone}(?:{gap}{alone}){{2,}}", flags | re.DOTALL),
        # both branches open with [!*#], which lets the regex engine skip ahead to those
        edge=re.compile(f"[!*#]+(?!{glyph})|[!*#](?<!{glyph}[!*#])[!*#]*", flags),
        triple=re.compile(f"({letter})\\1\\1", flags),
        token=re.compile(f"{glyph}+", flags),
    )


_ASCII = _syntax("[a-z0-9@$|!*#]", "[a-z0-9@$]", "[a-z]", re.ASCII)
_UNICODE = _syntax(r"(?:[^\W_]|[@$|!*#])", r"(?:[^\W_]|[@$])", r"[^\W\d_]", 0)


def _signs(patterns: list[str]) -> Any:
    """One RE2 (DFA) pass over ``patterns``."""
    signs = re2.Set.SearchSet()
    for pattern in patterns:
        signs.Add(pattern)
    signs.Compile()
    return signs


_ASCII_SIGNS = _signs(ASCII_SIGN_PATTERNS)
_UNICODE_SIGNS = _signs(UNICODE_SIGN_PATTERNS)
_WORD = re.compile(r"[^\W_]+")
_NOT_GLYPH = re.compile(r"[^\w@$]|_")
_REPEATS = re.compile(r"(.)\1+")
_FIRST_GROUP = operator.itemgetter(1)  # as a C-level replacement: 3x faster than r"\1"
_TRIPLED = re.compile(r"(.)\1\1")
_HAS_LETTER = re.compile(r"[^\W\d_]|@")
_is_number = re.compile(r"[0-9]+").fullmatch  # ASCII digits only: "²" counts as a letter
_NUMBERED = re.compile(r"[^\W\d_]{1,2}[0-9]{3,}")
_PROOFED = re.compile(r"[\w@$|!*#]+-proof(?:ed|ing|s)?(?![\w-])")
_MARKS = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")

# Plain ASCII: every punctuation mark separates words; with a closer look, all but the leet.
_PUNCTUATION = string.punctuation
_FAST_SPACE = ascii_table(_PUNCTUATION, " " * len(_PUNCTUATION))
_SLOW_PUNCTUATION = "".join(c for c in _PUNCTUATION if c not in LEET)
_SLOW_SPACE = ascii_table(_SLOW_PUNCTUATION, " " * len(_SLOW_PUNCTUATION))
_NOT_ASCII = re.compile(r"[^\x00-\x7f]")
_MAX_MASKS = 2
_MIN_CLOSED = 5  # letters a listed form needs to be found inside a spaced-out sentence
_MIN_SENTENCE = 12  # letters of a spaced-out run read as a sentence, not one word
_CACHE_SIZE = 4096  # decoded words remembered; spam and jargon repeat the same few

_SECOND_PERSON = frozenset(YOU_FORMS)

# rule id -> the keyword as normalised, for every rule that lists this line form
_Entries = tuple[tuple[str, str], ...]


def normalise(text: str) -> list[str]:
    """Split cleaned ``text`` into words the way keywords are stored (no evasion decoding)."""
    syntax = _UNICODE
    text = _strip_marks(text)
    text = syntax.separated.sub(lambda match: _joined(match.group()), text)
    return syntax.token.findall(syntax.edge.sub(" ", text))


def _joined(run: str) -> str:
    """The letters of a run of lone glyphs; a run of digits only ("10.0.0.1") stays as it is."""
    joined = _NOT_GLYPH.sub("", run)
    return joined if _HAS_LETTER.search(joined) else run


def _strip_marks(text: str) -> str:
    """Drop accents and stacked marks ("lösér", zalgo); other scripts' letters stay."""
    if text.isascii():
        return text
    if unicodedata.is_normalized("NFD", text) and not _MARKS.search(text):
        return text
    return unicodedata.normalize("NFC", _MARKS.sub("", unicodedata.normalize("NFD", text)))


def _plurals(word: str) -> tuple[str, ...]:
    if not word.isalpha():
        return ()
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return (word + "es",)
    return (word + "s",)


class KeywordIndex:
    """All keyword rules' words and phrases, searched in one pass over a cleaned message."""

    def __init__(self, words_by_rule: Mapping[str, Sequence[str]]) -> None:
        """Build the automaton; raise ``ValueError`` for a word that normalises to nothing."""
        lines: dict[str, dict[str, str]] = {}  # " line form " -> {rule id: keyword}
        words: list[str] = []  # every word that may appear in a listed line form
        for rule_id, listed in words_by_rule.items():
            for raw in listed:
                tokens = normalise(clean(raw)) if raw.strip() else []
                if not tokens:
                    raise ValueError(
                        f"keywords rule {rule_id!r}: {raw!r} has no letters or digits to match"
                    )
                keyword = " ".join(tokens)
                words.extend(tokens)
                forms = [keyword]
                for plural in _plurals(tokens[-1]):
                    forms.append(" ".join([*tokens[:-1], plural]))
                    words.append(plural)
                for form in list(forms):
                    for variant in variants(form.split()):
                        forms.append(" ".join(variant))
                        words.extend(variant)
                for form in forms:
                    lines.setdefault(f" {form} ", {}).setdefault(rule_id, keyword)
        self._lines = tuple(lines)
        self._automaton = ahocorasick.Automaton()
        for line, rules in lines.items():
            entries: _Entries = tuple(rules.items())
            self._automaton.add_word(line, entries)
        if lines:
            self._automaton.make_automaton()
        self._empty = not lines
        self._words = frozenset(words)
        # what a spaced-out phrase may be split into: listed words and how people address others
        # (frozenset | dict.keys() is a set at run time, not the frozenset typeshed claims; the
        # compiled engine checks the declared type and would raise; and split_words copies
        # any other collection on every call)
        self._splittable = self._words | frozenset(YOU_FORMS) | FILLERS | READING_WORDS
        # words one of which a message needs for its second-person reading to add a hit
        self._reread = reread_needs(line.split() for line in lines)
        # what the prefilter asks a message for (trigger_pattern, disguise_pattern)
        self._keys = self._key_words()
        # every listed line form with its spaces closed up, for sentences spaced out whole
        self._closed: Any = None
        closed = {line.replace(" ", ""): line.strip() for line in lines}
        closed = {key: form for key, form in closed.items() if len(key) >= _MIN_CLOSED}
        if closed:
            self._closed = ahocorasick.Automaton()
            for key, form in closed.items():
                self._closed.add_word(key, form)
            self._closed.make_automaton()
        self._cache: dict[str, str] = {}  # obfuscated-looking word -> what it disguises
        self._runs: dict[str, str] = {}  # run of lone letters -> its word(s)
        # the adverbs the future reading drops are read through masks and l33t too
        self._build_lookups([*words, *sorted(WILL_FILLERS)])

    def _build_lookups(self, words: Iterable[str]) -> None:
        # first listed wins a collision; collisions only join words that look alike anyway
        self._decoded: dict[str, str] = {}
        self._collapsed: dict[str, str] = {}
        self._masked: dict[tuple[int, str, str], list[tuple[str, str]]] = {}
        for word in dict.fromkeys(words):  # each once, in the order listed
            decoded = word.translate(DECODE)
            self._decoded.setdefault(decoded, word)
            self._collapsed.setdefault(_REPEATS.sub(_FIRST_GROUP, decoded), word)
            key = (len(decoded), decoded[0], decoded[-1])
            self._masked.setdefault(key, []).append((decoded, word))

    def trigger_pattern(self) -> str | None:
        """A regex that matches every ASCII text this index could find a listed word in
        without a closer look (see ``search``): the key word of a listed line form (see
        ``_key_words``) as a whole word. None when nothing is listed."""
        if self._empty:
            return None
        return word_trigger(self._keys)

    def disguise_pattern(self) -> str | None:
        """A regex that matches every ASCII text in which the closer look (see ``search``)
        could read a word as the key word of a listed line form, or find such a word with
        leet symbols in it as it is (see ``rules.keyword_signs.disguise_trigger``). None
        when nothing is listed."""
        if self._empty:
            return None
        # a word can only be read as a word of the lookups, all of which are in _words
        return disguise_trigger(self._keys & self._words)

    def phrase_pattern(self) -> str | None:
        """A regex that matches every ASCII text in which this index finds a listed phrase
        without a closer look (see ``search`` and ``rules.keyword_signs.phrase_trigger``):
        the whole phrase, not only its first word. None when nothing can be found."""
        forms = [line.split() for line in self._lines]
        return phrase_trigger(forms, YOU_FORMS.keys(), self._reread)

    def _key_words(self) -> frozenset[str]:
        """A word of each listed line form that every message it is found in holds, as
        written or disguised (``rules.phrasing.key_word``); for a form the readings may
        write in whole, every word they read as one of its words."""
        keys: set[str] = set()
        for line in self._lines:
            form = line.split()
            key = key_word(form)
            if key is None:
                keys.update(form, YOU_FORMS, READING_WORDS)
            else:
                keys.add(key)
        return frozenset(keys)

    def search(self, cleaned: str, signs: Collection[int] | None = None) -> dict[str, str]:
        """Return rule id -> the listed word or phrase found in ``cleaned`` (first hit wins).

        ``cleaned`` is ``rules.text.clean(text)``; never raises on any text. ``signs`` are
        the indices of ``ASCII_SIGN_PATTERNS`` that match ``cleaned``, when the caller
        matched them already: only for text that ``reads_as_ascii``.
        """
        if self._empty:
            return {}
        if "proof" in cleaned:
            # "idiot-proof", "moron-proofed": a compound about making things safe to use
            cleaned = _PROOFED.sub(" ", cleaned)
        if not cleaned.isascii() and (signs is not None or reads_as_ascii(cleaned)):
            # Emoji and symbols are not letters: as spaces, they leave ASCII text that the
            # faster ASCII reading can take ("thanks 🎉", and "you🎉idiot" as two words).
            cleaned = _NOT_ASCII.sub(" ", cleaned)  # one C pass, 4x the speed of replace()
        if cleaned.isascii():
            if signs is None:
                signs = set(_ASCII_SIGNS.Match(cleaned.encode()) or ())
            if not signs:  # most chat: plain words, no closer look needed
                words = cleaned.translate(_FAST_SPACE).split()
            else:
                words = self._words_of(cleaned, _ASCII, set(signs))
        else:
            text = _strip_marks(cleaned)
            found = set(_UNICODE_SIGNS.Match(text.encode("utf-8", "surrogatepass")) or ())
            words = self._words_of(text, _UNICODE, found) if found else _WORD.findall(text)
        hits: dict[str, str] = {}
        for _end, entries in self._automaton.iter(f" {' '.join(words)} "):
            for rule_id, keyword in entries:
                hits.setdefault(rule_id, keyword)
        reread = self._reread
        if not _SECOND_PERSON.isdisjoint(words) and (
            reread is None or not reread.isdisjoint(words)
        ):
            # "ur an absolute idiot" read as "you idiot" (see rules.phrasing); in a long
            # message only the words around each "you" are read again, and only if it holds
            # a word some listed phrase with "you" needs (phrasing.reread_needs)
            for part in around_you(words):
                for _end, entries in self._automaton.iter(f" {' '.join(second_person(part))} "):
                    for rule_id, keyword in entries:
                        hits.setdefault(rule_id, keyword)
        return hits

    def _words_of(self, text: str, syntax: _Syntax, signs: set[int]) -> list[str]:
        """The closer look: a message's words, each disguised listed word replaced by it."""
        if LONE_RUN in signs:
            text = syntax.separated.sub(self._join_run, text)
        if "!" in text or "*" in text or "#" in text:
            text = drop_edges(text, syntax.edge) if syntax is _ASCII else syntax.edge.sub(" ", text)
        if syntax is _ASCII:
            words = text.translate(_SLOW_SPACE).split()
        else:
            words = syntax.token.findall(text)
        # numbers ("2026", "11") decode to no listed word (_resolve wants a letter): only
        # words that mix letters, digits and leet symbols get the closer look
        check = [word for word in words if not (word.isalpha() or _is_number(word))]
        if TRIPLE in signs:
            check += [word for word in words if word.isalpha() and syntax.triple.search(word)]
        if not check or not self._learn(check):
            return words
        known = self._cache
        # plain words that were not checked are never in the cache: they stay exact
        return [known.get(word, word) for word in words]

    def _learn(self, tokens: list[str]) -> bool:
        """Cache what each new token disguises (itself if nothing), decoding all at once;
        return whether any of ``tokens`` disguises a listed word."""
        known = self._cache
        unique = dict.fromkeys(tokens)
        new = [token for token in unique if token not in known]
        if len(known) + len(new) > _CACHE_SIZE:
            known.clear()
            new = list(unique)
        # a token holds no space, so one translate and one split decode every token
        if new:
            decoded_all = " ".join(new).translate(DECODE).split(" ")
            for token, decoded in zip(new, decoded_all, strict=True):
                known[token] = self._resolve(token, decoded) or token
        return any(known[token] != token for token in unique)

    def _join_run(self, match: re.Match[str]) -> str:
        run = match.group()
        joined = self._runs.get(run)
        if joined is None:
            if len(self._runs) >= _CACHE_SIZE:
                self._runs.clear()
            joined = self._runs[run] = self._join(run)
        return joined

    def _join(self, run: str) -> str:
        joined = _joined(run)
        if joined != run and not self._known(joined):
            # "y o u i d i o t": a whole phrase spaced out, cut back into words
            pieces = split_words(joined, self._splittable)
            if pieces is not None and len(pieces) > 1:
                return " ".join(pieces)
            # a spaced-out sentence with words the policy does not know: the listed phrases
            # it holds are added after it ("y o u i d i o t , y o u b r o k e m a i n")
            sentence = self._closed is not None and len(joined) >= _MIN_SENTENCE
            inside = [form for _end, form in self._closed.iter(joined)] if sentence else []
            if inside:
                return " ".join([joined, *dict.fromkeys(inside)])
        # "you are a l o s e r": the article is a word of its own, not the keyword's first letter
        if (
            joined != run
            and joined[0] in "aiu"
            and run[1].isspace()
            and not self._known(joined)
            and self._known(joined[1:])
        ):
            return f"{joined[0]} {joined[1:]}"
        return joined

    def _known(self, token: str) -> bool:
        return token in self._words or self._resolve(token, token.translate(DECODE)) is not None

    def _resolve(self, token: str, decoded: str) -> str | None:
        """The listed word ``token`` (``decoded``: with leet read as letters) disguises."""
        word = self._decoded.get(decoded)
        if word is None:
            if "*" in decoded:
                word = self._unmask(decoded)
            elif _TRIPLED.search(decoded):
                word = self._collapsed.get(_REPEATS.sub(_FIRST_GROUP, decoded))
        if word is not None and (
            _HAS_LETTER.search(token) is None or _NUMBERED.fullmatch(token) is not None
        ):
            # "1337", "$5": numbers and prices; "n1994", "v2024", "a320": a letter or two
            # before a number of three digits or more: model numbers and years, not words
            return None
        return word

    def _unmask(self, decoded: str) -> str | None:
        masks = decoded.count("*")
        if masks > _MAX_MASKS or 2 * masks > len(decoded):
            return None
        for candidate, word in self._masked.get((len(decoded), decoded[0], decoded[-1]), ()):
            if all(c == "*" or c == k for c, k in zip(decoded, candidate, strict=True)):
                return word
        return None
