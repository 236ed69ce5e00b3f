/** Counts and percentages of the budget, and the words refusals use for them. Pure. */
import type { Quantity } from "./types";

export const resolveQuantity = (q: Quantity, desired: number): number =>
  // The epsilon keeps 10% of 1000 at 100 despite floating point; max(0) keeps -0 out.
  q.kind === "count" ? q.value : Math.max(0, Math.ceil((q.value * desired) / 100 - 1e-9));

export const formatQuantity = (q: Quantity) => (q.kind === "count" ? String(q.value) : `${q.value}%`);

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** Who would be out of service, for a refusal: "this host, i-b: Standby". */
export const listUnavailable = (list: { id: string; why: string }[]) =>
  list.map((u) => (u.why === "this host" ? "this host" : `${u.id}: ${u.why}`)).join(", ");
