"""hallwatch's own processes for whole-system tests: the server and edge nodes, as real subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from support.processes import HALLWATCH, free_port, wait_until


class ServerProcess:
    """`hallwatch server run --demo` on a free port against a given broker and database."""

    def __init__(
        self, workdir: Path, broker_port: int, *, env: Mapping[str, str] | None = None, client_id: str
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.broker_port = broker_port
        self.database = workdir / "hallwatch.sqlite3"
        self.env = {
            **os.environ,
            "HALLWATCH_MQTT__CLIENT_ID": client_id,
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "server.log"
        self._token: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                str(HALLWATCH),
                "server",
                "run",
                "--demo",
                "--port",
                str(self.port),
                "--database-url",
                f"sqlite:///{self.database}",
                "--broker-url",
                f"mqtt://127.0.0.1:{self.broker_port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.workdir,
        )
        log.close()
        if not wait_until(self._healthy, 60.0, 0.2):
            raise RuntimeError(f"the server did not start:\n{self.log()}")
        self._token = None
        return self

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.proc = None
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def get(self, path: str, role: str = "manager", **params: Any) -> Any:
        if self._token is None:
            response = httpx.post(
                f"{self.url}/api/v1/auth/login", json={"username": role, "password": role}, timeout=10
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        response = httpx.get(
            f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {self._token}"}, timeout=10
        )
        response.raise_for_status()
        return response.json()


class EdgeProcess:
    """`hallwatch edge run` with a processor loaded from a test folder (`--processor module:attr`)."""

    def __init__(self, config: Path, processor: str, processor_dir: Path, env: Mapping[str, str]) -> None:
        self.log_path = config.parent / "edge.log"
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(HALLWATCH), "-v", "edge", "run", "--config", str(config), "--processor", processor],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(processor_dir), **env},
            cwd=config.parent,
        )
        log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def sleep_until(epoch: float, t_s: float) -> None:
    """Sleep until `t_s` seconds after `epoch` (wall clock)."""
    time.sleep(max(0.0, epoch + t_s - time.time()))
