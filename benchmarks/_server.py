"""What the server benchmarks share: a broker (a mosquitto, or a three-node NATS cluster behind
HAProxy) and a PostgreSQL database of their own, and the server."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import psycopg
from _edge import Broker

# The NATS cluster and HAProxy as the tests run them, from the deploy configs.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.nats import NatsCluster, mqtt_proxy, open_users

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
HALLWATCH = str(Path(sys.executable).parent / "hallwatch")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


class ServerStack:
    """A private mosquitto, a temporary PostgreSQL database and `hallwatch server run` against both.

    ``settings`` are ``HALLWATCH_`` variables on top of the stack's own (database, broker, port, a
    secret key, no persistent MQTT session); `close` stops everything, drops the database and
    prints the server's warnings and errors (its whole log's end with ``BENCH_KEEP_LOG=1``).
    """

    def __init__(self, settings: Mapping[str, str], *, nats: bool = False) -> None:
        self.broker = Broker()
        self.cluster: NatsCluster | None = None
        # Who the benchmark's own clients log in as (NATS always wants a user).
        self.mqtt_auth: tuple[str, str] | None = None
        if nats:  # the clustered broker of deploy/README.md part 4: MQTT 3.1.1, no shared subscriptions
            self.mqtt_auth = ("bench", secrets.token_urlsafe(16))
            self.cluster = NatsCluster(self.broker.dir / "nats", open_users(*self.mqtt_auth)).start()
            self.proxy = mqtt_proxy(self.cluster).start()
            self.mqtt_port = self.proxy.port
        else:
            self.broker.start()
            self.mqtt_port = self.broker.port
        self.http_port = free_port()
        self.log_path = self.broker.dir / "server.log"
        self.database = f"hallwatch_bench_{secrets.token_hex(4)}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HALLWATCH_")} | {
            "HALLWATCH_SECRET_KEY": secrets.token_urlsafe(48),
            "HALLWATCH_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.database}",
            "HALLWATCH_MQTT__URL": f"mqtt://127.0.0.1:{self.mqtt_port}",
            **(
                {"HALLWATCH_MQTT__USERNAME": self.mqtt_auth[0], "HALLWATCH_MQTT__PASSWORD": self.mqtt_auth[1]}
                if self.mqtt_auth
                else {}
            ),
            "HALLWATCH_MQTT__SESSION_EXPIRY_S": "0",
            # The benchmarks' publishers are nodes the server has not met: accept them, as ops would.
            "HALLWATCH_INGEST__ACCEPT_NEW_NODES": "true",
            "HALLWATCH_HTTP__PORT": str(self.http_port),
            **settings,
        }
        self.server: subprocess.Popen[bytes] | None = None
        self.replicas: list[tuple[subprocess.Popen[bytes], int]] = []

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:5432/{self.database}"

    def hallwatch(self, *args: str, stdin: str) -> None:
        """Run a `hallwatch` command (such as ``server create-user``) with the stack's settings."""
        subprocess.run(
            [HALLWATCH, *args], input=stdin, text=True, env=self.env, check=True, capture_output=True
        )

    def start_server(self) -> None:
        """Start the server and wait until it answers HTTP."""
        with self.log_path.open("w") as log:
            self.server = subprocess.Popen(
                [HALLWATCH, "server", "run"], env=self.env, stdout=subprocess.DEVNULL, stderr=log
            )
        wait_port(self.http_port, 60)

    def start_replica(self) -> int:
        """Start one more server on the same broker and database (its own MQTT client id and HTTP
        port, the same shared group); returns its HTTP port once it answers."""
        port = free_port()
        env = self.env | {
            "HALLWATCH_HTTP__PORT": str(port),
            "HALLWATCH_MQTT__CLIENT_ID": f"hallwatch-bench-{secrets.token_hex(3)}",
        }
        with (self.broker.dir / f"replica-{port}.log").open("w") as log:
            proc = subprocess.Popen(
                [HALLWATCH, "server", "run"], env=env, stdout=subprocess.DEVNULL, stderr=log
            )
        self.replicas.append((proc, port))
        wait_port(port, 60)
        return port

    def close(self) -> None:
        for proc, _port in self.replicas:
            proc.send_signal(signal.SIGINT)
        for proc, _port in self.replicas:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.server is not None:
            self.server.send_signal(signal.SIGINT)
            try:
                self.server.wait(30)
            except subprocess.TimeoutExpired:
                self.server.kill()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        errors = [line for line in log.splitlines() if re.search(r" (ERROR|WARNING) ", line)]
        if errors:
            print("server warnings/errors:", *errors[:10], sep="\n  ")
        if os.environ.get("BENCH_KEEP_LOG"):
            print(log[-6000:])
        if self.cluster is not None:
            self.proxy.stop()
            self.cluster.stop()
        self.broker.cleanup()
