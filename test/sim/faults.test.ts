import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import {
  AutoScalingClient,
  CreateOrUpdateTagsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeTagsCommand,
  EnterStandbyCommand,
} from "@aws-sdk/client-auto-scaling";
import { DescribeInstanceHealthCommand } from "@aws-sdk/client-elastic-load-balancing";
import { DescribeTargetHealthCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { simState } from "../helpers/cli";
import { clientsFor, control, sleep } from "../helpers/clients";
import { seededRandom } from "./faults";
import { loadFleet } from "./fleet";
import { type Sim, startSim } from "./server";

const A = "i-0a000000000000001";
const B = "i-0a000000000000002";

/**
 * The faults AWS really has (issue: the oracle): eventually consistent describes, answers lost after
 * the call was applied, acting calls that take seconds. Each is shown to really happen, through the
 * real SDK clients.
 */
describe("simulator faults: stale reads, lost responses, slow applies", () => {
  let sim: Sim;
  beforeEach(async () => {
    sim = await startSim(loadFleet("three-hosts"), { seed: 7 });
  });
  afterEach(() => sim.stop());

  const tagValue = async (host = A) => {
    const { asg } = clientsFor(sim.hosts[host]!);
    const res = await asg.send(new DescribeTagsCommand({ Filters: [{ Name: "key", Values: ["probe"] }] }));
    return res.Tags?.[0]?.Value;
  };
  const setTag = (value: string) =>
    clientsFor(sim.hosts[A]!).asg.send(
      new CreateOrUpdateTagsCommand({
        Tags: [{ ResourceId: "web", ResourceType: "auto-scaling-group", Key: "probe", Value: value }],
      }),
    );

  it("stale-reads: a describe answers from the past, and a host need not read its own write", async () => {
    await setTag("old");
    await control(sim, "POST", "faults", { service: "autoscaling", kind: "stale-reads", ms: 1500 });
    await sleep(1600);
    await setTag("new");
    // The write is applied (the control API sees the present) ...
    assert.equal((await simState(sim)).groups[0]!.tags.probe, "new");
    // ... but reads within 1.5 s of it see either value, drawn per call: some must be the past.
    const seen = await Promise.all(Array.from({ length: 20 }, () => tagValue()));
    assert.ok(seen.includes("old"), `no stale answer in ${seen}`);
    assert.ok(seen.every((v) => v === "old" || v === "new"));
    // Past the window, every read is fresh again.
    await sleep(1600);
    assert.deepEqual(
      new Set(await Promise.all(Array.from({ length: 5 }, () => tagValue()))),
      new Set(["new"]),
    );
  });

  it("stale-reads covers the instance, health and tag reads of every service", async () => {
    await control(sim, "POST", "faults", { kind: "stale-reads", ms: 3000 });
    await sleep(100);
    const { asg, elb, elbv2 } = clientsFor(sim.hosts[A]!);
    await asg.send(
      new EnterStandbyCommand({
        AutoScalingGroupName: "web",
        InstanceIds: [B],
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    // Half of the 3 s window is before the change, half after.
    await sleep(1500);
    const states = new Set<string>();
    const classic = new Set<string>();
    const targets = new Set<string>();
    const tgArn = sim.world().groups.get("web")!.targetGroupArns[0]!;
    for (let i = 0; i < 15; i++) {
      const r = await asg.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [B] }));
      states.add(r.AutoScalingInstances?.[0]?.LifecycleState ?? "?");
      const h = await elb.send(new DescribeInstanceHealthCommand({ LoadBalancerName: "web-classic" }));
      classic.add(h.InstanceStates?.find((s) => s.InstanceId === B)?.Description ?? "gone");
      const t = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: tgArn }));
      targets.add(t.TargetHealthDescriptions?.find((d) => d.Target?.Id === B)?.TargetHealth?.State ?? "gone");
    }
    assert.ok(
      states.has("InService") && (states.has("EnteringStandby") || states.has("Standby")),
      [...states].join(),
    );
    assert.ok(
      targets.has("healthy") && (targets.has("draining") || targets.has("gone")),
      [...targets].join(),
    );
    assert.ok(classic.size >= 2, [...classic].join());
  });

  it("lost-response: the call is applied, the client gets no answer (the SDK retries a call that happened)", async () => {
    await control(sim, "POST", "faults", {
      service: "autoscaling",
      action: "EnterStandby",
      kind: "lost-response",
      count: 1,
    });
    const { asg } = clientsFor(sim.hosts[A]!, { maxAttempts: 2 });
    const err = await asg
      .send(
        new EnterStandbyCommand({
          AutoScalingGroupName: "web",
          InstanceIds: [B],
          ShouldDecrementDesiredCapacity: true,
        }),
      )
      .then(
        () => undefined,
        (e: Error) => e,
      );
    // The retry meets the world the first attempt changed: AWS refuses it, as it would.
    assert.ok(err, "the retried EnterStandby should fail");
    assert.match(err.message, /is not in InService/);
    const b = (await simState(sim)).instances.find((i) => i.id === B)!;
    assert.match(b.lifecycleState, /EnteringStandby|Standby/);
    assert.equal((await simState(sim)).groups[0]!.desired, 2);
    const calls = (await control(sim, "GET", "calls")) as { action: string; outcome: string }[];
    assert.deepEqual(
      calls.filter((c) => c.action === "EnterStandby").map((c) => c.outcome),
      ["lost-response", "ValidationError"],
    );
  });

  it("slow-apply: start changes the world at once and answers late; end changes it late", async () => {
    await control(sim, "POST", "faults", {
      action: "CreateOrUpdateTags",
      kind: "slow-apply",
      ms: 800,
      applyAt: "start",
    });
    const pending = setTag("early");
    await sleep(300);
    assert.equal((await simState(sim)).groups[0]!.tags.probe, "early", "applied at the start");
    await pending;
    await control(sim, "DELETE", "faults");
    await control(sim, "POST", "faults", {
      action: "CreateOrUpdateTags",
      kind: "slow-apply",
      ms: 800,
      applyAt: "end",
    });
    const late = setTag("late");
    await sleep(300);
    assert.equal((await simState(sim)).groups[0]!.tags.probe, "early", "not yet applied");
    await late;
    assert.equal((await simState(sim)).groups[0]!.tags.probe, "late");
  });

  it("probability draws from the seed: the same seed makes the same choices", () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const draws = Array.from({ length: 5 }, () => a());
    assert.deepEqual(
      draws,
      Array.from({ length: 5 }, () => b()),
    );
    assert.ok(draws.every((x) => x >= 0 && x < 1));
  });
});

describe("the serving timeline: per group and per load balancer", () => {
  it("records a target leaving a load balancer and coming back, with how many were out", async () => {
    const sim = await startSim(loadFleet("three-hosts"));
    try {
      const { asg } = clientsFor(sim.hosts[A]!);
      await asg.send(
        new EnterStandbyCommand({
          AutoScalingGroupName: "web",
          InstanceIds: [B],
          ShouldDecrementDesiredCapacity: true,
        }),
      );
      const history = (await control(sim, "GET", "history?all")) as {
        group?: string;
        loadBalancer?: string;
        instanceId: string;
        serving: boolean;
        outOfService: number;
      }[];
      const byScope = (scope: string) =>
        history
          .filter((h) => (h.group ?? h.loadBalancer) === scope && h.instanceId === B)
          .map((h) => [h.serving, h.outOfService]);
      assert.deepEqual(byScope("web"), [[false, 1]]);
      assert.deepEqual(byScope("tg/web-tg"), [[false, 1]]);
      // The classic ELB still routes to a draining instance (AWS reports it InService until deregistered).
      assert.ok(byScope("elb/web-classic").length <= 1);
    } finally {
      await sim.stop();
    }
  });
});

describe("SigV4 time: a request signed with a clock more than 5 minutes off", () => {
  it("is refused as AWS refuses it, and the SDK corrects its clock from the answer's Date and retries", async () => {
    const sim = await startSim(loadFleet("three-hosts"));
    try {
      const host = sim.hosts[A]!;
      const skewed = new AutoScalingClient({
        region: host.env.AWS_REGION!,
        endpoint: host.env.AWS_ENDPOINT_URL_AUTO_SCALING,
        credentials: host.credentials,
        systemClockOffset: -10 * 60_000,
        maxAttempts: 1,
      });
      const err = await skewed.send(new DescribeTagsCommand({})).then(
        () => undefined,
        (e: Error) => e,
      );
      assert.equal(err?.name, "SignatureDoesNotMatch");
      assert.match(
        err!.message,
        /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/,
      );
      // The SDK read the answer's Date header and corrected its offset: the next call passes. (It
      // retries at once only when the corrected offset itself is over 4 minutes, a host clock
      // really off; here the offset was the injected error, so the fix is the next call's.)
      const ahead = new AutoScalingClient({
        region: host.env.AWS_REGION!,
        endpoint: host.env.AWS_ENDPOINT_URL_AUTO_SCALING,
        credentials: host.credentials,
        systemClockOffset: 10 * 60_000,
        maxAttempts: 1,
      });
      const early = await ahead.send(new DescribeTagsCommand({})).then(
        () => undefined,
        (e: Error) => e,
      );
      assert.match(early?.message ?? "", /^Signature not yet current: .* \+ 5 min\.\)$/);
      const corrected = ahead;
      await corrected.send(new DescribeTagsCommand({}));
      assert.ok(Math.abs(corrected.config.systemClockOffset ?? 0) < 60_000);
    } finally {
      await sim.stop();
    }
  });

  it("refuses a forged session token", async () => {
    const sim = await startSim(loadFleet("three-hosts"));
    try {
      const host = sim.hosts[A]!;
      const forged = new AutoScalingClient({
        region: host.env.AWS_REGION!,
        endpoint: host.env.AWS_ENDPOINT_URL_AUTO_SCALING,
        credentials: { ...host.credentials, sessionToken: "forged" },
        maxAttempts: 1,
      });
      const err = await forged.send(new DescribeTagsCommand({})).then(
        () => undefined,
        (e: Error) => e,
      );
      assert.equal(err?.name, "InvalidClientTokenId");
    } finally {
      await sim.stop();
    }
  });
});
