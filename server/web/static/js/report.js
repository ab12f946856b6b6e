// @ts-check
// The printable daily or weekly report, from /sites/{site}/summary (per local day), the layout
// (zone names and limits), the alerts of the period (how fast they were taken, by kind), the
// waits people had in each queue (/waits) and the guides' count checks (/accuracy).

import { api } from "./api.js";
import { RULE_LABELS } from "./alert-book.js";
import { h, setText } from "./dom.js";
import { addDays, dateTimeText, dayText, durationText, hallTimeZone, localDate, localMidnight, numberText } from "./format.js";
import { chooseSite, toast } from "./shell.js";
import { byName, zoneName } from "./zones.js";

// `any` for the checker: the page knows which kind of element (input, table, svg) each id names.
/** @type {(id: string) => any} */
const $ = (id) => document.getElementById(id);
const params = new URL(location.href).searchParams;
let period = params.get("period") === "day" ? "day" : "week";
let site = null;

function median(values) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * @param {string | number} text
 * @param {{num?: boolean, col?: string, over?: boolean}} [options]
 */
function cell(text, { num = true, col, over = false } = {}) {
  return h("td", { class: [num ? "num" : "", over ? "over" : ""].join(" ").trim() || null, dataset: col ? { col } : {}, text: String(text) });
}

/** A queue's waits in the period and their median ("not enough data" below ``minWaits``). */
function waitCells(wait, minWaits) {
  if (!wait) return [cell("–", { col: "waits" }), cell("–", { col: "median-wait" })];
  const median = wait.median_s === null ? `not enough data (under ${minWaits})` : durationText(wait.median_s);
  return [cell(wait.waits, { col: "waits" }), cell(median, { col: "median-wait" })];
}

async function allAlerts(start, end) {
  const items = [];
  for (let offset = 0; offset < 10000; offset += 1000) {
    const page = await api("alerts", { query: { site, since: start, until: end, limit: 1000, offset } });
    items.push(...page.items);
    if (items.length >= page.total || !page.items.length) break;
  }
  return items;
}

function setPeriodButtons() {
  for (const b of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-period]"))) b.setAttribute("aria-pressed", String(b.dataset.period === period));
  setText($("report-date-label"), period === "day" ? "Day" : "Week ending");
}

async function load() {
  const last = $("report-date").value || localDate(Date.now());
  const first = period === "day" ? last : addDays(last, -6);
  const start = localMidnight(first);
  const end = localMidnight(addDays(last, 1));
  const url = new URL(location.href);
  url.searchParams.set("period", period);
  url.searchParams.set("date", last);
  if (site) url.searchParams.set("site", site);
  history.replaceState(null, "", url);

  setText($("report-title"), period === "day" ? "Daily report" : "Weekly report");
  setText($("report-site"), site ?? "–");
  setText($("report-range"), first === last ? dayText(first, { year: true }) : `${dayText(first)} – ${dayText(last, { year: true })}`);
  setText($("report-generated"), `Generated ${dateTimeText(Date.now())}`);
  setText($("report-tz"), hallTimeZone());
  document.title = `${period === "day" ? "Daily" : "Weekly"} report ${first === last ? first : `${first} to ${last}`} · hallwatch`;
  if (!site) return;

  const [summary, layout, alerts, accuracy, waits] = await Promise.all([
    api(`sites/${encodeURIComponent(site)}/summary`, { query: { start, end } }),
    api(`sites/${encodeURIComponent(site)}/layout`),
    allAlerts(start, end),
    api(`sites/${encodeURIComponent(site)}/accuracy`, { query: { start, end } }),
    api(`sites/${encodeURIComponent(site)}/waits`, { query: { start, end: new Date(Math.min(end.getTime(), Date.now())) } }),
  ]);
  const waitOf = new Map(waits.queues.map((q) => [q.zone, q]));
  // Guides' count checks against the measured counts (the accuracy audit)
  $("accuracy-empty").hidden = accuracy.zones.length > 0;
  $("accuracy-table").hidden = accuracy.zones.length === 0;
  $("accuracy-table").tBodies[0].replaceChildren(
    ...accuracy.zones.map((z) =>
      h(
        "tr",
        { dataset: { zone: z.zone, flag: String(z.needs_recalibration) } },
        h("th", { scope: "row", text: z.name || z.zone }),
        h("td", { class: "num", text: String(z.checks) }),
        h("td", { class: "num", text: z.mae === null ? "–" : z.mae.toFixed(2) }),
        h("td", { class: "num", text: z.bias === null ? "–" : `${z.bias > 0 ? "+" : ""}${z.bias.toFixed(1)}` }),
        h("td", { text: z.needs_recalibration ? "Needs recalibration" : z.checks < accuracy.min_checks ? "Too few checks" : "OK" }),
      ),
    ),
  );
  const zones = new Map(layout.zones.map((z) => [z.zone, z]));
  const hallZone = layout.zones.find((z) => z.kind === "hall")?.zone;
  const byDate = new Map(summary.days.map((d) => [d.date, d]));
  const days = [];
  for (let d = first; d <= last; d = addDays(d, 1)) {
    days.push(byDate.get(d) ?? { date: d, entries: 0, exits: 0, violations: 0, alerts: 0, acknowledged: 0, median_ack_s: null, zones: [] });
  }
  const delays = alerts.filter((a) => a.acknowledged_at).map((a) => (Date.parse(a.acknowledged_at) - Date.parse(a.opened_at)) / 1000);
  const overOf = (day) => day.zones.filter((z) => zones.get(z.zone)?.kind !== "hall").reduce((n, z) => n + z.minutes_over_limit, 0);
  const hallPeak = (day) => day.zones.find((z) => z.zone === hallZone)?.peak ?? null;
  const sum = (f) => days.reduce((n, d) => n + f(d), 0);
  const peaks = days.map(hallPeak).filter((p) => p !== null);
  const totals = {
    visitors: sum((d) => d.entries),
    exits: sum((d) => d.exits),
    peak: peaks.length ? Math.max(...peaks) : null,
    over: sum(overOf),
    violations: sum((d) => d.violations),
    alerts: sum((d) => d.alerts),
    acknowledged: sum((d) => d.acknowledged),
  };

  setText($("sum-visitors"), numberText(totals.visitors));
  const capacity = hallZone ? zones.get(hallZone)?.limit : null;
  setText($("sum-peak"), totals.peak === null ? "–" : capacity ? `${totals.peak} / ${capacity}` : totals.peak);
  setText($("sum-violations"), numberText(totals.violations));
  setText($("sum-alerts"), numberText(totals.alerts));
  setText($("sum-acknowledged"), totals.alerts ? `${totals.acknowledged} (${Math.round((100 * totals.acknowledged) / totals.alerts)} %)` : "–");
  setText($("sum-ack"), durationText(median(delays)));

  $("days-table").tBodies[0].replaceChildren(
    ...days.map((d) =>
      h(
        "tr",
        { dataset: { date: d.date } },
        h("th", { scope: "row", text: dayText(d.date) }),
        cell(d.entries, { col: "visitors" }),
        cell(d.exits, { col: "exits" }),
        cell(hallPeak(d) ?? "–", { col: "peak" }),
        cell(overOf(d), { col: "over", over: overOf(d) > 0 }),
        cell(d.violations, { col: "violations" }),
        cell(d.alerts, { col: "alerts" }),
        cell(d.acknowledged, { col: "acknowledged" }),
        cell(durationText(d.median_ack_s), { col: "median-ack" }),
      ),
    ),
  );
  const foot = $("days-table").tFoot;
  foot.replaceChildren(
    period === "day"
      ? ""
      : h(
          "tr",
          {},
          h("th", { scope: "row", text: "Week" }),
          cell(totals.visitors, { col: "visitors" }),
          cell(totals.exits, { col: "exits" }),
          cell(totals.peak ?? "–", { col: "peak" }),
          cell(totals.over, { col: "over" }),
          cell(totals.violations, { col: "violations" }),
          cell(totals.alerts, { col: "alerts" }),
          cell(totals.acknowledged, { col: "acknowledged" }),
          cell(durationText(median(delays)), { col: "median-ack" }),
        ),
  );

  // windows and queues
  const perZone = new Map();
  for (const d of days) {
    for (const z of d.zones) {
      const acc = perZone.get(z.zone) ?? { peak: null, over: 0, days: 0 };
      if (z.peak !== null) acc.peak = Math.max(acc.peak ?? 0, z.peak);
      acc.over += z.minutes_over_limit;
      acc.days += z.minutes_over_limit > 0 ? 1 : 0;
      perZone.set(z.zone, acc);
    }
  }
  const zoneRows = layout.zones.filter((z) => z.kind === "window" || z.kind === "queue").sort((a, b) => (a.kind === b.kind ? byName(a, b) : a.kind === "window" ? -1 : 1));
  $("zones-table").tBodies[0].replaceChildren(
    ...zoneRows.map((z) => {
      const acc = perZone.get(z.zone) ?? { peak: null, over: 0, days: 0 };
      return h(
        "tr",
        { dataset: { zone: z.zone } },
        h("th", { scope: "row", text: zoneName(z) }),
        cell(z.limit ?? "–", { col: "limit" }),
        cell(acc.peak ?? "–", { col: "peak", over: acc.peak !== null && z.limit !== null && acc.peak > z.limit }),
        cell(acc.over, { col: "over", over: acc.over > 0 }),
        cell(acc.days, { col: "days-over" }),
        ...waitCells(z.kind === "queue" ? waitOf.get(z.zone) : null, waits.min_waits),
      );
    }),
  );

  // alerts by kind
  const byRule = new Map();
  for (const a of alerts) {
    const acc = byRule.get(a.rule) ?? { count: 0, taken: 0, delays: [] };
    acc.count += 1;
    if (a.acknowledged_at) {
      acc.taken += 1;
      acc.delays.push((Date.parse(a.acknowledged_at) - Date.parse(a.opened_at)) / 1000);
    }
    byRule.set(a.rule, acc);
  }
  const rules = [...byRule].sort((a, b) => b[1].count - a[1].count);
  $("rules-table").tBodies[0].replaceChildren(
    ...(rules.length
      ? rules.map(([rule, acc]) =>
          h(
            "tr",
            { dataset: { rule } },
            h("th", { scope: "row", text: RULE_LABELS[rule] ?? rule }),
            cell(acc.count, { col: "alerts" }),
            cell(acc.taken, { col: "taken" }),
            cell(durationText(median(acc.delays)), { col: "median" }),
            cell(durationText(acc.delays.length ? Math.max(...acc.delays) : null), { col: "slowest" }),
          ),
        )
      : [h("tr", {}, h("td", { colspan: "5", class: "muted", text: "No alerts in this period." }))]),
  );
  document.body.dataset.ready = "true";
}

async function start() {
  const today = localDate(Date.now());
  const date = $("report-date");
  date.max = today;
  date.value = /^\d{4}-\d{2}-\d{2}$/.test(params.get("date") ?? "") ? params.get("date") : today;
  setPeriodButtons();
  for (const button of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-period]"))) {
    button.addEventListener("click", () => {
      period = button.dataset.period;
      setPeriodButtons();
      load().catch((e) => e.status !== 401 && toast(`Could not load the report: ${e.message}`, "error"));
    });
  }
  date.addEventListener("change", () => {
    if (date.value) load().catch((e) => e.status !== 401 && toast(`Could not load the report: ${e.message}`, "error"));
  });
  $("report-controls").addEventListener("submit", (event) => event.preventDefault());
  $("print-report").addEventListener("click", () => window.print());
  site = await chooseSite();
  await load();
}

start().catch((error) => {
  if (error.status !== 401) toast(`Could not load the report: ${error.message}`, "error", 10000);
});
