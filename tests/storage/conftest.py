"""Fixtures for the storage tests: a real SQLite file per test and a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import Database
from storage.repositories import Repositories
from tests.fakes import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "modbridge.db"


@pytest.fixture
async def db(db_path: Path, clock: Clock) -> AsyncIterator[Database]:
    database = await Database.open(db_path, clock=clock)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def repos(db: Database) -> Repositories:
    return Repositories.over(db)
