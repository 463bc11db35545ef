from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.component.harness import ModBot


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[ModBot]:
    bot = await ModBot.open(tmp_path / "modbridge.db")
    worker = asyncio.create_task(bot.worker.run())
    yield bot
    bot.worker.stop()
    await worker
    await bot.db.close()
