"""Broker credentials for a site, from the nodes' config files: mosquitto's password file and ACL,
or the users and permissions of a NATS cluster (deploy/nats).

Each node logs in as its `mqtt.username` (default: its node id) and may publish only on its own
topics: `nodes/{node}/status|health|layout|snapshot|floor|floor_events|floor_positions` and
`cameras/{camera}/#` for its own cameras,
and read only its own `nodes/{node}/config`, `nodes/{node}/snapshot_request` and
`nodes/{node}/stored`. The server user reads everything under `hallwatch/` and writes the nodes'
config, snapshot request and storage confirmation topics.

For mosquitto, passwords are hashed the way `mosquitto_passwd` (2.x) does by default:
PBKDF2-HMAC-SHA512 with a 12-byte random salt, written as
`user:$7$<iterations>$<base64 salt>$<base64 hash>`. NATS takes bcrypt hashes, and the same rules
as subject permissions: an MQTT topic's levels become a subject's tokens (`+` is `*`, `#` is `>`,
and ids with a `.` cannot be used: NATS 2.9's MQTT listener refuses such topics), and every MQTT user may
also subscribe to `$MQTT.sub.>`, the subjects through which NATS delivers QoS 1 subscriptions (the
topic itself is still checked against the user's own permissions).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge.config import NodeConfig
from hallwatch.contract import TOPIC_ROOT

PBKDF2_ITERATIONS = 101  # mosquitto_passwd's own default; the broker hashes every login with it
SALT_BYTES = 12
#: What the server sends to a node (and only that node reads).
TO_NODES = ("config", "snapshot_request", "stored")
BCRYPT_COST = 11  # NATS checks the hash at every login (and reconnect): about 0.1 s of one core


class CredentialsError(Exception):
    """Node configs that cannot share one broker (a user or camera claimed twice)."""


def hash_password(password: str, *, iterations: int = PBKDF2_ITERATIONS, salt: bytes | None = None) -> str:
    """A mosquitto 2.x password hash (`$7$...`, PBKDF2-SHA512).

    >>> hash_password("secret", salt=bytes(12)).startswith("$7$101$AAAAAAAAAAAAAAAA$")
    True
    """
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    """Check a password against a `$7$` (PBKDF2-SHA512) mosquitto hash."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    iterations, salt = int(parts[2]), base64.b64decode(parts[3])
    return secrets.compare_digest(hash_password(password, iterations=iterations, salt=salt), hashed)


def new_password() -> str:
    """A random password (32 URL-safe characters, about 190 bits)."""
    return secrets.token_urlsafe(24)


@dataclass(frozen=True, slots=True)
class NodeAccess:
    """What one node may do on the broker."""

    user: str
    site: str
    node: str
    cameras: tuple[str, ...]
    password_env: str | None = None

    @classmethod
    def from_config(cls, config: NodeConfig) -> NodeAccess:
        return cls(
            user=config.mqtt.username or config.node.id,
            site=config.site,
            node=config.node.id,
            cameras=tuple(c.id for c in config.cameras),
            password_env=config.mqtt.password_env,
        )


def _servers(server_user: str | Sequence[str]) -> tuple[str, ...]:
    return (server_user,) if isinstance(server_user, str) else tuple(server_user)


def check_nodes(nodes: list[NodeAccess], server_user: str | Sequence[str]) -> None:
    """Refuse a set of nodes that would share a user, a node id or a camera id on one site.

    Raises:
        CredentialsError: naming the clash.
    """
    servers = _servers(server_user)
    users: dict[str, str] = {}
    node_ids: dict[tuple[str, str], str] = {}
    cameras: dict[tuple[str, str], str] = {}
    for n in nodes:
        if n.user in servers:
            raise CredentialsError(f"node {n.node} uses the server's user name {n.user!r}")
        if n.user in users:
            raise CredentialsError(f"nodes {users[n.user]} and {n.node} both log in as {n.user!r}")
        users[n.user] = n.node
        if (n.site, n.node) in node_ids:
            raise CredentialsError(f"node id {n.node!r} appears twice on site {n.site}")
        node_ids[(n.site, n.node)] = n.node
        for cam in n.cameras:
            if (n.site, cam) in cameras:
                raise CredentialsError(
                    f"camera {cam!r} of site {n.site} is on both {cameras[(n.site, cam)]} and {n.node}; "
                    "camera ids must be unique within a site"
                )
            cameras[(n.site, cam)] = n.node


@dataclass(frozen=True, slots=True)
class TopicRules:
    """What one broker user may do: topic filters it may publish on (write) and read."""

    user: str
    write: tuple[str, ...]
    read: tuple[str, ...]


def access_rules(nodes: list[NodeAccess], server_user: str | Sequence[str]) -> list[TopicRules]:
    """Every user's rules, nodes first (by site and node), then the server's users.

    Raises:
        CredentialsError: two nodes clash (see `check_nodes`).
    """
    check_nodes(nodes, server_user)
    rules: list[TopicRules] = []
    for n in sorted(nodes, key=lambda n: (n.site, n.node)):
        base = f"{TOPIC_ROOT}/{n.site}"
        kinds = ("status", "health", "layout", "snapshot", "floor", "floor_events", "floor_positions")
        write = [f"{base}/nodes/{n.node}/{kind}" for kind in kinds]
        write += [f"{base}/cameras/{cam}/+" for cam in n.cameras]
        read = [f"{base}/nodes/{n.node}/{kind}" for kind in ("config", "snapshot_request", "stored")]
        rules.append(TopicRules(n.user, tuple(write), tuple(read)))
    server_write = tuple(
        f"{TOPIC_ROOT}/+/nodes/+/{kind}" for kind in ("config", "snapshot_request", "stored")
    )
    rules += [TopicRules(server, server_write, (f"{TOPIC_ROOT}/#",)) for server in _servers(server_user)]
    return rules


def acl_text(
    nodes: list[NodeAccess], server_user: str | Sequence[str], *, now: datetime | None = None
) -> str:
    """A mosquitto `acl_file` for these nodes and the server (one user per server replica).

    >>> print(acl_text([NodeAccess("edge-1", "hall", "edge-1", ("cam-1",))], "server").split("\\n")[3])
    user edge-1
    """
    rules = access_rules(nodes, server_user)
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# hallwatch broker ACL, written by `hallwatch edge credentials` on {stamp}.",
        "# Each node publishes only on its own node and camera topics; the server reads all.",
        "",
    ]
    for rule in rules:
        lines.append(f"user {rule.user}")
        lines += [f"topic write {topic}" for topic in rule.write]
        lines += [f"topic read {topic}" for topic in rule.read]
        lines.append("")
    return "\n".join(lines)


def nats_subject(topic: str) -> str:
    """The NATS subject NATS's MQTT listener uses for an MQTT topic filter.

    >>> nats_subject("hallwatch/hall-a/cameras/+/#")
    'hallwatch.hall-a.cameras.*.>'

    Raises:
        CredentialsError: a level holds a dot (NATS 2.9 refuses such MQTT topics).
    """
    levels = topic.split("/")
    dotted = [level for level in levels if "." in level]
    if dotted:
        raise CredentialsError(
            f"{dotted[0]!r} in {topic}: NATS's MQTT listener (2.9) refuses topics with a '.'; "
            "rename the site, node or camera without dots to use NATS"
        )
    return ".".join({"+": "*", "#": ">"}.get(level, level) for level in levels)


def _nats_subjects(topics: Sequence[str]) -> list[str]:
    subjects: list[str] = []
    for topic in topics:
        subject = nats_subject(topic)
        subjects.append(subject)
        if subject.endswith(".>"):  # MQTT's "a/#" matches "a" itself too: NATS subscribes to both
            subjects.append(subject.removesuffix(".>"))
    return subjects


def check_nats_names(nodes: list[NodeAccess], server_user: str | Sequence[str]) -> None:
    """Refuse nodes whose topics NATS cannot take (see `nats_subject`), or that clash.

    Raises:
        CredentialsError: naming the first such id.
    """
    for rule in access_rules(nodes, server_user):
        _nats_subjects([*rule.write, *rule.read])


def bcrypt_hash(password: str) -> str:
    """A bcrypt hash of the password, as NATS's `password` takes it."""
    import bcrypt  # only `edge credentials --broker nats` needs it

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_COST)).decode()


def nats_users_text(
    nodes: list[NodeAccess],
    server_user: str | Sequence[str],
    hashes: dict[str, str],
    *,
    now: datetime | None = None,
) -> str:
    """The `authorization` block of a NATS server for these nodes and the server's users, with
    each user's bcrypt hash from ``hashes``.

    Raises:
        CredentialsError: two nodes clash, or a user has no hash.
    """
    rules = access_rules(nodes, server_user)
    missing = [rule.user for rule in rules if rule.user not in hashes]
    if missing:
        raise CredentialsError(f"no password hash for {', '.join(missing)}")
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# hallwatch users and permissions for NATS, written by `hallwatch edge credentials` on {stamp}.",
        "# Each node publishes only on its own node and camera topics; the server reads all.",
        "authorization {",
        "  users = [",
    ]
    for rule in rules:
        publish = _nats_subjects(rule.write)
        subscribe = [*_nats_subjects(rule.read), "$MQTT.sub.>"]
        # JSON strings are NATS config strings; quoted, a "$" is text, never a variable.
        # MQTT only: with a plain NATS connection the same login could read `$MQTT.sub.>`, the
        # deliveries of every MQTT subscription.
        lines += [
            f"    {{user: {json.dumps(rule.user)}, password: {json.dumps(hashes[rule.user])},",
            '     allowed_connection_types: ["MQTT"],',
            f"     permissions: {{publish: {{allow: {json.dumps(publish)}}},",
            f"                   subscribe: {{allow: {json.dumps(subscribe)}}}}}}}",
        ]
    lines += ["  ]", "}", ""]
    return "\n".join(lines)


def read_password_file(path: Path) -> dict[str, str]:
    """user -> hash from a mosquitto password file (empty if there is none)."""
    if not path.exists():
        return {}
    entries: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#") and ":" in line:
            user, _, hashed = line.partition(":")
            entries[user] = hashed
    return entries


def password_file_text(entries: dict[str, str]) -> str:
    return "".join(f"{user}:{hashed}\n" for user, hashed in sorted(entries.items()))
