"""Members and spaces named as people read them: ``Kip (@kip:hs)``, ``#general in OpenInfra KE``.

Answers and modlog lines name who and where by name, with the id beside a member's name
(two members may share a name; the id is what a command takes). Names come from each
platform's own cache (a :class:`domain.ports.Directory`), else from what the account
carried when it was seen, else the id stands alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from domain.model import LIST_SPACE_PREFIX, Account, Platform
from domain.ports import Directory

PLATFORM_NAMES = {
    Platform.DISCORD: "Discord",
    Platform.MATRIX: "Matrix",
    Platform.CLI: "command line",
}


def account_from_key(key: str) -> Account | None:
    """The account an account key (``matrix:@kip:hs``) stands for; None if it is no key."""
    platform, _, account_id = key.partition(":")
    try:
        return Account(platform=Platform(platform), id=account_id) if account_id else None
    except ValueError:
        return None


class Names:
    """Readable names, from the platforms' directories (filled as platforms connect)."""

    def __init__(self, directories: Mapping[Platform, Directory] | None = None) -> None:
        self._directories = directories if directories is not None else {}

    def _id(self, account: Account) -> str:
        return account.id if account.platform is Platform.MATRIX else account.key

    def account(self, account: Account) -> str:
        """``Kip (@kip:hs)``, ``Kip (discord:1234)``, or the id alone when no name is known."""
        directory = self._directories.get(account.platform)
        name = directory.account_name(account.id) if directory is not None else ""
        name = (name or account.display_name).strip()
        shown = self._id(account)
        return f"{name} ({shown})" if name and name != shown else shown

    def key(self, key: str) -> str:
        """An account key (``discord:1234``) named; any other text as it is."""
        account = account_from_key(key)
        return self.account(account) if account is not None else key

    def named(self, name: str) -> list[Account]:
        """The members of the protected spaces, on every platform, called ``name``."""
        return [
            Account(platform=platform, id=account_id, display_name=name)
            for platform, directory in self._directories.items()
            for account_id in dict.fromkeys(directory.accounts_named(name))
        ]

    def space(self, platform: Platform, space_id: str) -> str:
        """A space (guild, room, channel) by name, its id when the name is unknown."""
        if not space_id:
            return "a direct message"
        if space_id.startswith(LIST_SPACE_PREFIX):  # a ban published to our policy list
            return f"the policy list {self.space(platform, space_id[len(LIST_SPACE_PREFIX) :])}"
        directory = self._directories.get(platform)
        name = directory.space_name(space_id) if directory is not None else ""
        return name or space_id

    def places(self, where: Iterable[tuple[Platform, str]]) -> str:
        """Where something applied, per platform: ``Discord: OpenInfra KE; Matrix: General,
        Random`` (past five spaces of a platform, counted)."""
        by_platform: dict[Platform, list[str]] = {}
        for platform, space_id in where:
            names = by_platform.setdefault(platform, [])
            name = self.space(platform, space_id)
            if name not in names:
                names.append(name)
        parts = []
        for platform, names in sorted(by_platform.items()):
            label = PLATFORM_NAMES.get(platform, platform.value)
            unit = "guilds" if platform is Platform.DISCORD else "rooms"
            shown = ", ".join(names) if len(names) <= 5 else f"{len(names)} {unit}"
            parts.append(f"{label}: {shown}")
        return "; ".join(parts)
