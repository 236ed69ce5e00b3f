import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BUNDLE, runCli } from "../helpers/cli";

/** Commands that need no AWS: no simulator, and no metadata endpoint (a call to one would fail). */
const NO_HOST = { imds: "", env: { AWS_EC2_METADATA_DISABLED: "true" } };
const bare = (args: string[]) => runCli(NO_HOST, args);
const { version } = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8"));

describe("the CLI's own answers: help, version, usage errors, completion", () => {
  it("--version prints package.json's version", async () => {
    const res = await bare(["--version"]);
    assert.equal(res.code, 0);
    assert.equal(res.stdout, `${version}\n`);
  });

  it("--help lists every command and the exit codes", async () => {
    const res = await bare(["--help"]);
    assert.equal(res.code, 0);
    for (const command of ["status", "out", "in", "run", "repair", "iam-policy", "completion"])
      assert.match(res.stdout, new RegExp(`balanced ${command}\\b`));
    assert.match(res.stdout, /Exit codes:\n\s+0 {2}done, or nothing to do/);
  });

  it("a bad flag is a one-line usage error (exit 2), never a stack trace", async () => {
    const res = await bare(["out", "--max-unavailabel", "2"]);
    assert.equal(res.code, 2);
    assert.match(
      res.stderr,
      /^balanced: unknown argument: --max-unavailabel \(did you mean --max-unavailable\?\)\n$/,
    );
    assert.doesNotMatch(res.stderr, /\n\s+at /);
  });

  it("prints a bash completion script that asks the CLI for candidates", async () => {
    const res = await bare(["completion"]);
    assert.equal(res.code, 0);
    assert.match(res.stdout, /complete -o bashdefault -o default -F _balanced_yargs_completions balanced/);
    assert.match(res.stdout, /balanced --get-yargs-completions/);
  });

  it("completes commands, a command's flags and a flag's choices", async () => {
    const complete = async (...words: string[]) =>
      (await bare(["--get-yargs-completions", ...words])).stdout.trim().split("\n");
    assert.ok((await complete("o")).includes("out"));
    const outFlags = await complete("out", "--");
    for (const flag of ["--min-healthy", "--wait-for-turn", "--shutdown", "--dry-run"])
      assert.ok(outFlags.includes(flag), flag);
    assert.ok(!outFlags.includes("--after-shutdown"), "an `in` flag offered for `out`");
    assert.deepEqual(await complete("out", "--min-size", ""), ["lower", "refuse"]);
  });

  it("the completion script works in bash", () => {
    // Source the script with `balanced` on PATH, then ask bash's own completion for `balanced ou`.
    const script = `
      balanced() { node ${JSON.stringify(BUNDLE)} "$@"; }
      export -f balanced
      source <(balanced completion)
      COMP_WORDS=(balanced ou); COMP_CWORD=1
      _balanced_yargs_completions
      printf '%s\\n' "\${COMPREPLY[@]}"`;
    const res = spawnSync("bash", ["-c", script], {
      encoding: "utf8",
      env: { ...process.env, ...NO_HOST.env },
    });
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout.trim(), "out");
  });
});
