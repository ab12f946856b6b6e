// @ts-check
// The floor view: the hall's floor plan with its live counts and people. With ``?alert=ID`` (every
// alert links here: the guide's cards, the dashboard's alert rows) it is centred on that alert's
// place (a spacing alert's pair, else its zone), marks it, and shows the alert above the plan;
// "Whole floor" shows all of the hall.

import { api } from "./api.js";
import { alertFigures, alertTitle, episodeStart, figuresText } from "./alert-book.js";
import { setText } from "./dom.js";
import { FloorPlan } from "./floor-plan.js";
import { ageText, clockText } from "./format.js";
import { LiveConnection } from "./live.js";
import { alertPlace } from "./mini-plan.js";
import { chooseSite, toast } from "./shell.js";
import { ZoneBoard } from "./zones.js";

const AROUND_M = 8; // the view around an alert: this many metres across
const SEVERITY_LABEL = { critical: "Critical", warning: "Warning", info: "Info" };

/** @type {(id: string) => any} */
const $ = (id) => document.getElementById(id);
const plan = new FloorPlan($("floor-plan"));
const zones = new ZoneBoard();
const params = new URL(location.href).searchParams;
const alertId = /^\d{1,15}$/.test(params.get("alert") ?? "") ? Number(params.get("alert")) : null;
let site = null;
let alert = null;
let layoutZones = [];
let whole = false;

function renderAlert() {
  const box = $("floor-alert");
  box.hidden = !alert;
  if (!alert) return;
  box.dataset.severity = alert.severity;
  box.dataset.status = alert.status;
  const badge = $("floor-alert-severity");
  badge.dataset.severity = alert.severity;
  setText(badge, SEVERITY_LABEL[alert.severity] ?? alert.severity);
  setText($("floor-alert-title"), alertTitle(alert));
  setText($("floor-alert-message"), alert.message);
  const figures = figuresText(alertFigures(alert, alert.zone ? zones.get(alert.zone) : null));
  setText($("floor-alert-figures"), [figures, `since ${clockText(episodeStart(alert))}`].filter(Boolean).join(" · "));
  setText($("floor-alert-age"), alert.status === "resolved" ? "resolved" : ageText(episodeStart(alert)));
  setText(
    $("floor-alert-status"),
    alert.status === "resolved"
      ? `Resolved at ${clockText(alert.resolved_at ?? alert.updated_at)}`
      : alert.status === "acknowledged"
        ? `Taken by ${alert.acknowledged_by} at ${clockText(alert.acknowledged_at)}`
        : "Not taken yet",
  );
}

/** Centre the plan on the alert's place and mark it (or show the whole floor). */
function renderView() {
  const place = alert ? alertPlace(alert, layoutZones) : null;
  plan.mark(place);
  plan.focus(place && !whole ? place : null, AROUND_M);
  $("legend-mark").hidden = !place;
  const toggle = $("floor-toggle");
  toggle.hidden = !place;
  setText(toggle, whole ? "Around the alert" : "Whole floor");
  toggle.setAttribute("aria-pressed", String(whole));
  if (alert && !place) setText($("floor-alert-figures"), "This alert has no place on the floor (a camera or an edge node).");
}

async function loadLayout() {
  layoutZones = (await api(`sites/${encodeURIComponent(site)}/layout`)).zones;
  plan.setLayout(layoutZones);
  plan.setCounts(zones);
  $("floor-empty").hidden = plan.zoneCount > 0;
  renderView();
}

async function start() {
  const role = document.body.dataset.role;
  site = await chooseSite();
  const back = $("floor-back");
  back.href = `${role === "guide" ? "/guide" : "/dashboard"}${site ? `?site=${encodeURIComponent(site)}` : ""}`;
  setText(back, role === "guide" ? "Back to the alerts" : "Back to the dashboard");
  if (!site) {
    $("floor-empty").hidden = false;
    return;
  }
  $("floor-toggle").addEventListener("click", () => {
    whole = !whole;
    renderView();
  });
  if (alertId !== null) {
    try {
      alert = await api(`alerts/${alertId}`);
      if (alert.site !== site) alert = null;
    } catch (error) {
      if (error.status !== 401) toast(`Could not load the alert: ${error.message}`, "error", 6000);
    }
  }
  renderAlert();

  const live = new LiveConnection({ topics: ["alerts", "occupancy", "positions"], site });
  live.on("hello", (message) => {
    zones.reset(message.zones.filter((z) => z.site === site));
    plan.setCounts(zones);
    renderAlert();
  });
  live.on("occupancy", (message) => {
    if (message.site !== site || !zones.update(message.zone)) return;
    plan.setCounts(zones);
    renderAlert();
  });
  live.on("positions", (message) => {
    if (message.site === site) plan.setPositions(message.camera, message.people);
  });
  live.on("alert", (message) => {
    if (!alert || message.alert.id !== alert.id || message.alert.version < alert.version) return;
    alert = message.alert;
    renderAlert();
    renderView();
  });
  live.on("layout", (message) => {
    if (message.site === site) loadLayout().catch(() => {});
  });
  live.start();
  await loadLayout();
  document.body.dataset.ready = "true";
  window.setInterval(renderAlert, 1000); // the age
}

start().catch((error) => {
  if (error.status !== 401) toast(`Could not load the floor plan: ${error.message}`, "error", 10000);
});
