import { existsSync, readFileSync } from "node:fs";
import { usageError } from "./errors";

/** Where the settings live on a host: the systemd unit's EnvironmentFile, read by every run too. */
export const DEFAULTS_FILE = "/etc/default/balanced";
/** The same file on RPM systems (Amazon Linux), where /etc/default is not the convention. */
export const SYSCONFIG_FILE = "/etc/sysconfig/balanced";

/**
 * Every assignment of an environment file as systemd's EnvironmentFile reads it (systemd.exec(5)):
 * `KEY=value` lines, `#` and `;` comments, optional quotes around the value. systemd exports every
 * variable it finds to the units, so a run from a shell reads the same ones: `BALANCED_*`, and the
 * AWS SDK's own (`AWS_REGION`, `AWS_ENDPOINT_URL_*`, `AWS_USE_FIPS_ENDPOINT`, `AWS_MAX_ATTEMPTS`...)
 * and the proxy variables, so an operator's `balanced out` and the unit behave alike.
 */
export function parseDefaultsFile(text: string): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(raw);
    if (!m) continue;
    const value = m[2]!;
    const quoted = /^(["'])(.*)\1$/.exec(value);
    settings[m[1]!] = quoted ? quoted[2]! : value;
  }
  return settings;
}

/**
 * Which file to read: `--defaults-file PATH` (or `=PATH`), else BALANCED_DEFAULTS_FILE, else
 * /etc/default/balanced, or /etc/sysconfig/balanced where only that one exists.
 */
export function defaultsFilePath(argv: string[], env: NodeJS.ProcessEnv): string {
  const at = argv.indexOf("--defaults-file");
  if (at >= 0 && argv[at + 1]) return argv[at + 1]!;
  const inline = argv.find((a) => a.startsWith("--defaults-file="));
  if (inline) return inline.slice("--defaults-file=".length);
  if (env.BALANCED_DEFAULTS_FILE) return env.BALANCED_DEFAULTS_FILE;
  return !existsSync(DEFAULTS_FILE) && existsSync(SYSCONFIG_FILE) ? SYSCONFIG_FILE : DEFAULTS_FILE;
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
