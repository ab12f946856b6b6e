// @ts-check
// Talking to the hallwatch API from a page: the session cookie, the CSRF header, and errors.
//
//   import { api, apiUrl, ApiError } from "/static/js/api.js";
//   const page = await api("alerts", { query: { site: "hall-a", status: ["open", "acknowledged"] } });
//   await api(`alerts/${id}/acknowledge`, { method: "POST" });
//
// Paths without a leading slash are under /api/v1/. A 401 (login missing or expired) sends the page
// to the login, which comes back here afterwards.

const API_ROOT = "/api/v1/";
const CSRF_COOKIE = "hallwatch_csrf";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class ApiError extends Error {
  constructor(status, detail, path) {
    super(typeof detail === "string" ? detail : `request failed (${status})`);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.path = path;
  }
}

/** The CSRF secret of this login, from its cookie (the server checks it against the session). */
export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return "";
}

/** An absolute API URL with query parameters; arrays repeat the parameter, null/undefined are left out. */
export function apiUrl(path, query = {}) {
  const url = new URL(path.startsWith("/") ? path : API_ROOT + path, location.origin);
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      url.searchParams.append(key, item instanceof Date ? item.toISOString() : String(item));
    }
  }
  return url.href;
}

/** Where the login sends people back to. */
export function goToLogin() {
  const here = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(here)}`);
}

/**
 * Call the API and return its JSON (null for 204).
 * @throws {ApiError} for any status other than 2xx (after redirecting to the login on 401),
 *   and for network failures (status 0).
 * @param {string} path
 * @param {{method?: string, query?: Record<string, any>, body?: any, signal?: AbortSignal, redirectOn401?: boolean}} [options]
 */
export async function api(path, { method = "GET", query, body, signal, redirectOn401 = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (UNSAFE.has(method)) headers["X-CSRF-Token"] = csrfToken();
  let response;
  try {
    response = await fetch(apiUrl(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "the server cannot be reached", path);
  }
  if (response.status === 401 && redirectOn401) {
    goToLogin();
    throw new ApiError(401, "log in again", path);
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const data = await response.json();
      detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(response.status, detail, path);
  }
  return response.status === 204 ? null : response.json();
}
