/**
 * `npm run bench [-- --out FILE] [--quick]`: measures the built dist/balanced.js against the simulator
 * at time scale 1 with short, realistic settings (2 s drain and deregistration delay, 1 s health-check
 * interval, threshold 2). Prints a table and writes a JSON report. Not part of `npm test`: timings
 * belong here, never in a timed test.
 *
 * The floor of a transition is what AWS itself takes, as the simulator recorded it: for `out`, from
 * EnterStandby to Standby and drained everywhere; for `in`, from ExitStandby to healthy everywhere.
 * Overhead = wall time of the command - floor.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { control } from "../test/helpers/clients";
import { type FleetFile, loadFleet } from "../test/sim/fleet";
import type { CallRecord, HostInfo, Sim } from "../test/sim/server";
import { startSim } from "../test/sim/server";

const BUNDLE = resolve(import.meta.dirname, "..", "dist", "balanced.js");
/** Reports the child's peak RSS on fd 3 as it exits; the agent itself is untouched. */
const RSS_PROBE =
  'data:text/javascript,import{writeSync}from"node:fs";process.on("exit",()=>{try{writeSync(3,String(process.resourceUsage().maxRSS))}catch{}})';

const { values: flags } = parseArgs({
  options: {
    out: { type: "string", default: "bench-report.json" },
    quick: { type: "boolean", default: false },
  },
});
const REPEAT = flags.quick ? 3 : 10;
const CYCLES = flags.quick ? 2 : 5;

interface Run {
  code: number | null;
  ms: number;
  rssKb: number;
  stdout: string;
  stderr: string;
}

function agent(env: Record<string, string>, args: string[]): Promise<Run> {
  return new Promise((done) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["--import", RSS_PROBE, BUNDLE, ...args], {
      env: { PATH: process.env.PATH ?? "", HOME: os.tmpdir(), ...env },
      stdio: ["ignore", "pipe", "pipe", "pipe"],
    });
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

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]! : Number.NaN;
};
const stats = (xs: number[]) => ({ median: quantile(xs, 0.5), p95: quantile(xs, 0.95), n: xs.length });
const r = (x: number, digits = 0) => Number(x.toFixed(digits));

async function ok(run: Run, what: string): Promise<Run> {
  if (run.code !== 0) throw new Error(`${what} exited ${run.code}: ${run.stderr.trim().split("\n").at(-1)}`);
  return run;
}

/** Calls the agent made, from the simulator's log, between two moments. */
const callsBetween = (sim: Sim, host: string, from: number, to: number): CallRecord[] =>
  sim.calls.filter((c) => c.host === host && c.service !== "imds" && c.t >= from && c.t <= to);

/** The most health polls of any one load balancer within any one-second window. */
function maxPollsPerSecond(calls: CallRecord[]): number {
  let worst = 0;
  for (const action of ["DescribeInstanceHealth", "DescribeTargetHealth"]) {
    const times = calls.filter((c) => c.action === action).map((c) => c.t);
    for (const t of times) worst = Math.max(worst, times.filter((u) => u >= t && u < t + 1000).length);
  }
  return worst;
}

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

/** Splits a run's API calls into discovery/decision, action, and polling (calls made during waits). */
function splitCalls(calls: CallRecord[], steps: StepReport[]) {
  const waits = steps
    .filter((s) => s.step.startsWith("wait-"))
    .map((s) => [Date.parse(s.startedAt), Date.parse(s.startedAt) + s.ms]);
  const polling = calls.filter(
    (c) => !ACTIONS.has(c.action) && waits.some(([a, b]) => c.t >= a! && c.t <= b! + 5),
  );
  const action = calls.filter((c) => ACTIONS.has(c.action));
  return {
    discovery: calls.length - polling.length - action.length,
    action: action.length,
    polling: polling.length,
    total: calls.length,
    maxPollsPerLbPerSecond: maxPollsPerSecond(polling),
  };
}

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

const firstHost = (sim: Sim): [string, HostInfo] => Object.entries(sim.hosts)[0]!;

async function main(): Promise<void> {
  const report: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: {
      cpu: os.cpus()[0]?.model,
      cores: os.cpus().length,
      memoryGiB: r(os.totalmem() / 2 ** 30, 1),
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
    },
    settings: {
      timeScale: 1,
      drainSeconds: 2,
      deregistrationDelaySeconds: 2,
      healthCheckIntervalSeconds: 1,
      healthyThreshold: 2,
      repeat: REPEAT,
      cycles: CYCLES,
    },
  };
  const rows: [string, string, string][] = [];
  const row = (figure: string, value: string, target = "") => {
    rows.push([figure, value, target]);
    process.stderr.write(`  ${figure}: ${value}\n`);
  };

  // 1. Cold start.
  process.stderr.write("cold start...\n");
  const cold: Record<string, unknown> = {};
  for (const args of [["--version"], ["--help"]]) {
    const runs: Run[] = [];
    for (let i = 0; i < REPEAT; i++) runs.push(await ok(await agent({}, args), args[0]!));
    const s = stats(runs.map((x) => x.ms));
    cold[args[0]!] = { wallMs: s, peakRssMB: stats(runs.map((x) => x.rssKb / 1024)) };
    row(
      `balanced ${args[0]} wall`,
      `${r(s.median)} ms median, ${r(s.p95)} ms p95, ${r(
        quantile(
          runs.map((x) => x.rssKb / 1024),
          0.5,
        ),
      )} MB RSS`,
      args[0] === "--version" ? "< 100 ms" : "",
    );
  }
  report.coldStart = cold;

  // 2 and 3. status, out and in on three-hosts.
  process.stderr.write("three-hosts...\n");
  const sim = await startSim(loadFleet("three-hosts"));
  const [id, host] = firstHost(sim);
  const statusRuns: Run[] = [];
  const statusCalls: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t0 = Date.now();
    statusRuns.push(await ok(await agent(host.env, ["status", "--json"]), "status"));
    statusCalls.push(callsBetween(sim, id, t0, Date.now()).length);
  }
  report.status = { wallMs: stats(statusRuns.map((x) => x.ms)), apiCalls: stats(statusCalls) };
  row(
    "status (three-hosts) wall",
    `${r(
      quantile(
        statusRuns.map((x) => x.ms),
        0.5,
      ),
    )} ms median, ${r(
      quantile(
        statusRuns.map((x) => x.ms),
        0.95,
      ),
    )} ms p95, ${statusCalls[0]} API calls`,
    "< 300 ms",
  );

  const moves: Record<
    string,
    {
      wall: number[];
      floor: number[];
      rss: number[];
      calls: ReturnType<typeof splitCalls>[];
      maxPollRate: number[];
    }
  > = {
    out: { wall: [], floor: [], rss: [], calls: [], maxPollRate: [] },
    in: { wall: [], floor: [], rss: [], calls: [], maxPollRate: [] },
  };
  const world = sim.world();
  for (let i = 0; i < CYCLES; i++) {
    for (const cmd of ["out", "in"] as const) {
      const t0 = Date.now();
      const run = await ok(await agent(host.env, [cmd, "--json"]), cmd);
      const doc = JSON.parse(run.stdout) as { steps: StepReport[] };
      const calls = callsBetween(sim, id, t0, Date.now());
      const acted = calls.find((c) => c.action === (cmd === "out" ? "EnterStandby" : "ExitStandby"))!;
      // The floor: from AWS accepting the action to the simulator's record of the transition's end.
      const end =
        cmd === "out"
          ? world.groups
              .get("web")!
              .activities.find((a) => a.description === `Moving EC2 instance to Standby: ${id}`)!.endTime!
          : world.history.filter((h) => h.instanceId === id && h.serving).at(-1)!.t;
      moves[cmd]!.wall.push(run.ms);
      moves[cmd]!.floor.push(end - acted.t);
      moves[cmd]!.rss.push(run.rssKb / 1024);
      moves[cmd]!.calls.push(splitCalls(calls, doc.steps));
      moves[cmd]!.maxPollRate.push(moves[cmd]!.calls.at(-1)!.maxPollsPerLbPerSecond);
    }
  }
  for (const cmd of ["out", "in"] as const) {
    const m = moves[cmd]!;
    const overhead = m.wall.map((w, i) => w - m.floor[i]!);
    report[cmd] = {
      wallMs: stats(m.wall),
      floorMs: stats(m.floor),
      overheadMs: stats(overhead),
      apiCalls: m.calls[0],
      maxPollsPerLoadBalancerInAnySecond: Math.max(...m.maxPollRate),
      peakRssMB: stats(m.rss),
    };
    const c = m.calls[0]!;
    row(
      `${cmd} (three-hosts) wall / floor / overhead`,
      `${r(quantile(m.wall, 0.5))} / ${r(quantile(m.floor, 0.5))} / ${r(quantile(overhead, 0.5))} ms median (overhead p95 ${r(quantile(overhead, 0.95))} ms)`,
      "overhead <= 500 ms",
    );
    row(
      `${cmd} API calls`,
      `${c.discovery} discovery/decision + ${c.action} action + ${c.polling} polling (at most ${Math.max(...m.maxPollRate)} poll per LB in any second)`,
      cmd === "out" ? "<= 12 besides polling; <= 1 poll/LB/s" : "<= 1 poll/LB/s",
    );
  }
  row("peak RSS of out", `${r(quantile(moves.out!.rss, 0.5))} MB median`, "< 80 MB");

  // `out --lock dynamodb:...`: the compare-and-swap lock instead of the tags' settle.
  const LOCK = ["--lock", "dynamodb:bench-locks"];
  await ok(await agent(host.env, ["lock", "create", ...LOCK]), "lock create");
  const locked = { wall: [] as number[], floor: [] as number[] };
  for (let i = 0; i < CYCLES; i++) {
    const t0 = Date.now();
    const run = await ok(await agent(host.env, ["out", "--json", ...LOCK]), "out --lock");
    const acted = callsBetween(sim, id, t0, Date.now()).find((c) => c.action === "EnterStandby")!;
    const end = world.groups
      .get("web")!
      // Newest first, as AWS lists them.
      .activities.find((a) => a.description === `Moving EC2 instance to Standby: ${id}`)!.endTime!;
    locked.wall.push(run.ms);
    locked.floor.push(end - acted.t);
    await ok(await agent(host.env, ["in", ...LOCK]), "in");
  }
  const lockedOverhead = locked.wall.map((w, i) => w - locked.floor[i]!);
  report.outLocked = {
    wallMs: stats(locked.wall),
    floorMs: stats(locked.floor),
    overheadMs: stats(lockedOverhead),
  };
  row(
    "out --lock dynamodb (three-hosts) wall / floor / overhead",
    `${r(quantile(locked.wall, 0.5))} / ${r(quantile(locked.floor, 0.5))} / ${r(quantile(lockedOverhead, 0.5))} ms median`,
    "overhead <= 400 ms",
  );

  // How long a host without metadata (not EC2, or IMDS hung) takes to say so: the "never hangs" figure.
  await control(sim, "POST", "faults", { service: "imds", host: id, kind: "unreachable" });
  const noMetadata = await agent(host.env, ["status"]);
  if (noMetadata.code !== 6)
    throw new Error(`status without metadata exited ${noMetadata.code}: ${noMetadata.stderr}`);
  report.metadataUnreachable = { wallMs: r(noMetadata.ms), exitCode: noMetadata.code };
  row("metadata unreachable -> exit 6", `${r(noMetadata.ms)} ms`, "< 6 s (1 s quick + 4 s patient try)");
  await sim.stop();

  // 3b. A host in no Auto Scaling group (standalone-pair): named load balancers, then --discover.
  process.stderr.write("standalone-pair...\n");
  const pair = await startSim(loadFleet("standalone-pair"));
  const [pairId, pairHost] = firstHost(pair);
  const tgArn = [...pair.world().targetGroups.values()][0]!.arn;
  const named = { ...pairHost.env, BALANCED_LOAD_BALANCER: "app-classic", BALANCED_TARGET_GROUP: tgArn };
  const standalone: Record<string, { wall: number[]; calls: number[] }> = {
    out: { wall: [], calls: [] },
    in: { wall: [], calls: [] },
  };
  for (let i = 0; i < CYCLES; i++) {
    for (const cmd of ["out", "in"] as const) {
      const t0 = Date.now();
      const run = await ok(await agent(named, [cmd, "--json"]), `standalone ${cmd}`);
      standalone[cmd]!.wall.push(run.ms);
      standalone[cmd]!.calls.push(callsBetween(pair, pairId, t0, Date.now()).length);
    }
  }
  const t0Discover = Date.now();
  const discovered = await ok(
    await agent(pairHost.env, ["status", "--discover", "--json"]),
    "status --discover",
  );
  const discoverCalls = callsBetween(pair, pairId, t0Discover, Date.now()).length;
  report.standalone = {
    out: { wallMs: stats(standalone.out!.wall), apiCalls: stats(standalone.out!.calls) },
    in: { wallMs: stats(standalone.in!.wall), apiCalls: stats(standalone.in!.calls) },
    statusDiscover: { wallMs: r(discovered.ms), apiCalls: discoverCalls },
  };
  for (const cmd of ["out", "in"] as const)
    row(
      `standalone ${cmd} (drain/health 2 s) wall`,
      `${r(quantile(standalone[cmd]!.wall, 0.5))} ms median, ${quantile(standalone[cmd]!.calls, 0.5)} API calls`,
      cmd === "out" ? "turn settle 2.5 s + drain 2 s" : "health 2 s",
    );
  row("status --discover (1 ELB, 1 TG)", `${r(discovered.ms)} ms, ${discoverCalls} API calls`, "");
  await pair.stop();

  // 3c. balanced watch: its idle cost, and how long from a Spot notice to drained everywhere.
  process.stderr.write("watch...\n");
  const watched = await startSim(loadFleet("three-hosts"));
  const [watchId, watchHost] = firstHost(watched);
  const watcher = spawn(process.execPath, [BUNDLE, "watch", "-q"], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: os.tmpdir(),
      BALANCED_DEFAULTS_FILE: "/nonexistent",
      ...watchHost.env,
    },
    stdio: "ignore",
  });
  const procStat = () => {
    const fields = readFileSync(`/proc/${watcher.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks
  };
  const rssMb = () =>
    Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${watcher.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  await sleep(5000); // started and settled into its loop
  const IDLE_MS = flags.quick ? 10_000 : 30_000;
  const ticks0 = procStat();
  await sleep(IDLE_MS);
  const idleCpuPercent = ((procStat() - ticks0) / 100 / (IDLE_MS / 1000)) * 100; // USER_HZ is 100 on Linux
  const idleRss = rssMb();
  const noticeAt = Date.now();
  await control(watched, "POST", "events", {
    kind: "spot-interruption",
    instance: watchId,
    noticeSeconds: 120,
  });
  // Drained everywhere: deregistered (draining done) from every load balancer, as `out` waits for.
  const left = async () => {
    const w = watched.world();
    const registered =
      [...w.classicLbs.values()].some((lb) => lb.registrations.has(watchId)) ||
      [...w.targetGroups.values()].some((tg) => [...tg.targets.values()].some((t) => t.id === watchId));
    return registered ? undefined : Date.now();
  };
  let drainedAt: number | undefined;
  for (let i = 0; i < 600 && drainedAt === undefined; i++) {
    drainedAt = await left();
    if (drainedAt === undefined) await sleep(100);
  }
  watcher.kill("SIGTERM");
  await watched.stop();
  report.watch = {
    idleCpuPercent: r(idleCpuPercent, 2),
    idleRssMB: r(idleRss, 1),
    pollIntervalS: 2,
    noticeToDrainedMs: drainedAt === undefined ? null : r(drainedAt - noticeAt),
    windowMs: 120_000,
  };
  row("watch idle (poll every 2 s)", `${r(idleCpuPercent, 2)}% of a core, ${r(idleRss, 1)} MB RSS`, "small");
  row(
    "watch: Spot notice -> drained everywhere",
    drainedAt === undefined ? "not drained" : `${r((drainedAt - noticeAt) / 1000, 1)} s`,
    "within the 120 s window (2 s drain here)",
  );

  // 4. Scale.
  process.stderr.write("scale...\n");
  const scale: unknown[] = [];
  for (const instances of [10, 100, 1000]) {
    for (const tgs of [1, 5, 10]) {
      const s = await startSim(fleetOf(instances, tgs));
      const [sid, shost] = firstHost(s);
      for (const args of [["status"], ["out", "--dry-run"]]) {
        const walls: number[] = [];
        let calls = 0;
        for (let i = 0; i < Math.max(2, Math.floor(REPEAT / 3)); i++) {
          const t0 = Date.now();
          walls.push((await ok(await agent(shost.env, [...args, "--json"]), args.join(" "))).ms);
          calls = callsBetween(s, sid, t0, Date.now()).length;
        }
        scale.push({
          instances,
          targetGroups: tgs,
          command: args.join(" "),
          wallMs: stats(walls),
          apiCalls: calls,
        });
        if (args[0] === "status") {
          row(
            `status, ${instances} instances, ${tgs} TGs`,
            `${r(quantile(walls, 0.5))} ms median, ${calls} API calls`,
            instances === 1000 && tgs === 10 ? "< 1 s, < 30 calls" : "",
          );
        }
      }
      await s.stop();
    }
  }
  report.scale = scale;

  // 5. Fleet storm: 100 agents at once, APIs throttled at 20 requests/s.
  process.stderr.write("storm...\n");
  const storm = await startSim(fleetOf(100, 1));
  for (const service of ["autoscaling", "elb", "elbv2", "ec2"])
    storm.faults.add({ service: service as "autoscaling", kind: "throttle", rps: 20 });
  const t0 = performance.now();
  const stormRuns = await Promise.all(Object.values(storm.hosts).map((h) => agent(h.env, ["status", "-q"])));
  const finished = stormRuns.filter((x) => x.code === 0).length;
  const throttled = storm.calls.filter(
    (c) => c.outcome === "Throttling" || c.outcome === "RequestLimitExceeded",
  ).length;
  report.storm = {
    agents: stormRuns.length,
    finished,
    failed: stormRuns.length - finished,
    lastFinishedMs: r(Math.max(...stormRuns.map((x) => x.ms))),
    wallMs: r(performance.now() - t0),
    apiCalls: storm.calls.filter((c) => c.service !== "imds").length,
    throttledCalls: throttled,
    failures: stormRuns.filter((x) => x.code !== 0).map((x) => x.stderr.trim().split("\n").at(-1)),
  };
  row(
    "storm: 100 agents, 20 req/s",
    `${finished}/100 finished, last after ${r(Math.max(...stormRuns.map((x) => x.ms)) / 1000, 1)} s, ${throttled} calls throttled`,
    "zero failures",
  );
  await storm.stop();

  report.table = rows.map(([figure, value, target]) => ({ figure, value, target }));
  writeFileSync(flags.out!, `${JSON.stringify(report, null, 2)}\n`);
  const width = Math.max(...rows.map(([f]) => f.length));
  process.stdout.write(`\n${"figure".padEnd(width)}  measured  [target]\n`);
  for (const [figure, value, target] of rows)
    process.stdout.write(`${figure.padEnd(width)}  ${value}${target ? `  [${target}]` : ""}\n`);
  process.stdout.write(`\nmachine: ${JSON.stringify(report.machine)}\nreport written to ${flags.out}\n`);
}

await main();
