import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { lifecycleOf, runCli } from "../helpers/cli";
import { tempDir } from "../helpers/system";
import { loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const A = "i-0a000000000000001";

/**
 * One /etc/default/balanced serves every command and the systemd unit. A setting for a flag that
 * one command does not take once broke that command with exit 2 (BALANCED_MIN_HEALTHY broke `in
 * --after-shutdown`, so a reboot no longer returned the host): every command must run with every
 * setting present.
 */
const EVERY_SETTING = [
  "BALANCED_QUIET=true",
  "BALANCED_MIN_HEALTHY=2",
  "BALANCED_MAX_UNAVAILABLE=1",
  "BALANCED_TIMEOUT=2m",
  "BALANCED_MIN_SIZE=lower",
  "BALANCED_WAIT_FOR_TURN=5s",
  "BALANCED_ON_FAILURE=stay",
  "BALANCED_STALE_AFTER=1h",
  "BALANCED_GROUP=web",
  "BALANCED_STANDALONE=false",
  "BALANCED_DISCOVER=false",
  "BALANCED_DRY_RUN=false",
];

describe("settings in /etc/default/balanced apply to the commands that take them, and only those", () => {
  let sim: Sim;
  let dir: string;
  let file: string;
  before(async () => {
    sim = await startSim(loadFleet("three-hosts"));
    dir = tempDir("settings");
    file = join(dir, "balanced");
    writeFileSync(file, `${EVERY_SETTING.join("\n")}\n`);
  });
  after(async () => {
    await sim.stop();
  });
  const cli = (args: string[]) => runCli(sim.hosts[A]!, [...args, "--defaults-file", file]);

  for (const args of [
    ["status"],
    ["out", "--shutdown"],
    ["in", "--after-shutdown"],
    ["out"],
    ["in"],
    ["run", "--", "true"],
    ["repair"],
    ["iam-policy"],
  ]) {
    it(`balanced ${args.join(" ")} runs (exit 0) with every setting in the file`, async () => {
      const res = await cli(args);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stderr, "", "BALANCED_QUIET=true applies to every command");
    });
  }

  it("the settings took effect: the host is back in, and iam-policy scoped to BALANCED_GROUP", async () => {
    assert.equal(await lifecycleOf(sim, A), "InService");
    const policy = JSON.parse((await cli(["iam-policy"])).stdout);
    assert.match(JSON.stringify(policy), /autoScalingGroupName\/web"/);
  });

  it("the AWS SDK's settings in the file apply too, as systemd exports them; the environment still wins", async () => {
    const env = sim.hosts[A]!.env;
    const aws = Object.entries(env).filter(([k]) => k.startsWith("AWS_"));
    const awsFile = join(dir, "aws");
    writeFileSync(
      awsFile,
      [
        ...aws.map(([k, v]) =>
          k === "AWS_ENDPOINT_URL_AUTO_SCALING" ? `${k}=http://127.0.0.1:9` : `${k}=${v}`,
        ),
        "BALANCED_QUIET=true",
        "",
      ].join("\n"),
    );
    const unset = Object.fromEntries(aws.map(([k]) => [k, undefined]));
    const res = await runCli(sim.hosts[A]!, ["status", "--defaults-file", awsFile], {
      env: { ...unset, AWS_ENDPOINT_URL_AUTO_SCALING: env.AWS_ENDPOINT_URL_AUTO_SCALING },
    });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /i-0a000000000000001/);
    // Without the environment's endpoint, the file's (nothing listens there) is the one used.
    const bad = await runCli(sim.hosts[A]!, ["status", "--defaults-file", awsFile], {
      env: unset,
    });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /127\.0\.0\.1:9|could not reach AWS|ECONNREFUSED/);
  });

  it("a misspelt setting still fails, named as a setting, with what it likely meant", async () => {
    const res = await runCli(sim.hosts[A]!, ["in"], { env: { BALANCED_MIN_HEALTY: "2" } });
    assert.equal(res.code, 2);
    assert.equal(
      res.stderr,
      "balanced: unknown setting BALANCED_MIN_HEALTY (in the environment or the settings file): did you mean BALANCED_MIN_HEALTHY?\n",
    );
  });

  it("a setting's value is checked where the command takes it", async () => {
    const bad = await runCli(sim.hosts[A]!, ["out"], { env: { BALANCED_MIN_SIZE: "maybe" } });
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'balanced: --min-size takes lower or refuse, not "maybe"\n');
    const flag = await runCli(sim.hosts[A]!, ["in", "--quiet"], { env: { BALANCED_QUIET: "maybe" } });
    assert.equal(flag.code, 2);
    assert.equal(flag.stderr, 'balanced: BALANCED_QUIET takes true or false, not "maybe"\n');
  });
});
