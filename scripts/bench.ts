/**
 * `npm run bench [-- --out FILE] [--quick] [--time-scale N] [--readme] [--only SECTIONS]`: measures the built agent
 * against the simulator, which runs in a process of its own (a simulator sharing the benchmark's
 * event loop is starved with it, and its slowness would be blamed on the agent). Prints a table,
 * writes a JSON report (keys documented in docs/performance.md), and with `--readme` puts the
 * table into docs/performance.md. `--table FILE` prints (and with `--readme` writes) the table of an existing
 * report without measuring. Not part of `npm test`: timings belong here, never in a timed test.
 *
 * The floor of a transition is what AWS itself takes, as the simulator recorded it: for `out`, from
 * the EnterStandby call to the end of its activity (Standby, drained everywhere); for `in`, from the
 * ExitStandby call to the host serving again. Overhead = the command's wall time - its floor. Two
 * settings: short ones (2 s drain, 1 s × 2 health checks) at time scale 1, and AWS's defaults (300 s
 * draining, 30 s × 5 health checks) scaled down by --time-scale, so that overhead is seen against a
 * real floor too.
 *
 * Summaries are {median, p95, n} with a true median, and a p95 only where n >= 20 (else {median,
 * max, n}). Wall times are measured without the memory probe; peak RSS comes from separate runs.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { control } from "../test/helpers/clients";
import { type SimProcess, startSimProcess } from "../test/helpers/sim-process";
import { type FleetFile, loadFleet } from "../test/sim/fleet";
import type { CallRecord, HostInfo, SimState } from "../test/sim/server";
import { overMedian, type PerfReport, perfRows, summarize, withPerfTable } from "./bench-table";

const ROOT = resolve(import.meta.dirname, "..");
const BUNDLE = resolve(ROOT, "dist", "balanced.js");
const EXE = resolve(ROOT, "dist", `balanced-linux-${process.arch}`);
/** Where the performance table is published (`--readme` keeps its name: the table was once in README.md). */
const PERFORMANCE_DOC = resolve(ROOT, "docs", "performance.md");
/** Reports the child's peak RSS on fd 3 as it exits; the agent itself is untouched. */
const RSS_PROBE =
  'data:text/javascript,import{writeSync}from"node:fs";process.on("exit",()=>{try{writeSync(3,String(process.resourceUsage().maxRSS))}catch{}})';
const LOCK = ["--lock", "dynamodb:bench-locks"];
/** The agent's default --staleness-bound: the tags' turn settles that long by design. */
const STALENESS_BOUND_MS = 3000;

const USAGE = `usage: npm run bench -- [options]
  --out FILE        the JSON report (default bench-report.json; scripts/bench-report.json with --readme)
  --quick           fewer repetitions (about 6 minutes instead of 20)
  --time-scale N    how much faster than AWS the run at AWS's default settings goes (default 20)
  --readme          also write the performance table into docs/performance.md
  --table FILE      only print (with --readme: write) the table of an existing report
  --only A,B        only these sections (coldStarts, threeHosts, awsDefaults, standalone, watch,
                    scale, storm, turnStorm); the report is printed as JSON, with no table
`;

function parseFlags() {
  try {
    return parseArgs({
      options: {
        out: { type: "string" },
        quick: { type: "boolean", default: false },
        "time-scale": { type: "string", default: "20" },
        readme: { type: "boolean", default: false },
        table: { type: "string" },
        only: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message.split("\n")[0]}\n${USAGE}`);
    process.exit(2);
  }
}
const flags = parseFlags();
if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const QUICK = flags.quick;
/** Start-up rounds (bare node, the script, the executable, interleaved). */
const STARTS = QUICK ? 10 : 30;
/** status runs, and out/in cycles, at the short settings. */
const REPEAT = QUICK ? 6 : 20;
const CYCLES = QUICK ? 4 : 20;
/** Extra cycles with the memory probe; cycles at AWS's defaults; storms. */
const PROBES = QUICK ? 2 : 4;
const DEFAULT_CYCLES = QUICK ? 2 : 4;
const STORMS = QUICK ? 1 : 3;
const TURN_STORM_AGENTS = 20;
const TIME_SCALE = Number(flags["time-scale"]);

interface Run {
  code: number | null;
  ms: number;
  rssKb: number;
  stdout: string;
  stderr: string;
}

/** Every child gets the same small environment, bare node included, so their starts compare. */
const baseEnv = () => ({ PATH: process.env.PATH ?? "", HOME: os.tmpdir() });

function spawnTimed(
  command: string,
  args: string[],
  env: Record<string, string>,
  probe = false,
  niceness = 0,
): Promise<Run> {
  return new Promise((done) => {
    const started = performance.now();
    const child = spawn(command, probe ? ["--import", RSS_PROBE, ...args] : args, {
      env: { ...baseEnv(), ...env },
      stdio: ["ignore", "pipe", "pipe", "pipe"],
    });
    if (niceness && child.pid) os.setPriority(child.pid, niceness);
    let stdout = "";
    let stderr = "";
    let rss = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d));
    child.stderr!.on("data", (d: Buffer) => (stderr += d));
    (child.stdio[3] as NodeJS.ReadableStream).on("data", (d: Buffer) => (rss += d));
    child.on("close", (code) =>
      done({ code, ms: performance.now() - started, rssKb: Number(rss) || 0, stdout, stderr }),
    );
  });
}

const agent = (env: Record<string, string>, args: string[], probe = false, niceness = 0) =>
  spawnTimed(process.execPath, [BUNDLE, ...args], env, probe, niceness);

/**
 * The storm's agents run at this niceness. Each stands for a host of its own, and the simulator for
 * AWS (its metadata service too): 100 agents starting on one small machine would starve the
 * simulator of CPU, which no fleet does to AWS, and its late answers would time the agents out.
 */
const STORM_NICENESS = 10;

function ok(run: Run, what: string): Run {
  if (run.code !== 0) throw new Error(`${what} exited ${run.code}: ${run.stderr.trim().split("\n").at(-1)}`);
  return run;
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const r = (x: number, digits = 0) => Number(x.toFixed(digits));

// ---- the simulator, in its own process, read through its control API ------------------------------

const callsOf = async (sim: SimProcess, host: string, from: number, to: number) =>
  ((await control(sim, "GET", "calls")) as CallRecord[]).filter(
    (c) => c.host === host && c.service !== "imds" && c.t >= from && c.t <= to,
  );
const stateOf = async (sim: SimProcess) => (await control(sim, "GET", "state")) as SimState;
const historyOf = async (sim: SimProcess) =>
  (await control(sim, "GET", "history")) as { t: number; instanceId: string; serving: boolean }[];

const ACTIONS = new Set([
  "EnterStandby",
  "ExitStandby",
  "UpdateAutoScalingGroup",
  "CreateOrUpdateTags",
  "DeleteTags",
]);

interface StepReport {
  step: string;
  startedAt: string;
  ms: number;
}

/** The most health polls of any one load balancer within any one-second window. */
function maxPollsPerSecond(calls: CallRecord[]): number {
  let worst = 0;
  for (const action of ["DescribeInstanceHealth", "DescribeTargetHealth"]) {
    const times = calls.filter((c) => c.action === action).map((c) => c.t);
    for (const t of times) worst = Math.max(worst, times.filter((u) => u >= t && u < t + 1000).length);
  }
  return worst;
}

/** A run's API calls: discovery and decision, acting calls, and polling (the calls made during waits). */
function splitCalls(calls: CallRecord[], steps: StepReport[]) {
  const waits = steps
    .filter((s) => s.step.startsWith("wait-"))
    .map((s) => [Date.parse(s.startedAt), Date.parse(s.startedAt) + s.ms] as const);
  const polling = calls.filter(
    (c) => !ACTIONS.has(c.action) && waits.some(([a, b]) => c.t >= a && c.t <= b + 5),
  );
  const action = calls.filter((c) => ACTIONS.has(c.action)).length;
  return {
    discovery: calls.length - polling.length - action,
    action,
    polling: polling.length,
    total: calls.length,
    maxPollsPerLbPerSecond: maxPollsPerSecond(polling),
  };
}

type CallSplit = ReturnType<typeof splitCalls>;
const summarizeCalls = (splits: CallSplit[]) => ({
  discovery: summarize(splits.map((s) => s.discovery)),
  action: summarize(splits.map((s) => s.action)),
  polling: summarize(splits.map((s) => s.polling)),
  total: summarize(splits.map((s) => s.total)),
  maxPollsPerLoadBalancerInAnySecond: Math.max(0, ...splits.map((s) => s.maxPollsPerLbPerSecond)),
});

interface Cycle {
  wall: number;
  floor: number;
  rssMB: number;
  calls: CallSplit;
}

/**
 * One `out` or `in` on `id`, with the floor AWS took: EnterStandby to the end of its activity, or
 * ExitStandby to serving again.
 */
async function move(
  sim: SimProcess,
  id: string,
  host: HostInfo,
  cmd: "out" | "in",
  extra: string[] = [],
  probe = false,
): Promise<Cycle> {
  const t0 = Date.now();
  const run = ok(await agent(host.env, [cmd, "--json", ...extra], probe), `${cmd} ${extra.join(" ")}`);
  const calls = await callsOf(sim, id, t0, Date.now());
  const acted = calls.find((c) => c.action === (cmd === "out" ? "EnterStandby" : "ExitStandby"));
  if (!acted) throw new Error(`${cmd} made no ${cmd === "out" ? "EnterStandby" : "ExitStandby"} call`);
  let end: number | undefined;
  if (cmd === "out") {
    const group = (await stateOf(sim)).groups[0]!;
    end = group.activities.find(
      (a) => a.description === `Moving EC2 instance to Standby: ${id}` && a.startTime >= acted.t - 1000,
    )?.endTime as number | undefined;
  } else {
    end = (await historyOf(sim)).find((h) => h.instanceId === id && h.serving && h.t >= acted.t)?.t;
  }
  if (end === undefined) throw new Error(`no end of ${cmd}'s transition in the simulator's record`);
  const doc = JSON.parse(run.stdout) as { steps: StepReport[] };
  return { wall: run.ms, floor: end - acted.t, rssMB: run.rssKb / 1024, calls: splitCalls(calls, doc.steps) };
}

const overheads = (cs: Cycle[]) => ({
  wallMs: summarize(cs.map((c) => c.wall)),
  floorMs: summarize(cs.map((c) => c.floor)),
  overheadMs: summarize(cs.map((c) => c.wall - c.floor)),
});

// ---- fleets ---------------------------------------------------------------------------------------

function fleetOf(instances: number, targetGroups: number): FleetFile {
  const base = loadFleet("three-hosts");
  const tgs = Array.from({ length: targetGroups }, (_, i) => ({
    ...base.targetGroups![0]!,
    name: `tg-${i}`,
    loadBalancer: `alb-${i}`,
  }));
  return {
    ...base,
    loadBalancers: [],
    targetGroups: tgs,
    groups: [
      {
        ...base.groups![0]!,
        instances: undefined,
        instanceCount: instances,
        min: 1,
        max: instances + 1,
        desired: instances,
        loadBalancerNames: [],
        targetGroups: tgs.map((t) => t.name),
      },
    ],
  };
}

/**
 * three-hosts at AWS's default settings: 300 s connection draining and deregistration delay, health
 * checks every 30 s with 5 to be healthy (the ELBv2 defaults; see the target group health check
 * settings in the ALB user guide), and a 300 s health check grace period.
 */
function atAwsDefaults(): FleetFile {
  const f = loadFleet("three-hosts");
  // The console's default grace period: a host back from Standby is not judged by its load
  // balancers' health before its 5 checks can have passed.
  for (const g of f.groups ?? []) g.healthCheckGracePeriod = 300;
  const check = { interval: 30, healthyThreshold: 5, unhealthyThreshold: 2 };
  for (const lb of f.loadBalancers ?? []) {
    lb.connectionDraining = { enabled: true, timeout: 300 };
    lb.healthCheck = { ...lb.healthCheck!, ...check, timeout: 5 };
  }
  for (const tg of f.targetGroups ?? []) {
    tg.deregistrationDelay = 300;
    tg.healthCheck = { ...tg.healthCheck!, ...check };
  }
  return f;
}

const firstHost = (sim: SimProcess): [string, HostInfo] => Object.entries(sim.hosts)[0]!;

// ---- the sections ---------------------------------------------------------------------------------

/** Bare node, the script and the executable, interleaved so that drift touches all three alike. */
async function coldStarts(report: Record<string, unknown>): Promise<void> {
  log("cold start...");
  if (!existsSync(EXE)) {
    log(`  building ${EXE} (npm run build:exe builds both architectures)`);
    try {
      execFileSync(process.execPath, [resolve(ROOT, "scripts", "build-exe.mjs")], { stdio: "ignore" });
    } catch {
      log("  could not build the single executable; its figures are left out");
    }
  }
  const hasExe = existsSync(EXE);
  const bare: number[] = [];
  const js: number[] = [];
  const exe: number[] = [];
  const help: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    bare.push(ok(await spawnTimed(process.execPath, ["-e", "0"], {}), "node -e 0").ms);
    js.push(ok(await agent({}, ["--version"]), "--version").ms);
    help.push(ok(await agent({}, ["--help"]), "--help").ms);
    if (hasExe) exe.push(ok(await spawnTimed(EXE, ["--version"], {}), "exe --version").ms);
  }
  const rss: number[] = [];
  for (let i = 0; i < PROBES; i++)
    rss.push(ok(await agent({}, ["--version"], true), "--version").rssKb / 1024);
  const bareNode = { wallMs: summarize(bare) };
  const version = { wallMs: summarize(js), peakRssMB: summarize(rss) };
  const cold: Record<string, unknown> = {
    bareNode,
    "--version": { ...version, overBareNodeMs: overMedian(version.wallMs, bareNode.wallMs) },
    "--help": { wallMs: summarize(help), overBareNodeMs: overMedian(summarize(help), bareNode.wallMs) },
  };
  if (hasExe) {
    const w = summarize(exe);
    cold.exe = { "--version": { wallMs: w, overBareNodeMs: overMedian(w, bareNode.wallMs) } };
  }
  report.coldStart = cold;
}

/** status, out and in, and out with the DynamoDB lock, on three-hosts at the short settings. */
async function threeHosts(report: Record<string, unknown>): Promise<void> {
  log("three-hosts...");
  const sim = await startSimProcess(loadFleet("three-hosts"));
  try {
    const [id, host] = firstHost(sim);
    const walls: number[] = [];
    const calls: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const t0 = Date.now();
      walls.push(ok(await agent(host.env, ["status", "--json"]), "status").ms);
      calls.push((await callsOf(sim, id, t0, Date.now())).length);
    }
    const bare = (report.coldStart as PerfReport["coldStart"]).bareNode.wallMs;
    const status = summarize(walls);
    report.status = { wallMs: status, overBareNodeMs: overMedian(status, bare), apiCalls: summarize(calls) };

    const cycles = { out: [] as Cycle[], in: [] as Cycle[] };
    for (let i = 0; i < CYCLES; i++)
      for (const cmd of ["out", "in"] as const) cycles[cmd].push(await move(sim, id, host, cmd));
    const probed = { out: [] as Cycle[], in: [] as Cycle[] };
    for (let i = 0; i < PROBES; i++)
      for (const cmd of ["out", "in"] as const) probed[cmd].push(await move(sim, id, host, cmd, [], true));
    for (const cmd of ["out", "in"] as const)
      report[cmd] = {
        ...overheads(cycles[cmd]),
        apiCalls: summarizeCalls(cycles[cmd].map((c) => c.calls)),
        peakRssMB: summarize(probed[cmd].map((c) => c.rssMB)),
      };

    log("out --lock dynamodb...");
    ok(await agent(host.env, ["lock", "create", ...LOCK]), "lock create");
    const locked = { out: [] as Cycle[], in: [] as Cycle[] };
    for (let i = 0; i < CYCLES; i++)
      for (const cmd of ["out", "in"] as const) locked[cmd].push(await move(sim, id, host, cmd, LOCK));
    report.outLocked = { ...overheads(locked.out), apiCalls: summarizeCalls(locked.out.map((c) => c.calls)) };
    report.inLocked = { ...overheads(locked.in), apiCalls: summarizeCalls(locked.in.map((c) => c.calls)) };

    // How long a host without metadata (not EC2, or IMDS hung) takes to say so: "never hangs".
    await control(sim, "POST", "faults", { service: "imds", host: id, kind: "unreachable" });
    const noMetadata = await agent(host.env, ["status"]);
    if (noMetadata.code !== 6)
      throw new Error(`status without metadata exited ${noMetadata.code}: ${noMetadata.stderr}`);
    report.metadataUnreachable = { wallMs: r(noMetadata.ms), exitCode: noMetadata.code };
  } finally {
    await sim.stop();
  }
}

/** The same cycle at AWS's default settings, scaled down by --time-scale. */
async function awsDefaults(report: Record<string, unknown>): Promise<void> {
  log(`AWS's default settings at time scale ${TIME_SCALE}...`);
  const sim = await startSimProcess(atAwsDefaults(), { timeScale: TIME_SCALE });
  try {
    const [id, host] = firstHost(sim);
    const cycles = { out: [] as Cycle[], in: [] as Cycle[] };
    for (let i = 0; i < DEFAULT_CYCLES; i++)
      for (const cmd of ["out", "in"] as const) cycles[cmd].push(await move(sim, id, host, cmd));
    ok(await agent(host.env, ["lock", "create", ...LOCK]), "lock create");
    const locked = { out: [] as Cycle[], in: [] as Cycle[] };
    for (let i = 0; i < DEFAULT_CYCLES; i++)
      for (const cmd of ["out", "in"] as const) locked[cmd].push(await move(sim, id, host, cmd, LOCK));
    report.defaults = {
      timeScale: TIME_SCALE,
      out: overheads(cycles.out),
      in: overheads(cycles.in),
      outLocked: overheads(locked.out),
      inLocked: overheads(locked.in),
    };
  } finally {
    await sim.stop();
  }
}

/** A host in no Auto Scaling group (standalone-pair): named load balancers, then --discover. */
async function standalone(report: Record<string, unknown>): Promise<void> {
  log("standalone-pair...");
  const sim = await startSimProcess(loadFleet("standalone-pair"));
  try {
    const [id, host] = firstHost(sim);
    const tgArn = (await stateOf(sim)).targetGroups[0]!.arn;
    const named = { ...host.env, BALANCED_LOAD_BALANCER: "app-classic", BALANCED_TARGET_GROUP: tgArn };
    const runs = {
      out: { wall: [] as number[], calls: [] as number[] },
      in: { wall: [] as number[], calls: [] as number[] },
    };
    for (let i = 0; i < Math.max(3, CYCLES / 2); i++)
      for (const cmd of ["out", "in"] as const) {
        const t0 = Date.now();
        runs[cmd].wall.push(ok(await agent(named, [cmd, "--json"]), `standalone ${cmd}`).ms);
        runs[cmd].calls.push((await callsOf(sim, id, t0, Date.now())).length);
      }
    const t0 = Date.now();
    const discovered = ok(await agent(host.env, ["status", "--discover", "--json"]), "status --discover");
    report.standalone = {
      out: { wallMs: summarize(runs.out.wall), apiCalls: summarize(runs.out.calls) },
      in: { wallMs: summarize(runs.in.wall), apiCalls: summarize(runs.in.calls) },
      statusDiscover: { wallMs: r(discovered.ms), apiCalls: (await callsOf(sim, id, t0, Date.now())).length },
    };
  } finally {
    await sim.stop();
  }
}

/** balanced watch: its idle cost, and how long from a Spot notice to drained everywhere. */
async function watch(report: Record<string, unknown>): Promise<void> {
  log("watch...");
  const sim = await startSimProcess(loadFleet("three-hosts"));
  const [id, host] = firstHost(sim);
  const watcher = spawn(process.execPath, [BUNDLE, "watch", "-q"], {
    env: { ...baseEnv(), BALANCED_DEFAULTS_FILE: "/nonexistent", ...host.env },
    stdio: "ignore",
  });
  try {
    const ticks = () => {
      const fields = readFileSync(`/proc/${watcher.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks
    };
    const rssMb = () =>
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${watcher.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
    await sleep(5000); // started and settled into its loop
    const idleMs = QUICK ? 10_000 : 30_000;
    const ticks0 = ticks();
    await sleep(idleMs);
    const idleCpuPercent = ((ticks() - ticks0) / 100 / (idleMs / 1000)) * 100; // USER_HZ is 100 on Linux
    const idleRss = rssMb();
    const noticeAt = Date.now();
    await control(sim, "POST", "events", { kind: "spot-interruption", instance: id, noticeSeconds: 120 });
    let drainedAt: number | undefined;
    for (let i = 0; i < 600 && drainedAt === undefined; i++) {
      const s = await stateOf(sim);
      const registered =
        s.loadBalancers.some((lb) => id in lb.instances) ||
        s.targetGroups.some((tg) => tg.targets.some((t) => t.id === id));
      if (!registered) drainedAt = Date.now();
      else await sleep(100);
    }
    report.watch = {
      idleCpuPercent: r(idleCpuPercent, 2),
      idleRssMB: r(idleRss, 1),
      pollIntervalS: 2,
      noticeToDrainedMs: drainedAt === undefined ? null : r(drainedAt - noticeAt),
      windowMs: 120_000,
    };
  } finally {
    watcher.kill("SIGTERM");
    await sim.stop();
  }
}

/** status and out --dry-run on groups of 10 to 1,000 instances behind 1 to 10 target groups. */
async function scale(report: Record<string, unknown>): Promise<void> {
  log("scale...");
  const rows: unknown[] = [];
  for (const instances of [10, 100, 1000])
    for (const tgs of [1, 5, 10]) {
      const sim = await startSimProcess(fleetOf(instances, tgs));
      try {
        const [id, host] = firstHost(sim);
        for (const args of [["status"], ["out", "--dry-run"]]) {
          const walls: number[] = [];
          const calls: number[] = [];
          for (let i = 0; i < (QUICK ? 3 : 5); i++) {
            const t0 = Date.now();
            walls.push(ok(await agent(host.env, [...args, "--json"]), args.join(" ")).ms);
            calls.push((await callsOf(sim, id, t0, Date.now())).length);
          }
          rows.push({
            instances,
            targetGroups: tgs,
            command: args.join(" "),
            wallMs: summarize(walls),
            apiCalls: summarize(calls),
          });
        }
      } finally {
        await sim.stop();
      }
    }
  report.scale = rows;
}

/** Every API the agent calls throttled at 20 requests/s, as both storms run. */
const throttleEveryApi = (sim: SimProcess) =>
  control(
    sim,
    "POST",
    "faults",
    ["autoscaling", "elb", "elbv2", "ec2"].map((service) => ({ service, kind: "throttle", rps: 20 })),
  );

/** 100 agents' `status` at once, every API throttled at 20 requests/s; each failure with its reason. */
async function storm(report: Record<string, unknown>): Promise<void> {
  log("storm...");
  const completed: number[] = [];
  const agents: number[] = [];
  const runs: unknown[] = [];
  for (let i = 0; i < STORMS; i++) {
    const sim = await startSimProcess(fleetOf(100, 1));
    try {
      await throttleEveryApi(sim);
      const t0 = performance.now();
      const results = await Promise.all(
        Object.values(sim.hosts).map((h) => agent(h.env, ["status", "-q"], false, STORM_NICENESS)),
      );
      const calls = ((await control(sim, "GET", "calls")) as CallRecord[]).filter(
        (c) => c.service !== "imds",
      );
      const done = results.filter((x) => x.code === 0).length;
      completed.push(done);
      agents.push(results.length);
      runs.push({
        completed: done,
        agents: results.length,
        lastFinishedMs: r(Math.max(...results.map((x) => x.ms))),
        wallMs: r(performance.now() - t0),
        apiCalls: calls.length,
        throttledCalls: calls.filter(
          (c) => c.outcome === "Throttling" || c.outcome === "RequestLimitExceeded",
        ).length,
        failures: results
          .filter((x) => x.code !== 0)
          .map((x) => `exit ${x.code}: ${x.stderr.trim().split("\n").at(-1)}`),
      });
    } finally {
      await sim.stop();
    }
  }
  report.storm = {
    completed: summarize(completed),
    agents: summarize(agents),
    worstCompleted: Math.min(...completed),
    runs,
  };
}

/**
 * Issue 11's livelock check: 20 agents on the large fleet (1,000 instances behind 10 target groups),
 * each \`out --wait-for-turn 15m && in\` at once, every API throttled at 20 requests/s. The budget
 * (\`--max-unavailable 20\`) lets all of them be out together, so only the turn orders them: what is
 * measured is whether throttled turn writes and reads still hand the turn on, not the budget.
 */
async function turnStorm(report: Record<string, unknown>): Promise<void> {
  log("turn storm...");
  const sim = await startSimProcess(loadFleet("large"));
  try {
    const ids = Object.keys(sim.hosts).slice(0, TURN_STORM_AGENTS);
    const before = (await stateOf(sim)).groups[0]!;
    await throttleEveryApi(sim);
    const t0 = performance.now();
    const cycles = await Promise.all(
      ids.map(async (id) => {
        const env = sim.hosts[id]!.env;
        const budget = ["--max-unavailable", String(TURN_STORM_AGENTS)];
        const out = await agent(
          env,
          ["out", "-q", "--wait-for-turn", "15m", ...budget],
          false,
          STORM_NICENESS,
        );
        const back = out.code === 0 ? await agent(env, ["in", "-q"], false, STORM_NICENESS) : undefined;
        const failed = out.code !== 0 ? out : back?.code !== 0 ? back : undefined;
        return {
          id,
          finishedMs: performance.now() - t0,
          failure: failed && `exit ${failed.code}: ${failed.stderr.trim().split("\n").at(-1)}`,
        };
      }),
    );
    const calls = ((await control(sim, "GET", "calls")) as CallRecord[]).filter((c) => c.service !== "imds");
    const state = await stateOf(sim);
    const group = state.groups[0]!;
    const finished = cycles.filter((c) => !c.failure).map((c) => c.finishedMs);
    report.turnStorm = {
      agents: ids.length,
      completed: finished.length,
      completedWithin280s: finished.filter((ms) => ms <= 280_000).length,
      finishedMs: summarize(finished),
      lastFinishedMs: r(Math.max(0, ...finished)),
      apiCalls: calls.length,
      throttledCalls: calls.filter((c) => c.outcome === "Throttling" || c.outcome === "RequestLimitExceeded")
        .length,
      inServiceAfter: state.instances.filter((i) => ids.includes(i.id) && i.lifecycleState === "InService")
        .length,
      group: {
        before: { min: before.min, desired: before.desired },
        after: { min: group.min, desired: group.desired },
      },
      balancedTagsLeft: [
        ...Object.keys(group.tags),
        ...state.targetGroups.flatMap((tg) => Object.keys(tg.tags)),
      ].filter((k) => k.startsWith("balanced:")),
      failures: cycles.flatMap((c) => (c.failure ? [`${c.id} ${c.failure}`] : [])),
    };
  } finally {
    await sim.stop();
  }
}

function printTable(report: PerfReport): void {
  const rows = perfRows(report);
  const width = Math.max(...rows.map((x) => x.figure.length));
  process.stdout.write("\n");
  for (const x of rows)
    process.stdout.write(
      `${x.figure.padEnd(width)}  ${x.measured}${x.goal ? `  [goal ${x.goal}${x.met === false ? ": NOT MET" : ""}]` : ""}\n`,
    );
}

async function main(): Promise<void> {
  if (flags.table) {
    const report = JSON.parse(readFileSync(flags.table, "utf8")) as PerfReport;
    printTable(report);
    if (flags.readme)
      writeFileSync(PERFORMANCE_DOC, withPerfTable(readFileSync(PERFORMANCE_DOC, "utf8"), report));
    return;
  }
  if (!existsSync(BUNDLE)) throw new Error("dist/balanced.js is missing: npm run build first");
  if (!(TIME_SCALE > 0))
    throw new Error(`--time-scale must be a positive number, not ${flags["time-scale"]}`);
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: {
      cpu: os.cpus()[0]?.model,
      cores: os.cpus().length,
      memoryGiB: r(os.totalmem() / 2 ** 30, 1),
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
      loadAverage: os.loadavg().map((x) => r(x, 2)),
    },
    settings: {
      quick: QUICK,
      stalenessBoundMs: STALENESS_BOUND_MS,
      short: {
        drainSeconds: 2,
        deregistrationDelaySeconds: 2,
        healthCheckIntervalSeconds: 1,
        healthyThreshold: 2,
      },
      timeScaleOfDefaults: TIME_SCALE,
      starts: STARTS,
      repeat: REPEAT,
      cycles: CYCLES,
      probeCycles: PROBES,
      defaultCycles: DEFAULT_CYCLES,
      storms: STORMS,
    },
  };
  const sections = { coldStarts, threeHosts, awsDefaults, standalone, watch, scale, storm, turnStorm };
  const only = flags.only?.split(",");
  const unknown = only?.filter((name) => !(name in sections));
  if (unknown?.length)
    throw new Error(
      `--only: no section ${unknown.join(", ")} (sections: ${Object.keys(sections).join(", ")})`,
    );
  if (only && flags.readme) throw new Error("--readme needs every section: leave out --only");
  for (const [name, section] of Object.entries(sections))
    if (!only || only.includes(name)) await section(report);
  (report.machine as { loadAverageAtEnd?: number[] }).loadAverageAtEnd = os.loadavg().map((x) => r(x, 2));
  // The published table and the report it came from are kept together (test/unit/readme.test.ts checks them).
  const out =
    flags.out ?? (flags.readme ? resolve(ROOT, "scripts", "bench-report.json") : "bench-report.json");
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  if (only) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else printTable(report as unknown as PerfReport);
  if (flags.readme)
    writeFileSync(
      PERFORMANCE_DOC,
      withPerfTable(readFileSync(PERFORMANCE_DOC, "utf8"), report as unknown as PerfReport),
    );
  process.stdout.write(`\nmachine: ${JSON.stringify(report.machine)}\nreport written to ${out}\n`);
}

await main();
