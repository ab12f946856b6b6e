"""Settings: environment, files, refusals with clear messages, placeholder secrets outside demo."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import Settings, SettingsError, load_settings

GOOD_SECRET = "s7Kq2mWb9XpL4vNc8RtY3hJd6FsA1gEuZ0"


def test_defaults_are_an_embedded_broker_and_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HALLWATCH_SETTINGS_FILE", raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite:///var/hallwatch.sqlite3"
    assert settings.uses_embedded_broker and settings.broker().protocol == "3.1.1"
    assert settings.broker().shared_group is None
    assert settings.http.cors_origins == []


def test_environment_with_nested_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HALLWATCH_MQTT__URL", "mqtts://user:p%40ss@broker.lan")
    monkeypatch.setenv("HALLWATCH_ALERTS__WINDOW__TRIGGER_S", "4")
    monkeypatch.setenv("HALLWATCH_DATABASE_URL", "postgresql://hw@db/hallwatch")
    settings = load_settings()
    broker = settings.broker()
    assert (broker.host, broker.port, broker.tls, broker.username, broker.password) == (
        "broker.lan",
        8883,
        True,
        "user",
        "p@ss",
    )
    assert broker.shared_group == "hallwatch-server" and broker.protocol == "5"
    assert settings.alerts.window.trigger_s == 4.0
    assert settings.database_url == "postgresql+psycopg://hw@db/hallwatch"


@pytest.mark.parametrize("suffix", [".yaml", ".toml"])
def test_a_settings_file_and_the_environment_winning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    path = tmp_path / f"server{suffix}"
    if suffix == ".yaml":
        path.write_text(
            "timezone: Europe/Vienna\nalerts:\n  zones:\n    w3: {limit: 4}\nhttp:\n  port: 9000\n"
        )
    else:
        path.write_text('timezone = "Europe/Vienna"\n[alerts.zones.w3]\nlimit = 4\n[http]\nport = 9000\n')
    monkeypatch.setenv("HALLWATCH_HTTP__PORT", "9001")
    settings = load_settings(path)
    assert settings.timezone == "Europe/Vienna" and settings.http.port == 9001
    override = settings.alerts.override("any-site", "w3")
    assert override is not None and override.limit == 4


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HALLWATCH_HTTP__PORT": "0"}, "http.port"),
        ({"HALLWATCH_TIMEZONE": "Mars/Olympus"}, "unknown time zone"),
        ({"HALLWATCH_DATABASE_URL": "mysql://x"}, "database_url must start with"),
        ({"HALLWATCH_MQTT__URL": "http://broker"}, "mqtt.url must look like"),
        ({"HALLWATCH_ALERTS__HALL__CRITICAL_RATIO": "0.5"}, "critical_ratio must be at least"),
        ({"HALLWATCH_ALERTS__WINDOW__TRIGER_S": "3"}, "triger_s"),
        ({"HALLWATCH_MQTT__SPLIT": "site"}, "mqtt.split: site needs live.redis_url"),
        ({"HALLWATCH_MQTT__SPLIT": "camera"}, "mqtt.split"),
    ],
)
def test_bad_settings_name_the_field(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()


def test_unknown_keys_in_a_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("alerts:\n  windw: {trigger_s: 3}\n")
    with pytest.raises(SettingsError, match="alerts.windw"):
        load_settings(path)


def test_placeholder_secrets_are_refused_outside_demo_mode() -> None:
    with pytest.raises(SettingsError, match="HALLWATCH_SECRET_KEY") as info:
        Settings().check_secrets()
    assert "secrets.token_urlsafe" in str(info.value) and "HALLWATCH_DEMO" in str(info.value)
    with pytest.raises(SettingsError, match="HALLWATCH_SECRET_KEY"):
        Settings(secret_key="short").check_secrets()  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="MQTT password"):
        Settings(secret_key=GOOD_SECRET, mqtt={"url": "mqtt://h", "password": "changeme"}).check_secrets()  # type: ignore[arg-type]
    Settings(demo=True).check_secrets()
    Settings(secret_key=GOOD_SECRET).check_secrets()  # type: ignore[arg-type]


def test_the_app_refuses_to_start_with_default_secrets(sqlite_url: str) -> None:
    from server.runtime import build_server

    with pytest.raises(SettingsError):
        build_server(Settings(database_url=sqlite_url), with_ingest=False)


def test_secrets_do_not_show_in_repr() -> None:
    settings = Settings(secret_key=GOOD_SECRET, mqtt={"url": "mqtt://u:topsecret@h"})  # type: ignore[arg-type]
    assert GOOD_SECRET not in repr(settings)
    assert "topsecret" not in repr(settings.broker())


def test_the_shared_subscription_gets_a_connection_of_its_own_only_when_asked() -> None:
    url = "mqtt://server-a:secret-a@broker.lan:1883"
    assert Settings(mqtt={"url": url}).shared_broker() is None  # type: ignore[arg-type]
    own = Settings(mqtt={"url": url, "shared_connection": True}).shared_broker()  # type: ignore[arg-type]
    assert own is not None and (own.username, own.password, own.shared_group) == (
        "server-a",
        "secret-a",
        "hallwatch-server",
    )
    # a broker that makes the user name the client id needs a second user for it
    second = Settings(
        mqtt={  # type: ignore[arg-type]
            "url": url,
            "shared_connection": True,
            "shared_username": "server-a-shared",
            "shared_password": "secret-b",
        }
    ).shared_broker()
    assert second is not None and (second.username, second.password) == ("server-a-shared", "secret-b")
    # no shared subscription (MQTT 3.1.1, or no group): nothing to split, one connection
    plain = {"url": url, "shared_connection": True}
    assert Settings(mqtt=plain | {"protocol": "3.1.1"}).shared_broker() is None  # type: ignore[arg-type]
    assert Settings(mqtt=plain | {"shared_group": None}).shared_broker() is None  # type: ignore[arg-type]


def test_replicas_that_split_by_site_subscribe_plainly() -> None:
    live = {"redis_url": "redis://127.0.0.1:6379/0"}
    by_site = Settings(mqtt={"url": "mqtt://broker.lan", "split": "site"}, live=live)  # type: ignore[arg-type]
    assert by_site.broker().shared_group is None and by_site.shared_broker() is None
    with pytest.raises(ValueError, match="shared_connection is for the shared subscription"):
        Settings(
            mqtt={"url": "mqtt://broker.lan", "split": "site", "shared_connection": True},  # type: ignore[arg-type]
            live=live,  # type: ignore[arg-type]
        )
