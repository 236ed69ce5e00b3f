import { num, type QueryTree, str } from "../query";
import { SimError, type World } from "../world";
import type { XmlObject } from "../xml";

export interface CallContext {
  world: World;
  params: QueryTree;
  /** The instance whose credentials signed the request, if any. */
  host: string | undefined;
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
