import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { HostInfo, Sim } from "../sim/server";
import { control } from "./clients";
import { tempDir } from "./system";

export const BUNDLE = join(import.meta.dirname, "..", "..", "dist", "balanced.js");

/** No ~/.aws of the developer's leaks into a test. */
const EMPTY_HOME = tempDir("home");

/**
 * systemd as the agent sees it, the same on every machine: a `systemctl` first on PATH that reports
 * the system state in SYSTEMCTL_STATE (default `stopping`: a test's `out --shutdown` is a real
 * shutdown) and the jobs in SYSTEMCTL_JOBS ("ID UNIT TYPE STATE" lines), as systemctl prints them.
 */
export const FAKE_BIN = tempDir("bin");
writeFileSync(
  join(FAKE_BIN, "systemctl"),
  `#!/bin/sh
case "$1" in
  is-system-running) echo "\${SYSTEMCTL_STATE:-stopping}"; [ "\${SYSTEMCTL_STATE:-stopping}" = running ] ;;
  list-jobs) [ -n "\${SYSTEMCTL_JOBS:-}" ] && printf '%s\\n' "$SYSTEMCTL_JOBS"; exit 0 ;;
  *) exec /usr/bin/systemctl "$@" ;;
esac
`,
  { mode: 0o755 },
);

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  /** Send this signal once stderr matches `when` (and `afterMs` more have passed). */
  interrupt?: { signal: NodeJS.Signals; when: RegExp; afterMs?: number };
  /** Run `run` once, when stderr first matches `when` (to make something happen mid-run). */
  onStderr?: { when: RegExp; run: () => void };
  /** SIGKILL the child if it is still running after this long: turns a hang into a failed assertion. */
  killAfterMs?: number;
  /** Run this executable instead of `node dist/balanced.js` (the single executable build). */
  executable?: string;
}

/** Runs the built CLI as a host would: a child process whose only AWS settings are the host's env. */
export function runCli(
  host: Pick<HostInfo, "env">,
  args: string[],
  opts: CliOptions = {},
): Promise<CliResult> {
  const env: Record<string, string> = {
    PATH: `${FAKE_BIN}:${process.env.PATH ?? ""}`,
    HOME: EMPTY_HOME,
    NO_COLOR: "1",
    // A developer's own /etc/default/balanced stays out of the tests (a test can point elsewhere).
    BALANCED_DEFAULTS_FILE: join(EMPTY_HOME, "no-settings-file"),
    // The simulator answers describes freshly unless a test injects stale reads (npm run chaos does,
    // with the agent's default bound): say so, and the turn settles in 2.5 s instead of 8.5 s.
    BALANCED_STALENESS_BOUND: "0",
  };
  for (const [k, v] of Object.entries({ ...host.env, ...opts.env })) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const [command, argv] = opts.executable ? [opts.executable, args] : [process.execPath, [BUNDLE, ...args]];
    const child = spawn(command, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let sent = false;
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      const hook = opts.onStderr;
      if (hook?.when.test(stderr)) {
        opts.onStderr = undefined;
        hook.run();
      }
      if (opts.interrupt && !sent && opts.interrupt.when.test(stderr)) {
        sent = true;
        const { signal, afterMs } = opts.interrupt;
        if (afterMs) setTimeout(() => child.kill(signal), afterMs);
        else child.kill(signal);
      }
    });
    const killer = opts.killAfterMs ? setTimeout(() => child.kill("SIGKILL"), opts.killAfterMs) : undefined;
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

export interface SimInstanceState {
  id: string;
  group: string | null;
  lifecycleState: string;
  health: string;
}

export interface SimStateView {
  groups: { name: string; min: number; max: number; desired: number; tags: Record<string, string> }[];
  instances: SimInstanceState[];
  loadBalancers: { name: string; instances: Record<string, string> }[];
  targetGroups: {
    name: string;
    targets: { id: string; port: number; state: string; reason: string | null }[];
  }[];
}

export const simState = async (sim: Sim) => (await control(sim, "GET", "state")) as SimStateView;

export const lifecycleOf = async (sim: Sim, id: string) =>
  (await simState(sim)).instances.find((i) => i.id === id)?.lifecycleState;

/** This instance's registrations: in which classic ELBs and target groups it is listed, and how. */
export async function registrationsOf(sim: Sim, id: string) {
  const s = await simState(sim);
  return {
    classic: Object.fromEntries(
      s.loadBalancers.filter((lb) => id in lb.instances).map((lb) => [lb.name, lb.instances[id]]),
    ),
    targets: Object.fromEntries(
      s.targetGroups.flatMap((tg) => tg.targets.filter((t) => t.id === id).map((t) => [tg.name, t.state])),
    ),
  };
}
