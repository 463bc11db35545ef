"""Policy lists: the glob and rule logic (pure), reading rule events, publishing bans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.matrix.policy_lists import list_rule_from_event, rule_state_key
from bridge.commands import parse_command
from bridge.planner import Community, plan
from domain.model import Account, Ban, CommandName, ListRule, Platform, Unban
from rules.policy_lists import ListBook, bans_user, glob_matches, is_literal, server_of

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def rule(
    entity: str,
    *,
    kind: str = "user",
    key: str = "k",
    recommendation: str = "m.ban",
    room: str = "!list:hs",
    ts: datetime = T0,
) -> ListRule:
    return ListRule(
        list_room=room, list_name="#bans:hs", kind=kind, state_key=key, entity=entity,
        recommendation=recommendation, reason="spam", ts=ts,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "value", "fold", "expected"),
    [
        ("@*:spam.example", "@bob:spam.example", False, True),
        ("@*:spam.example", "@bob:spam.example.org", False, False),
        ("@*:spam.example", "@bob:notspam.example", False, False),
        ("@bo?:hs", "@bob:hs", False, True),
        ("@bo?:hs", "@bobby:hs", False, False),
        ("@bob:hs", "@bob:hs", False, True),
        ("@bob:hs", "@Bob:hs", False, False),  # user ids are case-sensitive
        ("*.spam.example", "a.spam.example", True, True),
        ("*.spam.example", "spam.example", True, False),
        ("SPAM.example", "spam.EXAMPLE", True, True),  # server names are not
        ("a.b", "axb", False, False),  # a dot is a dot, not a regex
        ("[ab]", "a", False, False),  # brackets are literal in Matrix globs
        ("*", "", False, True),
    ],
)
def test_glob(pattern: str, value: str, fold: bool, expected: bool) -> None:
    assert glob_matches(pattern, value, fold=fold) is expected


@pytest.mark.parametrize(
    ("entity", "kind", "recommendation", "user", "expected"),
    [
        ("@*:spam.example", "user", "m.ban", "@x:spam.example", True),
        ("@*:spam.example", "user", "org.matrix.mjolnir.ban", "@x:spam.example", True),
        ("@*:spam.example", "user", "m.mute", "@x:spam.example", False),  # not a ban
        ("spam.example", "server", "m.ban", "@x:spam.example", True),
        ("spam.example", "server", "m.ban", "@x:spam.example:8448", True),  # with a port
        ("*.spam.example", "server", "m.ban", "@x:eu.spam.example", True),
        ("spam.example", "server", "m.ban", "@x:good.example", False),
        ("spam.example", "server", "m.ban", "@spam.example:good.example", False),
        ("!room:hs", "room", "m.ban", "@x:hs", False),  # room rules ban nobody
        ("", "user", "m.ban", "@x:hs", False),  # a removed rule
    ],
)
def test_bans_user(entity: str, kind: str, recommendation: str, user: str, expected: bool) -> None:
    assert bans_user(rule(entity, kind=kind, recommendation=recommendation), user) is expected


def test_literal_and_server() -> None:
    assert is_literal("@bob:hs")
    assert not is_literal("@b*:hs")
    assert not is_literal("@b?b:hs")
    assert server_of("@bob:example.org:8448") == "example.org:8448"


def test_book_replaces_and_removes_by_state_key() -> None:
    book = ListBook()
    assert book.update(rule("@a:hs", key="1")) is None
    assert book.update(rule("@*:spam.example", key="2")) is None
    assert [r.state_key for r in book.bans_for("@a:hs")] == ["1"]
    first = book.update(rule("@b:hs", key="1", ts=T0 + timedelta(hours=1)))
    assert first is not None
    assert first.entity == "@a:hs"
    assert book.bans_for("@a:hs") == []
    removed = book.update(rule("", key="2", ts=T0 + timedelta(hours=2)))
    assert removed is not None
    assert removed.entity == "@*:spam.example"
    assert book.bans_for("@x:spam.example") == []
    assert [r.entity for r in book.rules_of("!list:hs")] == ["@b:hs"]
    assert book.last_update("!list:hs") == T0 + timedelta(hours=2)
    assert book.last_update("!other:hs") is None


def _event(type_: str, state_key: str, content: dict[str, Any]) -> dict[str, Any]:
    """A state event as Synapse sends it in /sync."""
    return {
        "type": type_, "state_key": state_key, "content": content, "sender": "@admin:hs",
        "origin_server_ts": 1764547200000, "event_id": "$e", "unsigned": {"age": 5},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("type_", "kind"),
    [
        ("m.policy.rule.user", "user"),
        ("m.policy.rule.server", "server"),
        ("m.policy.rule.room", "room"),
        ("org.matrix.mjolnir.rule.user", "user"),
        ("org.matrix.mjolnir.rule.server", "server"),
        ("m.room.rule.user", "user"),
    ],
)
def test_rule_events_of_every_type(type_: str, kind: str) -> None:
    content = {"entity": "@*:spam.example", "recommendation": "m.ban", "reason": "spam"}
    read = list_rule_from_event("!list:hs", "#bans:hs", _event(type_, "rule:x", content))
    assert read is not None
    assert (read.kind, read.entity, read.reason, read.sender) == (
        kind, "@*:spam.example", "spam", "@admin:hs",
    )  # fmt: skip
    assert read.ts == datetime(2025, 12, 1, tzinfo=UTC)
    assert read.key == f"!list:hs|{kind}|rule:x"


@pytest.mark.parametrize(
    "content",
    [
        {},
        {"entity": "@a:hs"},
        {"recommendation": "m.ban"},
        {"entity": 5, "recommendation": "m.ban"},
    ],
)
def test_an_emptied_or_broken_rule_reads_as_removed(content: dict[str, Any]) -> None:
    read = list_rule_from_event("!l:hs", "!l:hs", _event("m.policy.rule.user", "rule:x", content))
    assert read is not None
    assert read.removed


def test_other_events_are_no_rules() -> None:
    assert list_rule_from_event("!l:hs", "!l:hs", _event("m.room.name", "", {"name": "x"})) is None
    assert list_rule_from_event("!l:hs", "!l:hs", {"type": "m.policy.rule.user"}) is None


ANN_M = Account(platform=Platform.MATRIX, id="@ann:hs")
ANN_D = Account(platform=Platform.DISCORD, id="123456789012345678")
COMMUNITY = Community(
    spaces={Platform.MATRIX: ["!a:hs"], Platform.DISCORD: ["g1"]},
    mod_rooms={Platform.MATRIX: ["!mods:hs"]},
    publish_list="!ours:hs",
)


def test_a_ban_is_published_for_the_matrix_account_only() -> None:
    planned = plan("cmd:1", [Ban(target=ANN_M, reason="spam")], community=COMMUNITY,
                   accounts=[ANN_M, ANN_D])  # fmt: skip
    listed = [(p.space_id, p.action) for p in planned if p.space_id.startswith("list:")]
    assert listed == [("list:!ours:hs", Ban(target=ANN_M, reason="spam"))]
    unban = plan("cmd:2", [Unban(target=ANN_M)], community=COMMUNITY, accounts=[ANN_M, ANN_D])
    assert [p.space_id for p in unban] == ["!a:hs", "g1", "list:!ours:hs"]


def test_local_and_unpublished_plans_leave_the_list_alone() -> None:
    planned = plan("cmd:1", [Ban(target=ANN_M, reason="x")], community=COMMUNITY,
                   accounts=[ANN_M], publish=False)  # fmt: skip
    assert [p.space_id for p in planned] == ["!a:hs"]


def test_rule_state_key() -> None:
    assert rule_state_key("@ann:hs") == "rule:@ann:hs"


def test_ban_local_and_lists_commands() -> None:
    local = parse_command("!ban @x:hs --local spamming links")
    assert (local.local, local.reason) == (True, "spamming links")
    assert parse_command("!ban @x:hs spamming").local is False
    assert parse_command("!lists").name is CommandName.LISTS
    # Reasons are optional (the case says "no reason given").
    assert parse_command("!ban @x:hs --local").local is True
    # --local is a !ban flag only: elsewhere it stays in the text
    assert parse_command("!warn @x:hs --local thing").reason == "--local thing"


def test_the_book_index_finds_what_checking_every_rule_finds() -> None:
    entities = [
        ("@a:hs", "user"), ("@*:spam.example", "user"), ("@b?:hs", "user"),
        ("spam.example", "server"), ("SPAM2.example", "server"), ("*.eu.example", "server"),
        ("hs", "server"), ("@a:hs", "room"),
    ]  # fmt: skip
    book = ListBook()
    rules = [rule(e, kind=k, key=str(i)) for i, (e, k) in enumerate(entities)]
    for r in rules:
        book.update(r)
    book.update(rule("", kind="server", key="6"))  # "hs" removed again
    in_force = [r for r in rules if r.state_key != "6"]
    users = ["@a:hs", "@bc:hs", "@x:spam.example", "@x:spam2.example:8448", "@x:a.eu.example",
             "@x:hs", "@x:other.example"]  # fmt: skip
    for user in users:
        expected = sorted(r.key for r in in_force if bans_user(r, user))
        assert [r.key for r in book.bans_for(user)] == expected, user
