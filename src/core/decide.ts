import { BalancedError, ExitCode } from "../errors";
import {
  backInService,
  goneFrom,
  isHealthyServing,
  isWarmed,
  LEFT_GROUP,
  lbLabel,
  memberOf,
  servesOrNeedNot,
} from "./health";
import { parseRecords } from "./minsize";
import { parkedBy, parkedKey } from "./parked";
import { formatQuantity, listUnavailable, plural, resolveQuantity } from "./quantity";
import { assessLbBudget, lbBudgetRefusal, ownRemoval } from "./removals";
import { hasShutdownRecord, shutdownKey } from "./shutdown";
import { type TurnView, turnRefusal } from "./turn";
import type { InstanceView, Policy, Snapshot } from "./types";

export { formatQuantity, listUnavailable, plural, resolveQuantity } from "./quantity";

/**
 * What to do now. `out` and `in` act on it; `status` prints it. Pure: a snapshot and a policy in,
 * a decision out.
 */
export type Step =
  /** EnterStandby with ShouldDecrementDesiredCapacity=true. */
  | "enter-standby"
  /** Wait until Standby and gone from every load balancer. */
  | "wait-out"
  /** Wait until Standby (an `out` still in flight). */
  | "wait-standby"
  /** ExitStandby. */
  | "exit-standby"
  /** Wait until InService and taking traffic from every load balancer. */
  | "wait-in"
  /** Remove this host's `balanced:parked:` record: it is back. */
  | "forget-parked"
  /** Remove this host's removal records from its load balancers (src/core/removals.ts): it is back. */
  | "forget-removal"
  /** Record, then lower MinSize by one (the group is at its MinSize). */
  | "lower-min-size"
  /** Undo this host's MinSize lowering, then remove its record. */
  | "restore-min-size"
  /** Record on the group that a shutdown took this host out (src/core/shutdown.ts). */
  | "record-shutdown"
  /** Remove that record: the host is back, or was never taken out. */
  | "forget-shutdown"
  /** Wait until gone from every load balancer, whatever the lifecycle (the group is terminating it). */
  | "wait-drained";

export type Refusal = {
  verdict: "refuse";
  exitCode: typeof ExitCode.Unsafe | typeof ExitCode.Busy;
  kind: "unsafe" | "busy";
  reason: string;
};

/**
 * A decision: act (these steps), done, or refuse. The steps are a group's (Step) or, for a host in
 * no group, src/core/standalone.ts's; `Extra` is what that mode's act also says. `overruled`: the
 * refusal a shutdown goes ahead despite.
 */
export type Decision<S extends string = Step, Extra = unknown> =
  | ({ verdict: "act"; steps: S[]; summary: string; overruled?: string } & Extra)
  | { verdict: "done"; summary: string }
  | Refusal;

/** A refusal as the error the entry point turns into its exit code and one-line reason. */
export const refusalError = (r: Refusal) => new BalancedError(r.exitCode, r.kind, r.reason);

export interface Budget {
  desiredCapacity: number;
  /** Peers that are InService, Healthy and taking traffic everywhere. */
  healthyPeers: string[];
  /** Instances out of service or unhealthy once this host leaves, this host included. */
  unavailableAfter: { id: string; why: string }[];
  requiredHealthy: number;
  requiredHealthySource: string;
  maxUnavailable: number;
}

/** Lifecycle states that are no transition: steady in the group, or already gone from it. */
const STEADY = new Set(["InService", "Standby"]);
const ACTIVE_REFRESH = new Set(["Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"]);

/**
 * The group's members the budget counts: not those gone for good, and not a warm pool's (`Warmed:*`:
 * kept pre-initialized beside the group, they take no traffic and are not part of its desired
 * capacity, so they are neither healthy peers nor hosts out; a Warmed:Pending one is no activity of
 * the group's either).
 */
const members = (s: Snapshot) =>
  s.group.instances.filter((i) => !LEFT_GROUP.has(i.lifecycleState) && !isWarmed(i.lifecycleState));

export function self(s: Snapshot): InstanceView {
  const me = s.group.instances.find((i) => i.id === s.instanceId);
  if (!me) throw new Error(`snapshot of ${s.group.name} does not list ${s.instanceId}`);
  return me;
}

const why = (s: Snapshot, inst: InstanceView): string => {
  if (inst.lifecycleState !== "InService") return inst.lifecycleState;
  if (inst.health !== "Healthy") return `${inst.health} in the group`;
  const lb = s.loadBalancers.find((l) => !servesOrNeedNot(l, memberOf(l, inst.id)));
  return lb ? `${memberOf(lb, inst.id).state} in ${lbLabel(lb)}` : "unavailable";
};

/**
 * What percentages are of: the group's full size, as a PodDisruptionBudget takes its controller's
 * scale, which evictions do not change. Every `out` lowers desired capacity (EnterStandby with
 * ShouldDecrementDesiredCapacity), so the members in Standby or entering it are added back:
 * otherwise each host out would shrink the budget's base, and 50% would let nine of ten out.
 */
export function fullSize(s: Snapshot): { size: number; basis: string } {
  const desired = s.group.desiredCapacity;
  const parked = members(s).filter(
    (i) => i.lifecycleState === "Standby" || i.lifecycleState === "EnteringStandby",
  );
  return parked.length
    ? {
        size: desired + parked.length,
        basis: `the group's full size ${desired + parked.length} (desired ${desired} + ${parked.length} in Standby)`,
      }
    : { size: desired, basis: `desired capacity ${desired}` };
}

export function assessBudget(s: Snapshot, policy: Policy): Budget {
  const desired = s.group.desiredCapacity;
  const { size, basis } = fullSize(s);
  const peers = members(s).filter((i) => i.id !== s.instanceId);
  const healthyPeers = peers.filter((i) => isHealthyServing(s, i)).map((i) => i.id);
  const unavailableAfter = [
    ...peers.filter((i) => !isHealthyServing(s, i)).map((i) => ({ id: i.id, why: why(s, i) })),
    { id: s.instanceId, why: "this host" },
  ];
  let requiredHealthy: number;
  let requiredHealthySource: string;
  if (policy.minHealthy) {
    requiredHealthy = resolveQuantity(policy.minHealthy, size);
    requiredHealthySource =
      policy.minHealthy.kind === "percent" ? `${formatQuantity(policy.minHealthy)} of ${basis}` : "";
  } else if (s.group.minHealthyPercentage !== undefined && s.group.minHealthyPercentage >= 0) {
    requiredHealthy = resolveQuantity({ kind: "percent", value: s.group.minHealthyPercentage }, size);
    requiredHealthySource = `the group's instance maintenance policy: MinHealthyPercentage ${s.group.minHealthyPercentage}% of ${basis}`;
  } else {
    requiredHealthy = 1;
    requiredHealthySource = "the default: never the last healthy instance";
  }
  // Whatever the flags say, the last healthy instance never leaves.
  requiredHealthy = Math.max(1, requiredHealthy);
  return {
    desiredCapacity: desired,
    healthyPeers,
    unavailableAfter,
    requiredHealthy,
    requiredHealthySource,
    maxUnavailable: resolveQuantity(policy.maxUnavailable, size),
  };
}

/**
 * After acting: whether the budget still holds with this host out, or why not (a peer that failed,
 * a scale-in or refresh that started while it drained). Undefined when it holds.
 */
export function budgetBreach(s: Snapshot, policy: Policy): string | undefined {
  const budget = assessBudget(s, policy);
  // Peers moving in and out of Standby are counted by the budget above; what is new is AWS's own
  // change of the group (a scale-in, an instance refresh).
  const busy = busyReasons(s).filter(
    (r) =>
      (r.startsWith("scaling activity") && !/Moving EC2 instance (to|out of) Standby/.test(r)) ||
      r.startsWith("instance refresh"),
  );
  if (budget.healthyPeers.length < budget.requiredHealthy)
    return `${plural(budget.healthyPeers.length, "healthy peer")} remain, --min-healthy requires ${budget.requiredHealthy} (${listUnavailable(budget.unavailableAfter)})`;
  if (budget.unavailableAfter.length > budget.maxUnavailable)
    return `${plural(budget.unavailableAfter.length, "instance")} are out of service or unhealthy at once (${listUnavailable(budget.unavailableAfter)}), --max-unavailable allows ${budget.maxUnavailable}`;
  const lbRefused = lbBudgetsRefusal(s, policy, { after: true });
  if (lbRefused) return lbRefused;
  if (busy.length) return `group ${s.group.name} became busy: ${busy.join("; ")}`;
  return undefined;
}

/**
 * The budget also holds in each of this host's load balancers, counting every target registered
 * there (other groups', hosts in no group, IP targets) and every host recorded out of it: two groups
 * behind one target group share its budget (a PodDisruptionBudget counts every pod it selects,
 * whoever owns it).
 */
function lbBudgetsRefusal(s: Snapshot, policy: Policy, opts: { after?: boolean } = {}): string | undefined {
  for (const lb of s.loadBalancers) {
    // Not in it, and not recorded out of it: leaving takes nothing from it (a named one it is not in).
    if (goneFrom(memberOf(lb, s.instanceId)) && !ownRemoval(lb, s.instanceId)) continue;
    const refused = lbBudgetRefusal(assessLbBudget(s.instanceId, lb, lb.tags ?? {}, policy), policy, opts);
    if (refused) return refused;
  }
  return undefined;
}

export const refuseUnsafe = (reason: string): Refusal => ({
  verdict: "refuse",
  exitCode: ExitCode.Unsafe,
  kind: "unsafe",
  reason,
});

/** Reasons the group is mid-change, so that no decision about its health can be trusted yet. */
export function busyReasons(s: Snapshot): string[] {
  const reasons: string[] = [];
  const foreign = s.activities.filter((a) => !a.description.includes(s.instanceId));
  if (foreign.length) {
    const a = foreign[0]!;
    reasons.push(`scaling activity in progress (${a.statusCode}): ${a.description}`);
  }
  const refresh = s.refreshes.find((r) => ACTIVE_REFRESH.has(r.status));
  if (refresh) reasons.push(`instance refresh ${refresh.id} is ${refresh.status}`);
  const moving = members(s).filter((i) => i.id !== s.instanceId && !STEADY.has(i.lifecycleState));
  if (moving.length) {
    reasons.push(`${moving.map((i) => `${i.id} is ${i.lifecycleState}`).join(", ")}`);
  }
  return reasons;
}

export function decideOut(s: Snapshot, policy: Policy): Decision {
  const me = self(s);
  const lbCount = plural(s.loadBalancers.length, "load balancer");
  switch (me.lifecycleState) {
    case "Standby": {
      const left = s.loadBalancers.filter((lb) => !goneFrom(memberOf(lb, me.id)));
      if (left.length === 0)
        return { verdict: "done", summary: `already out: in Standby and gone from all ${lbCount}` };
      return {
        verdict: "act",
        steps: ["wait-out"],
        summary: `in Standby, still leaving ${left.map(lbLabel).join(", ")}`,
      };
    }
    case "EnteringStandby":
      return {
        verdict: "act",
        steps: ["wait-out"],
        summary: "finishing an earlier `out`: this host is EnteringStandby",
      };
    case "InService":
      break;
    default:
      return {
        verdict: "refuse",
        exitCode: ExitCode.Busy,
        kind: "busy",
        reason: `refusing: this host is ${me.lifecycleState}; it can leave only from InService`,
      };
  }

  const busy = busyReasons(s);
  if (busy.length)
    return {
      verdict: "refuse",
      exitCode: ExitCode.Busy,
      kind: "busy",
      reason: `refusing: group ${s.group.name} is busy: ${busy.join("; ")}`,
    };
  for (const process of ["Launch", "AddToLoadBalancer"]) {
    if (s.group.suspendedProcesses.includes(process)) {
      return {
        verdict: "refuse",
        exitCode: ExitCode.Busy,
        kind: "busy",
        reason: `refusing: group ${s.group.name} has its ${process} process suspended, so this host could not come back; resume it first (aws autoscaling resume-processes --auto-scaling-group-name ${s.group.name} --scaling-processes ${process})`,
      };
    }
  }

  const budget = assessBudget(s, policy);
  const healthy = budget.healthyPeers.length;
  if (healthy < budget.requiredHealthy) {
    const source = budget.requiredHealthySource ? ` (${budget.requiredHealthySource})` : "";
    return refuseUnsafe(
      `refusing: ${plural(healthy, "healthy peer")} would remain, --min-healthy requires ${budget.requiredHealthy}${source}`,
    );
  }
  if (budget.unavailableAfter.length > budget.maxUnavailable) {
    return refuseUnsafe(
      `refusing: ${plural(budget.unavailableAfter.length, "instance")} would be out of service or unhealthy at once (${listUnavailable(budget.unavailableAfter)}), --max-unavailable allows ${budget.maxUnavailable}`,
    );
  }
  const lbRefused = lbBudgetsRefusal(s, policy);
  if (lbRefused) return refuseUnsafe(`refusing: ${lbRefused}`);
  const g = s.group;
  const atMinSize = isAtMinSize(s);
  const minSizeRefused = minSizeRefusal(s, policy);
  if (minSizeRefused) return minSizeRefused;
  if (atMinSize) {
    return {
      verdict: "act",
      steps: ["lower-min-size", "enter-standby", "wait-out"],
      summary: `would lower MinSize ${g.minSize} -> ${g.minSize - 1} (restored by \`balanced in\`), enter standby and leave ${lbCount}; ${plural(healthy, "healthy peer")} remain (at least ${budget.requiredHealthy} required)`,
    };
  }
  return {
    verdict: "act",
    steps: ["enter-standby", "wait-out"],
    summary: `would enter standby and leave ${lbCount}; ${plural(healthy, "healthy peer")} remain (at least ${budget.requiredHealthy} required)`,
  };
}

const isAtMinSize = (s: Snapshot) => s.group.desiredCapacity - 1 < s.group.minSize;

/** AWS refuses EnterStandby below MinSize; lowering it is allowed unless the policy says refuse. */
function minSizeRefusal(s: Snapshot, policy: Policy): Decision | undefined {
  const g = s.group;
  if (!isAtMinSize(s) || (policy.minSize !== "refuse" && g.minSize > 0)) return undefined;
  return {
    verdict: "refuse",
    exitCode: ExitCode.Unsafe,
    kind: "unsafe",
    reason:
      `refusing: group ${g.name} is at its MinSize (min ${g.minSize}, desired ${g.desiredCapacity}), so AWS will not let this host enter standby` +
      (policy.minSize === "refuse"
        ? "; without --min-size refuse, balanced lowers MinSize for the time this host is out"
        : ""),
  };
}

const TERMINATING = new Set(["Terminating", "Terminating:Wait", "Terminating:Proceed"]);

/**
 * `out --shutdown`: the host goes down whatever balanced decides, so leaving first is always the
 * gentler way for its clients. Busy groups, the budget and other hosts' turns cannot keep it
 * serving; they become a warning in the summary instead of a refusal. Only what AWS itself would
 * refuse (MinSize, under --min-size refuse) still refuses.
 */
export function decideShutdown(s: Snapshot, policy: Policy, opts: { replace?: boolean } = {}): Decision {
  const me = self(s);
  const lbCount = plural(s.loadBalancers.length, "load balancer");
  if (TERMINATING.has(me.lifecycleState)) {
    // The group deregisters a terminating host itself; EnterStandby would be refused anyway.
    const left = s.loadBalancers.filter((lb) => !goneFrom(memberOf(lb, me.id)));
    if (left.length === 0)
      return {
        verdict: "done",
        summary: `being terminated by ${s.group.name}, already gone from all ${lbCount}`,
      };
    return {
      verdict: "act",
      steps: ["wait-drained"],
      summary: `being terminated by ${s.group.name}, which drains it from ${left.map(lbLabel).join(", ")}: waiting for that`,
    };
  }
  if (me.lifecycleState !== "InService") {
    const usual = decideOut(s, policy);
    return usual.verdict === "refuse"
      ? { verdict: "done", summary: `${me.lifecycleState}, not in service: nothing to drain` }
      : usual;
  }
  const usual = decideOut(s, policy);
  const overruled = usual.verdict === "refuse" ? usual.reason.replace(/^refusing: /, "") : undefined;
  if (opts.replace) {
    // Not coming back: desired capacity stays, so MinSize is no obstacle and nothing is recorded.
    return {
      verdict: "act",
      overruled,
      steps: ["enter-standby", "wait-out"],
      summary: `leaving for good: would enter standby without decrementing desired capacity (${s.group.name} launches a replacement) and leave ${lbCount}${overruled ? `, although ${overruled}` : ""}`,
    };
  }
  const minSizeRefused = minSizeRefusal(s, policy);
  if (minSizeRefused) return minSizeRefused;
  return {
    verdict: "act",
    overruled,
    steps: [
      "record-shutdown",
      ...(isAtMinSize(s) ? (["lower-min-size"] as const) : []),
      "enter-standby",
      "wait-out",
    ],
    summary: `shutting down: would record it as ${shutdownKey(me.id)}, enter standby and leave ${lbCount}${overruled ? `, although ${overruled}` : ""}`,
  };
}

export function decideIn(s: Snapshot, opts: { afterShutdown?: boolean; force?: boolean } = {}): Decision {
  const shutdownRecorded = hasShutdownRecord(s.group.tags, s.instanceId);
  if (opts.afterShutdown && !shutdownRecorded)
    return {
      verdict: "done",
      summary: `not taken out by a shutdown (no ${shutdownKey(s.instanceId)} tag on ${s.group.name}): left as it is`,
    };
  const parked = parkedBy(s.group.tags, s.instanceId);
  const state = self(s).lifecycleState;
  if ((state === "Standby" || state === "EnteringStandby") && !parked && !shutdownRecorded && !opts.force)
    return refuseUnsafe(
      `refusing: balanced did not put this host in Standby (no ${parkedKey(s.instanceId)} tag on ${s.group.name}): someone else parked it, perhaps to keep it out of service; \`balanced in --force\` takes it back anyway`,
    );
  let decision = decideInIgnoringMinSize(s);
  // Once it serves again, nobody need count it out of its load balancers any longer.
  if (s.loadBalancers.some((lb) => ownRemoval(lb, s.instanceId)))
    decision = thenAlso(
      decision,
      "forget-removal",
      "remove its records from the load balancers",
      "its records on the load balancers are still there",
    );
  // This host lowered MinSize on its way out: put it back once the host serves again. So too a
  // lowering whose host is back but could not finish ("partial": another host was out then).
  if (recordToRestore(s) !== undefined)
    decision = thenAlso(
      decision,
      "restore-min-size",
      "restore MinSize",
      "a MinSize lowered for it (or for a host back since) is not restored yet",
    );
  if (shutdownRecorded)
    decision = thenAlso(
      decision,
      "forget-shutdown",
      "remove the shutdown record",
      "its shutdown record is still there",
    );
  if (parked)
    decision = thenAlso(
      decision,
      "forget-parked",
      "remove the parked record",
      "its parked record is still there",
    );
  return decision;
}

/**
 * Whose MinSize record an `in` on this host restores: its own; else the oldest of a host back in
 * service and healthy. Such a record is left by a restore that stopped short ("partial": desired
 * capacity was lower while another host was out), and that host's own `in` is over: the last host
 * back finishes it, or the group would stay shrunk until someone runs `repair`.
 */
export function recordToRestore(s: Snapshot): string | undefined {
  const records = parseRecords(s.group.tags);
  if (records.some((r) => r.instanceId === s.instanceId)) return s.instanceId;
  return records.find((r) => backInService(s, r.instanceId))?.instanceId;
}

/** Adds a clean-up step after coming back, also when the host is already back. */
function thenAlso(decision: Decision, step: Step, what: string, why: string): Decision {
  if (decision.verdict === "act")
    return { ...decision, steps: [...decision.steps, step], summary: `${decision.summary}, then ${what}` };
  if (decision.verdict === "done")
    return { verdict: "act", steps: [step], summary: `in, but ${why}: would ${what}` };
  return decision;
}

function decideInIgnoringMinSize(s: Snapshot): Decision {
  const me = self(s);
  const lbCount = plural(s.loadBalancers.length, "load balancer");
  const g = s.group;
  switch (me.lifecycleState) {
    case "InService": {
      const waiting = s.loadBalancers.filter((lb) => !servesOrNeedNot(lb, memberOf(lb, me.id)));
      if (waiting.length === 0 && me.health === "Healthy") {
        return { verdict: "done", summary: `already in: InService and healthy in all ${lbCount}` };
      }
      return {
        verdict: "act",
        steps: ["wait-in"],
        summary: `InService, waiting to be healthy in ${waiting.map(lbLabel).join(", ") || "the group"}`,
      };
    }
    case "Pending":
    case "Pending:Proceed":
      return {
        verdict: "act",
        steps: ["wait-in"],
        summary: "finishing an earlier `in`: this host is Pending",
      };
    case "Standby":
    case "EnteringStandby": {
      if (g.desiredCapacity + 1 > g.maxSize) {
        return {
          verdict: "refuse",
          exitCode: ExitCode.Unsafe,
          kind: "unsafe",
          reason: `refusing: group ${g.name} is at its MaxSize (max ${g.maxSize}, desired ${g.desiredCapacity}), so AWS will not let this host leave standby; raise MaxSize first`,
        };
      }
      const first: Step[] = me.lifecycleState === "EnteringStandby" ? ["wait-standby"] : [];
      return {
        verdict: "act",
        steps: [...first, "exit-standby", "wait-in"],
        summary: `would exit standby and wait until healthy in all ${lbCount}`,
      };
    }
    default:
      return {
        verdict: "refuse",
        exitCode: ExitCode.Busy,
        kind: "busy",
        reason: `refusing: this host is ${me.lifecycleState}; it can come back only from Standby`,
      };
  }
}

/**
 * What the real `out` would answer once it met the group's turn: an act becomes the turn's refusal
 * (exit 4) while another host holds it or it is unreadable. For `--dry-run` and `status`, which take
 * no turn themselves but must give the real run's answer.
 */
export function withTurn<S extends string>(d: Decision<S>, turn: TurnView, now: number): Decision<S> {
  if (d.verdict !== "act") return d;
  const reason = turnRefusal(turn, now);
  return reason ? { verdict: "refuse", exitCode: ExitCode.Busy, kind: "busy", reason } : d;
}
