// @ts-check
// What the ops pages share: node status in words, node and camera pickers, downloads, and waiting
// for a node to apply a config push (its layout comes back with the push's id as `config_id`).

import { api } from "./api.js";

/** A node's state for people: online (health within the server's window), silent, offline, stopped. */
export function nodeState(node) {
  if (node.status === "online" && node.online && nodeBehind(node)) return { state: "behind", label: "Online, behind" };
  if (node.status === "online" && node.online) return { state: "online", label: "Online" };
  if (node.status === "online") return { state: "silent", label: "No health lately" };
  if (node.status === "offline") return { state: "offline", label: "Offline" };
  if (node.status === "stopped") return { state: "stopped", label: "Stopped" };
  return { state: "unknown", label: "Unknown" };
}

// A node is behind on its outbox when more events wait than it keeps in flight (50): the broker
// is not taking them as fast as they come.
export const OUTBOX_BEHIND = 50;
// A camera is struggling below this share of its configured frame rate, or above this latency.
export const FPS_SHARE_OK = 0.9;
export const LATENCY_OK_MS = 500;

/** True when the node's outbox holds more events than it sends at once. */
export function nodeBehind(node) {
  return (node.outbox_depth ?? 0) > OUTBOX_BEHIND;
}

/**
 * Why a delivering camera is not healthy, in words (empty: it is): under 90 % of its configured
 * frame rate, frames dropped since the last health message, or a high latency.
 */
export function cameraProblems(camera) {
  const problems = [];
  if (camera.target_fps && camera.fps !== null && camera.fps !== undefined && camera.fps < FPS_SHARE_OK * camera.target_fps) {
    problems.push(`${camera.fps.toFixed(1)} of ${camera.target_fps.toFixed(camera.target_fps % 1 ? 1 : 0)} frames/s`);
  }
  if (camera.frames_dropped_recent) problems.push(`dropping frames (${camera.frames_dropped_recent} since the last health)`);
  if (camera.latency_ms !== null && camera.latency_ms !== undefined && camera.latency_ms > LATENCY_OK_MS) {
    problems.push(`latency ${Math.round(camera.latency_ms)} ms`);
  }
  return problems;
}

/** Replace a <select>'s options; keeps ``selected`` when it is among them. Returns the value chosen. */
export function fillSelect(select, options, selected) {
  select.replaceChildren(
    ...options.map(({ value, label }) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = label ?? value;
      return option;
    }),
  );
  if (options.some((o) => o.value === selected)) select.value = selected;
  return select.value;
}

/** Offer ``text`` as a file download. */
export function downloadText(filename, text, type = "application/yaml") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Show a status line: state is idle, busy, ok, warn or error. */
export function showStatus(el, state, text) {
  el.hidden = false;
  el.dataset.state = state;
  el.textContent = text;
}

/** The page's URL parameters, and a way to keep them in the address without reloading. */
export function urlParam(name) {
  return new URL(location.href).searchParams.get(name);
}

export function setUrlParams(params) {
  const url = new URL(location.href);
  for (const [key, value] of Object.entries(params)) {
    if (value) url.searchParams.set(key, value);
    else url.searchParams.delete(key);
  }
  history.replaceState(null, "", url.href);
}

const APPLY_TIMEOUT_MS = 60000;

/**
 * Wait for a node to apply a config push.
 *
 * Resolves to ``{ state: "applied" }`` when the node's layout carries ``eventId`` as its
 * ``config_id``, ``{ state: "refused", reason }`` when the node's count of refused pushes rises
 * above ``refusedBefore`` (its health says why), or ``{ state: "timeout" }`` after a minute.
 * ``poke`` (returned with the promise) checks at once: call it when a live "layout" or "node"
 * message for the node arrives.
 */
export function waitForApplied({ site, node, eventId, refusedBefore }) {
  let timer = 0;
  let done = false;
  let resolveFn;
  const started = Date.now();
  const promise = new Promise((resolve) => {
    resolveFn = resolve;
  });
  const finish = (result) => {
    if (done) return;
    done = true;
    window.clearTimeout(timer);
    resolveFn(result);
  };
  const check = async () => {
    if (done) return;
    window.clearTimeout(timer);
    try {
      const [layout, info] = await Promise.all([api(`sites/${site}/layout`), api(`nodes/${site}/${node}`)]);
      const mine = layout.nodes.find((n) => n.node === node);
      if (mine?.layout?.config_id === eventId) {
        finish({ state: "applied", at: mine.layout_at });
        return;
      }
      if ((info.rejected_config ?? 0) > (refusedBefore ?? 0)) {
        finish({ state: "refused", reason: info.last_config_error || "the node gave no reason" });
        return;
      }
    } catch (error) {
      if (error.status === 401) return;
    }
    if (Date.now() - started > APPLY_TIMEOUT_MS) {
      finish({ state: "timeout" });
      return;
    }
    timer = window.setTimeout(check, 1000);
  };
  timer = window.setTimeout(check, 300);
  return { promise, poke: () => check() };
}

const UNION_TAGS = new Set(["window", "queue", "hall", "entrance"]); // pydantic names a zone's kind in paths

/**
 * An API error in words. FastAPI's field errors (a JSON list in the message) become
 * "zones[6] (q1) window: field required"; ``nameOf(list, index)`` names a list item (a zone's id).
 * @param {any} error
 * @param {(list: string, index: number) => string} [nameOf]
 */
export function problemText(error, nameOf = () => "") {
  let items;
  try {
    items = JSON.parse(error.message);
  } catch {
    return error.message;
  }
  if (!Array.isArray(items)) return error.message;
  return items
    .slice(0, 3)
    .map((item) => {
      const loc = (item.loc ?? []).filter((part) => part !== "body");
      const parts = [];
      for (let i = 0; i < loc.length; i++) {
        const part = loc[i];
        if (typeof part === "number" && parts.length) {
          const name = nameOf(loc[i - 1], part);
          parts[parts.length - 1] += `[${part}]${name ? ` (${name})` : ""}`;
          if (UNION_TAGS.has(loc[i + 1])) i++;
        } else {
          parts.push(String(part));
        }
      }
      const message = String(item.msg ?? "invalid").replace(/^Value error, /, "");
      return `${parts.join(" ")}: ${message.charAt(0).toLowerCase()}${message.slice(1)}`;
    })
    .join("; ");
}

/** Nodes of a site with their cameras (ops and managers may read them). */
export async function siteNodes(site) {
  return api("nodes", { query: { site } });
}
