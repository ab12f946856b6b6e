"""An edge node's configuration file: the hall (vision.config) plus the node, its broker and outbox.

`load_config` is the one place a YAML file becomes a validated config; a mistake comes back as a
`ConfigError` whose text names the field path and the reason, ready to show an operator.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from vision.config import HallConfig, Identifier


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsConfig(_Strict):
    """TLS to the broker: the CA that signed its certificate, and optionally this node's own."""

    ca_file: Path | None = Field(default=None, description="CA bundle that signed the broker's certificate")
    cert_file: Path | None = Field(default=None, description="client certificate (mutual TLS)")
    key_file: Path | None = Field(default=None, description="client certificate's private key")
    insecure: bool = Field(default=False, description="skip hostname checks (testing only)")

    @model_validator(mode="after")
    def _cert_and_key(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: give both or neither")
        return self


class MqttConfig(_Strict):
    """The broker this node publishes to, and how it logs in."""

    host: str = Field(default="127.0.0.1", min_length=1, description="broker host name or address")
    port: int = Field(default=1883, ge=1, le=65535, description="broker port (8883 is usual for TLS)")
    protocol: Literal["5", "3.1.1"] = Field(default="5", description="MQTT protocol version")
    username: str | None = Field(default=None, description="broker user; usually the node id")
    password: SecretStr | None = Field(
        default=None, description="broker password; prefer password_env so it stays out of the file"
    )
    password_env: str | None = Field(
        default=None, description="name of the environment variable that holds the password"
    )
    tls: TlsConfig | None = Field(default=None, description="TLS settings; absent means plain TCP")
    keepalive_s: int = Field(
        default=30,
        ge=5,
        le=3600,
        description="MQTT keep-alive: the broker fires the last will after 1.5x this",
    )
    reconnect_min_s: float = Field(
        default=1.0, ge=0.1, le=60.0, description="first wait before reconnecting to the broker"
    )
    reconnect_max_s: float = Field(
        default=60.0, ge=1.0, le=3600.0, description="longest wait between reconnection attempts"
    )
    publish_positions: bool = Field(default=False, description="publish anonymous floor positions")

    @model_validator(mode="after")
    def _reconnect_range(self) -> MqttConfig:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not be larger than reconnect_max_s")
        return self

    def resolved_password(self) -> str | None:
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ConfigError(f"mqtt.password_env: environment variable {self.password_env} is not set")
            return value
        return None


class OutboxConfig(_Strict):
    """The SQLite file where events wait until they are safe: stored by the server, or with the broker."""

    path: Path = Field(default=Path("var/outbox.sqlite"), description="SQLite file that holds unsent events")
    max_events: int = Field(default=100_000, ge=10, le=10_000_000, description="oldest dropped beyond this")
    confirm: Literal["broker", "server"] = Field(
        default="broker",
        description="when an event leaves the outbox: 'broker' on its PUBACK; 'server' once the server says "
        "it stored it (nodes/{node}/stored), so that a broker crash, a lost broker disk or a failover loses "
        "nothing (needs a server of this version or later)",
    )
    resend_after_s: float = Field(
        default=300.0,
        ge=1.0,
        le=86400.0,
        description="with confirm 'server': an event the broker took but the server has not confirmed is "
        "sent again after this long (then twice as long, up to an hour), and at once after each reconnection",
    )


class NodeSettings(_Strict):
    """The edge node itself: its name and how often it reports."""

    id: Identifier = Field(description="the node's name; also its MQTT client id and user name")
    health_interval_s: float = Field(
        default=10.0, ge=1.0, le=3600.0, description="seconds between two health messages"
    )
    state_interval_s: float = Field(
        default=1.0, ge=0.1, le=60.0, description="camera state at least this often"
    )
    camera_timeout_s: float = Field(
        default=5.0, ge=0.5, le=60.0, description="no frame for this long: the camera is lost"
    )
    camera_retry_max_s: float = Field(
        default=30.0, ge=0.5, le=3600.0, description="longest wait between attempts to reopen a lost camera"
    )
    frames_in_flight: int = Field(
        default=3,
        ge=1,
        le=8,
        description="frames of one camera in the detector at once (OpenVINO): more than one lets a camera's "
        "next frames be detected while its last one is tracked and published, and with one more than the "
        "CPU's inference streams (2 on two cores) a stream never waits for the camera; only frames already "
        "waiting are taken early, so a camera at its configured rate gains no latency",
    )
    fps_budget: float | None = Field(
        default=None,
        gt=0.0,
        le=1000.0,
        description="frames per second the node can process, all cameras together: when the rates its "
        "adaptive cameras need add up to more, each keeps its min_fps and the rest goes to the cameras "
        "that need it most (where crowds form); fixed-rate cameras keep their fps. Unset: no limit",
    )


FusionMode = Literal["camera", "node", "server"]
#: The camera id the server's fused floor goes by; no camera may take it.
RESERVED_CAMERA_IDS = frozenset({"fused"})


class FusionConfig(_Strict):
    """How the node's cameras are counted: each on its own, or fused into one floor."""

    mode: Literal["auto", "camera", "node", "server"] = Field(
        default="auto",
        description="camera: each camera counts its own zones (one camera per hall); node: this node fuses "
        "its cameras into one floor and publishes the floor's counts and events (a hall whose cameras are "
        "all on this node); server: the hall's cameras span several nodes, so this node publishes each "
        "camera's floor positions (whatever mqtt.publish_positions says) and the server fuses them; auto: "
        "node with two or more cameras, camera with one",
    )
    max_lag_s: float = Field(
        default=0.5,
        ge=0.05,
        le=5.0,
        description="a camera whose latest frame is this much older than the fusion step's is left out of it",
    )
    max_wait_s: float = Field(
        default=0.3,
        ge=0.0,
        le=5.0,
        description="a fusion step waits at most this long for the other cameras' frames of its moment",
    )

    def resolved(self, cameras: int) -> FusionMode:
        """The mode in effect for a node with `cameras` cameras."""
        if self.mode == "auto":
            return "node" if cameras >= 2 else "camera"
        return self.mode


class NodeConfig(HallConfig):
    """A whole node file. `node`, `mqtt` and `outbox` are optional so that replay can read a hall file."""

    node: NodeSettings = Field(default_factory=lambda: NodeSettings(id="edge-1"))
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    fusion: FusionConfig = Field(
        default_factory=FusionConfig, description="fusing the node's cameras into one floor"
    )

    @model_validator(mode="after")
    def _adaptive_rates_outpace_the_timeout(self) -> NodeConfig:
        for i, cam in enumerate(self.cameras):
            rate = cam.adaptive_fps
            if rate is not None and rate.min_fps * self.node.camera_timeout_s < 2.0:
                raise ValueError(
                    f"cameras[{i}].adaptive_fps.min_fps: {rate.min_fps:g} frames/s gives fewer than 2 frames "
                    f"within node.camera_timeout_s ({self.node.camera_timeout_s:g} s), so the camera would "
                    "look lost; raise min_fps or the timeout"
                )
        return self

    @model_validator(mode="after")
    def _reserved_camera_ids(self) -> NodeConfig:
        for i, cam in enumerate(self.cameras):
            if cam.id in RESERVED_CAMERA_IDS:
                raise ValueError(f"cameras[{i}].id: {cam.id!r} is reserved for the server's fused floor")
        return self

    @property
    def fusion_mode(self) -> FusionMode:
        return self.fusion.resolved(len(self.cameras))


class ConfigError(Exception):
    """A configuration mistake, worded for the person who wrote the file."""


def load_config(path: Path | str) -> NodeConfig:
    """Read and validate a node or hall YAML file.

    Raises:
        ConfigError: the file is missing, unreadable, not YAML, or fails validation; the message
            lists each bad field as `path.to.field: reason`.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    return parse_config(data, source=str(path))


def parse_config(data: Any, source: str = "config") -> NodeConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return NodeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid configuration\n{format_validation_error(exc)}") from None


def format_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = _field_path(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling; see the configuration reference)"
        lines.append(f"  {loc or '(top level)'}: {msg}")
    return "\n".join(lines)


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    previous: int | str | None = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(previous, int) and part in {"window", "queue", "hall", "entrance"}:
            pass  # pydantic's discriminator tag adds nothing for the reader
        else:
            out += f".{part}" if out else str(part)
        previous = part
    return out
