// @ts-check
// The hall's floor plan as SVG, in metres: zones from the layout, each window coloured by its count
// against its limit, live positions as dots, and an optional heatmap of where people stood.
//
//   const plan = new FloorPlan(svgElement);
//   plan.setLayout(layout.zones);            // polygons and entrance lines, metres
//   plan.setCounts(zoneBoard);               // colours and "2 / 2" labels
//   plan.setPositions("cam-1", people);      // [{id, x, y}], or a fused floor's ("fused:edge-1",
//                                            // "fused"): [{id, x, y, cameras}], each person once
//   plan.setHeatmap(cells, 0.5); plan.showHeatmap(true);

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

export class FloorPlan {
  #svg;
  #layers;
  #zones = [];
  #unit = 0.3; // label size in metres, set from the plan's size
  #positions = new Map(); // camera -> { at, people }
  #heat = null;

  constructor(svgElement) {
    this.#svg = svgElement;
    const desc = svgElement.querySelector("desc");
    this.#layers = {
      zones: svg("g", { class: "layer-zones" }),
      heat: svg("g", { class: "layer-heat" }),
      people: svg("g", { class: "layer-people" }),
      labels: svg("g", { class: "layer-labels" }),
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
      for (const layer of Object.values(this.#layers)) layer.replaceChildren();
      return;
    }
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    const pad = 0.4;
    const minX = Math.min(...xs) - pad;
    const minY = Math.min(...ys) - pad;
    const width = Math.max(...xs) - minX + pad;
    const height = Math.max(...ys) - minY + pad;
    this.#svg.setAttribute("viewBox", `${minX} ${minY} ${width} ${height}`);
    this.#svg.style.aspectRatio = `${width} / ${height}`;
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

  get heatCellCount() {
    return this.#heat?.cells.size ?? 0;
  }

  #renderHeat() {
    if (!this.#heat) return;
    const { cells, cellM } = this.#heat;
    const max = Math.max(1, ...cells.values());
    const rects = [];
    for (const [key, n] of cells) {
      const [i, j] = key.split(",").map(Number);
      rects.push(
        svg("rect", {
          class: "heat-cell",
          x: i * cellM,
          y: j * cellM,
          width: cellM,
          height: cellM,
          "fill-opacity": (0.08 + 0.72 * (n / max) ** 0.6).toFixed(3),
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
