/**
 * AWS as it documents itself, where the simulator used to share the agent's assumptions (issue 33).
 * Each test rests on a simulator behaviour that cites AWS's page, and failed on the agent before it.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { lifecycleOf, runCli, simState } from "../helpers/cli";
import { control } from "../helpers/clients";
import { loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const A = "i-0a000000000000001";
const B = "i-0a000000000000002";

const balancedTags = async (sim: Sim) =>
  Object.keys((await simState(sim)).groups[0]!.tags).filter((k) => k.startsWith("balanced:"));

describe("AWS's documented semantics", () => {
  let sim: Sim | undefined;
  afterEach(() => sim?.stop());

  it("deletes its records for real: DeleteTags with a value deletes only a tag of that value", async () => {
    sim = await startSim(loadFleet("min-equals-desired"));
    const out = await runCli(sim.hosts[A]!, ["out", "--max-unavailable", "50%"]);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual((await balancedTags(sim)).sort(), [`balanced:min-size:${A}`, `balanced:parked:${A}`]);
    const back = await runCli(sim.hosts[A]!, ["in"]);
    assert.equal(back.code, 0, `${back.code} ${back.signal} ${back.stdout} ${back.stderr}`);
    assert.deepEqual(await balancedTags(sim), [], "every record out wrote is gone after in");
    const g = (await simState(sim)).groups[0]!;
    assert.deepEqual([g.min, g.desired], [2, 2]);
    const calls = (await control(sim, "GET", "calls")) as { action: string; outcome: string }[];
    const deletes = calls.filter((c) => c.action === "DeleteTags").map((c) => c.outcome);
    assert.ok(
      deletes.every((o) => o === "ok" || o === "ResourceContention"),
      deletes.join(),
    );
  });

  it("counts a target whose health AWS cannot tell (unavailable, Elb.InternalError) as not serving", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await control(sim, "POST", "faults", [{ kind: "unavailable-health", instance: B }]);
    // B's health is unknown: with one host allowed out, B already is, as far as anyone can tell.
    const out = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(out.code, 3, out.stderr);
    assert.match(out.stderr, /i-0a000000000000002: unavailable in tg\/web-tg/);
    assert.equal(await lifecycleOf(sim, A), "InService");
    await control(sim, "DELETE", "faults");

    assert.equal((await runCli(sim.hosts[A]!, ["out", "-q"])).code, 0);
    await control(sim, "POST", "faults", [
      { kind: "unavailable-health", instance: A, targetGroup: "web-tg" },
    ]);
    // in does not say "in" while AWS cannot tell whether the host serves: it waits, and says why.
    const back = await runCli(sim.hosts[A]!, ["in", "--timeout", "6"]);
    assert.equal(back.code, 5, back.stderr);
    assert.match(back.stderr, /tg\/web-tg: unavailable/);
    assert.match(back.stderr, /Target health is unavailable due to an internal error/);
  });

  it("sends EnterStandby again when AWS answers ResourceContention (not applied), and ends busy if it persists", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await control(sim, "POST", "faults", [{ kind: "resource-contention", action: "EnterStandby", count: 1 }]);
    const out = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(await lifecycleOf(sim, A), "Standby");
    let calls = (await control(sim, "GET", "calls")) as { action: string; outcome: string }[];
    assert.deepEqual(
      calls.filter((c) => c.action === "EnterStandby").map((c) => c.outcome),
      ["ResourceContention", "ok"],
    );
    assert.equal((await runCli(sim.hosts[A]!, ["in", "-q"])).code, 0);

    const before = calls.length;
    await control(sim, "POST", "faults", [{ kind: "resource-contention", action: "EnterStandby" }]);
    const busy = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(busy.code, 4, busy.stderr);
    assert.match(busy.stderr, /another update to the group is pending \(ResourceContention\)/);
    assert.match(busy.stderr, /EnterStandby was not applied, so this host is still serving/);
    assert.equal(await lifecycleOf(sim, A), "InService");
    assert.deepEqual(await balancedTags(sim), [], "no record and no turn left behind");
    calls = ((await control(sim, "GET", "calls")) as { action: string; outcome: string }[]).slice(before);
    assert.ok(
      calls.filter((c) => c.action === "EnterStandby").every((c) => c.outcome === "ResourceContention"),
    );
  });

  it("rides out ResourceContention on the turn's tag writes: ten hosts at once end 0 or 4, never 7", async () => {
    sim = await startSim(loadFleet("ten-hosts"), { contentionMs: 200 });
    const ids = Object.keys(sim.hosts);
    const runs = await Promise.all(ids.map((id) => runCli(sim!.hosts[id]!, ["out", "-q"])));
    const codes = runs.map((r) => r.code);
    assert.ok(
      codes.every((c) => c === 0 || c === 4 || c === 3),
      `${codes} ${runs.map((r) => r.stderr).join("")}`,
    );
    const calls = (await control(sim, "GET", "calls")) as { action: string; outcome: string }[];
    assert.ok(
      calls.some((c) => c.outcome === "ResourceContention"),
      "the writes did collide",
    );
    const out = (await simState(sim)).instances.filter((i) => i.lifecycleState !== "InService");
    assert.ok(out.length <= 1, `at most one host out: ${out.map((i) => i.id)}`);
  });

  it("retries throttling past the SDK's attempts, within the run's deadline", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    // Eleven throttled answers in a row: more than the attempts other errors get (10).
    await control(sim, "POST", "faults", [
      { service: "autoscaling", action: "DescribeAutoScalingInstances", kind: "throttle", rps: 0, count: 11 },
    ]);
    const status = await runCli(sim.hosts[A]!, ["status", "-q"]);
    assert.equal(status.code, 0, status.stderr);
    const calls = (await control(sim, "GET", "calls")) as { action: string; outcome: string }[];
    const tries = calls.filter((c) => c.action === "DescribeAutoScalingInstances").map((c) => c.outcome);
    assert.deepEqual(tries.slice(0, 12), [...Array(11).fill("Throttling"), "ok"]);

    // Throttled for good: the run's deadline ends it, with the reason.
    await control(sim, "POST", "faults", [
      { service: "autoscaling", action: "DescribeAutoScalingInstances", kind: "throttle", rps: 0 },
    ]);
    const out = await runCli(sim.hosts[A]!, ["out", "--timeout", "8"], { killAfterMs: 60_000 });
    assert.equal(out.code, 5, out.stderr);
    assert.match(
      out.stderr,
      /timed out: AWS had not answered autoscaling:DescribeAutoScalingInstances by the deadline/,
    );
    assert.equal(await lifecycleOf(sim, A), "InService");
  });

  it("a classic ELB at AWS's 10-tag quota: the out that finds no room for its record refuses (exit 4), never half-done", async () => {
    const f = loadFleet("ten-hosts");
    f.loadBalancers![0]!.tags = Object.fromEntries([...Array(7).keys()].map((i) => [`team:${i}`, "web"]));
    sim = await startSim(f);
    const ids = Object.keys(sim.hosts).sort();
    const codes: (number | null)[] = [];
    for (const id of ids.slice(0, 4)) {
      const res = await runCli(sim.hosts[id]!, ["out", "-q", "--max-unavailable", "5"]);
      codes.push(res.code);
      if (res.code !== 0) {
        assert.match(res.stderr, /carries as many tags as AWS allows \(classic ELB 10/);
        assert.match(res.stderr, /EnterStandby was not sent, so this host is still serving/);
      }
    }
    // 7 of the operator's tags leave room for the turn (it spans the load balancers) and two records.
    assert.deepEqual(codes, [0, 0, 4, 4]);
    const s = await simState(sim);
    const state = (id: string) => s.instances.find((i) => i.id === id)!.lifecycleState;
    assert.deepEqual(ids.slice(0, 4).map(state), ["Standby", "Standby", "InService", "InService"]);
    assert.deepEqual(
      Object.keys(s.groups[0]!.tags)
        .filter((k) => k.startsWith("balanced:"))
        .sort(),
      ids.slice(0, 2).map((id) => `balanced:parked:${id}`),
      "the refused hosts left no record and no turn on the group",
    );
    assert.deepEqual(
      [...sim.world().classicLbs.get("web-classic")!.tags.keys()].filter((k) => k.startsWith("balanced:")),
      ids.slice(0, 2).map((id) => `balanced:out:${id}`),
      "nor on the load balancer",
    );
  });

  it("an out stopped before it acted gives the turn back, names the command that continues, and blocks nobody", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const stopped = await runCli(sim.hosts[A]!, ["out"], {
      // Ctrl-C in the first second: inside the turn's settle.
      interrupt: { signal: "SIGINT", when: /taking the group's turn/, afterMs: 300 },
    });
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.match(stopped.stderr, /stopped before acting: giving back the group's turn/);
    assert.match(
      stopped.stderr,
      /interrupted by SIGINT: nothing was sent to AWS: this host has not left, it is still serving \(AWS last showed it InService\); run `balanced out` again/,
    );
    assert.deepEqual(await balancedTags(sim), [], "no turn left to block the group");
    const other = await runCli(sim.hosts[B]!, ["out", "-q"]);
    assert.equal(other.code, 0, other.stderr);

    const short = await runCli(sim.hosts[A]!, ["out", "--timeout", "3"], {
      env: { BALANCED_STALENESS_BOUND: "3s" },
    });
    assert.equal(short.code, 2);
    assert.equal(
      short.stderr,
      "balanced: --timeout 3 s is shorter than taking the group's turn takes (8.5 s with --staleness-bound 3 s): give at least 11 s, or use --lock\n",
    );
  });

  it("run: a command asking for a reboot (Chef 35/37, SSM 194) leaves the host out to return at boot, and run exits with its code", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const res = await runCli(sim.hosts[A]!, ["run", "--", "sh", "-c", "exit 194"]);
    assert.equal(res.code, 194, res.stderr);
    assert.match(
      res.stderr,
      /sh -c "exit 194" exited 194, which asks for a reboot \(--reboot-exit-codes\): this host stays out, recorded as balanced:shutdown:i-0a000000000000001, and the boot's `balanced in --after-shutdown` returns it/,
    );
    assert.equal(await lifecycleOf(sim, A), "Standby");
    assert.ok((await balancedTags(sim)).includes(`balanced:shutdown:${A}`));
    // The reboot: the unit's stop finds the host out already, its start returns it.
    assert.equal((await runCli(sim.hosts[A]!, ["out", "--shutdown", "-q"])).code, 0);
    const boot = await runCli(sim.hosts[A]!, ["in", "--after-shutdown"]);
    assert.equal(boot.code, 0, boot.stderr);
    assert.equal(await lifecycleOf(sim, A), "InService");
    assert.deepEqual(await balancedTags(sim), []);

    // Any other failure: exit 8 and the host stays out with no record for the boot, as before.
    const failed = await runCli(sim.hosts[A]!, [
      "run",
      "--reboot-exit-codes",
      "35",
      "--",
      "sh",
      "-c",
      "exit 194",
    ]);
    assert.equal(failed.code, 8, failed.stderr);
    assert.ok(!(await balancedTags(sim)).includes(`balanced:shutdown:${A}`));
    assert.equal((await runCli(sim.hosts[A]!, ["in", "-q"])).code, 0);
  });

  it("a stop of the unit alone (systemctl restart balanced) leaves traffic as it is; a real shutdown or reboot drains", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    // The system keeps running: only the unit stops (a restart, a package upgrade), on every host at once.
    const restarts = await Promise.all(
      [A, B].map((id) =>
        runCli(sim!.hosts[id]!, ["out", "--shutdown"], { env: { SYSTEMCTL_STATE: "running" } }),
      ),
    );
    for (const r of restarts) {
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stdout,
        /the system is running, not shutting down: only the balanced unit stops .* its traffic is left as it is/,
      );
    }
    assert.deepEqual(
      (await simState(sim)).instances.map((i) => i.lifecycleState),
      ["InService", "InService", "InService"],
    );
    assert.deepEqual(await balancedTags(sim), []);
    // A reboot queued (systemctl reboot): the system is still "running" for a moment, the job tells.
    const reboot = await runCli(sim.hosts[A]!, ["out", "--shutdown", "-q"], {
      env: { SYSTEMCTL_STATE: "running", SYSTEMCTL_JOBS: "1234 reboot.target start waiting" },
    });
    assert.equal(reboot.code, 0, reboot.stderr);
    assert.equal(await lifecycleOf(sim, A), "Standby");
    assert.ok((await balancedTags(sim)).includes(`balanced:shutdown:${A}`));
  });

  it("warm pool instances are neither healthy peers nor hosts out: the budget counts the group's members only", async () => {
    const f = loadFleet("three-hosts");
    const g = f.groups![0]!;
    g.warmPool = { poolState: "Stopped" };
    g.instances!.push(
      { id: "i-0a0000000000000w1", lifecycleState: "Warmed:Stopped" },
      { id: "i-0a0000000000000w2", lifecycleState: "Warmed:Pending" },
    );
    sim = await startSim(f);
    const status = await runCli(sim.hosts[A]!, ["status"]);
    assert.equal(status.code, 0, status.stderr);
    const out = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(await lifecycleOf(sim, A), "Standby");
    // One host out spends the budget of one, warm pool or not.
    const second = await runCli(sim.hosts[B]!, ["out"]);
    assert.equal(second.code, 3, second.stderr);
    assert.doesNotMatch(second.stderr, /w1|w2/);
    assert.equal((await runCli(sim.hosts[A]!, ["in", "-q"])).code, 0);
  });
});
