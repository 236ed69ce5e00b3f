import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { lifecycleOf, registrationsOf, runCli, simState } from "../helpers/cli";
import { control, eventually } from "../helpers/clients";
import { startSimProcess } from "../helpers/sim-process";
import { type FleetFile, loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const A = "i-0a000000000000001";

const slowDrain = (): FleetFile => {
  const f = loadFleet("three-hosts");
  f.loadBalancers![0]!.connectionDraining = { enabled: true, timeout: 30 };
  f.targetGroups![0]!.deregistrationDelay = 30;
  return f;
};

describe("failures: exit codes 5, 6, 7 and 130/143, each with a clear one-line reason", () => {
  let sim: Sim | undefined;
  afterEach(() => sim?.stop());

  it("times out leaving (exit 5) and says exactly what state things were left in", async () => {
    sim = await startSim(slowDrain());
    // --timeout is the whole run's: the turn (2.5 s) and the read come out of it too.
    const res = await runCli(sim.hosts[A]!, ["out", "--timeout", "8s"]);
    assert.equal(res.code, 5);
    assert.match(
      res.stderr,
      /balanced: timed out after 8 s waiting to leave the load balancers: host is EnteringStandby; still in elb\/web-classic: draining \(Instance deregistration currently in progress\.\); tg\/web-tg: draining \(Target\.DeregistrationInProgress: Target deregistration is in progress\); AWS keeps draining it: run `balanced out` again to keep waiting, or `balanced in` to return it\n$/,
    );
    assert.equal(await lifecycleOf(sim, A), "EnteringStandby");
  });

  it("times out coming back (exit 5) when the application fails its health checks", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    assert.equal((await runCli(sim.hosts[A]!, ["out", "-q"])).code, 0);
    await control(sim, "POST", "events", {
      kind: "set-health",
      instance: A,
      healthy: false,
      scope: "web-tg",
    });
    // Long enough for ExitStandby and Pending on a loaded machine: it ends waiting on the health check.
    const res = await runCli(sim.hosts[A]!, ["in", "--timeout", "10"]);
    assert.equal(res.code, 5);
    assert.match(
      res.stderr,
      /timed out after 10 s waiting for this host to take traffic: host is InService, not yet healthy in tg\/web-tg: unhealthy \(Target\.FailedHealthChecks: Health checks failed\)/,
    );
    assert.deepEqual(await registrationsOf(sim, A), {
      classic: { "web-classic": "InService" },
      targets: { "web-tg": "unhealthy" },
    });
  });

  it("stops acting when EnterStandby gets no answer in 30 s, keeps the turn, and a rerun finishes", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    // AWS applies the call after 35 s, long after the agent gave up on it: the turn must outlive that.
    await control(sim, "POST", "faults", {
      service: "autoscaling",
      action: "EnterStandby",
      kind: "latency",
      ms: 35_000,
      count: 1,
    });
    const res = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(res.code, 5, res.stderr);
    assert.match(
      res.stderr,
      /AWS did not confirm EnterStandby .*, so this host stopped acting; AWS may still apply it, so the turn is kept until it expires/,
    );
    assert.match((await simState(sim)).groups[0]!.tags["balanced:turn"] ?? "", /^i-0a000000000000001 /);
    // AWS applies it 35 s after it was sent, whenever the agent stopped waiting for its answer.
    await eventually(async () => ((await lifecycleOf(sim!, A)) === "Standby" ? true : undefined), 45_000);
    const rerun = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, /giving back the group's turn left by a killed earlier run/);
    assert.equal((await simState(sim)).groups[0]!.tags["balanced:turn"], undefined);
  });

  it("exits 6 on a host in no Auto Scaling group", async () => {
    sim = await startSim({ ...loadFleet("three-hosts"), instances: [{ id: "i-0c000000000000001" }] });
    const res = await runCli(sim.hosts["i-0c000000000000001"]!, ["out"]);
    assert.equal(res.code, 6);
    assert.match(
      res.stderr,
      /^balanced: i-0c000000000000001 is not in an Auto Scaling group; name its load balancers with --load-balancer\/--target-group \(or --discover\) to deregister it from them directly\n$/,
    );
  });

  it("exits 7 when AWS denies an action, naming the missing IAM action, and changes nothing", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await control(sim, "POST", "faults", { service: "autoscaling", action: "EnterStandby", kind: "deny" });
    const res = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(res.code, 7);
    assert.match(
      res.stderr,
      /\nbalanced: AWS denied autoscaling:EnterStandby: the instance role needs "autoscaling:EnterStandby" \(the README lists the whole IAM policy\)\n$/,
    );
    assert.equal(await lifecycleOf(sim, A), "InService");
    const json = JSON.parse((await runCli(sim.hosts[A]!, ["out", "--json"])).stdout) as {
      kind: string;
      exitCode: number;
    };
    assert.deepEqual([json.kind, json.exitCode], ["access-denied", 7]);
  });

  it("names the denied action for describe calls too", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await control(sim, "POST", "faults", { service: "elbv2", action: "DescribeTargetHealth", kind: "deny" });
    const res = await runCli(sim.hosts[A]!, ["status"]);
    assert.equal(res.code, 7);
    assert.match(res.stderr, /AWS denied elasticloadbalancing:DescribeTargetHealth/);
  });

  it("survives a throttling storm: every API throttled to 3 requests/s, out and in still succeed", async () => {
    // The simulator runs in its own process: starved with the test's, it would be the bottleneck.
    const storm = await startSimProcess("three-hosts");
    try {
      await control(storm, "POST", "faults", [
        { service: "autoscaling", kind: "throttle", rps: 3 },
        { service: "elb", kind: "throttle", rps: 3 },
        { service: "elbv2", kind: "throttle", rps: 3 },
      ]);
      // Three agents at once make the storm real.
      const hosts = ["i-0a000000000000002", "i-0a000000000000003"];
      const [res] = await Promise.all([
        runCli(storm.hosts[A]!, ["out", "-q"]),
        ...hosts.map((h) => runCli(storm.hosts[h]!, ["status", "-q"])),
      ]);
      assert.equal(res!.code, 0, res!.stderr);
      assert.equal((await runCli(storm.hosts[A]!, ["in", "-q"])).code, 0);
      const calls = (await control(storm, "GET", "calls")) as { outcome: string }[];
      assert.ok(
        calls.filter((c) => c.outcome === "Throttling").length > 0,
        "the storm must actually have throttled calls",
      );
    } finally {
      await storm.stop();
    }
  });

  it("a turn write throttled five times in a row is tried again, backing off, until it lands: out succeeds", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    // Four attempts a second apart once gave up here, under a storm that outlasted them (exit 4).
    await control(sim, "POST", "faults", {
      service: "autoscaling",
      action: "CreateOrUpdateTags",
      kind: "throttle",
      count: 5,
    });
    const res = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(await lifecycleOf(sim, A), "Standby");
    const writes = sim.calls.filter((c) => c.action === "CreateOrUpdateTags");
    assert.deepEqual(
      writes.slice(0, 6).map((c) => c.outcome),
      ["Throttling", "Throttling", "Throttling", "Throttling", "Throttling", "ok"],
    );
    assert.equal(sim.world().groups.get("web")!.tags.has("balanced:turn"), false, "the turn was given back");
  });

  it("a poll hung past the wait's deadline is cut: exit 5 at the deadline, not when AWS answers", async () => {
    sim = await startSim(slowDrain());
    const res = await runCli(sim.hosts[A]!, ["out", "--timeout", "8"], {
      killAfterMs: 60_000,
      // Once draining, every health poll of the classic ELB hangs for a minute.
      onStderr: {
        when: /EnteringStandby; elb/,
        run: () =>
          void control(sim!, "POST", "faults", {
            service: "elb",
            action: "DescribeInstanceHealth",
            kind: "latency",
            ms: 60_000,
          }),
      },
    });
    assert.equal(res.code, 5, res.stderr);
    assert.match(
      res.stderr,
      /balanced: timed out after 8 s waiting to leave the load balancers: host is EnteringStandby/,
    );
    assert.ok(res.ms < 30_000, `took ${res.ms} ms`);
  });

  it("--timeout holds before the wait too: a read hung for 90 s is cut, exit 5, saying the host still serves", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await control(sim, "POST", "faults", {
      service: "elbv2",
      action: "DescribeTargetHealth",
      kind: "latency",
      ms: 90_000,
    });
    const res = await runCli(sim.hosts[A]!, ["out", "--timeout", "20"], { killAfterMs: 120_000 });
    assert.equal(res.code, 5, res.stderr);
    assert.match(
      res.stderr,
      /balanced: timed out: AWS had not answered elasticloadbalancing:DescribeTargetHealth by the deadline \(--timeout\); this host has not left \(nothing was changed\): it is still serving/,
    );
    // Cut at the run's deadline, not when AWS answered (the figure is in npm run bench).
    assert.ok(res.ms < 90_000, `took ${res.ms} ms`);
    assert.equal(await lifecycleOf(sim, A), "InService");
  });

  it("keeps waiting through polls that fail after the SDK's retries, until the deadline", async () => {
    sim = await startSim(slowDrain());
    const res = await runCli(sim.hosts[A]!, ["out"], {
      env: { AWS_MAX_ATTEMPTS: "1" },
      // Once draining, the next 3 health polls fail outright.
      onStderr: {
        when: /EnteringStandby; elb/,
        run: () =>
          void control(sim!, "POST", "faults", {
            service: "elb",
            action: "DescribeInstanceHealth",
            kind: "error",
            status: 503,
            count: 3,
          }),
      },
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /AWS did not answer \(.*\); trying again/);
  });

  it("EnterStandby and ExitStandby are sent once: a lost answer is resolved by re-reading, not by a second send", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await control(sim, "POST", "faults", [
      { service: "autoscaling", action: "EnterStandby", kind: "lost-response", count: 1 },
      { service: "autoscaling", action: "ExitStandby", kind: "lost-response", count: 1 },
    ]);
    const out = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(
      out.stderr,
      /AWS had applied it \(EnteringStandby\) though its answer said otherwise or got lost/,
    );
    const back = await runCli(sim.hosts[A]!, ["in"]);
    assert.equal(back.code, 0, back.stderr);
    const calls = (await control(sim, "GET", "calls")) as { action: string; outcome: string }[];
    // A send AWS answered ResourceContention was refused unprocessed (its own record written just
    // before may still be pending): sending again is not a second send of an applied call.
    assert.deepEqual(
      calls
        .filter((c) => c.action === "EnterStandby" || c.action === "ExitStandby")
        .filter((c) => c.outcome !== "ResourceContention")
        .map((c) => `${c.action} ${c.outcome}`),
      ["EnterStandby lost-response", "ExitStandby lost-response"],
    );
    assert.equal(await lifecycleOf(sim, A), "InService");
  });

  it("stops waiting on SIGINT (exit 130), leaves AWS as it is, and says what continues", async () => {
    sim = await startSim(slowDrain());
    const res = await runCli(sim.hosts[A]!, ["out"], {
      interrupt: { signal: "SIGINT", when: /EnteringStandby; elb/ },
    });
    assert.equal(res.code, 130);
    assert.match(
      res.stderr,
      /balanced: interrupted by SIGINT: host is EnteringStandby and still draining \(elb\/web-classic: draining, tg\/web-tg: (draining|absent)\); AWS keeps draining it; run `balanced out` to continue\n$/,
    );
    assert.equal(await lifecycleOf(sim, A), "EnteringStandby");
  });

  it("stops waiting on SIGTERM (exit 143)", async () => {
    sim = await startSim(slowDrain());
    const res = await runCli(sim.hosts[A]!, ["out"], {
      interrupt: { signal: "SIGTERM", when: /EnteringStandby; elb/ },
    });
    assert.equal(res.code, 143);
    assert.match(res.stderr, /interrupted by SIGTERM/);
  });

  it("finishes out when giving the turn back fails: the host is already leaving, the turn expires", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await control(sim, "POST", "faults", { service: "autoscaling", action: "DeleteTags", kind: "deny" });
    const res = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stderr,
      /could not give the turn back \(AWS denied autoscaling:DeleteTags: .*\); it expires by itself/,
    );
    assert.equal(await lifecycleOf(sim, A), "Standby");
    // That process has exited; a rerun on the same host gives its turn back at once.
    await control(sim, "DELETE", "faults");
    const again = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stderr,
      /giving back the group's turn left by a killed earlier run on this host \(pid \d+\)/,
    );
    const tags = (await control(sim, "GET", "state")) as { groups: { tags: Record<string, string> }[] };
    assert.equal(tags.groups[0]!.tags["balanced:turn"], undefined);
  });
});
