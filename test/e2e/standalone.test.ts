import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { DeregisterTargetsCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { runCli, simState } from "../helpers/cli";
import { clientsFor, control, eventually } from "../helpers/clients";
import { tempDir } from "../helpers/system";
import { ipTargetGroup, loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

/**
 * Hosts in no Auto Scaling group (standalone-pair: two hosts, app-classic, and app-tg registered on
 * port 8080, not the group's default 80): out deregisters, in registers exactly that back.
 */
const A = "i-0c000000000000001";
const B = "i-0c000000000000002";

const tgArn = (sim: Sim) => [...sim.world().targetGroups.values()].find((t) => t.name === "app-tg")!.arn;
/** How each host would name its load balancers: on the command line, or in /etc/default/balanced. */
const named = (sim: Sim) => ({ BALANCED_LOAD_BALANCER: "app-classic", BALANCED_TARGET_GROUP: tgArn(sim) });
const cli = (sim: Sim, host: string, args: string[], env: Record<string, string> = named(sim)) =>
  runCli(sim.hosts[host]!, args, { env });

/** Where each host is registered: classic ELB state, and target group `port:state`. */
async function registrations(sim: Sim, id: string) {
  const s = await simState(sim);
  return {
    classic: s.loadBalancers.find((lb) => lb.name === "app-classic")!.instances[id],
    targets: s.targetGroups
      .find((t) => t.name === "app-tg")!
      .targets.filter((t) => t.id === id)
      .map((t) => `${t.port}:${t.state}`),
  };
}

const tagsOf = (sim: Sim) => {
  const world = sim.world();
  return {
    classic: Object.fromEntries(world.classicLbs.get("app-classic")!.tags),
    tg: Object.fromEntries(world.targetGroups.get(tgArn(sim))!.tags),
  };
};

const SERVING = { classic: "InService", targets: ["8080:healthy"] };

const GONE = { classic: undefined, targets: [] };

describe("hosts in no Auto Scaling group: deregistered and registered directly", () => {
  let sim: Sim | undefined;
  afterEach(() => sim?.stop());

  it("out deregisters (with the port) and records it; in registers exactly that back and forgets it", async () => {
    sim = await startSim(loadFleet("standalone-pair"));
    const out = await cli(sim, A, ["out"]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(
      out.stdout,
      /^i-0c000000000000001 is out: deregistered and drained from elb\/app-classic, tg\/app-tg/,
    );
    assert.deepEqual(await registrations(sim, A), GONE);
    const tags = tagsOf(sim);
    assert.match(tags.tg[`balanced:out:${A}`] ?? "", /^ports=8080 by=out at=\S+$/);
    assert.match(tags.classic[`balanced:out:${A}`] ?? "", /^ports= by=out at=\S+$/);
    assert.equal(tags.tg["balanced:turn"], undefined, "the turn was given back");
    assert.deepEqual(await registrations(sim, B), SERVING, "the peer is untouched");

    const back = await cli(sim, A, ["in"]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /is in: healthy in elb\/app-classic, tg\/app-tg; removal records removed/);
    assert.deepEqual(
      await registrations(sim, A),
      SERVING,
      "registered again on port 8080, not the default 80",
    );
    assert.deepEqual(tagsOf(sim), { classic: {}, tg: {} });
  });

  it("without named load balancers it stays exit 6, saying how to name them", async () => {
    sim = await startSim(loadFleet("standalone-pair"));
    const res = await cli(sim, A, ["out"], {});
    assert.equal(res.code, 6);
    assert.match(
      res.stderr,
      /not in an Auto Scaling group; name its load balancers with --load-balancer\/--target-group/,
    );
    assert.deepEqual(await registrations(sim, A), SERVING);
    const repair = await cli(sim, A, ["repair"]);
    assert.equal(repair.code, 6);
    assert.match(repair.stderr, /a host in no group is restored by its own `balanced in`/);
  });

  it("never deregisters the only healthy member, and counts a peer already out", async () => {
    sim = await startSim(loadFleet("standalone-pair"));
    await control(sim, "POST", "events", { kind: "set-health", instance: B, healthy: false });
    await eventually(async () =>
      (await registrations(sim!, B)).classic === "OutOfService" ? true : undefined,
    );
    const res = await cli(sim, A, ["out"]);
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /refusing: this host is the only healthy member of elb\/app-classic/);
    assert.deepEqual(await registrations(sim, A), SERVING);

    await control(sim, "POST", "events", { kind: "set-health", instance: B, healthy: true });
    await eventually(async () =>
      (await registrations(sim!, B)).targets[0] === "8080:healthy" ? true : undefined,
    );
    assert.equal((await cli(sim, B, ["out"])).code, 0);
    const second = await cli(sim, A, ["out"]);
    assert.equal(second.code, 3, second.stderr);
    assert.match(second.stderr, /refusing: this host is the only healthy member/);
    const status = await cli(sim, A, ["status"]);
    assert.match(
      status.stdout,
      /i-0c000000000000002 was taken out of tg\/app-tg by balanced at \S+ \(port 8080\)/,
    );
  });

  it("reads the names from /etc/default/balanced (a comma list), under the environment and flags", async () => {
    sim = await startSim(loadFleet("standalone-pair"));
    const dir = tempDir("settings");
    const file = join(dir, "balanced");
    writeFileSync(
      file,
      `# as the operator left it\nBALANCED_TARGET_GROUP="${tgArn(sim)}"\nBALANCED_LOAD_BALANCER=app-classic\nBALANCED_MIN_HEALTHY=5\nOTHER=ignored\n`,
    );
    const refused = await cli(sim, A, ["out"], { BALANCED_DEFAULTS_FILE: file });
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /--min-healthy requires 5/);
    // The environment wins over the file, and a flag names the file as well as the variable does.
    const res = await cli(sim, A, ["out", "--defaults-file", file], { BALANCED_MIN_HEALTHY: "1" });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(await registrations(sim, A), GONE);

    writeFileSync(file, "BALANCED_LOAD_BALANCERS=app-classic\n");
    const typo = await cli(sim, A, ["in"], { BALANCED_DEFAULTS_FILE: file });
    assert.equal(typo.code, 2);
    assert.match(
      typo.stderr,
      /unknown setting BALANCED_LOAD_BALANCERS \(in the environment or the settings file\): did you mean BALANCED_LOAD_BALANCER\?/,
    );
  });

  it("dry run, --json, and run -- work the same way", async () => {
    sim = await startSim(loadFleet("standalone-pair"));
    const dry = await cli(sim, A, ["out", "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(
      dry.stdout,
      /^dry run: would record and deregister this host from elb\/app-classic, tg\/app-tg/,
    );
    assert.deepEqual(await registrations(sim, A), SERVING);

    const wrapped = await cli(sim, A, ["run", "--json", "--", "sh", "-c", "exit 0"]);
    assert.equal(wrapped.code, 0, wrapped.stderr);
    const report = JSON.parse(wrapped.stdout);
    assert.equal(report.outcome, "done");
    assert.equal(report.snapshot.instanceId, A);
    // out then in, one lookup of the group it is not in.
    assert.equal(report.apiCalls.byAction["autoscaling:DescribeAutoScalingInstances"], 1);
    assert.deepEqual(await registrations(sim, A), SERVING);
  });

  it("rerun after SIGKILL at each step finishes the job, and in restores exactly what was removed", async () => {
    for (const step of [/taking the turn/, /recording on/, /deregistering from/, /leaving elb/]) {
      sim = await startSim(loadFleet("standalone-pair"));
      const killed = await runCli(sim.hosts[A]!, ["out"], {
        env: named(sim),
        interrupt: { signal: "SIGKILL", when: step },
      });
      assert.equal(killed.signal, "SIGKILL", `${step}: ${killed.stderr}`);
      const rerun = await cli(sim, A, ["out"]);
      assert.equal(rerun.code, 0, `${step}: ${rerun.stderr}`);
      assert.deepEqual(await registrations(sim, A), GONE, String(step));
      const back = await cli(sim, A, ["in"]);
      assert.equal(back.code, 0, `${step}: ${back.stderr}`);
      assert.deepEqual(await registrations(sim, A), SERVING, String(step));
      assert.deepEqual(tagsOf(sim), { classic: {}, tg: {} }, String(step));
      await sim.stop();
      sim = undefined;
    }
  });

  it("--discover finds the load balancers: those that have the host, then those that recorded it", async () => {
    sim = await startSim(loadFleet("standalone-pair"));
    const out = await cli(sim, A, ["out", "--discover"], {});
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /discovering this host's load balancers/);
    assert.deepEqual(await registrations(sim, A), GONE);
    const back = await cli(sim, A, ["in", "--discover"], {});
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(await registrations(sim, A), SERVING);
  });

  it("the systemd unit's stop and start: drains at shutdown, returns at boot only what the shutdown removed", async () => {
    sim = await startSim(loadFleet("standalone-pair"));
    const down = await cli(sim, A, ["out", "--shutdown", "--timeout", "270"]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(tagsOf(sim).tg[`balanced:out:${A}`] ?? "", /by=shutdown/);
    const up = await cli(sim, A, ["in", "--after-shutdown", "--timeout", "600"]);
    assert.equal(up.code, 0, up.stderr);
    assert.deepEqual(await registrations(sim, A), SERVING);

    // Taken out by hand: the boot leaves it out.
    assert.equal((await cli(sim, A, ["out"])).code, 0);
    const boot = await cli(sim, A, ["in", "--after-shutdown"]);
    assert.equal(boot.code, 0, boot.stderr);
    assert.match(boot.stdout, /not taken out by a shutdown/);
    assert.deepEqual(await registrations(sim, A), GONE);
  });

  it("a shutdown drains even the only healthy member, and says what it overrides", async () => {
    sim = await startSim(loadFleet("standalone-pair"));
    await control(sim, "POST", "events", { kind: "set-health", instance: B, healthy: false });
    await eventually(async () => (await registrations(sim!, B)).classic === "OutOfService");
    const down = await cli(sim, A, ["out", "--shutdown", "--timeout", "270"]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(
      down.stderr,
      /shutting down although this host is the only healthy member of elb\/app-classic; taking it out would leave none: the host goes down either way, so it leaves first/,
    );
    assert.deepEqual(await registrations(sim, A), GONE);
  });

  it("an out cut short after its records (one deregistration denied) is finished by the rerun, without the turn", async () => {
    sim = await startSim(loadFleet("standalone-pair"));
    await control(sim, "POST", "faults", { kind: "deny", service: "elbv2", action: "DeregisterTargets" });
    const cut = await cli(sim, A, ["out"]);
    assert.equal(cut.code, 7, cut.stderr);
    // Half out: gone from the classic ELB, still serving in the target group, recorded on both.
    await eventually(async () => (await registrations(sim!, A)).classic === undefined);
    assert.deepEqual(await registrations(sim, A), { classic: undefined, targets: ["8080:healthy"] });
    assert.match(tagsOf(sim).tg[`balanced:out:${A}`] ?? "", /^ports=8080 by=out/);
    // The other host counts it out there already: leaving too would be two out at once.
    const other = await cli(sim, B, ["out"]);
    assert.equal(other.code, 3, other.stderr);
    await control(sim, "DELETE", "faults");
    const rerun = await cli(sim, A, ["out"]);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, /finishing an earlier `out`: deregistering from tg\/app-tg/);
    assert.doesNotMatch(rerun.stderr, /taking the turn/);
    assert.deepEqual(await registrations(sim, A), GONE);
    const back = await cli(sim, A, ["in"]);
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(await registrations(sim, A), SERVING);
  });

  it("in registers only where out took the host out: a named target group it was never in is left alone", async () => {
    const fleet = loadFleet("standalone-pair");
    fleet.instances![0]!.registeredWith = ["app-classic"];
    sim = await startSim(fleet);
    assert.equal((await cli(sim, A, ["out", "-q"], { BALANCED_LOAD_BALANCER: "app-classic" })).code, 0);
    const back = await cli(sim, A, ["in"]);
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(await registrations(sim, A), { classic: "InService", targets: [] });
    assert.doesNotMatch(back.stderr, /registering with .*tg\/app-tg/);
  });

  it("in where balanced took the host out of nothing refuses (exit 3) instead of guessing a port", async () => {
    const fleet = loadFleet("standalone-pair");
    fleet.instances![0]!.registeredWith = [];
    sim = await startSim(fleet);
    const res = await cli(sim, A, ["in"]);
    assert.equal(res.code, 3, res.stderr);
    assert.match(
      res.stderr,
      /balanced did not take it out of them \(no balanced:out:i-0c000000000000001 record\)/,
    );
    assert.deepEqual(await registrations(sim, A), GONE);
  });

  it("a port already draining when out looks is not recorded as served: in does not bring it back", async () => {
    const fleet = loadFleet("standalone-pair");
    fleet.instances![0]!.registeredWith = ["app-classic", "app-tg:8080", "app-tg:8081"];
    fleet.targetGroups![0]!.deregistrationDelay = 4;
    sim = await startSim(fleet);
    // Someone took port 8081 out a moment ago; it is still draining.
    await clientsFor(sim.hosts[B]!).elbv2.send(
      new DeregisterTargetsCommand({ TargetGroupArn: tgArn(sim), Targets: [{ Id: A, Port: 8081 }] }),
    );
    assert.deepEqual((await registrations(sim, A)).targets, ["8080:healthy", "8081:draining"]);
    const out = await cli(sim, A, ["out"]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(tagsOf(sim).tg[`balanced:out:${A}`] ?? "", /^ports=8080 by=out/);
    const back = await cli(sim, A, ["in"]);
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(await registrations(sim, A), SERVING, "8080 only, as it served");
  });

  it("an IP target outside the target group's VPC comes back in zone 'all', as AWS requires", async () => {
    const fleet = loadFleet("standalone-pair");
    fleet.targetGroups!.push(ipTargetGroup("peer-ip-tg", "peer-alb"));
    // A host in a peered VPC: its address is outside the target group's VPC (10.0.0.0/16).
    fleet.instances![0]!.privateIp = "192.168.5.11";
    fleet.instances![0]!.registeredWith = ["peer-ip-tg:8080"];
    fleet.instances![1]!.registeredWith = ["peer-ip-tg:8080"];
    sim = await startSim(fleet);
    const tg = [...sim.world().targetGroups.values()].find((t) => t.name === "peer-ip-tg")!;
    const env = { BALANCED_TARGET_GROUP: tg.arn };
    const out = await cli(sim, A, ["out"], env);
    assert.equal(out.code, 0, out.stderr);
    assert.match(tg.tags.get(`balanced:out:${A}`) ?? "", /^ports=8080 by=out at=\S+ az=all$/);
    const back = await cli(sim, A, ["in"], env);
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(
      [...tg.targets.values()].filter((t) => t.id === "192.168.5.11").map((t) => [t.port, t.az, t.state]),
      [[8080, "all", "healthy"]],
    );
  });

  it("a host an IP target group lists under a secondary private IP: out leaves that IP, in brings that IP back", async () => {
    const fleet = loadFleet("standalone-pair");
    fleet.targetGroups!.push(ipTargetGroup("app-ip-tg", "app-alb"));
    fleet.instances![0]!.secondaryIps = ["10.0.98.21"];
    fleet.instances![0]!.registeredWith = ["app-ip-tg:8080@10.0.98.21"];
    fleet.instances![1]!.registeredWith = ["app-ip-tg:8080"];
    sim = await startSim(fleet);
    const tg = [...sim.world().targetGroups.values()].find((t) => t.name === "app-ip-tg")!;
    const env = { BALANCED_TARGET_GROUP: tg.arn };
    // A's addresses: its primary 10.0.98.11 and the secondary 10.0.98.21 the target group lists.
    const targetsOfA = () =>
      [...tg.targets.values()]
        .filter((t) => t.id === "10.0.98.11" || t.id === "10.0.98.21")
        .map((t) => `${t.id}:${t.port}:${t.state}`);
    const status = await cli(sim, A, ["status"], env);
    assert.match(status.stdout, /tg\/app-ip-tg\s+healthy/);
    const out = await cli(sim, A, ["out"], env);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(targetsOfA(), []);
    assert.match(tg.tags.get(`balanced:out:${A}`) ?? "", /^ports=8080 by=out at=\S+ ip=10\.0\.98\.21$/);
    const back = await cli(sim, A, ["in"], env);
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(targetsOfA(), ["10.0.98.21:8080:healthy"]);
  });
});

describe("two standalone hosts at once never both leave", () => {
  /** One trial: both hosts' `out` at the same instant; how many deregistered. */
  async function trial(n: number): Promise<number> {
    const sim = await startSim(loadFleet("standalone-pair"));
    try {
      for (const service of ["elb", "elbv2"])
        await control(sim, "POST", "faults", { service, kind: "latency", ms: 0, jitterMs: 250 });
      const [a, b] = await Promise.all([cli(sim, A, ["out"]), cli(sim, B, ["out"])]);
      const why = `trial ${n}: ${a.stderr} | ${b.stderr}`;
      assert.ok(
        [a.code, b.code].every((c) => c === 0 || c === 3 || c === 4),
        why,
      );
      const calls = (await control(sim, "GET", "calls")) as { action: string; host: string }[];
      const leavers = new Set(
        calls
          .filter(
            (c) => c.action === "DeregisterInstancesFromLoadBalancer" || c.action === "DeregisterTargets",
          )
          .map((c) => c.host),
      );
      assert.ok(leavers.size <= 1, `${why}: both deregistered`);
      assert.equal([a.code, b.code].filter((c) => c === 0).length, leavers.size, why);
      return leavers.size;
    } finally {
      await sim.stop();
    }
  }

  it("10 trials at once, with random API latency: at most one leaves, and often one does", async () => {
    const left = await Promise.all(Array.from({ length: 10 }, (_, i) => trial(i)));
    // Never both; and the race is real: many trials end with one host out. Both refuse (exit 4) when
    // the turn splits, one load balancer's tag won by each; 14-16 of 20 leave, so 2 of 10 is far off.
    // The long soak is `npm run chaos`.
    assert.ok(
      left.filter((n) => n === 1).length >= 2,
      `only ${left.filter((n) => n === 1).length} of 10 left`,
    );
  });
});
