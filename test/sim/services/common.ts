import type { FaultBook } from "../faults";
import { num, type QueryTree, str } from "../query";
import { SimError, type World } from "../world";
import type { XmlObject } from "../xml";

export interface CallContext {
  world: World;
  params: QueryTree;
  /** The instance whose credentials signed the request, if any. */
  host: string | undefined;
  /** The fault book, for faults that are states of the world rather than of one call. */
  faults?: Pick<FaultBook, "healthUnavailable">;
}

export type ActionHandler = (ctx: CallContext) => XmlObject | undefined;

/** Pages `items` with an opaque token, as AWS does, checking the page size against AWS's bounds. */
export function paginate<T>(
  items: T[],
  ctx: CallContext,
  opts: { tokenParam: string; sizeParam: string; defaultSize: number; maxSize: number },
): { page: T[]; next: string | undefined } {
  const size = num(ctx.params, opts.sizeParam) ?? opts.defaultSize;
  if (!Number.isInteger(size) || size < 1 || size > opts.maxSize) {
    throw new SimError("ValidationError", `${opts.sizeParam} must be between 1 and ${opts.maxSize}`);
  }
  const token = str(ctx.params, opts.tokenParam);
  let start = 0;
  if (token !== undefined) {
    const decoded = Number(
      Buffer.from(token, "base64")
        .toString("utf8")
        .replace(/^page:/, ""),
    );
    if (!Number.isInteger(decoded) || decoded < 0)
      throw new SimError("InvalidNextToken", "The token is invalid.");
    start = decoded;
  }
  const page = items.slice(start, start + size);
  const next =
    start + size < items.length ? Buffer.from(`page:${start + size}`).toString("base64") : undefined;
  return { page, next };
}

export const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t));

/** Both load balancer APIs' tag constraints (service-2.json: TagKey, TagValue). */
const TAG_PATTERN = /^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$/u;
/**
 * Tags a resource may carry. Classic ELB's AddTags reference: "Each load balancer can have a maximum
 * of 10 tags" (its user guide says 50: the simulator enforces the stricter); ELBv2's AddTags: "Each
 * resource can have a maximum of 50 tags" (TooManyTags, both).
 */
export const MAX_TAGS = { classic: 10, elbv2: 50 } as const;

/** Applies AddTags to one resource as AWS would: all or nothing, validated first. */
export function addLoadBalancerTags(
  tags: Map<string, string>,
  added: { Key: string; Value: string }[],
  maxTags: number,
): void {
  for (const [i, t] of added.entries()) {
    for (const [field, value, max, min] of [
      ["key", t.Key, 128, 1],
      ["value", t.Value, 256, 0],
    ] as const) {
      const where = `tags.${i + 1}.member.${field}`;
      if (value.length > max || value.length < min)
        throw new SimError(
          "ValidationError",
          `1 validation error detected: Value '${value}' at '${where}' failed to satisfy constraint: Member must have length between ${min} and ${max}`,
        );
      if (!TAG_PATTERN.test(value))
        throw new SimError(
          "ValidationError",
          `1 validation error detected: Value '${value}' at '${where}' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$`,
        );
    }
  }
  const keys = new Set([...tags.keys(), ...added.map((t) => t.Key)]);
  if (keys.size > maxTags)
    throw new SimError(
      "TooManyTags",
      "The quota for the number of tags that can be assigned to a load balancer has been reached.",
    );
  for (const t of added) tags.set(t.Key, t.Value);
}
