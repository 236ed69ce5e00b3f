import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { lifecycleOf, runCli, simState } from "../helpers/cli";
import { control, setGroupTag } from "../helpers/clients";
import { type FleetFile, loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const A = "i-0a000000000000001";
const B = "i-0a000000000000002";
const C = "i-0a000000000000003";

const group = async (sim: Sim) => (await simState(sim)).groups[0]!;
const records = async (sim: Sim) =>
  Object.keys((await group(sim)).tags).filter((k) => k.startsWith("balanced:min-size:"));

/** min 3 = desired 3: every host that leaves must lower MinSize. */
const threeAtMin = (): FleetFile => {
  const f = loadFleet("three-hosts");
  Object.assign(f.groups![0]!, { min: 3, max: 5, desired: 3 });
  return f;
};

describe("MinSize: lowered while a host is out, always restored, never raised above the operator's", () => {
  let sim: Sim | undefined;
  afterEach(() => sim?.stop());

  it("lowers MinSize by one for the time the host is out (recorded on the group), and in restores it", async () => {
    sim = await startSim(loadFleet("min-equals-desired"));
    const out = await runCli(sim.hosts[A]!, ["out", "--max-unavailable", "50%"]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(
      out.stderr,
      /lowering MinSize of web 2 -> 1 while this host is out \(recorded as balanced:min-size:i-0a000000000000001\)/,
    );
    let g = await group(sim);
    assert.deepEqual([g.min, g.desired], [1, 1]);
    assert.match(g.tags[`balanced:min-size:${A}`]!, /^original=2 lowered-to=1 at=/);
    const status = await runCli(sim.hosts[B]!, ["status"]);
    assert.match(
      status.stdout,
      /left over +MinSize lowered 2 -> 1 by i-0a000000000000001 at .*: restored by its `balanced in`/,
    );

    const back = await runCli(sim.hosts[A]!, ["in"]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /; MinSize of web restored 1 -> 2 \(/);
    g = await group(sim);
    assert.deepEqual([g.min, g.desired], [2, 2]);
    assert.deepEqual(await records(sim), []);
  });

  it("in restores MinSize from a read that shows its own ExitStandby: with the lock, group reads 9 s stale do not leave it lowered", async () => {
    // The lock has no settle: its read right after taking the lock is as stale as AWS allows.
    sim = await startSim(loadFleet("min-equals-desired"), { timeScale: 100 });
    const env = { BALANCED_STALENESS_BOUND: "10s", BALANCED_LOCK: "dynamodb:balanced-locks" };
    assert.equal((await runCli(sim.hosts[A]!, ["lock", "create"], { env })).code, 0);
    const out = await runCli(sim.hosts[A]!, ["out", "--max-unavailable", "50%"], { env });
    assert.equal(out.code, 0, out.stderr);
    // Every group read from now on shows the world as it was 9 s before: the restore's read, right
    // after the host is healthy again, would still show desired capacity 1 (before ExitStandby), and
    // a MinSize of 2 above it "would make AWS launch": once a partial restore that left it lowered.
    await new Promise((r) => setTimeout(r, 9500));
    await control(sim, "POST", "faults", {
      service: "autoscaling",
      action: "DescribeAutoScalingGroups",
      kind: "stale-reads",
      ms: 9000,
      fixed: true,
    });
    const back = await runCli(sim.hosts[A]!, ["in"], { env });
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /; MinSize of web restored 1 -> 2 \(/);
    const g = await group(sim);
    assert.deepEqual([g.min, g.desired], [2, 2]);
    assert.deepEqual(await records(sim), []);
  });

  it("an out that AWS refuses after lowering MinSize puts it back: the group is never left shrunk", async () => {
    sim = await startSim(loadFleet("min-equals-desired"));
    await control(sim, "POST", "faults", { service: "autoscaling", action: "EnterStandby", kind: "deny" });
    const out = await runCli(sim.hosts[A]!, ["out", "--max-unavailable", "50%"]);
    assert.equal(out.code, 7, out.stderr);
    assert.match(out.stderr, /lowering MinSize of web 2 -> 1/);
    assert.match(out.stderr, /this host did not leave, so: MinSize of web restored 1 -> 2/);
    const g = await group(sim);
    assert.deepEqual([g.min, g.desired], [2, 2]);
    assert.deepEqual(await records(sim), []);
    assert.equal(g.tags[`balanced:parked:${A}`], undefined);
    assert.equal(await lifecycleOf(sim, A), "InService");
  });

  it("an out that AWS refuses after lowering MinSize puts it back though its reads are too stale to show the lowering", async () => {
    sim = await startSim(loadFleet("min-equals-desired"));
    // Every group read 2.5 s old (within the 3 s bound): a read right after the lowering shows
    // MinSize 2 and no record, so only what the run did says what to put back.
    await control(sim, "POST", "faults", [
      { service: "autoscaling", action: "EnterStandby", kind: "deny" },
      { service: "autoscaling", kind: "stale-reads", ms: 2500, fixed: true },
    ]);
    const out = await runCli(sim.hosts[A]!, ["out", "--max-unavailable", "50%", "--staleness-bound", "3s"]);
    assert.equal(out.code, 7, out.stderr);
    assert.match(out.stderr, /this host did not leave, so: MinSize of web restored 1 -> 2/);
    const g = await group(sim);
    assert.deepEqual([g.min, g.desired], [2, 2]);
    assert.deepEqual(await records(sim), []);
  });

  it("restores correctly when two hosts lowered it, whichever comes back first", async () => {
    for (const order of [
      [A, B],
      [B, A],
    ]) {
      sim = await startSim(threeAtMin());
      const budget = ["--max-unavailable", "2"];
      assert.equal((await runCli(sim.hosts[A]!, ["out", "-q", ...budget])).code, 0);
      assert.equal((await runCli(sim.hosts[B]!, ["out", "-q", ...budget])).code, 0);
      assert.deepEqual([(await group(sim)).min, (await records(sim)).length], [1, 2]);
      assert.equal((await runCli(sim.hosts[order[0]!]!, ["in", "-q"])).code, 0);
      assert.equal((await group(sim)).min, 2);
      assert.equal((await runCli(sim.hosts[order[1]!]!, ["in", "-q"])).code, 0);
      const g = await group(sim);
      assert.deepEqual([g.min, g.desired], [3, 3], `order ${order}`);
      assert.deepEqual(await records(sim), []);
      await sim.stop();
      sim = undefined;
    }
  });

  it("two hosts coming back at once, reads 2 s stale: both restores land (under the turn), nothing launched", async () => {
    sim = await startSim(threeAtMin(), { timeScale: 100 });
    const budget = ["--max-unavailable", "2"];
    assert.equal((await runCli(sim.hosts[A]!, ["out", "-q", ...budget])).code, 0);
    assert.equal((await runCli(sim.hosts[B]!, ["out", "-q", ...budget])).code, 0);
    await control(sim, "POST", "faults", [
      { service: "autoscaling", kind: "stale-reads", ms: 2000 },
      { service: "*", kind: "latency", ms: 0, jitterMs: 200 },
    ]);
    const bound = ["--staleness-bound", "2s"];
    const [a, b] = await Promise.all([
      runCli(sim.hosts[A]!, ["in", ...bound]),
      runCli(sim.hosts[B]!, ["in", ...bound]),
    ]);
    assert.deepEqual([a.code, b.code], [0, 0], `${a.stderr}\n---\n${b.stderr}`);
    await control(sim, "POST", "faults", []);
    const g = await group(sim);
    assert.deepEqual([g.min, g.desired], [3, 3]);
    assert.deepEqual(await records(sim), []);
    const state = await simState(sim);
    assert.equal(state.instances.length, 3, "no instance launched");
    assert.match(a.stderr + b.stderr, /taking the group's turn for web to restore MinSize/);
  });

  it("leaves a MinSize the operator changed meanwhile (never raises it), and drops the record", async () => {
    sim = await startSim(loadFleet("min-equals-desired"));
    assert.equal((await runCli(sim.hosts[A]!, ["out", "-q", "--max-unavailable", "50%"])).code, 0);
    await control(sim, "POST", "events", { kind: "set-sizes", group: "web", min: 0 });
    const back = await runCli(sim.hosts[A]!, ["in"]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(
      back.stdout,
      /MinSize of web is 0, not what balanced left \(1\): someone changed it, so it stays/,
    );
    assert.equal((await group(sim)).min, 0);
    assert.deepEqual(await records(sim), []);
  });

  it("a restore cut short while another host was out is finished by that host's in: the group is not left shrunk", async () => {
    sim = await startSim(loadFleet("min-equals-desired"));
    // B lowered MinSize 2 -> 1 on its way out and was stopped before it left (seen in chaos, seed
    // 1900221); A then left on that lowering, with no record of its own.
    sim.world().groups.get("web")!.min = 1;
    await setGroupTag(
      sim.hosts[B]!,
      "web",
      `balanced:min-size:${B}`,
      `original=2 lowered-to=1 at=${new Date().toISOString()}`,
    );
    const out = await runCli(sim.hosts[A]!, ["out", "--max-unavailable", "50%"]);
    assert.equal(out.code, 0, out.stderr);
    assert.doesNotMatch(out.stderr, /lowering MinSize/);
    // B's in cannot restore past desired capacity 1 while A is out: "partial", its record stays.
    const bIn = await runCli(sim.hosts[B]!, ["in"]);
    assert.equal(bIn.code, 0, bIn.stderr);
    assert.match(bIn.stderr, /MinSize of web is 1, not yet 2: desired capacity is 1/);
    assert.deepEqual(await records(sim), [`balanced:min-size:${B}`]);
    // A's return raises desired capacity to 2: it finishes B's restore. Before, MinSize stayed 1.
    const aIn = await runCli(sim.hosts[A]!, ["in"]);
    assert.equal(aIn.code, 0, aIn.stderr);
    assert.match(aIn.stdout, /MinSize of web restored 1 -> 2/);
    const g = await group(sim);
    assert.deepEqual([g.min, g.desired], [2, 2]);
    assert.deepEqual(await records(sim), []);
  });

  it("repair (from another host) restores MinSize when the host that lowered it was terminated", async () => {
    sim = await startSim(threeAtMin());
    assert.equal((await runCli(sim.hosts[A]!, ["out", "-q"])).code, 0);
    assert.equal((await group(sim)).min, 2);
    await control(sim, "POST", "events", { kind: "terminate", instance: A });
    await new Promise((r) => setTimeout(r, 1500));
    const status = await runCli(sim.hosts[B]!, ["status"]);
    assert.match(
      status.stdout,
      /MinSize lowered 3 -> 2 by i-0a000000000000001 .*: its host left the group; run `balanced repair`/,
    );
    const fixed = await runCli(sim.hosts[B]!, ["repair"]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(
      fixed.stdout,
      /MinSize of web restored 2 -> 3 \(record of i-0a000000000000001: its host left the group\)/,
    );
    // Its records on the load balancers would count it out for ever: repair removes them too.
    assert.match(status.stdout, /balanced:out:i-0a000000000000001 on tg\/web-tg: its host left the group/);
    assert.match(
      fixed.stdout,
      /removed balanced:out:i-0a000000000000001 from tg\/web-tg \(its host left the group\)/,
    );
    const world = sim.world();
    assert.deepEqual(
      [...world.tgByName("web-tg").tags.keys(), ...world.classicLbs.get("web-classic")!.tags.keys()].filter(
        (k) => k.startsWith("balanced:out:"),
      ),
      [],
    );
    assert.equal((await group(sim)).min, 3);
    assert.deepEqual(await records(sim), []);
    assert.match((await runCli(sim.hosts[C]!, ["repair"])).stdout, /nothing to repair in web/);
  });

  it("repair removes a turn left behind past its expiry", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const value = `${C} pid=999999 nonce=abc expires=2020-01-01T00:00:00.000Z`;
    await setGroupTag(sim.hosts[A]!, "web", "balanced:turn", value);
    assert.match(
      (await runCli(sim.hosts[A]!, ["status"])).stdout,
      /turn +left behind by i-0a000000000000003, expired \d+ s ago/,
    );
    const fixed = await runCli(sim.hosts[A]!, ["repair"]);
    assert.match(fixed.stdout, /removed the expired turn of i-0a000000000000003/);
    assert.equal((await group(sim)).tags["balanced:turn"], undefined);
  });

  it("status flags a host left in Standby longer than --stale-after", async () => {
    const f = loadFleet("three-hosts");
    f.groups![0]!.instances![2]!.lifecycleState = "Standby";
    f.groups![0]!.desired = 2;
    sim = await startSim(f);
    const res = await runCli(sim.hosts[A]!, ["status", "--stale-after", "30m"]);
    assert.match(
      res.stdout,
      /i-0a000000000000003 has been in Standby since before the recent activity history \(over --stale-after\)/,
    );
    assert.equal(await lifecycleOf(sim, C), "Standby");
  });
});
