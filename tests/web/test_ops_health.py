"""Issue 13: the nodes page tells the truth about a struggling camera and a node behind on its outbox.

A camera at 1.4 of its 5 frames/s, 814 ms behind, dropping 191 frames between two health messages
was shown green ("Delivering"); now it is amber with the reasons, and so is a node whose outbox
grows. A healthy camera and node stay green.
"""

from __future__ import annotations

import pytest
from conftest import Pages, wait_for_layout
from playwright.sync_api import expect
from support.hallwatch_processes import ServerProcess
from web_support import Hall

from hallwatch.contract import CameraHealth

pytestmark = pytest.mark.browser


def camera(name: str, *, fps: float, latency_ms: float, dropped: int) -> CameraHealth:
    return CameraHealth(
        camera=name, connected=True, fps=fps, latency_ms=latency_ms, frames_dropped=dropped, reconnects=0,
        target_fps=5.0,
    )  # fmt: skip


def test_a_struggling_camera_and_a_node_behind_are_amber_with_the_reason(
    pages: Pages, publish: Hall, site: str, server_proc: ServerProcess
) -> None:
    node = publish.node
    publish.publish(node.status("online"))
    publish.layout()
    wait_for_layout(server_proc, site)
    healthy = node.health().model_copy(
        update={"cameras": [camera(node.camera, fps=4.9, latency_ms=120.0, dropped=3)]}
    )
    publish.publish(healthy)
    page = pages.open("ops", "desktop", path=f"/ops/nodes?site={site}")
    row = page.locator(f'tr[data-camera="{node.camera}"]')
    expect(row.locator(".cam-state")).to_have_text("Delivering")
    expect(row.locator(".cam-state")).to_have_attribute("data-state", "ok")
    pill = page.locator(".status-pill").first
    expect(pill).to_have_text("Online")

    struggling = node.health().model_copy(
        update={
            "cameras": [camera(node.camera, fps=1.4, latency_ms=814.0, dropped=194)],
            "outbox_depth": 420,
        }
    )
    publish.publish(struggling)
    state = row.locator(".cam-state")
    expect(state).to_have_attribute("data-state", "struggling")
    expect(state).to_contain_text("1.4 of 5 frames/s")
    expect(state).to_contain_text("dropping frames (191 since the last health)")
    expect(state).to_contain_text("latency 814 ms")
    expect(pill).to_have_text("Online, behind")
    expect(page.locator(".node-problem")).to_contain_text("Behind on its outbox: 420 events wait")

    # What the server stored says the same after a reload (not only the live message).
    page.reload()
    state = page.locator(f'tr[data-camera="{node.camera}"] .cam-state')
    expect(state).to_have_attribute("data-state", "struggling")
    expect(state).to_contain_text("dropping frames (191 since the last health)")
    expect(page.locator(".status-pill").first).to_have_text("Online, behind")
