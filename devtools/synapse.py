"""A real Synapse homeserver on loopback: for ``modbridge demo`` and the end-to-end tests.

Synapse lives in its own venv (``scripts/install-synapse.sh`` makes ``.synapse-venv/``) because
it pins Twisted, pydantic and friends. Everything the server writes stays under one data dir,
so a stop and a start on the same dir is a restart with the same rooms and users (the outage
tests rely on that). Users are registered with the shared-secret admin API, so nobody needs
an account anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_NAME = "localhost"

# Every rate limit Synapse 1.163 knows, raised so that the tests measure the adapter and not
# the throttle. One test keeps Synapse's defaults (``default_rate_limits=True``).
_UNLIMITED = {"per_second": 1000, "burst_count": 10000}
_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _UNLIMITED,
    "rc_registration": _UNLIMITED,
    "rc_registration_token_validity": _UNLIMITED,
    "rc_login": {
        "address": _UNLIMITED,
        "account": _UNLIMITED,
        "failed_attempts": _UNLIMITED,
    },
    "rc_admin_redaction": _UNLIMITED,
    "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
    "rc_joins_per_room": _UNLIMITED,
    "rc_key_requests": _UNLIMITED,
    "rc_3pid_validation": _UNLIMITED,
    "rc_invites": {
        "per_room": _UNLIMITED,
        "per_user": _UNLIMITED,
        "per_issuer": _UNLIMITED,
    },
    "rc_third_party_invite": _UNLIMITED,
    "rc_media_create": _UNLIMITED,
    "rc_presence": {"per_user": _UNLIMITED},
    "rc_delayed_event_mgmt": _UNLIMITED,
    "rc_room_creation": _UNLIMITED,
    "rc_reports": _UNLIMITED,
    "rc_user_directory": _UNLIMITED,
    "rc_profile": _UNLIMITED,
}


SYNAPSE_VENV = ".synapse-venv"


def _venv_python(directory: Path) -> Path:
    return directory / SYNAPSE_VENV / "bin" / "python"


def synapse_python() -> Path:
    """The interpreter of Synapse's own venv.

    ``MODBRIDGE_SYNAPSE_PYTHON`` wins; otherwise the first ``.synapse-venv`` found looking
    upward from the current directory, then from this package's location (an editable install
    sits in the project). When none exists, the path it would have in the current directory.
    """
    override = os.environ.get("MODBRIDGE_SYNAPSE_PYTHON")
    if override:
        return Path(override)
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for directory in (start, *start.parents):
            candidate = _venv_python(directory)
            if candidate.is_file():
                return candidate
    return _venv_python(Path.cwd())


def synapse_available() -> bool:
    """True when the Synapse interpreter exists (the install script has been run)."""
    return synapse_python().is_file()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class RegisteredUser:
    """A user made through the admin API, with a ready access token (no login needed)."""

    user_id: str
    access_token: str
    device_id: str
    password: str


class SynapseError(RuntimeError):
    """Synapse did not start, stop or answer as the harness expected."""


class SynapseServer:
    """One Synapse process on 127.0.0.1 with all its files under ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        default_rate_limits: bool = False,
        default_room_version: str | None = None,
        extra_config: dict[str, Any] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.shared_secret = secrets.token_hex(16)
        self.default_rate_limits = default_rate_limits
        self.default_room_version = default_room_version
        self.extra_config = extra_config or {}
        self.config_path = data_dir / "homeserver.yaml"
        self.log_path = data_dir / "homeserver.log"
        self.output_path = data_dir / "stdout.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._write_config()

    # -- configuration ---------------------------------------------------------------------

    def _write_config(self) -> None:
        d = self.data_dir
        d.mkdir(parents=True, exist_ok=True)
        log_config = d / "log.yaml"
        # JSON is YAML: no YAML library needed on the project side.
        log_config.write_text(json.dumps(_log_config(self.log_path)))
        # A signing key is 32 random bytes, unpadded base64; writing it saves a Synapse start.
        seed = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        (d / "signing.key").write_text(f"ed25519 a_test {seed}\n")
        config: dict[str, Any] = {
            "server_name": SERVER_NAME,
            "public_baseurl": f"{self.base_url}/",
            "pid_file": str(d / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(d / "homeserver.db")}},
            "log_config": str(log_config),
            "media_store_path": str(d / "media"),
            "signing_key_path": str(d / "signing.key"),
            "registration_shared_secret": self.shared_secret,
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "report_stats": False,
            "bcrypt_rounds": 4,
            "enable_registration": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "presence": {"enabled": False},
            "url_preview_enabled": False,
            "enable_metrics": False,
        }
        if self.default_room_version:
            config["default_room_version"] = self.default_room_version
        if not self.default_rate_limits:
            config.update(_RATE_LIMITS)
        config.update(self.extra_config)
        self.config_path.write_text(json.dumps(config, indent=2))

    # -- process ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the Synapse process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60.0) -> None:
        """Start Synapse and wait until the client API answers."""
        if self.running:
            return
        python = synapse_python()
        if not python.is_file():
            raise SynapseError(f"no Synapse interpreter at {python}")
        with self.output_path.open("ab") as out:
            self._process = subprocess.Popen(  # noqa: S603 - our argv, Synapse's own venv
                [str(python), "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
                cwd=self.data_dir,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own session: a Ctrl-C in the terminal reaches only our process, which
                # then stops Synapse in order (after the clients that talk to it).
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SynapseError(f"Synapse exited at start-up:\n{self.diagnostics()}")
            if self._answers():
                return
            time.sleep(0.05)
        self.stop(kill=True)
        raise SynapseError(f"Synapse did not answer within {timeout}s:\n{self.diagnostics()}")

    def stop(self, *, kill: bool = False, timeout: float = 15.0) -> None:
        """Stop Synapse (SIGTERM, or SIGKILL to simulate a crash); the data dir stays."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
            process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        self._process = None

    def pause(self) -> None:
        """Freeze the process (SIGSTOP): connections open, nothing answers (a hung server)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo :meth:`pause`."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stop and start again on the same data dir (same port, rooms and users)."""
        self.stop()
        self.start()

    def diagnostics(self) -> str:
        """The tail of Synapse's output and log, for error messages."""
        parts = [
            f"--- {path.name} ---\n" + path.read_text(errors="replace")[-3000:]
            for path in (self.output_path, self.log_path)
            if path.exists()
        ]
        return "\n".join(parts)

    def _answers(self) -> bool:
        try:
            self._request("GET", "/_matrix/client/versions", timeout=1.0)
        except (OSError, SynapseError):
            return False
        return True

    # -- HTTP --------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                parsed: dict[str, Any] = json.loads(response.read() or b"{}")
                return parsed
        except urllib.error.HTTPError as exc:
            raise SynapseError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from exc

    def register(self, localpart: str, *, admin: bool = False) -> RegisteredUser:
        """Register a user with the shared-secret admin API; the answer carries a token."""
        password = secrets.token_hex(8)
        nonce = self._request("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        for part in (nonce, localpart, password, "admin" if admin else "notadmin"):
            if part != nonce:
                mac.update(b"\x00")
            mac.update(part.encode())
        answer = self._request(
            "POST",
            "/_synapse/admin/v1/register",
            {
                "nonce": nonce,
                "username": localpart,
                "password": password,
                "admin": admin,
                "mac": mac.hexdigest(),
            },
        )
        return RegisteredUser(
            user_id=answer["user_id"],
            access_token=answer["access_token"],
            device_id=answer["device_id"],
            password=password,
        )

    def __enter__(self) -> SynapseServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """Start a throwaway Synapse by hand: ``python -m devtools.synapse DIR``."""
    server = SynapseServer(Path(sys.argv[1]))
    started = time.monotonic()
    with server:
        print(f"Synapse at {server.base_url} in {time.monotonic() - started:.2f}s")
        print(server.register("probe").user_id)


if __name__ == "__main__":
    main()


def _log_config(path: Path) -> dict[str, Any]:
    """Python logging's dict config for Synapse: WARNING and above, to ``path``."""
    return {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(name)s %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(path),
                "formatter": "plain",
                "level": "WARNING",
            }
        },
        "root": {"level": "WARNING", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }
