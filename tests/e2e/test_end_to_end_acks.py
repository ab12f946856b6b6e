"""End-to-end acknowledgements (issue 16) as separate processes: an edge node, mosquitto without
persistence and the server. While the server is down the broker acknowledges the node's events and
queues them for the server's session; then the broker is SIGKILLed and comes back empty.

With `outbox.confirm: server` the node still holds every event the server has not confirmed and
sends them again: nothing is lost, nothing stored twice. With `confirm: broker` (delete on PUBACK)
the same run loses the events the broker held: the measured defect this fixes, kept as the proof
that this test can fail.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from support.hallwatch_processes import EdgeProcess, ServerProcess
from support.processes import Mosquitto, unique, wait_until
from test_whole_chain import received, write_node_config, write_video

HERE = Path(__file__).parent


def made(folder: Path) -> int:
    path = folder / "run-1.count"
    return int(path.read_text()) if path.exists() else 0


@pytest.mark.timeout(240)
@pytest.mark.parametrize("confirm", ["server", "broker"])
def test_a_broker_crash_while_the_server_is_down_loses_nothing_the_server_did_not_confirm(
    tmp_path: Path, confirm: str
) -> None:
    site, node = unique("acks"), unique("node")
    broker = Mosquitto(tmp_path / "broker").start()  # no persistence: a crash loses what it holds
    server = ServerProcess(
        tmp_path / "server", broker_port=broker.port, env={"HALLWATCH_MQTT__SESSION_EXPIRY_S": "600"}
    ).start()
    config = write_node_config(
        tmp_path / "node.yaml", site, node, broker.port, write_video(tmp_path / "v.avi")
    )
    data = yaml.safe_load(config.read_text())
    data["outbox"] |= {"confirm": confirm, "resend_after_s": 120}
    config.write_text(yaml.safe_dump(data))
    env = {
        "HALLWATCH_E2E_EPOCH": repr(time.time()),
        "HALLWATCH_E2E_DIR": str(tmp_path),
        "HALLWATCH_E2E_RUN": "1",
    }
    edge = EdgeProcess(config, "timeline_processor:factory", HERE, env)
    try:
        wait_until(lambda: len(received(server, site)) >= 5, 30, 0.3, explain=edge.log)
        server.stop()
        before = made(tmp_path)
        wait_until(lambda: made(tmp_path) >= before + 15, 20, 0.2)  # 3 s at 5 frames/s: queued for the server
        time.sleep(0.5)  # their PUBACKs
        broker.kill()
        broker.start()
        server.start()

        def stored() -> list[int]:
            return sorted(n for run, n in received(server, site) if run == 1)

        if confirm == "server":  # the node catches up while it runs
            wait_until(lambda: len(stored()) >= made(tmp_path) - 10, 60, 0.5, explain=edge.log)
        else:
            time.sleep(5.0)
        assert edge.stop() == 0, edge.log()[-3000:]
        total = made(tmp_path)
        if confirm == "server":
            wait_until(lambda: len(stored()) >= total, 30, 0.5, explain=lambda: f"{len(stored())} of {total}")
            assert stored() == list(range(total)), "every event the node made, once"
        else:
            time.sleep(5.0)
            missing = set(range(total)) - set(stored())
            assert len(stored()) == len(set(stored())), "an event was stored twice"
            assert missing, "deleting on PUBACK loses what the crashed broker held"
    finally:
        edge.kill()
        if server.proc is not None:
            server.stop()
        broker.stop()
