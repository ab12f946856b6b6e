from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from edge_support import Capture
from support.processes import SHARED_BROKER, Mosquitto, unique
from support.tls import make_tls_files


@pytest.fixture
def site() -> str:
    return unique("site")


@pytest.fixture
def node_id() -> str:
    return unique("node")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A mosquitto of this test's own (anonymous), on a free port."""
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.kill()


@pytest.fixture
def make_broker(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """Start brokers with their own settings (passwords, ACL, TLS, persistence)."""
    started: list[Mosquitto] = []

    def make(**kwargs: Any) -> Mosquitto:
        b = Mosquitto(tmp_path / f"broker-{len(started)}", **kwargs).start()
        started.append(b)
        return b

    yield make
    for b in started:
        b.kill()


@pytest.fixture
def shared_broker_port() -> int:
    """The shared anonymous broker on 127.0.0.1:1883 (CI starts it); tests use unique site names."""
    try:
        with socket.create_connection(SHARED_BROKER, timeout=1.0):
            return SHARED_BROKER[1]
    except OSError:
        pytest.fail("the shared mosquitto on 127.0.0.1:1883 is not running (start it as .ci/run does)")


@pytest.fixture
def capture() -> Iterator[Callable[..., Capture]]:
    made: list[Capture] = []

    def make(port: int, topic: str, **kwargs: Any) -> Capture:
        c = Capture(port, topic, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_tls_files(tmp_path_factory.mktemp("tls"))
