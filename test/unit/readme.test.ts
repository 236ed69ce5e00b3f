import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DEFAULTS_PATH, defaultsFile, readmeWithTable } from "../../scripts/docs";
import { ALL_OPTIONS, envName, FLAG_ONLY } from "../../src/cli";
import { iamPolicy } from "../../src/core/iam";
import { EXIT_CODE_MEANINGS } from "../../src/errors";

const NO_SCOPE = { groups: [], standalone: false, loadBalancerNames: [], targetGroupArns: [] };
const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");

describe("README.md stays in step with the code", () => {
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
