"""Real processes shared by every test folder: mosquitto brokers of our own, free ports, waiting.

Nothing here fakes a protocol: a broker is a real mosquitto process with its own config file.
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
PYTHON = REPO / ".venv" / "bin" / "python"
HALLWATCH = REPO / ".venv" / "bin" / "hallwatch"
SHARED_BROKER = ("127.0.0.1", 1883)


def unique(prefix: str) -> str:
    """A name of a test's own (sites, nodes, client ids): ``prefix`` and ten random hex digits."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def require_shared_broker() -> int:
    """The shared anonymous mosquitto's port; fails the test when it is not running."""
    if not port_open(*SHARED_BROKER):
        pytest.fail("the shared mosquitto on 127.0.0.1:1883 is not running (start it as .ci/run does)")
    return SHARED_BROKER[1]


def clean_env() -> dict[str, str]:
    """This process's environment without any ``HALLWATCH_`` setting, for a hallwatch subprocess."""
    return {k: v for k, v in os.environ.items() if not k.startswith("HALLWATCH_")}


def wait_until(
    check: Callable[[], T],
    timeout_s: float = 10.0,
    interval_s: float = 0.05,
    *,
    explain: str | Callable[[], object] | None = None,
) -> T:
    """Poll ``check`` until it returns something truthy, and return that.

    Fails (`AssertionError`) after ``timeout_s`` with the last value and ``explain`` (a string, or a
    callable asked only then, such as a process's log). What ``check`` raises goes through.
    """
    deadline = time.monotonic() + timeout_s
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval_s)
        value = check()
    if value:
        return value
    detail = explain() if callable(explain) else explain
    message = f"condition not met within {timeout_s} s (last value: {value!r})"
    raise AssertionError(message if detail is None else f"{message}\n{detail}")


# ---------------------------------------------------------------------------------------- broker
@dataclass
class Mosquitto:
    """A mosquitto process of our own on a free port, with its own config."""

    workdir: Path
    port: int = field(default_factory=free_port)
    password_file: Path | None = None
    acl_file: Path | None = None
    persistence: bool = False
    autosave_s: int = 3600  # with persistence: how often the in-memory state is written to disk
    tls: dict[str, Path] | None = None  # cafile, certfile, keyfile, (require_certificate)
    require_certificate: bool = False
    # `use_username_as_clientid`, as deploy/mosquitto/hallwatch.conf sets it: a login is its client id.
    client_id_from_username: bool = False
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
        if self.client_id_from_username:
            lines.append("use_username_as_clientid true")
        if self.persistence:
            lines += [
                "persistence true",
                f"persistence_location {self.workdir}/",
                f"autosave_interval {self.autosave_s}",
            ]
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
        try:
            wait_until(self._listening, 10.0)
        except AssertionError:
            self.kill()
            raise RuntimeError(
                f"mosquitto did not start: {self.log_path.read_text() if self.log_path.exists() else ''}"
            ) from None
        return self

    def _listening(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited: {self.proc.stderr.read() if self.proc.stderr else b''!r}")
        return port_open("127.0.0.1", self.port, 0.2)

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
