"""The server's settings: environment variables (``HALLWATCH_...``), an optional YAML/TOML file, defaults.

Nested fields use ``__`` in the environment: ``HALLWATCH_MQTT__URL=mqtt://broker:1883``,
``HALLWATCH_ALERTS__WINDOW__TRIGGER_S=5``. Precedence: arguments > environment > file > defaults.

Every model refuses unknown keys, so a typo fails at start with the field's path. Secrets that are
still placeholders are refused outside demo mode by `Settings.check_secrets`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)

from hallwatch.contract import Name

PLACEHOLDER_SECRET = "change-me-demo-only-this-is-not-a-secret"  # refused outside demo mode
_PLACEHOLDERS = frozenset({PLACEHOLDER_SECRET, "change-me", "changeme", "secret", "password", ""})
MIN_SECRET_LENGTH = 32
MIN_SECRET_DISTINCT = 12  # secrets.token_urlsafe(32) has about 30 different characters
SETTINGS_FILE_ENV = "HALLWATCH_SETTINGS_FILE"


class SettingsError(ValueError):
    """Settings that cannot be used; the text tells the operator what to change."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpSettings(_Strict):
    host: str = Field(default="127.0.0.1", min_length=1, description="address the API listens on")
    port: int = Field(default=8000, ge=1, le=65535, description="port the API listens on")
    cors_origins: list[str] = Field(
        default_factory=list,
        description="origins allowed to call the API from a browser; empty (the default) allows none",
    )
    cookie_secure: bool | None = Field(
        default=None,
        description="mark the session cookie Secure (HTTPS only); default: on, except in demo mode",
    )
    token_ttl_s: int = Field(default=12 * 3600, ge=60, le=30 * 86400, description="lifetime of a login")
    forwarded_allow_ips: str | None = Field(
        default=None, description="reverse proxies whose X-Forwarded-For is trusted (uvicorn's setting)"
    )
    login_max_failures: int = Field(default=5, ge=1, le=1000, description="failed logins allowed per window")
    login_window_s: float = Field(default=300.0, ge=1.0, le=86400.0, description="login rate-limit window")
    metrics_token: SecretStr | None = Field(
        default=None, description="bearer token Prometheus sends to /metrics (ops users may always read it)"
    )


class MqttSettings(_Strict):
    url: str | None = Field(
        default=None,
        description="mqtt://[user[:password]@]host[:port] or mqtts://...; unset runs the embedded broker",
    )
    username: str | None = Field(default=None, description="broker user (overrides the one in the URL)")
    password: SecretStr | None = Field(default=None, description="broker password (overrides the URL's)")
    ca_file: Path | None = Field(
        default=None, description="CA bundle for mqtts:// (default: the system's CAs)"
    )
    cert_file: Path | None = Field(
        default=None, description="client certificate for mqtts:// brokers that require one (mutual TLS)"
    )
    key_file: Path | None = Field(default=None, description="the client certificate's private key")
    protocol: Literal["5", "3.1.1"] = Field(
        default="5", description="MQTT version; shared subscriptions need 5 (the embedded broker uses 3.1.1)"
    )
    client_id: str = Field(
        default_factory=lambda: f"hallwatch-server-{os.uname().nodename}"[:64],
        min_length=1,
        max_length=64,
        description="must differ between replicas; stable across restarts so queued events are kept",
    )
    shared_group: Name | None = Field(
        default="hallwatch-server",
        description="shared-subscription group that splits camera state and positions between replicas; "
        "None subscribes plainly",
    )
    split: Literal["shared", "site"] = Field(
        default="shared",
        description="how replicas split camera states and positions: `shared`, message by message through "
        "the shared subscription (MQTT 5 brokers); `site`, each site to one replica alive (through "
        "live.redis_url), for brokers without shared subscriptions (NATS, RabbitMQ before 3.13) or to keep "
        "a site's cameras in one replica",
    )
    shared_connection: bool = Field(
        default=False,
        description="replicas: take the shared subscription (camera states and positions) on a second "
        "connection without a session, so that a replica that dies stops getting its share at once; with "
        "the broker's use_username_as_clientid give it a broker user of its own (shared_username)",
    )
    shared_username: str | None = Field(
        default=None, description="broker user of the shared connection (default: `username`)"
    )
    shared_password: SecretStr | None = Field(default=None, description="its password (default: `password`)")
    sites: list[Annotated[str, Field(pattern=r"^(\+|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$")]] = Field(
        default_factory=lambda: ["+"], min_length=1, description="sites to subscribe to; '+' means all"
    )
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    session_expiry_s: int = Field(
        default=3600, ge=0, le=7 * 86400, description="how long the broker keeps events for a stopped server"
    )

    @model_validator(mode="after")
    def _tls_files(self) -> MqttSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: give both or neither")
        given = [n for n in ("ca_file", "cert_file", "key_file") if getattr(self, n) is not None]
        if given and not (self.url or "").startswith("mqtts://"):
            raise ValueError(f"{', '.join(given)} need a TLS broker: url: mqtts://...")
        return self


class EmbeddedBrokerSettings(_Strict):
    host: str = Field(default="127.0.0.1", description="address the embedded broker listens on")
    port: int = Field(default=1883, ge=1, le=65535, description="port the embedded broker listens on")


class IngestSettings(_Strict):
    queue_size: int = Field(
        default=50_000, ge=100, le=10_000_000, description="messages waiting to be stored"
    )
    batch_size: int = Field(default=5_000, ge=1, le=100_000, description="most messages handled per batch")
    flush_interval_s: float = Field(
        default=2.0, gt=0.0, le=60.0, description="occupancy aggregates are written at least this often"
    )
    dedupe_window: int = Field(default=200_000, ge=100, le=10_000_000, description="event ids remembered")
    max_state_gap_s: float = Field(
        default=5.0, gt=0.0, le=600.0, description="a camera state counts for at most this long in the means"
    )
    tick_s: float = Field(default=0.2, gt=0.0, le=10.0, description="how often alert timers are checked")
    alert_sync_s: float = Field(default=2.0, gt=0.0, le=600.0, description="alerts re-read from the database")
    positions_interval_s: float = Field(
        default=0.5, ge=0.0, le=60.0, description="live positions are pushed at most this often per camera"
    )
    heatmap_cell_m: float = Field(default=0.5, gt=0.0, le=10.0, description="heatmap cell size in metres")
    clock_window_s: float = Field(
        default=86_400.0,
        ge=60.0,
        le=30 * 86_400.0,
        description="a payload's time may be this far from the server's clock, ahead or behind",
    )
    replay_window_s: float = Field(
        default=30 * 86_400.0,
        ge=60.0,
        le=400 * 86_400.0,
        description="events, statuses and layouts may be this old (a node's outbox replays late)",
    )
    accept_new_nodes: bool | None = Field(
        default=None,
        description="store nodes the server has not seen before at once; off: they wait for ops to "
        "accept them on the nodes page. Unset: on in demo mode, off otherwise",
    )
    max_lag_s: float = Field(
        default=60.0,
        gt=0.0,
        le=86_400.0,
        description="/healthz says degraded when a received message waits longer than this to be stored",
    )
    fusion_max_lag_s: float = Field(
        default=0.5,
        ge=0.05,
        le=10.0,
        description="a floor the server fuses (nodes with fusion: server) leaves out a camera whose latest "
        "positions are this much older than the step's (frame times)",
    )
    fusion_max_wait_s: float = Field(
        default=0.5,
        ge=0.0,
        le=10.0,
        description="a step of a floor the server fuses waits at most this long for the other cameras' "
        "positions of its moment",
    )


class RetentionSettings(_Strict):
    minute_days: int = Field(default=14, ge=1, le=3650, description="per-minute occupancy kept this long")
    hour_days: int = Field(default=400, ge=1, le=36500, description="hourly occupancy and heatmap")
    day_days: int = Field(default=3650, ge=1, le=36500, description="daily occupancy")
    event_days: int = Field(default=90, ge=1, le=36500, description="camera events")
    alert_days: int = Field(default=365, ge=1, le=36500, description="resolved alerts")
    prune_interval_s: float = Field(default=3600.0, ge=10.0, le=86400.0)


# Alerts about people stay open until the condition has been gone for 30 s: a guide on foot needs
# that long to reach a window, and a count that dips for a few seconds is the same crowd (issue 13).
HOLD_S = 30.0


class HysteresisRule(_Strict):
    enabled: bool = True
    trigger_s: float = Field(ge=0.0, le=86400.0, description="the condition must hold this long to alert")
    clear_s: float = Field(ge=0.0, le=86400.0, description="...and be gone this long to resolve")
    severity: Literal["info", "warning", "critical"] = "warning"


class HallRule(_Strict):
    enabled: bool = True
    warning_ratio: float = Field(default=0.8, gt=0.0, le=10.0, description="share of capacity: warning")
    critical_ratio: float = Field(default=1.0, gt=0.0, le=10.0, description="share of capacity: critical")
    trigger_s: float = Field(default=10.0, ge=0.0, le=86400.0)
    clear_s: float = Field(default=HOLD_S, ge=0.0, le=86400.0)

    @model_validator(mode="after")
    def _ordered(self) -> HallRule:
        if self.critical_ratio < self.warning_ratio:
            raise ValueError("critical_ratio must be at least warning_ratio")
        return self


class RepeatedSpacingRule(_Strict):
    enabled: bool = True
    count: int = Field(default=3, ge=2, le=1000, description="violations at one window...")
    within_s: float = Field(default=600.0, gt=0.0, le=86400.0, description="...within this many seconds")
    severity: Literal["info", "warning", "critical"] = "warning"


class NodeOfflineRule(_Strict):
    enabled: bool = True
    silence_s: float = Field(default=30.0, gt=0.0, le=86400.0, description="no health for this long: offline")
    severity: Literal["info", "warning", "critical"] = "critical"


class ZoneOverride(_Strict):
    enabled: bool | None = None
    limit: int | None = Field(default=None, ge=0, le=100_000, description="replaces the layout's limit")
    trigger_s: float | None = Field(default=None, ge=0.0, le=86400.0)
    clear_s: float | None = Field(default=None, ge=0.0, le=86400.0)


class WindowRule(HysteresisRule):
    trigger_s: float = Field(default=10.0, ge=0.0, le=86400.0)
    clear_s: float = Field(
        default=HOLD_S,
        ge=0.0,
        le=86400.0,
        description="the window must be within its limit this long to resolve",
    )
    critical_ratio: float | None = Field(
        default=2.0,
        gt=1.0,
        le=100.0,
        description="a count at least this many times the limit is critical (none: never critical)",
    )


class QueueRule(HysteresisRule):
    trigger_s: float = Field(default=30.0, ge=0.0, le=86400.0)
    clear_s: float = Field(default=HOLD_S, ge=0.0, le=86400.0)
    critical_ratio: float | None = Field(
        default=2.0,
        gt=1.0,
        le=100.0,
        description="a queue at least this many times its limit is critical (none: never critical)",
    )


class SpacingRule(HysteresisRule):
    trigger_s: float = Field(default=5.0, ge=0.0, le=86400.0, description="a violation this long alerts")
    clear_s: float = Field(
        default=HOLD_S, ge=0.0, le=86400.0, description="no close pair there for this long resolves it"
    )


class CameraLostRule(HysteresisRule):
    trigger_s: float = Field(default=0.0, ge=0.0, le=86400.0)
    clear_s: float = Field(default=0.0, ge=0.0, le=86400.0)
    severity: Literal["info", "warning", "critical"] = "critical"


class AlertRules(_Strict):
    """Thresholds of the alert engine; `zones` overrides them per zone ("zone" or "site/zone")."""

    window: WindowRule = Field(default_factory=WindowRule, description="a window over max_people")
    queue: QueueRule = Field(default_factory=QueueRule, description="a queue longer than its limit")
    hall: HallRule = Field(default_factory=HallRule)
    spacing: SpacingRule = Field(default_factory=SpacingRule, description="people closer than the minimum")
    repeated_spacing: RepeatedSpacingRule = Field(default_factory=RepeatedSpacingRule)
    node_offline: NodeOfflineRule = Field(default_factory=NodeOfflineRule)
    camera_lost: CameraLostRule = Field(default_factory=CameraLostRule)
    cooldown_s: float = Field(
        default=300.0, ge=0.0, le=86400.0, description="a crowd back within this long reopens its alert"
    )
    escalate_after_s: float = Field(
        default=300.0,
        gt=0.0,
        le=86400.0,
        description="an open alert nobody took is escalated to the managers after this",
    )
    zone_stale_s: float = Field(
        default=15.0, gt=0.0, le=3600.0, description="a camera's zone count older than this is ignored"
    )
    zones: dict[str, ZoneOverride] = Field(default_factory=dict)

    def override(self, site: str, zone: str) -> ZoneOverride | None:
        return self.zones.get(f"{site}/{zone}") or self.zones.get(zone)


class AuditSettings(_Strict):
    """The live accuracy audit: guides' counts against the measured ones (issue 13)."""

    days: int = Field(
        default=7, ge=1, le=365, description="the running error covers this many days of checks"
    )
    recalibrate_mae: float = Field(
        default=0.5,
        ge=0.0,
        le=100.0,
        description="a zone whose mean absolute error (people) is above this needs recalibration",
    )
    min_checks: int = Field(
        default=3, ge=1, le=1000, description="checks a zone needs before it can be flagged"
    )


class WaitSettings(_Strict):
    """Waits in queues, measured per person by the nodes (`queue_left` events, issue 13)."""

    minutes: int = Field(
        default=15,
        ge=1,
        le=1440,
        description="the dashboard's median wait covers the waits that ended this recently",
    )
    min_waits: int = Field(
        default=3, ge=1, le=1000, description="fewer waits than this: not enough data for a median"
    )


class LiveSettings(_Strict):
    """The live stream across replicas (issue 16)."""

    redis_url: str | None = Field(
        default=None,
        description=(
            "redis://host:6379/0: replicas share camera states and live messages through it, so every "
            "replica's pages see every camera; unset: nothing is shared (one replica)"
        ),
    )
    channel: str = Field(
        default="hallwatch-live",
        min_length=1,
        max_length=200,
        description="Redis pub/sub channel, the same for every replica of one service",
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("live.redis_url must look like redis://host:6379/0 or rediss://...")
        return value


class Settings(BaseSettings):
    """Everything `hallwatch server run` needs."""

    model_config = SettingsConfigDict(
        env_prefix="HALLWATCH_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    demo: bool = Field(default=False, description="allow default secrets and create demo users")
    secret_key: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_SECRET),
        description=f"signs login tokens; at least {MIN_SECRET_LENGTH} random characters",
    )
    database_url: str = Field(
        default="sqlite:///var/hallwatch.sqlite3", description="sqlite:///path or postgresql+psycopg://..."
    )
    timezone: str = Field(default="UTC", description="the hall's time zone: days and 'today' follow it")
    http: HttpSettings = Field(default_factory=HttpSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    embedded_broker: EmbeddedBrokerSettings = Field(default_factory=EmbeddedBrokerSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    alerts: AlertRules = Field(default_factory=AlertRules)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    waits: WaitSettings = Field(default_factory=WaitSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Vienna") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError("database_url must start with sqlite:// or postgresql+psycopg://")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("mqtt")
    @classmethod
    def _known_scheme(cls, value: MqttSettings) -> MqttSettings:
        if value.url is not None:
            parts = urlsplit(value.url)
            if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
                raise ValueError("mqtt.url must look like mqtt://host:1883 or mqtts://host:8883")
        return value

    @model_validator(mode="after")
    def _split_by_site_needs_redis(self) -> Settings:
        if self.mqtt.split == "site" and self.live.redis_url is None:
            raise ValueError(
                "mqtt.split: site needs live.redis_url: the replicas find each other there "
                "(HALLWATCH_LIVE__REDIS_URL=redis://host:6379/0)"
            )
        if self.mqtt.split == "site" and self.mqtt.shared_connection:
            raise ValueError(
                "mqtt.shared_connection is for the shared subscription; with mqtt.split: site there is none"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get(SETTINGS_FILE_ENV)
        if path:
            sources.append(_file_source(settings_cls, Path(path)))
        return tuple(sources)

    @property
    def zoneinfo(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def cookie_secure(self) -> bool:
        return self.http.cookie_secure if self.http.cookie_secure is not None else not self.demo

    @property
    def uses_embedded_broker(self) -> bool:
        return self.mqtt.url is None

    def check_secrets(self) -> None:
        """Refuse placeholder secrets outside demo mode.

        Raises:
            SettingsError: naming the variable to set and how to make a good value.
        """
        if self.demo:
            return
        problems: list[str] = []
        key = self.secret_key.get_secret_value()
        # 32 x "a" is long but guessable: a random key of this length has many distinct characters.
        if key in _PLACEHOLDERS or len(key) < MIN_SECRET_LENGTH or len(set(key)) < MIN_SECRET_DISTINCT:
            problems.append(
                f"HALLWATCH_SECRET_KEY is unset, a placeholder, shorter than {MIN_SECRET_LENGTH} "
                f"characters or with fewer than {MIN_SECRET_DISTINCT} different ones; "
                "set it to a random value, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        broker = self.broker()
        if broker.password is not None and broker.password in _PLACEHOLDERS - {""}:
            problems.append(
                "the MQTT password is a placeholder; set HALLWATCH_MQTT__PASSWORD to the real one"
            )
        metrics = self.http.metrics_token
        if metrics is not None and metrics.get_secret_value() in _PLACEHOLDERS:
            problems.append("HALLWATCH_HTTP__METRICS_TOKEN is a placeholder; set a random value or unset it")
        if problems:
            raise SettingsError(
                "refusing to start with default secrets (set HALLWATCH_DEMO=true only for a demo):\n- "
                + "\n- ".join(problems)
            )

    def broker(self) -> BrokerAddress:
        """Where the server's MQTT client connects: the URL, or the embedded broker."""
        if self.mqtt.url is None:
            host = self.embedded_broker.host
            return BrokerAddress(
                host="127.0.0.1" if host in ("0.0.0.0", "::") else host,  # we connect here, not bind
                port=self.embedded_broker.port,
                tls=False,
                username=None,
                password=None,
                protocol="3.1.1",
                shared_group=None,
            )
        parts = urlsplit(self.mqtt.url)
        tls = parts.scheme == "mqtts"
        password = self.mqtt.password.get_secret_value() if self.mqtt.password else None
        return BrokerAddress(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (8883 if tls else 1883),
            tls=tls,
            username=self.mqtt.username or (unquote(parts.username) if parts.username else None),
            password=password
            if password is not None
            else (unquote(parts.password) if parts.password else None),
            protocol=self.mqtt.protocol,
            shared_group=self.mqtt.shared_group
            if self.mqtt.protocol == "5" and self.mqtt.split == "shared"
            else None,
        )

    def shared_broker(self) -> BrokerAddress | None:
        """Where the second connection, for the shared subscription alone, connects (None: there is
        none, the one connection takes everything)."""
        address = self.broker()
        if not self.mqtt.shared_connection or address.shared_group is None:
            return None
        password = self.mqtt.shared_password.get_secret_value() if self.mqtt.shared_password else None
        return address.model_copy(
            update={
                "username": self.mqtt.shared_username or address.username,
                "password": password if password is not None else address.password,
            }
        )


class BrokerAddress(_Strict):
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None = Field(repr=False)
    protocol: Literal["5", "3.1.1"]
    shared_group: str | None


def _file_source(settings_cls: type[BaseSettings], path: Path) -> PydanticBaseSettingsSource:
    if not path.is_file():
        raise SettingsError(f"{SETTINGS_FILE_ENV}={path}: no such file")
    if path.suffix in (".yaml", ".yml"):
        return YamlConfigSettingsSource(settings_cls, yaml_file=path)
    if path.suffix == ".toml":
        return TomlConfigSettingsSource(settings_cls, toml_file=path)
    raise SettingsError(f"{SETTINGS_FILE_ENV}={path}: use a .yaml, .yml or .toml file")


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the settings from the environment and, if given, a YAML/TOML file.

    Args:
        path: a settings file; overrides ``HALLWATCH_SETTINGS_FILE``.
        **overrides: field values that win over everything else.

    Raises:
        SettingsError: with every invalid field's path and the reason.
    """
    from pydantic import ValidationError

    previous = os.environ.get(SETTINGS_FILE_ENV)
    try:
        if path is not None:
            os.environ[SETTINGS_FILE_ENV] = str(path)
        return Settings(**overrides)
    except ValidationError as exc:
        lines = [
            f"- {'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
        ]
        raise SettingsError("invalid server settings:\n" + "\n".join(lines)) from None
    finally:
        if path is not None:
            if previous is None:
                os.environ.pop(SETTINGS_FILE_ENV, None)
            else:
                os.environ[SETTINGS_FILE_ENV] = previous
