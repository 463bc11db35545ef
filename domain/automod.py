"""What a platform's own automatic moderation may mirror of the policy, as plain values.

:func:`rules.automod.automod_specs` decides which rules qualify and builds these; the Discord
adapter fits them into Discord's AutoMod limits and keeps the guild's rules in step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AutomodSpec:
    """One modbridge rule to mirror: Discord keywords (``*`` wildcards) and regexes."""

    name: str
    keywords: tuple[str, ...] = ()
    regexes: tuple[str, ...] = ()
    exempt_roles: tuple[int, ...] = ()
    exempt_channels: tuple[int, ...] = ()
    allow: tuple[str, ...] = ()  # Discord's allow_list: matches containing these pass
