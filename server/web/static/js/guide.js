// @ts-check
// The floor guide's page: the hall's open alerts by window, taken and resolved with one tap each.

import { api } from "./api.js";
import {
  AlertBook,
  alertFigures,
  alertTitle,
  clearedWhileTaken,
  episodeStart,
  figuresText,
  floorViewUrl,
  SEVERITY_RANK,
} from "./alert-book.js";
import { AlertSignal } from "./alert-signal.js";
import { h, setText, syncList } from "./dom.js";
import { ageText, clockText } from "./format.js";
import { LiveConnection } from "./live.js";
import { alertPlace, drawMiniPlan } from "./mini-plan.js";
import { registerServiceWorker } from "./pwa.js";
import { chooseSite, toast } from "./shell.js";
import { zoneLevel, ZoneBoard, zoneName } from "./zones.js";

const RESOLVED_KEPT_MS = 30 * 60 * 1000;
// A taken alert that cleared by itself stays on the page this long (or until its taker taps OK), so
// that a guide walking over learns it is over instead of seeing the card vanish (issue 13).
const CLEARED_KEPT_MS = 10 * 60 * 1000;
const dismissed = new Set(); // cleared cards this page was told to put away
const OLD_ALERT_S = 120; // an open alert nobody took for this long shows its age in red
const SEVERITY_LABEL = { critical: "Critical", warning: "Warning", info: "Info" };

const me = document.body.dataset.username;
const book = new AlertBook();
const zones = new ZoneBoard();
const signal = new AlertSignal(document.getElementById("sound-toggle"), document.getElementById("sound-label"));
const groupsBox = document.getElementById("alert-groups");
const cardTemplate = /** @type {HTMLTemplateElement} */ (document.getElementById("alert-card-template"));
const fresh = new Set(); // alert ids to flash once when first drawn
let site = null;
let loaded = false;
let layoutZones = []; // the floor's zones with their outlines, for the cards' plans
const wholeFloor = new Set(); // alert ids whose plan shows the whole floor

// ------------------------------------------------------------------------------ grouping
function windowGroup(id) {
  const zone = zones.get(id);
  return { key: `window:${id}`, title: zone ? zoneName(zone) : id, zone: id };
}

/** Which heading an alert goes under: its window (queues and spacing at a window too), the hall, or the system. */
function groupOf(alert) {
  if (alert.rule === "hall_capacity") return { key: "hall", title: "Whole hall", zone: alert.zone };
  if (alert.zone) {
    const zone = zones.get(alert.zone);
    if (zone?.kind === "queue" && zone.window) return windowGroup(zone.window);
    if (zone?.kind === "hall") return { key: "hall", title: "Whole hall", zone: alert.zone };
    return windowGroup(alert.zone);
  }
  if (alert.rule === "spacing_violation" || alert.rule === "repeated_spacing") {
    return { key: "floor", title: "On the floor", zone: null };
  }
  return { key: "system", title: "Cameras and edge nodes", zone: null };
}

/** Taken alerts that cleared by themselves, not put away yet. */
function clearedAlerts() {
  return book.recentlyResolved(CLEARED_KEPT_MS).filter((a) => clearedWhileTaken(a) && !dismissed.has(a.id));
}

function groupedAlerts() {
  const groups = new Map();
  for (const alert of [...book.active(), ...clearedAlerts()]) {
    const g = groupOf(alert);
    if (!groups.has(g.key)) groups.set(g.key, { ...g, alerts: [] });
    groups.get(g.key).alerts.push(alert);
  }
  const urgency = (alert) => [
    alert.status === "open" ? 2 : alert.status === "acknowledged" ? 1 : 0,
    SEVERITY_RANK[alert.severity] ?? 0,
  ];
  for (const g of groups.values()) {
    g.alerts.sort((a, b) => {
      const [ua, sa] = urgency(a);
      const [ub, sb] = urgency(b);
      return ub - ua || sb - sa || Date.parse(a.opened_at) - Date.parse(b.opened_at);
    });
    g.untaken = g.alerts.some((a) => a.status === "open") ? 1 : 0;
    g.severity = Math.max(...g.alerts.map((a) => SEVERITY_RANK[a.severity] ?? 0));
    g.oldest = Math.min(...g.alerts.map((a) => Date.parse(a.opened_at)));
  }
  return [...groups.values()].sort(
    (a, b) => b.untaken - a.untaken || b.severity - a.severity || a.oldest - b.oldest,
  );
}

// ------------------------------------------------------------------------------ drawing

function createGroup() {
  return h(
    "section",
    { class: "alert-group" },
    h("div", { class: "alert-group-head" }, h("h2", { class: "alert-group-title" }), h("span", { class: "level-pill" })),
    h("div", { class: "alert-group-cards" }),
  );
}

function updateGroup(el, group) {
  el.dataset.group = group.key;
  const title = el.querySelector(".alert-group-title");
  setText(title, group.title);
  const pill = el.querySelector(".level-pill");
  const zone = group.zone ? zones.get(group.zone) : null;
  if (zone && zone.count !== null && zone.count !== undefined) {
    pill.hidden = false;
    pill.dataset.level = zoneLevel(zone);
    setText(pill, zone.limit !== null && zone.limit !== undefined ? `${zone.count} / ${zone.limit}` : zone.count);
    pill.setAttribute(
      "aria-label",
      `${zone.count} people now${zone.limit !== null && zone.limit !== undefined ? `, limit ${zone.limit}` : ""}`,
    );
  } else {
    pill.hidden = true;
  }
  const cards = el.querySelector(".alert-group-cards");
  cards.setAttribute("aria-label", group.title);
  syncList(cards, group.alerts, (a) => a.id, createCard, (card, alert) => updateCard(card, alert, group));
}

function createCard() {
  return cardTemplate.content.firstElementChild.cloneNode(true);
}

function updateCard(card, alert, group) {
  card.dataset.alertId = alert.id;
  card.dataset.severity = alert.severity;
  const cleared = clearedWhileTaken(alert);
  card.dataset.status = cleared ? "cleared" : alert.status;
  card.dataset.rule = alert.rule;
  card.dataset.zone = alert.zone ?? "";
  if (fresh.delete(alert.id)) {
    card.classList.remove("is-new");
    void card.offsetWidth; // restart the flash
    card.classList.add("is-new");
  }
  const title = alertTitle(alert);
  const badge = card.querySelector(".severity-badge");
  badge.dataset.severity = alert.severity;
  setText(badge, SEVERITY_LABEL[alert.severity] ?? alert.severity);
  setText(card.querySelector(".alert-title"), title);
  card.setAttribute("aria-label", `${SEVERITY_LABEL[alert.severity] ?? ""} alert: ${title}, ${group.title}`);
  const age = card.querySelector(".alert-age");
  age.dataset.since = episodeStart(alert);
  updateAge(age);
  setText(card.querySelector(".alert-message"), alert.message);
  // The count now comes from the same zone as the heading's pill: the card never contradicts it.
  const figures = alertFigures(alert, alert.zone ? zones.get(alert.zone) : null);
  const since = `since ${clockText(episodeStart(alert))}`;
  const back = alert.reopen_count > 0 ? ` (back ${alert.reopen_count}×, first at ${clockText(alert.opened_at)})` : "";
  setText(card.querySelector(".alert-figures"), [figuresText(figures), since + back].filter(Boolean).join(" · "));

  // Where to go: a small plan centred on the alert (a spacing alert's pair, or its zone).
  const figure = card.querySelector(".alert-place");
  const place = alertPlace(alert, layoutZones);
  figure.hidden = !drawMiniPlan(card.querySelector(".alert-plan"), layoutZones, alert, place, { whole: wholeFloor.has(alert.id) });
  const planButton = card.querySelector(".button-plan");
  planButton.hidden = figure.hidden;
  setText(planButton, wholeFloor.has(alert.id) ? "Around it" : "Whole floor");
  const floorLink = card.querySelector(".floor-link");
  floorLink.href = floorViewUrl(alert);
  floorLink.setAttribute("aria-label", `On the floor plan: ${title}, ${group.title}`);

  const taken = card.querySelector(".alert-taken");
  const mine = alert.acknowledged_by === me;
  if (cleared) {
    taken.hidden = false;
    taken.dataset.mine = String(mine);
    const who = mine ? "you were" : `${alert.acknowledged_by} was`;
    setText(taken, `Cleared while ${who} on the way (at ${clockText(alert.resolved_at)})`);
  } else if (alert.status === "acknowledged") {
    taken.hidden = false;
    taken.dataset.mine = String(mine);
    const who = mine ? "You're on it" : `${alert.acknowledged_by} is on it`;
    setText(taken, `${who} · since ${clockText(alert.acknowledged_at)}`);
  } else if (alert.escalated) {
    taken.hidden = false;
    taken.dataset.mine = "false";
    setText(taken, `Nobody took it: sent to the manager at ${clockText(alert.escalated_at ?? alert.updated_at)}`);
  } else {
    taken.hidden = true;
  }

  const take = card.querySelector(".button-take");
  const resolve = card.querySelector(".button-resolve");
  const dismiss = card.querySelector(".button-dismiss");
  dismiss.hidden = !cleared;
  dismiss.setAttribute("aria-label", `OK, put away: ${title}, ${group.title}`);
  resolve.hidden = cleared;
  take.hidden = alert.status !== "open";
  take.setAttribute("aria-label", `I'm on it: ${title}, ${group.title}`);
  resolve.setAttribute("aria-label", `Resolve: ${title}, ${group.title}`);
  resolve.classList.toggle("button-primary", alert.status === "acknowledged");
  resolve.classList.toggle("button-secondary", alert.status !== "acknowledged");
}

function updateAge(el) {
  const iso = el.dataset.since;
  if (!iso) return;
  setText(el, ageText(iso));
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  el.dataset.old = String(seconds >= OLD_ALERT_S);
  const label = `open for ${ageText(iso)}, since ${clockText(iso)}`;
  if (el.getAttribute("aria-label") !== label) el.setAttribute("aria-label", label);
}

function renderAlerts() {
  const groups = groupedAlerts();
  syncList(groupsBox, groups, (g) => g.key, createGroup, updateGroup);
  const active = book.active();
  const untaken = active.filter((a) => a.status === "open").length;
  const counter = document.getElementById("alert-count");
  setText(counter, active.length);
  counter.dataset.count = String(active.length);
  counter.setAttribute("aria-label", `${active.length} open alerts, ${untaken} not taken`);
  document.getElementById("all-clear").hidden = !loaded || active.length > 0;
  document.getElementById("alerts-loading").hidden = loaded;
  document.title = `${untaken ? `(${untaken}) ` : ""}Floor alerts · hallwatch`;
  renderResolved();
}

function renderResolved() {
  const list = document.getElementById("resolved-list");
  const recent = book.recentlyResolved(RESOLVED_KEPT_MS).slice(0, 20);
  setText(document.getElementById("resolved-count"), recent.length);
  syncList(
    list,
    recent,
    (a) => a.id,
    () => h("li", { class: "resolved-item" }, h("span", { class: "resolved-item-what" }), h("span", { class: "resolved-item-when" })),
    (el, alert) => {
      const group = groupOf(alert);
      const by = alert.resolved_by ? ` by ${alert.resolved_by === me ? "you" : alert.resolved_by}` : " (cleared)";
      setText(el.firstChild, `${group.title}: ${alertTitle(alert)}${by}`);
      setText(el.lastChild, alert.resolved_at ? clockText(alert.resolved_at) : "");
    },
  );
}

function renderZones() {
  const hall = zones.hall();
  const hallBox = document.getElementById("hall-now");
  hallBox.dataset.level = zoneLevel(hall);
  setText(document.getElementById("hall-count"), hall?.count ?? "–");
  setText(document.getElementById("hall-capacity"), hall?.limit ?? "–");
  const windows = zones.ofKind("window");
  /** @type {HTMLElement} */ (document.querySelector(".windows-section")).hidden = windows.length === 0;
  syncList(
    document.getElementById("window-chips"),
    windows,
    (w) => w.zone,
    () =>
      h(
        "li",
        { class: "window-chip" },
        h("span", { class: "window-chip-name" }),
        h("span", { class: "window-chip-count" }),
        h("span", { class: "window-chip-queue" }),
        h("button", { type: "button", class: "button button-secondary button-check" }, "Check count"),
      ),
    (el, w) => {
      el.dataset.level = zoneLevel(w);
      el.dataset.zone = w.zone;
      setText(el.children[0], zoneName(w));
      const count = w.count ?? "–";
      el.children[1].replaceChildren(
        document.createTextNode(String(count)),
        h("span", { class: "window-chip-limit", text: w.limit !== null && w.limit !== undefined ? ` / ${w.limit}` : "" }),
      );
      const queues = zones.queuesOf(w.zone).filter((q) => q.count !== null && q.count !== undefined);
      const waiting = queues.reduce((n, q) => n + q.count, 0);
      setText(el.children[2], queues.length ? `${waiting} waiting` : "");
      el.setAttribute(
        "aria-label",
        `${zoneName(w)}: ${count} people${w.limit !== null && w.limit !== undefined ? ` of ${w.limit}` : ""}${queues.length ? `, ${waiting} waiting` : ""}`,
      );
      const check = el.querySelector(".button-check");
      check.dataset.zone = w.zone;
      check.setAttribute("aria-label", `Check count: ${zoneName(w)}`);
    },
  );
  // group headings show their window's count
  const groups = new Map(groupedAlerts().map((g) => [g.key, g]));
  for (const el of /** @type {HTMLCollectionOf<HTMLElement>} */ (groupsBox.children)) {
    const group = groups.get(el.dataset.group);
    if (group) updateGroup(el, group);
  }
}

// ------------------------------------------------------------------------------ taking and resolving
async function act(card, action) {
  const id = Number(card.dataset.alertId);
  const button = card.querySelector(action === "acknowledge" ? ".button-take" : ".button-resolve");
  const label = button.textContent;
  button.disabled = true;
  button.textContent = action === "acknowledge" ? "Taking…" : "Resolving…";
  const next = card.nextElementSibling ?? card.closest(".alert-group")?.nextElementSibling;
  try {
    const alert = await api(`alerts/${id}/${action}`, { method: "POST" });
    book.merge(alert);
    if (action === "resolve") toast("Resolved. Thank you!");
    renderAlerts();
    if (action === "resolve") {
      (next?.querySelector?.("button:not([hidden])") ?? document.getElementById("alerts-title")).focus?.();
    } else {
      card.querySelector(".button-resolve")?.focus();
    }
  } catch (error) {
    if (error.status === 409 || error.status === 404) {
      toast(error.message, "error");
      try {
        book.merge(await api(`alerts/${id}`));
      } catch {
        // the live stream will bring it
      }
      renderAlerts();
    } else if (error.status !== 401) {
      toast(`Could not ${action === "acknowledge" ? "take" : "resolve"} the alert: ${error.message}`, "error");
    }
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

groupsBox.addEventListener("click", (event) => {
  const button = /** @type {Element} */ (event.target).closest("button");
  const card = button?.closest(".alert-card");
  if (!card || button.disabled) return;
  if (button.classList.contains("button-take")) act(card, "acknowledge");
  else if (button.classList.contains("button-resolve")) act(card, "resolve");
  else if (button.classList.contains("button-plan")) {
    const id = Number(/** @type {HTMLElement} */ (card).dataset.alertId);
    if (!wholeFloor.delete(id)) wholeFloor.add(id);
    renderAlerts();
  } else if (button.classList.contains("button-dismiss")) {
    dismissed.add(Number(/** @type {HTMLElement} */ (card).dataset.alertId));
    renderAlerts();
  }
});

// ------------------------------------------------------------------------------ count checks
// The accuracy audit: a guide counts the people at a window and sends the number; the server
// keeps it next to the count it showed, and managers see the running error per zone.
const checkForm = /** @type {HTMLFormElement} */ (document.getElementById("count-check"));
const checkValue = /** @type {HTMLInputElement} */ (document.getElementById("count-check-value"));
let checkZone = null;

function openCheck(zone) {
  checkZone = zone;
  setText(document.getElementById("count-check-title"), `Check count: ${zoneName(zones.get(zone) ?? { zone })}`);
  checkForm.hidden = false;
  checkValue.value = "";
  checkValue.focus();
}

document.getElementById("window-chips").addEventListener("click", (event) => {
  const button = /** @type {HTMLElement} */ (/** @type {Element} */ (event.target).closest(".button-check"));
  if (button) openCheck(button.dataset.zone);
});
document.getElementById("count-check-cancel").addEventListener("click", () => {
  checkForm.hidden = true;
});
checkForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const trueCount = Number(checkValue.value);
  if (!checkZone || !Number.isInteger(trueCount) || trueCount < 0) return;
  const send = /** @type {HTMLButtonElement} */ (checkForm.querySelector("button[type=submit]"));
  send.disabled = true;
  try {
    const check = await api(`sites/${encodeURIComponent(site)}/count-checks`, {
      method: "POST",
      body: { zone: checkZone, true_count: trueCount },
    });
    checkForm.hidden = true;
    const shown = check.measured_count === null ? "no count" : String(check.measured_count);
    toast(`Thank you: you counted ${check.true_count}, hallwatch showed ${shown}.`);
  } catch (error) {
    if (error.status !== 401) toast(`Could not send the count: ${error.message}`, "error");
  } finally {
    send.disabled = false;
  }
});

// ------------------------------------------------------------------------------ live data
function take(alert, { quiet = false } = {}) {
  const before = book.get(alert.id);
  const result = book.merge(alert);
  if (result === "new" || result === "reopened") {
    fresh.add(alert.id);
    if (!quiet) signal.play(alert.severity);
  } else if (result === "changed" && alert.escalated && before && !before.escalated && alert.status === "open") {
    fresh.add(alert.id);
    if (!quiet) signal.play("critical");
  }
  return result;
}

async function catchUp(sinceIso) {
  const page = await api("alerts", { query: { site, updated_since: sinceIso, limit: 500 } });
  for (const alert of page.items.reverse()) take(alert, { quiet: true });
}

async function start() {
  site = await chooseSite();
  if (!site) {
    document.getElementById("alerts-loading").textContent =
      "No hall has reported yet. Alerts appear here once an edge node is running.";
    return;
  }
  const loadLayout = async () => {
    try {
      layoutZones = (await api(`sites/${encodeURIComponent(site)}/layout`)).zones;
      renderAlerts();
    } catch {
      // the cards go without their plans until the next layout
    }
  };
  loadLayout();
  const live = new LiveConnection({ topics: ["alerts", "occupancy"], site });
  let lastSync = null;
  live.on("hello", async (message, { reconnected }) => {
    zones.reset(message.zones.filter((z) => z.site === site));
    const quiet = !loaded;
    const { results } = book.reset(message.alerts.filter((a) => a.site === site));
    for (const [alert, result] of results) {
      if (result === "new" || result === "reopened") {
        fresh.add(alert.id);
        if (!quiet) signal.play(alert.severity);
      }
    }
    loaded = true;
    renderZones();
    renderAlerts();
    // Changes while the page was away (resolved alerts leave no trace in the snapshot).
    const since = reconnected && lastSync ? new Date(Date.parse(lastSync) - 10000) : new Date(Date.now() - RESOLVED_KEPT_MS);
    lastSync = message.server_time;
    try {
      await catchUp(since.toISOString());
      renderAlerts();
    } catch (error) {
      if (error.status !== 401) toast(`Could not catch up: ${error.message}`, "error");
    }
  });
  live.on("ping", (message) => {
    lastSync = message.server_time;
  });
  live.on("alert", (message) => {
    if (message.site !== site) return;
    take(message.alert);
    renderAlerts();
  });
  live.on("occupancy", (message) => {
    if (message.site === site && zones.update(message.zone)) renderZones();
  });
  live.on("layout", async (message) => {
    if (message.site !== site) return;
    loadLayout();
    try {
      const now = await api(`sites/${encodeURIComponent(site)}/occupancy`);
      zones.reset(now.zones);
      renderZones();
      renderAlerts();
    } catch {
      // the next snapshot brings it
    }
  });
  live.start();

  window.setInterval(() => {
    for (const el of groupsBox.querySelectorAll(".alert-age")) updateAge(el);
  }, 1000);
  window.setInterval(() => {
    book.forgetResolved(RESOLVED_KEPT_MS);
    renderAlerts(); // cleared cards leave after CLEARED_KEPT_MS
  }, 30000);
}

registerServiceWorker();
start().catch((error) => {
  if (error.status !== 401) toast(`Could not load the page: ${error.message}`, "error", 10000);
});
