import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { registrationsOf, runCli } from "../helpers/cli";
import { control } from "../helpers/clients";
import { type FleetFile, generatedInstanceId, loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const A = "i-0a000000000000001";

/** Where the agent once learnt the simulator's inventions instead of AWS's behaviour. */
describe("AWS as it behaves, not as the simulator once invented it", () => {
  let sim: Sim | undefined;
  afterEach(() => sim?.stop());

  it("a host that has just gone out is not flagged stale: AWS writes 'Moving EC2 instance to Standby'", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    assert.equal((await runCli(sim.hosts[A]!, ["out", "-q"])).code, 0);
    const activities = sim
      .world()
      .groups.get("web")!
      .activities.map((a) => a.description);
    assert.ok(activities.includes(`Moving EC2 instance to Standby: ${A}`), activities.join(" | "));
    const status = await runCli(sim.hosts[A]!, ["status", "--json"]);
    assert.equal(status.code, 0, status.stderr);
    const leftovers = (JSON.parse(status.stdout) as { leftovers: string[] }).leftovers;
    assert.deepEqual(
      leftovers.filter((l) => l.includes("has been in Standby")),
      [],
    );
    assert.equal((await runCli(sim.hosts[A]!, ["in", "-q"])).code, 0);
    assert.ok(
      sim
        .world()
        .groups.get("web")!
        .activities.some((a) => a.description === `Moving EC2 instance out of Standby: ${A}`),
    );
  });

  it("250 instances behind an IP-type target group: status, out and in (EC2 takes 200 filter values a call)", async () => {
    const fleet: FleetFile = {
      ...loadFleet("three-hosts"),
      groups: [
        {
          ...loadFleet("three-hosts").groups![0]!,
          min: 1,
          max: 260,
          desired: 250,
          loadBalancerNames: [],
          targetGroups: ["ip-tg"],
          instances: undefined,
          instanceCount: 250,
        },
      ],
      loadBalancers: [],
      targetGroups: [
        {
          name: "ip-tg",
          targetType: "ip",
          deregistrationDelay: 2,
          healthCheck: { interval: 1, healthyThreshold: 2 },
          loadBalancer: "ip-alb",
        },
      ],
    };
    sim = await startSim(fleet);
    const host = sim.hosts[generatedInstanceId(1, 1)]!;
    for (const args of [["status"], ["out", "-q"], ["in", "-q"]]) {
      const res = await runCli(host, args);
      assert.equal(res.code, 0, `${args.join(" ")}: ${res.stderr}`);
    }
    const calls = (await control(sim, "GET", "calls")) as { action: string; outcome: string }[];
    assert.ok(calls.filter((c) => c.action === "DescribeInstances").length >= 2, "one call per 200 ids");
    assert.ok(!calls.some((c) => c.outcome === "FilterLimitExceeded"));
  });

  const zoneCases: [string, (f: FleetFile) => void, RegExp][] = [
    [
      "a target group's load balancer",
      (f) => {
        f.targetGroups![0]!.loadBalancerZones = ["us-east-1b", "us-east-1c"];
      },
      /from tg\/web-tg however long it waits: it does not route to this host's Availability Zone: enable that zone on the load balancer .*\(AWS says: Target\.NotInUse/,
    ],
    [
      "a classic ELB (in AWS's words)",
      (f) => {
        f.loadBalancers![0]!.availabilityZones = ["us-east-1b", "us-east-1c"];
      },
      /from elb\/web-classic however long it waits: .*Instance is in the EC2 Availability Zone for which LoadBalancer is not configured to route traffic to/,
    ],
  ];
  for (const [what, setup, reason] of zoneCases)
    it(`in fails at once, naming the zone, when ${what} does not serve this host's zone`, async () => {
      const fleet = loadFleet("three-hosts");
      setup(fleet);
      fleet.groups![0]!.instances![0]!.lifecycleState = "Standby";
      // Parked by an earlier `balanced out`, as its record on the group says.
      fleet.groups![0]!.tags = {
        ...fleet.groups![0]!.tags,
        [`balanced:parked:${A}`]: "2026-12-01T00:00:00Z",
      };
      sim = await startSim(fleet);
      const res = await runCli(sim.hosts[A]!, ["in", "--timeout", "300"]);
      assert.equal(res.code, 5);
      assert.match(res.stderr, /^balanced: this host will not take traffic /m);
      assert.match(res.stderr, reason);
      assert.ok(res.ms < 60_000, `took ${res.ms} ms`);
    });

  it("a peer in a zone its target group's load balancer does not serve is not a healthy peer", async () => {
    const fleet = loadFleet("three-hosts");
    // Only this host's zone is served: the peers take no traffic from the ALB.
    fleet.targetGroups![0]!.loadBalancerZones = ["us-east-1a"];
    sim = await startSim(fleet);
    const res = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /refusing: 0 healthy peers would remain/);
    assert.equal(sim.world().instances.get(A)!.lifecycleState, "InService");
  });

  const deleted: [
    string,
    string,
    { kind: "delete-target-group" | "delete-load-balancer"; name: string },
    RegExp,
  ][] = [
    [
      "a target group",
      "web-classic",
      { kind: "delete-target-group", name: "web-tg" },
      /tg\/web-tg no longer exists \(deleted\)/,
    ],
    [
      "a classic ELB",
      "web-tg",
      { kind: "delete-load-balancer", name: "web-classic" },
      /elb\/web-classic no longer exists \(deleted\)/,
    ],
  ];
  for (const [what, remaining, event, said] of deleted)
    it(`${what} deleted under the group: status, out and in go on without it, and say so`, async () => {
      sim = await startSim(loadFleet("three-hosts"));
      await control(sim, "POST", "events", event);
      const status = await runCli(sim.hosts[A]!, ["status"]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /gone \(deleted: serves no traffic\)/);
      assert.match(status.stderr, said);
      const out = await runCli(sim.hosts[A]!, ["out"]);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stderr, said);
      assert.equal(sim.world().instances.get(A)!.lifecycleState, "Standby");
      const back = await runCli(sim.hosts[A]!, ["in", "-q"]);
      assert.equal(back.code, 0, back.stderr);
      const state = (await control(sim, "GET", "state")) as {
        instances: { id: string; lifecycleState: string }[];
        loadBalancers: { name: string; instances: Record<string, string> }[];
        targetGroups: { name: string; targets: { id: string; state: string }[] }[];
      };
      assert.equal(state.instances.find((i) => i.id === A)!.lifecycleState, "InService");
      const serving = [
        ...state.loadBalancers.filter((lb) => lb.instances[A] === "InService").map((lb) => lb.name),
        ...state.targetGroups
          .filter((tg) => tg.targets.some((t) => t.id === A && t.state === "healthy"))
          .map((tg) => tg.name),
      ];
      assert.deepEqual(serving, [remaining], "serving again where it still can");
    });

  it("a host in no group whose named classic ELB was deleted: out and in use the target group alone", async () => {
    sim = await startSim(loadFleet("standalone-pair"));
    const S = "i-0c000000000000001";
    const tg = [...sim.world().targetGroups.values()][0]!.arn;
    await control(sim, "POST", "events", { kind: "delete-load-balancer", name: "app-classic" });
    const named = ["--load-balancer", "app-classic", "--target-group", tg];
    const out = await runCli(sim.hosts[S]!, ["out", ...named]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /elb\/app-classic no longer exists/);
    assert.deepEqual((await registrationsOf(sim, S)).targets, {}, "deregistered from the target group");
    const back = await runCli(sim.hosts[S]!, ["in", "-q", ...named]);
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual((await registrationsOf(sim, S)).targets, { "app-tg": "healthy" });
  });

  it("status on 1,000 instances behind ten target groups: a readable peers line and no listener warning", async () => {
    sim = await startSim(loadFleet("large"));
    const host = sim.hosts[generatedInstanceId(1, 1)]!;
    const res = await runCli(host, ["status"]);
    assert.equal(res.code, 0, res.stderr);
    const peers = res.stdout.split("\n").find((l) => l.startsWith("peers"))!;
    assert.match(peers, /and 989 more \(status --json lists them all\)$/);
    assert.ok(peers.length < 400, `peers line of ${peers.length} characters`);
    assert.doesNotMatch(res.stderr, /MaxListenersExceededWarning/);
  });

  it("a MinSize lowering AWS refuses is taken back: no record, and status does not claim it", async () => {
    sim = await startSim(loadFleet("min-equals-desired"));
    await control(sim, "POST", "faults", {
      kind: "deny",
      service: "autoscaling",
      action: "UpdateAutoScalingGroup",
    });
    const out = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(out.code, 7, out.stderr);
    assert.match(out.stderr, /autoscaling:UpdateAutoScalingGroup/);
    const g = sim.world().groups.get("web")!;
    assert.deepEqual(
      [...g.tags.keys()].filter((k) => k.startsWith("balanced:min-size")),
      [],
    );
    assert.equal(sim.world().instances.get(A)!.lifecycleState, "InService");
    await control(sim, "DELETE", "faults");
    const status = await runCli(sim.hosts[A]!, ["status"]);
    assert.equal(status.code, 0, status.stderr);
    assert.doesNotMatch(status.stdout, /MinSize lowered/);
  });

  it("iam-policy --group takes a group name with a comma whole", async () => {
    const res = await runCli({ env: {} }, ["iam-policy", "--group", "web,blue", "--group", "api"]);
    assert.equal(res.code, 0, res.stderr);
    const arns = (
      JSON.parse(res.stdout) as { Statement: { Resource: string | string[] }[] }
    ).Statement.flatMap((st) => st.Resource);
    assert.ok(
      arns.some((a) => a.endsWith("autoScalingGroupName/web,blue")),
      arns.join(" "),
    );
    assert.ok(arns.some((a) => a.endsWith("autoScalingGroupName/api")));
    assert.ok(!arns.some((a) => a.endsWith("autoScalingGroupName/web")));
  });

  it("a --target-group the group does not manage: out leaves it too (recorded there), in returns on the same port", async () => {
    const fleet = loadFleet("three-hosts");
    fleet.targetGroups!.push({
      name: "side-tg",
      port: 80,
      deregistrationDelay: 2,
      healthCheck: { interval: 1, healthyThreshold: 2 },
      loadBalancer: "side-alb",
    });
    for (const inst of fleet.groups![0]!.instances!) inst.registeredWith = ["side-tg:8080"];
    sim = await startSim(fleet);
    const side = [...sim.world().targetGroups.values()].find((t) => t.name === "side-tg")!;
    const named = ["--target-group", side.arn];
    const out = await runCli(sim.hosts[A]!, ["out", ...named]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /deregistering from tg\/side-tg too: the group does not manage it/);
    assert.equal(sim.world().instances.get(A)!.lifecycleState, "Standby");
    assert.deepEqual((await registrationsOf(sim, A)).targets, {}, "out of every target group");
    assert.match(side.tags.get(`balanced:out:${A}`) ?? "", /^ports=8080 by=out at=/);
    const status = await runCli(sim.hosts[A]!, ["status", ...named]);
    assert.match(status.stdout, /^in\s+would exit standby/m);
    const back = await runCli(sim.hosts[A]!, ["in", ...named]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stderr, /registering again with tg\/side-tg \(port 8080\)/);
    assert.deepEqual(
      [...side.targets.values()].filter((t) => t.id === A).map((t) => [t.port, t.state]),
      [[8080, "healthy"]],
    );
    assert.equal(side.tags.has(`balanced:out:${A}`), false, "the record is gone once it serves there again");
    const again = await runCli(sim.hosts[A]!, ["in", "--json", ...named]);
    assert.equal((JSON.parse(again.stdout) as { outcome: string }).outcome, "already");
    // The instance role needs the load balancer changes for it: iam-policy --target-group adds them.
    const policy = JSON.parse((await runCli(sim.hosts[A]!, ["iam-policy", ...named])).stdout) as {
      Statement: { Action: string[]; Resource: string | string[] }[];
    };
    const allowed = new Set(policy.Statement.flatMap((st) => st.Action));
    const prefix: Record<string, string> = {
      autoscaling: "autoscaling",
      elb: "elasticloadbalancing",
      elbv2: "elasticloadbalancing",
      ec2: "ec2",
    };
    const used = new Set(
      ((await control(sim, "GET", "calls")) as { service: string; action: string; host: string }[])
        .filter((c) => c.service !== "imds" && c.host === A)
        .map((c) => `${prefix[c.service]}:${c.action}`),
    );
    assert.ok(
      used.has("elasticloadbalancing:DeregisterTargets") && used.has("elasticloadbalancing:RegisterTargets"),
    );
    assert.deepEqual(
      [...used].filter((a) => !allowed.has(a)),
      [],
      "called but not allowed",
    );
    assert.equal(
      policy.Statement.find((st) => st.Action.includes("elasticloadbalancing:RegisterTargets"))!.Resource,
      side.arn,
    );
  });
});
