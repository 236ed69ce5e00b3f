import type { Quantity } from "./core/types";
import { usageError } from "./errors";

/** `300`, `300s`, `5m`, `1h`, `1m30s` -> seconds. */
export function parseDuration(flag: string, text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(trimmed); m; m = re.exec(trimmed)) {
    const n = Number(m[1]);
    total += m[2] === "ms" ? n / 1000 : m[2] === "s" ? n : m[2] === "m" ? n * 60 : n * 3600;
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== trimmed.length) {
    throw usageError(`--${flag} takes a duration such as 300, 90s, 5m or 1h30m, not "${text}"`);
  }
  return total;
}

/** `2` or `50%`. */
export function parseQuantity(flag: string, text: string): Quantity {
  const m = /^\s*(\d+)(%?)\s*$/.exec(text);
  if (!m) throw usageError(`--${flag} takes a whole number or a percentage such as 2 or 50%, not "${text}"`);
  const value = Number(m[1]);
  if (m[2] && value > 100) throw usageError(`--${flag} percentage must be at most 100%, not ${text}`);
  return m[2] ? { kind: "percent", value } : { kind: "count", value };
}
