// @ts-check
// Charts with uPlot (installed by npm, see web/package.json): time series of occupancy and bars.
// Each chart follows its container's width and shows times in the hall's time zone.

import uPlot from "/static/vendor/uplot/uPlot.esm.js";
import { clockText, dateTimeText, dayText, hallTimeZone, localDate } from "./format.js";

export const PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#db2777", "#65a30d", "#7c3aed", "#0d9488"];
const AXIS = { stroke: "#475569", grid: { stroke: "#e2e8f0", width: 1 }, ticks: { stroke: "#cbd5e1", width: 1 } };

function follow(chart, el, height) {
  const observer = new ResizeObserver(() => {
    const width = Math.max(240, Math.floor(el.clientWidth));
    if (width !== chart.width) chart.setSize({ width, height });
  });
  observer.observe(el);
  return observer;
}

/** A chart drawn into ``el``; ``destroy()`` removes it (and its resize watcher). */
class Chart {
  constructor(el, options, data, height) {
    this.el = el;
    this.plot = new uPlot({ ...options, width: Math.max(240, el.clientWidth), height }, data, el);
    this.observer = follow(this.plot, el, height);
  }

  destroy() {
    this.observer.disconnect();
    this.plot.destroy();
  }
}

/** Tick labels in the hall's time zone, 24-hour clock: times within a day, dates across days. */
function timeTicks(u, ticks) {
  const span = u.scales.x.max - u.scales.x.min;
  return ticks.map((t, i) => {
    const ms = t * 1000;
    if (span > 3 * 86400) return dayText(localDate(ms));
    const clock = clockText(ms);
    if (span <= 86400) return clock;
    const newDay = i === 0 || localDate(ms) !== localDate(ticks[i - 1] * 1000);
    return newDay ? `${dayText(localDate(ms))}\n${clock}` : clock;
  });
}

/**
 * Occupancy over time. ``series``: [{ label, values, color?, width?, dash? }] aligned with
 * ``times`` (Date[]); null values leave gaps.
 */
export function timeChart(el, { times, series, height = 300, yLabel = "people" }) {
  const tz = hallTimeZone();
  const data = [times.map((t) => t.getTime() / 1000), ...series.map((s) => s.values)];
  const options = {
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), tz),
    cursor: { drag: { x: true, y: false }, focus: { prox: 24 } },
    focus: { alpha: 0.35 },
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(2, Math.ceil(max * 1.15))] } },
    axes: [
      { ...AXIS, space: 64, values: timeTicks },
      { ...AXIS, label: yLabel, labelSize: 18, size: 48, values: (_u, ticks) => ticks.map((v) => (Number.isInteger(v) ? v : "")) },
    ],
    series: [
      { label: "Time", value: (_u, v) => (v === null || v === undefined ? "–" : dateTimeText(v * 1000)) },
      ...series.map((s, i) => ({
        label: s.label,
        stroke: s.color ?? PALETTE[i % PALETTE.length],
        width: s.width ?? 2,
        dash: s.dash,
        show: s.show ?? true,
        spanGaps: false,
        points: { show: false },
        value: (_u, v) => (v === null || v === undefined ? "–" : v.toFixed(1)),
      })),
    ],
  };
  return new Chart(el, options, data, height);
}

/**
 * Bars over numeric categories ``x`` (e.g. hours 0–23), labelled by ``labelOf(x)``.
 * @param {HTMLElement} el
 * @param {{x: number[], values: (number | null)[], label: string, color?: string, height?: number,
 *   labelOf?: (x: number) => string, highlight?: number[] | null}} options
 */
export function barChart(el, { x, values, label, color = "#0b2545", height = 200, labelOf = String, highlight = null }) {
  const bars = uPlot.paths.bars({ size: [0.7, 40], align: 0 });
  const options = {
    scales: { x: { time: false, range: (_u, min, max) => [min - 0.6, max + 0.6] }, y: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.15))] } },
    cursor: { points: { show: false } },
    legend: { show: false },
    axes: [
      { ...AXIS, values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? labelOf(t) : "")), space: 34 },
      { ...AXIS, size: 44, values: (_u, ticks) => ticks.map((v) => (Number.isInteger(v) ? v : "")) },
    ],
    series: [
      { label: "", value: (_u, v) => (v === null || v === undefined ? "–" : labelOf(v)) },
      {
        label,
        paths: bars,
        points: { show: false },
        stroke: color,
        fill: `${color}b3`,
        width: 0,
        value: (_u, v) => (v === null || v === undefined ? "–" : Number.isInteger(v) ? v : v.toFixed(1)),
      },
    ],
  };
  if (highlight !== null) {
    options.series.push({
      label: "Busiest",
      paths: bars,
      points: { show: false },
      stroke: "#dc2626",
      fill: "#dc2626",
      width: 0,
      value: (_u, v) => (v === null || v === undefined ? "–" : v.toFixed(1)),
    });
  }
  const data = [x, values];
  if (highlight !== null) data.push(x.map((v, i) => (highlight.includes(v) ? values[i] : null)));
  return new Chart(el, options, data, height);
}
