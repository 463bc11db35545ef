"""A test bot: the real core (engine, storage, judge, case writer, worker, commands, timers)
with in-memory fake platforms, wired by the service's own `bridge.compose`. Push a message,
read what the bot did."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from bridge.commands import parse_command
from bridge.compose import Surroundings, build_core
from bridge.config import DigestConfig, ReportsConfig, parse_settings
from bridge.names import Names
from bridge.planner import Community
from bridge.worker import ActionWorker
from domain.model import Account, Action, Author, Channel, Message, Platform
from domain.ports import Directory
from rules.engine import Engine
from storage.db import Database
from storage.outbox import ActionRow
from storage.repositories import Repositories
from tests.fakes import Clock, FakeExecutor

POLICY = """
[[rules]]
id = "insults"
kind = "keywords"
clause = "No insults"
points = 2
actions = ["delete", "warn", "notify"]
words = ["idiot"]

[[rules]]
id = "doxxing"
kind = "pii"
clause = "No sharing of contact details"
points = 10
actions = ["delete", "ban", "notify"]

[escalation]
decay = "7d"
ladder = [{ points = 4, action = "mute 1h" }]
"""


MINUTE = timedelta(minutes=1)


class ModBot:
    """The whole core over a temp SQLite file."""

    def __init__(
        self, db: Database, clock: Clock, policy: str = POLICY, digest: timedelta | None = None
    ) -> None:
        self.db = db
        self.clock = clock
        self.repos = Repositories.over(db)
        self.engine = Engine(parse_settings(policy).policy)
        self.community = Community(
            spaces={
                Platform.MATRIX: ["!a:hs", "!b:hs"],
                Platform.DISCORD: ["g1", "g2"],
            },
            mod_rooms={Platform.MATRIX: ["!mods:hs"], Platform.DISCORD: ["modchan"]},
        )
        self.directories: dict[Platform, Directory] = {}  # names a test lets the platforms know
        self.names = Names(self.directories)
        self.matrix = FakeExecutor(Platform.MATRIX)
        self.discord = FakeExecutor(Platform.DISCORD)
        self.failures: list[str] = []
        self.worker = ActionWorker(
            outbox=self.repos.outbox,
            executors={Platform.MATRIX: self.matrix, Platform.DISCORD: self.discord},
            on_failure=self._failed,
            clock=clock,
        )
        self.answers: list[tuple[str, str]] = []
        self.linked_messages: dict[str, Message] = {}  # what message links point at
        self.codes = iter(["123456", "654321", "111111", "222222"])
        # The service's own wiring (bridge.compose), around fake platforms.
        settings = parse_settings(policy).model_copy(
            update={
                "reports": ReportsConfig(admins=("matrix:@admin:hs",)),
                "digest": DigestConfig(enabled=digest is not None, window=digest or MINUTE),
            }
        )
        parts = build_core(
            settings, db=db, repos=self.repos, engine=lambda: self.engine, clock=clock,
            around=Surroundings(
                community=lambda: self.community, wake_worker=self.worker.wake,
                hand_over=self.worker.hand_over,
                names=self.names, repliers={Platform.MATRIX: self, Platform.DISCORD: self},
                fetchers={Platform.MATRIX: self},
                bots={"matrix:@bot:hs", "discord:999999999999999999"},
                is_moderator=lambda account: account.id == "@mod:hs",
                answer_wait=5, new_code=self._code,
            ),
        )  # fmt: skip
        self.members = parts.members
        self.writer = parts.writer
        self.judge = parts.judge
        self.linking = parts.linking
        self.reports = parts.reports
        self.moderation = parts.moderation
        self.direct = parts.direct
        self.core = parts.core
        self.scheduler = parts.scheduler

    def _code(self) -> str:
        return next(self.codes)

    async def reply(self, channel: Channel, text: str) -> None:
        """The bot's answers to people, as they would read them."""
        self.answers.append((channel.id, text))

    async def _failed(self, row: ActionRow, reason: str) -> None:
        """The service's failure handler (the moderators are told), and a record of it."""
        self.failures.append(reason)
        await self.writer.tell_failure(row, reason)

    @classmethod
    async def open(
        cls, path: Path, policy: str = POLICY, digest: timedelta | None = None
    ) -> ModBot:
        clock = Clock()
        db = await Database.open(path, clock=clock)
        return cls(db, clock, policy, digest)

    async def say(
        self,
        text: str,
        *,
        author: str = "@ann:hs",
        platform: Platform = Platform.MATRIX,
        room: str = "!a:hs",
        mid: str = "$1",
    ) -> None:
        message = Message(
            id=mid,
            author=Author(account=Account(platform=platform, id=author)),
            channel=Channel(
                platform=platform,
                id=room,
                space_id=room if platform is Platform.MATRIX else "g1",
            ),
            text=text,
            ts=self.clock(),
        )
        await self.judge.on_message(message)

    async def drain(self) -> None:
        """Carry out everything due, including what the background worker has in hand."""
        for _ in range(1000):
            if await self.worker.run_once():
                continue
            async with self.db.transaction(write=False) as t:
                row = await t.fetchrow(
                    "SELECT count(*) AS n FROM actions WHERE state = 'pending'"
                    " AND claimed_at IS NOT NULL"
                )
            if row["n"] == 0:
                return
            await asyncio.sleep(0.01)  # the background worker is still on some
        raise AssertionError("actions still in flight after 10 s")

    async def fetch(self, link: str) -> Message | None:
        """The message fetcher port: the message a link points at, if the test set one."""
        return self.linked_messages.get(link)

    def link_message(self, link: str, author: Account, text: str) -> None:
        self.linked_messages[link] = Message(
            id=link.rsplit("/", 1)[-1],
            author=Author(account=author),
            channel=Channel(platform=author.platform, id="!a:hs", space_id="!a:hs"),
            text=text,
            ts=self.clock(),
        )

    async def dm(self, account: Account, text: str, mid: str = "d", attachments: int = 0) -> str:
        """Send the bot a direct message as ``account``; return the bot's answer."""
        before = len(self.answers)
        await self.core.on_direct_message(
            Message(
                id=mid,
                author=Author(account=account),
                channel=Channel(platform=account.platform, id=f"dm-{account.id}", is_dm=True),
                text=text,
                ts=self.clock(),
                attachments=attachments,
            )
        )
        assert len(self.answers) == before + 1
        return self.answers[-1][1]

    async def typed(self, text: str, *, moderator: str = "@mod:hs", mid: str = "$cmd") -> str:
        """Type a command in the Matrix mod room, as a moderator does; return the answer."""
        before = len(self.answers)
        await self.core.on_command(
            Message(
                id=mid,
                author=Author(
                    account=Account(platform=Platform.MATRIX, id=moderator), is_moderator=True
                ),
                channel=Channel(platform=Platform.MATRIX, id="!mods:hs"),
                text=text,
                ts=self.clock(),
            )
        )
        await self.core.drain_commands()
        assert len(self.answers) == before + 1, f"no answer to {text!r}"
        return self.answers[-1][1]

    async def command(self, text: str, *, moderator: str = "@mod:hs", origin: str = "1") -> str:
        author = Author(account=Account(platform=Platform.MATRIX, id=moderator), is_moderator=True)
        return await self.moderation.on_mod_command(
            parse_command(text), moderator=author, origin=origin
        )


def kinds(rows: Sequence[tuple[Action, str]]) -> list[str]:
    return [type(a).__name__ for a, _ in rows]
