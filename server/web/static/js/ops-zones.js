// @ts-check
// Ops: a node's zones on the floor plan, in metres. Drag corners, add corners on edges, add and
// remove zones, set each zone's kind, limit and window, then save: the node's whole zone list goes
// out as one config push, and the page says when the node has applied it. Under the zones, each
// camera's coverage (where it sees well, from its node's layout) and where coverages overlap, so a
// zone can be drawn where cameras see it, and a zone split between cameras shows. A window that
// overlaps another window or a queue (someone there would count in both) is named before saving.

import { ApiError, api } from "./api.js";
import { h, setText } from "./dom.js";
import { clockText, numberText } from "./format.js";
import { LiveConnection } from "./live.js";
import { fillSelect, nodeState, problemText, setUrlParams, showStatus, siteNodes, urlParam, waitForApplied } from "./ops-common.js";
import { chooseSite, toast } from "./shell.js";

const SVG = "http://www.w3.org/2000/svg";
const SNAP_M = 0.05;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const KIND_LABELS = { window: "Window", queue: "Queue", hall: "Hall", entrance: "Entrance line" };
const KIND_ORDER = { hall: 0, queue: 1, window: 2, entrance: 3 };

// `any` for the checker: the page knows which kind of element (input, table, svg) each id names.
/** @type {(id: string) => any} */
const $ = (id) => document.getElementById(id);
const els = {
  node: $("zones-node"),
  plan: $("zone-editor"),
  list: $("zone-list"),
  count: $("zone-count"),
  form: $("zone-form"),
  formTitle: $("zone-form-title"),
  id: $("zone-id"),
  kind: $("zone-kind"),
  name: $("zone-name"),
  limitField: $("zone-limit-field"),
  limitLabel: $("zone-limit-label"),
  limit: $("zone-limit"),
  windowField: $("zone-window-field"),
  window: $("zone-window"),
  pointsNote: $("zone-points-note"),
  removeVertex: $("remove-vertex"),
  deleteZone: $("delete-zone"),
  error: $("zones-error"),
  save: $("zones-save"),
  revert: $("zones-revert"),
  status: $("zones-status"),
  dirty: $("dirty-note"),
  cursor: $("cursor-note"),
  showCoverage: $("show-coverage"),
  overlap: $("zones-overlap"),
  overlapText: $("zones-overlap-text"),
  coverageNote: $("coverage-note"),
};

const state = {
  site: null,
  node: null,
  nodes: [],
  zones: [],
  original: "[]",
  others: [], // other nodes' zones (read-only, for context)
  cameras: { cameras: [], overlaps: [] }, // the site's cameras on the floor: coverage and overlaps
  selected: -1,
  vertex: -1, // selected corner of the selected zone (or 0/1: entrance ends, "inside")
  view: { x: -1, y: -1, w: 12, h: 10 },
  waiting: null,
  overlapsSeen: "", // the overlaps ops were shown and chose to save anyway (JSON of their names)
};

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

const snap = (v) => Math.round(v / SNAP_M) * SNAP_M;
const fix = (v) => Math.round(v * 1000) / 1000;
const clone = (value) => JSON.parse(JSON.stringify(value));
const pointsOf = (zone) => (zone.kind === "entrance" ? zone.line : zone.polygon) ?? [];

// ------------------------------------------------------------------------------------ loading
async function selectNode(node) {
  state.node = node;
  setUrlParams({ site: state.site, node });
  clearError();
  try {
    const [config, layout, cameras] = await Promise.all([
      api(`nodes/${state.site}/${node}/config`),
      api(`sites/${state.site}/layout`),
      api(`sites/${state.site}/cameras`).catch(() => ({ cameras: [], overlaps: [] })),
    ]);
    state.zones = clone(config.zones);
    state.original = JSON.stringify(config.zones);
    state.others = layout.zones.filter((z) => z.node !== node);
    state.cameras = cameras;
  } catch (error) {
    state.zones = [];
    state.original = "[]";
    state.others = [];
    if (error.status !== 401) showError(error.message);
  }
  state.selected = -1;
  state.vertex = -1;
  fitView();
  render();
}

function fitView() {
  const pts = [...state.zones.flatMap(pointsOf), ...state.others.flatMap((z) => (z.line ?? z.polygon ?? []))];
  if (!pts.length) {
    state.view = { x: -1, y: -1, w: 14, h: 10 };
  } else {
    const xs = pts.map((p) => p[0]);
    const ys = pts.map((p) => p[1]);
    const minX = Math.min(...xs) - 1;
    const minY = Math.min(...ys) - 1;
    state.view = { x: minX, y: minY, w: Math.max(8, Math.max(...xs) + 1 - minX), h: Math.max(6, Math.max(...ys) + 1 - minY) };
  }
  const { x, y, w, h: height } = state.view;
  els.plan.setAttribute("viewBox", `${x} ${y} ${w} ${height}`);
  els.plan.style.aspectRatio = `${w} / ${height}`;
}

// ------------------------------------------------------------------------------------ drawing
/** Metres per screen pixel on the plan now. */
function perPixel() {
  return state.view.w / Math.max(1, els.plan.clientWidth || 600);
}

/** The plan's drawing unit (metres): a sixtieth of the floor, and never under 7 screen pixels. */
function unit() {
  return Math.max(Math.max(state.view.w, state.view.h) / 60, 7 * perPixel());
}

/** A handle's radius (metres): at least 11 screen pixels, so that a finger can take it. */
function handleRadius() {
  return Math.max(unit() * 0.6, 11 * perPixel());
}

function gridLayer() {
  const { x, y, w, h: height } = state.view;
  const g = svg("g", { class: "grid" });
  for (let gx = Math.ceil(x); gx <= x + w; gx++) {
    g.append(svg("line", { x1: gx, y1: y, x2: gx, y2: y + height, class: gx % 5 === 0 ? "grid-major" : "grid-minor" }));
  }
  for (let gy = Math.ceil(y); gy <= y + height; gy++) {
    g.append(svg("line", { x1: x, y1: gy, x2: x + w, y2: gy, class: gy % 5 === 0 ? "grid-major" : "grid-minor" }));
  }
  const u = unit();
  for (let gx = Math.ceil(x / 5) * 5; gx <= x + w; gx += 5) {
    const text = `${gx} m`;
    // A label that would run past the plan's right edge ("15 r") ends at its line instead.
    const past = gx + u * 0.3 + textWidth(text, u * 1.1) > x + w;
    const t = svg("text", { x: past ? gx - u * 0.3 : gx + u * 0.3, y: y + u * 1.4, class: "grid-label", "font-size": u * 1.1, "text-anchor": past ? "end" : "start" });
    t.textContent = text;
    g.append(t);
  }
  for (let gy = Math.ceil(y / 5) * 5; gy <= y + height; gy += 5) {
    if (gy === Math.ceil(y / 5) * 5 && gy < y + u * 2) continue;
    const t = svg("text", { x: x + u * 0.3, y: gy - u * 0.3, class: "grid-label", "font-size": u * 1.1 });
    t.textContent = `${gy} m`;
    g.append(t);
  }
  return g;
}

/** A generous estimate of a label's width on the plan (the SVG is not laid out yet when drawn). */
function textWidth(text, fontSize) {
  return text.length * fontSize * 0.62;
}

function zoneShape(zone, index, { other = false } = {}) {
  const pts = other ? (zone.kind === "entrance" ? zone.line : zone.polygon) ?? [] : pointsOf(zone);
  const cls = `ed-zone ed-${zone.kind}${other ? " ed-other" : ""}${index === state.selected ? " ed-selected" : ""}`;
  const el =
    zone.kind === "entrance"
      ? svg("line", { class: cls, x1: pts[0]?.[0], y1: pts[0]?.[1], x2: pts[1]?.[0], y2: pts[1]?.[1] })
      : svg("polygon", { class: cls, points: pts.map((p) => p.join(",")).join(" ") });
  if (!other) {
    el.dataset.index = index;
    el.dataset.zone = zone.id;
    el.addEventListener("pointerdown", (event) => {
      event.stopPropagation();
      select(index);
      startMove(event, index);
    });
    if (index === state.selected) {
      el.setAttribute("tabindex", "0");
      el.setAttribute("role", "button");
      el.setAttribute("aria-label", `${zone.name || zone.id}: drag to move the whole zone, or use the arrow keys (Shift: 50 cm)`);
      el.addEventListener("keydown", (event) => nudgeZone(event));
    }
  }
  const title = svg("title");
  title.textContent = `${zone.name || zone.id || zone.zone}${other ? ` (node ${zone.node})` : ""}`;
  el.append(title);
  return el;
}

function labelFor(zone) {
  const pts = pointsOf(zone);
  if (!pts.length) return null;
  const u = unit();
  const cx = pts.reduce((s, p) => s + p[0], 0) / pts.length;
  const cy = pts.reduce((s, p) => s + p[1], 0) / pts.length;
  const t = svg("text", { class: "ed-label", x: cx, y: zone.kind === "entrance" ? cy - u : cy, "font-size": u * 1.15, "stroke-width": u * 0.3 });
  if (zone.kind === "hall") {
    const minX = Math.min(...pts.map((p) => p[0]));
    const minY = Math.min(...pts.map((p) => p[1]));
    t.setAttribute("x", minX + u * 0.5);
    t.setAttribute("y", minY + u * 1.5);
    t.setAttribute("text-anchor", "start");
  }
  t.textContent = zone.name || zone.id;
  return t;
}

function handles(zone) {
  const g = svg("g", { class: "handles" });
  const u = unit();
  const pts = pointsOf(zone);
  if (zone.kind !== "entrance") {
    pts.forEach((p, i) => {
      const q = pts[(i + 1) % pts.length];
      const mid = svg("g", { class: "ed-insert", "data-after": i });
      mid.append(svg("circle", { cx: (p[0] + q[0]) / 2, cy: (p[1] + q[1]) / 2, r: handleRadius() * 0.8 }));
      const plus = svg("text", { x: (p[0] + q[0]) / 2, y: (p[1] + q[1]) / 2, "font-size": handleRadius() * 1.5 });
      plus.textContent = "+";
      mid.append(plus);
      const title = svg("title");
      title.textContent = "Add a corner here";
      mid.append(title);
      mid.addEventListener("pointerdown", (event) => {
        event.stopPropagation();
        pts.splice(i + 1, 0, [fix((p[0] + q[0]) / 2), fix((p[1] + q[1]) / 2)]);
        state.vertex = i + 1;
        startDrag(event, i + 1);
        render();
      });
      g.append(mid);
    });
  }
  pts.forEach((p, i) => {
    const c = svg("circle", {
      class: `ed-vertex${i === state.vertex ? " ed-vertex-selected" : ""}`,
      cx: p[0],
      cy: p[1],
      r: handleRadius(),
      "data-vertex": i,
      tabindex: 0,
      role: "button",
      "aria-label": `Corner ${i + 1} of ${zone.id} at ${numberText(p[0], 2)}, ${numberText(p[1], 2)} m`,
    });
    c.addEventListener("pointerdown", (event) => {
      event.stopPropagation();
      state.vertex = i;
      startDrag(event, i);
      renderForm();
    });
    c.addEventListener("keydown", (event) => nudge(event, i));
    g.append(c);
  });
  if (zone.kind === "entrance" && zone.inside) {
    const [x, y] = zone.inside;
    const d = svg("rect", { class: "ed-inside", x: x - u * 0.45, y: y - u * 0.45, width: u * 0.9, height: u * 0.9, "data-vertex": "inside" });
    const title = svg("title");
    title.textContent = "The hall's side of the line";
    d.append(title);
    d.addEventListener("pointerdown", (event) => {
      event.stopPropagation();
      startDrag(event, "inside");
    });
    g.append(d);
  }
  return g;
}

/** Each camera's coverage (dashed outline, named) and the overlaps of two cameras' (hatched). */
function coverageLayer() {
  const g = svg("g", { class: "coverage-layer" });
  g.style.display = els.showCoverage?.checked === false ? "none" : "";
  const u = unit();
  for (const cam of state.cameras.cameras) {
    if (!cam.coverage || cam.coverage.length < 3) continue;
    const mine = state.nodes.length < 2 || cam.node === state.node;
    const poly = svg("polygon", {
      class: `coverage${mine ? "" : " coverage-other"}`,
      points: cam.coverage.map((p) => p.join(",")).join(" "),
      "data-camera": cam.camera,
      "data-node": cam.node,
    });
    const title = svg("title");
    title.textContent = `${cam.camera} (node ${cam.node}) sees people well here`;
    poly.append(title);
    g.append(poly);
  }
  for (const overlap of state.cameras.overlaps) {
    const poly = svg("polygon", {
      class: "coverage-overlap",
      points: overlap.polygon.map((p) => p.join(",")).join(" "),
      "data-cameras": overlap.cameras.join(" "),
    });
    const title = svg("title");
    title.textContent = `${overlap.cameras.join(" and ")} both see here (${numberText(overlap.area_m2, 1)} m²): someone here is one person`;
    poly.append(title);
    g.append(poly);
  }
  for (const cam of state.cameras.cameras) {
    if (!cam.coverage || cam.coverage.length < 3) continue;
    const [x, y] = [Math.min(...cam.coverage.map((p) => p[0])), Math.min(...cam.coverage.map((p) => p[1]))];
    const label = svg("text", { class: "coverage-label", x: x + u * 0.4, y: y + u * 1.2, "font-size": u * 0.95, "data-camera": cam.camera });
    label.textContent = cam.camera;
    g.append(label);
  }
  return g;
}

function renderCoverageNote() {
  if (!els.coverageNote) return;
  const known = state.cameras.cameras.filter((c) => c.coverage && c.coverage.length >= 3);
  const unknown = state.cameras.cameras.filter((c) => !c.coverage).map((c) => c.camera);
  const parts = [`${known.length} camera${known.length === 1 ? "" : "s"} drawn, ${state.cameras.overlaps.length} overlap${state.cameras.overlaps.length === 1 ? "" : "s"}`];
  if (unknown.length) parts.push(`not known yet: ${unknown.join(", ")} (its node says once it has a frame)`);
  setText(els.coverageNote, `${parts.join("; ")}.`);
}

function renderPlan() {
  const layers = [gridLayer(), coverageLayer()];
  const others = svg("g", { class: "others" });
  for (const zone of [...state.others].sort((a, b) => (KIND_ORDER[a.kind] ?? 9) - (KIND_ORDER[b.kind] ?? 9))) others.append(zoneShape(zone, -1, { other: true }));
  layers.push(others);
  const order = state.zones.map((z, i) => [z, i]).sort((a, b) => (KIND_ORDER[a[0].kind] ?? 9) - (KIND_ORDER[b[0].kind] ?? 9));
  const shapes = svg("g", { class: "zones" });
  const labels = svg("g", { class: "labels" });
  for (const [zone, i] of order) {
    shapes.append(zoneShape(zone, i));
    const label = labelFor(zone);
    if (label) labels.append(label);
  }
  const overlaps = svg("g", { class: "zone-overlaps" });
  for (const overlap of zoneOverlaps()) {
    for (const i of [overlap.a, overlap.b]) {
      const pts = pointsOf(state.zones[i]);
      overlaps.append(svg("polygon", { class: "ed-overlap", points: pts.map((p) => p.join(",")).join(" "), "data-zone": state.zones[i].id }));
    }
  }
  layers.push(shapes, overlaps, labels);
  if (state.selected >= 0) layers.push(handles(state.zones[state.selected]));
  els.plan.replaceChildren(...layers);
}

function zoneSummary(zone) {
  const parts = [KIND_LABELS[zone.kind]];
  if (zone.kind === "window" || zone.kind === "queue") parts.push(zone.max_people ? `max ${zone.max_people}` : "no limit");
  if (zone.kind === "queue") parts.push(`for ${zone.window || "?"}`);
  if (zone.kind === "hall") parts.push(`capacity ${zone.capacity ?? "?"}`);
  return parts.join(" · ");
}

function renderList() {
  setText(els.count, state.zones.length);
  els.list.replaceChildren(
    ...state.zones.map((zone, i) =>
      h(
        "li",
        {},
        h(
          "button",
          { type: "button", class: "zone-item", "aria-pressed": i === state.selected ? "true" : "false", dataset: { kind: zone.kind, zone: zone.id }, onclick: () => select(i) },
          h("span", { class: "zone-item-name" }, zone.name || zone.id || "(no id)"),
          h("span", { class: "zone-item-meta" }, `${zone.id} · ${zoneSummary(zone)}`),
        ),
      ),
    ),
  );
}

function renderForm() {
  const zone = state.zones[state.selected];
  els.form.hidden = !zone;
  if (!zone) return;
  setText(els.formTitle, `${KIND_LABELS[zone.kind]} ${zone.id}`);
  if (document.activeElement !== els.id) els.id.value = zone.id;
  if (document.activeElement !== els.name) els.name.value = zone.name ?? "";
  els.kind.value = zone.kind;
  const limited = zone.kind !== "entrance";
  els.limitField.hidden = !limited;
  setText(els.limitLabel, zone.kind === "hall" ? "Capacity (people)" : zone.kind === "queue" ? "Max people in the queue (empty: no limit)" : "Max people at the window");
  const limit = zone.kind === "hall" ? zone.capacity : zone.max_people;
  if (document.activeElement !== els.limit) els.limit.value = limit ?? "";
  els.windowField.hidden = zone.kind !== "queue";
  if (zone.kind === "queue") {
    const windows = state.zones.filter((z) => z.kind === "window").map((z) => ({ value: z.id, label: z.name ? `${z.name} (${z.id})` : z.id }));
    fillSelect(els.window, [{ value: "", label: "— choose —" }, ...windows], zone.window ?? "");
  }
  const pts = pointsOf(zone);
  setText(
    els.pointsNote,
    zone.kind === "entrance"
      ? `From ${pts[0]?.map((v) => numberText(v, 2)).join(", ")} m to ${pts[1]?.map((v) => numberText(v, 2)).join(", ")} m.`
      : `${pts.length} corners.${state.vertex >= 0 && pts[state.vertex] ? ` Selected: corner ${state.vertex + 1} at ${pts[state.vertex].map((v) => numberText(v, 2)).join(", ")} m.` : ""}`,
  );
  els.removeVertex.disabled = zone.kind === "entrance" || state.vertex < 0 || pts.length <= 3;
}

function render() {
  renderPlan();
  renderCoverageNote();
  renderList();
  renderForm();
  const dirty = JSON.stringify(state.zones) !== state.original;
  renderOverlapWarning();
  els.dirty.hidden = !dirty;
  els.save.disabled = !dirty || state.waiting !== null;
  els.revert.disabled = !dirty;
}

// ------------------------------------------------------------------------------------ editing
function select(index) {
  if (state.selected !== index) state.vertex = -1;
  state.selected = index;
  render();
}

let drag = null;

function floorPoint(event) {
  const matrix = els.plan.getScreenCTM();
  if (!matrix) return null;
  const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
  return [fix(snap(p.x)), fix(snap(p.y))];
}

function startDrag(event, vertex) {
  event.preventDefault();
  drag = { vertex, pointerId: event.pointerId };
  els.plan.setPointerCapture(event.pointerId);
}

/** Start moving a whole zone: every corner (and an entrance's inside mark) by the pointer's way. */
function startMove(event, index) {
  const at = floorPoint(event);
  if (!at) return;
  const zone = state.zones[index];
  drag = { vertex: "zone", pointerId: event.pointerId, from: at, points: clone(pointsOf(zone)), inside: zone.inside ? [...zone.inside] : null };
  els.plan.setPointerCapture(event.pointerId);
}

/** Move the selected zone by (dx, dy) metres from the corners it had (`points`, `inside`). */
function shiftZone(zone, points, inside, dx, dy) {
  const target = pointsOf(zone);
  points.forEach((p, i) => {
    target[i] = [fix(p[0] + dx), fix(p[1] + dy)];
  });
  if (inside && zone.inside) zone.inside = [fix(inside[0] + dx), fix(inside[1] + dy)];
}

function onMove(event) {
  const at = floorPoint(event);
  if (at) setText(els.cursor, `x ${numberText(at[0], 2)} m, y ${numberText(at[1], 2)} m`);
  if (!drag || event.pointerId !== drag.pointerId || !at) return;
  const zone = state.zones[state.selected];
  if (drag.vertex === "zone") {
    const [dx, dy] = [fix(at[0] - drag.from[0]), fix(at[1] - drag.from[1])];
    if (!dx && !dy && !drag.moved) return; // a click selects; only a drag moves
    drag.moved = true;
    shiftZone(zone, drag.points, drag.inside, dx, dy);
  } else if (drag.vertex === "inside") zone.inside = at;
  else pointsOf(zone)[drag.vertex] = at;
  renderPlan();
  renderForm();
}

function onUp(event) {
  if (!drag || event.pointerId !== drag.pointerId) return;
  drag = null;
  render();
}

function nudge(event, vertex) {
  const steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  const step = steps[event.key];
  if (!step) return;
  event.preventDefault();
  const by = event.shiftKey ? 0.5 : SNAP_M;
  const p = pointsOf(state.zones[state.selected])[vertex];
  p[0] = fix(p[0] + step[0] * by);
  p[1] = fix(p[1] + step[1] * by);
  state.vertex = vertex;
  render();
  els.plan.querySelector(`[data-vertex="${vertex}"]`)?.focus();
}

function nudgeZone(event) {
  const steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  const step = steps[event.key];
  if (!step) return;
  event.preventDefault();
  const by = event.shiftKey ? 0.5 : SNAP_M;
  const zone = state.zones[state.selected];
  shiftZone(zone, clone(pointsOf(zone)), zone.inside ? [...zone.inside] : null, step[0] * by, step[1] * by);
  render();
  els.plan.querySelector(`.zones [data-index="${state.selected}"]`)?.focus();
}

// ------------------------------------------------------------------------------------ overlaps
const OVERLAP_STEP_M = 0.05;
const OVERLAP_MIN_M2 = 0.02; // less is a shared edge, not a shared floor

function insidePolygon(x, y, polygon) {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The floor two polygons share (m²), counted on a 5 cm grid: exact enough to warn, for any shape. */
function sharedArea(a, b) {
  const box = (pts) => [Math.min(...pts.map((p) => p[0])), Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[1]))];
  const [ax0, ay0, ax1, ay1] = box(a);
  const [bx0, by0, bx1, by1] = box(b);
  const [x0, y0, x1, y1] = [Math.max(ax0, bx0), Math.max(ay0, by0), Math.min(ax1, bx1), Math.min(ay1, by1)];
  if (x0 >= x1 || y0 >= y1) return 0;
  let cells = 0;
  for (let x = x0 + OVERLAP_STEP_M / 2; x < x1; x += OVERLAP_STEP_M) {
    for (let y = y0 + OVERLAP_STEP_M / 2; y < y1; y += OVERLAP_STEP_M) {
      if (insidePolygon(x, y, a) && insidePolygon(x, y, b)) cells++;
    }
  }
  return cells * OVERLAP_STEP_M * OVERLAP_STEP_M;
}

/**
 * This node's zones that share floor where they should not: a window with another window or a
 * queue, or two queues (someone standing there counts in both). The hall holds them all by design.
 * @returns {{a: number, b: number, area: number}[]}
 */
function zoneOverlaps() {
  const found = [];
  const counted = (z) => (z.kind === "window" || z.kind === "queue") && (z.polygon?.length ?? 0) >= 3;
  for (let a = 0; a < state.zones.length; a++) {
    for (let b = a + 1; b < state.zones.length; b++) {
      const [za, zb] = [state.zones[a], state.zones[b]];
      if (!counted(za) || !counted(zb)) continue;
      const area = sharedArea(za.polygon, zb.polygon);
      if (area >= OVERLAP_MIN_M2) found.push({ a, b, area });
    }
  }
  return found;
}

function overlapText(overlaps) {
  const name = (z) => z.name || z.id;
  return overlaps.map((o) => `${name(state.zones[o.a])} and ${name(state.zones[o.b])} share ${numberText(o.area, 2)} m²`).join("; ");
}

function renderOverlapWarning() {
  const overlaps = zoneOverlaps();
  els.overlap.hidden = !overlaps.length;
  if (!overlaps.length) {
    state.overlapsSeen = "";
    setText(els.save, "Save to node");
    return;
  }
  setText(els.overlapText, `${overlapText(overlaps)}: someone standing there counts in both.`);
  const seen = state.overlapsSeen === JSON.stringify(overlaps.map((o) => [state.zones[o.a].id, state.zones[o.b].id]));
  setText(els.save, seen ? "Save anyway" : "Save to node");
}

function freeId(prefix) {
  const ids = new Set(state.zones.map((z) => z.id));
  for (let n = 1; ; n++) if (!ids.has(`${prefix}${n}`)) return `${prefix}${n}`;
}

/**
 * Where a new window or queue of half-size (hw, hh) goes: the free floor nearest the plan's centre
 * (no window or queue under it), else the centre itself.
 */
function freeCentre(hw, hh) {
  const { x, y, w, h: height } = state.view;
  const centre = [snap(x + w / 2), snap(y + height / 2)];
  const counted = state.zones.filter((z) => (z.kind === "window" || z.kind === "queue") && (z.polygon?.length ?? 0) >= 3);
  const candidates = [];
  for (let cx = x + hw + 0.5; cx <= x + w - hw - 0.5; cx += 0.5) {
    for (let cy = y + hh + 0.5; cy <= y + height - hh - 0.5; cy += 0.5) candidates.push([snap(cx), snap(cy)]);
  }
  candidates.sort((a, b) => Math.hypot(a[0] - centre[0], a[1] - centre[1]) - Math.hypot(b[0] - centre[0], b[1] - centre[1]));
  const box = ([cx, cy]) => [[cx - hw, cy - hh], [cx + hw, cy - hh], [cx + hw, cy + hh], [cx - hw, cy + hh]];
  return candidates.find((c) => counted.every((z) => sharedArea(box(c), z.polygon) < OVERLAP_MIN_M2)) ?? centre;
}

function addZone(kind) {
  const { x, y, w, h: height } = state.view;
  const [cx, cy] = kind === "window" ? freeCentre(1, 0.75) : kind === "queue" ? freeCentre(0.75, 1.5) : [snap(x + w / 2), snap(y + height / 2)];
  let zone;
  const count = (k) => state.zones.filter((z) => z.kind === k).length + 1;
  if (kind === "window") {
    const id = freeId("w");
    zone = { id, kind, name: `Window ${count("window")}`, polygon: [[cx - 1, cy - 0.75], [cx + 1, cy - 0.75], [cx + 1, cy + 0.75], [cx - 1, cy + 0.75]], max_people: 2 };
  } else if (kind === "queue") {
    const window = state.zones.find((z) => z.kind === "window")?.id ?? "";
    const id = freeId("q");
    zone = { id, kind, name: `Queue ${count("queue")}`, window, polygon: [[cx - 0.75, cy - 1.5], [cx + 0.75, cy - 1.5], [cx + 0.75, cy + 1.5], [cx - 0.75, cy + 1.5]], max_people: 6 };
  } else if (kind === "hall") {
    if (state.zones.some((z) => z.kind === "hall")) {
      toast("This node already has a hall zone: a site has only one.", "error");
      return;
    }
    zone = { id: "hall", kind, name: "Hall", polygon: [[x + 0.5, y + 0.5], [x + w - 0.5, y + 0.5], [x + w - 0.5, y + height - 0.5], [x + 0.5, y + height - 0.5]].map((p) => p.map((v) => fix(snap(v)))), capacity: 50 };
  } else {
    const id = freeId("door-");
    zone = { id, kind: "entrance", name: "Entrance", line: [[cx - 1, cy], [cx + 1, cy]] };
  }
  state.zones.push(zone);
  select(state.zones.length - 1);
  els.id.focus();
}

function changeKind(kind) {
  const zone = state.zones[state.selected];
  if (!zone || zone.kind === kind) return;
  const pts = pointsOf(zone);
  const next = { id: zone.id, kind };
  if (zone.name) next.name = zone.name;
  if (zone.cameras) next.cameras = zone.cameras;
  if (kind === "entrance") {
    next.line = [pts[0], pts[1]].map((p) => [...p]);
  } else {
    if (zone.kind === "entrance") {
      const [[x1, y1], [x2, y2]] = pts;
      next.polygon = [[x1, y1], [x2, y2], [x2, fix(y2 + 1)], [x1, fix(y1 + 1)]];
    } else {
      next.polygon = pts;
    }
    if (kind === "hall") next.capacity = zone.capacity ?? 50;
    else next.max_people = zone.max_people ?? (kind === "window" ? 2 : 6);
    if (kind === "queue") next.window = state.zones.find((z) => z.kind === "window")?.id ?? "";
  }
  state.zones[state.selected] = next;
  state.vertex = -1;
  render();
}

function bindForm() {
  els.id.addEventListener("input", () => {
    const zone = state.zones[state.selected];
    const old = zone.id;
    zone.id = els.id.value.trim();
    els.id.setCustomValidity(ID_PATTERN.test(zone.id) ? "" : "Letters, digits, '.', '_' and '-' only");
    for (const z of state.zones) if (z.kind === "queue" && z.window === old && old) z.window = zone.id;
    render();
  });
  els.name.addEventListener("input", () => {
    const zone = state.zones[state.selected];
    if (els.name.value.trim()) zone.name = els.name.value.trim();
    else delete zone.name;
    render();
  });
  els.kind.addEventListener("change", () => changeKind(els.kind.value));
  els.limit.addEventListener("input", () => {
    const zone = state.zones[state.selected];
    const value = els.limit.value === "" ? null : Math.round(Number(els.limit.value));
    const field = zone.kind === "hall" ? "capacity" : "max_people";
    if (value === null || !Number.isFinite(value)) delete zone[field];
    else zone[field] = value;
    render();
  });
  els.window.addEventListener("change", () => {
    state.zones[state.selected].window = els.window.value;
    render();
  });
  els.removeVertex.addEventListener("click", () => {
    const zone = state.zones[state.selected];
    if (!zone || state.vertex < 0 || zone.polygon.length <= 3) return;
    zone.polygon.splice(state.vertex, 1);
    state.vertex = -1;
    render();
  });
  els.deleteZone.addEventListener("click", () => {
    if (state.selected < 0) return;
    state.zones.splice(state.selected, 1);
    state.selected = -1;
    state.vertex = -1;
    render();
  });
  els.form.addEventListener("submit", (event) => event.preventDefault());
}

// ------------------------------------------------------------------------------------ saving
function showError(text) {
  els.error.hidden = false;
  setText(els.error, text);
}

function clearError() {
  els.error.hidden = true;
  setText(els.error, "");
}

function payload() {
  return state.zones.map((zone) => {
    const z = clone(zone);
    if (z.kind === "queue" && !z.window) delete z.window; // the server names the problem
    return z;
  });
}

async function save() {
  clearError();
  const overlaps = zoneOverlaps();
  const names = JSON.stringify(overlaps.map((o) => [state.zones[o.a].id, state.zones[o.b].id]));
  if (overlaps.length && state.overlapsSeen !== names) {
    // Named first; a second press saves them as they are (a deliberate overlap is allowed).
    state.overlapsSeen = names;
    render();
    els.overlap.scrollIntoView({ block: "nearest" });
    els.overlap.focus();
    return;
  }
  const { site, node } = state;
  els.save.disabled = true;
  showStatus(els.status, "busy", `Sending ${state.zones.length} zones to ${node}…`);
  try {
    const before = await api(`nodes/${site}/${node}`);
    const pushed = await api(`nodes/${site}/${node}/zones`, { method: "POST", body: { zones: payload() } });
    showStatus(els.status, "busy", `Sent. Waiting for ${node} to apply it…`);
    state.waiting = waitForApplied({ site, node, eventId: pushed.event_id, refusedBefore: before.rejected_config });
    const result = await state.waiting.promise;
    state.waiting = null;
    if (result.state === "applied") {
      // The page shows the node's zones again before it says so: what is on screen is what runs.
      const selected = state.zones[state.selected]?.id;
      await selectNode(node);
      const again = state.zones.findIndex((z) => z.id === selected);
      if (again >= 0) select(again);
      state.overlapsSeen = ""; // the next save with overlaps names them again
      const at = result.at ? clockText(result.at) : clockText(new Date());
      showStatus(els.status, "ok", `Applied by the node at ${at} (config push ${pushed.event_id.slice(0, 8)}).`);
      toast(`${node} applied the new zones`, "info");
    } else if (result.state === "refused") {
      showStatus(els.status, "error", `${node} refused the zones: ${result.reason}`);
    } else {
      showStatus(els.status, "warn", `${node} has not confirmed within a minute. It applies the push when it reconnects (it is kept on the broker).`);
    }
  } catch (error) {
    state.waiting = null;
    els.status.hidden = true;
    if (error instanceof ApiError && error.status !== 401) {
      showError(`Not saved: ${problemText(error, (list, i) => (list === "zones" ? state.zones[i]?.id : ""))}`);
    }
  } finally {
    render();
  }
}

// ------------------------------------------------------------------------------------ start
async function main() {
  state.site = await chooseSite();
  if (!state.site) {
    showError("No hall has reported yet: start an edge node first.");
    return;
  }
  try {
    state.nodes = await siteNodes(state.site);
  } catch (error) {
    if (error.status !== 401) showError(`Could not load the nodes: ${error.message}`);
    return;
  }
  if (!state.nodes.length) {
    showError("No edge node has reported for this hall yet.");
    return;
  }
  const node = fillSelect(
    els.node,
    state.nodes.map((n) => ({ value: n.node, label: `${n.node} (${nodeState(n).label.toLowerCase()})` })),
    urlParam("node"),
  );
  els.node.addEventListener("change", () => {
    if (JSON.stringify(state.zones) !== state.original && !window.confirm("Discard the unsaved zone changes?")) {
      els.node.value = state.node;
      return;
    }
    selectNode(els.node.value);
  });
  for (const button of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-add]"))) button.addEventListener("click", () => addZone(button.dataset.add));
  window.addEventListener("resize", () => renderPlan());
  els.showCoverage?.addEventListener("change", () => renderPlan());
  els.plan.addEventListener("pointermove", onMove);
  els.plan.addEventListener("pointerup", onUp);
  els.plan.addEventListener("pointercancel", onUp);
  els.plan.addEventListener("pointerdown", () => select(-1));
  els.save.addEventListener("click", save);
  els.revert.addEventListener("click", () => {
    state.zones = JSON.parse(state.original);
    state.selected = -1;
    state.vertex = -1;
    clearError();
    render();
  });
  bindForm();
  window.addEventListener("beforeunload", (event) => {
    if (JSON.stringify(state.zones) !== state.original) event.preventDefault();
  });
  const live = new LiveConnection({ topics: ["nodes", "occupancy"], site: state.site });
  live.on("layout", (msg) => {
    if (msg.node === state.node) state.waiting?.poke();
  });
  live.on("node", (msg) => {
    if (msg.node === state.node && msg.health) state.waiting?.poke();
  });
  live.start();
  await selectNode(node);
}

main();
