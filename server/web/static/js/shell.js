// @ts-check
// What every logged-in page shares: the log-out button, the hall (site) being watched, toasts.

import { api } from "./api.js";

const SITE_KEY = "hallwatch.site";
const SITE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A short message at the bottom of the screen, read out by screen readers. */
export function toast(message, kind = "info", ms = 4000) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = document.createElement("div");
  item.className = "toast";
  item.dataset.kind = kind;
  item.textContent = message;
  box.append(item);
  window.setTimeout(() => item.remove(), ms);
}

/**
 * The hall this page watches: ``?site=`` in the address, else the last one chosen here, else the
 * first that has reported. Shows it in the header (a picker when there are several). Null when no
 * hall has reported yet.
 */
export async function chooseSite() {
  const url = new URL(location.href);
  const asked = url.searchParams.get("site");
  let names = [];
  try {
    names = (await api("sites")).map((s) => s.site);
  } catch (error) {
    if (error.status === 401) throw error;
  }
  // A user whose role holds on some halls only: a hall in the address outside them is not opened.
  const granted = document.body.dataset.sites?.split(",");
  const refused = asked && granted && !granted.includes(asked);
  if (refused) toast(`You have no role in hall ${asked}; showing one of yours.`, "error", 8000);
  let site;
  if (asked && SITE_PATTERN.test(asked) && !refused) {
    site = asked;
  } else {
    const stored = localStorage.getItem(SITE_KEY);
    site = names.includes(stored) ? stored : names[0] ?? null;
  }
  if (site) localStorage.setItem(SITE_KEY, site);
  showSite(site, names);
  return site;
}

function showSite(site, names) {
  const label = document.getElementById("site-name");
  const picker = document.getElementById("site-picker");
  const select = /** @type {HTMLSelectElement} */ (document.getElementById("site-select"));
  const all = site && !names.includes(site) ? [site, ...names] : names;
  if (picker && select && all.length > 1) {
    select.replaceChildren(
      ...all.map((name) => {
        const option = document.createElement("option");
        option.value = name;
        option.textContent = name;
        option.selected = name === site;
        return option;
      }),
    );
    select.addEventListener("change", () => {
      const next = new URL(location.href);
      next.searchParams.set("site", select.value);
      localStorage.setItem(SITE_KEY, select.value);
      location.assign(next.href);
    });
    picker.hidden = false;
    if (label) label.textContent = "";
  } else if (label) {
    label.textContent = site ?? "";
  }
}

async function logOut() {
  try {
    await api("auth/logout", { method: "POST", redirectOn401: false });
  } catch {
    // logged out already, or the server is away: the cookie is cleared below either way
  }
  if ("caches" in window) {
    for (const key of await caches.keys()) {
      if (key.startsWith("hallwatch")) await caches.delete(key);
    }
  }
  location.assign("/login");
}

document.getElementById("logout")?.addEventListener("click", logOut);
