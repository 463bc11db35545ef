"""Contact details in the less usual shapes: numbers spelled out, spaced-out addresses,
social handles.

Helpers of ``rules.pii``; they read text already passed through ``rules.text.clean``.
"""

from __future__ import annotations

import re

import re2

# Digits spelled out in English and Swahili ("zero seven one ...", "sifuri saba moja ...");
# "oh" and "o" are read as 0 only between other number words.
DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "nought": "0", "one": "1", "two": "2", "three": "3",
    "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
    "sifuri": "0", "moja": "1", "mbili": "2", "tatu": "3", "nne": "4", "tano": "5",
    "sita": "6", "saba": "7", "nane": "8", "tisa": "9",
}  # fmt: skip
_REPEAT_WORDS = {"double": 2, "triple": 3, "mara mbili": 2}
_NUMBER_TOKEN = (
    r"(?:" + "|".join(sorted(DIGIT_WORDS, key=len, reverse=True))
    + r"|double|triple|\d{1,4})"
)  # fmt: skip
# Seven or more number words or short digit groups in a row, at least three of them words:
# a phone number (9-12 digits) said aloud. "moja moja" or "one or two" stay far below. RE2:
# text full of number words ("o" in "l o s e r") costs the re module milliseconds per 8 KB.
_SPOKEN_RUN = re2.compile(
    rf"(?:^|[^\w@]){_NUMBER_TOKEN}(?:[\s,.\-]{{1,3}}{_NUMBER_TOKEN}){{5,}}(?:$|[^\w@])"
)
# The run's words and digit groups. ASCII only, as RE2 (which found the run) reads \w: the
# character before or after a run may be any other letter ("éseven"), which a Unicode \w+
# would take into the first or last word.
_TOKEN = re.compile(r"[a-z0-9]+")


_MAX_TOKENS = 40
_MAX_FOUND = 16  # a message spelling out more numbers than this is read no further


def spoken_numbers(cleaned: str) -> list[tuple[str, int]]:
    """Runs of spelled-out digits turned into digits, each with where it starts."""
    found = []
    for run in _SPOKEN_RUN.finditer(cleaned):
        digits: list[str] = []
        repeat = 1
        spoken = 0
        # a number said aloud is at most 15 digits: the start of a longer run is read
        for token in _TOKEN.findall(run.group())[:_MAX_TOKENS]:
            if token in ("double", "triple"):
                repeat = _REPEAT_WORDS[token]
                continue
            if token.isdigit():
                digits.append(token * repeat if len(token) == 1 else token)
            else:
                digits.append(DIGIT_WORDS[token] * repeat)
                spoken += 1
            repeat = 1
        if spoken >= 3:
            found.append((" ".join(digits), run.start()))
        if len(found) >= _MAX_FOUND:
            break
    return found


# Single characters separated by single spaces around an "@": "b a r a k a @ g m a i l . c o m".
_SPACED = re.compile(r"(?<!\S)[\w.@+\-](?: [\w.@+\-]){4,}+(?!\S)")


# An "@" standing alone between spaces: every spaced-out run holding an "@" has one.
_LONE_AT = re.compile(r"@(?!\S)(?<!\S@)")


def spaced_out(cleaned: str) -> list[tuple[str, int]]:
    """Spaced-out runs that hold an "@", closed up, each with where it starts."""
    if _LONE_AT.search(cleaned) is None:  # a scan for "@" only: far cheaper than _SPACED
        return []
    return [
        (match.group().replace(" ", ""), match.start())
        for match in _SPACED.finditer(cleaned)
        if "@" in match.group()
    ]


# "her IG is @njeri.w", "insta: @x", "follow him on tiktok @x", "@x on snapchat". Only
# platforms where a handle is a private channel to a person; a GitHub or Matrix handle is how
# a tech community works together.
# The platforms whose name says it on its own; "sc", "whatsapp", "wa" and "x" mean too much
# else to stand before a bare name without "is" or ":".
_NAMED_PLATFORM = (
    r"(?:ig|insta(?:gram)?|twitter|tiktok|tik\s?tok|snap(?:chat)?|facebook|fb|telegram|tg"
    r"|threads)"
)
_PLATFORM = rf"(?:{_NAMED_PLATFORM}|sc|whats\s?app|wa|x)"
_HANDLE = r"@[a-z0-9_][a-z0-9_.]{1,29}"
_NAMED = r"(?:\s+(?:handle|username|user\s?name|account|acc|id|name|page|profile))?"
# RE2: the platform alternation tried at every word costs the re module ~1 ms per 8 KB.
HANDLES_PATTERN = (
    rf"\b{_PLATFORM}{_NAMED}\s*(?:is\s+|ni\s+|[:=\-]\s*)?(?P<h1>{_HANDLE})"
    rf"|\bon\s+{_PLATFORM}\s*(?:as\s+|at\s+|[:\-]\s*)?(?P<h2>{_HANDLE})"
    rf"|(?:^|[^\w@])(?P<h3>{_HANDLE})\s+on\s+{_PLATFORM}\b"
    # "her ig is wanjiku_k", "follow her ig wanjiku_254", "find him on insta: otis.k":
    # without the "@", after a person and the platform (a bare name must look like a
    # handle, see _HANDLE_LIKE; without "is" or ":", only after a _NAMED_PLATFORM)
    rf"|\b(?:her|his|their|my|our)\s+{_PLATFORM}{_NAMED}\s*(?:is\s+|ni\s+|[:=\-]\s*)"
    r"(?P<h4>[a-z0-9_.]{3,30})"
    rf"|\b(?:her|his|their|him|them|my|our)\s+(?:on\s+)?{_NAMED_PLATFORM}{_NAMED}"
    r"(?:\s*[:=\-]\s*|\s+(?:(?:is|ni|as|at)\s+)?)(?P<h5>[a-z0-9_][a-z0-9_.]{2,29})"
)
_HANDLES = re2.compile(HANDLES_PATTERN)
_H4 = _HANDLES.groupindex["h4"]  # RE2's match.start takes group numbers only
_H5 = _HANDLES.groupindex["h5"]
_POSSESSIVE = re.compile(r"\b(?:her|his|their|him|them|my|our)\b")
_HANDLE_LIKE = re.compile(r"(?=.*[a-z])[a-z0-9]*[_.0-9]")  # a letter and a _ . or digit
# A bare name made of these, after a platform without "is" or ":", is a developer's
# identifier ("his twitter api_v2", "their tg bot_token"), not a handle.
_TECH_PART = re.compile(
    r"(?:^|[_.])(?:api|apis|bot|bots|sdk|token|tokens|id|ids|v\d+|app|apps|webhook|client"
    r"|graph|page|config|key|keys|secret|url|json|py|js|io|com)(?:$|[_.])"
)


def social_handles(cleaned: str) -> list[tuple[str, int]]:
    """Handles given together with the platform they reach someone on, with the match start."""
    if "@" not in cleaned and not _POSSESSIVE.search(cleaned):
        return []
    found: list[tuple[str, int]] = []
    for match in _HANDLES.finditer(cleaned):
        handle = match.group("h1") or match.group("h2") or match.group("h3")
        if handle is None:
            group = _H4 if match.group("h4") is not None else _H5
            bare = match.group(group).rstrip(".")
            if not _HANDLE_LIKE.match(bare) or (group == _H5 and _TECH_PART.search(bare)):
                continue  # "her ig is private", "his insta: down again", "tg bot_api"
            handle = "@" + bare
            found.append((handle, match.start(group)))  # "my ig is ..." then reads as own
            continue
        found.append((handle.rstrip("."), match.start()))
        if len(found) >= _MAX_FOUND:
            break
    return found
