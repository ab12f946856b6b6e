// @ts-check
// Zones as pages show them: live counts by zone id, levels, names, natural order.

const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

/** "Window 2" before "Window 10". */
export function byName(a, b) {
  return collator.compare(zoneName(a), zoneName(b));
}

export function zoneName(zone) {
  return zone?.name || zone?.zone || "";
}

/**
 * A window's or queue's colour: ok (below its limit), full (at it), over, or unknown (no fresh
 * count). The hall uses the server's level (ok, warning, critical) against its capacity.
 */
export function zoneLevel(zone) {
  if (!zone || zone.count === null || zone.count === undefined) return "unknown";
  if (zone.kind === "hall") return zone.level ?? "ok";
  if (zone.limit === null || zone.limit === undefined) return "ok";
  if (zone.count > zone.limit) return "over";
  return zone.count === zone.limit ? "full" : "ok";
}

/** Live counts per zone of one site, fed by the snapshot, live messages and /occupancy. */
export class ZoneBoard {
  #zones = new Map();

  /** Replace everything with a list (hello's zones, or /sites/{site}/occupancy's). */
  reset(zones) {
    this.#zones.clear();
    for (const zone of zones) this.#zones.set(zone.zone, zone);
  }

  /** One changed zone (a live "occupancy" message); returns true when something visible changed. */
  update(zone) {
    const known = this.#zones.get(zone.zone);
    this.#zones.set(zone.zone, { ...known, ...zone });
    return !known || known.count !== zone.count || known.level !== zone.level || known.limit !== zone.limit;
  }

  get(id) {
    return this.#zones.get(id);
  }

  all() {
    return [...this.#zones.values()];
  }

  ofKind(kind) {
    return this.all()
      .filter((z) => z.kind === kind)
      .sort(byName);
  }

  hall() {
    return this.ofKind("hall")[0] ?? null;
  }

  /** The queue zones that wait for window ``id``. */
  queuesOf(id) {
    return this.ofKind("queue").filter((q) => q.window === id);
  }
}
