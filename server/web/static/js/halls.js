// @ts-check
// The district overview: every hall the user's role holds on, those that need attention first, with
// the hall's count against its capacity, the zones over their limits, open alerts and nodes online.

import { api } from "./api.js";
import { h, setText, syncList } from "./dom.js";
import { ageText, clockText } from "./format.js";
import { toast } from "./shell.js";

const REFRESH_MS = 10000;
const SEVERITY_RANK = { critical: 3, warning: 2, info: 1 };

const els = {
  list: /** @type {HTMLElement} */ (document.getElementById("hall-list")),
  loading: /** @type {HTMLElement} */ (document.getElementById("halls-loading")),
  empty: /** @type {HTMLElement} */ (document.getElementById("halls-empty")),
  updated: /** @type {HTMLElement} */ (document.getElementById("halls-updated")),
};

/** How urgent a hall is: open alerts by severity, then zones over their limits, then a full hall. */
function attention(hall) {
  const ratio = hall.hall?.ratio ?? 0;
  return [
    hall.alerts_open ? SEVERITY_RANK[hall.worst_severity] ?? 1 : 0,
    hall.alerts_open,
    hall.zones_over.length,
    ratio,
  ];
}

function byAttention(a, b) {
  const x = attention(a);
  const y = attention(b);
  for (let i = 0; i < x.length; i += 1) if (x[i] !== y[i]) return y[i] - x[i];
  return a.site.localeCompare(b.site);
}

function hallLevel(hall) {
  const ratio = hall.hall?.ratio;
  if (ratio === null || ratio === undefined) return "unknown";
  if (ratio > 1) return "over";
  if (ratio >= 0.8) return "warning";
  return "ok";
}

function createCard(hall) {
  const link = (path, label) =>
    h("a", { class: "card-link", href: `${path}?site=${encodeURIComponent(hall.site)}` }, label);
  return h(
    "li",
    { class: "card hall-card" },
    h("div", { class: "card-head" }, h("h2", { class: "hall-name" }), h("span", { class: "level-pill hall-count" })),
    h("p", { class: "hall-zones" }),
    h("p", { class: "hall-alerts" }),
    h("p", { class: "hall-nodes muted small" }),
    h("div", { class: "hall-links" }, link("/dashboard", "Dashboard"), link("/floor", "Floor plan"), link("/guide", "Alerts")),
  );
}

function updateCard(el, hall) {
  setText(el.querySelector(".hall-name"), hall.site);
  const count = el.querySelector(".hall-count");
  const level = hallLevel(hall);
  count.dataset.level = level;
  const people = hall.hall?.count;
  const capacity = hall.hall?.capacity;
  setText(count, people === null || people === undefined ? "–" : capacity ? `${people} / ${capacity}` : `${people}`);
  count.setAttribute(
    "aria-label",
    people === null || people === undefined ? "count unknown" : `${people} people in the hall${capacity ? ` of ${capacity}` : ""}`,
  );
  const zones = el.querySelector(".hall-zones");
  zones.dataset.state = hall.zones_over.length ? "over" : "ok";
  setText(
    zones,
    hall.zones_over.length
      ? `Over the limit: ${hall.zones_over.join(", ")}`
      : hall.zones_unknown
        ? `Within limits; ${hall.zones_unknown} zone${hall.zones_unknown === 1 ? "" : "s"} not seen now`
        : "Every window and queue within its limit",
  );
  const alerts = el.querySelector(".hall-alerts");
  alerts.dataset.severity = hall.alerts_open ? hall.worst_severity ?? "warning" : "none";
  setText(
    alerts,
    hall.alerts_open || hall.alerts_taken
      ? `${hall.alerts_open} open alert${hall.alerts_open === 1 ? "" : "s"}, ${hall.alerts_taken} taken`
      : "No open alerts",
  );
  setText(
    el.querySelector(".hall-nodes"),
    `${hall.nodes_online} of ${hall.nodes} node${hall.nodes === 1 ? "" : "s"} online` +
      (hall.updated_at ? ` · last count ${lastCount(hall.updated_at)}` : " · no count yet"),
  );
  el.dataset.site = hall.site;
}

function lastCount(iso) {
  const age = ageText(iso);
  return age === "now" ? "now" : `${age} ago`;
}

async function refresh() {
  try {
    const halls = await api("overview");
    halls.sort(byAttention);
    els.loading.hidden = true;
    els.empty.hidden = halls.length > 0;
    syncList(els.list, halls, (hall) => hall.site, createCard, updateCard);
    setText(els.updated, `Updated ${clockText(new Date())}`);
    document.body.dataset.ready = "true";
  } catch (error) {
    if (error.status !== 401) toast(`Could not load the halls: ${error.message}`, "error");
  }
}

refresh();
window.setInterval(refresh, REFRESH_MS);
