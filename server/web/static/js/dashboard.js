// @ts-check
// The manager dashboard: the hall now (floor plan, counts, alerts), and its history (charts, queues).
// Live parts come from the WebSocket; history from /sites/{site}/history, /event-counts, /queues and
// /waits (the median of the waits people had in each queue, measured person by person at the edge).

import { api, apiUrl } from "./api.js";
import { AlertBook, alertFigures, alertTitle, episodeStart, figuresText, floorViewUrl } from "./alert-book.js";
import { barChart, PALETTE, timeChart } from "./charts.js";
import { h, setText, syncList } from "./dom.js";
import { FloorPlan, heatOpacity } from "./floor-plan.js";
import { addDays, ageText, clockText, dateTimeText, durationText, localDate, localMidnight, numberText, zonedParts } from "./format.js";
import { LiveConnection } from "./live.js";
import { chooseSite, toast } from "./shell.js";
import { byName, ZoneBoard, zoneLevel, zoneName } from "./zones.js";

const canHistory = document.body.dataset.canHistory === "true";
const canEvents = document.body.dataset.canEvents === "true";
const zones = new ZoneBoard();
const book = new AlertBook();
const plan = new FloorPlan(document.getElementById("floor-plan"));
// `any` for the checker: the page knows which kind of element (input, table, svg) each id names.
/** @type {(id: string) => any} */
const $ = (id) => document.getElementById(id);

let site = null;
let layoutZones = [];
let occupancyNow = null;
let queues = new Map();
let waits = { byWindow: new Map(), minutes: 15, minWaits: 3 };
let peakToday = new Map();
let busiest = new Map();
let range = { kind: "today" };
let view = "hall";
let occupancyChart = null;
let occupancyRows = null;
let violationsChart = null;
let peaksChart = null;
let heatLoaded = false;

// ------------------------------------------------------------------------------ helpers
const siteUrl = (path) => `sites/${encodeURIComponent(site)}/${path}`;
const frames = new Map();
function schedule(name, fn) {
  if (frames.has(name)) return;
  frames.set(
    name,
    requestAnimationFrame(() => {
      frames.delete(name);
      fn();
    }),
  );
}
const timers = new Map();
function debounce(name, fn, ms) {
  window.clearTimeout(timers.get(name));
  timers.set(name, window.setTimeout(fn, ms));
}
function report(error, what) {
  if (error?.status === 401) return;
  toast(`Could not load ${what}: ${error.message}`, "error", 6000);
}
const hourLabel = (hour) => `${String(hour).padStart(2, "0")}:00`;
const today = () => localDate(Date.now());

/** Every window: the layout's and the live ones (a window may have counts before its layout). */
function windowZones() {
  const byId = new Map(layoutZones.filter((z) => z.kind === "window").map((z) => [z.zone, { ...z, count: null }]));
  for (const z of zones.ofKind("window")) byId.set(z.zone, { ...byId.get(z.zone), ...z });
  return [...byId.values()].sort(byName);
}

// ------------------------------------------------------------------------------ the hall now
function renderKpis() {
  const hall = zones.hall();
  const count = hall?.count ?? occupancyNow?.hall?.count ?? null;
  const capacity = hall?.limit ?? occupancyNow?.hall?.capacity ?? null;
  const box = $("kpi-hall");
  box.dataset.level = hall ? zoneLevel(hall) : "unknown";
  setText($("kpi-hall-count"), count ?? "–");
  setText($("kpi-hall-capacity"), capacity ?? "–");
  const ratio = count !== null && capacity ? count / capacity : null;
  $("kpi-hall-meter").style.width = `${Math.min(100, Math.round((ratio ?? 0) * 100))}%`;
  setText($("kpi-hall-note"), ratio === null ? "capacity unknown" : `${Math.round(ratio * 100)} % of capacity`);
  if (occupancyNow) {
    setText($("kpi-entries"), occupancyNow.entries_today);
    setText($("kpi-exits"), occupancyNow.exits_today);
    // Certain pairs alert; possible ones (their distance's uncertainty reaches under the minimum)
    // are shown next to them, so a manager sees both without being alerted by the doubtful ones.
    const certain = occupancyNow.violations_now;
    const possible = occupancyNow.possible_violations_now ?? 0;
    setText($("kpi-violations"), certain);
    setText($("kpi-violations-note"), `certain (+${possible} possible)`);
    $("kpi-violations-box").dataset.level = certain > 0 ? "over" : possible > 0 ? "warning" : "ok";
  }
  const active = book.active();
  const untaken = active.filter((a) => a.status === "open").length;
  setText($("kpi-alerts"), active.length);
  setText($("kpi-alerts-note"), active.length ? `${untaken} not taken yet` : "all clear");
  $("kpi-alerts-box").dataset.level = untaken ? "over" : active.length ? "warning" : "ok";
}

function renderAlerts() {
  const active = book.active().sort((a, b) => (a.status === "open" ? 0 : 1) - (b.status === "open" ? 0 : 1));
  $("dash-alerts-empty").hidden = active.length > 0;
  syncList(
    $("dash-alerts"),
    active,
    (a) => a.id,
    () =>
      h(
        "li",
        { class: "dash-alert" },
        h("span", { class: "severity-badge" }),
        h("span", { class: "dash-alert-what" }),
        h("span", { class: "dash-alert-age" }),
        h("span", { class: "dash-alert-status" }),
        h("a", { class: "dash-alert-place", href: "/floor" }, "On the floor plan"),
      ),
    (el, alert) => {
      el.dataset.alertId = alert.id;
      el.dataset.status = alert.status;
      el.dataset.severity = alert.severity;
      const [badge, what, age, status, place] = el.children;
      place.href = floorViewUrl(alert);
      place.setAttribute("aria-label", `On the floor plan: ${alertTitle(alert)}`);
      badge.dataset.severity = alert.severity;
      setText(badge, alert.severity);
      el.dataset.escalated = String(Boolean(alert.escalated) && alert.status === "open");
      const figures = figuresText(alertFigures(alert, alert.zone ? zones.get(alert.zone) : null));
      setText(what, `${alertTitle(alert)} — ${alert.message}${figures ? ` (${figures})` : ""}`);
      // the same instant as the guide's page: the start of the current episode
      age.dataset.since = episodeStart(alert);
      setText(age, ageText(episodeStart(alert)));
      setText(
        status,
        alert.status === "acknowledged"
          ? `Taken by ${alert.acknowledged_by} at ${clockText(alert.acknowledged_at)}`
          : alert.escalated
            ? `Escalated to you at ${clockText(alert.escalated_at ?? alert.updated_at)}: no guide has taken it`
            : "Not taken yet",
      );
    },
  );
  renderKpis();
}

// ------------------------------------------------------------------------------ count accuracy
/** "+0.5", "−1.2", "0.0": a bias in people with its sign. */
function signed(value) {
  if (value === null || value === undefined) return "–";
  const text = Math.abs(value).toFixed(1);
  return value > 0.049 ? `+${text}` : value < -0.049 ? `−${text}` : "0.0";
}

async function loadAccuracy() {
  const data = await api(`sites/${encodeURIComponent(site)}/accuracy`);
  setText($("accuracy-note"), `guides' checks, last ${data.days} days; flagged above ${data.recalibrate_mae} people`);
  $("accuracy-empty").hidden = data.zones.length > 0;
  $("accuracy-table").hidden = data.zones.length === 0;
  syncList(
    $("accuracy-table").tBodies[0],
    data.zones,
    (z) => z.zone,
    () => h("tr", {}, h("th", { scope: "row" }), h("td", { class: "num" }), h("td", { class: "num" }), h("td", { class: "num" }), h("td", {})),
    (el, z) => {
      el.dataset.zone = z.zone;
      el.dataset.flag = String(z.needs_recalibration);
      const [name, checks, mae, bias, state] = el.children;
      setText(name, z.name || z.zone);
      setText(checks, z.checks);
      setText(mae, z.mae === null ? "–" : z.mae.toFixed(2));
      setText(bias, signed(z.bias));
      setText(
        state,
        z.needs_recalibration ? "Needs recalibration" : z.checks < data.min_checks ? `${data.min_checks - z.checks} more checks to judge` : "OK",
      );
    },
  );
}

function renderWindows() {
  const rows = windowZones();
  syncList(
    $("windows-table").tBodies[0],
    rows,
    (w) => w.zone,
    () => {
      const cells = [h("th", { scope: "row", dataset: { col: "window" } }), h("td", { class: "num", dataset: { col: "now" } }, h("span", { class: "level-pill" })), h("td", { class: "num", dataset: { col: "queue" } })];
      if (canHistory) {
        cells.push(
          h("td", { class: "num", dataset: { col: "wait" } }),
          h("td", { class: "num", dataset: { col: "peak" } }),
          h("td", { class: "busiest", dataset: { col: "busiest" } }),
        );
      }
      return h("tr", {}, ...cells);
    },
    (tr, w) => {
      tr.dataset.zone = w.zone;
      const cell = (col) => tr.querySelector(`[data-col="${col}"]`);
      setText(cell("window"), zoneName(w));
      const pill = cell("now").firstChild;
      pill.dataset.level = zoneLevel(w);
      setText(pill, w.count === null || w.count === undefined ? "–" : w.limit != null ? `${w.count} / ${w.limit}` : w.count);
      const live = zones.queuesOf(w.zone);
      const q = queues.get(w.zone);
      const waiting = live.length ? live.reduce((n, z) => n + (z.count ?? 0), 0) : q?.queue_now ?? null;
      const qLimit = q?.queue_limit ?? (live.length === 1 ? live[0].limit : null);
      setText(cell("queue"), waiting === null ? "–" : qLimit != null ? `${waiting} / ${qLimit}` : waiting);
      if (canHistory) {
        const wait = waits.byWindow.get(w.zone);
        const waitCell = cell("wait");
        waitCell.dataset.waits = String(wait?.waits ?? 0);
        if (!wait?.queues.length) {
          setText(waitCell, "–");
          waitCell.title = "no queue for this window";
        } else if (wait.median_s === null) {
          setText(waitCell, "not enough data");
          waitCell.title = `${wait.waits} of the ${waits.minWaits} waits a median needs ended in the last ${waits.minutes} minutes`;
        } else {
          setText(waitCell, durationText(wait.median_s));
          waitCell.title = `median of ${wait.waits} waits in the last ${waits.minutes} minutes; nine in ten at most ${durationText(wait.p90_s)}`;
        }
        waitCell.classList.toggle("muted", wait?.median_s == null);
        setText(cell("peak"), peakToday.get(w.zone) ?? "–");
        const top = busiest.get(w.zone);
        setText(cell("busiest"), top?.length ? top.map((x) => `${hourLabel(x.hour)}–${hourLabel((x.hour + 1) % 24)}`).join(", ") : "–");
        cell("busiest").title = top?.length ? top.map((x) => `${hourLabel(x.hour)}: ${numberText(x.mean, 1)} people on average`).join("; ") : "";
      }
    },
  );
}

function renderNow() {
  plan.setCounts(zones);
  renderKpis();
  renderWindows();
}

async function loadLayout() {
  const layout = await api(siteUrl("layout"));
  layoutZones = layout.zones;
  plan.setLayout(layoutZones);
  $("floor-empty").hidden = plan.zoneCount > 0;
  renderNow();
}

async function refreshOccupancy() {
  occupancyNow = await api(siteUrl("occupancy"));
  for (const z of occupancyNow.zones) if (!zones.get(z.zone)) zones.update(z);
  renderNow();
}

// ------------------------------------------------------------------------------ history
function rangeBounds() {
  const now = new Date();
  if (range.kind === "today") {
    return { start: localMidnight(today()), end: now, resolution: "minute", label: "Today" };
  }
  if (range.kind === "week") {
    return { start: localMidnight(addDays(today(), -6)), end: now, resolution: "hour", label: "Last 7 days" };
  }
  const start = localMidnight(range.from);
  const end = new Date(Math.min(localMidnight(addDays(range.to, 1)).getTime(), now.getTime()));
  const days = (end.getTime() - start.getTime()) / 86400000;
  const resolution = days <= 2 ? "minute" : days <= 62 ? "hour" : "day";
  return { start, end, resolution, label: `${range.from} to ${range.to}` };
}

const KIND_RANK = { hall: 0, window: 1, queue: 2 };
function orderSeries(series) {
  return [...series].sort((a, b) => (KIND_RANK[a.kind] ?? 3) - (KIND_RANK[b.kind] ?? 3) || byName(a, b));
}

function timeLabel(date, resolution) {
  if (resolution === "day") return localDate(date);
  if (resolution === "hour" || range.kind !== "today") return dateTimeText(date);
  return clockText(date);
}

async function loadOccupancyChart() {
  const { start, end, resolution, label } = rangeBounds();
  updateExports(start, end, resolution);
  const history = await api(siteUrl("history"), { query: { start, end, resolution } });
  const series = orderSeries(history.series);
  const stamps = [...new Set(series.flatMap((s) => s.points.map((p) => p.t)))].sort();
  const index = new Map(stamps.map((t, i) => [t, i]));
  const columns = series.map((s) => {
    const mean = new Array(stamps.length).fill(null);
    const max = new Array(stamps.length).fill(null);
    for (const p of s.points) {
      mean[index.get(p.t)] = p.mean;
      max[index.get(p.t)] = p.max;
    }
    return { zone: s, mean, max };
  });
  occupancyRows = { stamps, columns, resolution, label };
  drawOccupancyChart();
  if ($("occupancy-details").open) renderOccupancyTable();
  else $("occupancy-table").replaceChildren(); // drawn again when opened, never stale
}

/** The chart of the zones of one kind (the hall, the windows or the queues); the table has them all. */
function drawOccupancyChart() {
  const { stamps, columns, resolution, label } = occupancyRows;
  occupancyChart?.destroy();
  occupancyChart = null;
  const el = $("occupancy-chart");
  el.replaceChildren();
  const per = { minute: "per minute", hour: "per hour", day: "per day" }[resolution];
  const shown = columns.filter((c) => (c.zone.kind ?? "window") === view);
  const what = { hall: "people in the hall", window: "people at each window", queue: "people in each queue" }[view];
  setText($("occupancy-caption"), `${label}: mean ${what} ${per}${stamps.length ? "" : " — nothing recorded in this range"}`);
  el.dataset.points = String(stamps.length);
  el.dataset.resolution = resolution;
  el.dataset.view = view;
  el.dataset.series = shown.map((c) => c.zone.zone).join(",");
  if (!stamps.length || !shown.length) return;
  const chartSeries = shown.map((c, i) => ({
    label: zoneName(c.zone),
    values: c.mean,
    color: c.zone.kind === "hall" ? "#0b2545" : PALETTE[i % PALETTE.length],
    width: c.zone.kind === "hall" ? 3 : 2,
  }));
  const limits = new Set(shown.map((c) => c.zone.limit).filter((l) => l !== null && l !== undefined));
  if (limits.size === 1) {
    const [limit] = limits;
    chartSeries.push({ label: view === "hall" ? "Capacity" : "Limit", values: stamps.map(() => limit), color: "#b91c1c", width: 1.5, dash: [6, 4] });
  }
  occupancyChart = timeChart(el, { times: stamps.map((t) => new Date(t)), series: chartSeries });
}

function renderOccupancyTable() {
  const table = $("occupancy-table");
  if (!occupancyRows) return;
  const { stamps, columns, resolution } = occupancyRows;
  table.dataset.points = String(stamps.length);
  table.dataset.resolution = resolution;
  const head = h(
    "thead",
    {},
    h(
      "tr",
      {},
      h("th", { scope: "col", text: "Time" }),
      ...columns.flatMap((c) => [
        h("th", { scope: "col", class: "num", text: `${zoneName(c.zone)} mean` }),
        h("th", { scope: "col", class: "num", text: `${zoneName(c.zone)} max` }),
      ]),
    ),
  );
  const body = h(
    "tbody",
    {},
    stamps.map((t, i) =>
      h(
        "tr",
        { dataset: { t } },
        h("th", { scope: "row", text: timeLabel(new Date(t), resolution) }),
        ...columns.flatMap((c) => [
          h("td", { class: "num", dataset: { zone: c.zone.zone, stat: "mean" }, text: c.mean[i] === null ? "–" : numberText(c.mean[i], 2) }),
          h("td", { class: "num", dataset: { zone: c.zone.zone, stat: "max" }, text: c.max[i] === null ? "–" : String(c.max[i]) }),
        ]),
      ),
    ),
  );
  table.replaceChildren(head, body);
}

function updateExports(start, end, resolution) {
  const span = { start: start.toISOString(), end: end.toISOString() };
  $("export-occupancy").href = apiUrl("export/occupancy.csv", { site, ...span, resolution });
  const eventsStart = new Date(Math.max(start.getTime(), end.getTime() - 31 * 86400000));
  $("export-events").href = apiUrl("export/events.csv", { site, start: eventsStart.toISOString(), end: span.end });
  $("export-alerts").href = apiUrl("export/alerts.csv", { site, ...span });
  $("report-link").href = `/report?site=${encodeURIComponent(site)}`;
}

async function loadViolations() {
  const counts = await api(siteUrl("event-counts"), {
    query: { type: "spacing_violation_started", resolution: "hour", start: localMidnight(today()), end: new Date() },
  });
  setText($("violations-today"), counts.total);
  const el = $("violations-chart");
  el.dataset.total = String(counts.total);
  violationsChart?.destroy();
  el.replaceChildren();
  const first = counts.buckets.findIndex((b) => b.count > 0);
  const from = Math.max(0, Math.min(first < 0 ? Infinity : first, counts.buckets.length - 8));
  const buckets = counts.buckets.slice(from);
  el.dataset.counts = buckets.map((b) => `${zonedParts(b.t).hour}:${b.count}`).join(",");
  violationsChart = barChart(el, {
    x: buckets.map((b) => zonedParts(b.t).hour),
    values: buckets.map((b) => b.count),
    label: "Violations",
    color: "#b45309",
    labelOf: hourLabel,
  });
}

async function loadPeaks() {
  const start = localMidnight(addDays(today(), -6));
  const [week, day] = await Promise.all([
    api(siteUrl("history"), { query: { start, end: new Date(), resolution: "hour" } }),
    api(siteUrl("history"), { query: { start: localMidnight(today()), end: new Date(), resolution: "hour" } }),
  ]);
  peakToday = new Map(day.series.map((s) => [s.zone, Math.max(...s.points.map((p) => p.max))]));
  // mean per hour of the day, per zone
  const profile = new Map();
  for (const s of week.series) {
    const sums = new Map();
    for (const p of s.points) {
      if (!p.samples) continue;
      const hour = zonedParts(p.t).hour;
      const [sum, n] = sums.get(hour) ?? [0, 0];
      sums.set(hour, [sum + p.mean, n + 1]);
    }
    profile.set(s.zone, new Map([...sums].map(([hour, [sum, n]]) => [hour, sum / n])));
  }
  busiest = new Map();
  for (const s of week.series.filter((x) => x.kind === "window")) {
    const hours = [...(profile.get(s.zone) ?? new Map())].filter(([, mean]) => mean > 0).sort((a, b) => b[1] - a[1]);
    busiest.set(s.zone, hours.slice(0, 2).map(([hour, mean]) => ({ hour, mean })));
  }
  renderWindows();

  const hall = week.series.find((s) => s.kind === "hall") ?? week.series[0];
  const el = $("peaks-chart");
  peaksChart?.destroy();
  el.replaceChildren();
  const hallProfile = hall ? profile.get(hall.zone) : null;
  if (!hallProfile?.size) {
    setText($("peak-summary"), "Not enough history yet.");
    return;
  }
  const hours = [...hallProfile.keys()].sort((a, b) => a - b);
  const means = hours.map((hour) => Math.round(hallProfile.get(hour) * 10) / 10);
  const top = [...hallProfile].sort((a, b) => b[1] - a[1]).slice(0, 3);
  setText(
    $("peak-summary"),
    `Busiest: ${top.map(([hour, mean]) => `${hourLabel(hour)}–${hourLabel((hour + 1) % 24)} (${numberText(mean, 1)})`).join(", ")}`,
  );
  el.dataset.hours = hours.join(",");
  peaksChart = barChart(el, { x: hours, values: means, label: "Mean people", labelOf: hourLabel, highlight: top.map(([hour]) => hour) });
}

async function loadQueues() {
  const data = await api(siteUrl("queues"), { query: { minutes: 60 } });
  queues = new Map(data.windows.map((w) => [w.window, w]));
  renderWindows();
}

async function loadWaits() {
  const data = await api(siteUrl("waits"));
  const minutes = Math.round((Date.parse(data.end) - Date.parse(data.start)) / 60000);
  waits = { byWindow: new Map(data.windows.map((w) => [w.zone, w])), minutes, minWaits: data.min_waits };
  setText($("windows-note"), `waits of the last ${minutes} minutes`);
  renderWindows();
}

async function loadHeatmap() {
  const data = await api(siteUrl("heatmap"), { query: { start: localMidnight(addDays(today(), -6)), end: new Date() } });
  plan.setHeatmap(data.cells, data.cell_m);
  heatLoaded = true;
  renderHeatScale();
}

/** The heatmap's scale: the cells' own colours, from rarely to the busiest spot of the 7 days. */
function renderHeatScale() {
  const stops = [0, 0.25, 0.5, 0.75, 1].map((share) => `rgb(220 38 38 / ${(heatOpacity(share) * 100).toFixed(1)}%) ${share * 100}%`);
  $("heat-ramp").style.background = `linear-gradient(to right, ${stops.join(", ")})`;
  const max = plan.heatMax;
  setText($("heat-scale-max"), max ? `busiest spot (${numberText(max)} sightings)` : "no one seen yet");
  $("heat-scale").dataset.max = String(max);
}

function setupRangePicker() {
  const views = /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("#view-picker .seg"));
  for (const button of views) {
    button.addEventListener("click", () => {
      view = button.dataset.view;
      for (const b of views) b.setAttribute("aria-pressed", String(b === button));
      if (occupancyRows) drawOccupancyChart();
    });
  }
  const buttons = /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("#range-picker .seg"));
  const form = $("custom-range");
  const choose = (kind) => {
    for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.range === kind));
    form.hidden = kind !== "custom";
  };
  for (const button of buttons) {
    button.addEventListener("click", () => {
      const kind = button.dataset.range;
      choose(kind);
      if (kind === "custom") {
        $("range-from").value ||= addDays(today(), -13);
        $("range-to").value ||= today();
        $("range-from").focus();
        return;
      }
      range = { kind };
      loadOccupancyChart().catch((e) => report(e, "the occupancy history"));
    });
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const from = $("range-from").value;
    const to = $("range-to").value;
    if (!from || !to || from > to) {
      toast("Choose a start date on or before the end date.", "error");
      return;
    }
    range = { kind: "custom", from, to };
    loadOccupancyChart().catch((e) => report(e, "the occupancy history"));
  });
  $("occupancy-details").addEventListener("toggle", () => {
    if ($("occupancy-details").open) renderOccupancyTable();
  });
}

// ------------------------------------------------------------------------------ start
async function start() {
  site = await chooseSite();
  if (!site) {
    $("floor-empty").hidden = false;
    $("floor-empty").textContent = "No hall has reported yet. Start an edge node, and its hall appears here.";
    return;
  }
  $("show-positions").addEventListener("change", (e) => plan.showPositions(e.target.checked));
  $("show-heatmap")?.addEventListener("change", async (e) => {
    if (e.target.checked && !heatLoaded) await loadHeatmap().catch((err) => report(err, "the heatmap"));
    plan.showHeatmap(e.target.checked);
    $("heat-scale").hidden = !e.target.checked;
  });

  const live = new LiveConnection({ topics: ["alerts", "occupancy", "positions", ...(canEvents ? ["events"] : [])], site });
  live.on("hello", (message, { reconnected }) => {
    zones.reset(message.zones.filter((z) => z.site === site));
    book.reset(message.alerts.filter((a) => a.site === site));
    renderNow();
    renderAlerts();
    if (reconnected) refreshOccupancy().catch(() => {});
  });
  live.on("occupancy", (message) => {
    if (message.site !== site) return;
    zones.update(message.zone);
    schedule("now", renderNow);
    schedule("alerts", renderAlerts); // the cards' "now" figure
  });
  live.on("alert", (message) => {
    if (message.site !== site) return;
    book.merge(message.alert);
    schedule("alerts", renderAlerts);
  });
  live.on("positions", (message) => {
    if (message.site === site) plan.setPositions(message.camera, message.people);
  });
  live.on("layout", (message) => {
    if (message.site === site) {
      loadLayout()
        .then(() => heatLoaded && renderHeatScale())
        .catch((e) => report(e, "the floor plan"));
    }
  });
  live.on("event", (message) => {
    if (message.site !== site) return;
    const type = message.event.type;
    if (type === "person_entered" || type === "person_left" || type.startsWith("spacing_violation")) {
      debounce("occupancy", () => refreshOccupancy().catch(() => {}), 1000);
    }
    if (canHistory && type === "spacing_violation_started") debounce("violations", () => loadViolations().catch(() => {}), 2000);
    if (canHistory && type === "queue_left") debounce("waits", () => loadWaits().catch(() => {}), 2000);
  });
  live.start();

  const loads = [loadLayout().catch((e) => report(e, "the floor plan")), refreshOccupancy().catch((e) => report(e, "the counts"))];
  if (canHistory) {
    setupRangePicker();
    loads.push(
      loadOccupancyChart().catch((e) => report(e, "the occupancy history")),
      loadViolations().catch((e) => report(e, "the spacing violations")),
      loadPeaks().catch((e) => report(e, "the busiest hours")),
      loadQueues().catch((e) => report(e, "the queues")),
      loadWaits().catch((e) => report(e, "the waits")),
      loadAccuracy().catch((e) => report(e, "the count accuracy")),
    );
  }
  await Promise.all(loads);
  document.body.dataset.ready = "true";

  window.setInterval(() => {
    for (const el of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll(".dash-alert-age"))) setText(el, ageText(el.dataset.since));
  }, 1000);
  window.setInterval(() => refreshOccupancy().catch(() => {}), 15000);
  if (canHistory) window.setInterval(() => loadAccuracy().catch(() => {}), 5000); // guides' checks come in
  if (canHistory) {
    window.setInterval(() => {
      loadQueues().catch(() => {});
      loadWaits().catch(() => {}); // waits age out of the period
      loadViolations().catch(() => {});
      if (range.kind === "today") loadOccupancyChart().catch(() => {});
    }, 60000);
  }
}

start().catch((error) => report(error, "the dashboard"));
