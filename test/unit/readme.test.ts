import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type PerfReport, summarize, withPerfTable } from "../../scripts/bench-table";
import { DEFAULTS_PATH, defaultsFile, readmeWithTable } from "../../scripts/docs";
import { ALL_OPTIONS, envName, FLAG_ONLY } from "../../src/cli";
import { iamPolicy } from "../../src/core/iam";
import { EXIT_CODE_MEANINGS } from "../../src/errors";

const NO_SCOPE = { groups: [], standalone: false, loadBalancerNames: [], targetGroupArns: [] };
const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");

describe("README.md stays in step with the code", () => {
  it("docs/performance.md has the performance table exactly as generated from scripts/bench-report.json", () => {
    const report = JSON.parse(
      readFileSync(join(import.meta.dirname, "..", "..", "scripts", "bench-report.json"), "utf8"),
    ) as PerfReport;
    const performance = readFileSync(join(import.meta.dirname, "..", "..", "docs", "performance.md"), "utf8");
    assert.equal(
      performance,
      withPerfTable(performance, report),
      "run: npm run bench -- --table scripts/bench-report.json --readme",
    );
  });

  it("has the exit-code table exactly as src/errors.ts defines it", () => {
    for (const [code, meaning] of EXIT_CODE_MEANINGS) {
      assert.ok(
        readme.includes(`| ${code} | ${meaning} |`),
        `README is missing exit code row: | ${code} | ${meaning} |`,
      );
    }
    const rows = readme.match(/^\| \d+ \| /gm) ?? [];
    assert.equal(rows.length, EXIT_CODE_MEANINGS.length, "README lists an exit code the code does not have");
  });

  it("has the options table exactly as `npm run docs` generates it from src/cli.ts", () => {
    assert.equal(readme, readmeWithTable(readme), "README options table is stale: run npm run docs");
    for (const flag of Object.keys(ALL_OPTIONS))
      assert.ok(readme.includes(`| \`--${flag}`), `--${flag} missing`);
  });

  it("ships /etc/default/balanced exactly as generated, with every BALANCED_* setting", () => {
    const shipped = readFileSync(DEFAULTS_PATH, "utf8");
    assert.equal(shipped, defaultsFile(), "systemd/balanced.default is stale: run npm run docs");
    for (const flag of Object.keys(ALL_OPTIONS)) {
      const line = new RegExp(`^#${envName(flag)}=`, "m");
      if (FLAG_ONLY.has(flag) || flag === "defaults-file") assert.doesNotMatch(shipped, line);
      else assert.match(shipped, line);
    }
  });
});

describe("the IAM policy", () => {
  it("README shows exactly what `balanced iam-policy` prints", () => {
    const shown = /## IAM policy[\s\S]*?```json\n([\s\S]*?)\n```/.exec(readme)?.[1];
    assert.deepEqual(JSON.parse(shown ?? "null"), iamPolicy(NO_SCOPE));
  });
  it("scopes the changes to named groups, and never the reads", () => {
    const p = iamPolicy({ ...NO_SCOPE, groups: ["web", "api"] });
    assert.deepEqual(p.Statement[1]!.Resource, [
      "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/web",
      "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/api",
    ]);
    assert.equal(p.Statement[0]!.Resource, "*");
  });
});

describe("the benchmark's summaries", () => {
  it("a true median for an even n, the max below 20 runs, a nearest-rank p95 from 20", () => {
    assert.deepEqual(summarize([4, 1, 3, 2]), { median: 2.5, max: 4, n: 4 });
    assert.deepEqual(summarize([5, 1, 3]), { median: 3, max: 5, n: 3 });
    const twenty = Array.from({ length: 20 }, (_, i) => i + 1);
    assert.deepEqual(summarize(twenty), { median: 10.5, p95: 19, n: 20 });
  });
});
