/**
 * What balanced writes on a load balancer when it takes a host out of it, and the budget that load
 * balancer's own view gives: pure, for hosts in a group and in none alike.
 *
 * The record: one tag per host, `balanced:out:<instance>` = `ports=8080+8081 by=out at=<ISO>` (no
 * ports for a classic ELB, nor for a group's host, which Standby takes out and ExitStandby puts
 * back; tag values allow no commas). It is written BEFORE the host leaves, so a crash leaves a
 * record, never a silently missing registration, and every other host counts it out from then on:
 * a deregistered host is invisible in the load balancer's own member list, and a host of another
 * group in Standby is invisible in this group's.
 */
import { goneFrom, lbLabel, servesIn } from "./health";
import { formatQuantity, listUnavailable, plural, resolveQuantity } from "./quantity";
import type { LoadBalancerView, Policy } from "./types";

export const OUT_TAG_PREFIX = "balanced:out:";
export const outKey = (instanceId: string) => `${OUT_TAG_PREFIX}${instanceId}`;

export interface RemovalRecord {
  instanceId: string;
  /** Target groups: the ports the host was registered on. Classic ELBs: none. */
  ports: number[];
  /** Who removed it: a planned `out`, or the systemd unit's shutdown. */
  by: "out" | "shutdown";
  at: string;
  /** An IP target outside the target group's VPC was registered in zone "all", as it must be again. */
  az?: "all";
  /** An IP target registered under one of the host's secondary private IPs: that IP. */
  ip?: string;
  /** A group's host: its group, so that `repair` there knows whose record it is. */
  group?: string;
}

/** What tag values allow on both ELB APIs; a group name with anything else is left out of the record. */
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

export const formatRemoval = (r: Omit<RemovalRecord, "instanceId">) =>
  `ports=${r.ports.join("+")} by=${r.by} at=${r.at}${r.az ? ` az=${r.az}` : ""}${r.ip ? ` ip=${r.ip}` : ""}` +
  (r.group && TAG_VALUE.test(r.group) ? ` group=${r.group}` : "");

export function parseRemovals(tags: Record<string, string>): RemovalRecord[] {
  const records: RemovalRecord[] = [];
  for (const [key, value] of Object.entries(tags)) {
    if (!key.startsWith(OUT_TAG_PREFIX)) continue;
    const m = /^ports=([\d+]*) by=(out|shutdown) at=(\S+)( az=all)?(?: ip=([\d.]+))?(?: group=(.+))?$/.exec(
      value.trim(),
    );
    if (!m) continue;
    records.push({
      instanceId: key.slice(OUT_TAG_PREFIX.length),
      ports: m[1] ? m[1].split("+").map(Number) : [],
      by: m[2] as RemovalRecord["by"],
      at: m[3]!,
      ...(m[4] ? { az: "all" as const } : {}),
      ...(m[5] ? { ip: m[5] } : {}),
      ...(m[6] ? { group: m[6] } : {}),
    });
  }
  return records;
}

/** This host's record on a load balancer read with its tags. */
export const ownRemoval = (lb: LoadBalancerView, instanceId: string): RemovalRecord | undefined =>
  parseRemovals(lb.tags ?? {}).find((r) => r.instanceId === instanceId);

export interface LbBudget {
  label: string;
  healthyOthers: string[];
  /** Out of service once this host leaves, this host included: unhealthy members and recorded removals. */
  unavailableAfter: { id: string; why: string }[];
  requiredHealthy: number;
  maxUnavailable: number;
}

/**
 * The budget in one load balancer's own view: its other members (every registered target, whoever
 * registered it: this group, other groups, hosts in no group, IP targets), plus the hosts that
 * balanced took out of it (their records in `tags`), which it no longer lists.
 */
export function assessLbBudget(
  instanceId: string,
  lb: LoadBalancerView,
  tags: Record<string, string>,
  policy: Policy,
): LbBudget {
  // A host counts as out from the moment its record is there (written under the turn, before it
  // leaves), even while it is still registered: so it may finish a cut-short `out` unturned.
  const removed = parseRemovals(tags).filter((r) => r.instanceId !== instanceId);
  const members = Object.entries(lb.members).filter(
    ([id, m]) => id !== instanceId && !goneFrom(m) && !removed.some((r) => r.instanceId === id),
  );
  const healthyOthers = members.filter(([, m]) => servesIn(m)).map(([id]) => id);
  const unavailableAfter = [
    ...members
      .filter(([, m]) => !servesIn(m))
      .map(([id, m]) => ({ id, why: `${m.state} in ${lbLabel(lb)}` })),
    ...removed.map((r) => ({ id: r.instanceId, why: `taken out by balanced at ${r.at}` })),
    { id: instanceId, why: "this host" },
  ];
  // Percentages are of every host this load balancer serves with: its members and the ones out.
  const size = members.length + removed.length + 1;
  const requiredHealthy = Math.max(1, policy.minHealthy ? resolveQuantity(policy.minHealthy, size) : 1);
  return {
    label: lbLabel(lb),
    healthyOthers,
    unavailableAfter,
    requiredHealthy,
    maxUnavailable: resolveQuantity(policy.maxUnavailable, size),
  };
}

/**
 * Why leaving would break this load balancer's budget, or undefined. `spent`: this host's own record
 * is there already (an earlier `out` cut short), so it counts as out and --max-unavailable is spent;
 * the floor still holds against the world as it is now.
 */
export function lbBudgetRefusal(
  b: LbBudget,
  policy: Policy,
  opts: { spent?: boolean; after?: boolean } = {},
): string | undefined {
  const healthy = b.healthyOthers.length;
  if (healthy === 0)
    return opts.after
      ? `no healthy member is left in ${b.label}`
      : `this host is the only healthy member of ${b.label}; taking it out would leave none`;
  if (healthy < b.requiredHealthy)
    return `${plural(healthy, "healthy member")} ${opts.after ? "remain" : "would remain"} in ${b.label}, --min-healthy requires ${b.requiredHealthy}${policy.minHealthy?.kind === "percent" ? ` (${formatQuantity(policy.minHealthy)})` : ""}`;
  if (!opts.spent && b.unavailableAfter.length > b.maxUnavailable)
    return `${b.unavailableAfter.length} hosts ${opts.after ? "are" : "would be"} out of ${b.label} at once (${listUnavailable(b.unavailableAfter)}), --max-unavailable allows ${b.maxUnavailable}`;
  return undefined;
}
