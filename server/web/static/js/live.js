// @ts-check
// The live stream (/api/v1/live) for a page: reconnects by itself and says so on screen.
//
//   const live = new LiveConnection({ topics: ["alerts", "occupancy"], site: "hall-a" });
//   live.on("hello", (msg, { reconnected }) => ...);   // the snapshot, after every (re)connect
//   live.on("alert", (msg) => ...);
//   live.start();
//
// Lost connections are retried with exponential backoff (0.5 s doubling to 15 s, with jitter); a
// stream silent for 35 s (the server pings every 15 s) counts as lost. While it is down, the
// page's banner (#live-banner) says so and counts down to the next try. Close code 4401 (not
// logged in) goes to the login; 4403 (not allowed) stops trying and says why.

import { goToLogin } from "./api.js";

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
const SILENCE_MS = 35000;
const SLOW_FIRST_CONNECT_MS = 2000;

export class LiveConnection {
  #topics;
  #site;
  #socket = null;
  #handlers = new Map();
  #statusHandlers = new Set();
  #status = "idle";
  #attempt = 0;
  #everOpen = false;
  #retryTimer = 0;
  #retryAt = 0;
  #tickTimer = 0;
  #lastMessageAt = 0;
  #reason = "";
  #stopped = true;
  #slowTimer = 0;
  lastServerTime = null;

  /** @param {{topics?: string[], site?: string | null}} [options] */
  constructor({ topics, site = null } = {}) {
    this.#topics = topics;
    this.#site = site;
  }

  get status() {
    return this.#status;
  }

  /** Call ``handler(message, info)`` for messages of ``type``; returns a function that stops it. */
  on(type, handler) {
    if (!this.#handlers.has(type)) this.#handlers.set(type, new Set());
    this.#handlers.get(type).add(handler);
    return () => this.#handlers.get(type).delete(handler);
  }

  /** Call ``handler(status)`` when the status changes: connecting, open, lost, refused, stopped. */
  onStatus(handler) {
    this.#statusHandlers.add(handler);
    return () => this.#statusHandlers.delete(handler);
  }

  start() {
    if (!this.#stopped) return;
    this.#stopped = false;
    window.addEventListener("online", this.#wake);
    document.addEventListener("visibilitychange", this.#wake);
    window.addEventListener("pagehide", this.#onPageHide);
    document.getElementById("live-retry")?.addEventListener("click", this.retryNow);
    this.#tickTimer = window.setInterval(() => this.#tick(), 1000);
    this.#slowTimer = window.setTimeout(() => {
      this.#slowFirst = true;
      this.#renderBanner();
    }, SLOW_FIRST_CONNECT_MS);
    this.#connect();
  }

  stop() {
    this.#stopped = true;
    window.clearTimeout(this.#retryTimer);
    window.clearTimeout(this.#slowTimer);
    window.clearInterval(this.#tickTimer);
    window.removeEventListener("online", this.#wake);
    document.removeEventListener("visibilitychange", this.#wake);
    window.removeEventListener("pagehide", this.#onPageHide);
    this.#closeSocket();
    this.#setStatus("stopped");
  }

  /** Try again at once (the banner's button, the network coming back, the page being shown). */
  retryNow = () => {
    if (this.#stopped || this.#status === "open") return;
    window.clearTimeout(this.#retryTimer);
    this.#attempt = Math.max(0, this.#attempt - 1);
    this.#connect();
  };

  #wake = () => {
    if (document.visibilityState === "hidden") return;
    if (this.#status === "open") {
      this.#send({ type: "ping" }); // a dead socket shows itself when written to
    } else if (this.#status === "lost") {
      this.retryNow();
    }
  };

  #onPageHide = (event) => {
    if (!event.persisted) this.stop();
  };

  #url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const params = new URLSearchParams({ topics: this.#topics.join(",") });
    if (this.#site) params.append("site", this.#site);
    return `${scheme}://${location.host}/api/v1/live?${params}`;
  }

  #connect() {
    this.#closeSocket();
    this.#setStatus(this.#everOpen ? "lost" : "connecting", { connecting: true });
    let socket;
    try {
      socket = new WebSocket(this.#url());
    } catch {
      this.#scheduleRetry();
      return;
    }
    this.#socket = socket;
    socket.addEventListener("message", (event) => this.#onMessage(socket, event));
    socket.addEventListener("close", (event) => this.#onClose(socket, event));
  }

  #closeSocket() {
    const socket = this.#socket;
    this.#socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) {
      try {
        socket.close(1000, "closing");
      } catch {
        // already closing
      }
    }
  }

  #send(message) {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(message));
  }

  #onMessage(socket, event) {
    if (socket !== this.#socket) return;
    this.#lastMessageAt = Date.now();
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.server_time) this.lastServerTime = message.server_time;
    if (message.type === "bye") {
      this.#reason = message.reason || "";
      return;
    }
    const info = { reconnected: this.#everOpen };
    if (message.type === "hello") {
      this.#attempt = 0;
      this.#everOpen = true;
      this.#reason = "";
      this.#setStatus("open");
    }
    for (const handler of this.#handlers.get(message.type) ?? []) {
      try {
        handler(message, info);
      } catch (error) {
        console.error(`live ${message.type} handler failed`, error);
      }
    }
  }

  #onClose(socket, event) {
    if (socket !== this.#socket) return;
    this.#socket = null;
    if (this.#stopped) return;
    if (event.code === 4401) {
      goToLogin();
      return;
    }
    if (event.code === 4403) {
      this.#reason = event.reason || this.#reason || "not allowed";
      this.#setStatus("refused");
      return;
    }
    if (event.code === 1013) this.#attempt = 0; // fell behind: come back at once for a new snapshot
    this.#scheduleRetry();
  }

  #scheduleRetry() {
    const delay = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.#attempt) * (0.8 + Math.random() * 0.4);
    this.#attempt = Math.min(this.#attempt + 1, 10);
    this.#retryAt = Date.now() + delay;
    window.clearTimeout(this.#retryTimer);
    this.#retryTimer = window.setTimeout(() => this.#connect(), delay);
    this.#setStatus("lost");
  }

  #tick() {
    if (this.#status === "open" && Date.now() - this.#lastMessageAt > SILENCE_MS) {
      this.#reason = "the server went quiet";
      const socket = this.#socket;
      this.#socket = null;
      socket?.close(4000, "silent");
      this.#scheduleRetry();
      return;
    }
    if (this.#status === "lost") this.#renderBanner();
  }

  #setStatus(status, { connecting = false } = {}) {
    const changed = status !== this.#status;
    this.#status = status;
    this.#connecting = connecting;
    this.#renderBanner();
    if (!changed) return;
    for (const handler of this.#statusHandlers) handler(status);
  }

  #connecting = false;
  #slowFirst = false;

  #renderBanner() {
    const banner = document.getElementById("live-banner");
    const text = document.getElementById("live-banner-text");
    const dot = document.getElementById("live-dot");
    const dotText = document.getElementById("live-dot-text");
    const status = this.#status;
    if (dot) dot.dataset.state = status === "open" ? "open" : status === "connecting" ? "connecting" : "lost";
    if (dotText) {
      dotText.textContent =
        status === "open" ? "Live updates: connected" : status === "connecting" ? "Live updates: connecting" : "Live updates: connection lost";
    }
    if (!banner || !text) return;
    let message = "";
    let state = "lost";
    if (status === "lost") {
      if (this.#connecting) {
        message = "Connection lost — reconnecting…";
      } else {
        const seconds = Math.max(1, Math.ceil((this.#retryAt - Date.now()) / 1000));
        message = `Connection lost — reconnecting in ${seconds} s. Alerts on this page may be out of date.`;
      }
    } else if (status === "refused") {
      message = `Live updates refused: ${this.#reason}`;
    } else if (status === "connecting" && this.#slowFirst) {
      message = "Connecting to live updates…";
      state = "connecting";
    }
    banner.hidden = message === "";
    banner.dataset.state = state;
    if (text.textContent !== message) text.textContent = message;
    const retry = document.getElementById("live-retry");
    if (retry) retry.hidden = status !== "lost";
  }
}
