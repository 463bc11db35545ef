"""Room upgrades in the room book, and homeserver reports read from the admin API (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.matrix.abuse_reports import report_from_admin_api, report_from_user_report
from adapters.matrix.rooms import RoomBook, RoomKind
from domain.model import Account, Platform


def test_an_upgraded_room_takes_the_place_of_the_old_one() -> None:
    book = RoomBook(rooms=["!old:hs", "!other:hs"], spaces=[], mod_room="!mods:hs")
    book.follow("!old:hs", "!new:hs")
    book.follow("!mods:hs", "!mods2:hs")
    assert book.protected == {"!new:hs", "!other:hs"}
    assert book.kind("!new:hs") is RoomKind.PROTECTED
    assert book.kind("!old:hs") is RoomKind.OTHER  # left behind
    assert book.mod_room_id == "!mods2:hs"
    assert book.kind("!mods2:hs") is RoomKind.MOD
    book.follow("!new:hs", "!newer:hs")  # upgraded twice
    assert book.current("!old:hs") == "!newer:hs"
    assert "!newer:hs" in book.protected
    assert book.configured_ids() == ["!newer:hs", "!other:hs", "!mods2:hs"]


def test_an_upgrade_loop_is_refused() -> None:
    book = RoomBook(rooms=["!a:hs"], spaces=[], mod_room=None)
    book.follow("!a:hs", "!b:hs")
    book.follow("!b:hs", "!a:hs")  # a bad tombstone pointing back
    assert book.current("!a:hs") == "!b:hs"
    assert book.current("!b:hs") == "!b:hs"


# The shape of GET /_synapse/admin/v1/event_reports/{id} in Synapse 1.163
# (synapse/storage/databases/main/room.py, get_event_report).
DETAIL = {
    "id": 3,
    "received_ts": 1764547200000,
    "room_id": "!room:hs",
    "event_id": "$ev",
    "user_id": "@carol:hs",
    "score": -100,
    "reason": "insults",
    "sender": "@bob:hs",
    "canonical_alias": None,
    "name": "General",
    "event_json": {
        "type": "m.room.message",
        "sender": "@bob:hs",
        "room_id": "!room:hs",
        "content": {"msgtype": "m.text", "body": "you idiot"},
        "origin_server_ts": 1,
    },
}


def test_a_report_from_the_admin_api() -> None:
    report = report_from_admin_api(DETAIL)
    assert report is not None
    assert report.report_id == "event:3"
    assert (report.room_id, report.event_id, report.reason, report.text) == (
        "!room:hs", "$ev", "insults", "you idiot",
    )  # fmt: skip
    assert report.reporter == Account(platform=Platform.MATRIX, id="@carol:hs")
    assert report.sender == Account(platform=Platform.MATRIX, id="@bob:hs")
    assert report.ts == datetime(2025, 12, 1, tzinfo=UTC)


def test_a_report_of_an_unreadable_event() -> None:
    encrypted = {**DETAIL, "reason": None, "event_json": {"type": "m.room.encrypted",
                 "sender": "@bob:hs", "content": {"ciphertext": "..."}}}  # fmt: skip
    report = report_from_admin_api(encrypted)
    assert report is not None
    assert (report.text, report.reason) == ("", "")
    assert report_from_admin_api({**DETAIL, "user_id": None}) is None


def test_a_user_report_from_the_admin_api() -> None:
    # An entry of GET /_synapse/admin/v1/user_reports (get_user_reports_paginate).
    entry = {"id": 4, "received_ts": 1764547200000, "target_user_id": "@bob:hs",
             "user_id": "@carol:hs", "reason": "he follows me around"}  # fmt: skip
    report = report_from_user_report(entry)
    assert report is not None
    assert (report.report_id, report.event_id, report.text) == ("user:4", "", "")
    assert report.sender.id == "@bob:hs"
    assert report.reporter.id == "@carol:hs"
    assert report.reason == "he follows me around"
