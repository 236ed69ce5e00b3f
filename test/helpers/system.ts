import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A test that needs a Debian package skips with a one-line reason naming it when the package is
 * missing (a fresh machine), and runs where `.ci/run` installed it.
 */
export function needs(commands: string[], packages: string, files: string[] = []): string | false {
  const missing = [
    ...commands.filter((c) => spawnSync("sh", ["-c", `command -v ${c}`]).status !== 0),
    ...files.filter((f) => !existsSync(f)),
  ];
  return missing.length ? `needs ${missing.join(", ")}: apt-get install ${packages}` : false;
}

const temps: string[] = [];
process.on("exit", () => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the system's temp dir, removed when this test process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `balanced-${prefix}-`));
  temps.push(dir);
  return dir;
}
