// Numbers, money, durations and times as the dashboard shows them; "—" for what is unknown.

const DASH = "—";
const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const compactNumber = new Intl.NumberFormat(undefined, {
  notation: "compact",
  maximumFractionDigits: 1,
});
const percentage = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });

const missing = (value) => value === null || value === undefined || Number.isNaN(value);

/** 1,234 */
export const int = (value) => (missing(value) ? DASH : integer.format(value));

/** 1.2K, for tight places such as chart axes. */
export const compact = (value) => (missing(value) ? DASH : compactNumber.format(value));

/** 12.5% of a ratio. */
export const percent = (ratio) => (missing(ratio) ? DASH : percentage.format(ratio));

/** $12.34, or $0.0042 for small sums: a cent is a lot of requests. */
export function usd(value) {
  if (missing(value)) return DASH;
  if (value === 0) return "$0";
  if (Math.abs(value) >= 1) return `$${value.toFixed(2)}`;
  const digits = Math.abs(value) >= 0.01 ? 3 : 5;
  return `$${value.toFixed(digits).replace(/(\.\d*?[1-9])0+$/, "$1")}`;
}

/** 340 ms, 1.25 s, 2.1 min */
export function ms(value) {
  if (missing(value)) return DASH;
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(2)} s`;
  return `${(value / 60_000).toFixed(1)} min`;
}

/** 14:03:22 of a Unix time in seconds. */
export const clock = (unix) =>
  new Date(unix * 1000).toLocaleTimeString(undefined, { hour12: false });

/** Nov 3, 14:03:22 */
export const dateTime = (unix) =>
  new Date(unix * 1000).toLocaleString(undefined, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  });

/** An axis label for a time, short for the span the axis covers. */
export function axisTime(unix, span) {
  const date = new Date(unix * 1000);
  if (span <= 2 * 86400) {
    return date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hour12: false });
  }
  return date.toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

/** "45 s", "4 min", "2 h", "3 d": a length of time in seconds, rounded to its largest unit. */
export function span(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** "5 s ago", "3 min ago", "2 h ago" */
export function ago(unix, now = Date.now() / 1000) {
  const seconds = Math.max(0, Math.round(now - unix));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/** The period's start as the usage table shows it. */
export function period(iso, kind) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  if (kind === "hour") return dateTime(date.getTime() / 1000).replace(/:\d\d$/, "");
  if (kind === "month") return date.toLocaleDateString(undefined, { year: "numeric", month: "long" });
  return date.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

/** "ok", "warn" (refused), "bad" (failed) or "neutral": the tone of an HTTP status. */
export function statusTone(status) {
  if (!status) return "neutral";
  if (status < 400) return "ok";
  if (status < 500 || status === 499) return "warn";
  return "bad";
}
