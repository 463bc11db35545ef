"""The antispam callbacks: the decision table, the DM heuristic, and the HTTP handler as the
synapse-http-antispam module calls it (served with aiohttp's own test utilities)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from adapters.matrix.antispam_http import PREFIX, DirectRooms
from bridge.config import AntispamConfig, ConfigError, parse_settings
from bridge.service import AntispamServer
from domain.model import Account, Platform
from rules.consent import InviteFacts, Verdict, decide
from storage.consent import DmPolicy
from storage.db import Database
from storage.repositories import Repositories

SECRET = "s3cret-for-the-homeserver"
AUTH = {"Authorization": f"Bearer {SECRET}"}
ANN, BOB, CAT = "@ann:community.test", "@bob:community.test", "@cat:community.test"
OUTSIDER = "@eve:elsewhere.test"
ROOM = "!new:community.test"


@pytest.mark.parametrize(
    ("direct", "inviter", "invitee", "consented", "expected"),
    [
        (False, True, True, False, Verdict.NOT_DIRECT),
        (True, True, True, False, Verdict.REFUSED),
        (True, True, True, True, Verdict.CONSENT),
        (True, False, True, False, Verdict.OUTSIDER),
        (True, True, False, False, Verdict.OUTSIDER),
        (True, False, False, False, Verdict.OUTSIDER),
    ],
)
def test_decision_table(
    direct: bool, inviter: bool, invitee: bool, consented: bool, expected: Verdict
) -> None:
    facts = InviteFacts(
        direct=direct, inviter_is_member=inviter, invitee_is_member=invitee, consented=consented
    )
    assert decide(facts) is expected
    assert expected.allowed is (expected is not Verdict.REFUSED)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_direct_rooms_only_the_room_just_created() -> None:
    clock = Clock()
    rooms = DirectRooms(10.0, clock)
    assert not rooms.is_direct(ANN, "!old:x")  # no creation: an ordinary /invite
    rooms.room_created(ANN)
    assert rooms.is_direct(ANN, ROOM)  # the new room's invites (a group DM too)
    assert rooms.is_direct(ANN, ROOM)
    assert not rooms.is_direct(BOB, ROOM)  # someone else inviting into it later
    assert not rooms.is_direct(ANN, "!old:x")  # the creation was used by ROOM
    clock.now += 11
    assert not rooms.is_direct(ANN, ROOM)  # the window is over
    rooms.room_created(ANN)
    clock.now += 11
    assert not rooms.is_direct(ANN, "!late:x")  # created, invited only after the window


@pytest.fixture
async def repos(tmp_path: Path) -> AsyncIterator[Repositories]:
    db = await Database.open(tmp_path / "modbridge.db")
    try:
        yield Repositories.over(db)
    finally:
        await db.close()


def make_config(**overrides: Any) -> AntispamConfig:
    values: dict[str, Any] = {
        "community_servers": ("community.test",),
        "secret": SecretStr(SECRET),
        **overrides,
    }
    return AntispamConfig(**values)


def make_server(repos: Repositories, **overrides: Any) -> AntispamServer:
    return AntispamServer(
        identity=repos.identity,
        consent=repos.consent,
        audit=repos.audit,
        config=make_config(**overrides),
    )


@pytest.fixture
async def client(repos: Repositories) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(make_server(repos).app())) as test_client:
        yield test_client


async def member(repos: Repositories, user_id: str) -> int:
    return (await repos.identity.ensure(Account(platform=Platform.MATRIX, id=user_id))).member_id


async def post(
    client: TestClient[Any, Any],
    callback: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    async with client.post(
        f"{PREFIX}/{callback}", json=body, headers=AUTH if headers is None else headers
    ) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def dm_invite(client: TestClient[Any, Any], inviter: str, invitee: str) -> tuple[int, Any]:
    """What the module sends for a /createRoom with an invite: creation, then the invite into
    a new room."""
    assert await post(client, "user_may_create_room", {"user_id": inviter}) == (200, {})
    room_id = f"!{secrets.token_hex(4)}:community.test"
    return await post(
        client, "user_may_invite", {"inviter": inviter, "invitee": invitee, "room_id": room_id}
    )


async def test_dm_invite_between_members_without_consent_is_refused(
    client: TestClient[Any, Any], repos: Repositories
) -> None:
    await member(repos, ANN)
    await member(repos, BOB)
    status, body = await dm_invite(client, ANN, BOB)
    assert status == 403
    assert body == {
        "errcode": "M_FORBIDDEN",
        "error": f"{BOB} does not accept direct messages from members they have not invited; "
        "ask in a community room first",
    }
    [entry] = await repos.audit.recent()
    assert entry.event == "dm_invite_refused"
    assert entry.details["inviter"] == f"matrix:{ANN}"
    assert entry.details["invitee"] == f"matrix:{BOB}"


async def test_consent_allows_the_dm_invite(
    client: TestClient[Any, Any], repos: Repositories
) -> None:
    ann, bob = await member(repos, ANN), await member(repos, BOB)
    await repos.consent.allow(bob, ann)
    assert await dm_invite(client, ANN, BOB) == (200, {})
    [entry] = await repos.audit.recent()
    assert entry.event == "dm_invite_allowed"
    assert (entry.details["inviter"], entry.details["invitee"]) == (
        f"matrix:{ANN}",
        f"matrix:{BOB}",
    )
    # Consent goes one way: Bob may DM Ann only if Ann allowed him.
    status, _ = await dm_invite(client, BOB, ANN)
    assert status == 403


async def test_members_own_open_default_and_the_open_policy(
    repos: Repositories, client: TestClient[Any, Any]
) -> None:
    await member(repos, ANN)
    await repos.consent.set_default(await member(repos, BOB), DmPolicy.OPEN)
    assert await dm_invite(client, ANN, BOB) == (200, {})
    # CAT never chose: the policy's default decides, closed here...
    assert (await dm_invite(client, ANN, CAT))[0] == 403
    # ...and open with default = "open".
    async with TestClient(TestServer(make_server(repos, default="open").app())) as open_client:
        assert await dm_invite(open_client, ANN, CAT) == (200, {})


async def test_a_member_who_closed_their_dms_under_an_open_policy(repos: Repositories) -> None:
    await member(repos, ANN)
    await repos.consent.set_default(await member(repos, BOB), DmPolicy.CLOSED)
    async with TestClient(TestServer(make_server(repos, default="open").app())) as open_client:
        assert (await dm_invite(open_client, ANN, BOB))[0] == 403
        # An unknown account on a community server cannot have been allowed either.
        assert (await dm_invite(open_client, CAT, BOB))[0] == 403


@pytest.mark.parametrize(("inviter", "invitee"), [(OUTSIDER, ANN), (ANN, OUTSIDER)])
async def test_outsiders_are_not_the_communitys_business(
    client: TestClient[Any, Any], repos: Repositories, inviter: str, invitee: str
) -> None:
    await member(repos, ANN)
    assert await dm_invite(client, inviter, invitee) == (200, {})
    assert await repos.audit.recent() == []


async def test_a_known_account_on_another_server_is_a_member(
    client: TestClient[Any, Any], repos: Repositories
) -> None:
    await member(repos, ANN)
    await member(repos, OUTSIDER)  # modbridge has seen them in a community room
    assert (await dm_invite(client, OUTSIDER, ANN))[0] == 403


async def test_an_ordinary_room_invite_is_untouched(
    client: TestClient[Any, Any], repos: Repositories
) -> None:
    await member(repos, ANN)
    await member(repos, BOB)
    body = {"inviter": ANN, "invitee": BOB, "room_id": "!community:community.test"}
    assert await post(client, "user_may_invite", body) == (200, {})
    assert await repos.audit.recent() == []


async def test_linked_accounts_share_consent(
    client: TestClient[Any, Any], repos: Repositories
) -> None:
    ann = await member(repos, ANN)
    bob = await member(repos, BOB)
    await repos.consent.allow(bob, ann)
    # Bob's second Matrix account and Ann's Discord-linked alt are the same two members.
    await repos.identity.link(
        Account(platform=Platform.MATRIX, id=BOB),
        Account(platform=Platform.MATRIX, id="@bob2:elsewhere.test"),
    )
    await repos.identity.link(
        Account(platform=Platform.DISCORD, id="1234"),
        Account(platform=Platform.MATRIX, id=ANN),
    )
    await repos.identity.link(
        Account(platform=Platform.DISCORD, id="1234"),
        Account(platform=Platform.MATRIX, id="@ann-alt:community.test"),
    )
    assert await dm_invite(client, "@ann-alt:community.test", "@bob2:elsewhere.test") == (200, {})
    ann_now = await member(repos, "@ann-alt:community.test")  # the Discord member survived
    assert await repos.consent.revoke(await member(repos, "@bob2:elsewhere.test"), ann_now)
    assert (await dm_invite(client, "@ann-alt:community.test", "@bob2:elsewhere.test"))[0] == 403


async def test_a_create_room_body_is_used_when_the_module_sends_it(
    client: TestClient[Any, Any], repos: Repositories
) -> None:
    await member(repos, ANN)
    await member(repos, BOB)
    direct = {"user_id": ANN, "room_config": {"is_direct": True, "invite": [BOB]}}
    status, body = await post(client, "user_may_create_room", direct)
    assert (status, body["errcode"]) == (403, "M_FORBIDDEN")
    group = {"user_id": ANN, "room_config": {"invite": [BOB], "preset": "private_chat"}}
    assert await post(client, "user_may_create_room", group) == (200, {})
    # The body said "not direct": the invites into the new room are ordinary.
    invite = {"inviter": ANN, "invitee": BOB, "room_id": ROOM}
    assert await post(client, "user_may_invite", invite) == (200, {})


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": SECRET}],
    ids=["no secret", "wrong secret", "no Bearer"],
)
async def test_the_homeserver_must_authenticate(
    client: TestClient[Any, Any],
    repos: Repositories,
    headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await member(repos, ANN)
    await member(repos, BOB)
    caplog.set_level(logging.INFO, logger="bridge.antispam")
    await post(client, "user_may_create_room", {"user_id": ANN}, headers)
    body = {"inviter": ANN, "invitee": BOB, "room_id": ROOM}
    status, answer = await post(client, "user_may_invite", body, headers)
    assert (status, answer["errcode"]) == (401, "M_UNAUTHORIZED")
    assert "refused a request" in caplog.text
    assert SECRET not in caplog.text
    assert await repos.audit.recent() == []  # no decision was taken


@pytest.mark.parametrize(
    ("callback", "body", "complaint"),
    [
        ("user_may_invite", [], "body: Input should be"),
        ("user_may_invite", {"inviter": ANN, "invitee": BOB}, "room_id: Field required"),
        ("user_may_invite", {"inviter": ANN, "invitee": 7, "room_id": ROOM}, "invitee:"),
        ("user_may_invite", {"inviter": "ann", "invitee": BOB, "room_id": ROOM}, "inviter:"),
        ("user_may_create_room", {}, "user_id: Field required"),
        ("user_may_create_room", {"user_id": ANN, "room_config": {"invite": ["x"]}}, "invite"),
        ("ping", {"nope": 1}, "id: Field required"),
    ],
)
async def test_malformed_bodies_get_400_with_a_clear_error(
    client: TestClient[Any, Any], callback: str, body: Any, complaint: str
) -> None:
    status, answer = await post(client, callback, body)
    assert status == 400
    assert answer["errcode"] == "M_BAD_JSON"
    assert answer["error"].startswith(f"{callback}: ")
    assert complaint in answer["error"]


async def test_a_body_that_is_not_json(client: TestClient[Any, Any]) -> None:
    async with client.post(f"{PREFIX}/user_may_invite", data=b"{not json", headers=AUTH) as resp:
        assert resp.status == 400
        assert (await resp.json())["errcode"] == "M_NOT_JSON"


async def test_ping_other_callbacks_and_unknown_paths(client: TestClient[Any, Any]) -> None:
    assert await post(client, "ping", {"id": "abc"}) == (200, {"id": "abc", "status": "ok"})
    # Callbacks modbridge has no opinion on are allowed, never refused by accident.
    assert await post(client, "check_event_for_spam", {"event": {}}) == (200, {})
    status, answer = await post(client, "no_such_callback", {})
    assert (status, answer["errcode"]) == (404, "M_UNRECOGNIZED")
    async with client.get(f"{PREFIX}/user_may_invite", headers=AUTH) as resp:
        assert resp.status == 405


async def test_a_storage_failure_is_not_json_so_fail_open_applies(
    repos: Repositories, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = await Database.open(tmp_path / "closed.db")
    closed = Repositories.over(db)
    await db.close()
    server = AntispamServer(
        identity=closed.identity, consent=closed.consent, audit=closed.audit, config=make_config()
    )
    caplog.set_level(logging.ERROR, logger="bridge.antispam")
    async with TestClient(TestServer(server.app())) as test_client:
        status, text = await dm_invite(test_client, ANN, BOB)
    assert (status, text) == (503, "modbridge could not decide")
    assert "could not decide" in caplog.text


def test_the_secret_is_required(repos: Repositories) -> None:
    with pytest.raises(ConfigError, match="MODBRIDGE_ANTISPAM__SECRET"):
        make_server(repos, secret=None)


async def test_start_binds_loopback_and_close_is_idempotent(repos: Repositories) -> None:
    server = make_server(repos, listen="127.0.0.1:0")
    port = await server.start()
    assert server.address == ("127.0.0.1", port)  # the homeserver's side only, not the world
    await server.close()
    await server.close()


async def test_a_busy_port_is_a_config_error(repos: Repositories) -> None:
    first = make_server(repos, listen="127.0.0.1:0")
    port = await first.start()
    try:
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            await make_server(repos).start("127.0.0.1", port)
    finally:
        await first.close()


def test_the_antispam_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODBRIDGE_ANTISPAM__SECRET", SECRET)
    text = '[antispam]\ncommunity_servers = ["example.org"]\ndefault = "open"\n'
    config = parse_settings(text).antispam
    assert config is not None
    assert (config.host, config.port) == ("127.0.0.1", 8787)  # loopback by default
    assert config.community_servers == ("example.org",)
    assert config.default == "open"
    assert config.secret is not None
    assert config.secret.get_secret_value() == SECRET
    assert SECRET not in repr(config)
    assert parse_settings("").antispam is not None  # the secret alone turns it on, defaults
    monkeypatch.delenv("MODBRIDGE_ANTISPAM__SECRET")
    assert parse_settings("").antispam is None


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('[antispam]\nsecret = "x"\n', "set the environment variable MODBRIDGE_ANTISPAM__SECRET"),
        ('[antispam]\ndefault = "sometimes"\n', "antispam.default: Input should be 'closed'"),
        ('[antispam]\nlisten = "8787"\n', "antispam.listen: String should match"),
        ('[antispam]\nlisten = "127.0.0.1:99999"\n', "antispam.listen: the port must be"),
        ("[antispam]\ndirect_window_seconds = 0\n", "antispam.direct_window_seconds"),
        ('[antispam]\nservers = ["x"]\n', "antispam.servers: unknown key"),
    ],
)
def test_antispam_config_errors(text: str, complaint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(text)
    assert complaint in str(caught.value)
