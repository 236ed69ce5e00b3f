import type { GroupView, InstanceView, LoadBalancerView, MemberHealth, Snapshot } from "./types";

/** A warm pool instance (Warmed:Stopped, Warmed:Running, Warmed:Pending:Wait, ...). */
export const isWarmed = (lifecycleState: string) => lifecycleState.startsWith("Warmed:");

/** Lifecycle states of an instance gone from its group for good. */
export const LEFT_GROUP = new Set(["Terminated", "Detached"]);

/** Whether this instance left the group (terminated, replaced, detached): what it left there stays. */
export function leftGroup(group: Pick<GroupView, "instances">, instanceId: string): boolean {
  const host = group.instances.find((i) => i.id === instanceId);
  return !host || LEFT_GROUP.has(host.lifecycleState);
}

/** Classic ELB: DescribeInstanceHealth's State and Description, in AWS's documented words. */
export function classifyClassic(state: string | undefined, description: string | undefined): MemberHealth {
  const detail = description && description !== "N/A" ? description : (state ?? "Unknown");
  if (state === "InService") {
    return {
      state: /deregistration currently in progress/i.test(description ?? "") ? "draining" : "healthy",
      detail,
    };
  }
  if (/not currently registered/i.test(description ?? "")) return { state: "absent", detail };
  if (/registration is still in progress/i.test(description ?? "")) return { state: "registering", detail };
  if (/Availability Zone for which LoadBalancer is not configured/i.test(description ?? ""))
    return { state: "unhealthy", detail, stuck: OUTSIDE_ZONES };
  return { state: "unhealthy", detail };
}

const OUTSIDE_ZONES =
  "it does not route to this host's Availability Zone: enable that zone on the load balancer (or move the host), then run balanced in again";

/**
 * ELBv2's Target.NotInUse means one of two things (its API reference): the target group is used by
 * no load balancer (no traffic anywhere, so nothing to wait for), or the target is in a zone its load
 * balancer does not serve — no traffic for this host, which no wait will change.
 */
export function classifyNotInUse(m: MemberHealth, targetGroupHasLoadBalancer: boolean): MemberHealth {
  if (m.state !== "not-in-use" || !targetGroupHasLoadBalancer) return m;
  return { state: "unhealthy", detail: m.detail, stuck: OUTSIDE_ZONES };
}

/** ELBv2: DescribeTargetHealth's State and Reason. */
export function classifyTarget(
  state: string | undefined,
  reason: string | undefined,
  description?: string,
): MemberHealth {
  const detail = [reason, description].filter(Boolean).join(": ") || (state ?? "unknown");
  switch (state) {
    case "healthy":
      return { state: "healthy", detail: "healthy" };
    case "initial":
      return { state: "registering", detail };
    case "draining":
      return { state: "draining", detail };
    case "unavailable":
      return { state: "unavailable", detail };
    case "unused":
      if (reason === "Target.NotRegistered") return { state: "absent", detail };
      if (reason === "Target.NotInUse") return { state: "not-in-use", detail };
      return { state: "unhealthy", detail };
    default:
      return { state: "unhealthy", detail };
  }
}

const ABSENT: MemberHealth = { state: "absent", detail: "not registered" };

export const memberOf = (lb: LoadBalancerView, instanceId: string): MemberHealth =>
  lb.members[instanceId] ?? ABSENT;

/**
 * Takes traffic from this load balancer. A target group that no load balancer uses sends no traffic,
 * so it cannot make an instance unhealthy either. `unavailable` is not serving: for instance and ip
 * targets health checks "are always enabled and can't be disabled" (ELBv2 ModifyTargetGroup), so it
 * means AWS cannot tell (`Elb.InternalError`, "Target health is unavailable due to an internal
 * error", TargetHealth): an unknown peer is not a healthy one, and `in` does not finish on it.
 */
export const servesIn = (m: MemberHealth) => m.state === "healthy" || m.state === "not-in-use";

/** Done leaving: no longer registered. `draining` is not done; NotInUse is not a deregistration. */
export const goneFrom = (m: MemberHealth) => m.state === "absent";

/**
 * A healthy instance: InService and Healthy in the group, and taking traffic from every load balancer
 * of the group. A load balancer named on the command line need not hold every peer: there, only a
 * peer that is registered and not serving counts against it.
 */
export function isHealthyServing(snapshot: Snapshot, inst: InstanceView): boolean {
  return (
    inst.lifecycleState === "InService" &&
    inst.health === "Healthy" &&
    snapshot.loadBalancers.every((lb) => servesOrNeedNot(lb, memberOf(lb, inst.id)))
  );
}

/**
 * The group's instance `id` is back: in the group, InService and healthy in every load balancer.
 * Its records (MinSize, removals) are then left over from a run stopped before its last step.
 */
export function backInService(snapshot: Snapshot, id: string): boolean {
  const inst = snapshot.group.instances.find((i) => i.id === id);
  return inst !== undefined && isHealthyServing(snapshot, inst);
}

/** Serves here, or this is a load balancer named on the command line that the instance is not in. */
export const servesOrNeedNot = (lb: LoadBalancerView, m: MemberHealth) =>
  servesIn(m) || (lb.source === "named" && m.state === "absent" && lb.removedPorts === undefined);

export const lbLabel = (lb: LoadBalancerView) => (lb.kind === "classic" ? `elb/${lb.name}` : `tg/${lb.name}`);
