"""The one parser of user ids in text, against the shapes members and moderators write."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.model import Account, Platform
from domain.userids import (
    find_accounts,
    parse_account,
    resolve_pills,
    strip_reply_fallback,
    user_from_link,
)

# ("/" is allowed too, but an unencoded one in a matrix.to link starts the event part.)
LOCALPART = st.from_regex(r"[a-z0-9][a-z0-9._=+-]{0,19}", fullmatch=True)
LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
SERVER = st.builds(
    lambda labels, port: ".".join(labels) + (f":{port}" if port else ""),
    st.lists(LABEL, min_size=1, max_size=3),
    st.one_of(st.none(), st.integers(1, 65535)),
)
MATRIX_ID = st.builds(lambda local, server: f"@{local}:{server}", LOCALPART, SERVER)
SNOWFLAKE = st.integers(10**16, 10**19).map(str)

# How people write an id: bare, in brackets, quoted, before a comma, at a sentence's end.
WRAPS = ["{}", "({})", "<{}>", "'{}'", '"{}"', "{},", "{}.", "{}:", "{}!", "[{}]", "*{}*"]


def matrix_shapes(user: str) -> list[str]:
    return [
        user,
        f"matrix:{user}",
        f"https://matrix.to/#/{user}",
        f"https://matrix.to/#/{quote(user, safe='')}",
        f"https://matrix.to/#/{user}?via=example.org",
        f"matrix:u/{user[1:]}",
    ]


def discord_shapes(snowflake: str) -> list[str]:
    return [snowflake, f"<@{snowflake}>", f"<@!{snowflake}>", f"discord:{snowflake}"]


@given(MATRIX_ID, st.sampled_from(WRAPS), st.integers(0, 5))
def test_every_shape_of_a_matrix_id_reads_as_that_account(user: str, wrap: str, n: int) -> None:
    written = wrap.format(matrix_shapes(user)[n])
    assert parse_account(written) == Account(platform=Platform.MATRIX, id=user)
    assert find_accounts(f"it was {written} again") == [Account(platform=Platform.MATRIX, id=user)]


@given(SNOWFLAKE, st.sampled_from(WRAPS), st.integers(0, 3))
def test_every_shape_of_a_discord_id_reads_as_that_account(
    snowflake: str, wrap: str, n: int
) -> None:
    written = wrap.format(discord_shapes(snowflake)[n])
    assert parse_account(written) == Account(platform=Platform.DISCORD, id=snowflake)
    if n:  # a bare number in a sentence is not taken for an account
        assert find_accounts(f"that was {written} today") == [
            Account(platform=Platform.DISCORD, id=snowflake)
        ]


ONE_LINE = st.text(alphabet=st.characters(blacklist_characters="\n"), max_size=40)


@given(MATRIX_ID, MATRIX_ID, ONE_LINE)
def test_a_reply_fallback_never_names_whom_it_quotes(quoted: str, named: str, said: str) -> None:
    body = f"> <{quoted}> {said}\n> more\n\nreport {named} please"
    assert strip_reply_fallback(body) == f"report {named} please"
    assert find_accounts(body)[0] == Account(platform=Platform.MATRIX, id=named)


@pytest.mark.parametrize(
    "text",
    ["kip@example.org", "mail kip@example.org:25 now", "@bob", "<@&123456789012345678>",
     "discord:12", "https://matrix.to/#/!room:hs", "https://matrix.to/#/#general:hs", "@:hs",
     "12345", "matrix.to/#/"],
)  # fmt: skip
def test_what_is_not_an_account(text: str) -> None:
    assert parse_account(text) is None
    assert find_accounts(text) == []


def test_a_trailing_bracket_is_not_part_of_the_id() -> None:
    """The issue: "<@reporter:hs>" was read as the account "@reporter:hs>"."""
    assert parse_account("<@reporter:hs>") == Account(platform=Platform.MATRIX, id="@reporter:hs")
    assert find_accounts("see <@reporter:hs>: yes") == [
        Account(platform=Platform.MATRIX, id="@reporter:hs")
    ]


def test_links_point_at_users_only() -> None:
    assert user_from_link("https://matrix.to/#/%40ann%3Aexample.org") == "@ann:example.org"
    assert user_from_link("https://matrix.to/#/!room:example.org/$event") is None


@given(MATRIX_ID, st.from_regex(r"[A-Z][a-z]{1,8}( [A-Z][a-z]{1,8})?", fullmatch=True))
def test_a_pill_name_becomes_its_id(user: str, name: str) -> None:
    pill = Account(platform=Platform.MATRIX, id=user, display_name=name)
    assert resolve_pills(f"ban {name} for spam", [pill]) == f"ban {user} for spam"


def test_mentions_come_after_what_is_written() -> None:
    mention = Account(platform=Platform.MATRIX, id="@kip:hs", display_name="Kip")
    found = find_accounts("report @ann:hs", [mention])
    assert found == [
        Account(platform=Platform.MATRIX, id="@ann:hs"),
        Account(platform=Platform.MATRIX, id="@kip:hs"),
    ]
