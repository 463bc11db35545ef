"""Which members the gateway sends a bot, in GUILD_CREATE and in answer to op 8.

Gateway docs (Guild Create, Request Guild Members): without the GUILD_PRESENCES intent, or
in a guild larger than the ``large_threshold`` of IDENTIFY (50 to 250), GUILD_CREATE carries
only the bot's own member (and members in voice channels, which the simulator has none of),
with ``member_count`` the real count; the client asks for the rest with op 8 and gets
GUILD_MEMBERS_CHUNK events of up to 1,000 members each, numbered by ``chunk_index`` and
``chunk_count``. Asking for every member (``query ""``, ``limit 0``) needs the
GUILD_MEMBERS intent; ``user_ids`` may name up to 100 members.
"""

from __future__ import annotations

from typing import Final

from .entities import JSON, Guild, Member
from .payloads import member_payload
from .state import World

GUILD_MEMBERS: Final = 1 << 1
GUILD_PRESENCES: Final = 1 << 8
CHUNK_SIZE: Final = 1000
MAX_USER_IDS: Final = 100
DEFAULT_LARGE_THRESHOLD: Final = 50


def initial_members(
    guild: Guild, bot_id: int, *, intents: int, large_threshold: int
) -> tuple[list[Member], bool]:
    """The members GUILD_CREATE carries for this session, and whether the guild is large."""
    large = len(guild.members) > large_threshold
    if intents & GUILD_PRESENCES and not large:
        return list(guild.members.values()), large
    me = guild.members.get(bot_id)
    return ([] if me is None else [me]), large


def large_threshold(identify: JSON) -> int:
    """IDENTIFY's ``large_threshold``, kept within Discord's 50 to 250."""
    value = identify.get("large_threshold", DEFAULT_LARGE_THRESHOLD)
    return max(50, min(250, int(value))) if isinstance(value, int) else DEFAULT_LARGE_THRESHOLD


def member_chunks(world: World, guild: Guild, request: JSON, *, intents: int) -> list[JSON]:
    """GUILD_MEMBERS_CHUNK data answering one op 8 (empty when Discord would refuse it)."""
    wanted = [int(u) for u in request.get("user_ids") or []][:MAX_USER_IDS]
    query = str(request.get("query") or "").lower()
    limit = int(request.get("limit") or 0)
    if not wanted and not query and not intents & GUILD_MEMBERS:
        return []  # listing everyone needs the privileged intent
    if wanted:
        found = [guild.members[u] for u in wanted if u in guild.members]
    else:
        found = [
            m
            for m in guild.members.values()
            if world.users[m.user_id].username.lower().startswith(query)
        ]
        if limit:
            found = found[:limit]
    not_found = [str(u) for u in wanted if u not in guild.members]
    pieces = [found[i : i + CHUNK_SIZE] for i in range(0, len(found), CHUNK_SIZE)] or [[]]
    chunks: list[JSON] = []
    for index, piece in enumerate(pieces):
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": [member_payload(world, m) for m in piece],
            "chunk_index": index,
            "chunk_count": len(pieces),
            "not_found": not_found if index == 0 else [],
        }
        if "nonce" in request:
            chunk["nonce"] = request["nonce"]
        chunks.append(chunk)
    return chunks
