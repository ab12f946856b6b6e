// @ts-check
// What a page knows about alerts: one entry per alert id, always the highest version seen.
//
// Alerts arrive from several places that can overtake each other: the live stream's snapshot
// (hello), live "alert" messages, a catch-up read (GET /alerts?updated_since=...) and the answer to
// the page's own acknowledge/resolve. `merge` keeps whichever has the highest `version`, so an old
// copy never undoes a newer change.

export const ACTIVE = new Set(["open", "acknowledged"]);

export const RULE_LABELS = {
  window_over_limit: "Too many at the window",
  queue_over_limit: "Queue too long",
  hall_capacity: "Hall near capacity",
  spacing_violation: "People too close",
  repeated_spacing: "Repeated spacing problems",
  node_offline: "Edge node offline",
  camera_lost: "Camera lost",
};

export const SEVERITY_RANK = { info: 0, warning: 1, critical: 2 };

export class AlertBook {
  #alerts = new Map();

  /**
   * Take one alert. Returns "new" (first time seen and active), "reopened" (was resolved, active
   * again), "changed", or "stale" (not newer than what the book has: ignored).
   */
  merge(alert) {
    const known = this.#alerts.get(alert.id);
    if (known && known.version >= alert.version) return "stale";
    this.#alerts.set(alert.id, alert);
    if (!known) return ACTIVE.has(alert.status) ? "new" : "changed";
    if (!ACTIVE.has(known.status) && ACTIVE.has(alert.status)) return "reopened";
    return "changed";
  }

  /**
   * A snapshot of every active alert (the live stream's hello). Alerts the book holds as active
   * that are missing from it were resolved meanwhile; they are returned so the caller can read them
   * (a catch-up), and leave the active set at once.
   */
  reset(activeAlerts) {
    const results = activeAlerts.map((alert) => [alert, this.merge(alert)]);
    const present = new Set(activeAlerts.map((a) => a.id));
    const vanished = [];
    for (const [id, alert] of this.#alerts) {
      if (ACTIVE.has(alert.status) && !present.has(id)) {
        vanished.push(id);
        this.#alerts.set(id, { ...alert, status: "resolved", resolved_at: alert.resolved_at ?? null });
      }
    }
    return { results, vanished };
  }

  get(id) {
    return this.#alerts.get(id);
  }

  /** Open and acknowledged alerts, oldest first. */
  active() {
    return [...this.#alerts.values()]
      .filter((a) => ACTIVE.has(a.status))
      .sort((a, b) => Date.parse(a.opened_at) - Date.parse(b.opened_at));
  }

  /** Alerts resolved within the last ``ms`` milliseconds, newest first. */
  recentlyResolved(ms, now = Date.now()) {
    return [...this.#alerts.values()]
      .filter((a) => a.status === "resolved" && now - Date.parse(a.resolved_at ?? a.updated_at) <= ms)
      .sort((a, b) => Date.parse(b.resolved_at ?? b.updated_at) - Date.parse(a.resolved_at ?? a.updated_at));
  }

  /** Drop resolved alerts older than ``ms`` (keeps memory flat on a page open all day). */
  forgetResolved(ms, now = Date.now()) {
    for (const [id, alert] of this.#alerts) {
      if (alert.status === "resolved" && now - Date.parse(alert.resolved_at ?? alert.updated_at) > ms) {
        this.#alerts.delete(id);
      }
    }
  }
}

/** A short title for an alert: its rule in words. */
export function alertTitle(alert) {
  return RULE_LABELS[alert.rule] ?? alert.rule.replaceAll("_", " ");
}
