"""hallwatch's own processes for whole-system tests: the server and edge nodes, as real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from support.processes import HALLWATCH, SHARED_BROKER, clean_env, free_port, unique, wait_until


@dataclass
class ServerProcess:
    """``hallwatch server run --demo`` as a real subprocess: a free port, its own SQLite file, a broker.

    ``sites`` are the sites it subscribes to (all when None); ``env`` adds ``HALLWATCH_`` settings
    to an environment cleared of the caller's own. It can be stopped and started again: the port,
    database, client id and shared-subscription group stay, so the broker keeps its session.
    `get` reads the API as a demo user (guide, manager, ops).
    """

    folder: Path
    sites: list[str] | None = None
    broker_port: int = SHARED_BROKER[1]
    env: Mapping[str, str] = field(default_factory=dict)
    client_id: str = field(default_factory=lambda: unique("server"))
    group: str | None = None
    database_url: str | None = None  # default: an SQLite file in `folder`
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    _tokens: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.folder / "server.log"

    def environment(self) -> dict[str, str]:
        env = clean_env() | {"HALLWATCH_MQTT__CLIENT_ID": self.client_id}
        if self.sites is not None:
            env["HALLWATCH_MQTT__SITES"] = json.dumps(self.sites)
        if self.group is not None:
            env["HALLWATCH_MQTT__SHARED_GROUP"] = self.group
        return env | dict(self.env)

    def start(self, timeout_s: float = 60.0) -> ServerProcess:
        """Start it and wait until it answers and is connected to the broker."""
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [
            str(HALLWATCH),
            "server",
            "run",
            "--demo",
            "--port",
            str(self.port),
            "--broker-url",
            f"mqtt://{SHARED_BROKER[0]}:{self.broker_port}",
            "--database-url",
            self.database_url or f"sqlite:///{self.folder / 'hallwatch.sqlite3'}",
        ]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                command, env=self.environment(), stdout=log, stderr=subprocess.STDOUT, cwd=self.folder
            )
        self._tokens.clear()  # a demo server signs with a new key each start
        try:
            wait_until(
                self._ready, timeout_s, 0.1, explain=lambda: f"the server did not come up:\n{self.log(40)}"
            )
        except AssertionError:
            self.stop()
            raise
        time.sleep(0.3)  # let the subscriptions settle
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"the server exited ({self.proc.returncode}):\n{self.log(40)}")
        try:
            return bool(httpx.get(f"{self.url}/healthz", timeout=1.0).json().get("mqtt_connected"))
        except (httpx.HTTPError, ValueError):
            return False

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """Stop it (SIGTERM, then SIGKILL after ``timeout_s``); its exit code, None if it was not running."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        """SIGKILL: a replica that dies mid-stream."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def metric(self, name: str, **labels: str) -> float:
        """One sample of its Prometheus metrics (read as the demo ops user); 0 when absent."""
        text = httpx.get(
            f"{self.url}/metrics", headers={"Authorization": f"Bearer {self.token('ops')}"}, timeout=10
        ).text
        wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
        return sum(
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.split(" ")[0] == wanted
        )

    def log(self, lines: int | None = None) -> str:
        """Its output so far (the last ``lines`` lines only, if given)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return text if lines is None else "\n".join(text.splitlines()[-lines:])

    def token(self, role: str) -> str:
        """A bearer token of the demo user ``role`` (kept: logins cost an argon2 hash each)."""
        if role not in self._tokens:
            response = httpx.post(
                f"{self.url}/api/v1/auth/login", json={"username": role, "password": role}, timeout=10
            )
            response.raise_for_status()
            self._tokens[role] = response.json()["access_token"]
        return self._tokens[role]

    def get(self, path: str, role: str = "manager", **params: Any) -> Any:
        """GET an API path (``path`` below /api/v1/) as a demo user; the JSON it answers."""
        response = httpx.get(
            f"{self.url}/api/v1/{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token(role)}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()


class EdgeProcess:
    """`hallwatch edge run` with a processor loaded from a test folder (`--processor module:attr`).

    ``env`` is added to this process's environment; the output goes to ``log_path`` (default
    ``edge.log`` beside the config), appended to, so that several runs can share one file.
    """

    def __init__(
        self,
        config: Path,
        processor: str,
        processor_dir: Path,
        env: Mapping[str, str] | None = None,
        *,
        log_path: Path | None = None,
    ) -> None:
        self.log_path = log_path or config.parent / "edge.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(HALLWATCH), "-v", "edge", "run", "--config", str(config), "--processor", processor],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": _python_path(processor_dir), **(env or {})},
                cwd=config.parent,
            )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM, as systemd stops it; its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_s)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _python_path(first: Path) -> str:
    """`first`, then whatever PYTHONPATH this process has (a checkout run from elsewhere)."""
    return os.pathsep.join(p for p in (str(first), os.environ.get("PYTHONPATH", "")) if p)


def sleep_until(epoch: float, t_s: float) -> None:
    """Sleep until `t_s` seconds after `epoch` (wall clock)."""
    time.sleep(max(0.0, epoch + t_s - time.time()))
