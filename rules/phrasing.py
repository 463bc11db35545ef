"""How insults are phrased around a listed word: the helpers of ``rules.keywords``.

- Second person in chat spelling with words between the target and the word: "ur an idiot",
  "you are an absolute idiot", "u r such a moron" all read as "you idiot"; "your self" and
  "ur self" as "yourself". Listed phrases are read the same way when the policy is loaded.
- The first-person future in its spoken and chat forms: "i'll", "ill", "im gonna", "i'm going
  to", "imma" read as "i will", and "we'll", "we're gonna" as "we will", with the adverbs a
  threat is padded with dropped after them ("i'll really hurt you" reads "i will hurt you").
- An insult before its target: "what an idiot you are" reads as "you idiot".
- A word written without its vowels ("fck", "stpd", "mrn") stands for the listed word with
  the same consonants.
- A whole phrase spaced out letter by letter ("y o u i d i o t") is split back into words
  when every piece is a word the policy knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import groupby

# Second-person forms, and what each reads as.
YOU_FORMS = {
    "you": "you", "u": "you", "ya": "you", "yu": "you", "yuo": "you", "ur": "you",
    "your": "you", "youre": "you", "yo": "you", "yourself": "yourself", "urself": "yourself",
    "yourselves": "yourself", "uself": "yourself", "yoself": "yourself",
}  # fmt: skip
# Words that may stand between "you" and what is said about them without changing it:
# verbs of being, articles, intensifiers, and the adjectives insults are padded with. A
# filler is only dropped with a word after it: "you are stupid" stays "you stupid".
FILLERS = frozenset({
    "stupid", "dumb", "useless", "worthless", "ugly", "fat", "lazy", "silly", "one",
    "clueless", "brainless", "incompetent", "annoying", "sad", "old", "lil",
    "are", "r", "re", "is", "a", "an", "the", "such", "so", "really", "absolute",
    "absolutely", "complete", "completely", "total", "totally", "utter", "utterly",
    "fucking", "freaking", "bloody", "big", "biggest", "huge", "massive", "damn",
    "little", "pathetic", "real", "literally", "just", "being", "acting", "like",
    "truly", "very", "most", "dumbest", "stupidest", "worst", "ugliest", "laziest",
    "saddest", "lamest", "dirty", "filthy", "stinking", "miserable", "ignorant", "arrogant",
    "lame", "fake", "typical",
})  # fmt: skip
# The first-person future as chat writes it ("i'll" is two words once the apostrophe is a
# space), by what it reads as.
_FUTURE_SPELLINGS = {
    "i will": (
        "i will", "i ll", "ill", "i shall", "i wil", "imma", "ima", "i ma", "i mma", "i gonna",
        "im gonna", "i m gonna", "i am gonna", "im going to", "i m going to", "i am going to",
    ),
    "we will": (
        "we will", "we ll", "we shall", "we re gonna", "we are gonna", "we re going to",
        "we are going to",
    ),
}  # fmt: skip
FUTURES: dict[tuple[str, ...], tuple[str, ...]] = {
    tuple(spelling.split()): tuple(reading.split())
    for reading, spellings in _FUTURE_SPELLINGS.items()
    for spelling in spellings
}
_FUTURE_STARTS = frozenset(form[0] for form in FUTURES)
_LONGEST_FUTURE = max(map(len, FUTURES))
# Adverbs between "will" and the verb that do not change what is said.
WILL_FILLERS = frozenset({
    "really", "literally", "seriously", "personally", "definitely", "actually", "just",
    "totally", "fucking", "surely", "absolutely", "honestly", "gladly", "happily", "so",
})  # fmt: skip
# Words too common to be the one a message must hold (see reread_needs and key_word): "up"
# in "beat you up", "with" in "sleep with you", "room" (a Matrix room) in "my hotel room".
_COMMON = FILLERS | WILL_FILLERS | {
    "up", "with", "to", "on", "in", "at", "of", "for", "out", "off", "down", "and", "or",
    "me", "it", "that", "this", "my", "be", "do", "get", "go", "want", "wanna", "room",
}  # fmt: skip
# Words the readings write into a message that it may not have held: a line form holding
# one may be found in a message that does not ("ur an idiot" is found as "you idiot").
WRITTEN_IN = frozenset({"you", "yourself", *(word for form in FUTURES.values() for word in form)})
# The words the readings read, beyond the second-person forms: for splitting a sentence
# spaced out whole into words, and as the keys of a line form made of written-in words only.
READING_WORDS = frozenset({"what", *(word for form in FUTURES for word in form)})
_VOWELS = str.maketrans("", "", "aeiou")
_MIN_CONSONANTS = 3  # "fk" or "dt" are too short to stand for one word
MAX_SPLIT = 64  # letters of a spaced-out run worth splitting into words


def second_person(words: Sequence[str]) -> list[str]:
    """``words`` with second-person forms unified and the fillers after them dropped, and
    the first-person future read as "i will" or "we will" (see ``FUTURES``)."""
    if not _FUTURE_STARTS.isdisjoint(words):
        words = _futures(words)
    if "what" in words:
        words = _exclamations(words)
    out: list[str] = []
    after_you = False
    last = len(words) - 1
    for i, word in enumerate(words):
        form = YOU_FORMS.get(word)
        if form is not None:
            out.append(form)
            after_you = form == "you"
            continue
        if word == "self" and out and out[-1] == "you":
            out[-1] = "yourself"
            after_you = False
            continue
        if after_you and word in FILLERS and i < last:
            continue
        after_you = False
        out.append(word)
    return out


def _futures(words: Sequence[str]) -> list[str]:
    """``words`` with each first-person future form written "i will" or "we will", and the
    adverbs after it dropped (when a word follows them)."""
    out: list[str] = []
    i, n = 0, len(words)
    while i < n:
        if words[i] in _FUTURE_STARTS:
            for size in range(min(_LONGEST_FUTURE, n - i), 0, -1):
                reading = FUTURES.get(tuple(words[i : i + size]))
                if reading is not None:
                    out.extend(reading)
                    i += size
                    while i < n - 1 and words[i] in WILL_FILLERS:
                        i += 1
                    break
            else:
                out.append(words[i])
                i += 1
            continue
        out.append(words[i])
        i += 1
    return out


_BE = frozenset({"are", "r", "re", "is"})


def _exclamations(words: Sequence[str]) -> list[str]:
    """``words`` with "what a(n) [fillers] X you are" written "you X" ("what an idiot you
    are" says "you idiot")."""
    out: list[str] = []
    i, n = 0, len(words)
    while i < n:
        if words[i] == "what" and i + 1 < n and words[i + 1] in ("a", "an"):
            j = i + 2
            while j < n - 1 and words[j] in FILLERS:
                j += 1
            if j + 2 < n and words[j + 1] in YOU_FORMS and words[j + 2] in _BE:
                out += ("you", words[j])
                i = j + 3
                continue
        out.append(words[i])
        i += 1
    return out


def reread_needs(forms: Iterable[Sequence[str]]) -> frozenset[str] | None:
    """Words one of which a message must hold for ``second_person`` to let it match one of
    the listed line ``forms`` (as words) that it does not match as written; None: any
    message with a second-person form may.

    The reading changes a message only by writing "you" or "yourself" for a second-person
    form (or "self" after one), dropping fillers after "you", and writing "i will" or "we
    will" for a future form and dropping the adverbs after it: a form it newly matches
    holds "you" or "yourself" at a changed place or before a dropped filler, or a word the
    reading writes in (``WRITTEN_IN``). The form's other words are the message's own, and any
    of them may stand for the form: the last one that is not a filler or a common word
    ("live" in "i know where you live", "beat" in "i will beat you up"), as words that say
    what is done to "you" come last and are less common than "are" or "where".
    """
    needs: set[str] = set()
    for form in forms:
        if WRITTEN_IN.isdisjoint(form):
            continue
        others = [word for word in form if word not in YOU_FORMS and word not in WRITTEN_IN]
        if not others:
            return None
        needs.add(next((w for w in reversed(others) if w not in _COMMON), others[-1]))
    return frozenset(needs)


def key_word(form: Sequence[str]) -> str | None:
    """A word every message a listed line ``form`` is found in holds, as written or
    disguised; None if the readings may write in every word of it.

    The readings write in only ``WRITTEN_IN``; every other word of the form is the
    message's own. Of those, the last that is not a common word or a second-person form and
    has three letters once repeats are collapsed: the rarer the word, the fewer messages
    the index is asked to read ("body", not "show", in "show me your body"; "kill" in "i
    will kill you"). A shorter one ("bbs", the skeleton of "boobs") is found disguised in
    too much ("8s" reads as it): then the one with the most letters.
    """
    own = [word for word in form if word not in WRITTEN_IN]
    if not own:
        return None
    for word in reversed(own):
        if word not in _COMMON and word not in YOU_FORMS and _letters(word) >= _KEY_LETTERS:
            return word
    return max(reversed(own), key=_letters)


_KEY_LETTERS = 3


def _letters(word: str) -> int:
    """The letters of ``word`` with repeats collapsed ("boobs": b, o, b, s)."""
    return sum(1 for _ in groupby(word))


def skeleton(word: str) -> str | None:
    """The consonants of ``word`` if it has vowels and enough consonants to be recognised."""
    bare = word.translate(_VOWELS)
    if bare == word or len(bare) < _MIN_CONSONANTS or not bare.isalpha():
        return None
    return bare


# What follows an apostrophe in a contraction; chat drops the apostrophe ("dont", "cant").
_CONTRACTED = frozenset({"t", "s", "re", "ll", "ve", "d", "m"})


def _without_apostrophes(form: Sequence[str]) -> tuple[str, ...]:
    """``form`` with each contraction written as one word: "don t" as "dont"."""
    out: list[str] = []
    for token in form:
        if token in _CONTRACTED and out:
            out[-1] += token
        else:
            out.append(token)
    return tuple(out)


def variants(tokens: Sequence[str]) -> set[tuple[str, ...]]:
    """Other ways a listed phrase is written: in second-person reading, with contractions
    closed up ("women don't" as "women dont"), and with one word (or every word) without
    its vowels."""
    read = tuple(second_person(tokens))
    bases = (tuple(tokens), read, _without_apostrophes(tokens), _without_apostrophes(read))
    forms = set(bases)
    for form in bases:
        bare = [skeleton(token) for token in form]
        for i, consonants in enumerate(bare):
            if consonants is not None:
                forms.add((*form[:i], consonants, *form[i + 1 :]))
        if sum(b is not None for b in bare) > 1:
            forms.add(tuple(b or t for b, t in zip(bare, form, strict=True)))
    forms.discard(tuple(tokens))
    return forms


def split_words(joined: str, vocabulary: Iterable[str] | frozenset[str]) -> list[str] | None:
    """``joined`` cut into words of ``vocabulary`` (fewest pieces), or None if it cannot be."""
    if len(joined) > MAX_SPLIT:
        return None
    known = vocabulary if isinstance(vocabulary, frozenset) else frozenset(vocabulary)
    longest = 24
    best: list[list[str] | None] = [[]] + [None] * len(joined)
    for end in range(1, len(joined) + 1):
        for start in range(max(0, end - longest), end):
            before = best[start]
            piece = joined[start:end]
            if before is not None and piece in known:
                candidate = [*before, piece]
                current = best[end]
                if current is None or len(candidate) < len(current):
                    best[end] = candidate
    return best[-1]


_BEFORE_YOU, _AFTER_YOU = 6, 12  # words of a listed phrase before "you", and after it
_SHORT = 40  # words in a message read again whole


def around_you(words: list[str]) -> list[list[str]]:
    """The stretches of ``words`` around each second-person word, overlapping ones merged."""
    if len(words) <= _SHORT:
        return [words]
    parts: list[list[str]] = []
    start = end = -1
    you = YOU_FORMS
    # the positions first, in one comprehension: on a long message most words are not "you"
    for i in [i for i, word in enumerate(words) if word in you]:
        if start >= 0 and i - _BEFORE_YOU <= end:
            end = i + _AFTER_YOU
            continue
        if start >= 0:
            parts.append(words[start:end])
        start, end = max(0, i - _BEFORE_YOU), i + _AFTER_YOU
    if start >= 0:
        parts.append(words[start:end])
    return parts
