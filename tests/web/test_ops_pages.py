"""The ops pages in a real browser, against the real server, mosquitto and a real edge node process.

The node (`hallwatch edge run`) plays a synthetic hall made by `edge/scene.py` (1280x720, a tiled
floor whose tile corners are known in metres) through `ops_scene_processor`, which stands in for
the detector with the scene's truth: person boxes (so snapshots blur people), zone counts and zone
events. Everything between the node and the browser is the real thing: MQTT 5 on the shared
mosquitto, the server subprocess, its database, the live stream, and the node's own YAML file.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from PIL import Image
from playwright.sync_api import Page, expect
from support.hallwatch_processes import EdgeProcess, ServerProcess
from support.processes import SHARED_BROKER, unique, wait_until
from test_web_layout import SMALL, UNNAMED
from web_fixtures import Pages, SitePool
from web_support import DOCS_IMG

from edge import scene
from hallwatch.contract import node_topic

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

HERE = Path(__file__).resolve().parent
CAMERA = "cam-1"
FRAME = scene.IMAGE_SIZE  # (1280, 720)
DOCS_IMAGE_MAX_BYTES = 300_000
OPS_PAGES = ("/ops/nodes", "/ops/calibration", "/ops/zones")


def hall_scene() -> scene.Scene:
    """16 s, looped by the node: two people at window 1, a third walks up to it (over its limit of
    2 from about 6 s to 11 s) and leaves; one at window 2, two in its queue, one in queue 1."""
    still = [(2.0, 7.0), (3.1, 7.1), (7.5, 7.0), (7.1, 4.0), (7.9, 4.7), (2.6, 3.2)]
    paths = [[(0.0, x, y), (16.0, x, y)] for x, y in still]
    paths.append(
        [
            (0.0, 5.0, 0.3),
            (3.0, 2.4, 4.6),
            (6.0, 2.5, 7.3),
            (11.0, 2.5, 7.3),
            (15.5, 5.2, 0.3),
            (16.0, 5.2, 0.3),
        ]
    )
    return scene.walk(paths, fps=5.0, name="ops-hall")


@dataclass
class OpsWorld:
    server: ServerProcess
    site: str
    node: str
    config_path: Path
    edge: EdgeProcess

    def node_info(self) -> dict[str, Any]:
        info: dict[str, Any] = self.server.get(f"nodes/{self.site}/{self.node}", "ops")
        return info

    def layout_config_id(self) -> str | None:
        layout = self.server.get(f"sites/{self.site}/layout", "ops")
        mine = next((n for n in layout["nodes"] if n["node"] == self.node), None)
        return mine["layout"].get("config_id") if mine and mine["layout"] else None

    def on_disk(self) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load(self.config_path.read_text())
        return data


@pytest.fixture(scope="module")
def ops_world(
    tmp_path_factory: pytest.TempPathFactory, server_proc: ServerProcess, site_pool: SitePool
) -> Iterator[OpsWorld]:
    """A real edge node for a site of its own, online on the session's server, with its health in."""
    folder = tmp_path_factory.mktemp("ops-node")
    site, node = site_pool.take(), unique("edge")
    video = folder / "hall.mp4"
    truth = scene.write_video(hall_scene(), video)
    config = scene.hall_config(str(video))
    config["site"] = site
    config["cameras"][0] |= {"loop": True, "fps": 5.0}
    config["node"] = {"id": node, "health_interval_s": 2.0}
    config["mqtt"] = {"host": SHARED_BROKER[0], "port": SHARED_BROKER[1], "protocol": "5"}
    config["outbox"] = {"path": str(folder / "outbox.sqlite")}
    config_path = folder / "node.yaml"
    config_path.write_text("# the ops pages' test node\n" + yaml.safe_dump(config, sort_keys=False))
    edge = EdgeProcess(
        config_path, "ops_scene_processor:factory", HERE, {"HALLWATCH_TEST_SCENE_TRUTH": str(truth)}
    )
    world = OpsWorld(server_proc, site, node, config_path, edge)
    try:

        def ready() -> bool:
            try:
                info = world.node_info()
            except httpx.HTTPStatusError:
                return False
            return bool(info["online"] and info["cameras"] and info["layout_at"])

        wait_until(ready, 30, 0.2)
        yield world
    finally:
        code = edge.stop()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("ops-clean"), protocol=mqtt.MQTTv5)
        client.connect(*SHARED_BROKER)
        client.loop_start()
        for topic in [node_topic(site, node, k) for k in ("status", "layout", "config")] + [
            f"hallwatch/{site}/cameras/{CAMERA}/state"
        ]:
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
        client.disconnect()
        client.loop_stop()
        assert code == 0, edge.log()[-3000:]


def docs_image(page: Page, name: str) -> Path:
    """A full-page screenshot for docs/img/<name>.png, reduced to 256 colours (< 300 KB)."""
    raw = page.screenshot(full_page=True, animations="disabled")
    image = Image.open(io.BytesIO(raw)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    path = DOCS_IMG / f"{name}.png"
    image.save(path, optimize=True)
    assert path.stat().st_size < DOCS_IMAGE_MAX_BYTES, f"{path}: {path.stat().st_size} bytes"
    return path


def frame_click(page: Page, u: float, v: float) -> None:
    """Click the snapshot where the camera's full frame has pixel (u, v)."""
    overlay = page.locator("#calib-overlay")
    overlay.scroll_into_view_if_needed()
    box = overlay.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + u * box["width"] / FRAME[0], box["y"] + v * box["height"] / FRAME[1])


def take_snapshot(page: Page, *, blur: bool = True) -> None:
    checkbox = page.get_by_label("Blur people")
    if checkbox.is_checked() != blur:
        checkbox.click()
    page.get_by_role("button", name="Take snapshot").click()
    # The node's first snapshot runs the blur's detector at full resolution: slow on a slow CPU.
    expect(page.locator("#snapshot-status")).to_have_attribute("data-state", "ok", timeout=60_000)
    expect(page.locator("#calib-image")).to_be_visible()
    expect(page.locator("#calib-overlay")).to_be_visible()


# ------------------------------------------------------------------------------------ nodes page
@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_ops_see_the_node_online_with_its_health_and_events_live(
    pages: Pages, ops_world: OpsWorld, viewport: str, screenshot: Callable[..., Path]
) -> None:
    page = pages.open("ops", viewport, path=f"/ops/nodes?site={ops_world.site}")
    card = page.locator(f'.node-card[data-node="{ops_world.node}"]')
    expect(card.locator(".status-pill")).to_have_text("Online")
    expect(card).to_have_attribute("data-status", "online")
    expect(card.locator(".f-version")).to_have_text(ops_world.node_info()["version"])
    row = card.locator(f'tr[data-camera="{CAMERA}"]')
    expect(row.locator(".cam-state")).to_have_text("Delivering")
    expect(row.locator("td").nth(1)).to_have_text(re.compile(r"^[45]\.\d$"))  # fps, sampled at 5/s
    expect(row.locator("td").nth(2)).to_have_text("5.0")  # the target: its configured rate
    expect(row.locator("td").nth(3)).to_have_text(re.compile(r"^\d+ ms$"))
    expect(card.locator(".f-outbox")).to_have_text(re.compile(r"^\d+ waiting$"))
    expect(page.locator("#stat-nodes-value")).to_have_text("1 / 1")
    expect(page.locator("#live-dot")).to_have_attribute("data-state", "open")
    # Health arrives every 2 s over the live stream: the uptime moves without a reload.
    uptime = card.locator(".f-uptime").inner_text()
    expect(card.locator(".f-uptime")).not_to_have_text(uptime, timeout=8_000)
    # The scene puts a third person at window 1 every 16 s: the event shows up live.
    expect(page.locator('#events-body tr[data-type="window_over_limit_started"]').first).to_be_visible(
        timeout=25_000
    )
    expect(page.locator("#events-body")).to_contain_text("window-1 · 3 / 2")
    screenshot(page, "ops-nodes")
    if viewport == "desktop":
        docs_image(page, "ops-nodes")


# ------------------------------------------------------------------------------------ calibration
# Floor tile corners of the synthetic hall (metres), and where the camera sees them.
# Corners, the middles of the near and far edges, and one inside: every point is checked by the
# others (4 corners and the centre are not: the centre lies on both diagonals).
NEW_FLOOR = [(1.0, 1.0), (9.0, 1.0), (9.0, 7.0), (1.0, 7.0), (5.0, 1.0), (5.0, 7.0), (3.0, 4.0)]


def test_calibration_round_trips_a_saved_config_to_the_node(
    pages: Pages, ops_world: OpsWorld, screenshot: Callable[..., Path]
) -> None:
    before = ops_world.config_path.read_text()
    refused_before = ops_world.node_info()["rejected_config"] or 0
    page = pages.open("ops", "desktop", path=f"/ops/calibration?site={ops_world.site}&node={ops_world.node}")
    expect(page.locator("#calib-camera")).to_have_value(CAMERA)
    expect(page.locator("#points-body tr")).to_have_count(6)  # the node's current calibration
    take_snapshot(page)
    expect(page.locator("#snapshot-status")).to_contain_text(
        re.compile(r"\d+ places? where someone may be blurred")
    )
    expect(page.locator("#snapshot-status")).to_contain_text("1280×720 px")
    natural = page.locator("#calib-image").evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert natural == [1280, 720]

    page.get_by_role("button", name="Clear").click()
    expect(page.locator("#points-body tr")).to_have_count(0)
    image_points = scene.image_from_floor(np.array(NEW_FLOOR))
    for i, ((u, v), (x, y)) in enumerate(zip(image_points, NEW_FLOOR, strict=True)):
        frame_click(page, float(u), float(v))
        row = page.locator("#points-body tr").nth(i)
        expect(row.locator(".floor-x")).to_be_focused()
        row.locator(".floor-x").fill(f"{x:g}")
        row.locator(".floor-y").fill(f"{y:g}")
        if i == 3:  # four points fit exactly: the page must not call that good
            expect(page.locator("#calib-result")).to_have_attribute("data-quality", "unknown")
            expect(page.locator("#calib-rms")).to_contain_text("unknown with 4 points")
            expect(page.locator("#calib-advice")).to_contain_text("at least 6")
    expect(page.locator("#calib-result")).to_have_attribute("data-quality", "good")
    rms = float(re.search(r"([\d.]+) cm RMS", page.locator("#calib-rms").inner_text()).group(1))  # type: ignore[union-attr]
    assert rms < 5.0, "clicks on the snapshot land on the frame's own pixels"
    expect(page.locator("#points-body .point-error").first).to_have_text(re.compile(r"^\d+\.\d cm$"))
    expect(page.locator("#calib-overlay .calib-zone")).to_have_count(6)  # hall, 2 windows, 2 queues, door
    expect(page.locator("#calib-overlay .calib-marker")).to_have_count(7)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download YAML").click()
    downloaded = yaml.safe_load(Path(download.value.path()).read_text())
    assert downloaded["cameras"][0]["calibration"]["floor_points"] == [list(p) for p in NEW_FLOOR]
    screenshot(page, "ops-calibration-before-save")

    page.get_by_role("button", name="Save to node").click()
    status = page.locator("#save-status")
    expect(status).to_contain_text("Applied by the node", timeout=20_000)
    expect(status).to_have_attribute("data-state", "ok")
    # The node has it: its file (the previous one kept as .bak) and its layout's config_id.
    on_disk = ops_world.on_disk()["cameras"][0]["calibration"]
    assert on_disk["floor_points"] == [list(p) for p in NEW_FLOOR]
    clicked = np.array(on_disk["image_points"])
    assert np.abs(clicked - image_points).max() < 3.0, "saved in full-frame pixels"
    assert (ops_world.config_path.parent / "node.yaml.bak").read_text() == before
    event_id = re.search(r"config push ([0-9a-f]{8})", status.inner_text()).group(1)  # type: ignore[union-attr]
    config_id = ops_world.layout_config_id()
    assert config_id is not None and config_id.startswith(event_id)
    assert (ops_world.node_info()["rejected_config"] or 0) == refused_before
    screenshot(page, "ops-calibration")
    expect(page.locator(".toast")).to_have_count(0, timeout=8_000)
    docs_image(page, "ops-calibration")


def test_calibration_page_names_unusable_points_and_saves_nothing(
    pages: Pages, ops_world: OpsWorld, screenshot: Callable[..., Path]
) -> None:
    config_before = ops_world.layout_config_id()
    # The preview's 422 is the point of this test; the browser logs it as a failed request.
    page = pages.open(
        "ops",
        "phone",
        path=f"/ops/calibration?site={ops_world.site}&node={ops_world.node}",
        allow=[r"status of 422"],
    )
    take_snapshot(page, blur=True)
    page.get_by_role("button", name="Clear").click()
    on_a_line = [(1.0, 1.0), (5.0, 1.0), (9.0, 1.0), (5.0, 7.0)]  # floor points 0, 1 and 2 in a line
    pixels = scene.image_from_floor(np.array(on_a_line))
    for i, ((u, v), (x, y)) in enumerate(zip(pixels, on_a_line, strict=True)):
        frame_click(page, float(u), float(v))
        row = page.locator("#points-body tr").nth(i)
        row.locator(".floor-x").fill(f"{x:g}")
        row.locator(".floor-y").fill(f"{y:g}")
    error = page.locator("#calib-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(re.compile(r"points 0, 1 and 2 lie on one line"))
    expect(page.get_by_role("button", name="Save to node")).to_be_disabled()
    expect(page.get_by_role("button", name="Download YAML")).to_be_disabled()
    screenshot(page, "ops-calibration")
    assert ops_world.layout_config_id() == config_before


# ------------------------------------------------------------------------------------ zone editor
def drag(page: Page, locator: Any, dx: float, dy: float) -> None:
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx / 2, y + dy / 2, steps=4)
    page.mouse.move(x + dx, y + dy, steps=4)
    page.mouse.up()


def test_zone_edits_on_the_floor_plan_are_applied_by_the_node(
    pages: Pages, ops_world: OpsWorld, screenshot: Callable[..., Path]
) -> None:
    before = ops_world.on_disk()["zones"]
    window_before = next(z for z in before if z["id"] == "window-1")
    page = pages.open("ops", "desktop", path=f"/ops/zones?site={ops_world.site}&node={ops_world.node}")
    expect(page.locator("#zone-list .zone-item")).to_have_count(len(before))
    page.locator('.zone-item[data-zone="window-1"]').click()
    expect(page.locator("#zone-form")).to_be_visible()
    # Drag window-1's first corner about half a metre to the left (the plan is ~65 px per metre).
    plan = page.locator("#zone-editor")
    box = plan.bounding_box()
    assert box is not None
    view_w = float(plan.get_attribute("viewBox").split()[2])  # type: ignore[union-attr]
    px_per_m = box["width"] / view_w
    drag(page, page.locator('#zone-editor [data-vertex="0"]'), -0.5 * px_per_m, 0)
    page.get_by_label("Max people at the window").fill("3")
    page.get_by_label("Name shown on the pages").fill("Window 1 (wide)")
    # A new window, and the entrance removed.
    page.get_by_role("button", name="+ Window").click()
    expect(page.get_by_label("Id", exact=True)).to_have_value("w1")
    page.locator('.zone-item[data-zone="door"]').click()
    page.get_by_role("button", name="Delete zone").click()
    expect(page.locator("#dirty-note")).to_be_visible()
    page.locator('.zone-item[data-zone="window-1"]').click()
    expect(page.locator('#zone-editor [data-vertex="0"]')).to_be_visible()
    screenshot(page, "ops-zones-editing")
    docs_image(page, "ops-zones")

    page.get_by_role("button", name="Save to node").click()
    status = page.locator("#zones-status")
    expect(status).to_contain_text("Applied by the node", timeout=20_000)
    expect(page.locator("#dirty-note")).to_be_hidden()
    zones = {z["id"]: z for z in ops_world.on_disk()["zones"]}
    assert set(zones) == {z["id"] for z in before} - {"door"} | {"w1"}
    moved = zones["window-1"]
    assert moved["max_people"] == 3 and moved["name"] == "Window 1 (wide)"
    dx = moved["polygon"][0][0] - window_before["polygon"][0][0]
    assert -0.7 < dx < -0.3 and moved["polygon"][0][1] == pytest.approx(
        window_before["polygon"][0][1], abs=0.1
    )
    assert moved["polygon"][1:] == window_before["polygon"][1:], "the other corners stay"
    assert zones["w1"]["kind"] == "window" and len(zones["w1"]["polygon"]) == 4
    assert (ops_world.config_path.parent / "node.yaml.bak").exists()
    assert ops_world.layout_config_id() is not None
    # The server's zones follow the node's new layout.
    server_zones = {z["zone"] for z in ops_world.server.get(f"sites/{ops_world.site}/layout", "ops")["zones"]}
    assert {"w1", "window-1"} <= server_zones and "door" not in server_zones
    page.set_viewport_size({"width": 360, "height": 740})
    screenshot(page, "ops-zones")


def test_a_zone_moves_whole_and_an_overlap_is_named_before_it_is_saved(
    pages: Pages, ops_world: OpsWorld, screenshot: Callable[..., Path]
) -> None:
    """Issue 13: a zone could not be moved whole, and a window overlapping another zone was saved
    without a word."""
    before = {z["id"]: z for z in ops_world.on_disk()["zones"]}
    config_before = ops_world.layout_config_id()
    page = pages.open("ops", "desktop", path=f"/ops/zones?site={ops_world.site}&node={ops_world.node}")
    expect(page.locator("#zone-list .zone-item")).to_have_count(len(before))
    plan = page.locator("#zone-editor")
    box = plan.bounding_box()
    assert box is not None
    px_per_m = box["width"] / float(plan.get_attribute("viewBox").split()[2])  # type: ignore[union-attr]
    # Drag window-2 by its body 3 m to the left: over window-1's right metre.
    window_2 = page.locator('#zone-editor .zones [data-zone="window-2"]')
    drag(page, window_2, -3.0 * px_per_m, 0)
    expect(page.locator("#zone-form-title")).to_contain_text("window-2")
    points = page.locator("#zone-editor .zones [data-zone='window-2']").get_attribute("points") or ""
    moved = [[float(v) for v in p.split(",")] for p in points.split()]
    shift = [m[0] - b[0] for m, b in zip(moved, before["window-2"]["polygon"], strict=True)]
    assert max(shift) - min(shift) < 1e-6 and -3.3 < shift[0] < -2.7, "every corner moves the same way"
    assert [m[1] for m in moved] == [b[1] for b in before["window-2"]["polygon"]]
    warning = page.locator("#zones-overlap")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text(re.compile(r"(window-1|Window 1[^;]*) and window-2 share \d\.\d+ m²"))
    expect(page.locator("#zone-editor .ed-overlap")).to_have_count(2)
    # The first Save only names the overlap; nothing goes to the node.
    page.get_by_role("button", name="Save to node").click()
    expect(page.get_by_role("button", name="Save anyway")).to_be_visible()
    expect(page.locator("#zones-status")).to_be_hidden()
    screenshot(page, "ops-zones-overlap")
    assert ops_world.layout_config_id() == config_before
    # With the keyboard the selected zone moves back out (Shift + arrow: 50 cm a press).
    page.locator("#zone-editor .zones [data-zone='window-2']").focus()
    for _ in range(6):
        page.keyboard.press("Shift+ArrowRight")
    expect(warning).to_be_hidden()
    points = page.locator("#zone-editor .zones [data-zone='window-2']").get_attribute("points") or ""
    back = [[float(v) for v in p.split(",")] for p in points.split()]
    assert np.allclose(np.array(back) - np.array(before["window-2"]["polygon"]), [shift[0] + 3.0, 0.0])
    # A deliberate overlap is saved when asked twice: window-2 onto window-1 again, Save, Save anyway.
    for _ in range(6):
        page.keyboard.press("Shift+ArrowLeft")
    expect(warning).to_be_visible()
    page.get_by_role("button", name="Save to node").click()
    page.get_by_role("button", name="Save anyway").click()
    expect(page.locator("#zones-status")).to_contain_text("Applied by the node", timeout=20_000)
    saved = {z["id"]: z for z in ops_world.on_disk()["zones"]}["window-2"]["polygon"]
    assert np.allclose(np.array(saved), np.array(moved))
    # and moved back whole, saved without a question
    page.locator('.zone-item[data-zone="window-2"]').click()
    page.locator("#zone-editor .zones [data-zone='window-2']").focus()
    for _ in range(6):
        page.keyboard.press("Shift+ArrowRight")
    page.get_by_role("button", name="Save to node").click()
    expect(page.locator("#zones-status")).to_contain_text("Applied by the node", timeout=20_000)
    restored = {z["id"]: z for z in ops_world.on_disk()["zones"]}["window-2"]["polygon"]
    assert np.allclose(np.array(restored) - np.array(before["window-2"]["polygon"]), [shift[0] + 3.0, 0.0])


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_the_zone_editor_keeps_save_and_its_axis_labels_in_view(
    pages: Pages, ops_world: OpsWorld, viewport: str
) -> None:
    """Issue 13: Save fell below the fold once a zone was selected, axis labels were clipped ("15 r")."""
    page = pages.open("ops", viewport, path=f"/ops/zones?site={ops_world.site}&node={ops_world.node}")
    page.locator('.zone-item[data-zone="queue-1"]').click()
    expect(page.locator("#zone-form")).to_be_visible()
    height = page.viewport_size["height"]  # type: ignore[index]
    for where in ("selected", "form"):
        if where == "form":
            page.get_by_label("Window this queue waits for").scroll_into_view_if_needed()
        save = page.get_by_role("button", name="Save to node").bounding_box()
        assert save is not None and save["y"] >= 0 and save["y"] + save["height"] <= height, (where, save)
    clipped = page.evaluate(
        """() => {
             const plan = document.getElementById('zone-editor').getBoundingClientRect();
             return [...document.querySelectorAll('#zone-editor .grid-label')].filter((t) => {
               const r = t.getBoundingClientRect();
               return r.left < plan.left - 0.5 || r.right > plan.right + 0.5 || r.top < plan.top - 0.5;
             }).map((t) => t.textContent);
           }"""
    )
    labels = page.locator("#zone-editor .grid-label").all_text_contents()
    assert len(labels) >= 3 and clipped == [], f"axis labels cut off: {clipped}"


def test_a_zone_list_the_node_would_refuse_is_refused_with_the_reason(
    pages: Pages, ops_world: OpsWorld, screenshot: Callable[..., Path]
) -> None:
    config_before = ops_world.layout_config_id()
    page = pages.open(
        "ops",
        "phone",
        path=f"/ops/zones?site={ops_world.site}&node={ops_world.node}",
        allow=[r"status of 422"],
    )
    expect(page.locator("#zone-list .zone-item").first).to_be_visible()
    page.get_by_role("button", name="+ Hall").click()  # the node already has one
    expect(page.locator(".toast")).to_contain_text("already has a hall zone")
    page.get_by_role("button", name="+ Queue").click()
    page.get_by_label("Window this queue waits for").select_option("")
    page.get_by_role("button", name="Save to node").click()
    error = page.locator("#zones-error")
    expect(error).to_contain_text(re.compile(r"Not saved: zones\[\d+\] \(q\d+\) window: field required"))
    screenshot(page, "ops-zones-refused")
    assert ops_world.layout_config_id() == config_before


# ------------------------------------------------------------------------------------ layout
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_ops_pages_fit_the_screen_and_name_their_controls(
    pages: Pages, ops_world: OpsWorld, viewport: str, screenshot: Callable[..., Path]
) -> None:
    """The bar every page meets (see test_web_layout.py): no sideways scrolling, every control
    named, and on a phone nothing to tap smaller than 40 x 40 px."""
    width = {"phone": 360, "desktop": 1366}[viewport]
    query = f"site={ops_world.site}&node={ops_world.node}"
    for path in OPS_PAGES:
        page = pages.open("ops", viewport, path=f"{path}?{query}")
        if path == "/ops/nodes":
            expect(page.locator(".node-card .status-pill")).to_have_text("Online")
        elif path == "/ops/calibration":
            take_snapshot(page)
            expect(page.locator("#calib-result")).to_have_attribute("data-quality", re.compile("good|fair"))
        else:
            page.locator(".zone-item").first.click()
            expect(page.locator("#zone-form")).to_be_visible()
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{path} is {scroll_width} px wide on a {width} px screen"
        assert page.evaluate(UNNAMED) == [], path
        if viewport == "phone":
            assert page.evaluate(SMALL) == [], path
        assert page.locator("h1").count() == 1, path
        page.close()


# ------------------------------------------------------------------------------------ roles
@pytest.mark.parametrize("role", ["guide", "manager"])
def test_guides_and_managers_cannot_open_the_ops_pages_or_use_their_endpoints(
    pages: Pages, ops_world: OpsWorld, role: str, screenshot: Callable[..., Path]
) -> None:
    page = pages.open(role, "phone", allow=[r"status of 403 \(Forbidden\)"])
    for path in OPS_PAGES:
        response = page.goto(f"{path}?site={ops_world.site}&node={ops_world.node}")
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("heading", name="Not your page")).to_be_visible()
        expect(page.locator(".error-message")).to_contain_text("This page is for operations staff")
        expect(page.locator("#calib-snapshot, #zone-editor, #node-list")).to_have_count(0)
    nav = page.locator(".app-nav")
    for label in ("Nodes", "Calibration", "Zones"):
        expect(nav.get_by_role("link", name=label, exact=True)).to_have_count(0)
    screenshot(page, f"ops-refused-{role}")
    # The API behind the pages refuses the role too (with the page's own cookie and CSRF token).
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "hallwatch_csrf")
    base = f"/api/v1/nodes/{ops_world.site}/{ops_world.node}"
    calls = [
        ("POST", f"{base}/snapshot", {"camera": CAMERA}),
        ("GET", f"{base}/cameras/{CAMERA}/snapshot", None),
        ("GET", f"{base}/cameras/{CAMERA}/snapshot.jpg", None),
        ("POST", f"{base}/cameras/{CAMERA}/calibration/preview", {"image_points": [], "floor_points": []}),
        ("POST", f"{base}/cameras/{CAMERA}/calibration", {"image_points": [], "floor_points": []}),
        ("POST", f"{base}/zones", {"zones": []}),
        ("GET", f"{base}/config", None),
        ("GET", f"{base}/config.yaml", None),
        ("POST", f"{base}/config", {"config": {"zones": []}}),
    ]
    for method, url, body in calls:
        response = page.request.fetch(url, method=method, data=body, headers={"X-CSRF-Token": csrf})
        assert response.status == 403, (method, url, response.status, response.text())


def test_ops_pages_need_a_login(ops_world: OpsWorld) -> None:
    for path in OPS_PAGES:
        response = httpx.get(f"{ops_world.server.url}{path}", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}"
