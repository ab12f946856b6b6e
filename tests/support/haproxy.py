"""HAProxy (Debian's) in front of server replicas, run with the deploy config (deploy/haproxy)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field

import pytest

from support.processes import REPO, free_port, port_open, wait_until

CONFIG = REPO / "deploy" / "haproxy" / "hallwatch.cfg"


@dataclass
class Haproxy:
    """`haproxy -db -f deploy/haproxy/hallwatch.cfg` on a free port, the replicas from the environment."""

    replicas: tuple[str, str]  # host:port of replica a and b
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Haproxy:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not os.path.exists(binary):
            pytest.fail("Debian's haproxy is needed (`make test` installs it as root, or says how)")
        env = os.environ | {
            "HALLWATCH_LB_BIND": f"127.0.0.1:{self.port}",
            "HALLWATCH_REPLICA_A": self.replicas[0],
            "HALLWATCH_REPLICA_B": self.replicas[1],
        }
        self.proc = subprocess.Popen(
            [binary, "-db", "-f", str(CONFIG)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_until(self._listening, 10.0, explain=lambda: "haproxy did not start listening")
        return self

    def _listening(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            err = self.proc.stderr.read() if self.proc.stderr else b""
            raise RuntimeError(f"haproxy exited: {err.decode(errors='replace')}")
        return port_open("127.0.0.1", self.port, 0.2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.proc = None
