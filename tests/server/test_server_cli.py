"""`hallwatch server ...` as ops use it."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner
from support.contract import Node
from support.mqtt import Publisher
from support.processes import HALLWATCH, clean_env, free_port, unique, wait_until

from hallwatch.cli import root


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(root, ["server", "--help"])
    assert result.exit_code == 0
    for command in ("run", "create-user", "set-password", "list-users", "migrate", "check-config"):
        assert command in result.output
    assert CliRunner().invoke(root, ["server", "run", "--help"]).exit_code == 0


def test_create_user_then_log_in_with_it(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALLWATCH_DATABASE_URL", sqlite_url)
    runner = CliRunner()
    result = runner.invoke(
        root,
        ["server", "create-user", "olga", "--role", "ops", "--password-stdin"],
        input="a-good-password\n",
    )
    assert result.exit_code == 0, result.output
    again = runner.invoke(
        root,
        ["server", "create-user", "olga", "--role", "ops", "--password-stdin"],
        input="a-good-password\n",
    )
    assert again.exit_code == 1 and "exists already" in again.output
    short = runner.invoke(
        root, ["server", "create-user", "pia", "--role", "guide", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 1 and "invalid user" in short.output
    listed = runner.invoke(root, ["server", "list-users"])
    assert "olga" in listed.output and "ops" in listed.output
    changed = runner.invoke(
        root, ["server", "set-password", "olga", "--password-stdin"], input="another-good-one\n"
    )
    assert changed.exit_code == 0

    from server.auth.passwords import verify_password
    from server.store import open_store

    store = open_store(sqlite_url)
    user = store.users.by_name("olga")
    assert user is not None and verify_password(user.password_hash, "another-good-one")
    store.close()


def test_check_config_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(root, ["server", "check-config"])
    assert result.exit_code == 1 and "HALLWATCH_SECRET_KEY" in result.output
    assert "change-me" not in result.output.split("refusing")[0]  # the secret itself is masked
    monkeypatch.setenv("HALLWATCH_SECRET_KEY", "k7Kq2mWb9XpL4vNc8RtY3hJd6FsA1gEuZ0")
    assert CliRunner().invoke(root, ["server", "check-config"]).exit_code == 0


@pytest.mark.slow  # starts `hallwatch server run` as a process
def test_run_refuses_default_secrets_outside_demo(tmp_path: Path) -> None:
    env = clean_env()
    env["HALLWATCH_EMBEDDED_BROKER__PORT"] = str(free_port())
    result = subprocess.run(
        [HALLWATCH, "server", "run", "--database-url", f"sqlite:///{tmp_path / 'x.sqlite3'}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "HALLWATCH_SECRET_KEY" in result.stderr


@pytest.mark.timeout(90)
@pytest.mark.slow
@pytest.mark.services  # a server process with its embedded broker
def test_run_in_demo_mode_with_the_embedded_broker(tmp_path: Path) -> None:
    """The real thing: `hallwatch server run --demo`, MQTT 3.1.1 into the embedded broker, alerts out."""
    http_port, mqtt_port = free_port(), free_port()
    env = clean_env()
    env |= {"HALLWATCH_EMBEDDED_BROKER__PORT": str(mqtt_port), "HALLWATCH_ALERTS__WINDOW__TRIGGER_S": "0"}
    process = subprocess.Popen(
        [
            HALLWATCH,
            "server",
            "run",
            "--demo",
            "--port",
            str(http_port),
            "--database-url",
            f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        wait_until(
            lambda: (
                isinstance(health := _get(f"{base}/healthz"), dict)
                and (health["status"], health["database"], health["mqtt_connected"]) == ("ok", True, True)
            ),
            40,
        )
        site = unique("demo")
        node = Node(site)
        pub = Publisher(port=mqtt_port, protocol=mqtt.MQTTv311)
        pub.send(node.layout(), retain=False)
        time.sleep(0.5)
        pub.send(node.state({"w1": 4}), qos=1)
        pub.close()
        token = httpx.post(
            f"{base}/api/v1/auth/login", json={"username": "guide", "password": "guide"}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        alerts = wait_until(
            lambda: httpx.get(f"{base}/api/v1/alerts", params={"site": site}, headers=headers).json()[
                "items"
            ],
            20,
        )
        assert alerts[0]["rule"] == "window_over_limit" and alerts[0]["value"] == 4
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "embedded MQTT broker stopped" in output


def _get(url: str) -> object:
    try:
        return httpx.get(url, timeout=2).json()
    except httpx.HTTPError:
        return None


def test_create_user_with_sites(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALLWATCH_DATABASE_URL", sqlite_url)
    runner = CliRunner()
    args = ["server", "create-user", "gina", "--role", "guide", "--site", "hall-b", "--site", "hall-a"]
    result = runner.invoke(root, [*args, "--password-stdin"], input="a-good-password\n")
    assert result.exit_code == 0, result.output
    assert "on hall-b, hall-a" in result.output
    bad = runner.invoke(
        root,
        ["server", "create-user", "hugo", "--role", "guide", "--site", "../x", "--password-stdin"],
        input="a-good-password\n",
    )
    assert bad.exit_code == 1 and "invalid user" in bad.output
    listed = runner.invoke(root, ["server", "list-users"])
    assert "hall-a,hall-b" in listed.output

    from server.store import open_store

    store = open_store(sqlite_url)
    try:
        gina = store.users.by_name("gina")
        assert gina is not None and gina.sites == ["hall-a", "hall-b"]
        assert store.users.by_name("hugo") is None
    finally:
        store.close()
