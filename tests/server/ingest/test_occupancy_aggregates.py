"""Turning camera states into per-minute, hourly and daily aggregates (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.ingest.occupancy import Buckets, OccupancyAccumulator

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_time_weighted_mean_is_not_biased_by_bursts() -> None:
    acc = OccupancyAccumulator(ZoneInfo("UTC"), max_gap_s=60)
    # 0 people for 50 s, then a burst of 10 messages showing 4 in the last 10 s
    acc.add_state("s", "c", at(0), {"w1": 0})
    for i in range(10):
        acc.add_state("s", "c", at(50 + i), {"w1": 4})
    acc.add_state("s", "c", at(60), {"w1": 0})
    minute = acc.drain()[0]["minute"][("s", "w1", "c", T0)]
    assert minute.samples == 11 and minute.max_count == 4
    assert minute.sum_count / minute.samples == pytest.approx(40 / 11)  # the naive mean: 3.6
    assert minute.weighted_sum / minute.seconds == pytest.approx(40 / 60)  # 4 people for 10 of 60 s


def test_a_silent_camera_counts_for_at_most_max_gap() -> None:
    acc = OccupancyAccumulator(ZoneInfo("UTC"), max_gap_s=5)
    acc.add_state("s", "c", at(0), {"w1": 3})
    acc.add_state("s", "c", at(40), {"w1": 0})
    minute = acc.drain()[0]["minute"][("s", "w1", "c", T0)]
    assert (minute.weighted_sum, minute.seconds) == (15.0, 5.0)


def test_weight_goes_to_the_bucket_the_count_was_shown_in() -> None:
    acc = OccupancyAccumulator(ZoneInfo("UTC"), max_gap_s=10)
    acc.add_state("s", "c", at(57), {"w1": 2})
    acc.add_state("s", "c", at(61), {"w1": 2})
    minutes = acc.drain()[0]["minute"]
    assert minutes[("s", "w1", "c", T0)].seconds == 4.0
    assert minutes[("s", "w1", "c", at(60))].seconds == 0.0
    assert minutes[("s", "w1", "c", at(60))].samples == 1


def test_out_of_order_states_never_move_time_backwards() -> None:
    acc = OccupancyAccumulator(ZoneInfo("UTC"), max_gap_s=10)
    acc.add_state("s", "c", at(10), {"w1": 1})
    acc.add_state("s", "c", at(5), {"w1": 9})
    acc.add_state("s", "c", at(12), {"w1": 1})
    minute = acc.drain()[0]["minute"][("s", "w1", "c", T0)]
    assert (minute.samples, minute.max_count, minute.seconds, minute.weighted_sum) == (3, 9, 2.0, 2.0)


@pytest.mark.parametrize(
    ("tz", "ts", "hour", "day"),
    [
        ("UTC", "2026-03-02T09:42:10+00:00", "2026-03-02T09:00:00+00:00", "2026-03-02T00:00:00+00:00"),
        (
            "Europe/Vienna",
            "2026-03-02T23:30:00+00:00",
            "2026-03-02T23:00:00+00:00",
            "2026-03-02T23:00:00+00:00",
        ),
        (
            "Asia/Kolkata",
            "2026-03-02T09:42:10+00:00",
            "2026-03-02T09:30:00+00:00",
            "2026-03-01T18:30:00+00:00",
        ),
        (
            "America/New_York",
            "2026-03-08T07:30:00+00:00",
            "2026-03-08T07:00:00+00:00",
            "2026-03-08T05:00:00+00:00",
        ),
    ],
)
def test_hours_and_days_follow_the_halls_time_zone(tz: str, ts: str, hour: str, day: str) -> None:
    minute_start, hour_start, day_start = Buckets(ZoneInfo(tz)).of(datetime.fromisoformat(ts))
    assert minute_start == datetime.fromisoformat(ts).replace(second=0)
    assert (hour_start, day_start) == (datetime.fromisoformat(hour), datetime.fromisoformat(day))


def test_positions_fill_heatmap_cells() -> None:
    acc = OccupancyAccumulator(ZoneInfo("UTC"), heatmap_cell_m=0.5)
    acc.add_positions("s", "c", at(5), [(0.1, 0.2), (0.4, 0.4), (-0.1, 1.2)])
    assert acc.drain()[1] == {("s", "c", T0, 0, 0): 2, ("s", "c", T0, -1, 2): 1}
    assert acc.drain() == ({"minute": {}, "hour": {}, "day": {}}, {})


@given(st.lists(st.tuples(st.floats(0, 3600), st.integers(0, 50)), min_size=1, max_size=60))
def test_sums_are_consistent_across_resolutions(states: list[tuple[float, int]]) -> None:
    acc = OccupancyAccumulator(ZoneInfo("Europe/Vienna"), max_gap_s=5)
    for s, n in sorted(states):
        acc.add_state("s", "c", at(s), {"z": n})
    occupancy, _ = acc.drain()
    totals = {
        res: (
            sum(d.samples for d in rows.values()),
            sum(d.seconds for d in rows.values()),
            max(d.max_count for d in rows.values()),
        )
        for res, rows in occupancy.items()
    }
    assert totals["minute"][0] == totals["hour"][0] == totals["day"][0] == len(states)
    assert totals["minute"][1] == pytest.approx(totals["hour"][1]) == pytest.approx(totals["day"][1])
    assert totals["minute"][2] == totals["day"][2] == max(n for _, n in states)
    for rows in occupancy.values():
        for d in rows.values():
            assert 0 <= d.weighted_sum <= 50 * d.seconds + 1e-9
