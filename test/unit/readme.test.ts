import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  BUDGET_OPTIONS,
  GLOBAL_OPTIONS,
  IAM_OPTIONS,
  MOVE_OPTIONS,
  OUT_OPTIONS,
  RUN_OPTIONS,
  STATUS_OPTIONS,
} from "../../src/cli";
import { iamPolicy } from "../../src/core/iam";
import { EXIT_CODE_MEANINGS } from "../../src/errors";

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

  it("documents every flag with its BALANCED_* environment variable", () => {
    for (const flag of Object.keys({
      ...GLOBAL_OPTIONS,
      ...MOVE_OPTIONS,
      ...BUDGET_OPTIONS,
      ...OUT_OPTIONS,
      ...STATUS_OPTIONS,
      ...RUN_OPTIONS,
      ...IAM_OPTIONS,
    })) {
      const env = `BALANCED_${flag.toUpperCase().replace(/-/g, "_")}`;
      assert.match(
        readme,
        new RegExp(`\\| \`--${flag}[^|]*\\| \`${env}\` \\|`),
        `README options table lacks --${flag} / ${env}`,
      );
    }
  });
});

describe("the IAM policy", () => {
  it("README shows exactly what `balanced iam-policy` prints", () => {
    const shown = /## IAM policy[\s\S]*?```json\n([\s\S]*?)\n```/.exec(readme)?.[1];
    assert.deepEqual(JSON.parse(shown ?? "null"), iamPolicy([]));
  });
  it("scopes the changes to named groups, and never the reads", () => {
    const p = iamPolicy(["web", "api"]);
    assert.deepEqual(p.Statement[1]!.Resource, [
      "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/web",
      "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/api",
    ]);
    assert.equal(p.Statement[0]!.Resource, "*");
  });
});
