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

// Time ticks at least a minute apart (the finest bucket is a minute, and labels read to the minute:
// finer ticks read "14:59 14:59 14:59", issue 13); then the usual clock and calendar steps.
const MINUTE = 60;
const HOUR = 3600;
const DAY = 86400;
const TIME_INCRS = [MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY];
const MIN_TIME_SPAN_S = 2 * MINUTE;

/** Tick labels in the hall's time zone, 24-hour clock: times within a day, dates across days; a
 * label the tick before already shows is left out. */
export function timeTicks(u, ticks) {
  const span = u.scales.x.max - u.scales.x.min;
  const labels = ticks.map((t, i) => {
    const ms = t * 1000;
    if (span > 3 * DAY) return dayText(localDate(ms));
    const clock = clockText(ms);
    if (span <= DAY) return clock;
    const newDay = i === 0 || localDate(ms) !== localDate(ticks[i - 1] * 1000);
    return newDay ? `${dayText(localDate(ms))}\n${clock}` : clock;
  });
  return labels.map((label, i) => (i > 0 && label === labels[i - 1] ? "" : label));
}

/** A time range at least ``MIN_TIME_SPAN_S`` wide around the data (one or two minutes of it too). */
function timeRange(_u, min, max) {
  if (min === null || max === null || max - min >= MIN_TIME_SPAN_S) return [min, max];
  const middle = (min + max) / 2;
  return [middle - MIN_TIME_SPAN_S / 2, middle + MIN_TIME_SPAN_S / 2];
}

/**
 * Occupancy over time. ``series``: [{ label, values, color?, width?, dash? }] aligned with
 * ``times`` (Date[]); null values leave gaps.
 */
export function timeChart(el, { times, series, height = 300, yLabel = "people" }) {
  const tz = hallTimeZone();
  // The labels drawn last, for the page's tests (the canvas holds only pixels).
  const labelled = (u, ticks) => {
    const labels = timeTicks(u, ticks);
    el.dataset.xLabels = labels.join("|");
    return labels;
  };
  const data = [times.map((t) => t.getTime() / 1000), ...series.map((s) => s.values)];
  const options = {
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), tz),
    cursor: { drag: { x: true, y: false }, focus: { prox: 24 } },
    focus: { alpha: 0.35 },
    scales: { x: { time: true, range: timeRange }, y: { range: (_u, _min, max) => [0, Math.max(2, Math.ceil(max * 1.15))] } },
    axes: [
      { ...AXIS, space: 64, incrs: TIME_INCRS, values: labelled },
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
