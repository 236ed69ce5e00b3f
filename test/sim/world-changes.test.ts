import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import {
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  EnterStandbyCommand,
  RecordLifecycleActionHeartbeatCommand,
} from "@aws-sdk/client-auto-scaling";
import { DescribeInstanceHealthCommand } from "@aws-sdk/client-elastic-load-balancing";
import { DescribeTargetHealthCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { clientsFor, control, eventually, sleep } from "../helpers/clients";
import { type FleetFile, loadFleet } from "./fleet";
import { type Sim, startSim } from "./server";

const A = "i-0a000000000000001";
const B = "i-0a000000000000002";

const errorName = (p: Promise<unknown>) =>
  p.then(
    () => "no error",
    (e: Error) => `${e.name}: ${e.message}`,
  );

/**
 * What happens to a fleet that no agent caused and that AWS allows: load balancers deleted or
 * detached under a group, zones a load balancer does not route to, lifecycle hooks holding instances.
 */
describe("the world changing under the agents", () => {
  let sim: Sim;
  afterEach(() => sim.stop());

  it("a target group deleted under its group answers TargetGroupNotFound; the group goes on", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const { asg, elbv2 } = clientsFor(sim.hosts[A]!);
    const arn = sim.world().tgByName("web-tg").arn;
    await control(sim, "POST", "events", { kind: "delete-target-group", name: "web-tg" });
    assert.match(
      await errorName(elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }))),
      /^TargetGroupNotFound/,
    );
    await asg.send(
      new EnterStandbyCommand({
        AutoScalingGroupName: "web",
        InstanceIds: [B],
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    await eventually(
      async () =>
        (await asg.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [B] })))
          .AutoScalingInstances?.[0]?.LifecycleState === "Standby",
    );
  });

  it("a load balancer detached from a group drains the group's instances from it", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await control(sim, "POST", "events", { kind: "detach-load-balancer", group: "web", name: "web-classic" });
    const { elb } = clientsFor(sim.hosts[A]!);
    const states = async () =>
      (
        (await elb.send(new DescribeInstanceHealthCommand({ LoadBalancerName: "web-classic" })))
          .InstanceStates ?? []
      ).length;
    await eventually(async () => (await states()) === 0, 10_000);
    assert.deepEqual(sim.world().groups.get("web")!.loadBalancerNames, []);
  });

  it("a target in a zone its load balancer does not serve is unused (Target.NotInUse); classic says so in its words", async () => {
    const fleet: FleetFile = loadFleet("three-hosts");
    fleet.targetGroups![0]!.loadBalancerZones = ["us-east-1a", "us-east-1b"];
    fleet.loadBalancers![0]!.availabilityZones = ["us-east-1a", "us-east-1b"];
    sim = await startSim(fleet);
    const { elb, elbv2 } = clientsFor(sim.hosts[A]!);
    const C = "i-0a000000000000003"; // in us-east-1c
    const health = await elbv2.send(
      new DescribeTargetHealthCommand({ TargetGroupArn: sim.world().tgByName("web-tg").arn }),
    );
    const c = health.TargetHealthDescriptions!.find((d) => d.Target!.Id === C)!.TargetHealth!;
    assert.deepEqual([c.State, c.Reason], ["unused", "Target.NotInUse"]);
    const classic = await elb.send(
      new DescribeInstanceHealthCommand({ LoadBalancerName: "web-classic", Instances: [{ InstanceId: C }] }),
    );
    assert.deepEqual(classic.InstanceStates![0], {
      InstanceId: C,
      State: "OutOfService",
      ReasonCode: "ELB",
      Description:
        "Instance is in the EC2 Availability Zone for which LoadBalancer is not configured to route traffic to.",
    });
    // It serves nowhere, so the group's serving timeline counts it out; enabling the zone fixes both.
    assert.equal(sim.world().history.at(-1)?.outOfService ?? 1, 1);
    await control(sim, "POST", "events", [
      { kind: "set-zones", name: "web-tg", zones: ["us-east-1a", "us-east-1b", "us-east-1c"] },
      { kind: "set-zones", name: "web-classic", zones: ["us-east-1a", "us-east-1b", "us-east-1c"] },
    ]);
    const after = await elbv2.send(
      new DescribeTargetHealthCommand({ TargetGroupArn: sim.world().tgByName("web-tg").arn }),
    );
    assert.equal(
      after.TargetHealthDescriptions!.find((d) => d.Target!.Id === C)!.TargetHealth!.State,
      "healthy",
    );
  });
});

describe("lifecycle hooks: Terminating:Wait and Pending:Wait, heartbeats and timeouts", () => {
  let sim: Sim;
  afterEach(() => sim.stop());
  const hooked = (
    heartbeatTimeout: number,
    defaultResult: "CONTINUE" | "ABANDON" = "CONTINUE",
  ): FleetFile => {
    const f = loadFleet("three-hosts");
    f.groups![0]!.lifecycleHooks = [
      { name: "drain", transition: "autoscaling:EC2_INSTANCE_TERMINATING", heartbeatTimeout, defaultResult },
      { name: "warm", transition: "autoscaling:EC2_INSTANCE_LAUNCHING", heartbeatTimeout, defaultResult },
    ];
    f.timing = { ...f.timing, launchSeconds: 0.5 };
    return f;
  };
  const stateOf = (id: string) => sim.world().instances.get(id)?.lifecycleState;

  it("a scale-in drains the instance first, then holds it in Terminating:Wait until CONTINUE", async () => {
    sim = await startSim(hooked(60));
    const { asg } = clientsFor(sim.hosts[A]!);
    const hooks = await asg.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: "web" }));
    assert.deepEqual(
      hooks.LifecycleHooks!.map((h) => [
        h.LifecycleHookName,
        h.HeartbeatTimeout,
        h.GlobalTimeout,
        h.DefaultResult,
      ]),
      [
        ["drain", 60, 6000, "CONTINUE"],
        ["warm", 60, 6000, "CONTINUE"],
      ],
    );
    await control(sim, "POST", "events", { kind: "terminate", instance: B });
    assert.equal(stateOf(B), "Terminating");
    await eventually(async () => stateOf(B) === "Terminating:Wait", 10_000);
    assert.equal(
      sim.world().classicLbs.get("web-classic")!.registrations.has(B),
      false,
      "deregistered before the hook",
    );
    await asg.send(
      new RecordLifecycleActionHeartbeatCommand({
        AutoScalingGroupName: "web",
        LifecycleHookName: "drain",
        InstanceId: B,
      }),
    );
    await asg.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: "web",
        LifecycleHookName: "drain",
        InstanceId: B,
        LifecycleActionResult: "CONTINUE",
      }),
    );
    assert.equal(stateOf(B), "Terminating:Proceed");
    await eventually(async () => stateOf(B) === "Terminated", 5000);
    // Twice: AWS no longer knows the action.
    assert.equal(
      await errorName(
        asg.send(
          new CompleteLifecycleActionCommand({
            AutoScalingGroupName: "web",
            LifecycleHookName: "drain",
            InstanceId: B,
            LifecycleActionResult: "CONTINUE",
          }),
        ),
      ),
      `ValidationError: No active Lifecycle Action found with instance ID ${B}`,
    );
  });

  it("the heartbeat timeout ends the wait with the default result; a heartbeat restarts it", async () => {
    sim = await startSim(hooked(2), { timeScale: 1 });
    const { asg } = clientsFor(sim.hosts[A]!);
    await control(sim, "POST", "events", { kind: "terminate", instance: B });
    await eventually(async () => stateOf(B) === "Terminating:Wait", 10_000);
    await sleep(1200);
    await asg.send(
      new RecordLifecycleActionHeartbeatCommand({
        AutoScalingGroupName: "web",
        LifecycleHookName: "drain",
        InstanceId: B,
      }),
    );
    await sleep(1200);
    assert.equal(stateOf(B), "Terminating:Wait", "the heartbeat kept it waiting past the first timeout");
    await eventually(async () => stateOf(B) === "Terminated", 6000);
  });

  it("a launch waits in Pending:Wait, unregistered, until CONTINUE; ABANDON terminates it", async () => {
    sim = await startSim(hooked(60));
    const { asg } = clientsFor(sim.hosts[A]!);
    // Launched instances have random ids (any may start "i-0a"): new is what the fleet did not have.
    const fleetIds = new Set(sim.world().instances.keys());
    await control(sim, "POST", "events", { kind: "set-sizes", group: "web", desired: 4 });
    const launched = () => [...sim.world().instances.values()].find((i) => !fleetIds.has(i.id));
    await eventually(async () => launched()?.lifecycleState === "Pending:Wait", 10_000);
    const id = launched()!.id;
    assert.equal(sim.world().classicLbs.get("web-classic")!.registrations.has(id), false);
    const token = launched()!.lifecycleAction!.token;
    await asg.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: "web",
        LifecycleHookName: "warm",
        LifecycleActionToken: token,
        LifecycleActionResult: "CONTINUE",
      }),
    );
    await eventually(async () => stateOf(id) === "InService", 5000);
    assert.equal(sim.world().classicLbs.get("web-classic")!.registrations.has(id), true);

    await control(sim, "POST", "events", { kind: "set-sizes", group: "web", max: 5, desired: 5 });
    const second = () => [...sim.world().instances.values()].find((i) => !fleetIds.has(i.id) && i.id !== id);
    await eventually(async () => second()?.lifecycleState === "Pending:Wait", 10_000);
    await asg.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: "web",
        LifecycleHookName: "warm",
        InstanceId: second()!.id,
        LifecycleActionResult: "ABANDON",
      }),
    );
    await eventually(
      async () => second()?.lifecycleState === "Terminated" || second()?.lifecycleState === "Terminating",
      5000,
    );
  });
});
