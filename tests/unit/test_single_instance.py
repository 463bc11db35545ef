"""One service per database: a second one would take the first one's actions in hand again."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import ConfigError
from bridge.instance import only_instance


def test_a_second_service_on_the_same_database_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "modbridge.db"
    with only_instance(database):
        with (
            pytest.raises(ConfigError, match="another modbridge is already running on"),
            only_instance(database),
        ):
            pass
        with only_instance(tmp_path / "other.db"):  # another database is another community
            pass
    with only_instance(database):  # free again once the first one stopped
        pass
