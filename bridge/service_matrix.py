"""The service's Matrix side, part of the composition root: it connects to the homeserver,
builds the executor, the replier and the message fetcher on the bot's login, and reads the
homeserver's abuse reports when configured."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from adapters.matrix.abuse_reports import AbuseReportReader
from adapters.matrix.connection import MatrixConnection
from adapters.matrix.crypto import encryption_available
from adapters.matrix.e2ee import EncryptedDirectRooms, EncryptionOptions
from adapters.matrix.executor import MatrixExecutor
from adapters.matrix.fetch import MatrixFetcher
from adapters.matrix.policy_lists import PublishingExecutor
from adapters.matrix.replies import MatrixReplier
from adapters.matrix.stores import MatrixMemory
from bridge.config import ConfigError, MatrixConfig, Settings
from bridge.connected import Connected
from bridge.core import Core
from bridge.ecosystem import MatrixEcosystem
from bridge.policy_lists import ListBans
from domain.model import Platform
from storage.kv import KeyValueRepository


class MatrixSide:
    """One Matrix connection of the service, and what it hands the core."""

    def __init__(
        self,
        settings: Settings,
        config: MatrixConfig,
        connected: Connected,
        *,
        notify: Callable[[str], Awaitable[None]],
        stop: asyncio.Event,
    ) -> None:
        self._settings = settings
        self._config = config
        self._connected = connected
        self._notify = notify  # the moderators told (an unreadable encrypted message...)
        self._stop = stop
        self.connection: MatrixConnection | None = None

    async def run(
        self,
        core: Core,
        kv: KeyValueRepository,
        *,
        ecosystem: MatrixEcosystem,
        lists: ListBans,
        wake_worker: Callable[[], None],
    ) -> None:
        """Connect, hand the core its parts, and follow the homeserver until closed."""
        config = self._config
        connection = MatrixConnection(
            homeserver=config.homeserver,
            user_id=config.user_id,
            password=config.password.get_secret_value() if config.password else None,
            access_token=config.access_token.get_secret_value() if config.access_token else None,
            rooms=config.rooms,
            spaces=config.spaces,
            mod_room=config.mod_room,
            moderators=config.moderators,
            moderator_power_level=config.moderator_power_level,
            state=kv,
            handlers=core,
            command_prefix=config.command_prefix,
            policy_lists=config.policy_lists,
            publish_list=config.publish_list,
            ecosystem=ecosystem,
            encryption=self._encryption(),
            notify=self._notify,
        )
        self.connection = connection
        self._connected.directories[Platform.MATRIX] = connection
        # Before start(): the first sync already hands the lists' rules on.
        lists.members = connection.ecosystem.members
        self._connected.bots.add(f"matrix:{config.user_id}")
        await connection.start()
        client = connection.new_client()
        memory = MatrixMemory(kv)
        # A member's own encrypted DM with the bot carries their warnings.
        direct_rooms = EncryptedDirectRooms(memory, connection.encrypted_direct_room)
        executor = MatrixExecutor(
            client, mod_room_id=connection.mod_room_id or "", levels=memory,
            direct_rooms=direct_rooms, known_powers=connection.known_powers,
        )  # fmt: skip
        self._connected.connect(
            Platform.MATRIX,
            executor=PublishingExecutor(executor, client) if config.publish_list else executor,
            replier=MatrixReplier(client),
            fetcher=MatrixFetcher(client, is_direct=connection.is_direct),
            wake_worker=wake_worker,
        )
        reader = self._abuse_reports(connection, lambda: str(client.access_token), kv, ecosystem)
        try:
            await connection.run()
        finally:
            if reader is not None:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
            await client.close()

    def _abuse_reports(
        self,
        connection: MatrixConnection,
        token: Callable[[], str],
        kv: KeyValueRepository,
        ecosystem: MatrixEcosystem,
    ) -> asyncio.Task[None] | None:
        """Members' reports made with their client's Report button, read from the
        homeserver's admin API (``[matrix] read_abuse_reports``)."""
        if not self._config.read_abuse_reports:
            return None
        reports = AbuseReportReader(
            homeserver=self._config.homeserver, token=token,
            protected=lambda: connection.protected_rooms, handler=ecosystem,
            members=lambda: {a.id for a in connection.ecosystem.members()}, seen=kv,
        )  # fmt: skip
        return asyncio.create_task(reports.run(self._stop), name="homeserver reports")

    def _encryption(self) -> EncryptionOptions | None:
        """Encryption on (the default): the crypto store goes beside the database."""
        config = self._config
        if not config.encryption:
            return None
        if not encryption_available():
            raise ConfigError(
                "[matrix] encryption is on but matrix-nio's e2e extra is missing: install "
                "modbridge again (pip install -e .), or set encryption = false"
            )
        storage = Path(self._settings.storage.path)
        return EncryptionOptions(
            store_dir=storage.with_name(storage.name + ".crypto"),
            key_wait=config.key_wait.total_seconds(),
            unreadable_text=self._settings.texts.unreadable_message,
            password=config.password.get_secret_value() if config.password else None,
            recovery_key=config.recovery_key.get_secret_value() if config.recovery_key else None,
        )
