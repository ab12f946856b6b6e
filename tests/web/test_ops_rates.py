"""Issue 14: the nodes page shows each camera's target rate next to its actual one, and an adaptive
camera's bounds; live from health messages, and the same from what the server stored."""

from __future__ import annotations

import pytest
from conftest import Pages, wait_for_layout
from playwright.sync_api import expect
from support.hallwatch_processes import ServerProcess
from web_support import Hall

from hallwatch.contract import SCHEMA_VERSION_RATES, CameraHealth

pytestmark = pytest.mark.browser


def camera(name: str, *, fps: float, target: float, bounds: tuple[float, float] | None) -> CameraHealth:
    return CameraHealth(
        camera=name, connected=True, fps=fps, latency_ms=90.0, frames_dropped=0, reconnects=0,
        target_fps=target, min_fps=bounds[0] if bounds else None, max_fps=bounds[1] if bounds else None,
    )  # fmt: skip


def test_ops_see_target_and_actual_rates_and_an_adaptive_camera_s_bounds(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess
) -> None:
    node = publish.node
    publish.publish(node.status("online"))
    publish.layout()
    wait_for_layout(server_proc, site)
    fixed, adaptive = node.camera, f"{node.camera}-door"
    health = node.health().model_copy(
        update={
            "schema_version": SCHEMA_VERSION_RATES,
            "cameras": [
                camera(fixed, fps=4.9, target=5.0, bounds=None),
                camera(adaptive, fps=6.3, target=6.5, bounds=(1.0, 9.0)),
            ],
        }
    )
    publish.publish(health)
    page = pages.open("ops", "desktop", path=f"/ops/nodes?site={site}")
    fixed_row = page.locator(f'tr[data-camera="{fixed}"]')
    adaptive_row = page.locator(f'tr[data-camera="{adaptive}"]')
    expect(fixed_row.locator(".target-fps")).to_have_text("5.0")
    expect(fixed_row.locator(".target-fps")).to_have_attribute("data-adaptive", "no")
    expect(adaptive_row.locator("td").nth(1)).to_have_text("6.3")  # actual
    expect(adaptive_row.locator(".target-fps")).to_have_text("6.5 (1.0–9.0)")
    expect(adaptive_row.locator(".target-fps")).to_have_attribute("data-adaptive", "yes")
    expect(adaptive_row.locator(".cam-state")).to_have_attribute("data-state", "ok")

    # The crowd at its door leaves: the node aims it lower, and the page follows live.
    calmer = node.health().model_copy(  # a new message: its own event id and seq
        update={
            "schema_version": SCHEMA_VERSION_RATES,
            "cameras": [
                camera(fixed, fps=4.9, target=5.0, bounds=None),
                camera(adaptive, fps=1.2, target=1.25, bounds=(1.0, 9.0)),
            ],
        }
    )
    publish.publish(calmer)
    expect(adaptive_row.locator(".target-fps")).to_have_text("1.3 (1.0–9.0)")  # 1.25 to one digit
    expect(adaptive_row.locator(".cam-state")).to_have_attribute("data-state", "ok")  # 1.2 of 1.25 is fine

    # What the server stored says the same after a reload.
    page.reload()
    expect(page.locator(f'tr[data-camera="{adaptive}"] .target-fps')).to_have_text("1.3 (1.0–9.0)")
    expect(page.locator(f'tr[data-camera="{fixed}"] .target-fps')).to_have_text("5.0")
