// @ts-check
// Numbers, durations and times as people read them, in the hall's time zone (<body data-timezone>).

export const hallTimeZone = () => document.body.dataset.timezone || "UTC";

const formatters = new Map();
function formatter(tz, options) {
  const key = tz + JSON.stringify(options);
  if (!formatters.has(key)) formatters.set(key, new Intl.DateTimeFormat("en-GB", { timeZone: tz, ...options }));
  return formatters.get(key);
}

/** "now", "45 s", "3 min", "1 h 05", "2 d 4 h": how long ago ``iso`` was. */
export function ageText(iso, now = Date.now()) {
  const seconds = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  return durationText(seconds, { short: true });
}

/** A duration in seconds as "45 s", "3 min 20 s", "1 h 05 min", "2 d 4 h"; "–" for null. */
export function durationText(seconds, { short = false } = {}) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const s = Math.round(seconds);
  if (s < 5 && short) return "now";
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) {
    const rest = s % 60;
    return short || rest === 0 || minutes >= 10 ? `${minutes} min` : `${minutes} min ${rest} s`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${String(minutes % 60).padStart(2, "0")}${short ? "" : " min"}`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** "14:05" in the hall's time zone. */
export function clockText(value, tz = hallTimeZone()) {
  return formatter(tz, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(value));
}

/** "Mon 3 Mar, 14:05" in the hall's time zone. */
export function dateTimeText(value, tz = hallTimeZone()) {
  return formatter(tz, {
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(new Date(value));
}

/** "Mon 3 Mar 2025" for a local date "2025-03-03" (no time zone shift: it is already the hall's date). */
export function dayText(isoDate, { year = false } = {}) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return formatter("UTC", { weekday: "short", day: "numeric", month: "short", ...(year ? { year: "numeric" } : {}) }).format(
    new Date(Date.UTC(y, m - 1, d)),
  );
}

/** The hall's local parts of an instant: { year, month, day, hour, minute, weekday }. */
export function zonedParts(value, tz = hallTimeZone()) {
  const parts = {};
  const f = formatter(tz, {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });
  for (const { type, value: v } of f.formatToParts(new Date(value))) {
    if (type !== "literal") parts[type] = Number(v);
  }
  return parts;
}

/** "2025-03-03": the hall's local date of an instant. */
export function localDate(value, tz = hallTimeZone()) {
  const p = zonedParts(value, tz);
  return `${p.year}-${String(p.month).padStart(2, "0")}-${String(p.day).padStart(2, "0")}`;
}

/** How far the hall's clock is ahead of UTC at ``value``, in milliseconds. */
function offsetMs(value, tz) {
  const p = zonedParts(value, tz);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - (Math.floor(new Date(value).getTime() / 1000) * 1000);
}

/** The instant the hall's local date "YYYY-MM-DD" starts (its midnight), as a Date. */
export function localMidnight(isoDate, tz = hallTimeZone()) {
  const [y, m, d] = isoDate.split("-").map(Number);
  const guess = Date.UTC(y, m - 1, d);
  let instant = guess - offsetMs(guess, tz);
  instant = guess - offsetMs(instant, tz); // once more, for a day on which the offset changes
  return new Date(instant);
}

/** "YYYY-MM-DD" plus ``days`` (calendar arithmetic on the date itself). */
export function addDays(isoDate, days) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

export function numberText(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return value.toLocaleString("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
