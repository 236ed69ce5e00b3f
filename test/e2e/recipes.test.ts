import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { BUNDLE, lifecycleOf } from "../helpers/cli";
import { control } from "../helpers/clients";
import { tempDir } from "../helpers/system";
import { loadFleet } from "../sim/fleet";
import { type HostInfo, type Sim, startSim } from "../sim/server";

const README = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");
const A = "i-0a000000000000001";
const B = "i-0a000000000000002";
const C = "i-0a000000000000003";

/** The bash block that follows `<!-- recipe: NAME ... -->` in the README, exactly as shown there. */
function recipe(name: string): string {
  const block = new RegExp(`<!-- recipe: ${name}\\b[^>]*-->\\n\`\`\`bash\\n([\\s\\S]*?)\\n\`\`\``).exec(
    README,
  );
  assert.ok(block, `README has no recipe ${name}`);
  return block[1]!;
}

/** The knife command's remote command line, as the README's first example shows it. */
const KNIFE_CHAIN = /knife ssh -C1 'role:web' '([^']+)'/.exec(README)?.[1];

/**
 * A host's shell: `balanced` is the built bundle, and `sudo` stands in for the deploy (it prints what
 * it would run, and fails when DEPLOY_FAILS is set).
 */
function shellFor(host: HostInfo): Record<string, string> {
  const bin = tempDir("recipe");
  writeFileSync(join(bin, "balanced"), `#!/bin/sh\nexec "${process.execPath}" "${BUNDLE}" "$@"\n`);
  writeFileSync(join(bin, "sudo"), '#!/bin/sh\necho "deployed: $*"\n[ -z "$DEPLOY_FAILS" ]\n');
  chmodSync(join(bin, "balanced"), 0o755);
  chmodSync(join(bin, "sudo"), 0o755);
  return {
    ...host.env,
    PATH: `${bin}:${process.env.PATH}`,
    HOME: bin,
    NO_COLOR: "1",
    BALANCED_DEFAULTS_FILE: join(bin, "no-settings-file"),
  };
}

function bash(
  script: string,
  env: Record<string, string>,
  onStderr?: { when: RegExp; run: () => void },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", script], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let hook = onStderr;
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
      if (hook?.when.test(stderr)) {
        hook.run();
        hook = undefined;
      }
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("README recipes, run as shown", () => {
  let sim: Sim | undefined;
  afterEach(() => sim?.stop());

  it("bash: retries exit 4 until the group is steady, then deploys and comes back", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await control(sim, "POST", "events", { kind: "start-activity", group: "web" });
    const res = await bash(
      recipe("bash-retry"),
      { ...shellFor(sim.hosts[A]!), RETRY_EVERY: "1" },
      {
        when: /busy, retrying/,
        run: () => void control(sim!, "POST", "events", { kind: "finish-activity", group: "web" }),
      },
    );
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /balanced: refusing: group web is busy: scaling activity in progress/);
    assert.match(
      res.stdout,
      /is out: Standby in web[\s\S]*deployed: chef-client[\s\S]*is in: InService in web/,
    );
    assert.equal(await lifecycleOf(sim, A), "InService");
  });

  it("bash: stops at once on anything but exit 4, and never deploys", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await control(sim, "POST", "events", { kind: "set-health", instance: B, healthy: false, scope: "group" });
    const res = await bash(recipe("bash-retry"), { ...shellFor(sim.hosts[A]!), RETRY_EVERY: "1" });
    assert.equal(res.code, 3, res.stderr);
    assert.doesNotMatch(res.stderr, /retrying/);
    assert.doesNotMatch(res.stdout, /deployed/);
    assert.equal(await lifecycleOf(sim, A), "InService");
  });

  it("knife ssh -C1: a failed deploy stays out, and every following host refuses (exit 3)", async () => {
    assert.ok(KNIFE_CHAIN, "README lost its knife example");
    sim = await startSim(loadFleet("three-hosts"));
    // knife goes on to the next node whatever the last one's exit: run the chain on each in turn.
    const first = await bash(KNIFE_CHAIN, { ...shellFor(sim.hosts[A]!), DEPLOY_FAILS: "1" });
    assert.equal(first.code, 1);
    assert.equal(await lifecycleOf(sim, A), "Standby");
    for (const host of [B, C]) {
      const next = await bash(KNIFE_CHAIN, shellFor(sim.hosts[host]!));
      assert.equal(next.code, 3, next.stderr);
      assert.doesNotMatch(next.stdout, /deployed/);
      assert.equal(await lifecycleOf(sim, host), "InService");
    }
  });
});
