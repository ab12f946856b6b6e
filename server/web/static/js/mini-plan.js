// @ts-check
// A small floor plan on an alert card: the hall's zones in outline, the alert's zone filled and a
// marker where it is (a spacing alert's pair), centred on it; "Whole floor" shows all of the hall.

const SVG = "http://www.w3.org/2000/svg";
const AROUND_M = 7; // the card's view: this many metres across, centred on the alert

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function centroid(points) {
  const n = points.length;
  return [points.reduce((s, p) => s + p[0], 0) / n, points.reduce((s, p) => s + p[1], 0) / n];
}

/** Where an alert is on the floor: its own point (spacing), else its zone's middle; null if unknown. */
export function alertPlace(alert, layoutZones) {
  if (alert.floor_x !== null && alert.floor_x !== undefined && alert.floor_y !== null && alert.floor_y !== undefined) {
    return [alert.floor_x, alert.floor_y];
  }
  const zone = layoutZones.find((z) => z.zone === alert.zone && z.polygon && z.polygon.length >= 3);
  return zone && zone.kind !== "hall" ? centroid(zone.polygon) : null;
}

/**
 * Draw ``layoutZones`` into ``el`` (an <svg>), the alert's zone highlighted and a marker at
 * ``place``; centred on it (``whole``: the whole floor). Returns false when there is nothing to draw.
 */
export function drawMiniPlan(el, layoutZones, alert, place, { whole = false } = {}) {
  const zones = layoutZones.filter((z) => z.polygon && z.polygon.length >= 3);
  if (!zones.length || !place) return false;
  const points = zones.flatMap((z) => z.polygon);
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [minX, minY, maxX, maxY] = [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  const view = whole
    ? [minX - 0.3, minY - 0.3, maxX - minX + 0.6, maxY - minY + 0.6]
    : [place[0] - AROUND_M / 2, place[1] - (AROUND_M * 0.55) / 2, AROUND_M, AROUND_M * 0.55];
  el.setAttribute("viewBox", view.join(" "));
  const unit = view[2] / 40;
  const shapes = zones
    .sort((a, b) => (a.kind === "hall" ? -1 : b.kind === "hall" ? 1 : 0))
    .map((z) =>
      svg("polygon", {
        class: `mini-zone mini-zone-${z.kind}${z.zone === alert.zone ? " is-alert" : ""}`,
        points: z.polygon.map((p) => p.join(",")).join(" "),
        "stroke-width": unit * 0.4,
        "data-zone": z.zone,
      }),
    );
  const labels = zones
    .filter((z) => z.kind === "window" || z.kind === "queue")
    .map((z) => {
      const [cx, cy] = centroid(z.polygon);
      const text = svg("text", { class: "mini-label", x: cx, y: cy, "font-size": unit * 2.2 });
      text.textContent = z.name || z.zone;
      return text;
    });
  const mark = svg("circle", { class: "mini-mark", cx: place[0], cy: place[1], r: unit * 1.6, "stroke-width": unit * 0.6 });
  el.replaceChildren(...shapes, ...labels, mark);
  el.dataset.view = whole ? "whole" : "around";
  el.dataset.x = place[0].toFixed(2);
  el.dataset.y = place[1].toFixed(2);
  return true;
}
