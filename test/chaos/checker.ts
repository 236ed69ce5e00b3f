/**
 * The checker: given what really happened (the simulator's serving timeline and its state before and
 * after a trial), did any invariant break? It knows nothing of the agents or of how the trial was
 * driven (Jepsen's split between a history and the checker that reads it), so it is unit-tested with
 * hand-made histories (test/unit/checker.test.ts).
 */
import type { SimState } from "../sim/server";
import type { ServingChange } from "../sim/world";

/** How many members of one scope (a group, or a load balancer `elb/NAME` / `tg/NAME`) may be out. */
export interface Budget {
  scope: string;
  /** Most members not serving at any instant. */
  maxUnavailable: number;
  /** Fewest members serving at any instant (0: no floor). */
  minServing: number;
}

export interface Violation {
  scope: string;
  t: number;
  what: string;
  /** The scope's timeline around the moment it broke, for the report. */
  timeline: ServingChange[];
}

const scopeOf = (c: ServingChange) => c.group ?? c.loadBalancer;

/**
 * Every moment a scope had more members out than its budget allows, or fewer serving than its floor.
 * The timeline's counts are taken after all changes of one instant, so a change that is undone at
 * the same instant never shows; one violation is reported per scope (its first), with how often.
 */
export function checkBudgets(history: ServingChange[], budgets: Budget[]): Violation[] {
  const violations: Violation[] = [];
  for (const budget of budgets) {
    const entries = history.filter((c) => scopeOf(c) === budget.scope);
    const bad = entries.filter(
      (c) => c.outOfService > budget.maxUnavailable || c.serving_count < budget.minServing,
    );
    if (bad.length === 0) continue;
    const first = bad[0]!;
    const worst = Math.max(...bad.map((c) => c.outOfService));
    const instants = new Set(bad.map((c) => c.t)).size;
    const what =
      first.outOfService > budget.maxUnavailable
        ? `${worst} out of service at once (budget ${budget.maxUnavailable}), at ${instants} instant(s)`
        : `${first.serving_count} serving (at least ${budget.minServing} must), at ${instants} instant(s)`;
    violations.push({
      scope: budget.scope,
      t: first.t,
      what,
      timeline: entries.filter((c) => Math.abs(c.t - first.t) <= 5000),
    });
  }
  return violations;
}

/** Tags the agents write (turns, MinSize and removal records, shutdown records): none may remain. */
export const AGENT_TAG = /^balanced:/;

/**
 * What a finished trial must have left: every group at its start sizes, no instance launched or
 * lost, no agent tag on any group or load balancer, and every host that started serving serving
 * again — InService in its group and registered and healthy in every one of the group's load
 * balancers. Each problem is one line.
 */
export function checkEnd(start: SimState, end: SimState): string[] {
  const problems: string[] = [];
  for (const g of start.groups) {
    const now = end.groups.find((x) => x.name === g.name);
    if (!now) {
      problems.push(`group ${g.name} is gone`);
      continue;
    }
    if (now.min !== g.min) problems.push(`${g.name}: MinSize ${now.min}, was ${g.min}`);
    if (now.desired !== g.desired)
      problems.push(`${g.name}: DesiredCapacity ${now.desired}, was ${g.desired}`);
    for (const key of Object.keys(now.tags).filter((k) => AGENT_TAG.test(k)))
      problems.push(`${g.name}: tag ${key}=${now.tags[key]} left behind`);
  }
  for (const lb of [...end.loadBalancers, ...end.targetGroups])
    for (const key of Object.keys(lb.tags ?? {}).filter((k) => AGENT_TAG.test(k)))
      problems.push(`${"arn" in lb ? "tg" : "elb"}/${lb.name}: tag ${key} left behind`);

  // A live turn left in the lock's table blocks every other host until it expires (an expired one
  // is harmless: the next taker overwrites it, and time to live deletes it).
  for (const t of end.tables ?? [])
    for (const item of t.items)
      if (item.expiresAt !== null && item.expiresAt > Date.parse(end.now))
        problems.push(`lock ${t.name}: ${item.key} left held (${item.turn})`);

  const startIds = new Set(start.instances.map((i) => i.id));
  for (const i of end.instances)
    if (!startIds.has(i.id) && i.lifecycleState !== "Terminated")
      problems.push(`${i.id} was launched (${i.group ?? "no group"}, ${i.lifecycleState})`);
  for (const before of start.instances) {
    const now = end.instances.find((i) => i.id === before.id);
    if (!now) {
      problems.push(`${before.id} is gone`);
      continue;
    }
    if (before.group && now.lifecycleState !== before.lifecycleState)
      problems.push(`${before.id}: ${now.lifecycleState}, was ${before.lifecycleState}`);
    const wasIn = registrations(start, before.id);
    const isIn = registrations(end, before.id);
    for (const [lb, state] of Object.entries(wasIn))
      if (isIn[lb] !== state)
        problems.push(`${before.id}: ${lb} ${isIn[lb] ?? "not registered"}, was ${state}`);
  }
  return problems;
}

/** Where an instance is registered and how each load balancer sees it. */
function registrations(state: SimState, id: string): Record<string, string> {
  const ip = state.instances.find((i) => i.id === id)?.privateIp;
  const out: Record<string, string> = {};
  for (const lb of state.loadBalancers) if (lb.instances[id]) out[`elb/${lb.name}`] = lb.instances[id]!;
  for (const tg of state.targetGroups)
    for (const t of tg.targets) if (t.id === id || t.id === ip) out[`tg/${tg.name}:${t.port}`] = t.state;
  return out;
}

/** The timeline of a violation as lines a person reads: seconds from the trial's start. */
export function formatTimeline(v: Violation, t0: number): string[] {
  return v.timeline.map(
    (c) =>
      `    +${((c.t - t0) / 1000).toFixed(2)}s ${scopeOf(c)} ${c.instanceId} ${c.serving ? "serving" : "OUT"} (${c.outOfService} out, ${c.serving_count} serving)`,
  );
}
