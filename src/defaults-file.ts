import { readFileSync } from "node:fs";
import { usageError } from "./errors";

/** Where the settings live on a host: the systemd unit's EnvironmentFile, read by every run too. */
export const DEFAULTS_FILE = "/etc/default/balanced";

/**
 * The `BALANCED_*` assignments of an environment file as systemd's EnvironmentFile reads it:
 * `KEY=value` lines, `#` comments, optional quotes around the value. Other variables are ignored.
 */
export function parseDefaultsFile(text: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const m = /^\s*(?:export\s+)?(BALANCED_[A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(raw);
    if (!m) continue;
    const value = m[2]!;
    const quoted = /^(["'])(.*)\1$/.exec(value);
    settings[m[1]!] = quoted ? quoted[2]! : value;
  }
  return settings;
}

/** Which file to read: `--defaults-file PATH` (or `=PATH`), else BALANCED_DEFAULTS_FILE, else the default. */
export function defaultsFilePath(argv: string[], env: NodeJS.ProcessEnv): string {
  const at = argv.indexOf("--defaults-file");
  if (at >= 0 && argv[at + 1]) return argv[at + 1]!;
  const inline = argv.find((a) => a.startsWith("--defaults-file="));
  if (inline) return inline.slice("--defaults-file=".length);
  return env.BALANCED_DEFAULTS_FILE ?? DEFAULTS_FILE;
}

/**
 * Loads the file's settings into `env` where the environment does not set them already (the
 * environment and then the flags win), so an operator's `balanced out` and the systemd unit agree.
 * A missing file is no error: the settings are optional.
 */
export function loadDefaultsFile(argv: string[], env: NodeJS.ProcessEnv): void {
  const path = defaultsFilePath(argv, env);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw usageError(`cannot read the settings file ${path}: ${(err as Error).message}`);
  }
  for (const [key, value] of Object.entries(parseDefaultsFile(text))) env[key] ??= value;
}
