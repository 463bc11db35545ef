"""How insults are phrased around a listed word: the helpers of ``rules.keywords``.

- Second person in chat spelling with words between the target and the word: "ur an idiot",
  "you are an absolute idiot", "u r such a moron" all read as "you idiot"; "your self" and
  "ur self" as "yourself". Listed phrases are read the same way when the policy is loaded.
- A word written without its vowels ("fck", "stpd", "mrn") stands for the listed word with
  the same consonants.
- A whole phrase spaced out letter by letter ("y o u i d i o t") is split back into words
  when every piece is a word the policy knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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
    "truly", "very", "most",
})  # fmt: skip
_VOWELS = str.maketrans("", "", "aeiou")
_MIN_CONSONANTS = 3  # "fk" or "dt" are too short to stand for one word
MAX_SPLIT = 64  # letters of a spaced-out run worth splitting into words


def second_person(words: Sequence[str]) -> list[str]:
    """``words`` with second-person forms unified and the fillers after them dropped."""
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


def reread_needs(forms: Iterable[Sequence[str]]) -> frozenset[str] | None:
    """Words one of which a message must hold for ``second_person`` to let it match one of
    the listed line ``forms`` (as words) that it does not match as written; None: any
    message with a second-person form may.

    The reading changes a message only by writing "you" or "yourself" for a second-person
    form (or "self" after one) and dropping fillers after "you": a form it newly matches
    holds "you" or "yourself" at a changed place or before a dropped filler. The form's
    other words are the message's own, and any of them may stand for the form: the last
    one that is not a filler ("live" in "i know where you live"), as words that say what
    is done to "you" come last and are less common than "are" or "where".
    """
    needs: set[str] = set()
    for form in forms:
        if "you" not in form and "yourself" not in form:
            continue
        others = [word for word in form if word not in YOU_FORMS]
        if not others:
            return None
        needs.add(next((w for w in reversed(others) if w not in FILLERS), others[-1]))
    return frozenset(needs)


def skeleton(word: str) -> str | None:
    """The consonants of ``word`` if it has vowels and enough consonants to be recognised."""
    bare = word.translate(_VOWELS)
    if bare == word or len(bare) < _MIN_CONSONANTS or not bare.isalpha():
        return None
    return bare


def variants(tokens: Sequence[str]) -> set[tuple[str, ...]]:
    """Other ways a listed phrase is written: in second-person reading, and with one word
    (or every word) without its vowels."""
    bases = (tuple(tokens), tuple(second_person(tokens)))
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
