import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { AddTagsCommand as ClassicAddTagsCommand } from "@aws-sdk/client-elastic-load-balancing";
import { AddTagsCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { runCli } from "../helpers/cli";
import { clientsFor, control, setGroupTag, sleep } from "../helpers/clients";
import { loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const A = "i-0a000000000000001";
const B = "i-0a000000000000002";

const setTurn = (sim: Sim, value: string) => setGroupTag(sim.hosts[B]!, "web", "balanced:turn", value);

/** The turn tag on both of three-hosts' load balancers (the classic ELB and the target group), written as A. */
async function setLbTurn(sim: Sim, value: string): Promise<void> {
  const clients = clientsFor(sim.hosts[A]!);
  const Tags = [{ Key: "balanced:turn", Value: value }];
  await clients.elbv2.send(new AddTagsCommand({ ResourceArns: [sim.world().tgByName("web-tg").arn], Tags }));
  await clients.elb.send(new ClassicAddTagsCommand({ LoadBalancerNames: ["web-classic"], Tags }));
}

describe("the group's turn as dry runs, status and repair see it", () => {
  let sim: Sim;
  afterEach(() => sim.stop());

  it("--dry-run and status give the real run's answer while another host holds the turn (exit 4)", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await setTurn(sim, `${B} pid=4242 nonce=abc123 expires=${new Date(Date.now() + 90_000).toISOString()}`);
    const real = await runCli(sim.hosts[A]!, ["out"]);
    const dry = await runCli(sim.hosts[A]!, ["out", "--dry-run"]);
    assert.deepEqual([real.code, dry.code], [4, 4]);
    assert.match(dry.stderr, /refusing: another host is leaving: i-0a000000000000002 holds the group's turn/);
    const status = await runCli(sim.hosts[A]!, ["status"]);
    assert.match(
      status.stdout,
      /^out +refusing: another host is leaving: i-0a000000000000002 holds the group's turn .*\(exit 4\)$/m,
    );
    assert.equal(sim.world().instances.get(A)!.lifecycleState, "InService");
  });

  it("an unreadable turn tag blocks out with a reason that names repair, and repair clears it", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await setTurn(sim, "someone's note");
    const blocked = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(blocked.code, 4);
    assert.match(
      blocked.stderr,
      /the group's turn tag holds something balanced cannot read \("someone's note"\); run `balanced repair` to clear it/,
    );
    assert.doesNotMatch(blocked.stderr, /Infinity/);
    assert.match((await runCli(sim.hosts[A]!, ["status"])).stdout, /^turn +unreadable \("someone's note"\)/m);
    const repaired = await runCli(sim.hosts[A]!, ["repair"]);
    assert.equal(repaired.code, 0, repaired.stderr);
    assert.match(repaired.stdout, /removed an unreadable turn tag/);
    assert.equal((await runCli(sim.hosts[A]!, ["out", "-q"])).code, 0);
  });

  it("in gives back a killed run's turn on every resource it is on, though its first read of the load balancer's tags was stale", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const tg = sim.world().tgByName("web-tg");
    // One stale answer, then fresh ones: the first DescribeTags of the target group is answered from
    // before the orphan reached it (AWS's tag reads are eventually consistent).
    await control(sim, "POST", "faults", {
      service: "elbv2",
      action: "DescribeTags",
      kind: "stale-reads",
      ms: 3_600_000,
      count: 1,
    });
    // What a run on A killed right after taking the turn leaves: its acting calls over (its act
    // deadline passed), the turn not yet expired, its pid gone.
    const orphan = `${A} pid=9999999 nonce=killed1 expires=${new Date(Date.now() + 20_000).toISOString()}`;
    await setGroupTag(sim.hosts[A]!, "web", "balanced:turn", orphan);
    await clientsFor(sim.hosts[A]!).elbv2.send(
      new AddTagsCommand({ ResourceArns: [tg.arn], Tags: [{ Key: "balanced:turn", Value: orphan }] }),
    );

    const res = await runCli(sim.hosts[A]!, ["in"]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /giving back the group's turn left by that run/);
    assert.equal(sim.world().groups.get("web")!.tags.get("balanced:turn"), undefined);
    assert.equal(tg.tags.get("balanced:turn"), undefined, "the target group's part of the turn was left");
  });

  it("in gives back two killed runs' turns of this host: one that never acted on the group, an older one on the load balancers", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const tg = sim.world().tgByName("web-tg");
    const elb = sim.world().classicLbs.get("web-classic")!;
    // Chaos (tags, seed 340014): a run's late turn write stood on the load balancers after a retry
    // was refused; a later run killed during its settle overwrote only the group's part. The older
    // turn's acting calls may still land for a few seconds; the newer one never acted.
    const older = `${A} pid=9999998 nonce=older1 expires=${new Date(Date.now() + 33_000).toISOString()}`;
    const newer = `${A} pid=9999999 nonce=newer1 expires=${new Date(Date.now() + 120_000).toISOString()}`;
    await setGroupTag(sim.hosts[A]!, "web", "balanced:turn", newer);
    await setLbTurn(sim, older);

    const res = await runCli(sim.hosts[A]!, ["in"]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(sim.world().groups.get("web")!.tags.get("balanced:turn"), undefined);
    assert.equal(tg.tags.get("balanced:turn"), undefined, "the older turn was left on the target group");
    assert.equal(elb.tags.get("balanced:turn"), undefined, "the older turn was left on the classic ELB");
  });

  for (const [service, action] of [
    ["autoscaling", "CreateOrUpdateTags"],
    ["elbv2", "AddTags"],
  ] as const)
    it(`a turn write whose answer is lost (${action}) is settled and read back like any other: out finishes, no turn is left`, async () => {
      sim = await startSim(loadFleet("three-hosts"));
      await control(sim, "POST", "faults", { service, action, kind: "lost-response", count: 1 });
      const res = await runCli(sim.hosts[A]!, ["out"]);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(sim.world().instances.get(A)!.lifecycleState, "Standby");
      assert.equal(sim.world().groups.get("web")!.tags.get("balanced:turn"), undefined);
      assert.equal(sim.world().tgByName("web-tg").tags.get("balanced:turn"), undefined);
      assert.equal(sim.world().classicLbs.get("web-classic")!.tags.get("balanced:turn"), undefined);
    });

  it("in with nothing to do looks again once its reads' staleness has passed: a turn written by a run killed just before is given back at once", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const tg = sim.world().tgByName("web-tg");
    // The snapshot's reads of the turn are answered from before the killed run wrote it; the later
    // reads are fresh.
    await control(sim, "POST", "faults", [
      {
        service: "autoscaling",
        action: "DescribeAutoScalingGroups",
        kind: "stale-reads",
        ms: 3_600_000,
        count: 1,
      },
      { service: "elb", action: "DescribeTags", kind: "stale-reads", ms: 3_600_000, count: 1 },
      { service: "elbv2", action: "DescribeTags", kind: "stale-reads", ms: 3_600_000, count: 1 },
    ]);
    // Written just now by a run on A that was killed during its settle (so it never acted).
    const orphan = `${A} pid=9999999 nonce=killed2 expires=${new Date(Date.now() + 120_000).toISOString()}`;
    await setGroupTag(sim.hosts[A]!, "web", "balanced:turn", orphan);
    await setLbTurn(sim, orphan);

    const res = await runCli(sim.hosts[A]!, ["in"]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /is already in: InService/);
    assert.match(res.stderr, /giving back the group's turn left by that run/);
    assert.doesNotMatch(res.stderr, /a call it sent may still land/);
    assert.equal(sim.world().groups.get("web")!.tags.get("balanced:turn"), undefined);
    assert.equal(tg.tags.get("balanced:turn"), undefined);
    assert.equal(sim.world().classicLbs.get("web-classic")!.tags.get("balanced:turn"), undefined);
  });

  it("a run killed during its settle: in gives its turn back on every resource a settle after a read showed it, with no wait for acting calls", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const tg = sim.world().tgByName("web-tg");
    // The load balancers' tags are read up to 1.9 s stale: a give-back at once would miss them.
    await control(sim, "POST", "faults", [
      { service: "elb", action: "DescribeTags", kind: "stale-reads", ms: 1900 },
      { service: "elbv2", action: "DescribeTags", kind: "stale-reads", ms: 1900 },
    ]);
    const orphan = `${A} pid=9999999 nonce=killed3 expires=${new Date(Date.now() + 120_000).toISOString()}`;
    await setGroupTag(sim.hosts[A]!, "web", "balanced:turn", orphan);
    await setLbTurn(sim, orphan);

    // A bound of 6 s makes the settle 14.5 s: `in` sees the orphan inside it even on a loaded machine.
    const res = await runCli(sim.hosts[A]!, ["in", "--staleness-bound", "6s"]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stderr,
      /wrote it just before it died, and another host's turn written over it may not show yet/,
    );
    assert.doesNotMatch(res.stderr, /a call it sent may still land/);
    assert.equal(sim.world().groups.get("web")!.tags.get("balanced:turn"), undefined);
    assert.equal(tg.tags.get("balanced:turn"), undefined, "the target group's part was left");
    assert.equal(sim.world().classicLbs.get("web-classic")!.tags.get("balanced:turn"), undefined);
  });

  it("a run killed during its settle: a contender that wrote over its turn unseen keeps the turn it now holds", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const tg = sim.world().tgByName("web-tg");
    // The target group's tags are read 2.9 s stale (within the 3 s bound), from before the orphan
    // landed on: the sim keeps the past only while a stale fault is in force.
    await control(sim, "POST", "faults", [
      { service: "elbv2", action: "DescribeTags", kind: "stale-reads", ms: 2900 },
    ]);
    const orphan = `${A} pid=9999999 nonce=killed4 expires=${new Date(Date.now() + 120_000).toISOString()}`;
    await setGroupTag(sim.hosts[A]!, "web", "balanced:turn", orphan);
    await setLbTurn(sim, orphan);
    await sleep(3000);
    // B read the target group's tag before the orphan showed, and wrote its own turn within the
    // write bound: B's turn stands on the target group, and B acts under it after its settle.
    const contender = `${B} pid=4242 nonce=contender expires=${new Date(Date.now() + 120_000).toISOString()}`;
    await clientsFor(sim.hosts[B]!).elbv2.send(
      new AddTagsCommand({ ResourceArns: [tg.arn], Tags: [{ Key: "balanced:turn", Value: contender }] }),
    );

    const res = await runCli(sim.hosts[A]!, ["in", "--staleness-bound", "3s"]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /giving back the group's turn left by that run/);
    assert.equal(tg.tags.get("balanced:turn"), contender, "in deleted the contender's live turn");
    assert.equal(sim.world().groups.get("web")!.tags.get("balanced:turn"), undefined);
    assert.equal(sim.world().classicLbs.get("web-classic")!.tags.get("balanced:turn"), undefined);
  });
});

describe("the turn over a group and its load balancers, when two hosts' writes land in opposite orders", () => {
  let sim: Sim;
  afterEach(() => sim.stop());

  it("the host whose turn the group shows takes the load balancers too once the other gives them back; exactly one leaves", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    // Reads 2.5 s stale (within the 3 s bound): neither host's first read shows the other's turn,
    // however far apart they start. A's write on the group lands last (it reaches AWS 1.2 s late,
    // after B's has been answered), B's on both load balancers (a host writes those once its group
    // write is answered: B's reach AWS 1.6 s late, after A's): each read-back shows a split.
    const slow = (ms: number) => ({ kind: "latency", ms });
    await control(sim, "POST", "faults", [
      ...(["autoscaling", "elb", "elbv2"] as const).map((service) => ({
        service,
        kind: "stale-reads",
        ms: 2500,
        fixed: true,
      })),
      { ...slow(1200), host: A, service: "autoscaling", action: "CreateOrUpdateTags" },
      { ...slow(1600), host: B, service: "elb", action: "AddTags" },
      { ...slow(1600), host: B, service: "elbv2", action: "AddTags" },
    ]);
    const out = ["out", "--staleness-bound", "3s"];
    const [a, b] = await Promise.all([runCli(sim.hosts[A]!, out), runCli(sim.hosts[B]!, out)]);
    assert.deepEqual([a.code, b.code], [0, 4], `A: ${a.stderr}\nB: ${b.stderr}`);
    assert.match(
      a.stderr,
      /another host's turn stands on some of web's load balancers; waiting for it to go/,
    );
    assert.match(b.stderr, /refusing: another host is leaving: i-0a000000000000001 took the group's turn/);
    assert.equal(sim.world().instances.get(A)!.lifecycleState, "Standby");
    assert.equal(sim.world().instances.get(B)!.lifecycleState, "InService");
    // Every part of both turns is given back.
    assert.equal(sim.world().groups.get("web")!.tags.get("balanced:turn"), undefined);
    assert.equal(sim.world().classicLbs.get("web-classic")!.tags.get("balanced:turn"), undefined);
    assert.equal(sim.world().tgByName("web-tg").tags.get("balanced:turn"), undefined);
  });
});
