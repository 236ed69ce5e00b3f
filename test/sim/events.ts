import { randomUUID } from "node:crypto";
import { SimError, type World } from "./world";

/**
 * Control-API events: things that happen to a fleet that no agent caused. `inSeconds` (simulated)
 * schedules the event; without it, it happens now.
 */
export type SimEvent = { inSeconds?: number } & (
  | { kind: "start-activity"; group: string; statusCode?: string; description?: string }
  | { kind: "finish-activity"; group: string; activityId?: string; statusCode?: string }
  | { kind: "start-instance-refresh"; group: string; status?: string }
  | { kind: "finish-instance-refresh"; group: string; id?: string; status?: string }
  | { kind: "set-health"; instance: string; healthy: boolean; scope?: string }
  | { kind: "terminate"; instance: string }
  | { kind: "set-sizes"; group: string; min?: number; max?: number; desired?: number }
  | { kind: "set-lifecycle"; instance: string; state: string }
  | { kind: "suspend" | "resume"; group: string; processes: string[] }
  /** Deleted under the group (which keeps naming it): its describes answer NotFound from now on. */
  | { kind: "delete-target-group"; name: string }
  | { kind: "delete-load-balancer"; name: string }
  /** DetachLoadBalancerTargetGroups / DetachLoadBalancers: the group's instances are deregistered. */
  | { kind: "detach-target-group"; group: string; name: string }
  | { kind: "detach-load-balancer"; group: string; name: string }
  /** The zones a classic ELB (or a target group's load balancer) routes to. */
  | { kind: "set-zones"; name: string; zones: string[] }
  /** A Spot interruption notice now; EC2 takes the instance `noticeSeconds` (default 120) later. */
  | {
      kind: "spot-interruption";
      instance: string;
      noticeSeconds?: number;
      action?: "terminate" | "stop" | "hibernate";
    }
  | { kind: "rebalance-recommendation"; instance: string }
  /** A scheduled event (system-reboot, instance-retirement, ...) starting `notBeforeSeconds` from now. */
  | {
      kind: "scheduled-maintenance";
      instance: string;
      code: string;
      notBeforeSeconds: number;
      durationSeconds?: number;
    }
  /** EC2 cancels a scheduled event (every one of the instance's, or the one with this id). */
  | { kind: "cancel-maintenance"; instance: string; eventId?: string }
);

const instance = (world: World, id: string) => {
  const inst = world.instances.get(id);
  if (!inst) throw new SimError("NotFound", `no instance ${id}`);
  return inst;
};

/** Applies (or schedules) one event; returns what a caller needs to refer to it later. */
export function applyEvent(world: World, event: SimEvent): { ok: true; id?: string } {
  const id = randomUUID();
  const run = () => {
    runEvent(world, event, id);
    world.recordServing();
  };
  if (event.inSeconds && event.inSeconds > 0) {
    // Validate now, so a typo fails the control call rather than silently later.
    if ("group" in event) world.group(event.group);
    if ("instance" in event) instance(world, event.instance);
    world.clock.after(event.inSeconds, run);
  } else {
    run();
  }
  return { ok: true, id };
}

function runEvent(world: World, event: SimEvent, id: string): void {
  switch (event.kind) {
    case "start-activity": {
      const group = world.group(event.group);
      world.startActivity(group, {
        activityId: id,
        description: event.description ?? "Launching a new EC2 instance: i-0pending00000000",
        cause: `At ${new Date().toISOString()} a user request update of AutoScalingGroup constraints changed the desired capacity.`,
        statusCode: event.statusCode ?? "InProgress",
        progress: 20,
      });
      return;
    }
    case "finish-activity": {
      const group = world.group(event.group);
      for (const a of group.activities) {
        if (event.activityId ? a.activityId === event.activityId : a.endTime === undefined) {
          world.finishActivity(a, event.statusCode ?? "Successful");
        }
      }
      return;
    }
    case "start-instance-refresh": {
      const group = world.group(event.group);
      group.refreshes.unshift({
        id,
        groupName: group.name,
        status: event.status ?? "InProgress",
        startTime: world.clock.now(),
        percentageComplete: 0,
      });
      return;
    }
    case "finish-instance-refresh": {
      const group = world.group(event.group);
      for (const r of group.refreshes) {
        if (event.id ? r.id === event.id : r.endTime === undefined) {
          r.status = event.status ?? "Successful";
          r.endTime = world.clock.now();
          r.percentageComplete = 100;
        }
      }
      return;
    }
    case "set-health": {
      const inst = instance(world, event.instance);
      const scope = event.scope ?? "app";
      if (scope === "group") world.setGroupHealth(inst, event.healthy ? "Healthy" : "Unhealthy");
      else if (scope === "app") world.setAppHealth(inst, event.healthy);
      else if (world.classicLbs.has(scope)) world.setAppHealth(inst, event.healthy, scope);
      else world.setAppHealth(inst, event.healthy, world.tgByName(scope).arn);
      return;
    }
    case "terminate":
      world.terminate(instance(world, event.instance), "an instance was terminated by a user request");
      return;
    case "set-sizes":
      world.updateGroup(world.group(event.group), event);
      return;
    case "set-lifecycle": {
      const inst = instance(world, event.instance);
      inst.lifecycleState = event.state;
      inst.stateSince = world.clock.now();
      return;
    }
    case "delete-target-group":
      world.targetGroups.delete(world.tgByName(event.name).arn);
      return;
    case "delete-load-balancer":
      if (!world.classicLbs.delete(event.name))
        throw new SimError("NotFound", `no load balancer ${event.name}`);
      return;
    case "detach-target-group": {
      const group = world.group(event.group);
      const tg = world.tgByName(event.name);
      group.targetGroupArns = group.targetGroupArns.filter((a) => a !== tg.arn);
      for (const inst of world.groupInstances(group))
        world.tgDeregister(tg, tg.targetType === "ip" ? inst.privateIp : inst.id, tg.port);
      return;
    }
    case "detach-load-balancer": {
      const group = world.group(event.group);
      const lb = world.classicLbs.get(event.name);
      if (!lb) throw new SimError("NotFound", `no load balancer ${event.name}`);
      group.loadBalancerNames = group.loadBalancerNames.filter((n) => n !== lb.name);
      for (const inst of world.groupInstances(group)) world.classicDeregister(lb, inst);
      return;
    }
    case "set-zones":
      world.setZones(event.name, event.zones);
      return;
    case "spot-interruption": {
      const inst = instance(world, event.instance);
      const time = world.clock.now() + world.clock.realMs(event.noticeSeconds ?? 120);
      inst.notices.spot = { action: event.action ?? "terminate", time };
      world.clock.at(time, () =>
        world.reclaim(
          inst,
          "an instance was taken out of service in response to an EC2 Spot Instance interruption",
        ),
      );
      return;
    }
    case "rebalance-recommendation":
      instance(world, event.instance).notices.rebalanceAt = world.clock.now();
      return;
    case "scheduled-maintenance": {
      const inst = instance(world, event.instance);
      const notBefore = world.clock.now() + world.clock.realMs(event.notBeforeSeconds);
      inst.notices.maintenance.push({
        code: event.code,
        description: `scheduled ${event.code.replace(/-/g, " ")}`,
        eventId: `instance-event-${id.replace(/-/g, "").slice(0, 17)}`,
        notBefore,
        notAfter: notBefore + world.clock.realMs(event.durationSeconds ?? 1800),
        state: "active",
      });
      return;
    }
    case "cancel-maintenance": {
      for (const e of instance(world, event.instance).notices.maintenance)
        if (event.eventId === undefined || e.eventId === event.eventId) e.state = "canceled";
      return;
    }
    case "suspend":
    case "resume": {
      const group = world.group(event.group);
      for (const p of event.processes) {
        if (event.kind === "suspend") group.suspended.set(p, "User suspended");
        else group.suspended.delete(p);
      }
      return;
    }
  }
}
