/**
 * The chaos harness: N agents at once on N simulated hosts doing what operators do, under the faults
 * AWS really has, each trial checked by the checker. It knows nothing of the invariants (those are
 * test/chaos/checker.ts); it only drives the trial and collects what happened.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  DescribeAutoScalingInstancesCommand,
  EnterStandbyCommand,
  ExitStandbyCommand,
} from "@aws-sdk/client-auto-scaling";
import { envName } from "../../src/cli";
import { BUNDLE } from "../helpers/cli";
import { clientsFor, control } from "../helpers/clients";
import { type SimProcess, startSimProcess } from "../helpers/sim-process";
import { tempDir } from "../helpers/system";
import type { FaultSpec } from "../sim/faults";
import { seededRandom } from "../sim/faults";
import type { HostInfo, SimState } from "../sim/server";
import type { ServingChange } from "../sim/world";
import { type Budget, checkBudgets, checkEnd, type Violation } from "./checker";

export type Scenario = "chain" | "run" | "repair" | "shutdown";

export interface ChaosConfig {
  fleet: string;
  /** Agents, one per host, all started at once. */
  hosts: number;
  /** stale-reads: every describe up to this old. */
  staleMs: number;
  lostResponses: boolean;
  /** slow-apply on acting calls, at the start or the end of this many ms. */
  slowMs: number;
  kill: boolean;
  pause: boolean;
  /** Each host's wall clock off by up to ± this (faketime). */
  skewMs: number;
  agentArgs: string[];
  /** `--lock dynamodb:TABLE` for every agent: the table is created in each trial's simulator. */
  lockTable?: string | undefined;
  /** A deliberately unguarded mover instead of the agent: the control that must fail. */
  naive: boolean;
  scenarios: Scenario[];
}

export interface TrialResult {
  seed: number;
  violations: Violation[];
  incomplete: string[];
  t0: number;
  durationMs: number;
  /** Per host, the commands run and how each ended: "out:0 in:0". */
  runs: Record<string, string[]>;
}

/** How long one trial may take before its operators give up retrying (the host then stays in). */
const TRIAL_BUDGET_MS = 150_000;
/** Each agent run is killed outright past this: a hang is a result, not a stuck harness. */
const AGENT_HARD_LIMIT_MS = 240_000;
/** After the operators are done, how long AWS may take to settle what they left in motion. */
const SETTLE_MS = 30_000;

/** The agent's default --staleness-bound (src/aws/turn.ts). */
const DEFAULT_BOUND_MS = 3000;
const KILL_PROBABILITY = 0.3;
const PAUSE_PROBABILITY = 0.3;
const LOST_PROBABILITY = 0.1;
const SLOW_PROBABILITY = 0.3;

/** The faults of one trial, as `POST /_sim/faults` takes them. */
export function faultsFor(cfg: ChaosConfig): FaultSpec[] {
  const faults: FaultSpec[] = [
    // Calls take time and arrive in any order, always.
    { service: "*", kind: "latency", ms: 0, jitterMs: 250 },
  ];
  if (cfg.staleMs > 0) faults.push({ service: "*", kind: "stale-reads", ms: cfg.staleMs });
  if (cfg.lostResponses) faults.push({ service: "*", kind: "lost-response", probability: LOST_PROBABILITY });
  if (cfg.slowMs > 0) {
    faults.push({
      service: "*",
      kind: "slow-apply",
      ms: cfg.slowMs,
      applyAt: "start",
      probability: SLOW_PROBABILITY / 2,
    });
    faults.push({
      service: "*",
      kind: "slow-apply",
      ms: cfg.slowMs,
      applyAt: "end",
      probability: SLOW_PROBABILITY / 2,
    });
  }
  return faults;
}

/** The budget the agents ran with, per group and per load balancer of the agents' groups. */
export function budgetsFor(cfg: ChaosConfig, start: SimState): Budget[] {
  const count = (flag: string, fallback: number) => {
    const at = cfg.agentArgs.indexOf(flag);
    const v = at >= 0 ? cfg.agentArgs[at + 1] : undefined;
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : fallback;
  };
  const maxUnavailable = count("--max-unavailable", 1);
  const minHealthy = count("--min-healthy", 1);
  const budgets: Budget[] = start.groups.map((g) => ({
    scope: g.name,
    maxUnavailable,
    minServing: minHealthy,
  }));
  for (const lb of start.loadBalancers)
    budgets.push({ scope: `elb/${lb.name}`, maxUnavailable, minServing: 1 });
  for (const tg of start.targetGroups)
    budgets.push({ scope: `tg/${tg.name}`, maxUnavailable, minServing: 1 });
  return budgets;
}

/**
 * `--agent-args "--max-unavailable 2 --wait-for-turn 30s"` as BALANCED_* settings: each command takes
 * the ones it has a flag for (out the budget, in the timeout), as /etc/default/balanced would.
 */
export function settingsOf(agentArgs: string[]): Record<string, string> {
  const settings: Record<string, string> = {};
  for (let i = 0; i < agentArgs.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(agentArgs[i]!);
    if (!m) throw new Error(`--agent-args: expected --flag [value], not ${agentArgs[i]}`);
    const next = agentArgs[i + 1];
    const takesNext = m[2] === undefined && next !== undefined && !next.startsWith("--");
    const value = m[2] ?? (takesNext ? next : "true");
    if (takesNext) i++;
    settings[envName(m[1]!)] = value;
  }
  return settings;
}

/**
 * CHAOS_TRACE=FILE (for replaying one trial): the agents run without -q, and each run's whole
 * stderr, with its host, pid, times and exit, is appended to FILE, then the simulator's call log.
 * CHAOS_TRACE_DIR=DIR (for a soak): the same trace, kept only for a trial that fails, as
 * DIR/seed-K.log: a timing-dependent failure seldom comes back on replay, so its one trace is
 * what there is to explain it.
 */
const TRACE = process.env.CHAOS_TRACE;
const TRACE_DIR = process.env.CHAOS_TRACE_DIR;
const TRACING = TRACE !== undefined || TRACE_DIR !== undefined;

/** Agents still running: killed when the harness exits, so that none is left behind it stopped (SIGSTOP). */
const liveAgents = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveAgents) child.kill("SIGKILL");
});

/**
 * libfaketime, loaded into the agent itself (LD_PRELOAD with FAKETIME), not through Debian's
 * `faketime` wrapper: the wrapper runs the agent as its child and keeps the signals sent to it, so a
 * SIGKILL, SIGTERM or SIGSTOP meant for the agent killed or paused the wrapper alone and the agent
 * ran on (reproduced with `faketime -f +1s sleep 100`); a killed wrapper also left its semaphore in
 * /dev/shm, and a later wrapper given the same pid failed to start ("sem_open: File exists", exit 1).
 */
const LIBFAKETIME = [
  "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/faketime/libfaketime.so.1",
].find((path) => existsSync(path));
export const hasFaketime = () => LIBFAKETIME !== undefined;

interface AgentRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

class Trial {
  readonly runs: Record<string, string[]> = {};
  readonly t0 = Date.now();
  /** This trial's trace, with CHAOS_TRACE_DIR: written out only if the trial fails. */
  readonly traced: string[] = [];
  private readonly home = tempDir("chaos-home");

  constructor(
    private readonly cfg: ChaosConfig,
    private readonly sim: SimProcess,
    private readonly random: () => number,
  ) {}

  log(host: string, entry: string): void {
    this.runs[host] = [...(this.runs[host] ?? []), entry];
  }

  trace(text: string): void {
    if (TRACE) appendFileSync(TRACE, text);
    if (TRACE_DIR) this.traced.push(text);
  }

  private timeLeft(): number {
    return this.t0 + TRIAL_BUDGET_MS - Date.now();
  }

  /** One agent process on `host`, perhaps killed or paused at a random moment (the faults drawn). */
  agent(host: string, args: string[], opts: { skewS: number; disrupt: boolean }): Promise<AgentRun> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      HOME: this.home,
      NO_COLOR: "1",
      BALANCED_DEFAULTS_FILE: `${this.home}/none`,
      ...this.sim.hosts[host]!.env,
    };
    // The agents are told how stale the simulated describes are, as an operator states the bound.
    if (this.cfg.staleMs > DEFAULT_BOUND_MS) env.BALANCED_STALENESS_BOUND = `${this.cfg.staleMs}ms`;
    Object.assign(env, settingsOf(this.cfg.agentArgs));
    if (this.cfg.lockTable) env.BALANCED_LOCK = `dynamodb:${this.cfg.lockTable}`;
    const command = process.execPath;
    // -q first: run's own command follows its `--`. Traced, every run says what it did.
    const argv = [BUNDLE, args[0]!, ...(TRACING ? [] : ["-q"]), ...args.slice(1)];
    const startedAt = Date.now();
    if (opts.skewS !== 0 && LIBFAKETIME) {
      env.LD_PRELOAD = LIBFAKETIME;
      env.FAKETIME = `${opts.skewS >= 0 ? "+" : ""}${opts.skewS.toFixed(3)}s`;
      env.FAKETIME_DONT_FAKE_MONOTONIC = "1";
    }
    const child: ChildProcess = spawn(command, argv, { env, stdio: ["ignore", "ignore", "pipe"] });
    liveAgents.add(child);
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timers: NodeJS.Timeout[] = [];
    if (opts.disrupt && this.cfg.kill && this.random() < KILL_PROBABILITY) {
      const signal: NodeJS.Signals = this.random() < 0.5 ? "SIGTERM" : "SIGKILL";
      timers.push(setTimeout(() => child.kill(signal), this.random() * 5000));
    }
    if (opts.disrupt && this.cfg.pause && this.random() < PAUSE_PROBABILITY) {
      const at = this.random() * 4000;
      const forMs = 1000 + this.random() * 4000;
      timers.push(setTimeout(() => child.kill("SIGSTOP"), at));
      timers.push(setTimeout(() => child.kill("SIGCONT"), at + forMs));
    }
    timers.push(setTimeout(() => child.kill("SIGKILL"), AGENT_HARD_LIMIT_MS));
    return new Promise((resolve) => {
      child.on("close", (code, signal) => {
        for (const t of timers) clearTimeout(t);
        liveAgents.delete(child);
        if (TRACING)
          this.trace(
            `--- ${host} ${args.join(" ")} +${((startedAt - this.t0) / 1000).toFixed(2)}s..+${((Date.now() - this.t0) / 1000).toFixed(2)}s pid ${child.pid} -> ${signal ?? code}\n${stderr}\n`,
          );
        resolve({ code, signal, stderr: stderr.trim() });
      });
    });
  }

  private async run(host: string, args: string[], skewS: number, disrupt: boolean): Promise<number> {
    const r = await this.agent(host, args, { skewS, disrupt });
    const what = args[0] === "out" && args.includes("--shutdown") ? "shutdown" : args[0];
    this.log(
      host,
      `${what}:${r.signal ?? r.code}${r.code !== 0 && r.stderr ? ` (${r.stderr.split("\n").at(-1)})` : ""}`,
    );
    return r.signal ? -1 : (r.code ?? -1);
  }

  /** `balanced in` until it succeeds: what an operator does when unsure whether the host is out. */
  private async ensureIn(host: string, skewS: number): Promise<void> {
    for (let i = 0; i < 8; i++) {
      // The first two tries may be disrupted too; then the operator gets a clean run.
      if ((await this.run(host, ["in"], skewS, i < 2)) === 0) return;
      await sleep(1000);
    }
  }

  /** `out && deploy && in`, retried as an operator would: later when refused, again when killed. */
  async chain(host: string, skewS: number): Promise<void> {
    let disrupted = 0;
    for (;;) {
      const code = await this.run(host, ["out"], skewS, disrupted < 2);
      if (code === 0) {
        await sleep(500 + this.random() * 1500);
        return this.ensureIn(host, skewS);
      }
      if (code === 3 || code === 4) {
        if (disrupted > 0) return this.ensureIn(host, skewS);
        if (this.timeLeft() < 20_000) return;
        await sleep(1000 + this.random() * 3000);
        continue;
      }
      // Killed, timed out or failed: run it again, and put the host back if that fails too.
      disrupted++;
      if (disrupted > 2 || this.timeLeft() < 20_000) return this.ensureIn(host, skewS);
    }
  }

  /** `balanced run -- deploy`: a failed or killed run is followed by `balanced in`. */
  async runCommand(host: string, skewS: number): Promise<void> {
    for (;;) {
      const deploy = (0.5 + this.random() * 1.5).toFixed(2);
      const code = await this.run(host, ["run", "--", "sleep", deploy], skewS, true);
      if (code === 0) return;
      if ((code === 3 || code === 4) && this.timeLeft() >= 20_000) {
        await sleep(1000 + this.random() * 3000);
        continue;
      }
      if (code === 3 || code === 4) return;
      return this.ensureIn(host, skewS);
    }
  }

  /** The systemd unit's stop, a reboot's pause, and its start. */
  async shutdown(host: string, skewS: number): Promise<void> {
    await this.run(host, ["out", "--shutdown"], skewS, true);
    await sleep(1000 + this.random() * 2000);
    await this.run(host, ["in", "--after-shutdown"], skewS, false);
    await this.ensureIn(host, skewS);
  }

  /** The control: EnterStandby straight from the SDK, no checks, then ExitStandby. */
  async naive(host: string): Promise<void> {
    const info: HostInfo = this.sim.hosts[host]!;
    // The SDK's retries ride out ResourceContention (a 500) as they would for any unguarded script.
    const { asg } = clientsFor(info, { maxAttempts: 10 });
    const group = (await asg.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [host] })))
      .AutoScalingInstances?.[0]?.AutoScalingGroupName;
    if (!group) return;
    try {
      await asg.send(
        new EnterStandbyCommand({
          AutoScalingGroupName: group,
          InstanceIds: [host],
          ShouldDecrementDesiredCapacity: true,
        }),
      );
      this.log(host, "naive-out:0");
      await sleep(4000 + this.random() * 2000);
      await asg.send(new ExitStandbyCommand({ AutoScalingGroupName: group, InstanceIds: [host] }));
      this.log(host, "naive-in:0");
    } catch (err) {
      this.log(host, `naive:${(err as Error).name}`);
    }
  }
}

/** The hosts agents run on: instances of the fleet's groups, taken from each group in turn. */
function agentHosts(start: SimState, n: number): string[] {
  const byGroup = start.groups.map((g) => start.instances.filter((i) => i.group === g.name).map((i) => i.id));
  const hosts: string[] = [];
  for (let i = 0; hosts.length < n && byGroup.some((ids) => ids.length > i); i++)
    for (const ids of byGroup) if (ids[i] && hosts.length < n) hosts.push(ids[i]!);
  return hosts;
}

async function settle(sim: SimProcess): Promise<SimState> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const state = (await control(sim, "GET", "state")) as SimState;
    const moving = state.instances.some(
      (i) => !["InService", "Standby", "Terminated"].includes(i.lifecycleState),
    );
    const registering = state.targetGroups.some((tg) =>
      tg.targets.some((t) => t.state === "initial" || t.state === "draining"),
    );
    if ((!moving && !registering) || Date.now() > deadline) return state;
    await sleep(500);
  }
}

const CHAOS_CONTENTION_MS = 50;

export async function runTrial(cfg: ChaosConfig, seed: number): Promise<TrialResult> {
  const random = seededRandom(seed);
  // Auto Scaling writes to one group that overlap are answered ResourceContention; each also keeps
  // the group pending 50 ms after its answer, so the agents' concurrent turn writes do collide.
  const sim = await startSimProcess(cfg.fleet, { seed, contentionMs: CHAOS_CONTENTION_MS });
  try {
    const trial = new Trial(cfg, sim, random);
    if (cfg.lockTable && !cfg.naive) {
      // Before the faults: the table is the fleet's infrastructure, made once, not part of the trial.
      const made = await trial.agent(Object.keys(sim.hosts)[0]!, ["lock", "create"], {
        skewS: 0,
        disrupt: false,
      });
      if (made.code !== 0) throw new Error(`lock create failed (${made.code}): ${made.stderr}`);
    }
    const start = (await control(sim, "GET", "state")) as SimState;
    await control(sim, "POST", "faults", faultsFor(cfg));
    const hosts = agentHosts(start, cfg.hosts);
    const scenarios = cfg.scenarios.filter((s) => s !== "repair");
    const work = hosts.map(async (host) => {
      const skewS = cfg.skewMs > 0 ? ((random() * 2 - 1) * cfg.skewMs) / 1000 : 0;
      if (cfg.naive) return trial.naive(host);
      const scenario = scenarios[Math.floor(random() * scenarios.length)] ?? "chain";
      if (scenario === "run") return trial.runCommand(host, skewS);
      if (scenario === "shutdown") return trial.shutdown(host, skewS);
      return trial.chain(host, skewS);
    });
    if (cfg.scenarios.includes("repair") && !cfg.naive && hosts.length > 0) {
      const host = hosts[Math.floor(random() * hosts.length)]!;
      const at = random() * 8000;
      work.push(
        sleep(at).then(async () => {
          const r = await trial.agent(host, ["repair"], { skewS: 0, disrupt: false });
          trial.log(host, `repair:${r.code}`);
        }),
      );
    }
    await Promise.all(work);
    const end = await settle(sim);
    if (TRACING)
      for (const c of (await control(sim, "GET", "calls")) as {
        t: number;
        host?: string;
        action: string;
        outcome: string;
      }[])
        trial.trace(
          `call +${((c.t - trial.t0) / 1000).toFixed(2)}s ${c.host ?? "-"} ${c.action} ${c.outcome}\n`,
        );
    const history = (await control(sim, "GET", "history?all")) as ServingChange[];
    const result = {
      seed,
      violations: checkBudgets(history, budgetsFor(cfg, start)),
      incomplete: checkEnd(start, end),
      t0: trial.t0,
      durationMs: Date.now() - trial.t0,
      runs: trial.runs,
    };
    if (TRACE_DIR && (result.violations.length || result.incomplete.length)) {
      mkdirSync(TRACE_DIR, { recursive: true });
      const found = [
        ...result.violations.map((v) => `violation: ${v.scope}: ${v.what}`),
        ...result.incomplete,
      ];
      writeFileSync(
        join(TRACE_DIR, `seed-${seed}.log`),
        `${found.join("\n")}\n${JSON.stringify({ start, end })}\n${trial.traced.join("")}`,
      );
    }
    return result;
  } finally {
    await sim.stop();
  }
}
