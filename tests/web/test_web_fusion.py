"""The pages show the fused floor (issue 12): one set of dots and counts per zone on the dashboard,
certain and possible pairs; each camera's coverage and the overlaps in the zone editor; how far
apart overlapping cameras' calibrations place shared floor marks on the calibration page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from support.contract import Node
from support.hallwatch_processes import ServerProcess
from support.processes import wait_until
from web_fixtures import Pages, wait_for_layout
from web_support import Hall, hall_zones, utc_now

from hallwatch.contract import LayoutCamera, NodeLayout

pytestmark = pytest.mark.browser

FLOOR = [(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (2.0, 1.0), (1.0, 3.0)]
CLICKS = [(0.0, 0.0), (400.0, 0.0), (400.0, 400.0), (0.0, 400.0), (200.0, 100.0), (100.0, 300.0)]
# Three ceiling cameras over the 20 m x 14 m hall: west and middle on edge-a, east on edge-b.
COVERAGE = {
    "cam-w": [(-0.5, -0.5), (8.0, -0.5), (8.0, 14.5), (-0.5, 14.5)],
    "cam-m": [(6.0, -0.5), (14.0, -0.5), (14.0, 14.5), (6.0, 14.5)],
    "cam-e": [(12.5, -0.5), (20.5, -0.5), (20.5, 14.5), (12.5, 14.5)],
}


def camera(camera_id: str, moved_px: float = 0.0) -> LayoutCamera:
    """Calibrated on the shared marks; its click of mark (2, 1) off by ``moved_px``."""
    clicks = [(u, v + (moved_px if i == 4 else 0.0)) for i, (u, v) in enumerate(CLICKS)]
    return LayoutCamera(
        id=camera_id,
        anchor="head",
        reprojection_error_cm=1.0,
        image_points=clicks,
        floor_points=FLOOR,
        coverage=COVERAGE[camera_id],
    )


def publish_cameras(publish: Hall, server: ServerProcess, site: str) -> tuple[Node, Node]:
    """Two nodes that leave fusing to the server; cam-e's calibration is 30 px off on one mark."""
    nodes = (Node(site, "edge-a", zones=hall_zones()), Node(site, "edge-b", zones=hall_zones()))
    for node, cams in zip(
        nodes, ([camera("cam-w"), camera("cam-m")], [camera("cam-e", moved_px=30.0)]), strict=True
    ):
        publish.publish(
            NodeLayout(
                schema_version=2,
                site=site,
                node=node.node,
                seq=node._next(),
                ts=utc_now(),
                zones=node.layout().zones,
                cameras=cams,
                min_distance_m=1.0,
                fusion="server",
            )
        )
    wait_for_layout(server, site)
    wait_until(lambda: len(server.get(f"sites/{site}/cameras", "ops")["cameras"]) == 3, 10, 0.2)
    return nodes


def test_the_zone_editor_draws_each_camera_s_coverage_and_where_they_overlap(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess
) -> None:
    publish_cameras(publish, server_proc, site)
    page = pages.open("ops", "desktop", path=f"/ops/zones?site={site}&node=edge-a")
    plan = page.locator("#zone-editor")
    expect(plan.locator("polygon.coverage")).to_have_count(3)
    assert sorted(plan.locator("polygon.coverage").evaluate_all("els => els.map(e => e.dataset.camera)")) == [
        "cam-e",
        "cam-m",
        "cam-w",
    ]
    # cam-e is the other node's: drawn, but set apart from this node's cameras
    expect(plan.locator("polygon.coverage-other")).to_have_count(1)
    expect(plan.locator("polygon.coverage-other")).to_have_attribute("data-camera", "cam-e")
    overlaps = plan.locator("polygon.coverage-overlap")
    expect(overlaps).to_have_count(2)
    assert sorted(overlaps.evaluate_all("els => els.map(e => e.dataset.cameras)")) == [
        "cam-e cam-m",
        "cam-m cam-w",
    ]
    box = overlaps.and_(page.locator("[data-cameras='cam-m cam-w']")).bounding_box()
    whole = plan.bounding_box()
    assert box is not None and whole is not None and 0 < box["width"] < whole["width"] / 4, "x 6-8 m of 21"
    expect(page.locator("#coverage-note")).to_have_text("3 cameras drawn, 2 overlaps.")
    page.locator("#show-coverage").uncheck()
    expect(plan.locator("g.coverage-layer")).to_be_hidden()
    assert pages.errors(page) == []


def test_the_calibration_page_says_which_overlapping_cameras_disagree_on_shared_marks(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess
) -> None:
    publish_cameras(publish, server_proc, site)
    page = pages.open("ops", "desktop", path=f"/ops/calibration?site={site}&node=edge-a", allow=["snapshot"])
    rows = page.locator("#agreement-body tr")
    expect(rows).to_have_count(3)
    worst = rows.first
    assert worst.get_attribute("data-verdict") == "disagree"
    assert "cam-e" in (worst.get_attribute("data-cameras") or "")
    expect(worst.locator(".agreement-verdict")).to_have_text(
        re.compile(r"^Disagree by \d+\.\d cm: one person may")
    )
    cells = worst.locator("td")
    expect(cells.nth(2)).to_have_text("6")  # the six shared marks
    apart = float((cells.nth(3).text_content() or "").removesuffix(" cm"))
    assert apart > 15.0
    agree = page.locator("#agreement-body tr[data-cameras='cam-m cam-w']")
    expect(agree.locator(".agreement-verdict")).to_have_text("Agree (within 15 cm)")
    expect(page.locator("#agreement-note")).to_have_text("2 pairs disagree")
    expect(page.locator("#agreement-empty")).to_be_hidden()
    assert pages.errors(page) == []


def test_the_dashboard_shows_one_fused_floor_and_certain_and_possible_pairs(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess
) -> None:
    """A node fuses two cameras: three people, two of them seen by both cameras, are three dots
    (not five), the windows' counts are the floor's, and the pairs read "1 certain (+2 possible)"."""
    node = publish.node
    publish.publish(
        node.layout(fusion="node", coverage={"cam-w": COVERAGE["cam-w"], "cam-m": COVERAGE["cam-m"]})
    )
    wait_for_layout(server_proc, site)
    page = pages.open("manager", "desktop", path=f"/dashboard?site={site}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    people = [(2.2, 1.3, ["cam-w"]), (7.0, 1.3, ["cam-w", "cam-m"]), (7.6, 1.3, ["cam-w", "cam-m"])]

    def send() -> None:
        publish.publish(
            node.floor(
                {"hall": 3, "w1": 1, "w3": 2},
                violations=1,
                possible=2,
                pairs=[(2, 3, 0.6, True), (1, 2, 1.02, False), (1, 3, 1.05, False)],
                cameras=["cam-m", "cam-w"],
                seen_by_several=2,
            )
        )
        publish.publish(node.floor_positions(people))
        publish.event("person_entered", zone="door", people=[9])  # the dashboard re-reads its counts

    send()
    dots = page.locator("#floor-plan circle.person")
    wait_until(lambda: (send(), dots.count() == 3)[1], 10, 0.5)
    assert set(dots.evaluate_all("els => els.map(e => e.dataset.camera)")) == {"fused:edge-1"}
    assert sorted(dots.evaluate_all("els => els.map(e => e.dataset.cameras)")) == [
        "cam-w",
        "cam-w cam-m",
        "cam-w cam-m",
    ]
    expect(page.locator("#floor-plan text[data-zone='w3'] .zone-count")).to_have_text("2 / 2")
    expect(page.locator("#floor-plan text[data-zone='w1'] .zone-count")).to_have_text("1 / 2")
    expect(page.locator("#kpi-hall-count")).to_have_text("3")
    expect(page.locator("#kpi-violations")).to_have_text("1")
    expect(page.locator("#kpi-violations-note")).to_have_text("certain (+2 possible)")
    expect(page.locator("#kpi-violations-box")).to_have_attribute("data-level", "over")
    assert pages.errors(page) == []
