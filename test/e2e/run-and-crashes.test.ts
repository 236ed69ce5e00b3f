import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { lifecycleOf, registrationsOf, runCli, simState } from "../helpers/cli";
import { control } from "../helpers/clients";
import { type FleetFile, loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const A = "i-0a000000000000001";
const B = "i-0a000000000000002";

const group = async (sim: Sim) => (await simState(sim)).groups[0]!;

describe("balanced run -- <command>", () => {
  let sim: Sim | undefined;
  afterEach(() => sim?.stop());

  it("takes the host out, runs the command with its own stdio, and brings the host back", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const res = await runCli(sim.hosts[A]!, ["run", "--", "sh", "-c", 'echo "deploying on $AWS_REGION"']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stdout,
      /^deploying on us-east-1\nsh -c "echo \\"deploying on \$AWS_REGION\\"" succeeded; i-0a000000000000001 is in: /,
    );
    assert.match(res.stderr, /is out: Standby in web.*; running: sh -c/);
    assert.equal(await lifecycleOf(sim, A), "InService");
    const calls = (await control(sim, "GET", "calls")) as { action: string }[];
    assert.deepEqual(
      calls.filter((c) => /Standby$/.test(c.action)).map((c) => c.action),
      ["EnterStandby", "ExitStandby"],
    );
  });

  it("leaves the host out when the command fails (exit 8, the command's code in the message and --json)", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const res = await runCli(sim.hosts[A]!, ["run", "--", "sh", "-c", "exit 3"]);
    assert.equal(res.code, 8);
    assert.match(
      res.stderr,
      /balanced: sh -c "exit 3" failed with exit code 3; this host stays out of the load balancers \(run `balanced in` once fixed\)\n$/,
    );
    assert.equal(await lifecycleOf(sim, A), "Standby");
    assert.equal((await runCli(sim.hosts[A]!, ["in", "-q"])).code, 0);
    const json = await runCli(sim.hosts[A]!, ["run", "--json", "--", "false"]);
    const doc = JSON.parse(json.stdout) as { exitCode: number; commandExitCode: number; outcome: string };
    assert.deepEqual([doc.exitCode, doc.commandExitCode, doc.outcome], [8, 1, "command-failed"]);
  });

  it("with --on-failure in, returns the host anyway and still exits 8", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const res = await runCli(sim.hosts[A]!, ["run", "--on-failure", "in", "--", "sh", "-c", "exit 5"]);
    assert.equal(res.code, 8);
    assert.match(res.stderr, /failed with exit code 5; i-0a000000000000001 is in: InService/);
    assert.equal(await lifecycleOf(sim, A), "InService");
  });

  it("forwards SIGTERM to the command, leaves the host out, and exits 143", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    // The command announces itself (on stderr) only once its trap is set.
    const script = 'trap "echo got-TERM; exit 0" TERM; echo started >&2; while true; do sleep 0.1; done';
    const res = await runCli(sim.hosts[A]!, ["run", "--", "sh", "-c", script], {
      interrupt: { signal: "SIGTERM", when: /^started$/m },
    });
    assert.equal(res.code, 143);
    assert.match(res.stdout, /^got-TERM\n/);
    assert.match(
      res.stderr,
      /interrupted by SIGTERM while running sh -c .*: this host is out; run `balanced in` to return it\n$/,
    );
    assert.equal(await lifecycleOf(sim, A), "Standby");
  });

  it("refuses `run` without a command (exit 2)", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const res = await runCli(sim.hosts[A]!, ["run"]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /run needs a command after --/);
  });
});

describe("interrupted waits: exit 130, AWS left as it is, the command that continues", () => {
  let sim: Sim | undefined;
  afterEach(() => sim?.stop());

  it("SIGINT while waiting to be healthy", async () => {
    const f = loadFleet("three-hosts");
    f.targetGroups![0]!.healthCheck = { interval: 5, healthyThreshold: 3 };
    sim = await startSim(f);
    assert.equal((await runCli(sim.hosts[A]!, ["out", "-q"])).code, 0);
    const res = await runCli(sim.hosts[A]!, ["in"], {
      interrupt: { signal: "SIGINT", when: /InService; elb/ },
    });
    assert.equal(res.code, 130);
    assert.match(
      res.stderr,
      /interrupted by SIGINT: host is InService \(.*tg\/web-tg: registering\); run `balanced in` to continue\n$/,
    );
    assert.equal((await runCli(sim.hosts[A]!, ["in", "-q"])).code, 0);
  });

  it("SIGINT while waiting for a turn changes nothing", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await control(sim, "POST", "events", { kind: "set-lifecycle", instance: B, state: "Pending" });
    const res = await runCli(sim.hosts[A]!, ["out", "--wait-for-turn", "60s"], {
      interrupt: { signal: "SIGINT", when: /waiting for a turn/ },
    });
    assert.equal(res.code, 130);
    assert.match(
      res.stderr,
      /interrupted by SIGINT: this host has not left; nothing changed; run `balanced out` to continue/,
    );
    assert.equal(await lifecycleOf(sim, A), "InService");
    assert.equal((await group(sim)).tags["balanced:turn"], undefined, "the turn was given back");
  });
});

/**
 * SIGKILL at every step boundary, then the same command again: it must complete the job. The kill
 * lands as soon as the step is announced, so the step's AWS call may or may not have been made.
 */
describe("killed (SIGKILL) at any step, the same command run again completes the job", () => {
  let sim: Sim | undefined;
  afterEach(() => sim?.stop());

  const atMin = (): FleetFile => loadFleet("min-equals-desired");
  const outArgs = ["out", "--max-unavailable", "50%"];

  const outSteps: [string, RegExp][] = [
    ["taking the turn", /taking the group's turn/],
    ["lowering MinSize", /lowering MinSize/],
    ["entering standby", /entering standby/],
    ["waiting to leave", /EnteringStandby; elb/],
  ];
  for (const [name, when] of outSteps) {
    it(`out, killed while ${name}`, async () => {
      sim = await startSim(atMin());
      const killed = await runCli(sim.hosts[A]!, outArgs, { interrupt: { signal: "SIGKILL", when } });
      assert.equal(killed.signal, "SIGKILL");
      const again = await runCli(sim.hosts[A]!, outArgs);
      assert.equal(again.code, 0, again.stderr);
      const g = await group(sim);
      assert.equal(await lifecycleOf(sim, A), "Standby");
      assert.deepEqual(await registrationsOf(sim, A), { classic: {}, targets: {} });
      assert.deepEqual([g.min, g.desired], [1, 1]);
      assert.match(g.tags[`balanced:min-size:${A}`] ?? "", /^original=2 lowered-to=1/);
      assert.equal(g.tags["balanced:turn"], undefined, "no turn left behind");
    });
  }

  const inSteps: [string, RegExp][] = [
    ["exiting standby", /exiting standby/],
    ["waiting to be healthy", /InService; elb/],
    ["restoring MinSize", /restoring MinSize/],
  ];
  for (const [name, when] of inSteps) {
    it(`in, killed while ${name}`, async () => {
      sim = await startSim(atMin());
      assert.equal((await runCli(sim.hosts[A]!, [...outArgs, "-q"])).code, 0);
      const killed = await runCli(sim.hosts[A]!, ["in"], { interrupt: { signal: "SIGKILL", when } });
      assert.equal(killed.signal, "SIGKILL");
      const again = await runCli(sim.hosts[A]!, ["in"]);
      assert.equal(again.code, 0, again.stderr);
      const g = await group(sim);
      assert.equal(await lifecycleOf(sim, A), "InService");
      assert.deepEqual(await registrationsOf(sim, A), {
        classic: { "web-classic": "InService" },
        targets: { "web-tg": "healthy" },
      });
      assert.deepEqual([g.min, g.desired], [2, 2]);
      assert.deepEqual(
        Object.keys(g.tags).filter((k) => k.startsWith("balanced:")),
        [],
      );
    });
  }
});
