"""The embedded MQTT broker (amqtt, MQTT 3.1.1) in its own process, for one-machine installs.

Used when no ``mqtt.url`` is set. Production points the server at Mosquitto or EMQX instead (MQTT 5,
shared subscriptions, ACLs, TLS). Edge nodes talking to the embedded broker need
``mqtt.protocol: '3.1.1'``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import socket
import time
from multiprocessing.process import BaseProcess
from typing import Any

from server.settings import EmbeddedBrokerSettings

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker could not start; the text says why and what to do."""


def _serve(host: str, port: int, ready: Any) -> None:  # runs in the child process
    from amqtt.broker import Broker

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("amqtt").setLevel(logging.ERROR)  # it warns about every probe and odd client
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }

    async def main() -> None:
        broker = Broker(config)
        await broker.start()
        ready.set()
        while True:
            await asyncio.sleep(3600)

    asyncio.run(main())


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class EmbeddedBroker:
    """Starts and stops the broker process."""

    def __init__(self, settings: EmbeddedBrokerSettings) -> None:
        self._settings = settings
        self._process: BaseProcess | None = None

    @property
    def connect_host(self) -> str:
        host = self._settings.host
        return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host

    def start(self, timeout_s: float = 15.0) -> None:
        """Start the broker and wait until it accepts connections.

        Raises:
            BrokerError: the port is taken, or the broker did not come up.
        """
        host, port = self._settings.host, self._settings.port
        if port_open(self.connect_host, port):
            raise BrokerError(
                f"port {port} is already in use, so the embedded MQTT broker cannot start. Stop what "
                "uses it, set HALLWATCH_EMBEDDED_BROKER__PORT to a free port, or point "
                "HALLWATCH_MQTT__URL at the broker that runs there"
            )
        context = multiprocessing.get_context("spawn")
        ready = context.Event()
        process = context.Process(
            target=_serve, args=(host, port, ready), name="hallwatch-broker", daemon=True
        )
        process.start()
        self._process = process
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready.wait(0.1):
                log.info("embedded MQTT broker (MQTT 3.1.1) listening on %s:%d", host, port)
                return
            if not process.is_alive():
                break
        self.stop()
        raise BrokerError(f"the embedded MQTT broker did not start on {host}:{port}; see the log above")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        process.join(5)
        if process.is_alive():
            process.kill()
            process.join(2)
        log.info("embedded MQTT broker stopped")
