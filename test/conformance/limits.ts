import type { Model } from "./models";

/**
 * The request limits AWS states for an operation's top-level members: in the shapes (`max` on a
 * list or an integer) or, where the shapes are silent, in the member's documentation text, which
 * botocore carries verbatim from the API reference ("The default value is 50 and the maximum value
 * is 100", "You can specify up to 20 instances").
 */
export interface StatedLimit {
  member: string;
  /** count: at most `max` elements; value: a number at most `max`. */
  kind: "count" | "value";
  max: number;
  source: "shape" | "documentation";
}

const DOC_COUNT = [
  /Maximum number of (\d+) (?:items|IDs)/,
  /You can specify up to (\d+) (?:instances|resources)/,
  /you can only specify up to (\d+) names/,
  /Maximum (\d+) explicitly specified instance IDs/,
];
const DOC_ONE = /a maximum of one /;
const DOC_VALUE = [/the maximum value is (\d+)/i, /a number from \d+ to (\d+)/];

const plain = (html: string | undefined) => (html ?? "").replace(/<[^>]+>/g, "");

export function statedLimits(model: Model, action: string): StatedLimit[] {
  const op = model.operations[action];
  if (!op?.input) return [];
  const input = model.shapes[op.input.shape]!;
  const out: StatedLimit[] = [];
  for (const [member, m] of Object.entries(input.members ?? {})) {
    const shape = model.shapes[m.shape]!;
    const doc = plain(m.documentation);
    if (shape.type === "list") {
      if (shape.max !== undefined) out.push({ member, kind: "count", max: shape.max, source: "shape" });
      else {
        const n = DOC_ONE.test(doc) ? 1 : DOC_COUNT.map((re) => re.exec(doc)?.[1]).find(Boolean);
        if (n !== undefined) out.push({ member, kind: "count", max: Number(n), source: "documentation" });
      }
    } else if (shape.type === "integer") {
      if (shape.max !== undefined) out.push({ member, kind: "value", max: shape.max, source: "shape" });
      else {
        const n = DOC_VALUE.map((re) => re.exec(doc)?.[1]).find(Boolean);
        if (n !== undefined) out.push({ member, kind: "value", max: Number(n), source: "documentation" });
      }
    }
  }
  return out;
}

/** `input` with `limit.member` one past its limit: a longer list (of distinct values) or a larger number. */
export function pastLimit(input: Record<string, unknown>, limit: StatedLimit): Record<string, unknown> {
  if (limit.kind === "value") return { ...input, [limit.member]: limit.max + 1 };
  const list = input[limit.member];
  const first = Array.isArray(list) && list.length ? (list[0] as unknown) : "x";
  return {
    ...input,
    [limit.member]: Array.from({ length: limit.max + 1 }, (_, i) => (i === 0 ? first : vary(first, i))),
  };
}

/** A copy of a value with its strings made distinct, so a list of them has no duplicates. */
function vary(v: unknown, i: number): unknown {
  if (typeof v === "string")
    return /^i-[0-9a-f]+$/.test(v) ? `i-0e${String(i).padStart(15, "0")}` : `${v}-${i}`;
  if (Array.isArray(v)) return v.map((x) => vary(x, i));
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, /(Id|Name|Key)$/.test(k) ? vary(x, i) : x]),
    );
  return v;
}
