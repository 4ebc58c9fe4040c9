// Numbers and times as people read them.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function bytes(n) {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

export function seconds(s) {
  if (!Number.isFinite(s)) return "…";
  const whole = Math.ceil(s);
  if (whole < 60) return `${whole} s`;
  const m = Math.floor(whole / 60);
  if (m < 60) return whole % 60 ? `${m} min ${whole % 60} s` : `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function millis(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** "unloads in 4 min", "unloading now", or "stays loaded" (keep_alive -1: far future). */
export function expiry(iso, now = Date.now()) {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return `unloads at ${iso}`;
  const left = (at - now) / 1000;
  if (left > 10 * 365 * 24 * 3600) return "stays loaded";
  if (left <= 0) return "unloading now";
  return `unloads in ${seconds(left)}`;
}
