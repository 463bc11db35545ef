"""Fixtures for the end-to-end tests: a real Synapse and a Discord simulator per test module.

Synapse comes from ``.synapse-venv`` (``scripts/install-synapse.sh``). Without it the tests
are skipped with instructions, except in CI (``CI=true``), where a missing homeserver must
fail the run rather than let the Matrix adapter go unproven.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from devtools.discord_simulator import DiscordSimulator, run_simulator
from tests.e2e.synapse import SynapseServer, synapse_available, synapse_python


def require_synapse() -> None:
    """Skip (or, in CI, fail) the calling test when Synapse is not installed."""
    if synapse_available():
        return
    message = (
        f"Synapse is not installed ({synapse_python()} is missing): run "
        "`bash scripts/install-synapse.sh` (or set MODBRIDGE_SYNAPSE_PYTHON to a Synapse "
        "venv's python)"
    )
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def start_synapse(tmp_dir: Path, *, default_rate_limits: bool = False) -> SynapseServer:
    """Start a Synapse in ``tmp_dir`` (skipping or failing first when it is not installed)."""
    require_synapse()
    server = SynapseServer(tmp_dir, default_rate_limits=default_rate_limits)
    server.start()
    return server


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """A Synapse with raised rate limits, shared by the tests of one module."""
    server = start_synapse(tmp_path_factory.mktemp("synapse"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def throttled_synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """A Synapse that keeps its default rate limits, as real homeservers do."""
    server = start_synapse(tmp_path_factory.mktemp("synapse-throttled"), default_rate_limits=True)
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sim() -> AsyncIterator[DiscordSimulator]:
    """A Discord simulator shared by the tests of one module (on the module's event loop)."""
    async with run_simulator() as simulator:
        yield simulator
