// @ts-check
// Ops: every edge node and camera of the hall with its health, updating live, and recent events.

import { api } from "./api.js";
import { h, setText, syncList } from "./dom.js";
import { ageText, clockText, dateTimeText, durationText, numberText } from "./format.js";
import { LiveConnection } from "./live.js";
import { cameraProblems, nodeState, siteNodes } from "./ops-common.js";
import { chooseSite, toast } from "./shell.js";

const REFRESH_MS = 15000;
const MAX_EVENTS = 60;

const EVENT_LABELS = {
  window_over_limit_started: "Window over its limit",
  window_over_limit_ended: "Window back within its limit",
  queue_over_limit_started: "Queue over its limit",
  queue_over_limit_ended: "Queue back within its limit",
  hall_over_capacity_started: "Hall over capacity",
  hall_over_capacity_ended: "Hall back within capacity",
  spacing_violation_started: "People too close",
  spacing_violation_ended: "Spacing restored",
  person_entered: "Person entered",
  person_left: "Person left",
  queue_left: "Left a queue (waited)",
  camera_lost: "Camera lost",
  camera_recovered: "Camera recovered",
};

const els = {
  list: document.getElementById("node-list"),
  loading: document.getElementById("nodes-loading"),
  empty: document.getElementById("nodes-empty"),
  updated: document.getElementById("nodes-updated"),
  template: /** @type {HTMLTemplateElement} */ (document.getElementById("node-template")),
  eventsBody: document.getElementById("events-body"),
  eventsEmpty: document.getElementById("events-empty"),
  statNodes: document.getElementById("stat-nodes"),
  statCameras: document.getElementById("stat-cameras"),
  statOutbox: document.getElementById("stat-outbox"),
};

let site = null;
const nodes = new Map(); // node id -> NodeOut (merged with live health)
let events = [];

/** "just now", "45 s ago", "3 min ago". */
function agoText(iso) {
  const age = ageText(iso);
  return age === "now" ? "just now" : `${age} ago`;
}

function key(node) {
  return node.node;
}

/**
 * The rate a camera is meant to give: its configured one, or for an adaptive camera (issue 14) the
 * rate its node aimed it at over the last health period, with the bounds it moves between.
 */
function targetCell(camera) {
  const target = camera.target_fps;
  if (target === null || target === undefined) return h("td", { class: "num" }, "–");
  const adaptive = camera.min_fps !== null && camera.min_fps !== undefined && camera.max_fps !== null && camera.max_fps !== undefined;
  return h(
    "td",
    { class: "num target-fps", dataset: { adaptive: adaptive ? "yes" : "no" } },
    numberText(target, 1),
    adaptive ? h("span", { class: "fps-bounds", title: "adaptive: follows what its zones need" }, ` (${numberText(camera.min_fps, 1)}–${numberText(camera.max_fps, 1)})`) : null,
  );
}

function cameraRow(camera) {
  const lost = camera.lost_since || camera.connected === false;
  const frames = lost
    ? h(
        "span",
        { class: "cam-state", dataset: { state: "lost" } },
        camera.lost_since ? `Lost since ${clockText(camera.lost_since)}` : "Not delivering",
        camera.lost_reason ? h("span", { class: "cam-reason" }, camera.lost_reason) : null,
      )
    : cameraProblems(camera).length && camera.connected
      ? h(
          "span",
          { class: "cam-state", dataset: { state: "struggling" } },
          "Struggling",
          h("span", { class: "cam-reason" }, cameraProblems(camera).join("; ")),
        )
      : h("span", { class: "cam-state", dataset: { state: camera.connected ? "ok" : "unknown" } }, camera.connected ? "Delivering" : "–");
  return h(
    "tr",
    { dataset: { camera: camera.camera } },
    h("th", { scope: "row" }, camera.camera),
    h("td", {}, frames),
    h("td", { class: "num" }, numberText(camera.fps, 1)),
    targetCell(camera),
    h("td", { class: "num" }, camera.latency_ms === null || camera.latency_ms === undefined ? "–" : `${numberText(camera.latency_ms)} ms`),
    h("td", { class: "num" }, numberText(camera.frames_dropped)),
    h("td", { class: "num" }, numberText(camera.reconnects)),
    h("td", { class: "num age", dataset: { at: camera.last_frame_ts ?? "" } }, camera.last_frame_ts ? agoText(camera.last_frame_ts) : "–"),
  );
}

function createNode(node) {
  const el = /** @type {HTMLElement} */ (els.template.content.firstElementChild.cloneNode(true));
  const query = new URLSearchParams({ site, node: node.node });
  /** @type {HTMLAnchorElement} */ (el.querySelector(".node-calibrate")).href = `/ops/calibration?${query}`;
  /** @type {HTMLAnchorElement} */ (el.querySelector(".node-zones")).href = `/ops/zones?${query}`;
  const yaml = /** @type {HTMLAnchorElement} */ (el.querySelector(".node-yaml"));
  yaml.href = `/api/v1/nodes/${site}/${node.node}/config.yaml`;
  yaml.setAttribute("download", `${site}-${node.node}.yaml`);
  return el;
}

function updateNode(el, node) {
  const { state, label } = nodeState(node);
  el.dataset.status = state;
  el.dataset.node = node.node;
  setText(el.querySelector(".node-title"), node.node);
  const pill = el.querySelector(".status-pill");
  pill.dataset.status = state;
  setText(pill, label);
  const seen = el.querySelector(".f-seen");
  seen.dataset.at = node.last_seen_at ?? "";
  setText(seen, node.last_seen_at ? agoText(node.last_seen_at) : "never");
  seen.title = node.last_seen_at ? dateTimeText(node.last_seen_at) : "";
  setText(el.querySelector(".f-version"), node.version ?? "–");
  setText(el.querySelector(".f-uptime"), node.uptime_s === null || node.uptime_s === undefined ? "–" : durationText(node.uptime_s));
  const dropped = node.outbox_dropped ? `, ${numberText(node.outbox_dropped)} dropped` : "";
  setText(el.querySelector(".f-outbox"), node.outbox_depth === null || node.outbox_depth === undefined ? "–" : `${numberText(node.outbox_depth)} waiting${dropped}`);
  const refused = node.refused ? ` (${numberText(node.refused)} refused by the broker)` : "";
  setText(el.querySelector(".f-published"), `${numberText(node.published)}${refused}`);
  setText(el.querySelector(".f-config"), numberText(node.rejected_config ?? 0));
  const problem = el.querySelector(".node-problem");
  let text = "";
  if (state === "offline") text = `Offline since ${node.status_at ? dateTimeText(node.status_at) : "an unknown time"}: the broker lost its connection.`;
  else if (state === "silent") text = "Connected, but no health message for over 30 s: the node may be stuck.";
  else if (state === "behind") text = `Behind on its outbox: ${numberText(node.outbox_depth)} events wait for the broker.`;
  else if (node.last_config_error) text = `Last config push refused: ${node.last_config_error}`;
  problem.hidden = text === "";
  problem.dataset.level = state === "offline" || state === "silent" ? "bad" : "warn";
  setText(problem, text);
  const cameras = [...(node.cameras ?? [])].sort((a, b) => a.camera.localeCompare(b.camera));
  el.querySelector(".camera-rows").replaceChildren(...(cameras.length ? cameras.map(cameraRow) : [h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No camera health yet."))]));
}

function renderNodes() {
  const list = [...nodes.values()].sort((a, b) => a.node.localeCompare(b.node));
  els.loading.hidden = true;
  els.empty.hidden = list.length > 0;
  syncList(els.list, list, key, createNode, updateNode);
  const online = list.filter((n) => nodeState(n).state === "online").length;
  const cameras = list.flatMap((n) => n.cameras ?? []);
  const delivering = cameras.filter((c) => c.connected && !c.lost_since).length;
  const waiting = list.reduce((sum, n) => sum + (n.outbox_depth ?? 0), 0);
  setText(document.getElementById("stat-nodes-value"), `${online} / ${list.length}`);
  setText(document.getElementById("stat-cameras-value"), `${delivering} / ${cameras.length}`);
  setText(document.getElementById("stat-outbox-value"), numberText(waiting));
  els.statNodes.dataset.level = !list.length ? "unknown" : online === list.length ? "ok" : "bad";
  els.statCameras.dataset.level = !cameras.length ? "unknown" : delivering === cameras.length ? "ok" : "bad";
  els.statOutbox.dataset.level = waiting > 100 ? "warn" : "ok";
}

async function loadNodes() {
  try {
    const fresh = await siteNodes(site);
    nodes.clear();
    for (const node of fresh) nodes.set(node.node, node);
    renderNodes();
    setText(els.updated, `Updated ${clockText(new Date())}`);
  } catch (error) {
    if (error.status !== 401) toast(`Could not load the nodes: ${error.message}`, "error");
  }
}

function applyLive(msg) {
  const node = nodes.get(msg.node);
  if (!node) {
    loadNodes();
    return;
  }
  node.status = msg.status;
  node.last_seen_at = msg.at;
  if (msg.version) node.version = msg.version;
  if (msg.health) {
    const health = msg.health;
    node.online = msg.status === "online";
    node.health_at = msg.at;
    for (const field of ["version", "uptime_s", "outbox_depth", "outbox_dropped", "published", "rejected_config", "refused", "last_config_error"]) {
      if (field in health) node[field] = health[field];
    }
    const known = new Map((node.cameras ?? []).map((c) => [c.camera, c]));
    node.cameras = health.cameras.map((c) => ({
      ...known.get(c.camera),
      ...c,
      // the running total's growth since the previous health, as the server stores it
      frames_dropped_recent:
        known.get(c.camera)?.frames_dropped !== undefined && known.get(c.camera)?.frames_dropped !== null
          ? Math.max(0, c.frames_dropped - known.get(c.camera).frames_dropped)
          : known.get(c.camera)?.frames_dropped_recent ?? null,
      lost_since: c.connected ? null : known.get(c.camera)?.lost_since ?? null,
      lost_reason: c.connected ? null : known.get(c.camera)?.lost_reason ?? null,
    }));
  } else {
    node.status_at = msg.at;
    if (msg.status !== "online") node.online = false;
  }
  renderNodes();
}

function eventDetails(event) {
  const parts = [];
  if (event.zone) parts.push(event.zone);
  if (event.count !== null && event.count !== undefined) parts.push(event.limit !== null && event.limit !== undefined ? `${event.count} / ${event.limit}` : `${event.count}`);
  if (event.distance_m !== null && event.distance_m !== undefined) parts.push(`${numberText(event.distance_m, 2)} m apart`);
  if (event.duration_s !== null && event.duration_s !== undefined) parts.push(`lasted ${durationText(event.duration_s)}`);
  if (event.reason) parts.push(event.reason);
  return parts.join(" · ");
}

function renderEvents() {
  els.eventsEmpty.hidden = events.length > 0;
  syncList(
    els.eventsBody,
    events,
    (e) => e.id,
    (e) =>
      h(
        "tr",
        { dataset: { type: e.type } },
        h("td", { class: "num", title: dateTimeText(e.ts) }, clockText(e.ts)),
        h("td", {}, e.camera),
        h("td", {}, h("span", { class: "event-type", dataset: { kind: e.type.startsWith("camera_lost") ? "bad" : e.type.endsWith("_started") ? "warn" : "info" } }, EVENT_LABELS[e.type] ?? e.type)),
        h("td", { class: "event-details" }, eventDetails(e)),
      ),
    () => {},
  );
}

async function loadEvents() {
  try {
    const page = await api("events", { query: { site, limit: 30 } });
    events = page.items;
    renderEvents();
  } catch (error) {
    if (error.status !== 401) toast(`Could not load events: ${error.message}`, "error");
  }
}

// ---------------------------------------------------------------- set aside by the ingest
const REASON_LABELS = {
  invalid: "Breaks the contract",
  mismatch: "Topic and payload disagree",
  stale: "Too old",
  future: "Dated in the future",
  too_large: "Too large",
  topic: "Unknown topic",
  config_topic: "Server-only topic",
  foreign_camera: "Another node's camera",
  camera_conflict: "Camera claimed twice",
  unsolicited: "Snapshot nobody asked for",
  store: "Refused by the database",
  error: "Could not be handled",
};

function candidateItem(candidate) {
  const what = [
    candidate.version ? `version ${candidate.version}` : null,
    candidate.cameras.length ? `cameras ${candidate.cameras.join(", ")}` : null,
    candidate.zones.length ? `${candidate.zones.length} zones` : null,
    `${numberText(candidate.messages)} messages held, last ${agoText(candidate.last_seen_at)}`,
  ].filter(Boolean);
  const accept = h("button", { type: "button", class: "button button-small candidate-accept" }, "Accept");
  const dismiss = h("button", { type: "button", class: "button button-secondary button-small candidate-dismiss" }, "Dismiss");
  const path = `quarantine/nodes/${encodeURIComponent(candidate.site)}/${encodeURIComponent(candidate.node)}`;
  accept.addEventListener("click", async () => {
    accept.disabled = true;
    try {
      await api(`${path}/accept`, { method: "POST" });
      toast(`Accepted ${candidate.node}: its messages are stored from now on.`);
      if (!site) site = candidate.site;
      await Promise.all([loadCandidates(), loadNodes()]);
    } catch (error) {
      accept.disabled = false;
      toast(`Could not accept ${candidate.node}: ${error.message}`, "error");
    }
  });
  dismiss.addEventListener("click", async () => {
    try {
      await api(path, { method: "DELETE" });
      await loadCandidates();
    } catch (error) {
      toast(`Could not dismiss ${candidate.node}: ${error.message}`, "error");
    }
  });
  return h(
    "li",
    { class: "candidate", dataset: { node: candidate.node, site: candidate.site } },
    h("div", { class: "candidate-name" }, h("strong", {}, candidate.node), h("span", { class: "muted small" }, ` at ${candidate.site}`)),
    h("p", { class: "muted small" }, what.join(" · ")),
    h("div", { class: "node-actions" }, accept, dismiss),
  );
}

async function loadCandidates() {
  try {
    const list = await api("quarantine/nodes");
    document.getElementById("candidates").hidden = list.length === 0;
    document.getElementById("candidate-list").replaceChildren(...list.map(candidateItem));
  } catch (error) {
    if (error.status !== 401) toast(`Could not load the waiting nodes: ${error.message}`, "error");
  }
}

function deadRow(letter) {
  const remove = h("button", { type: "button", class: "button button-secondary button-small dead-delete" }, "Delete");
  remove.addEventListener("click", async () => {
    try {
      await api(`dead-letters/${letter.id}`, { method: "DELETE" });
      await loadDeadLetters();
    } catch (error) {
      toast(`Could not delete it: ${error.message}`, "error");
    }
  });
  // Text only (textContent): a refused payload is shown, never interpreted.
  return h(
    "tr",
    { dataset: { id: String(letter.id), reason: letter.reason } },
    h("td", { class: "num", title: dateTimeText(letter.received_at) }, clockText(letter.received_at)),
    h("td", {}, letter.node ?? "–"),
    h("td", { title: letter.detail }, REASON_LABELS[letter.reason] ?? letter.reason),
    h("td", { class: "dead-payload" }, h("code", { title: letter.topic }, letter.payload_preview.slice(0, 160)), h("span", { class: "muted small" }, ` ${letter.detail}`)),
    h("td", {}, remove),
  );
}

async function loadDeadLetters() {
  try {
    const page = await api("dead-letters", { query: { limit: 50 } });
    document.getElementById("dead-body").replaceChildren(...page.items.map(deadRow));
    document.getElementById("dead-empty").hidden = page.total > 0;
    document.getElementById("dead-clear").hidden = page.total === 0;
    setText(document.getElementById("dead-note"), page.total ? `${numberText(page.total)} kept, newest first` : "none");
  } catch (error) {
    if (error.status !== 401) toast(`Could not load the refused messages: ${error.message}`, "error");
  }
}

function tickAges() {
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-at]"))) {
    if (!el.dataset.at) continue;
    setText(el, agoText(el.dataset.at));
  }
}

async function main() {
  document.getElementById("dead-clear").addEventListener("click", async () => {
    try {
      await api("dead-letters", { method: "DELETE" });
      await loadDeadLetters();
    } catch (error) {
      toast(`Could not delete them: ${error.message}`, "error");
    }
  });
  await Promise.all([loadCandidates(), loadDeadLetters()]);
  window.setInterval(() => {
    loadCandidates();
    loadDeadLetters();
  }, REFRESH_MS);
  site = await chooseSite();
  if (!site) {
    els.loading.hidden = true;
    els.empty.hidden = false;
    return;
  }
  await Promise.all([loadNodes(), loadEvents()]);
  const live = new LiveConnection({ topics: ["nodes", "events"], site });
  live.on("hello", (_msg, { reconnected }) => {
    if (reconnected) {
      loadNodes();
      loadEvents();
    }
  });
  live.on("node", applyLive);
  live.on("event", (msg) => {
    if (events.some((e) => e.id === msg.event.id)) return;
    events = [msg.event, ...events].slice(0, MAX_EVENTS);
    renderEvents();
  });
  live.start();
  window.setInterval(tickAges, 1000);
  window.setInterval(loadNodes, REFRESH_MS);
}

main();
