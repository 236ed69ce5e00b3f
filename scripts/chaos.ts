/**
 * `npm run chaos`: N agents at once on N simulated hosts, doing what operators do, under the faults AWS
 * really has (stale reads, lost responses, slow applies, kills, pauses, clock skew), every trial
 * checked by test/chaos/checker.ts. One line per trial, then a summary; `--json` makes the last stdout
 * line `{"trials":T,"violations":V,"incomplete":I,"seed":K,...}`. Exits 0 only when V and I are 0.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { formatTimeline } from "../test/chaos/checker";
import {
  type ChaosConfig,
  hasFaketime,
  runTrial,
  type Scenario,
  type TrialResult,
} from "../test/chaos/harness";

const USAGE = `usage: npm run chaos -- [options]
  --fleet F            fleet name or JSON file (default ten-hosts)
  --hosts N            agents, one per host, started at once (default 3)
  --trials T           trials (default 10)
  --parallel P         trials at once (default 2)
  --stale-ms X         describe calls answered from up to X ms ago
  --lost-responses     10% of calls applied, their answer lost
  --slow-ms Y          30% of acting calls answered Y ms late (world changed at the start or the end)
  --kill               30% of agent runs killed (SIGTERM or SIGKILL) at a random moment, then rerun
  --pause              30% of agent runs paused (SIGSTOP) for 1-5 s
  --skew-ms S          each host's clock off by up to ±S ms (needs faketime)
  --scenarios LIST     of chain,run,repair,shutdown (default chain,run,repair)
  --agent-args="..."   flags for every agent, given as BALANCED_* settings (note the =)
  --lock TABLE         every agent takes turns through the DynamoDB lock (--lock dynamodb:TABLE),
                       the table created in each trial's simulator
  --naive              an unguarded mover instead of the agent: must show violations
  --seed K             first trial's seed (trial i uses K+i); replay one with --seed K --trials 1
  --json               last stdout line is the JSON summary
`;

function fail(message: string): never {
  process.stderr.write(`chaos: ${message}\n${USAGE}`);
  process.exit(2);
}

const parse = () =>
  parseArgs({
    options: {
      fleet: { type: "string", default: "ten-hosts" },
      hosts: { type: "string", default: "3" },
      trials: { type: "string", default: "10" },
      parallel: { type: "string", default: "2" },
      "stale-ms": { type: "string", default: "0" },
      "lost-responses": { type: "boolean", default: false },
      "slow-ms": { type: "string", default: "0" },
      kill: { type: "boolean", default: false },
      pause: { type: "boolean", default: false },
      "skew-ms": { type: "string", default: "0" },
      scenarios: { type: "string", default: "chain,run,repair" },
      "agent-args": { type: "string", default: "" },
      naive: { type: "boolean", default: false },
      lock: { type: "string", default: "" },
      seed: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (err) {
    fail((err as Error).message.split("\n")[0]!);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const int = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      fail(`--${name} takes a whole number of at least ${min}, not "${v}"`);
    return n;
  };
  const scenarios = values.scenarios.split(",").map((s) => s.trim()) as Scenario[];
  for (const s of scenarios)
    if (!["chain", "run", "repair", "shutdown"].includes(s)) fail(`unknown scenario ${s}`);
  const cfg: ChaosConfig = {
    fleet: values.fleet,
    hosts: int("hosts", values.hosts, 1),
    staleMs: int("stale-ms", values["stale-ms"], 0),
    lostResponses: values["lost-responses"],
    slowMs: int("slow-ms", values["slow-ms"], 0),
    kill: values.kill,
    pause: values.pause,
    skewMs: int("skew-ms", values["skew-ms"], 0),
    agentArgs: values["agent-args"].split(/\s+/).filter(Boolean),
    naive: values.naive,
    lockTable: values.lock.replace(/^dynamodb:/, "") || undefined,
    scenarios,
  };
  const trials = int("trials", values.trials, 1);
  const parallel = int("parallel", values.parallel, 1);
  const seed =
    values.seed === undefined ? Math.floor(Math.random() * 1_000_000) : int("seed", values.seed, 0);
  if (cfg.skewMs > 0 && !hasFaketime()) fail("--skew-ms needs faketime: apt-get install faketime");
  if (!cfg.naive && !existsSync(join(import.meta.dirname, "..", "dist", "balanced.js")))
    fail("dist/balanced.js is missing: npm run build first");
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const what = [
    cfg.naive ? "naive mover" : "balanced",
    `${cfg.hosts} hosts of ${cfg.fleet}`,
    cfg.staleMs && `stale ${cfg.staleMs} ms`,
    cfg.lostResponses && "lost responses",
    cfg.slowMs && `slow ${cfg.slowMs} ms`,
    cfg.kill && "kills",
    cfg.pause && "pauses",
    cfg.skewMs && `skew ±${cfg.skewMs} ms`,
    cfg.agentArgs.length > 0 && `args ${cfg.agentArgs.join(" ")}`,
    cfg.lockTable && `lock dynamodb:${cfg.lockTable}`,
  ].filter(Boolean);
  log(`chaos: ${trials} trials, ${what.join(", ")}; seed ${seed}`);

  const started = Date.now();
  const results: TrialResult[] = [];
  let next = 0;
  const worker = async () => {
    while (next < trials) {
      const i = next++;
      const r = await runTrial(cfg, seed + i);
      results.push(r);
      const verdict = r.violations.length > 0 ? "VIOLATION" : r.incomplete.length > 0 ? "INCOMPLETE" : "ok";
      const runs = Object.entries(r.runs)
        .map(([h, rs]) => `${h.slice(-3)}[${rs.map((x) => x.replace(/ \(.*/, "")).join(" ")}]`)
        .join(" ");
      log(
        `trial ${i + 1}/${trials} seed=${r.seed} ${verdict} ${(r.durationMs / 1000).toFixed(1)} s  ${runs}`,
      );
      for (const v of r.violations) {
        log(`  violation: ${v.scope}: ${v.what}; replay: npm run chaos -- ${replayArgs(values, r.seed)}`);
        for (const line of formatTimeline(v, r.t0)) log(line);
      }
      for (const p of r.incomplete) log(`  incomplete: ${p}`);
      if (verdict !== "ok")
        for (const [h, rs] of Object.entries(r.runs))
          for (const x of rs.filter((y) => y.includes("("))) log(`    ${h}: ${x}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, trials) }, worker));
  const violations = results.filter((r) => r.violations.length > 0).length;
  const incomplete = results.filter((r) => r.violations.length === 0 && r.incomplete.length > 0).length;
  const summary = {
    trials,
    violations,
    incomplete,
    seed,
    config: cfg,
    failedSeeds: results
      .filter((r) => r.violations.length || r.incomplete.length)
      .map((r) => r.seed)
      .sort((a, b) => a - b),
    durationS: Math.round((Date.now() - started) / 100) / 10,
  };
  log(
    `chaos: ${trials} trials: ${violations} with a budget violation, ${incomplete} incomplete (${summary.durationS} s)`,
  );
  if (values.json) log(JSON.stringify(summary));
  process.exitCode = violations === 0 && incomplete === 0 ? 0 : 1;
}

/** The flags that replay one trial: the same configuration, its seed, one trial. */
function replayArgs(values: Record<string, string | boolean | undefined>, seed: number): string {
  const skip = new Set(["seed", "trials", "parallel", "json", "help"]);
  const args = Object.entries(values)
    .filter(([k, v]) => !skip.has(k) && v !== false && v !== "" && v !== "0")
    .map(([k, v]) =>
      v === true ? `--${k}` : /^-|\s/.test(String(v)) ? `--${k}=${JSON.stringify(v)}` : `--${k} ${v}`,
    );
  return [...args, `--seed ${seed}`, "--trials 1"].join(" ");
}

// Interrupted: exit through the harness's exit hook, which kills every agent still running.
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => {
    process.stderr.write(`chaos: ${signal}: stopping; agents still running are killed\n`);
    process.exit(signal === "SIGINT" ? 130 : 143);
  });

main().catch((err: unknown) => {
  process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
