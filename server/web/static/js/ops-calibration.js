// @ts-check
// Ops: a camera's floor calibration. Ask its node for a snapshot, click floor marks in the picture,
// type where they are on the floor (metres), see the error and the zones drawn over the picture,
// then save it to the node (a config push) or download it as YAML.
//
// Image points are in the camera's full frame: the overlay's viewBox is the frame's size, so a
// click on a downscaled snapshot lands on the frame's own pixels.
//
// Below, for each pair of the hall's cameras that share floor marks (or whose coverages overlap),
// how far apart their calibrations place the shared marks (GET sites/{site}/cameras).

import { ApiError, api, apiUrl } from "./api.js";
import { h, setText } from "./dom.js";
import { clockText, dateTimeText, numberText } from "./format.js";
import { LiveConnection } from "./live.js";
import { downloadText, fillSelect, nodeState, setUrlParams, showStatus, siteNodes, urlParam, waitForApplied } from "./ops-common.js";
import { chooseSite, toast } from "./shell.js";

const SVG = "http://www.w3.org/2000/svg";
const PREVIEW_DELAY_MS = 350;
const POLL_MS = 500;

// `any` for the checker: the page knows which kind of element (input, table, svg) each id names.
/** @type {(id: string) => any} */
const $ = (id) => document.getElementById(id);
const els = {
  node: $("calib-node"),
  camera: $("calib-camera"),
  blur: $("calib-blur"),
  snapshot: $("calib-snapshot"),
  snapshotStatus: $("snapshot-status"),
  stage: $("calib-stage"),
  image: $("calib-image"),
  overlay: $("calib-overlay"),
  placeholder: $("calib-placeholder"),
  pointsBody: $("points-body"),
  pointsEmpty: $("points-empty"),
  pointCount: $("point-count"),
  clear: $("clear-points"),
  result: $("calib-result"),
  rms: $("calib-rms"),
  advice: $("calib-advice"),
  error: $("calib-error"),
  lens: $("calib-lens"),
  save: $("calib-save"),
  download: $("calib-download"),
  currentYaml: $("calib-current-yaml"),
  saveStatus: $("save-status"),
  showZones: $("show-zones"),
  showGrid: $("show-grid"),
  agreementBody: $("agreement-body"),
  agreementEmpty: $("agreement-empty"),
  agreementNote: $("agreement-note"),
  agreeWithin: $("agree-within"),
};

const state = {
  site: null,
  nodes: [],
  config: null, // GET nodes/{site}/{node}/config
  node: null,
  camera: null,
  frame: null, // { width, height } of the camera's full frame, from the snapshot
  points: [], // { u, v, x, y }: pixels of the full frame, metres (x/y may be null while typed)
  preview: null,
  previewError: null,
  previewSeq: 0,
  previewTimer: 0,
  waiting: null, // a waitForApplied() in progress
  taking: false, // a snapshot request in progress: its status line is the one to show
};

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

const round = (value, digits) => Math.round(value * 10 ** digits) / 10 ** digits;
const finite = (value) => typeof value === "number" && Number.isFinite(value);
const complete = (p) => finite(p.x) && finite(p.y);

// ------------------------------------------------------------------------------ node and camera
function cameraIds() {
  const fromConfig = state.config?.cameras.map((c) => c.id) ?? [];
  const fromHealth = state.nodes.find((n) => n.node === state.node)?.cameras.map((c) => c.camera) ?? [];
  return [...new Set([...fromConfig, ...fromHealth])].sort();
}

async function selectNode(node) {
  state.node = node;
  state.config = null;
  try {
    state.config = await api(`nodes/${state.site}/${node}/config`);
  } catch (error) {
    if (error.status === 409) toast(error.message, "error", 8000);
    else if (error.status !== 401) toast(`Could not load node ${node}'s config: ${error.message}`, "error");
  }
  els.currentYaml.href = apiUrl(`nodes/${state.site}/${node}/config.yaml`);
  els.currentYaml.setAttribute("download", `${state.site}-${node}.yaml`);
  const cameras = cameraIds();
  const camera = fillSelect(els.camera, cameras.map((c) => ({ value: c })), urlParam("camera") ?? state.camera);
  await selectCamera(camera || null);
}

async function selectCamera(camera) {
  state.camera = camera;
  setUrlParams({ site: state.site, node: state.node, camera });
  const current = state.config?.cameras.find((c) => c.id === camera);
  state.points = (current?.calibration.image_points ?? []).map(([u, v], i) => {
    const [x, y] = current.calibration.floor_points[i];
    return { u, v, x, y };
  });
  const lens = current?.calibration.lens;
  setText(
    els.lens,
    lens
      ? `Lens: ${lens.model}, kept from the node's config (distortion is undone before the fit).`
      : "Lens: none (the picture is used as it is).",
  );
  els.snapshot.disabled = !camera;
  clearImage();
  renderAll();
  if (camera) await loadLatestSnapshot();
  schedulePreview(0);
}

// ------------------------------------------------------------------------------------ snapshot
function clearImage() {
  state.frame = null;
  els.image.hidden = true;
  els.image.removeAttribute("src");
  els.overlay.toggleAttribute("hidden", true); // an SVG element has no .hidden property
  els.placeholder.hidden = false;
  els.stage.dataset.empty = "true";
}

/**
 * Show the camera's latest picture (the page's CSP allows images from this server only, so the
 * <img> loads the API's JPEG itself; ``version`` keeps a browser cache from showing an older one).
 * ``frame`` is the camera's full frame size. False when it cannot be loaded.
 */
async function loadImage(frame, version) {
  const { width, height } = frame;
  const url = apiUrl(`nodes/${state.site}/${state.node}/cameras/${state.camera}/snapshot.jpg`, { v: version });
  const loaded = await new Promise((resolve) => {
    els.image.addEventListener("load", () => resolve(true), { once: true });
    els.image.addEventListener("error", () => resolve(false), { once: true });
    els.image.src = url;
  });
  if (!loaded) return false;
  state.frame = { width, height };
  els.image.hidden = false;
  els.overlay.toggleAttribute("hidden", false);
  els.placeholder.hidden = true;
  els.stage.dataset.empty = "false";
  els.overlay.setAttribute("viewBox", `0 0 ${width} ${height}`);
  els.overlay.setAttribute("preserveAspectRatio", "none");
  renderOverlay();
  return true;
}

/** "cam-1 at 10:01, 1280×720 px, 6 people blurred" from a snapshot status. */
function describe(status) {
  const blur =
    status.blur_method === "people"
      ? // regions, not a head count: the node blurs everything its detector finds at a low score
        `${status.people_blurred ?? 0} ${status.people_blurred === 1 ? "place" : "places"} where someone may be blurred`
      : status.blur_method === "frame"
        ? "whole picture blurred (the node had no person boxes)"
        : "not blurred";
  const when = status.captured_at ? ` at ${clockText(status.captured_at)}` : "";
  return `${status.camera}${when}, ${status.frame_width}×${status.frame_height} px, ${blur}`;
}

async function loadLatestSnapshot() {
  try {
    const latest = await api(`nodes/${state.site}/${state.node}/cameras/${state.camera}/snapshot`);
    if (state.taking) return; // a new one was asked for meanwhile
    const frame = { width: latest.frame_width, height: latest.frame_height };
    if (latest.status === "ready" && (await loadImage(frame, latest.request_id))) {
      showStatus(els.snapshotStatus, "ok", `Last snapshot: ${describe(latest)}. Take a new one if the view changed.`);
      return;
    }
  } catch (error) {
    if (error.status === 401) return;
  }
  if (state.taking) return;
  showStatus(els.snapshotStatus, "idle", "No picture yet: take a snapshot of the camera (people are blurred on the node unless you untick it).");
}

async function takeSnapshot() {
  if (!state.node || !state.camera) return;
  els.snapshot.disabled = true;
  state.taking = true;
  const blur = els.blur.checked;
  showStatus(els.snapshotStatus, "busy", `Asking ${state.node} for a picture of ${state.camera}${blur ? " (people blurred)" : ""}…`);
  try {
    const request = await api(`nodes/${state.site}/${state.node}/snapshot`, {
      method: "POST",
      body: { camera: state.camera, blur },
    });
    const deadline = Date.parse(request.expires_at) + 8000;
    for (;;) {
      const status = await api(request.status_url);
      if (status.status === "ready") {
        await loadImage({ width: status.frame_width, height: status.frame_height }, status.request_id);
        showStatus(els.snapshotStatus, "ok", `New snapshot: ${describe(status)}.`);
        break;
      }
      if (status.status !== "waiting" || Date.now() > deadline) {
        showStatus(els.snapshotStatus, "error", status.status === "waiting" ? `No answer from ${state.node}.` : status.message);
        break;
      }
      await new Promise((resolve) => window.setTimeout(resolve, POLL_MS));
    }
  } catch (error) {
    if (error.status !== 401) showStatus(els.snapshotStatus, "error", `No snapshot: ${error.message}`);
  } finally {
    state.taking = false;
    els.snapshot.disabled = false;
    // A sharp picture is one-off: the next one is blurred again unless ops untick it again.
    /** @type {HTMLInputElement} */ (els.blur).checked = true;
  }
}

// ------------------------------------------------------------------------------------ points
function framePoint(event) {
  const matrix = els.overlay.getScreenCTM();
  if (!matrix) return null;
  const pt = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
  const u = Math.min(Math.max(pt.x, 0), state.frame.width);
  const v = Math.min(Math.max(pt.y, 0), state.frame.height);
  return { u: round(u, 1), v: round(v, 1) };
}

function addPoint(event) {
  if (!state.frame || event.button !== 0) return;
  const at = framePoint(event);
  if (!at) return;
  event.preventDefault(); // no mousedown after it, whose default would take the focus back
  state.points.push({ ...at, x: null, y: null });
  renderAll();
  const inputs = els.pointsBody.querySelectorAll("input.floor-x");
  inputs[inputs.length - 1]?.focus();
}

let drag = null;

function startDrag(event, index) {
  event.stopPropagation();
  event.preventDefault();
  drag = { index, pointerId: event.pointerId };
  els.overlay.setPointerCapture(event.pointerId);
}

function moveDrag(event) {
  if (!drag || event.pointerId !== drag.pointerId) return;
  const at = framePoint(event);
  if (!at) return;
  Object.assign(state.points[drag.index], at);
  renderOverlay();
  renderPointImage(drag.index);
}

function endDrag(event) {
  if (!drag || event.pointerId !== drag.pointerId) return;
  drag = null;
  schedulePreview();
}

function removePoint(index) {
  state.points.splice(index, 1);
  renderAll();
  schedulePreview();
}

// A point's honest error: against a fit of the other points (leave-one-out). With fewer than 5 points it
// cannot be known, and the fit's own error (0 with 4 points, whatever they are) says nothing.
function pointError(index) {
  return state.preview?.points?.[index]?.holdout_cm;
}

function pointRow(point, index) {
  const error = pointError(index);
  const input = (cls, value, label) =>
    h("input", {
      class: `floor-input ${cls}`,
      type: "number",
      step: "0.01",
      inputmode: "decimal",
      "aria-label": label,
      value: finite(value) ? String(value) : "",
      oninput: (event) => {
        const raw = event.target.value.trim().replace(",", ".");
        const number = raw === "" ? null : Number(raw);
        point[cls === "floor-x" ? "x" : "y"] = Number.isFinite(number) ? number : null;
        schedulePreview();
      },
    });
  return h(
    "tr",
    { dataset: { index } },
    h("th", { scope: "row" }, h("span", { class: "point-badge" }, String(index))),
    h("td", { class: "num point-image" }, pixelText(point)),
    h("td", {}, input("floor-x", point.x, `Point ${index}: floor x in metres`)),
    h("td", {}, input("floor-y", point.y, `Point ${index}: floor y in metres`)),
    h("td", { class: "num point-error" }, finite(error) ? `${numberText(error, 1)} cm` : "–"),
    h("td", {}, h("button", { type: "button", class: "button button-quiet-dark button-small", "aria-label": `Remove point ${index}`, onclick: () => removePoint(index) }, "×")),
  );
}

function pixelText(point) {
  return `${point.u.toFixed(1)}, ${point.v.toFixed(1)}`;
}

function renderPointImage(index) {
  const cell = els.pointsBody.querySelector(`tr[data-index="${index}"] .point-image`);
  const p = state.points[index];
  if (cell) setText(cell, pixelText(p));
}

function renderPoints() {
  els.pointsBody.replaceChildren(...state.points.map(pointRow));
  els.pointsEmpty.hidden = state.points.length > 0;
  setText(els.pointCount, state.points.length);
  els.pointCount.dataset.count = String(state.points.length);
}

function renderErrors() {
  const rows = els.pointsBody.querySelectorAll("tr");
  rows.forEach((row, i) => {
    const error = pointError(i);
    const cell = row.querySelector(".point-error");
    setText(cell, finite(error) ? `${numberText(error, 1)} cm` : state.preview ? "unknown" : "–");
    cell.dataset.level = !finite(error) ? "" : error < 5 ? "ok" : error < 15 ? "warn" : "bad";
    row.dataset.worst = state.preview?.worst_point === i && state.preview.quality !== "good" ? "true" : "false";
  });
}

// ------------------------------------------------------------------------------------ overlay
function pathData(points) {
  let d = "";
  let pen = false;
  for (const p of points) {
    if (!p) {
      pen = false;
      continue;
    }
    d += `${pen ? "L" : "M"}${p[0]},${p[1]} `;
    pen = true;
  }
  return d.trim();
}

function renderOverlay() {
  if (!state.frame) return;
  const { width } = state.frame;
  // Markers about 9 screen pixels across, whatever the picture's size on screen.
  const perScreenPx = width / Math.max(1, els.overlay.clientWidth || width);
  const r = Math.max(width / 110, 9 * perScreenPx);
  const layers = [];
  const preview = state.preview;
  if (preview && els.showGrid.checked) {
    layers.push(svg("path", { class: "calib-floor-grid", d: preview.grid.map(pathData).join(" ") }));
  }
  if (preview && els.showZones.checked) {
    for (const zone of preview.zones) {
      const d = pathData(zone.image_path) + (zone.closed && zone.image_path.every(Boolean) ? " Z" : "");
      const path = svg("path", { class: `calib-zone calib-zone-${zone.kind}`, d, "data-zone": zone.id });
      const title = svg("title");
      title.textContent = zone.name || zone.id;
      path.append(title);
      layers.push(path);
    }
  }
  state.points.forEach((p, i) => {
    const fitted = preview?.points?.[i]?.image_fitted;
    const g = svg("g", { class: "calib-point", "data-index": i });
    if (fitted) {
      g.append(svg("line", { class: "calib-residual", x1: p.u, y1: p.v, x2: fitted[0], y2: fitted[1] }));
      g.append(svg("circle", { class: "calib-fitted", cx: fitted[0], cy: fitted[1], r: r * 0.45 }));
    }
    const marker = svg("circle", { class: "calib-marker", cx: p.u, cy: p.v, r, "data-complete": complete(p) ? "true" : "false" });
    marker.addEventListener("pointerdown", (event) => startDrag(event, i));
    const label = svg("text", { class: "calib-label", x: p.u + r * 1.3, y: p.v - r * 1.1, "font-size": r * 2.2, "stroke-width": r * 0.45 });
    label.textContent = String(i);
    g.append(marker, label);
    layers.push(g);
  });
  els.overlay.replaceChildren(...layers);
}

// ------------------------------------------------------------------------------------ preview
/** The points changed: forget the preview at once (saving or downloading a stale one would lie). */
function schedulePreview(delay = PREVIEW_DELAY_MS) {
  window.clearTimeout(state.previewTimer);
  state.previewSeq++; // an answer still on its way is for the old points: dropped
  if (state.preview || state.previewError) {
    state.preview = null;
    state.previewError = null;
    showResult("Checking the points…");
  }
  state.previewTimer = window.setTimeout(runPreview, delay);
}

function body() {
  return {
    image_points: state.points.map((p) => [p.u, p.v]),
    floor_points: state.points.map((p) => [p.x, p.y]),
  };
}

async function runPreview() {
  const seq = ++state.previewSeq;
  const ready = state.points.length >= 4 && state.points.every(complete);
  if (!ready || !state.camera) {
    state.preview = null;
    state.previewError = null;
    const missing = state.points.filter((p) => !complete(p)).length;
    showResult(
      state.points.length < 4
        ? `Add ${4 - state.points.length} more point${4 - state.points.length === 1 ? "" : "s"} (at least 4).`
        : `Type the floor coordinates of ${missing} point${missing === 1 ? "" : "s"}.`,
    );
    return;
  }
  try {
    const preview = await api(`nodes/${state.site}/${state.node}/cameras/${state.camera}/calibration/preview`, { method: "POST", body: body() });
    if (seq !== state.previewSeq) return;
    state.preview = preview;
    state.previewError = null;
  } catch (error) {
    if (seq !== state.previewSeq) return;
    state.preview = null;
    state.previewError = error instanceof ApiError ? error.message : String(error);
  }
  showResult();
}

function showResult(hint = null) {
  const preview = state.preview;
  els.error.hidden = !state.previewError;
  setText(els.error, state.previewError ?? "");
  els.result.dataset.quality = preview ? preview.quality : "none";
  setText(els.rms, preview ? errorText(preview) : "–");
  setText(els.advice, preview ? preview.advice : state.previewError ? "These points cannot be used: see below." : hint ?? "");
  els.save.disabled = !preview || state.waiting !== null;
  els.download.disabled = !preview;
  renderErrors();
  renderOverlay();
  for (const marker of els.overlay.querySelectorAll(".calib-marker")) {
    const i = Number(marker.parentElement.dataset.index);
    marker.dataset.complete = complete(state.points[i]) ? "true" : "false";
  }
}

function errorText(preview) {
  if (!finite(preview.holdout_error_cm)) return `unknown with ${preview.points.length} points (at least 6 needed)`;
  const worst = preview.worst_point;
  const at = finite(worst) ? ` · worst point ${worst}: ${numberText(preview.points[worst].holdout_cm, 1)} cm` : "";
  return `${numberText(preview.holdout_error_cm, 1)} cm RMS${at}`;
}

function renderAll() {
  renderPoints();
  renderOverlay();
  schedulePreview();
}

// ------------------------------------------------------------------------------------ saving
let live = null;

async function save() {
  if (!state.preview) return;
  const { site, node, camera } = state;
  els.save.disabled = true;
  showStatus(els.saveStatus, "busy", `Sending the calibration of ${camera} to ${node}…`);
  try {
    const before = await api(`nodes/${site}/${node}`);
    const pushed = await api(`nodes/${site}/${node}/cameras/${camera}/calibration`, { method: "POST", body: body() });
    showStatus(els.saveStatus, "busy", `Sent. Waiting for ${node} to apply it…`);
    state.waiting = waitForApplied({ site, node, eventId: pushed.event_id, refusedBefore: before.rejected_config });
    const result = await state.waiting.promise;
    if (result.state === "applied") {
      const at = result.at ? clockText(result.at) : clockText(new Date());
      showStatus(els.saveStatus, "ok", `Applied by the node at ${at}: ${node} now uses this calibration for ${camera} (config push ${pushed.event_id.slice(0, 8)}).`);
      toast(`${node} applied the calibration of ${camera}`, "info");
      state.config = await api(`nodes/${site}/${node}/config`);
    } else if (result.state === "refused") {
      showStatus(els.saveStatus, "error", `${node} refused the calibration: ${result.reason}`);
    } else {
      showStatus(els.saveStatus, "warn", `${node} has not confirmed within a minute. It applies the push when it reconnects (it is kept on the broker).`);
    }
  } catch (error) {
    if (error.status !== 401) showStatus(els.saveStatus, "error", `Not saved: ${error.message}`);
  } finally {
    state.waiting = null;
    els.save.disabled = !state.preview;
  }
}

function downloadYaml() {
  if (!state.preview) return;
  downloadText(`${state.site}-${state.node}-${state.camera}-calibration.yaml`, state.preview.yaml);
}

// ------------------------------------------------------------------------------------ start
// ------------------------------------------------------------------------------ agreement
function agreementRow(pair, within) {
  const verdict = pair.agree === null ? "cannot be checked" : pair.agree ? "agree" : "disagree";
  const worst = pair.worst_cm === null ? "–" : `${numberText(pair.worst_cm, 1)} cm`;
  const where = pair.marks.length
    ? pair.marks.map((m) => `(${m.floor.map((v) => numberText(v, 2)).join(", ")}) m: ${numberText(m.apart_cm, 1)} cm`).join("; ")
    : "no floor mark both were calibrated on";
  return h(
    "tr",
    { dataset: { cameras: pair.cameras.join(" "), verdict } },
    h("td", {}, pair.cameras.join(" + ")),
    h("td", {}, [...new Set(pair.nodes)].join(", ")),
    h("td", { class: "num" }, String(pair.marks.length)),
    h("td", { class: "num", title: where }, worst),
    h(
      "td",
      { class: "agreement-verdict" },
      pair.agree === null
        ? "Share no floor mark: calibrate both on some of the same marks to check them"
        : pair.agree
          ? `Agree (within ${numberText(within, 0)} cm)`
          : `Disagree by ${numberText(pair.worst_cm, 1)} cm: one person may be counted twice`,
    ),
  );
}

async function loadAgreement() {
  let body;
  try {
    body = await api(`sites/${state.site}/cameras`);
  } catch (error) {
    if (error.status !== 401) setText(els.agreementNote, `could not load: ${error.message}`);
    return;
  }
  setText(els.agreeWithin, numberText(body.agree_within_cm, 0));
  els.agreementBody.replaceChildren(...body.agreement.map((pair) => agreementRow(pair, body.agree_within_cm)));
  els.agreementEmpty.hidden = body.agreement.length > 0;
  const bad = body.agreement.filter((p) => p.agree === false).length;
  setText(els.agreementNote, body.agreement.length ? (bad ? `${bad} pair${bad === 1 ? "" : "s"} disagree` : "all checked pairs agree") : "");
}

async function main() {
  state.site = await chooseSite();
  if (!state.site) {
    showStatus(els.snapshotStatus, "warn", "No hall has reported yet: start an edge node first.");
    return;
  }
  try {
    state.nodes = await siteNodes(state.site);
  } catch (error) {
    if (error.status !== 401) toast(`Could not load the nodes: ${error.message}`, "error");
    return;
  }
  if (!state.nodes.length) {
    showStatus(els.snapshotStatus, "warn", "No edge node has reported for this hall yet.");
    els.snapshot.disabled = true;
    return;
  }
  const node = fillSelect(
    els.node,
    state.nodes.map((n) => ({ value: n.node, label: `${n.node} (${nodeState(n).label.toLowerCase()})` })),
    urlParam("node"),
  );
  els.node.addEventListener("change", () => selectNode(els.node.value));
  els.camera.addEventListener("change", () => selectCamera(els.camera.value));
  els.snapshot.addEventListener("click", takeSnapshot);
  els.overlay.addEventListener("pointerdown", addPoint);
  els.overlay.addEventListener("pointermove", moveDrag);
  els.overlay.addEventListener("pointerup", endDrag);
  els.overlay.addEventListener("pointercancel", endDrag);
  els.clear.addEventListener("click", () => {
    state.points = [];
    renderAll();
  });
  els.save.addEventListener("click", save);
  els.download.addEventListener("click", downloadYaml);
  els.showZones.addEventListener("change", renderOverlay);
  els.showGrid.addEventListener("change", renderOverlay);
  window.addEventListener("resize", renderOverlay);
  live = new LiveConnection({ topics: ["nodes", "occupancy"], site: state.site });
  live.on("layout", (msg) => {
    if (msg.node === state.node) state.waiting?.poke();
    loadAgreement(); // a calibration changed somewhere in the hall
  });
  live.on("node", (msg) => {
    if (msg.node === state.node && msg.health) state.waiting?.poke();
  });
  live.start();
  els.snapshotStatus.title = `Hall ${state.site}, ${dateTimeText(new Date())}`;
  loadAgreement();
  await selectNode(node);
}

main();
