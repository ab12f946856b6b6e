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
  hall_capacity: "Hall near capacity", // "Hall at capacity" when critical: see alertTitle
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

/** A short title for an alert: its rule in words (the hall's follows its severity). */
export function alertTitle(alert) {
  if (alert.rule === "hall_capacity" && alert.severity === "critical") return "Hall at capacity";
  return RULE_LABELS[alert.rule] ?? alert.rule.replaceAll("_", " ");
}

/**
 * When the alert's current episode began: its reopening, or its opening. Every page shows the
 * same instant, so a reopened alert is not "now" on one page and "2 min" on another.
 */
export function episodeStart(alert) {
  return alert.reopened_at ?? alert.opened_at;
}

/** A taken alert whose condition cleared by itself (nobody resolved it): the taker should know. */
export function clearedWhileTaken(alert) {
  return alert.status === "resolved" && Boolean(alert.acknowledged_by) && !alert.resolved_by;
}

/**
 * The numbers a card shows: the count now (from the zone the page draws, so it never contradicts
 * the rest of the page), the alert's peak and its limit. ``zone`` may be null (no count known).
 * Returns [{key, label, value}] for the ones known.
 */
export function alertFigures(alert, zone) {
  const figures = [];
  const zoneRule = ["window_over_limit", "queue_over_limit", "hall_capacity"].includes(alert.rule);
  if (zoneRule && zone && zone.count !== null && zone.count !== undefined) {
    figures.push({ key: "now", label: "now", value: zone.count });
  }
  if (alert.peak !== null && alert.peak !== undefined) {
    const label = alert.rule === "repeated_spacing" ? "violations" : "peak";
    figures.push({ key: "peak", label, value: alert.peak });
  }
  if (alert.limit !== null && alert.limit !== undefined && zoneRule) {
    figures.push({ key: "limit", label: alert.rule === "hall_capacity" ? "capacity" : "limit", value: alert.limit });
  }
  return figures;
}

/** "now 2 · peak 4 · limit 2" */
export function figuresText(figures) {
  return figures.map((f) => `${f.label} ${f.value}`).join(" · ");
}

/** The floor view centred on an alert's place (``/floor?site=...&alert=...``). */
export function floorViewUrl(alert) {
  return `/floor?site=${encodeURIComponent(alert.site)}&alert=${encodeURIComponent(String(alert.id))}`;
}
