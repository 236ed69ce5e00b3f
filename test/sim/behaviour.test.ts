import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  DescribeLoadBalancersCommand as AsgDescribeLoadBalancersCommand,
  CreateOrUpdateTagsCommand,
  DeleteTagsCommand,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeInstanceRefreshesCommand,
  DescribeLoadBalancerTargetGroupsCommand,
  DescribeScalingActivitiesCommand,
  DescribeTagsCommand,
  DescribeTrafficSourcesCommand,
  EnterStandbyCommand,
  ExitStandbyCommand,
  ResumeProcessesCommand,
  SetInstanceProtectionCommand,
  SuspendProcessesCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { DescribeInstanceStatusCommand, DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import {
  DescribeInstanceHealthCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import {
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { clientsFor, control, eventually, sleep } from "../helpers/clients";
import type { FleetFile } from "./fleet";
import { loadFleet } from "./fleet";
import { type Sim, startSim } from "./server";

const A = "i-0a000000000000001";
const B = "i-0a000000000000002";

async function errorOf(
  p: Promise<unknown>,
): Promise<{ name: string; message: string; status: number | undefined }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  assert.fail("expected the call to fail");
}

describe("Auto Scaling standby, with AWS's transitions and scaled timings", () => {
  // AWS's own defaults (300 s drain and deregistration delay) at time scale 100: 3 s of wall time.
  // Health checks take 60-90 s here (so a loaded machine still reads the registration phase); the
  // group's grace period is AWS's default 300 s so that it does not call the instance Unhealthy first.
  const threeHosts = loadFleet("three-hosts");
  const fleet: FleetFile = {
    ...threeHosts,
    groups: (threeHosts.groups ?? []).map((g) => ({ ...g, healthCheckGracePeriod: 300 })),
    loadBalancers: [
      {
        name: "web-classic",
        healthCheck: { interval: 30, healthyThreshold: 2 },
        connectionDraining: { enabled: true, timeout: 300 },
      },
    ],
    targetGroups: [
      {
        name: "web-tg",
        healthCheck: { interval: 30, healthyThreshold: 3 },
        deregistrationDelay: 300,
        loadBalancer: "web-alb",
      },
    ],
    timing: { exitStandbySeconds: 50, enterStandbySeconds: 1, targetRegistrationSeconds: 10 },
  };
  let sim: Sim;
  let c: ReturnType<typeof clientsFor>;
  let tgArn: string;
  before(async () => {
    sim = await startSim(fleet, { timeScale: 100 });
    c = clientsFor(sim.hosts[A]!);
    tgArn = sim.world().tgByName("web-tg").arn;
  });
  after(() => sim.stop());

  const lifecycle = async (id: string) =>
    (await c.asg.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [id] })))
      .AutoScalingInstances?.[0]?.LifecycleState;
  const classic = async (id: string) =>
    (
      await c.elb.send(
        new DescribeInstanceHealthCommand({
          LoadBalancerName: "web-classic",
          Instances: [{ InstanceId: id }],
        }),
      )
    ).InstanceStates?.[0];
  const target = async (id: string) =>
    (
      await c.elbv2.send(
        new DescribeTargetHealthCommand({ TargetGroupArn: tgArn, Targets: [{ Id: id, Port: 80 }] }),
      )
    ).TargetHealthDescriptions?.[0]?.TargetHealth;

  it("EnterStandby drains every load balancer before Standby, then ExitStandby registers before InService", async () => {
    const started = Date.now();
    const res = await c.asg.send(
      new EnterStandbyCommand({
        AutoScalingGroupName: "web",
        InstanceIds: [A],
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    const activity = res.Activities![0]!;
    assert.equal(activity.StatusCode, "InProgress");
    assert.equal(activity.Progress, 50);
    assert.match(
      activity.Cause!,
      /instance i-0a000000000000001 was moved to standby in response to a user request, shrinking the capacity from 3 to 2\./,
    );
    assert.equal(await lifecycle(A), "EnteringStandby");
    assert.deepEqual(await classic(A), {
      InstanceId: A,
      State: "InService",
      ReasonCode: "N/A",
      Description: "Instance deregistration currently in progress.",
    });
    assert.deepEqual(await target(A), {
      State: "draining",
      Reason: "Target.DeregistrationInProgress",
      Description: "Target deregistration is in progress",
    });
    const group = (await c.asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web"] })))
      .AutoScalingGroups![0]!;
    assert.equal(group.DesiredCapacity, 2);

    await eventually(async () => ((await lifecycle(A)) === "Standby" ? true : undefined), 8000);
    const took = Date.now() - started;
    assert.ok(took >= 2900 && took < 4500, `300 s of drain at scale 100 should take ~3 s, took ${took} ms`);
    assert.equal(
      (await classic(A))?.Description,
      "Instance is not currently registered with the LoadBalancer.",
    );
    assert.deepEqual(await target(A), {
      State: "unused",
      Reason: "Target.NotRegistered",
      Description: "Target is not registered to the target group",
    });
    const done = (
      await c.asg.send(
        new DescribeScalingActivitiesCommand({
          AutoScalingGroupName: "web",
          ActivityIds: [activity.ActivityId!],
        }),
      )
    ).Activities![0]!;
    assert.equal(done.StatusCode, "Successful");
    assert.equal(done.Progress, 100);
    assert.ok(done.EndTime);

    const exit = await c.asg.send(new ExitStandbyCommand({ AutoScalingGroupName: "web", InstanceIds: [A] }));
    assert.equal(exit.Activities![0]!.StatusCode, "PreInService");
    assert.equal(await lifecycle(A), "Pending");
    await eventually(async () => ((await lifecycle(A)) === "InService" ? true : undefined), 5000);
    // Registered before InService, but the group does not wait for health. The target may already
    // be past registration when it is read (a loaded machine reads late): either reason of `initial`.
    assert.equal((await classic(A))?.Description, "Instance registration is still in progress.");
    const registered = await target(A);
    assert.equal(registered?.State, "initial");
    assert.ok(
      [
        "Elb.RegistrationInProgress:Target registration is in progress",
        "Elb.InitialHealthChecking:Initial health checks in progress",
      ].includes(`${registered?.Reason}:${registered?.Description}`),
      JSON.stringify(registered),
    );
    await eventually(
      async () => ((await target(A))?.Reason === "Elb.InitialHealthChecking" ? true : undefined),
      3000,
      10,
    );
    await eventually(async () => ((await classic(A))?.State === "InService" ? true : undefined), 3000);
    await eventually(async () => ((await target(A))?.State === "healthy" ? true : undefined), 3000);
    const group2 = (
      await c.asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web"] }))
    ).AutoScalingGroups![0]!;
    assert.equal(group2.DesiredCapacity, 3);
  });

  it("refuses EnterStandby from a state other than InService, and ExitStandby from other than Standby", async () => {
    await c.asg.send(
      new EnterStandbyCommand({
        AutoScalingGroupName: "web",
        InstanceIds: [B],
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    const again = await errorOf(
      c.asg.send(
        new EnterStandbyCommand({
          AutoScalingGroupName: "web",
          InstanceIds: [B],
          ShouldDecrementDesiredCapacity: true,
        }),
      ),
    );
    assert.deepEqual(again, {
      name: "ValidationError",
      message: `The instance ${B} is not in InService.`,
      status: 400,
    });
    const exit = await errorOf(
      c.asg.send(new ExitStandbyCommand({ AutoScalingGroupName: "web", InstanceIds: [B] })),
    );
    assert.deepEqual(exit, {
      name: "ValidationError",
      message: `The instance ${B} is not in Standby.`,
      status: 400,
    });
  });
});

describe("MinSize, MaxSize and replacement", () => {
  let sim: Sim;
  let c: ReturnType<typeof clientsFor>;
  before(async () => {
    sim = await startSim(loadFleet("min-equals-desired"), { timeScale: 10 });
    c = clientsFor(Object.values(sim.hosts)[0]!);
  });
  after(() => sim.stop());
  const ids = () => Object.keys(sim.hosts);

  it("refuses a decrementing EnterStandby below MinSize with AWS's message", async () => {
    const err = await errorOf(
      c.asg.send(
        new EnterStandbyCommand({
          AutoScalingGroupName: "web",
          InstanceIds: [ids()[0]!],
          ShouldDecrementDesiredCapacity: true,
        }),
      ),
    );
    assert.equal(err.name, "ValidationError");
    assert.equal(
      err.message,
      "AutoScalingGroup web has min-size=2, max-size=4, and desired-size=2. To place into standby 1 instance, please update the AutoScalingGroup sizes appropriately.",
    );
  });

  it("launches a replacement when EnterStandby does not decrement, and refuses ExitStandby above MaxSize", async () => {
    await c.asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: "web", MaxSize: 3 }));
    await c.asg.send(
      new EnterStandbyCommand({
        AutoScalingGroupName: "web",
        InstanceIds: [ids()[0]!],
        ShouldDecrementDesiredCapacity: false,
      }),
    );
    const group = (await c.asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web"] })))
      .AutoScalingGroups![0]!;
    assert.equal(group.DesiredCapacity, 2);
    assert.equal(group.Instances!.length, 3);
    const launched = group.Instances!.find((i) => !ids().includes(i.InstanceId!))!;
    assert.equal(launched.LifecycleState, "Pending");
    const acts = (await c.asg.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: "web" })))
      .Activities!;
    assert.match(acts[0]!.Description!, /^Launching a new EC2 instance: i-/);
    assert.equal(acts[0]!.StatusCode, "PreInService");
    await eventually(async () => {
      const g = (await c.asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web"] })))
        .AutoScalingGroups![0]!;
      return g.Instances!.filter((i) => i.LifecycleState === "Standby").length === 1 ? true : undefined;
    });
    await c.asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: "web", MaxSize: 2 }));
    const err = await errorOf(
      c.asg.send(new ExitStandbyCommand({ AutoScalingGroupName: "web", InstanceIds: [ids()[0]!] })),
    );
    assert.match(
      err.message,
      /has min-size=2, max-size=2, and desired-size=2\. To move out of standby 1 instance/,
    );
  });

  it("UpdateAutoScalingGroup validates sizes and raises desired with MinSize, as AWS does", async () => {
    const err = await errorOf(
      c.asg.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: "web", MinSize: 5, MaxSize: 4 })),
    );
    assert.equal(err.name, "ValidationError");
    await c.asg.send(
      new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: "web", MinSize: 1, MaxSize: 4 }),
    );
    const g = (await c.asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web"] })))
      .AutoScalingGroups![0]!;
    assert.deepEqual([g.MinSize, g.MaxSize, g.DesiredCapacity], [1, 4, 2]);
  });
});

describe("describe calls, tags, processes and protection", () => {
  let sim: Sim;
  let c: ReturnType<typeof clientsFor>;
  before(async () => {
    sim = await startSim(
      {
        ...loadFleet("three-hosts"),
        targetGroups: [
          ...loadFleet("three-hosts").targetGroups!,
          { name: "orphan-tg", loadBalancer: null },
          { name: "nocheck-tg", loadBalancer: "x" },
          { name: "ip-tg", targetType: "ip", loadBalancer: "x", port: 8080 },
        ],
        instances: [
          {
            id: "i-0c000000000000001",
            registeredWith: ["orphan-tg", "nocheck-tg", "ip-tg"],
            appHealthy: false,
          },
        ],
      },
      { timeScale: 1 },
    );
    c = clientsFor(sim.hosts[A]!);
  });
  after(() => sim.stop());

  it("describes the group's load balancers, target groups and traffic sources", async () => {
    const lbs = await c.asg.send(new AsgDescribeLoadBalancersCommand({ AutoScalingGroupName: "web" }));
    assert.deepEqual(lbs.LoadBalancers, [{ LoadBalancerName: "web-classic", State: "InService" }]);
    const tgs = await c.asg.send(
      new DescribeLoadBalancerTargetGroupsCommand({ AutoScalingGroupName: "web" }),
    );
    assert.equal(
      tgs.LoadBalancerTargetGroups![0]!.LoadBalancerTargetGroupARN,
      sim.world().tgByName("web-tg").arn,
    );
    const ts = await c.asg.send(new DescribeTrafficSourcesCommand({ AutoScalingGroupName: "web" }));
    assert.deepEqual(
      ts.TrafficSources!.map((s) => s.Type),
      ["elb", "elbv2"],
    );
    const attrs = await c.elb.send(
      new DescribeLoadBalancerAttributesCommand({ LoadBalancerName: "web-classic" }),
    );
    assert.deepEqual(attrs.LoadBalancerAttributes!.ConnectionDraining, { Enabled: true, Timeout: 2 });
    const lb = await c.elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: ["web-classic"] }));
    assert.equal(lb.LoadBalancerDescriptions![0]!.HealthCheck!.HealthyThreshold, 2);
    const tga = await c.elbv2.send(
      new DescribeTargetGroupAttributesCommand({ TargetGroupArn: sim.world().tgByName("web-tg").arn }),
    );
    assert.equal(tga.Attributes!.find((a) => a.Key === "deregistration_delay.timeout_seconds")!.Value, "2");
    const tg = await c.elbv2.send(new DescribeTargetGroupsCommand({ Names: ["web-tg"] }));
    assert.equal(tg.TargetGroups![0]!.HealthyThresholdCount, 2);
    const refreshes = await c.asg.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: "web" }));
    assert.deepEqual(refreshes.InstanceRefreshes, []);
  });

  it("reports unused/NotInUse, unavailable and unhealthy targets, and ip targets by address", async () => {
    const health = async (name: string) =>
      (
        await c.elbv2.send(
          new DescribeTargetHealthCommand({ TargetGroupArn: sim.world().tgByName(name).arn }),
        )
      ).TargetHealthDescriptions!;
    assert.deepEqual((await health("orphan-tg"))[0]!.TargetHealth, {
      State: "unused",
      Reason: "Target.NotInUse",
      Description: "Target group is not configured to receive traffic from the load balancer",
    });
    // AWS cannot tell this target's health: unavailable, Elb.InternalError (the unavailable-health fault).
    await control(sim, "POST", "faults", [
      { kind: "unavailable-health", instance: "i-0c000000000000001", targetGroup: "nocheck-tg" },
    ]);
    assert.deepEqual((await health("nocheck-tg"))[0]!.TargetHealth, {
      State: "unavailable",
      Reason: "Elb.InternalError",
      Description: "Target health is unavailable due to an internal error",
    });
    assert.equal((await health("orphan-tg"))[0]!.TargetHealth!.State, "unused", "only where the fault says");
    await control(sim, "DELETE", "faults");
    const ip = (await health("ip-tg"))[0]!;
    assert.equal(ip.Target!.Port, 8080);
    assert.match(ip.Target!.Id!, /^10\./);
    assert.deepEqual(ip.TargetHealth, {
      State: "unhealthy",
      Reason: "Target.FailedHealthChecks",
      Description: "Health checks failed",
    });
  });

  it("describes EC2 instances and their status", async () => {
    const r = await c.ec2.send(new DescribeInstancesCommand({ InstanceIds: [A] }));
    const inst = r.Reservations![0]!.Instances![0]!;
    assert.equal(inst.State!.Name, "running");
    assert.equal(inst.Placement!.AvailabilityZone, "us-east-1a");
    assert.deepEqual(inst.Tags, [{ Key: "aws:autoscaling:groupName", Value: "web" }]);
    const s = await c.ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [A] }));
    assert.equal(s.InstanceStatuses![0]!.InstanceStatus!.Status, "ok");
    const missing = await errorOf(
      c.ec2.send(new DescribeInstancesCommand({ InstanceIds: ["i-0ffffffffffffffff"] })),
    );
    assert.equal(missing.name, "InvalidInstanceID.NotFound");
  });

  it("stores group tags, with no compare-and-swap (last writer wins)", async () => {
    const tag = (Value: string) => ({
      ResourceId: "web",
      ResourceType: "auto-scaling-group",
      Key: "balanced:turn",
      Value,
      PropagateAtLaunch: false,
    });
    await c.asg.send(new CreateOrUpdateTagsCommand({ Tags: [tag("one")] }));
    await c.asg.send(new CreateOrUpdateTagsCommand({ Tags: [tag("two")] }));
    const filters = [
      { Name: "auto-scaling-group", Values: ["web"] },
      { Name: "key", Values: ["balanced:turn"] },
    ];
    const described = await c.asg.send(new DescribeTagsCommand({ Filters: filters }));
    assert.deepEqual(described.Tags, [tag("two")]);
    const g = (await c.asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web"] })))
      .AutoScalingGroups![0]!;
    assert.ok(g.Tags!.some((t) => t.Key === "balanced:turn" && t.Value === "two"));
    await c.asg.send(
      new DeleteTagsCommand({
        Tags: [{ ResourceId: "web", ResourceType: "auto-scaling-group", Key: "balanced:turn" }],
      }),
    );
    assert.deepEqual((await c.asg.send(new DescribeTagsCommand({ Filters: filters }))).Tags, []);
  });

  it("DeleteTags with a value deletes the tag only while it has that value (AWS's delete-tag guide)", async () => {
    const tag = (Value?: string) => ({
      ResourceId: "web",
      ResourceType: "auto-scaling-group",
      Key: "balanced:turn",
      Value,
    });
    const filters = [{ Name: "key", Values: ["balanced:turn"] }];
    await c.asg.send(new CreateOrUpdateTagsCommand({ Tags: [{ ...tag("mine"), PropagateAtLaunch: false }] }));
    for (const wrong of ["", "theirs"]) {
      await c.asg.send(new DeleteTagsCommand({ Tags: [tag(wrong)] }));
      assert.equal((await c.asg.send(new DescribeTagsCommand({ Filters: filters }))).Tags!.length, 1, wrong);
    }
    await c.asg.send(new DeleteTagsCommand({ Tags: [tag("mine")] }));
    assert.deepEqual((await c.asg.send(new DescribeTagsCommand({ Filters: filters }))).Tags, []);
  });

  it("suspends and resumes processes, and sets instance protection", async () => {
    await c.asg.send(
      new SuspendProcessesCommand({ AutoScalingGroupName: "web", ScalingProcesses: ["Launch"] }),
    );
    let g = (await c.asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web"] })))
      .AutoScalingGroups![0]!;
    assert.deepEqual(
      g.SuspendedProcesses!.map((p) => p.ProcessName),
      ["Launch"],
    );
    await c.asg.send(
      new ResumeProcessesCommand({ AutoScalingGroupName: "web", ScalingProcesses: ["Launch"] }),
    );
    await c.asg.send(
      new SetInstanceProtectionCommand({
        AutoScalingGroupName: "web",
        InstanceIds: [A],
        ProtectedFromScaleIn: true,
      }),
    );
    g = (await c.asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web"] })))
      .AutoScalingGroups![0]!;
    assert.deepEqual(g.SuspendedProcesses, []);
    assert.equal(g.Instances!.find((i) => i.InstanceId === A)!.ProtectedFromScaleIn, true);
  });
});

describe("control API events and the out-of-service timeline", () => {
  let sim: Sim;
  let c: ReturnType<typeof clientsFor>;
  before(async () => {
    sim = await startSim(loadFleet("three-hosts"), { timeScale: 1 });
    c = clientsFor(sim.hosts[A]!);
  });
  after(() => sim.stop());

  it("starts and finishes scaling activities (newest first) and instance refreshes", async () => {
    const [{ id }] = (await control(sim, "POST", "events", {
      kind: "start-activity",
      group: "web",
      statusCode: "WaitingForELBConnectionDraining",
    })) as [{ id: string }];
    await sleep(5);
    await control(sim, "POST", "events", {
      kind: "start-activity",
      group: "web",
      statusCode: "MidLifecycleAction",
    });
    let acts = (await c.asg.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: "web" })))
      .Activities!;
    assert.deepEqual(
      acts.map((a) => a.StatusCode),
      ["MidLifecycleAction", "WaitingForELBConnectionDraining"],
    );
    await control(sim, "POST", "events", {
      kind: "finish-activity",
      group: "web",
      activityId: id,
      statusCode: "Cancelled",
    });
    acts = (await c.asg.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: "web" })))
      .Activities!;
    assert.deepEqual(
      acts.map((a) => a.StatusCode),
      ["MidLifecycleAction", "Cancelled"],
    );
    await control(sim, "POST", "events", { kind: "start-instance-refresh", group: "web" });
    const r = (await c.asg.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: "web" })))
      .InstanceRefreshes!;
    assert.equal(r[0]!.Status, "InProgress");
    await control(sim, "POST", "events", { kind: "finish-instance-refresh", group: "web" });
    const r2 = (await c.asg.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: "web" })))
      .InstanceRefreshes!;
    assert.equal(r2[0]!.Status, "Successful");
  });

  it("makes an instance unhealthy in one load balancer after UnhealthyThreshold checks, and records the timeline", async () => {
    await control(sim, "POST", "events", {
      kind: "set-health",
      instance: B,
      healthy: false,
      scope: "web-classic",
    });
    const state = async () =>
      (
        await c.elb.send(
          new DescribeInstanceHealthCommand({
            LoadBalancerName: "web-classic",
            Instances: [{ InstanceId: B }],
          }),
        )
      ).InstanceStates![0]!;
    assert.equal((await state()).State, "InService");
    await eventually(async () => ((await state()).State === "OutOfService" ? true : undefined), 5000);
    assert.equal(
      (await state()).Description,
      "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.",
    );
    const history = (await control(sim, "GET", "history")) as {
      instanceId: string;
      serving: boolean;
      outOfService: number;
    }[];
    assert.deepEqual(history.at(-1), { ...history.at(-1)!, instanceId: B, serving: false, outOfService: 1 });
  });

  it("terminates an instance, drains it and launches a replacement", async () => {
    const C = "i-0a000000000000003";
    await control(sim, "POST", "events", { kind: "terminate", instance: C });
    const g = (await c.asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web"] })))
      .AutoScalingGroups![0]!;
    assert.equal(g.Instances!.find((i) => i.InstanceId === C)!.LifecycleState, "Terminating");
    await eventually(async () => {
      const g2 = (await c.asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web"] })))
        .AutoScalingGroups![0]!;
      return !g2.Instances!.some((i) => i.InstanceId === C) &&
        g2.Instances!.some((i) => i.LifecycleState === "Pending")
        ? true
        : undefined;
    }, 6000);
    const state = (await control(sim, "GET", "state")) as { instances: { id: string; ec2State: string }[] };
    assert.equal(state.instances.find((i) => i.id === C)!.ec2State, "terminated");
  });

  it("resets to the fleet file", async () => {
    await control(sim, "POST", "reset");
    const g = (await c.asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["web"] })))
      .AutoScalingGroups![0]!;
    assert.equal(g.Instances!.length, 3);
    assert.ok(g.Instances!.every((i) => i.LifecycleState === "InService" && i.HealthStatus === "Healthy"));
  });
});
