"""Property tests of the contract's border (hypothesis): whatever arrives, `parse_payload` either
refuses it with a `PayloadError` or returns a message the contract accepts again, with nothing in
it that the contract forbids.

Payloads come from two places: the contract's own JSON schema (every field, any JSON value of the
schema's types, ignoring its bounds), and mutations of valid payloads (a value replaced by a hostile
one, a key dropped or added).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.contract import Node, topic_of

from hallwatch.contract import _PAYLOAD, MAX_ID, PayloadError, TimeWindow, parse_payload

NOW = datetime.now(UTC)
WINDOW = TimeWindow()
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
HOSTILE_STRINGS = [
    "",
    "\x00",
    "a\x1b[2J",
    "\u202eevil",
    "x" * 70,
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2026-02-30T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "NaN",
    "../../etc/passwd",
]
HOSTILE_NUMBERS: list[Any] = [
    -1,
    0,
    2**53 + 1,
    2**63,
    2**64,
    10**40,
    -(10**40),
    1e308,
    -1e308,
    0.5,
    True,
    False,
]


def json_values(depth: int = 2) -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        st.sampled_from(HOSTILE_STRINGS),
        st.sampled_from(HOSTILE_NUMBERS),
    )
    if depth == 0:
        return scalars
    inner = json_values(depth - 1)
    return st.one_of(
        scalars, st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    )


# ------------------------------------------------------------------------------ from the schema
SCHEMA = _PAYLOAD.json_schema()
DEFS: dict[str, Any] = SCHEMA.get("$defs", {})


def from_schema(node: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of the schema's shape; its bounds, patterns and formats are ignored on purpose."""
    if "$ref" in node:
        return st.deferred(lambda: from_schema(DEFS[node["$ref"].split("/")[-1]], depth + 1))
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return st.one_of([from_schema(n, depth) for n in node[key]])
    kind = node.get("type")
    if depth > 6:
        return json_values(0)
    if kind == "object" and "properties" in node:
        fields = {k: from_schema(v, depth + 1) for k, v in node["properties"].items()}
        required = set(node.get("required", []))
        return st.fixed_dictionaries(
            {k: v for k, v in fields.items() if k in required},
            optional={k: v for k, v in fields.items() if k not in required},
        )
    if kind == "object":
        return st.dictionaries(st.text(max_size=8), json_values(1), max_size=3)
    if kind == "array":
        if "prefixItems" in node:
            return st.tuples(*(from_schema(n, depth + 1) for n in node["prefixItems"])).map(list)
        items = node.get("items", {})
        return st.lists(from_schema(items, depth + 1) if items else json_values(1), max_size=4)
    if kind == "integer":
        return st.one_of(st.integers(min_value=-10, max_value=10**6), st.sampled_from(HOSTILE_NUMBERS))
    if kind == "number":
        return st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(HOSTILE_NUMBERS))
    if kind == "string":
        if node.get("format") == "date-time":
            offsets = st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=3))
            recent = offsets.map(lambda d: (NOW + d).isoformat())
            return st.one_of(recent, st.sampled_from(HOSTILE_STRINGS))
        if node.get("format") == "uuid":
            return st.uuids().map(str)
        return st.one_of(st.from_regex(r"\A[a-z][a-z0-9-]{0,8}\Z"), st.text(max_size=12))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return json_values(1)


TOPICS = {
    "status": "hallwatch/{site}/nodes/{node}/status",
    "health": "hallwatch/{site}/nodes/{node}/health",
    "layout": "hallwatch/{site}/nodes/{node}/layout",
    "snapshot": "hallwatch/{site}/nodes/{node}/snapshot",
    "state": "hallwatch/{site}/cameras/{camera}/state",
    "event": "hallwatch/{site}/cameras/{camera}/events",
    "positions": "hallwatch/{site}/cameras/{camera}/positions",
    "floor": "hallwatch/{site}/nodes/{node}/floor",
    "floor_event": "hallwatch/{site}/nodes/{node}/floor_events",
    "floor_positions": "hallwatch/{site}/nodes/{node}/floor_positions",
}


def topic_for(payload: Any) -> str:
    """The topic the payload claims to belong on (so that the schema, not the topic, decides)."""
    if not isinstance(payload, dict):
        return TOPICS["event"].format(site="s", camera="c")
    template = TOPICS.get(str(payload.get("kind")), TOPICS["event"])
    parts = {k: str(payload.get(k) or "x")[:64] for k in ("site", "node", "camera")}
    return template.format(**parts)


# ------------------------------------------------------------------------------ the properties
def check_accepted_payload(topic: str, raw: bytes) -> None:
    """The property: a refusal is a PayloadError; an accepted message is clean and re-parses."""
    try:
        message = parse_payload(topic, raw, now=NOW, window=WINDOW)
    except PayloadError as exc:
        assert exc.reason in {"topic", "config_topic", "too_large", "invalid", "mismatch", "stale", "future"}
        return
    again = parse_payload(topic, message.to_json(), now=NOW, window=WINDOW)
    assert again == message
    assert_clean(message.model_dump(mode="python"))
    assert -WINDOW.replay_past_s <= (message.ts - NOW).total_seconds() <= WINDOW.future_s


def assert_clean(value: Any) -> None:
    if isinstance(value, str):
        assert not _FORBIDDEN.search(value), value
        assert len(value) <= 1_400_000
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        assert -(2**63) < value < 2**63, value
    elif isinstance(value, float):
        assert math.isfinite(value) and abs(value) <= 1e9, value
    elif isinstance(value, dict):
        for k, v in value.items():
            assert_clean(k)
            assert_clean(v)
    elif isinstance(value, list | tuple):
        for v in value:
            assert_clean(v)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(from_schema(SCHEMA))
def test_payloads_from_the_schema_are_refused_or_clean(payload: Any) -> None:
    check_accepted_payload(topic_for(payload), json.dumps(payload).encode())


def valid_payloads() -> list[dict[str, Any]]:
    node = Node("hall-a", "edge-1", "cam-1")
    messages = [
        node.status(),
        node.health(),
        node.layout(),
        node.state({"hall": 3, "w1": 2}, violations=1, crossings={"door": {"in": 2, "out": 1}}),
        node.event("spacing_violation_started", people=[3, 4], distance_m=0.8, floor=(1.0, 2.0), zone="w1"),
        node.event("camera_lost", reason="stream stopped"),
        node.positions([(1.0, 2.0), (3.0, 4.0)]),
        node.positions([(1.0, 2.0)], sigma_m=0.05),
        node.floor(
            {"hall": 3, "w1": 2},
            violations=1,
            possible=1,
            pairs=[(1, 2, 0.7, True), (2, 3, 1.02, False)],
            cameras=["cam-1", "cam-2"],
            uncovered=["w2"],
            left_out=["cam-3"],
            seen_by_several=1,
        ),
        node.floor_event("person_entered", zone="door", people=[4], floor=(1.0, 0.5)),
        node.floor_positions([(1.0, 2.0, ["cam-1", "cam-2"]), (3.0, 4.0, ["cam-2"])]),
    ]
    return [json.loads(m.to_json()) for m in messages]


VALID = valid_payloads()
TOPIC_OF = {p["kind"]: topic_of(_PAYLOAD.validate_python(p)) for p in VALID}
assert set(TOPIC_OF) == set(TOPICS) - {"snapshot"}  # every kind a node sends (snapshots: their own tests)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    payload = json.loads(json.dumps(draw(st.sampled_from(VALID))))
    topic = TOPIC_OF[payload["kind"]]
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        where = draw(st.sampled_from(paths(payload)[1:]))
        parent = payload
        for step in where[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "replace":
            parent[where[-1]] = draw(json_values())
        elif action == "drop" and isinstance(parent, dict):
            parent.pop(where[-1], None)
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=6))] = draw(json_values(1))
    raw = json.dumps(payload)
    if draw(st.booleans()):  # JSON's non-standard numbers, which Python's json writes
        raw = raw.replace("1.0", draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999"])), 1)
    return topic, raw.encode()


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_payloads_are_refused_or_clean(case: tuple[str, bytes]) -> None:
    check_accepted_payload(*case)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(sorted(TOPICS)))
def test_any_bytes_are_refused_with_a_payload_error(raw: bytes, kind: str) -> None:
    check_accepted_payload(TOPICS[kind].format(site="hall-a", node="edge-1", camera="cam-1"), raw)


def test_every_valid_payload_still_passes() -> None:
    for payload in VALID:
        assert parse_payload(TOPIC_OF[payload["kind"]], json.dumps(payload).encode(), now=NOW)
    assert MAX_ID == 2**53
