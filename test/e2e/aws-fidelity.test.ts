import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { runCli } from "../helpers/cli";
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
});
