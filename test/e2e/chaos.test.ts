import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";

const ROOT = join(import.meta.dirname, "..", "..");

/** `npm run chaos` without its build step (npm test has built dist/ already). */
function chaos(
  args: string[],
): Promise<{ code: number | null; stdout: string; summary: Record<string, unknown> }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(ROOT, "scripts", "chaos.ts"), ...args, "--json"],
      {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.on("close", (code) => {
      const last = stdout.trim().split("\n").at(-1) ?? "{}";
      resolve({ code, stdout, summary: JSON.parse(last) as Record<string, unknown> });
    });
  });
}

/**
 * A short chaos run in every test run: the checker must see the unguarded mover's violation (else a
 * green soak proves nothing), and the agent must hold in the configurations it holds today. The long
 * soaks and the hostile configurations are `npm run chaos` (docs/chaos.md).
 */
describe("npm run chaos", () => {
  it("--naive: the unguarded mover is caught (violations > 0, exit 1), with a seed to replay it", async () => {
    const res = await chaos(["--naive", "--trials", "1", "--seed", "7"]);
    assert.equal(res.code, 1, res.stdout);
    assert.equal(res.summary.trials, 1);
    assert.equal(res.summary.violations, 1);
    assert.deepEqual(res.summary.failedSeeds, [7]);
    assert.match(res.stdout, /violation: web: 3 out of service at once \(budget 1\)/);
    assert.match(res.stdout, /replay: npm run chaos -- .*--naive.* --seed 7 --trials 1/);
  });

  it("balanced: 2 trials of 3 agents at once with random latency: no violation, nothing left behind", async () => {
    const res = await chaos(["--hosts", "3", "--trials", "2", "--parallel", "2", "--seed", "11"]);
    assert.equal(res.code, 0, res.stdout);
    assert.deepEqual([res.summary.trials, res.summary.violations, res.summary.incomplete], [2, 0, 0]);
  });
});
