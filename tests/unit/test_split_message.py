"""Long answers in pieces a platform accepts, in order, nothing lost."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.ports import split_message


def test_a_long_line_is_cut_after_what_came_before() -> None:
    text = "head line\n" + "x" * 25 + "\ntail\n"
    assert split_message(text, 10) == [
        "head line\n", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxx\n", "tail\n",
    ]  # fmt: skip


@given(st.text(alphabet="ab \n", max_size=300), st.integers(min_value=1, max_value=40))
def test_pieces_fit_and_join_back_to_the_text(text: str, limit: int) -> None:
    pieces = split_message(text, limit)
    assert all(0 < len(piece) <= limit for piece in pieces)
    assert "".join(pieces) == text
