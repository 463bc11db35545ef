"""Logging set-up shared by `modbridge run` and the demo.

Our own log lines carry ids and rule names, never message text. Third-party libraries are
kept at levels where they cannot break that: matrix-nio logs the whole content of an event
or response that fails its schema at WARNING (any member can send such an event), and the
DEBUG output of discord.py, aiohttp and aiosqlite carries payloads, tokens or SQL parameters.
"""

from __future__ import annotations

import logging

LIBRARY_LEVELS = {
    "nio": logging.ERROR,
    "discord": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "aiosqlite": logging.WARNING,
}


def quiet_libraries() -> None:
    """Set the libraries' loggers to levels at which they log no message text."""
    for name, level in LIBRARY_LEVELS.items():
        logging.getLogger(name).setLevel(level)
