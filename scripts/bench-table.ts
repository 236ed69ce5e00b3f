/**
 * The benchmark's figures beside their goals, from a report `npm run bench` wrote: the table printed
 * at the end of a run, and the one in docs/performance.md (`npm run bench -- --readme`, or `--table FILE` for
 * an existing report). Pure: a report in, rows out, so the docs cannot say what no report said.
 */

/** A summary of n measurements: the median, and the p95 only where n >= 20 (else the max). */
export interface Summary {
  median: number;
  p95?: number;
  max?: number;
  n: number;
}

/** The true median (the mean of the middle two for an even n); p95 by nearest rank, n >= 20 only. */
export function summarize(xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return { median: Number.NaN, max: Number.NaN, n };
  const median = n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  const round = (x: number) => Math.round(x * 10) / 10;
  if (n >= 20) return { median: round(median), p95: round(s[Math.ceil(0.95 * n) - 1]!), n };
  return { median: round(median), max: round(s[n - 1]!), n };
}

/** The difference of two summaries' medians: the agent's own cost above a bare Node start. */
export const overMedian = (a: Summary | undefined, b: Summary | undefined) =>
  a && b ? Math.round((a.median - b.median) * 10) / 10 : undefined;

export interface PerfReport {
  date: string;
  machine: { cpu?: string; cores: number; memoryGiB: number; node: string; loadAverage: number[] };
  settings: { stalenessBoundMs: number; timeScaleOfDefaults: number };
  coldStart: {
    bareNode: { wallMs: Summary };
    "--version": { wallMs: Summary; overBareNodeMs?: number };
    exe?: { "--version": { wallMs: Summary; overBareNodeMs?: number } };
  };
  status: { wallMs: Summary; overBareNodeMs?: number };
  out: { overheadMs: Summary; peakRssMB: Summary };
  outLocked: { overheadMs: Summary };
  in: { overheadMs: Summary };
  defaults?: Partial<
    Record<"out" | "in" | "outLocked" | "inLocked", { overheadMs: Summary; floorMs: Summary }>
  >;
  scale: { instances: number; targetGroups: number; command: string; wallMs: Summary }[];
  storm: { completed: Summary; agents: Summary; worstCompleted: number };
  turnStorm?: { agents: number; completed: number; lastFinishedMs: number };
}

export interface Row {
  figure: string;
  measured: string;
  goal: string;
  met: boolean | undefined;
}

const spread = (s: Summary, unit: string) =>
  `${s.median} ${unit} median (${s.p95 !== undefined ? `p95 ${s.p95}` : `max ${s.max}`}, n=${s.n})`;

/** The rows of issue 15's table: each figure, what the report measured, the goal, and whether it is met. */
export function perfRows(r: PerfReport): Row[] {
  const rows: Row[] = [];
  const add = (figure: string, measured: string, goal: string, met: boolean | undefined) =>
    rows.push({ figure, measured, goal, met });
  const bound = r.settings.stalenessBoundMs;
  add(
    "`out` overhead above AWS's floor, tags",
    spread(r.out.overheadMs, "ms"),
    `≤ staleness bound + 400 ms (${bound + 400} ms)`,
    r.out.overheadMs.median <= bound + 400,
  );
  add(
    "`out` overhead above the floor, `--lock dynamodb:…`",
    spread(r.outLocked.overheadMs, "ms"),
    "≤ 400 ms",
    r.outLocked.overheadMs.median <= 400,
  );
  add(
    "`in` overhead above the floor",
    spread(r.in.overheadMs, "ms"),
    "≤ 400 ms",
    r.in.overheadMs.median <= 400,
  );
  const scale = r.settings.timeScaleOfDefaults;
  const atDefaults = (key: keyof NonNullable<PerfReport["defaults"]>, figure: string, goalMs: number) => {
    const d = r.defaults?.[key];
    if (d)
      add(
        `${figure} at AWS's defaults (÷${scale})`,
        `${spread(d.overheadMs, "ms")} over a ${d.floorMs.median} ms floor`,
        `≤ ${goalMs} ms`,
        d.overheadMs.median <= goalMs,
      );
  };
  atDefaults("out", "`out` overhead (300 s drain)", bound + 400);
  atDefaults("outLocked", "`out --lock` overhead (300 s drain)", 400);
  atDefaults("in", "`in` overhead (30 s × 5 health checks)", 400);
  const bare = r.coldStart.bareNode.wallMs;
  add("bare `node -e 0` start (same run)", spread(bare, "ms"), "reference", undefined);
  const js = r.coldStart["--version"];
  add(
    "`node dist/balanced.js --version`, above bare node",
    `${js.overBareNodeMs} ms (${spread(js.wallMs, "ms")})`,
    "",
    undefined,
  );
  const exe = r.coldStart.exe?.["--version"];
  add(
    "single executable `--version`, above bare node",
    exe ? `${exe.overBareNodeMs} ms (${spread(exe.wallMs, "ms")})` : "not built",
    "≤ 50 ms",
    exe?.overBareNodeMs !== undefined ? exe.overBareNodeMs <= 50 : false,
  );
  add(
    "`status` on three-hosts, above bare node",
    `${r.status.overBareNodeMs} ms (${spread(r.status.wallMs, "ms")})`,
    "≤ 200 ms",
    r.status.overBareNodeMs !== undefined && r.status.overBareNodeMs <= 200,
  );
  add("peak RSS of `out`", spread(r.out.peakRssMB, "MB"), "≤ 60 MB", r.out.peakRssMB.median <= 60);
  const big = r.scale.find((s) => s.instances === 1000 && s.targetGroups === 10 && s.command === "status");
  add(
    "`status`, 1,000 instances × 10 target groups",
    big ? spread(big.wallMs, "ms") : "not measured",
    "≤ 800 ms",
    big ? big.wallMs.median <= 800 : false,
  );
  const { completed, agents, worstCompleted } = r.storm;
  add(
    "storm: 100 agents at once, APIs throttled at 20 req/s",
    `${completed.median}/${agents.median} completed (worst run ${worstCompleted}, n=${completed.n})`,
    "100/100",
    worstCompleted === agents.median,
  );
  const turns = r.turnStorm;
  if (turns)
    add(
      "turn storm: 20 agents `out --wait-for-turn 15m && in`, 1,000 instances, APIs throttled at 20 req/s",
      `${turns.completed}/${turns.agents} completed, the last after ${Math.round(turns.lastFinishedMs / 1000)} s`,
      `${turns.agents}/${turns.agents}`,
      turns.completed === turns.agents,
    );
  return rows;
}

/** The rows as a Markdown table, with the run's machine under it. */
export function perfTable(r: PerfReport): string {
  const mark = (m: boolean | undefined) => (m === undefined ? "" : m ? "met" : "**not met**");
  const lines = [
    "| figure | measured | goal | |",
    "| --- | --- | --- | --- |",
    ...perfRows(r).map((x) => `| ${x.figure} | ${x.measured} | ${x.goal} | ${mark(x.met)} |`),
    "",
    `Measured ${r.date.slice(0, 10)} on ${r.machine.cores} cores (${r.machine.cpu ?? "unknown CPU"}), ` +
      `${r.machine.memoryGiB} GiB, Node ${r.machine.node}, load average ${r.machine.loadAverage.join(" ")} at the start.`,
  ];
  return lines.join("\n");
}

export const TABLE_START = "<!-- performance table: npm run bench -- --readme -->";
export const TABLE_END = "<!-- end of performance table -->";

/** docs/performance.md with the table between its markers replaced by this report's. */
export function withPerfTable(readme: string, r: PerfReport): string {
  const a = readme.indexOf(TABLE_START);
  const b = readme.indexOf(TABLE_END);
  if (a < 0 || b < a)
    throw new Error(`docs/performance.md has no "${TABLE_START}" ... "${TABLE_END}" section`);
  return `${readme.slice(0, a + TABLE_START.length)}\n${perfTable(r)}\n${readme.slice(b)}`;
}
