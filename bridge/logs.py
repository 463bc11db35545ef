"""Logging set-up shared by `modbridge run` and the demo.

Our own log lines carry ids and rule names, never message text. Third-party libraries are
kept at levels where they cannot break that: matrix-nio logs the whole content of an event
or response that fails its schema at WARNING (any member can send such an event), and the
DEBUG output of discord.py, aiohttp and aiosqlite carries payloads, tokens or SQL parameters.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TextIO

LIBRARY_LEVELS = {
    "nio": logging.ERROR,
    "discord": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "aiosqlite": logging.WARNING,
}


class _NoVoiceWarnings(logging.Filter):
    """discord.py warns at every start that voice is unsupported (PyNaCl, davey missing):
    modbridge never uses voice, so the warning only teaches admins to ignore warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "voice will NOT be supported" not in record.getMessage()


def quiet_libraries() -> None:
    """Set the libraries' loggers to levels at which they log no message text."""
    for name, level in LIBRARY_LEVELS.items():
        logging.getLogger(name).setLevel(level)
    client = logging.getLogger("discord.client")
    if not any(isinstance(f, _NoVoiceWarnings) for f in client.filters):
        client.addFilter(_NoVoiceWarnings())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger and the message as our code wrote it
    (ids and rule names; the same privacy rules as the text format)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single-line JSON object."""
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: a traceback's locals and arguments may hold message text.
            entry["exception"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False)


_HANDLER = "modbridge"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")


def configure(level: str, log_format: str, stream: TextIO) -> None:
    """Set up the root logger for `modbridge run` (``text`` or ``json`` lines on ``stream``)."""
    handler = logging.StreamHandler(stream)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.set_name(_HANDLER)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER]:
        root.removeHandler(old)  # configured twice in one process: the second one wins
    root.addHandler(handler)
    root.setLevel(level)
    quiet_libraries()
