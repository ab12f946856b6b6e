"""States coalesced per camera per round: the engine and the live state end where they would without."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.alerts.engine import CameraCounts
from server.ingest.processor import latest_per_camera


def counts(
    camera: str, t: float, zones: dict[str, int], violations: int = 0, uncovered: tuple[str, ...] = ()
) -> CameraCounts:
    return CameraCounts("s", camera, t, zones, violations, t, uncovered)


@pytest.mark.parametrize(
    ("states", "pairs", "kept"),
    [
        # a camera's earlier states with the same zones go; other cameras' stay
        ([counts("a", 1, {"w": 1}), counts("b", 2, {"w": 2}), counts("a", 3, {"w": 3})], False, [2, 3]),
        # a zone the later state lacks: the earlier one still says it
        ([counts("a", 1, {"w": 1, "q": 1}), counts("a", 2, {"w": 2})], False, [1, 2]),
        # a fused floor's state with zones it does not see: kept
        ([counts("a", 1, {"w": 1}, uncovered=("q",)), counts("a", 2, {"w": 2})], False, [1, 2]),
        # the engine ends pairs on a state without violations: the latest such one is kept
        (
            [counts("a", 1, {"w": 1}), counts("a", 2, {"w": 1}), counts("a", 3, {"w": 1}, violations=1)],
            True,
            [2, 3],
        ),
        ([counts("a", 1, {"w": 1}), counts("a", 2, {"w": 1}, violations=1)], False, [2]),
        # the last state has no violations itself: nothing earlier is needed
        ([counts("a", 1, {"w": 1}, violations=1), counts("a", 2, {"w": 1})], True, [2]),
        ([], True, []),
    ],
)
def test_latest_per_camera_keeps_what_a_later_state_does_not_cover(
    states: list[CameraCounts], pairs: bool, kept: list[float]
) -> None:
    assert [s.ts for s in latest_per_camera(states, pairs=pairs)] == kept


def replay(states: list[CameraCounts]) -> tuple[dict[tuple[str, str], int], dict[str, float]]:
    """What the engine keeps of a round: each camera's last count per zone, and per camera the
    latest time of a state without violations (up to which its spacing pairs end)."""
    latest: dict[tuple[str, str], int] = {}
    calm: dict[str, float] = {}
    for state in states:
        for zone, n in state.zones.items():
            latest[(state.camera, zone)] = n
        if state.violations == 0:
            calm[state.camera] = max(state.ts, calm.get(state.camera, state.ts))
    return latest, calm


@given(
    st.lists(
        st.tuples(
            st.sampled_from("abc"),
            st.floats(0, 100),
            st.dictionaries(st.sampled_from(["w1", "w2", "q"]), st.integers(0, 9), min_size=1),
            st.integers(0, 1),
        ),
        max_size=40,
    )
)
def test_coalesced_states_leave_the_same_counts_and_pair_ends(
    items: list[tuple[str, float, dict[str, int], int]],
) -> None:
    states = [counts(camera, t, zones, violations) for camera, t, zones, violations in items]
    kept = latest_per_camera(states, pairs=True)
    assert replay(kept) == replay(states)
    assert all(s in states for s in kept) and len(kept) <= len(states)
