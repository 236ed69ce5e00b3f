/**
 * Hosts in no Auto Scaling group: `out` deregisters the host from its load balancers directly and
 * `in` registers it again (the seeds' OpsWorks and Fabric way). Pure: a snapshot of the load
 * balancers and their tags in, a decision out.
 *
 * What `out` removed is recorded on each load balancer / target group it removed the host from
 * (src/core/removals.ts), before deregistering; `in` restores exactly what the records say, from
 * any later process.
 */
import { type Decision, plural, refuseUnsafe } from "./decide";
import { goneFrom, lbLabel, memberOf, servesIn } from "./health";
import { assessLbBudget, lbBudgetRefusal, outKey, parseRemovals } from "./removals";
import type { LoadBalancerView, MemberHealth, Policy } from "./types";

export {
  formatRemoval,
  OUT_TAG_PREFIX,
  outKey,
  parseRemovals,
  type RemovalRecord,
} from "./removals";

/** One load balancer or target group as a standalone host sees it. */
export interface StandaloneLb {
  lb: LoadBalancerView;
  tags: Record<string, string>;
  /** Target groups: the ports this host is registered on now. */
  selfPorts: number[];
  /** IP target groups: "all" when this host's IP is outside the target group's VPC (AWS says so). */
  selfZone?: string;
  /** IP target groups: the IP it is registered under there (a secondary one, perhaps). */
  selfIp?: string;
}

export interface StandaloneSnapshot {
  instanceId: string;
  region: string;
  loadBalancers: StandaloneLb[];
  takenAt: number;
  /** Named load balancers that no longer exist (`elb/NAME`, `tg/NAME`): left out. */
  gone?: string[];
}

export type StandaloneStep =
  /** Tag each load balancer this host leaves with what it removes (before deregistering). */
  | "record-removal"
  /** DeregisterInstancesFromLoadBalancer / DeregisterTargets (with the ports). */
  | "deregister"
  /**
   * The same, where this host's own record says it left already (an earlier `out` was cut short
   * after recording): every other host has counted it out there since, so no turn is needed.
   */
  | "finish-deregister"
  /** Wait until gone from every load balancer it left. */
  | "wait-out"
  /** RegisterInstancesWithLoadBalancer / RegisterTargets (with the recorded ports). */
  | "register"
  /** Wait until healthy in every load balancer. */
  | "wait-in"
  /** Remove this host's records: it is back. */
  | "forget-removal";

/**
 * `targets`: the load balancers (ids) the steps act on; `skipped`: named ones `in` neither registers
 * with nor waits on (balanced did not take this host out of them).
 */
export type StandaloneDecision = Decision<StandaloneStep, { targets: string[]; skipped?: string[] }>;

const mine = (s: StandaloneSnapshot, l: StandaloneLb) =>
  parseRemovals(l.tags).find((r) => r.instanceId === s.instanceId);

const self = (s: StandaloneSnapshot, l: StandaloneLb): MemberHealth => memberOf(l.lb, s.instanceId);

export function decideStandaloneOut(s: StandaloneSnapshot, policy: Policy): StandaloneDecision {
  const registered = s.loadBalancers.filter((l) => !goneFrom(self(s, l)));
  if (registered.length === 0)
    return {
      verdict: "done",
      summary: `already out: gone from all ${plural(s.loadBalancers.length, "load balancer")}`,
    };
  const draining = registered.filter((l) => self(s, l).state === "draining" && mine(s, l));
  const toLeave = registered.filter((l) => !draining.includes(l));
  if (toLeave.length === 0)
    return {
      verdict: "act",
      steps: ["wait-out"],
      summary: `finishing an earlier \`out\`: still draining from ${draining.map((l) => lbLabel(l.lb)).join(", ")}`,
      targets: draining.map((l) => l.lb.id),
    };
  const budgets = toLeave.map((l) => assessLbBudget(s.instanceId, l.lb, l.tags, policy));
  // Recorded everywhere it is still registered: an earlier `out` wrote its records and was cut short
  // (a failed or killed deregistration). It has counted as out there since, so the budget of
  // --max-unavailable is spent already; the floor below still holds against the world as it is now.
  const finishing = toLeave.every((l) => mine(s, l) !== undefined);
  for (const b of budgets) {
    const refused = lbBudgetRefusal(b, policy, { spent: finishing });
    if (refused) return refuseUnsafe(`refusing: ${refused}`);
  }
  const healthyLeft = budgets
    .map((b) => `${b.label}: ${plural(b.healthyOthers.length, "healthy member")}`)
    .join(", ");
  if (finishing)
    return {
      verdict: "act",
      steps: ["finish-deregister", "wait-out"],
      summary: `finishing an earlier \`out\` cut short: recorded as out of ${toLeave.map((l) => lbLabel(l.lb)).join(", ")} but still registered there; would deregister; remaining: ${healthyLeft}`,
      targets: [...toLeave, ...draining].map((l) => l.lb.id),
    };
  return {
    verdict: "act",
    steps: ["record-removal", "deregister", "wait-out"],
    summary: `would record and deregister this host from ${toLeave.map((l) => lbLabel(l.lb)).join(", ")}; remaining: ${healthyLeft}`,
    targets: toLeave.map((l) => l.lb.id),
  };
}

/**
 * `out --shutdown`: the host goes down either way, so no budget refusal; only what is registered is
 * left, and recorded as removed by the shutdown.
 */
export function decideStandaloneShutdown(s: StandaloneSnapshot, policy: Policy): StandaloneDecision {
  const planned = decideStandaloneOut(s, policy);
  if (planned.verdict !== "refuse") return planned;
  const registered = s.loadBalancers.filter((l) => !goneFrom(self(s, l)));
  const overruled = planned.reason.replace(/^refusing: /, "");
  return {
    verdict: "act",
    overruled,
    steps: ["record-removal", "deregister", "wait-out"],
    summary: `shutting down: would record and deregister this host from ${registered.map((l) => lbLabel(l.lb)).join(", ")}, although ${overruled}`,
    targets: registered.map((l) => l.lb.id),
  };
}

/** The zone `in` registers an IP target in: "all" where the record says so (an IP outside the VPC). */
export const zoneToRegister = (s: StandaloneSnapshot, l: StandaloneLb): "all" | undefined =>
  l.lb.kind === "target-group" && l.lb.targetType === "ip" ? mine(s, l)?.az : undefined;

/** The IP `in` registers an IP target under: the recorded one (a secondary IP), else the primary. */
export const ipToRegister = (s: StandaloneSnapshot, l: StandaloneLb): string | undefined =>
  l.lb.kind === "target-group" && l.lb.targetType === "ip" ? mine(s, l)?.ip : undefined;

/** The ports `in` registers a target on: the recorded ones, else those it is on, else the group's. */
export function portsToRegister(s: StandaloneSnapshot, l: StandaloneLb): number[] {
  if (l.lb.kind === "classic") return [];
  const recorded = mine(s, l)?.ports ?? [];
  if (recorded.length) return recorded;
  if (l.selfPorts.length) return l.selfPorts;
  return l.lb.port !== undefined ? [l.lb.port] : [];
}

export function decideStandaloneIn(
  s: StandaloneSnapshot,
  opts: { afterShutdown?: boolean } = {},
): StandaloneDecision {
  const records = s.loadBalancers.filter((l) => mine(s, l));
  if (opts.afterShutdown && !records.some((l) => mine(s, l)?.by === "shutdown"))
    return {
      verdict: "done",
      summary: `not taken out by a shutdown (no ${outKey(s.instanceId)} tag with by=shutdown): left as it is`,
    };
  const out = s.loadBalancers.filter((l) => goneFrom(self(s, l)) || self(s, l).state === "draining");
  // Only where `out` took it out, on the ports it recorded: a named load balancer without this
  // host's record is somewhere it may never have been, on a port nobody knows.
  const skipped = out.filter((l) => !mine(s, l));
  if (
    skipped.length &&
    records.length === 0 &&
    skipped.length === out.length &&
    out.length === s.loadBalancers.length
  )
    return refuseUnsafe(
      `refusing: this host is in none of ${skipped.map((l) => lbLabel(l.lb)).join(", ")} and balanced did not take it out of them (no ${outKey(s.instanceId)} record): it does not know that it served there, nor on which port; register it yourself`,
    );
  const absent = out.filter((l) => mine(s, l));
  const waiting = s.loadBalancers.filter((l) => !servesIn(self(s, l)) && !skipped.includes(l));
  if (absent.length === 0 && waiting.length === 0) {
    if (records.length === 0)
      return {
        verdict: "done",
        summary: `already in: healthy in all ${plural(s.loadBalancers.length, "load balancer")}`,
      };
    return {
      verdict: "act",
      steps: ["forget-removal"],
      summary: "in, but its removal records are still there: would remove them",
      targets: records.map((l) => l.lb.id),
    };
  }
  const steps: StandaloneStep[] = [...(absent.length ? (["register"] as const) : []), "wait-in"];
  if (records.length) steps.push("forget-removal");
  const how = (l: StandaloneLb) => {
    const ports = portsToRegister(s, l);
    return `${lbLabel(l.lb)}${ports.length ? ` on port ${ports.join(", ")}` : ""}`;
  };
  const notThere = skipped.length
    ? `; not ${skipped.map((l) => lbLabel(l.lb)).join(", ")}: balanced did not take it out of ${skipped.length > 1 ? "them" : "it"}`
    : "";
  return {
    verdict: "act",
    steps,
    summary:
      (absent.length
        ? `would register this host with ${absent.map(how).join(", ")} and wait until healthy in ${plural(s.loadBalancers.length - skipped.length, "load balancer")}`
        : `registered, waiting to be healthy in ${waiting.map((l) => lbLabel(l.lb)).join(", ")}`) + notThere,
    targets: absent.map((l) => l.lb.id),
    skipped: skipped.map((l) => l.lb.id),
  };
}
