import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { runCli } from "../helpers/cli";
import { control } from "../helpers/clients";
import { loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const A = "i-0a000000000000001";

const IAM_PREFIX: Record<string, string> = {
  autoscaling: "autoscaling",
  elb: "elasticloadbalancing",
  elbv2: "elasticloadbalancing",
  ec2: "ec2",
};

describe("balanced iam-policy", () => {
  let sim: Sim;
  before(async () => {
    const fleet = loadFleet("min-equals-desired");
    // An IP-type target group named on the command line makes the agent look up private IPs (ec2).
    fleet.targetGroups!.push({ name: "ip-tg", targetType: "ip", loadBalancer: "ip-alb" });
    sim = await startSim(fleet);
  });
  after(() => sim.stop());

  it("allows every API action that every command calls", async () => {
    const ipTg = ["--target-group", sim.world().tgByName("ip-tg").arn];
    const budget = ["--max-unavailable", "50%"];
    // status; out lowering MinSize and taking the turn; in restoring it; run; repair.
    for (const args of [
      ["status", ...ipTg],
      ["out", ...budget, ...ipTg],
      ["in", ...ipTg],
      ["run", ...budget, "--", "true"],
      ["repair"],
    ]) {
      const res = await runCli(sim.hosts[A]!, args);
      assert.equal(res.code, 0, `${args.join(" ")}: ${res.stderr}`);
    }
    const policy = JSON.parse((await runCli(sim.hosts[A]!, ["iam-policy"])).stdout) as {
      Statement: { Action: string[] }[];
    };
    const allowed = new Set(policy.Statement.flatMap((s) => s.Action));
    const calls = (await control(sim, "GET", "calls")) as { service: string; action: string; host: string }[];
    const used = new Set(
      calls
        .filter((c) => c.service !== "imds" && c.host === A)
        .map((c) => `${IAM_PREFIX[c.service]}:${c.action}`),
    );
    const missing = [...used].filter((a) => !allowed.has(a));
    assert.deepEqual(missing, [], "actions called but not in the policy");
    // The run exercised the interesting paths: the turn, MinSize and the IP lookup.
    for (const a of [
      "autoscaling:CreateOrUpdateTags",
      "autoscaling:UpdateAutoScalingGroup",
      "ec2:DescribeInstances",
      "autoscaling:EnterStandby",
      "autoscaling:ExitStandby",
    ]) {
      assert.ok(used.has(a), `${a} was not exercised`);
    }
  });

  it("scopes group changes with --group, and needs no AWS access at all", async () => {
    const res = await runCli(sim.hosts[A]!, ["iam-policy", "--group", "web"], {
      env: { AWS_EC2_METADATA_DISABLED: "true" },
    });
    assert.equal(res.code, 0);
    const policy = JSON.parse(res.stdout) as { Statement: { Resource: string }[] };
    assert.equal(
      policy.Statement[1]!.Resource,
      "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/web",
    );
  });
});

describe("balanced iam-policy --standalone", () => {
  let sim: Sim;
  const S = "i-0c000000000000001";
  before(async () => {
    sim = await startSim(loadFleet("standalone-pair"));
  });
  after(() => sim.stop());

  it("allows every API action a host in no Auto Scaling group calls, scoped to its load balancers", async () => {
    const tg = sim.world().tgByName("app-tg").arn;
    const named = ["--load-balancer", "app-classic", "--target-group", tg];
    for (const args of [
      ["status", ...named],
      ["out", ...named],
      ["in", ...named],
      ["out", "--discover"],
      ["in", "--discover"],
    ]) {
      const res = await runCli(sim.hosts[S]!, args);
      assert.equal(res.code, 0, `${args.join(" ")}: ${res.stderr}`);
    }
    const printed = await runCli(sim.hosts[S]!, ["iam-policy", "--standalone", ...named]);
    assert.equal(printed.code, 0, printed.stderr);
    const policy = JSON.parse(printed.stdout) as {
      Statement: { Sid: string; Action: string[]; Resource: unknown }[];
    };
    const allowed = new Set(policy.Statement.flatMap((s) => s.Action));
    const calls = (await control(sim, "GET", "calls")) as { service: string; action: string; host: string }[];
    const used = new Set(
      calls
        .filter((c) => c.service !== "imds" && c.host === S)
        .map((c) => `${IAM_PREFIX[c.service]}:${c.action}`),
    );
    assert.deepEqual(
      [...used].filter((a) => !allowed.has(a)),
      [],
      "actions called but not in the policy",
    );
    for (const a of [
      "elasticloadbalancing:DeregisterTargets",
      "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:RemoveTags",
    ])
      assert.ok(used.has(a), `${a} was not exercised`);
    assert.deepEqual(policy.Statement.find((s) => s.Sid === "BalancedLoadBalancerChanges")?.Resource, [
      "arn:aws:elasticloadbalancing:*:*:loadbalancer/app-classic",
      tg,
    ]);
    const plain = JSON.parse((await runCli(sim.hosts[S]!, ["iam-policy"])).stdout) as {
      Statement: { Sid: string }[];
    };
    assert.ok(
      !plain.Statement.some((s) => s.Sid === "BalancedLoadBalancerChanges"),
      "a group host needs no LB changes",
    );
  });
});
