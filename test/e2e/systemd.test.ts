import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { BUNDLE, lifecycleOf, registrationsOf, runCli, simState } from "../helpers/cli";
import { control } from "../helpers/clients";
import { needs, tempDir } from "../helpers/system";
import { loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const A = "i-0a000000000000001";
const B = "i-0a000000000000002";
const UNIT_PATH = join(import.meta.dirname, "..", "..", "systemd", "balanced.service");
const unit = readFileSync(UNIT_PATH, "utf8");

/** One `Key=value` of the unit; the test fails if the unit does not have it exactly once. */
function setting(key: string): string {
  const values = [...unit.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => m[1]!);
  assert.equal(values.length, 1, `${key}= appears ${values.length} times in the unit`);
  return values[0]!;
}

/** The arguments of an Exec line after the installed binary: what the tests run through the bundle. */
function execArgs(key: "ExecStart" | "ExecStop"): string[] {
  const line = setting(key).replace(/^-/, "");
  const [binary, ...args] = line.split(/\s+/);
  assert.equal(binary, "/usr/local/bin/balanced");
  return args;
}

const stop = (sim: Sim, id: string) => runCli(sim.hosts[id]!, execArgs("ExecStop"));
const start = (sim: Sim, id: string) => runCli(sim.hosts[id]!, execArgs("ExecStart"));
const groupTags = async (sim: Sim) => (await simState(sim)).groups[0]!.tags;
const SHUTDOWN_TAG = `balanced:shutdown:${A}`;

describe("systemd/balanced.service", () => {
  it("passes systemd-analyze verify without a warning", {
    skip: needs(["systemd-analyze"], "systemd"),
  }, () => {
    const res = spawnSync("systemd-analyze", ["verify", UNIT_PATH], { encoding: "utf8" });
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stderr.trim(), "");
  });

  it("never blocks a shutdown: out's deadline is well inside TimeoutStopSec", () => {
    const args = execArgs("ExecStop");
    const timeout = Number(args[args.indexOf("--timeout") + 1]);
    const stopSec = Number(setting("TimeoutStopSec"));
    // Metadata, the reads and the final calls happen outside the wait's deadline: keep 30 s for them.
    assert.ok(timeout > 0 && timeout + 30 <= stopSec, `--timeout ${timeout} vs TimeoutStopSec=${stopSec}`);
    const startArgs = execArgs("ExecStart");
    assert.ok(Number(startArgs[startArgs.indexOf("--timeout") + 1]) < Number(setting("TimeoutStartSec")));
  });

  it("a failed return at boot still leaves the unit active, so the next shutdown drains", () => {
    assert.match(setting("ExecStart"), /^-/);
    assert.equal(setting("Type"), "oneshot");
    assert.equal(setting("RemainAfterExit"), "yes");
    // Both settings files, optional ("-"): Debian's /etc/default, RPM systems' /etc/sysconfig.
    assert.deepEqual(
      [...unit.matchAll(/^EnvironmentFile=(.*)$/gm)].map((m) => m[1]),
      ["-/etc/default/balanced", "-/etc/sysconfig/balanced"],
    );
  });
});

describe("the unit's command lines against the simulator: shutdown drains, boot returns", () => {
  let sim: Sim | undefined;
  afterEach(() => sim?.stop());

  it("reboot: ExecStop drains and records the shutdown on the group; ExecStart brings the host back and forgets it", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const down = await stop(sim, A);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /^i-0a000000000000001 is out: Standby in web, drained from/);
    assert.equal(await lifecycleOf(sim, A), "Standby");
    assert.deepEqual(await registrationsOf(sim, A), { classic: {}, targets: {} });
    assert.match((await groupTags(sim))[SHUTDOWN_TAG] ?? "", /^\d{4}-\d\d-\d\dT/);

    // While it is down, any host's status says why it is out and what brings it back.
    const seen = await runCli(sim.hosts[B]!, ["status"]);
    assert.match(
      seen.stdout,
      /i-0a000000000000001 was taken out by its shutdown at .*: its boot brings it back/,
    );

    const up = await start(sim, A);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /is in: InService in web, healthy in .*; shutdown record removed/);
    assert.equal(await lifecycleOf(sim, A), "InService");
    assert.equal((await groupTags(sim))[SHUTDOWN_TAG], undefined);
  });

  it("a failed return at boot is loud: an error in the journal, and every host's status says so", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    assert.equal((await stop(sim, A)).code, 0);
    // The application does not come back after the reboot: the return times out.
    await control(sim, "POST", "events", {
      kind: "set-health",
      instance: A,
      healthy: false,
      scope: "web-tg",
    });
    // stderr is the journal: systemd names its device and inode in JOURNAL_STREAM.
    const log = join(tempDir("journal"), "stderr");
    const fd = openSync(log, "w");
    const { dev, ino } = fstatSync(fd);
    const args = execArgs("ExecStart").map((a, i, all) => (all[i - 1] === "--timeout" ? "3" : a));
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [BUNDLE, ...args], {
        env: {
          PATH: process.env.PATH,
          NO_COLOR: "1",
          BALANCED_DEFAULTS_FILE: "/nonexistent",
          JOURNAL_STREAM: `${dev}:${ino}`,
          ...sim!.hosts[A]!.env,
        },
        stdio: ["ignore", "ignore", fd],
      });
      child.on("close", resolve);
    });
    closeSync(fd);
    assert.equal(code, 5);
    assert.match(
      readFileSync(log, "utf8"),
      /^<3>balanced: timed out after 3 s waiting for this host to take traffic/m,
    );
    const seen = await runCli(sim.hosts[B]!, ["status"]);
    assert.match(
      seen.stdout,
      /i-0a000000000000001 was taken out by its shutdown at \S+: its return at boot FAILED at \S+ \(exit 5\): see `journalctl -u balanced` there/,
    );
    // Outside the journal, no priority prefix.
    const plain = await runCli(sim.hosts[A]!, ["in", "--after-shutdown", "--timeout", "1"]);
    assert.equal(plain.code, 5);
    assert.match(plain.stderr, /^balanced: timed out/m);
  });

  it("boot leaves a host alone that an operator took out (no shutdown record)", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    assert.equal((await runCli(sim.hosts[A]!, ["out"])).code, 0);
    const up = await start(sim, A);
    assert.equal(up.code, 0, up.stderr);
    assert.match(
      up.stdout,
      /not taken out by a shutdown \(no balanced:shutdown:i-0a000000000000001 tag on web\)/,
    );
    assert.equal(await lifecycleOf(sim, A), "Standby");
    // And a shutdown of a host already out changes nothing and records nothing.
    const down = await stop(sim, A);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /already out/);
    assert.equal((await groupTags(sim))[SHUTDOWN_TAG], undefined);
  });

  it("drains even when the budget would refuse a planned out: the host goes down either way", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await control(sim, "POST", "events", { kind: "set-health", instance: B, healthy: false, scope: "group" });
    const refused = await runCli(sim.hosts[A]!, ["out", "--dry-run"]);
    assert.equal(refused.code, 3, refused.stderr);
    const planned = await runCli(sim.hosts[A]!, [...execArgs("ExecStop"), "--dry-run"]);
    assert.equal(planned.code, 0, planned.stderr);
    assert.match(planned.stdout, /^dry run: shutting down: would record it as .*, although 2 instances/);
    const down = await stop(sim, A);
    assert.equal(down.code, 0, down.stderr);
    assert.match(
      down.stderr,
      /shutting down although 2 instances would be out of service or unhealthy at once \(i-0a000000000000002: Unhealthy in the group, this host\)/,
    );
    assert.equal(await lifecycleOf(sim, A), "Standby");
  });

  it("when the group is terminating the host, waits for AWS's own drain and never calls EnterStandby", async () => {
    const fleet = loadFleet("three-hosts");
    // Long enough a drain that the agent starts while AWS is still draining.
    fleet.loadBalancers![0]!.connectionDraining = { enabled: true, timeout: 8 };
    fleet.targetGroups![0]!.deregistrationDelay = 8;
    sim = await startSim(fleet);
    await control(sim, "POST", "events", { kind: "terminate", instance: A });
    const down = await stop(sim, A);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /^i-0a000000000000001 is drained from .*: web is terminating it/);
    assert.match(down.stderr, /waiting while web drains this host/);
    const calls = (await control(sim, "GET", "calls")) as { action: string; host: string }[];
    const mine = calls.filter((c) => c.host === A).map((c) => c.action);
    assert.ok(!mine.includes("EnterStandby"), mine.join(", "));
    assert.ok(!mine.includes("CreateOrUpdateTags"), "recorded a shutdown for a terminated host");
  });

  it("the mode switches are flags for the unit, never settings from /etc/default/balanced", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const res = await runCli(sim.hosts[A]!, ["out"], { env: { BALANCED_SHUTDOWN: "true" } });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /BALANCED_SHUTDOWN is not a setting: pass --shutdown on the command line/);
    assert.equal(await lifecycleOf(sim, A), "InService");
  });
});
