"""HAProxy (Debian's) run with a deploy config: in front of server replicas (deploy/haproxy/hallwatch.cfg)
or of a clustered broker's MQTT listeners (deploy/haproxy/mqtt.cfg, see support.nats)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.processes import REPO, free_port, port_open, wait_until

CONFIG = REPO / "deploy" / "haproxy" / "hallwatch.cfg"


@dataclass
class Haproxy:
    """`haproxy -db -f CONFIG` on a free port; the config's addresses come from ``env`` and its
    listening address from ``bind_var`` (as the deploy configs read them from the environment)."""

    env: dict[str, str]
    config: Path = CONFIG
    bind_var: str = "HALLWATCH_LB_BIND"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    _log: Path | None = None

    @classmethod
    def for_replicas(cls, a: str, b: str) -> Haproxy:
        """In front of two server replicas (host:port each)."""
        return cls({"HALLWATCH_REPLICA_A": a, "HALLWATCH_REPLICA_B": b})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Haproxy:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not os.path.exists(binary):
            pytest.fail("Debian's haproxy is needed (`make test` installs it as root, or says how)")
        env = os.environ | self.env | {self.bind_var: f"127.0.0.1:{self.port}"}
        # Its output goes to a file: a pipe nobody reads would fill up and stop it.
        fd, name = tempfile.mkstemp(prefix="haproxy-", suffix=".log")
        self._log = Path(name)
        with os.fdopen(fd, "wb") as log:
            self.proc = subprocess.Popen(
                [binary, "-db", "-f", str(self.config)], env=env, stdout=log, stderr=log
            )
        wait_until(self._listening, 10.0, explain=lambda: "haproxy did not start listening")
        return self

    def _listening(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            output = self._log.read_text() if self._log else ""
            raise RuntimeError(f"haproxy exited: {output}")
        return port_open("127.0.0.1", self.port, 0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.proc = None
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None
