"""Real processes shared by every test folder: mosquitto brokers of our own, free ports, waiting.

Nothing here fakes a protocol: a broker is a real mosquitto process with its own config file.
"""

from __future__ import annotations

import getpass
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = REPO / ".venv" / "bin" / "python"
HALLWATCH = REPO / ".venv" / "bin" / "hallwatch"
SHARED_BROKER = ("127.0.0.1", 1883)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# ---------------------------------------------------------------------------------------- broker
@dataclass
class Mosquitto:
    """A mosquitto process of our own on a free port, with its own config."""

    workdir: Path
    port: int = field(default_factory=free_port)
    password_file: Path | None = None
    acl_file: Path | None = None
    persistence: bool = False
    tls: dict[str, Path] | None = None  # cafile, certfile, keyfile, (require_certificate)
    require_certificate: bool = False
    proc: subprocess.Popen[bytes] | None = None

    @property
    def conf_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    def write_conf(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            # Run as whoever runs the tests (as root, mosquitto would switch to `mosquitto` and lose
            # access to the test's files).
            f"user {getpass.getuser()}",
            "max_inflight_messages 0",
            "max_queued_messages 100000",
        ]
        if self.password_file is None:
            lines.append("allow_anonymous true")
        else:
            lines += ["allow_anonymous false", f"password_file {self.password_file}"]
        if self.acl_file is not None:
            lines.append(f"acl_file {self.acl_file}")
        if self.persistence:
            lines += ["persistence true", f"persistence_location {self.workdir}/", "autosave_interval 3600"]
        if self.tls is not None:
            lines += [
                f"cafile {self.tls['cafile']}",
                f"certfile {self.tls['certfile']}",
                f"keyfile {self.tls['keyfile']}",
                f"require_certificate {'true' if self.require_certificate else 'false'}",
            ]
        lines += [f"log_dest file {self.log_path}", "log_type all"]
        self.conf_path.write_text("\n".join(lines) + "\n")

    def start(self) -> Mosquitto:
        self.write_conf()
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        if not wait_until(self._listening, 10.0):
            self.kill()
            raise RuntimeError(
                f"mosquitto did not start: {self.log_path.read_text() if self.log_path.exists() else ''}"
            )
        return self

    def _listening(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited: {self.proc.stderr.read() if self.proc.stderr else b''!r}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def signal(self, signum: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signum)

    def save(self) -> None:
        """Write the persistence database now (mosquitto's SIGUSR1)."""
        self.signal(signal.SIGUSR1)
        time.sleep(0.3)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def freeze(self) -> None:
        """Stop the process without closing its connections: a broker that hangs."""
        self.signal(signal.SIGSTOP)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.proc = None

    def reload(self) -> None:
        self.signal(signal.SIGHUP)
        time.sleep(0.3)
