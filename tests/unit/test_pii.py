"""Contact details: every disguise the code of conduct has to see through, and the technical
chatter it must leave alone. Texts go through ``clean`` first, as in the engine."""

from __future__ import annotations

import timeit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.pii import _LABELLED, Contact, _labelled, find_contacts
from rules.text import clean


def contacts(
    text: str, *, phones: bool = True, emails: bool = True, default_region: str = "KE"
) -> list[Contact]:
    return find_contacts(clean(text), phones=phones, emails=emails, default_region=default_region)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call her on 0712 345 678", "+254712345678"),
        ("+254 712 345 678", "+254712345678"),
        ("+254712345678", "+254712345678"),
        ("254 712 345 678", "+254712345678"),
        ("254712345678", "+254712345678"),
        ("0712345678", "+254712345678"),
        ("0712.345.678", "+254712345678"),
        ("0712-345-678", "+254712345678"),
        ("(0712) 345 678", "+254712345678"),
        ("+254-(0)712-345-678", "+254712345678"),
        ("+254 (0) 712 345678", "+254712345678"),
        ("(+254) 712 345 678", "+254712345678"),
        ("00254 712 345 678", "+254712345678"),
        ("0112 345 678", "+254112345678"),
        ("her safaricom line is 0110 123 456", "+254110123456"),
        ("０７１２ ３４５ ６７８", "+254712345678"),  # full-width digits
        ("+２５４７１２３４５６７８", "+254712345678"),
        (
            "0\ufe0f\u20e37\ufe0f\u20e31\ufe0f\u20e32\ufe0f\u20e33\ufe0f\u20e34\ufe0f\u20e3"
            "5\ufe0f\u20e36\ufe0f\u20e37\ufe0f\u20e38\ufe0f\u20e3",
            "+254712345678",
        ),  # keycaps
        ("07l2 345 6O8", "+254712345608"),  # letters for digits
        ("o712 345 678", "+254712345678"),
        ("0 7 1 2 3 4 5 6 7 8", "+254712345678"),  # spaced out one by one
        ("0 7 1 2 - 3 4 5 - 6 7 8", "+254712345678"),
        ("0.7.1.2.3.4.5.6.7.8", "+254712345678"),
        ("07\u200b12\u200b345\u200b678", "+254712345678"),  # invisible characters
        ("room 5, 0712345678", "+254712345678"),
        ("room 5 0712345678", "+254712345678"),  # a stray digit before the number
        ("0712345678 2 times", "+254712345678"),
        ("at 10:30 call 0712 345 678", "+254712345678"),
        ("https://wa.me/254712345678", "+254712345678"),
        ("tel:+254712345678", "+254712345678"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 415 555 2671", "+14155552671"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("+256 772 123456", "+256772123456"),
        ("+255 754 123 456", "+255754123456"),
        ("reach him: 0041 44 668 18 00", "+41446681800"),
    ],
)
def test_phone_numbers_are_found(text: str, expected: str) -> None:
    assert contacts(text) == [Contact("phone", expected)]


def test_several_numbers_are_all_found() -> None:
    found = contacts("0712345678/0722 123 456 or +44 20 7946 0958")
    assert [c.excerpt for c in found] == ["+254712345678", "+254722123456", "+442079460958"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jane@example.com", "jane@example.com"),
        ("write to Jane.Doe@Example.COM please", "jane.doe@example.com"),
        ("j.doe+meetups@mail.example.co.ke", "j.doe+meetups@mail.example.co.ke"),
        ("jane at example dot com", "jane@example.com"),
        ("jane AT example DOT com", "jane@example.com"),
        ("jane[at]example[dot]com", "jane@example.com"),
        ("jane [at] example [dot] com", "jane@example.com"),
        ("jane (at) example (dot) org", "jane@example.org"),
        ("jane{at}example{dot}io", "jane@example.io"),
        ("jane @ example . com", "jane@example.com"),
        ("jane@ example.com", "jane@example.com"),
        ("jane[at]example.com", "jane@example.com"),
        ("jane at example.co dot ke", "jane@example.co.ke"),
        ("jane at uonbi dot ac dot ke", "jane@uonbi.ac.ke"),
        ("ja\u200bne@exa\u200dmple.com", "jane@example.com"),  # invisible characters
        ("ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "jane@example.com"),  # full-width
        ("jаne@exаmple.com", "jane@example.com"),  # Cyrillic а
        ("email info@openinfra.co.ke.", "info@openinfra.co.ke"),
        ("(jane@example.com)", "jane@example.com"),
        ("<jane@example.com>", "jane@example.com"),
    ],
)
def test_email_addresses_are_found(text: str, expected: str) -> None:
    assert contacts(text) == [Contact("email", expected)]


@pytest.mark.parametrize(
    "text",
    [
        # versions
        "upgraded to 1.25.3 last night",
        "pip install ansible==2.16.3 and kolla 18.2.0",
        "v2.7.1 fixes it",
        "2024.1 (caracal) and 2025.2 (flamingo)",
        "kernel 6.8.0-45-generic",
        "openstack 2023.2.10.1.7",
        # IP addresses, prefixes, ports
        "ssh to 10.0.0.1",
        "the subnet is 192.168.1.0/24",
        "route 172.16.254.1 via 10.10.10.254",
        "2001:db8::1 and fe80::1ff:fe23:4567:890a",
        "listening on :8080",
        "connect to localhost:5432",
        "0.0.0.0:6443 is the api server",
        # dates and times
        "the meetup is on 2026-11-24",
        "24/11/2026 at 14:30:00",
        "2026-11-24T14:30:00Z",
        "2026-01-05 - 2026-01-12",
        "from 2026-01-05 2026-01-06 onwards",
        "24.11.2026 18:00",
        "1732450000 is the unix time",
        # hashes, tickets, ids
        "commit a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0",
        "fixed in 7294038 and 0712345abc",
        "JIRA-1234 and #12345",
        "see issue 4567 and bug 2071234",
        "<@1234567890123456789> said hi",
        "message id 1234567890123456789",
        "snowflake 175928847299117063",
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        # money
        "KES 1,500,000 for the venue",
        "Ksh 2500 per head",
        "$1,234.56 in credits",
        "1,000,000 shillings",
        "budget: kes 150 000 000",
        # counts, fractions, hex dumps and other digit runs
        "00000000  7f 45 4c 46 02 01 01 00  00 00 00 00 00 00 00 00  |.ELF............|",
        "ee 6a 64 9d 06 09 53 74 88 34 b2 45 45 98 39 4e",
        "256: 02 e1 e7 05  6b 0f 62 39   00 49 64 22  94 3e 97 b6",
        "key 0000080000000000",
        "loss is 0.712345678 after epoch 3",
        "p = 0.112345678",
        "we have 3 nodes and 12 racks",
        "order 0123456789",
        "1 2 3 4 5 6 7 8 9 0 1 2",
        "port range 30000-32767",
        "isbn 978-0-596-52068-7",
        # ordinary talk with 'at' and 'dot'
        "meet at the hotel at 6",
        "look at this dot product",
        "python at scale dot com-like words",
        "i work at safaricom dot co dot ke",
        "see the docs at docs.openstack.org",
        "we are hosted at vercel.app",
        "good at go dot net is fine",
        "she is at home",
        # code and URLs
        "git clone git@github.com:openinfra/modbridge.git",
        "postgres://app:secret@db.example.com:5432/modbridge",
        "https://user@example.com/path",
        "result = weights@inputs.transpose",
        "@app.route('/health')",
        "thanks @bob. me too",
        "ping @jane:matrix.org about it",
        "npm i @types/node",
    ],
)
def test_technical_chatter_is_not_a_contact(text: str) -> None:
    assert contacts(text) == []


def test_kinds_can_be_switched_off() -> None:
    text = "0712 345 678 or jane@example.com"
    assert contacts(text, phones=False) == [Contact("email", "jane@example.com")]
    assert contacts(text, emails=False) == [Contact("phone", "+254712345678")]


def test_default_region_decides_national_numbers() -> None:
    assert contacts("020 7946 0958", default_region="GB") == [Contact("phone", "+442079460958")]
    assert contacts("0772 123456", default_region="UG") == [Contact("phone", "+256772123456")]
    assert contacts("020 7946 0958") == []  # not a Kenyan number


@given(
    subscriber=st.integers(min_value=0, max_value=99_999_999),
    prefix=st.sampled_from(["07", "+2547", "2547", "+254 7", "+254 (0)7", "０７"]),
    separator=st.sampled_from(["", " ", "-", ".", "  "]),
    before=st.sampled_from(["", "call ", "her number: ", "on 2026-11-24 ", "room 5 ", "(", "\n"]),
    after=st.sampled_from(["", " thanks", ".", ")", " at 6pm", "\n"]),
)
def test_any_kenyan_mobile_is_found(
    subscriber: int, prefix: str, separator: str, before: str, after: str
) -> None:
    digits = f"{subscriber:08d}"
    written = separator.join((prefix + digits[:2], digits[2:5], digits[5:]))
    assert contacts(before + written + after) == [Contact("phone", "+2547" + digits)]


@pytest.mark.parametrize(
    "text",
    [
        "éseven one two three four five six seven eight",  # a letter of another script
        "seven one two three four five six seven eighté",  # glued on either side
        "٣seven one two three four five six seven eight",  # an Arabic-Indic digit
    ],
)
def test_a_number_said_aloud_next_to_a_foreign_letter_is_read(text: str) -> None:
    # the spoken run's edges are any character but an ASCII letter, digit or "@": reading
    # its words must not take that character into the first or last word
    assert contacts(text) == [Contact("phone", "+254712345678")]


@given(st.text())
def test_never_raises(text: str) -> None:
    for contact in find_contacts(clean(text)):
        assert contact.kind in ("phone", "email")
        if contact.kind == "phone":
            assert contact.excerpt.startswith("+")
            assert contact.excerpt[1:].isdigit()
        else:
            assert contact.excerpt.count("@") == 1


@given(st.text(alphabet="0123456789 .-()+@atdolmx[]", max_size=300))
def test_never_raises_on_digit_soup(text: str) -> None:
    find_contacts(text)


@pytest.mark.parametrize(
    "text",
    [
        " ".join("0" + str(i % 97) for i in range(2100)),  # thousands of number-like groups
        " ".join("+" + str(10**9 + i * 7919) for i in range(700)),
        " ".join(f"user{i}@example.com" for i in range(600)),
        "x at " * 1700,
        "a" * 8192,
        "a@" * 4096,
        "7" * 8192,
        "0 " * 4096,
    ],
)
def test_long_messages_take_linear_time(text: str) -> None:
    # Not a timing test (scripts/bench_engine.py measures): quadratic or backtracking work
    # on 8 KB takes seconds, linear work about a millisecond; the best of five runs is
    # compared with a bound a loaded 2-core machine still meets.
    text = text[:8192]
    assert min(timeit.repeat(lambda: find_contacts(text), number=1, repeat=5)) < 0.25


_LABEL_PIECES = [
    "order", "#", "ticket", "id", "is", ":", "no.", "no", "number", "account", "(", "commit",
    " ", "x", "the", "ni", "=", "\n", "till", "call", "(order", "'ref", "x-order", "x.order",
    "é", "orders", "_order", "order.", "ordér", "seq", "run",
]  # fmt: skip


@settings(max_examples=3000)
@given(
    st.lists(st.sampled_from(_LABEL_PIECES), max_size=10),
    st.booleans(),
    st.sampled_from(["", " ", ": ", "#", " # ", "="]),
)
def test_the_label_shortcut_answers_as_the_label_regex(
    pieces: list[str], glued: bool, gap: str
) -> None:
    """``_labelled`` looks at the last word before running ``_LABELLED``: same answers."""
    before = ("" if glued else " ").join(pieces) + gap
    text, start = before + "0712345678", len(before)
    expected = _LABELLED.search(text, max(0, start - 40), start) is not None
    assert _labelled(text, start) == expected, repr(text)
