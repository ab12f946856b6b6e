"""A week in a realistic service hall, published over MQTT: for the screenshots in docs/img/.

Opening hours 7:30–18:00 (the hall's time zone), a morning and an afternoon rush, six windows with
their queues, people coming in and leaving through the entrance, a few spacing violations each
hour, floor positions for the heatmap, and right now: a busy hall with a crowded window, a long
queue and people standing too close.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from web_support import TIMEZONE, Hall, hourly_states, utc_now

from hallwatch.contract import Envelope

OPEN_HOURS = range(8, 18)
RUSH = {8: 0.45, 9: 0.75, 10: 1.0, 11: 0.9, 12: 0.6, 13: 0.7, 14: 0.95, 15: 0.85, 16: 0.6, 17: 0.35}
WINDOWS = 6


def _hall_hours(days: int, rng: random.Random) -> dict[datetime, dict[str, int]]:
    """Counts per local opening hour, for ``days`` days back to the hour before now."""
    tz = ZoneInfo(TIMEZONE)
    now = utc_now()
    local_today = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    hours: dict[datetime, dict[str, int]] = {}
    for back in range(days, -1, -1):
        day = local_today - timedelta(days=back)
        busy = 0.85 + 0.3 * rng.random() if day.weekday() < 5 else 0.4
        for hour in OPEN_HOURS:
            start = day.replace(hour=hour).astimezone(tz)
            if start + timedelta(minutes=15) >= now:
                continue
            load = RUSH[hour] * busy
            counts: dict[str, int] = {}
            for w in range(1, WINDOWS + 1):
                bias = 1.0 - 0.08 * abs(w - 3.5)
                counts[f"w{w}"] = min(2, max(0, round(2 * load * bias + rng.uniform(-0.4, 0.3))))
                counts[f"q{w}"] = min(6, max(0, round(5.5 * load * bias + rng.uniform(-1.2, 1.0))))
            counts["hall"] = min(58, sum(counts.values()) + round(12 * load + rng.uniform(0, 4)))
            hours[start.astimezone(now.tzinfo)] = counts
    return hours


def _around(rng: random.Random, x: float, y: float, spread: float) -> tuple[float, float]:
    return (round(x + rng.gauss(0, spread), 2), round(y + rng.gauss(0, spread), 2))


def _crowd(rng: random.Random, counts: dict[str, int]) -> list[tuple[float, float]]:
    """Floor positions that match the counts: people at windows, in queues, and elsewhere."""
    people: list[tuple[float, float]] = []
    for w in range(1, WINDOWS + 1):
        x0 = 1.0 + (w - 1) * 3.1
        for i in range(counts.get(f"w{w}", 0)):
            people.append(
                (
                    round(x0 + 0.8 + 0.9 * i + rng.uniform(-0.2, 0.2), 2),
                    round(1.3 + rng.uniform(-0.3, 0.3), 2),
                )
            )
        for i in range(counts.get(f"q{w}", 0)):
            people.append(
                (
                    round(x0 + 1.25 + rng.uniform(-0.25, 0.25), 2),
                    round(3.0 + 0.7 * i + rng.uniform(-0.1, 0.1), 2),
                )
            )
    rest = max(0, counts.get("hall", 0) - len(people))
    seats = [(4.0 + 1.1 * (i % 11), 9.0 + 1.2 * (i // 11)) for i in range(33)]
    rng.shuffle(seats)
    for x, y in seats[:rest]:
        people.append(_around(rng, x, y, 0.15))
    return [(min(19.8, max(0.2, x)), min(13.8, max(0.2, y))) for x, y in people]


def publish_week(hall: Hall, days: int = 7, seed: int = 7) -> dict[str, Any]:
    """Publish ``days`` days of history (states, entries, violations, positions); returns a summary."""
    rng = random.Random(seed)
    node = hall.node
    recent = utc_now() - timedelta(minutes=3)  # history stops here: what follows is "now"
    hall.layout()
    hall.publish(node.status())
    hall.publish(node.health())
    hours = _hall_hours(days, rng)
    messages: list[Envelope] = []
    entries = 0
    per_day: dict[str, int] = {}
    tz = ZoneInfo(TIMEZONE)
    for start, counts in sorted(hours.items()):
        arrivals = max(1, round(counts["hall"] * 0.6 + rng.uniform(0, 4)))
        for i in range(arrivals):
            ts = start + timedelta(seconds=rng.uniform(0, 3500))
            if ts >= recent:
                continue
            messages.append(node.event("person_entered", ts=ts, zone="door", people=[i]))
            day = ts.astimezone(tz).date().isoformat()
            per_day[day] = per_day.get(day, 0) + 1
            entries += 1
            left = ts + timedelta(minutes=rng.uniform(8, 40))
            if left < recent:
                messages.append(node.event("person_left", ts=left, zone="door", people=[i]))
        for _ in range(rng.randint(0, 4) if counts["hall"] > 25 else rng.randint(0, 1)):
            w = rng.randint(1, WINDOWS)
            ts = start + timedelta(seconds=rng.uniform(0, 3000))
            # no zone: published all at once, violations at a window would add up to "repeated" alerts
            violation = node.event(
                "spacing_violation_started",
                ts=ts,
                people=[rng.randint(1, 500), rng.randint(501, 999)],
                distance_m=round(rng.uniform(0.5, 0.95), 2),
                floor=(1.0 + (w - 1) * 3.1 + 1.2, 2.4),
            )
            # Each must have ended before now: the next state without violations ends it (today's
            # states come every 3 minutes until 2 minutes ago, a past hour's at minute 10 of the next).
            if ts < recent - timedelta(minutes=5):
                messages.append(violation)
        for k in range(4):
            messages.append(node.positions(_crowd(rng, counts), ts=start + timedelta(minutes=5 + 13 * k)))
    messages = sorted((m for m in messages if m.ts < recent), key=lambda m: m.ts)
    hall.send_all(messages)
    today = utc_now().astimezone(tz).date()
    past = {t: c for t, c in hours.items() if t.astimezone(tz).date() < today}
    states = hourly_states(node, past) + _today_states(hall, hours, today, rng)
    hall.send_all(states)
    return {"hours": len(hours), "entries": entries, "entries_per_day": per_day}


def _today_states(
    hall: Hall, hours: dict[datetime, dict[str, int]], today: Any, rng: random.Random
) -> list[Envelope]:
    """Today in detail: a state every three minutes, wandering around each hour's counts."""
    states: list[Envelope] = []
    tz = ZoneInfo(TIMEZONE)
    for start, counts in sorted(hours.items()):
        if start.astimezone(tz).date() != today:
            continue
        for minute in range(0, 60, 3):
            ts = start + timedelta(minutes=minute)
            if ts > utc_now() - timedelta(minutes=2):
                break
            now = {k: max(0, v + rng.choice((-1, 0, 0, 0, 1))) for k, v in counts.items()}
            for k in now:
                if k.startswith("w"):
                    now[k] = min(2, now[k])
                elif k.startswith("q"):
                    now[k] = min(6, now[k])
            now["hall"] = min(58, sum(v for k, v in now.items() if k != "hall") + 12)
            states.append(hall.node.state(now, ts=ts))
    return states


def publish_now(hall: Hall, seed: int = 11) -> dict[str, int]:
    """The hall right now: busy, window 3 over its limit, queue 5 too long, two people too close.

    Returns the zone counts, and ``arrivals``: the people who just came in.
    """
    rng = random.Random(seed)
    counts = {"w1": 1, "w2": 2, "w3": 3, "w4": 1, "w5": 2, "w6": 0}
    counts |= {"q1": 2, "q2": 4, "q3": 5, "q4": 1, "q5": 7, "q6": 0}
    counts["hall"] = sum(counts.values()) + 14
    node = hall.node
    hall.publish(node.state(counts, violations=1))
    hall.publish(
        node.event(
            "spacing_violation_started",
            zone="w5",
            people=[41, 42],
            distance_m=0.72,
            floor=(14.6, 2.5),
        )
    )
    arrivals = math.ceil(counts["hall"] / 10)
    for i in range(arrivals):
        hall.publish(node.event("person_entered", zone="door", people=[900 + i]))
    hall.publish(node.positions(_crowd(rng, counts)))
    return counts | {"arrivals": arrivals}
