// @ts-check
// The hall's floor plan as SVG, in metres: zones from the layout, each window coloured by its count
// against its limit, live positions as dots, and an optional heatmap of where people stood.
//
//   const plan = new FloorPlan(svgElement);
//   plan.setLayout(layout.zones);            // polygons and entrance lines, metres
//   plan.setCounts(zoneBoard);               // colours and "2 / 2" labels
//   plan.setPositions("cam-1", people);      // [{id, x, y}], or a fused floor's ("fused:edge-1",
//                                            // "fused"): [{id, x, y, cameras}], each person once
//   plan.setHeatmap(cells, 0.5); plan.showHeatmap(true);  // cells outside the hall left out
//   plan.focus([x, y], 8); plan.mark([x, y]);  // 8 m around a place (an alert's), marked;
//   plan.focus(null)                          // the whole floor again

import { zoneLevel, zoneName } from "./zones.js";

const SVG = "http://www.w3.org/2000/svg";
const STALE_MS = 4000;
const GONE_MS = 15000;
const KIND_ORDER = { hall: 0, queue: 1, window: 2, entrance: 3 };

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function centroid(points) {
  const n = points.length;
  return [points.reduce((s, p) => s + p[0], 0) / n, points.reduce((s, p) => s + p[1], 0) / n];
}

/** Whether ``[x, y]`` lies inside ``polygon`` (even-odd rule). */
function inside([x, y], polygon) {
  let hit = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

/** A heatmap cell's opacity for ``share`` of the busiest cell's samples (the scale's ramp too). */
export function heatOpacity(share) {
  return 0.08 + 0.72 * Math.max(0, Math.min(1, share)) ** 0.6;
}

export class FloorPlan {
  #svg;
  #layers;
  #zones = [];
  #unit = 0.3; // label size in metres, set from the plan's size
  #positions = new Map(); // camera -> { at, people }
  #heat = null;
  #board = null; // redraws the counts after the labels were drawn again
  #heatMax = 0;
  #whole = null; // [minX, minY, width, height] of the whole floor, metres
  #focus = null; // { place: [x, y], aroundM } or null
  #mark = null; // [x, y] or null

  constructor(svgElement) {
    this.#svg = svgElement;
    const desc = svgElement.querySelector("desc");
    this.#layers = {
      zones: svg("g", { class: "layer-zones" }),
      heat: svg("g", { class: "layer-heat" }),
      people: svg("g", { class: "layer-people" }),
      labels: svg("g", { class: "layer-labels" }),
      mark: svg("g", { class: "layer-mark" }),
    };
    svgElement.replaceChildren(...(desc ? [desc] : []), ...Object.values(this.#layers));
    this.#layers.heat.style.display = "none";
    window.setInterval(() => this.#renderPositions(), 1000);
  }

  get zoneCount() {
    return this.#zones.length;
  }

  setLayout(zones) {
    this.#zones = zones
      .filter((z) => (z.polygon && z.polygon.length >= 3) || (z.line && z.line.length === 2))
      .sort((a, b) => (KIND_ORDER[a.kind] ?? 9) - (KIND_ORDER[b.kind] ?? 9));
    const points = this.#zones.flatMap((z) => [...(z.polygon ?? []), ...(z.line ?? [])]);
    if (!points.length) {
      this.#whole = null;
      for (const layer of Object.values(this.#layers)) layer.replaceChildren();
      return;
    }
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    const pad = 0.4;
    const minX = Math.min(...xs) - pad;
    const minY = Math.min(...ys) - pad;
    this.#whole = [minX, minY, Math.max(...xs) - minX + pad, Math.max(...ys) - minY + pad];
    this.#svg.style.aspectRatio = `${this.#whole[2]} / ${this.#whole[3]}`;
    this.#draw();
  }

  /**
   * Show ``aroundM`` metres (across) of the floor centred on ``place`` ([x, y], metres), or the
   * whole floor when ``place`` is null.
   */
  focus(place, aroundM = 8) {
    this.#focus = place ? { place, aroundM } : null;
    this.#draw();
  }

  /** Mark ``place`` ([x, y], metres: where an alert is), or nothing (null). */
  mark(place) {
    this.#mark = place;
    this.#renderMark();
  }

  /** The part of the floor shown: "whole" or "around" a place. */
  get view() {
    return this.#focus && this.#whole ? "around" : "whole";
  }

  /** The view box for the whole floor or the focus, and labels sized for it. */
  #draw() {
    if (!this.#whole) return;
    let [minX, minY, width, height] = this.#whole;
    if (this.#focus) {
      const { place, aroundM } = this.#focus;
      const ratio = height / width;
      [width, height] = ratio <= 1 ? [aroundM, aroundM * ratio] : [aroundM / ratio, aroundM];
      [minX, minY] = [place[0] - width / 2, place[1] - height / 2];
    }
    this.#svg.setAttribute("viewBox", `${minX} ${minY} ${width} ${height}`);
    this.#svg.dataset.view = this.view;
    this.#unit = Math.max(width, height) / 42;

    const zoneEls = [];
    const labelEls = [];
    for (const zone of this.#zones) {
      if (zone.kind === "entrance" && zone.line) {
        const [[x1, y1], [x2, y2]] = zone.line;
        zoneEls.push(svg("line", { class: "entrance", x1, y1, x2, y2, "data-zone": zone.zone }));
        const label = svg("text", {
          class: "zone-label zone-label-entrance",
          x: (x1 + x2) / 2,
          y: (y1 + y2) / 2 - this.#unit * 1.2,
          "font-size": this.#unit * 1.1,
          "stroke-width": this.#unit * 0.25,
        });
        label.textContent = zone.name || "Entrance";
        labelEls.push(label);
        continue;
      }
      const poly = svg("polygon", {
        class: `zone zone-${zone.kind}`,
        points: zone.polygon.map((p) => p.join(",")).join(" "),
        "data-zone": zone.zone,
        "data-kind": zone.kind,
        "data-level": "unknown",
      });
      const title = svg("title");
      title.textContent = zoneName(zone);
      poly.append(title);
      zoneEls.push(poly);
      if (zone.kind === "hall") {
        const [x, y] = [Math.min(...zone.polygon.map((p) => p[0])), Math.max(...zone.polygon.map((p) => p[1]))];
        const label = svg("text", {
          class: "zone-label zone-label-hall",
          x: x + this.#unit * 0.6,
          y: y - this.#unit * 0.6,
          "font-size": this.#unit * 1.1,
          "stroke-width": this.#unit * 0.25,
          "data-zone": zone.zone,
        });
        labelEls.push(label);
        continue;
      }
      const [cx, cy] = centroid(zone.polygon);
      const big = zone.kind === "window";
      const label = svg("text", { class: "zone-label", x: cx, y: cy, "data-zone": zone.zone, "stroke-width": this.#unit * 0.25 });
      const name = svg("tspan", { x: cx, dy: -this.#unit * 0.55, "font-size": this.#unit * 0.85 });
      name.textContent = zoneName(zone);
      const count = svg("tspan", {
        class: "zone-count",
        x: cx,
        dy: this.#unit * (big ? 1.35 : 1.2),
        "font-size": this.#unit * (big ? 1.35 : 1.1),
      });
      label.append(name, count);
      label.dataset.fit = String(Math.max(...zone.polygon.map((p) => p[0])) - Math.min(...zone.polygon.map((p) => p[0])));
      labelEls.push(label);
    }
    this.#layers.zones.replaceChildren(...zoneEls);
    this.#layers.labels.replaceChildren(...labelEls);
    this.#fitLabels();
    this.#renderHeat();
    this.#renderPositions();
    this.#renderMark();
    this.#board?.(); // counts again on the new labels
  }

  #renderMark() {
    if (!this.#mark) {
      this.#layers.mark.replaceChildren();
      return;
    }
    const [x, y] = this.#mark;
    this.#layers.mark.replaceChildren(
      svg("circle", { class: "place-ring", cx: x, cy: y, r: this.#unit * 2.2, "stroke-width": this.#unit * 0.35 }),
      svg("circle", { class: "place-mark", cx: x, cy: y, r: this.#unit * 0.7, "data-x": x.toFixed(2), "data-y": y.toFixed(2) }),
    );
  }

  /** Shrink zone names wider than their zone (once the plan is on screen and can be measured). */
  #fitLabels() {
    if (!this.#svg.isConnected || !this.#svg.getBBox) return;
    for (const label of this.#layers.labels.querySelectorAll("text[data-fit]")) {
      const room = Number(label.dataset.fit) * 0.92;
      const name = label.firstChild;
      let width;
      try {
        width = name.getComputedTextLength();
      } catch {
        continue; // not rendered (hidden): keep the size
      }
      if (width > room && width > 0) {
        name.setAttribute("font-size", (Number(name.getAttribute("font-size")) * room) / width);
      }
    }
  }

  /** Colour and label every zone from the live counts (a `ZoneBoard`). */
  setCounts(board) {
    this.#board = () => this.setCounts(board);
    const spoken = [];
    for (const poly of this.#layers.zones.querySelectorAll("polygon")) {
      const zone = board.get(poly.dataset.zone);
      const level = zoneLevel(zone);
      if (poly.dataset.level !== level) poly.dataset.level = level;
      if (poly.dataset.kind === "window" || poly.dataset.kind === "queue") {
        const what = zone?.count === null || zone?.count === undefined ? "no count" : `${zone.count} people`;
        spoken.push(`${zoneName(zone ?? { zone: poly.dataset.zone })}: ${what}${zone?.limit != null ? ` of ${zone.limit}` : ""}`);
      }
    }
    for (const label of this.#layers.labels.querySelectorAll("text[data-zone]")) {
      const zone = board.get(label.dataset.zone);
      const count = zone?.count;
      const limit = zone?.limit;
      const text =
        count === null || count === undefined ? "–" : limit !== null && limit !== undefined ? `${count} / ${limit}` : `${count}`;
      if (label.classList.contains("zone-label-hall")) {
        const hallText = `${zoneName(zone ?? { zone: label.dataset.zone })}: ${text}`;
        if (label.textContent !== hallText) label.textContent = hallText;
        continue;
      }
      const tspan = label.querySelector(".zone-count");
      if (tspan && tspan.textContent !== text) tspan.textContent = text;
    }
    const desc = this.#svg.querySelector("desc");
    if (desc) desc.textContent = spoken.length ? `Floor plan. ${spoken.join("; ")}.` : "Floor plan.";
  }

  setPositions(camera, people) {
    this.#positions.set(camera, { at: Date.now(), people });
    this.#renderPositions();
  }

  showPositions(on) {
    this.#layers.people.style.display = on ? "" : "none";
  }

  setHeatmap(cells, cellM) {
    const merged = new Map();
    for (const c of cells) {
      const key = `${c.cell_x},${c.cell_y}`;
      merged.set(key, (merged.get(key) ?? 0) + c.samples);
    }
    this.#heat = { cells: merged, cellM };
    this.#renderHeat();
  }

  showHeatmap(on) {
    this.#layers.heat.style.display = on ? "" : "none";
  }

  /** The samples of the busiest cell drawn (the top of the heatmap's scale); 0 with none. */
  get heatMax() {
    return this.#heatMax;
  }

  /** Whether a cell's middle lies on the hall's floor (a hall zone, or the plan when it has none). */
  #onFloor(point) {
    const halls = this.#zones.filter((z) => z.kind === "hall" && z.polygon?.length >= 3);
    if (halls.length) return halls.some((z) => inside(point, z.polygon));
    if (!this.#whole) return true;
    const [minX, minY, width, height] = this.#whole;
    return point[0] >= minX && point[0] <= minX + width && point[1] >= minY && point[1] <= minY + height;
  }

  #renderHeat() {
    if (!this.#heat) return;
    const { cells, cellM } = this.#heat;
    // Cells outside the hall (a person placed beyond its walls) are left out, and do not set the scale.
    const shown = [...cells].filter(([key]) => {
      const [i, j] = key.split(",").map(Number);
      return this.#onFloor([(i + 0.5) * cellM, (j + 0.5) * cellM]);
    });
    const max = Math.max(1, ...shown.map(([, n]) => n));
    this.#heatMax = shown.length ? max : 0;
    const rects = [];
    for (const [key, n] of shown) {
      const [i, j] = key.split(",").map(Number);
      rects.push(
        svg("rect", {
          class: "heat-cell",
          x: i * cellM,
          y: j * cellM,
          width: cellM,
          height: cellM,
          "fill-opacity": heatOpacity(n / max).toFixed(3),
          "data-samples": n,
        }),
      );
    }
    this.#layers.heat.replaceChildren(...rects);
  }

  #renderPositions() {
    const now = Date.now();
    const dots = [];
    for (const [camera, { at, people }] of this.#positions) {
      if (now - at > GONE_MS) {
        this.#positions.delete(camera);
        continue;
      }
      const stale = now - at > STALE_MS;
      for (const p of people) {
        dots.push(
          svg("circle", {
            class: "person",
            cx: p.x,
            cy: p.y,
            r: Math.max(0.14, this.#unit * 0.34),
            "data-camera": camera,
            "data-stale": String(stale),
            ...(p.cameras ? { "data-cameras": p.cameras.join(" ") } : {}),
          }),
        );
      }
    }
    this.#layers.people.replaceChildren(...dots);
  }
}
