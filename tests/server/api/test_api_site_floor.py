"""The site's floor for the pages (issue 12): cameras' coverage and overlaps, calibrations' agreement
on shared floor marks, and certain and possible pairs now."""

from __future__ import annotations

from datetime import UTC, datetime

from api_fixtures import Api

from hallwatch.contract import LayoutCamera, NodeLayout
from server.ingest.live_state import CameraNow
from server.store.ingest_writes import IngestBatch
from vision.calibration import calibrate
from vision.calibration_report import pair_agreement

FLOOR = [(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (2.0, 1.0), (1.0, 3.0)]
CLICKS = [(0.0, 0.0), (400.0, 0.0), (400.0, 400.0), (0.0, 400.0), (200.0, 100.0), (100.0, 300.0)]


def camera(camera_id: str, coverage: list[tuple[float, float]] | None, moved_px: float = 0.0) -> LayoutCamera:
    """A camera calibrated on the shared marks; its click of mark (2, 1) off by ``moved_px``."""
    clicks = [(u, v + (moved_px if i == 4 else 0.0)) for i, (u, v) in enumerate(CLICKS)]
    return LayoutCamera(
        id=camera_id,
        anchor="feet",
        reprojection_error_cm=1.0,
        image_points=clicks,
        floor_points=FLOOR,
        coverage=coverage,
    )


def layout(api: Api, node: str, cameras: list[LayoutCamera]) -> NodeLayout:
    return NodeLayout(
        schema_version=2,
        site=api.site,
        node=node,
        seq=1,
        ts=datetime.now(UTC),
        zones=[],
        cameras=cameras,
        min_distance_m=1.0,
        fusion="server",
    )


def test_ops_see_each_camera_s_coverage_the_overlaps_and_how_far_apart_calibrations_place_shared_marks(
    api: Api,
) -> None:
    batch = IngestBatch()
    now = datetime.now(UTC)
    a = camera("cam-a", [(0, 0), (6, 0), (6, 5), (0, 5)])
    b = camera("cam-b", [(4, 0), (10, 0), (10, 5), (4, 5)], moved_px=30.0)
    c = camera("cam-c", None)  # its node has not said yet where it sees well
    for node, cams in (("edge-a", [a]), ("edge-b", [b, c])):
        batch.layouts[(api.site, node)] = (layout(api, node, cams), now)
        batch.seen[(api.site, node)] = now
    api.store.ingest.write(batch)

    body = api.client.get(f"/api/v1/sites/{api.site}/cameras", headers=api.headers("ops")).json()
    assert [(x["camera"], x["node"], x["fusion"]) for x in body["cameras"]] == [
        ("cam-a", "edge-a", "server"),
        ("cam-b", "edge-b", "server"),
        ("cam-c", "edge-b", "server"),
    ]
    assert body["cameras"][2]["coverage"] is None
    (overlap,) = body["overlaps"]
    assert overlap["cameras"] == ["cam-a", "cam-b"] and overlap["area_m2"] == 10.0
    assert sorted(map(tuple, overlap["polygon"])) == [(4.0, 0.0), (4.0, 5.0), (6.0, 0.0), (6.0, 5.0)]

    pairs = {tuple(p["cameras"]): p for p in body["agreement"]}
    assert set(pairs) == {("cam-a", "cam-b"), ("cam-a", "cam-c"), ("cam-b", "cam-c")}
    apart = pair_agreement(
        ("cam-a", calibrate(a.image_points, FLOOR)), ("cam-b", calibrate(b.image_points, FLOOR))
    )
    moved = pairs[("cam-a", "cam-b")]
    assert moved["worst_cm"] == apart.worst_cm and moved["worst_cm"] > body["agree_within_cm"]
    assert moved["agree"] is False and moved["nodes"] == ["edge-a", "edge-b"]
    assert len(moved["marks"]) == 6 and "agree within" in moved["summary"]
    assert pairs[("cam-a", "cam-c")]["worst_cm"] == 0.0 and pairs[("cam-a", "cam-c")]["agree"] is True
    assert body["agreement"][0]["cameras"] in (["cam-a", "cam-b"], ["cam-b", "cam-c"]), "worst first"
    assert (
        api.client.get(f"/api/v1/sites/{api.site}/cameras", headers=api.headers("guide")).status_code == 403
    )


def test_the_occupancy_now_has_certain_and_possible_pairs_from_recent_floors_only(api: Api) -> None:
    now = datetime.fromtimestamp(api.clock[0], UTC)
    stale = datetime.fromtimestamp(api.clock[0] - 3600, UTC)
    api.server.live.update_cameras(
        [
            CameraNow(api.site, "fused:edge-1", "edge-1", 7, 2, now, now, {"hall": 7}, possible_violations=3),
            CameraNow(api.site, "cam-9", "edge-9", 1, 5, stale, stale, {}, possible_violations=4),
        ]
    )
    body = api.client.get(f"/api/v1/sites/{api.site}/occupancy", headers=api.headers("manager")).json()
    assert (body["violations_now"], body["possible_violations_now"]) == (2, 3), (
        "an hour-old camera says nothing now"
    )
    floor = next(c for c in body["cameras"] if c["camera"] == "fused:edge-1")
    assert floor["possible_violations"] == 3
