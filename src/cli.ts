import yargs, { type Argv, type Options } from "yargs";
import type { CommandOptions } from "./commands/run";
import { parseLockSpec } from "./core/lock";
import { settleMs } from "./core/turn";
import { EXIT_CODE_MEANINGS, usageError } from "./errors";
import { parseDuration, parseQuantity } from "./options";

declare const __BALANCED_VERSION__: string;
export const VERSION = typeof __BALANCED_VERSION__ === "string" ? __BALANCED_VERSION__ : "dev";

export type CommandName = "status" | "out" | "in" | "run" | "repair" | "iam-policy" | "watch" | "lock";

export interface Invocation {
  command: CommandName;
  options: CommandOptions;
}

/** The setting (environment variable, /etc/default/balanced line) of a flag. */
export const envName = (flag: string) => `BALANCED_${flag.toUpperCase().replace(/-/g, "_")}`;

/** A comma list in an environment variable (BALANCED_TARGET_GROUP=a,b) or repeated flags. */
const list = (v: unknown): string[] =>
  (Array.isArray(v) ? v : v === undefined ? [] : [v])
    .flatMap((x) => String(x).split(","))
    .map((x) => x.trim())
    .filter(Boolean);

/** Repeated flags, each one whole: an Auto Scaling group's name may itself contain a comma. */
const names = (v: unknown): string[] =>
  (Array.isArray(v) ? v : v === undefined ? [] : [v]).map((x) => String(x).trim()).filter(Boolean);

/**
 * Every option, once: the CLI, `BALANCED_*` environment variables (yargs' `.env`) and the README's
 * table are all generated from this.
 */
export const GLOBAL_OPTIONS = {
  json: {
    type: "boolean",
    default: false,
    describe:
      "Print one JSON document on stdout (outcome, message, exitCode, steps with timings, apiCalls, snapshot)",
  },
  quiet: {
    type: "boolean",
    alias: "q",
    default: false,
    describe: "No progress on stderr; only the result and errors",
  },
  "target-group": {
    type: "string",
    array: true,
    describe:
      "Also wait on this target group ARN (repeatable, or a comma list); a host in no Auto Scaling group is deregistered from it directly",
  },
  "load-balancer": {
    type: "string",
    array: true,
    describe:
      "Also wait on this classic load balancer (repeatable, or a comma list); a host in no Auto Scaling group is deregistered from it directly",
  },
  "defaults-file": {
    type: "string",
    default: "/etc/default/balanced",
    describe:
      "Read BALANCED_* settings from this file (the systemd unit's EnvironmentFile); the environment and flags win; a missing file is fine",
  },
  discover: {
    type: "boolean",
    default: false,
    describe:
      "A host in no Auto Scaling group: find its load balancers by asking every classic ELB and target group in the region (slower: a call per target group)",
  },
} satisfies Record<string, Options>;

export const MOVE_OPTIONS = {
  "dry-run": {
    type: "boolean",
    default: false,
    describe: "Decide everything, change nothing; exit with the code the real run would",
  },
  timeout: {
    type: "string",
    defaultDescription: "from the load balancers' settings",
    describe:
      "`out`, `in`: end by this long (300, 90s, 5m), exit 5: every wait, the turn and a hung AWS call are cut there; without it, the wait's deadline follows from the load balancers' settings",
  },
} satisfies Record<string, Options>;

export const OUT_OPTIONS = {
  "min-size": {
    type: "string",
    choices: ["lower", "refuse"],
    default: "lower",
    describe:
      "`out`: when the group is at its MinSize, lower it by one while this host is out (recorded on the group, restored by `in` or `repair`), or refuse (exit 3)",
  },
  "staleness-bound": {
    type: "string",
    default: "3s",
    describe:
      "`out`, `in`: how stale AWS's describe answers may be; the turn waits 2 s + twice this before trusting its read-back and is kept this long after leaving; `in` after a killed `out` waits this long past that run's last call",
  },
  "wait-for-turn": {
    type: "string",
    describe:
      "`out`: when another host is leaving, the group is busy or the budget is spent, retry (with jitter) for up to this long instead of exiting 3/4 at once",
  },
} satisfies Record<string, Options>;

/** For the systemd unit (systemd/balanced.service); flags only, never settings in the environment. */
export const SHUTDOWN_OPTIONS = {
  shutdown: {
    type: "boolean",
    default: false,
    describe:
      "`out`: the host is shutting down: drain even if busy or over budget (it goes down anyway), record it for the boot, and only wait when the group is already terminating it",
  },
  "after-shutdown": {
    type: "boolean",
    default: false,
    describe: "`in`: only if `out --shutdown` took this host out (at boot); otherwise do nothing, exit 0",
  },
} satisfies Record<string, Options>;

/** Flags an operator must mean each time: never settings in the environment. */
export const FORCE_OPTIONS = {
  force: {
    type: "boolean",
    default: false,
    describe:
      "`in`: take this host back although balanced did not put it in Standby (someone else parked it, to keep it out of service)",
  },
} satisfies Record<string, Options>;

/** The flags that are never settings: a mode switch or an override left in /etc/default would apply to every run. */
export const FLAG_ONLY = new Set<string>([...Object.keys(SHUTDOWN_OPTIONS), ...Object.keys(FORCE_OPTIONS)]);

export const RUN_OPTIONS = {
  "on-failure": {
    type: "string",
    choices: ["stay", "in"],
    default: "stay",
    describe:
      "`run`: when the command fails, leave this host out (stay) or return it anyway (in); exit 8 either way",
  },
  "reboot-exit-codes": {
    type: "string",
    default: "35,37,194",
    describe:
      '`run`: the command\'s exit codes that mean "reboot, then carry on" (Chef 35 and 37, Systems Manager 194): the host stays out, recorded to return at its next boot, and run exits with that code',
  },
} satisfies Record<string, Options>;

export const IAM_OPTIONS = {
  group: {
    type: "string",
    array: true,
    describe:
      "`iam-policy`: scope the changes to this Auto Scaling group (repeatable; a name may contain commas)",
  },
  standalone: {
    type: "boolean",
    default: false,
    describe:
      "`iam-policy`: add the load balancer changes a host in no Auto Scaling group needs (scoped to --load-balancer/--target-group when given)",
  },
} satisfies Record<string, Options>;

export const LOCK_OPTIONS = {
  lock: {
    type: "string",
    describe:
      "Take turns through this DynamoDB table (dynamodb:TABLE; conditional writes, strongly consistent reads) instead of tags; every host of a fleet must use the same; `balanced lock create` makes the table",
  },
} satisfies Record<string, Options>;

export const STATUS_OPTIONS = {
  "stale-after": {
    type: "string",
    default: "1h",
    describe: "`status`: flag a host that has been in Standby longer than this (a forgotten `in`)",
  },
} satisfies Record<string, Options>;

export const WATCH_OPTIONS = {
  "poll-interval": {
    type: "string",
    default: "2s",
    describe:
      "`watch`: how often to read the instance metadata service (it spends no AWS API calls while idle)",
  },
  "on-rebalance": {
    type: "string",
    choices: ["ignore", "drain"],
    default: "ignore",
    describe:
      "`watch`: on a rebalance recommendation (a Spot Instance at elevated risk), leave the load balancers (drain) or only log it (ignore)",
  },
  "maintenance-lead": {
    type: "string",
    default: "10m",
    describe:
      "`watch`: leave the load balancers this long before a scheduled event (reboot, retirement) may start",
  },
  "ready-url": {
    type: "string",
    describe: "`watch`: a launch lifecycle hook is completed with CONTINUE once this URL answers 2xx",
  },
  "ready-command": {
    type: "string",
    describe: "`watch`: ... or once this shell command exits 0 (without either, at once)",
  },
  "ready-timeout": {
    type: "string",
    default: "10m",
    describe: "`watch`: complete the launch hook with ABANDON when the host is not ready within this long",
  },
} satisfies Record<string, Options>;

export const BUDGET_OPTIONS = {
  "min-healthy": {
    type: "string",
    defaultDescription: "1, or the group's instance maintenance policy",
    describe:
      "Healthy instances that must remain once this host is out: N, or P% of the group's full size (desired capacity + members in Standby), rounded up",
  },
  "max-unavailable": {
    type: "string",
    default: "1",
    describe:
      "Instances that may be out of service or unhealthy at once, this host included: N, or P% of the group's full size, rounded up",
  },
} satisfies Record<string, Options>;

/** Every option group, in the order the README's table lists them. */
export const ALL_OPTIONS = {
  ...GLOBAL_OPTIONS,
  ...BUDGET_OPTIONS,
  ...MOVE_OPTIONS,
  ...OUT_OPTIONS,
  ...SHUTDOWN_OPTIONS,
  ...FORCE_OPTIONS,
  ...RUN_OPTIONS,
  ...STATUS_OPTIONS,
  ...IAM_OPTIONS,
  ...LOCK_OPTIONS,
  ...WATCH_OPTIONS,
} satisfies Record<string, Options>;

/** What a flag's value looks like, for the docs. */
export const VALUE_NAMES: Partial<Record<keyof typeof ALL_OPTIONS, string>> = {
  "target-group": "ARN",
  "load-balancer": "NAME",
  "min-healthy": "N or P%",
  "max-unavailable": "N or P%",
  timeout: "DURATION",
  "wait-for-turn": "DURATION",
  "staleness-bound": "DURATION",
  "stale-after": "DURATION",
  group: "NAME",
  "poll-interval": "DURATION",
  "maintenance-lead": "DURATION",
  "ready-url": "URL",
  "ready-command": "COMMAND",
  "ready-timeout": "DURATION",
  lock: "dynamodb:TABLE",
};

/**
 * Which options each command takes, beyond GLOBAL_OPTIONS: the builders below and the settings
 * filter (`settingsFor`) both read this, so a setting in the environment or /etc/default/balanced
 * applies exactly where its flag would.
 */
export const COMMAND_OPTIONS = {
  status: { ...BUDGET_OPTIONS, ...STATUS_OPTIONS, ...LOCK_OPTIONS },
  out: {
    ...BUDGET_OPTIONS,
    ...MOVE_OPTIONS,
    ...OUT_OPTIONS,
    ...LOCK_OPTIONS,
    shutdown: SHUTDOWN_OPTIONS.shutdown,
  },
  in: {
    ...MOVE_OPTIONS,
    "after-shutdown": SHUTDOWN_OPTIONS["after-shutdown"],
    ...FORCE_OPTIONS,
    "staleness-bound": OUT_OPTIONS["staleness-bound"],
    ...LOCK_OPTIONS,
  },
  run: { ...BUDGET_OPTIONS, ...MOVE_OPTIONS, ...OUT_OPTIONS, ...RUN_OPTIONS, ...LOCK_OPTIONS },
  // The MinSize it restores is restored under the turn, so it takes the fleet's lock as `in` does.
  repair: { "staleness-bound": OUT_OPTIONS["staleness-bound"], ...LOCK_OPTIONS },
  "iam-policy": { ...IAM_OPTIONS, ...LOCK_OPTIONS },
  watch: WATCH_OPTIONS,
  lock: LOCK_OPTIONS,
  completion: {},
} satisfies Record<CommandName | "completion", Record<string, Options>>;

const COMMANDS = Object.keys(COMMAND_OPTIONS) as (keyof typeof COMMAND_OPTIONS)[];

const EPILOG = [
  "Every option of a command can also be set as BALANCED_<NAME> in the environment or in /etc/default/balanced",
  "(--min-healthy is BALANCED_MIN_HEALTHY); a command ignores the settings of options it does not take.",
  "AWS settings come from the standard environment (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_*, ...).",
  "",
  "Exit codes:",
  ...EXIT_CODE_MEANINGS.map(([code, meaning]) => `  ${String(code).padStart(3)}  ${meaning}`),
].join("\n");

/** The command argv names: the first word that is neither a flag nor a global flag's value. */
export function commandOf(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === "--") return undefined;
    if (!word.startsWith("-")) return word;
    const flag = word.replace(/^--?/, "");
    const option = (GLOBAL_OPTIONS as Record<string, Options>)[flag];
    if (option && option.type === "string") i++;
  }
  return undefined;
}

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off", ""]);

/**
 * The `BALANCED_*` settings of `env` that `command` takes, as yargs config (flags still win). A
 * setting of an option another command takes is ignored here — one /etc/default/balanced serves
 * every command and the systemd unit; a name that is no option at all fails, named as a setting.
 */
export function settingsFor(command: string | undefined, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const taken: Record<string, Options> = {
    ...GLOBAL_OPTIONS,
    ...(command && command in COMMAND_OPTIONS
      ? COMMAND_OPTIONS[command as keyof typeof COMMAND_OPTIONS]
      : {}),
  };
  const known = new Map(Object.keys(ALL_OPTIONS).map((flag) => [envName(flag), flag]));
  const settings: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("BALANCED_") || value === undefined) continue;
    const flag = known.get(name);
    if (flag === undefined) {
      const guess = [...known.keys()].find((k) => distance(name, k) <= 2);
      throw usageError(
        `unknown setting ${name} (in the environment or the settings file)${guess ? `: did you mean ${guess}?` : ""}`,
      );
    }
    // A mode switch left in /etc/default would turn every `out` into a shutdown, and a --force every
    // `in` into an override: flags only.
    if (FLAG_ONLY.has(flag))
      throw usageError(
        `${name} is not a setting: pass --${flag} on the command line${flag in SHUTDOWN_OPTIONS ? " (the systemd unit does)" : ""}`,
      );
    const option = taken[flag];
    if (!option) continue;
    if (option.type === "boolean") {
      const v = value.trim().toLowerCase();
      if (!TRUE.has(v) && !FALSE.has(v)) throw usageError(`${name} takes true or false, not "${value}"`);
      settings[flag] = TRUE.has(v);
    } else {
      settings[flag] = value;
    }
  }
  return settings;
}

export function buildParser(argv: string[], settings: Record<string, unknown> = {}): Argv {
  return yargs(argv)
    .scriptName("balanced")
    .usage("$0 <command> [options]\n\nTake this EC2 host out of its load balancers safely, and put it back.")
    .config(settings)
    .options(GLOBAL_OPTIONS)
    .command(
      "status",
      "Show this host, its group and load balancers, and what `out` and `in` would do now",
      (y) =>
        y
          .options(COMMAND_OPTIONS.status)
          .example("$0 status", "Who am I, am I healthy, may I leave?")
          .example("$0 status --json | jq .out", "What `out` would decide, for a script"),
    )
    .command(
      "out",
      "Leave the load balancers: Standby, drained everywhere (refuses if unsafe or busy)",
      (y) =>
        y
          .options(COMMAND_OPTIONS.out)
          .example("$0 out && sudo chef-client && $0 in", "The deploy chain, one host at a time")
          .example("$0 out --min-healthy 50%", "Keep at least half of the group healthy")
          .example("$0 out --dry-run", "Would it go? Exit 0, 3 or 4 without changing anything")
          .example("$0 out --timeout 10m", "Wait up to ten minutes for draining")
          .example(
            "$0 out --wait-for-turn 15m",
            "Take turns with other hosts instead of failing with exit 4",
          ),
    )
    .command("in", "Come back: InService, and healthy in every load balancer", (y) =>
      y
        .options(COMMAND_OPTIONS.in)
        .example("$0 in", "Return and wait until every load balancer sends traffic here")
        .example("$0 in --timeout 5m --json", "Bounded wait, machine-readable result"),
    )
    .command("run", RUN_DESCRIPTION, (y) =>
      y
        .usage(`$0 run [options] -- <command...>\n\n${RUN_DESCRIPTION}`)
        .options(COMMAND_OPTIONS.run)
        .example("$0 run -- sudo chef-client", "The deploy chain as one command")
        .example("$0 run --on-failure in -- ./restart.sh", "Return the host even if the command fails")
        .example("$0 run --wait-for-turn 30m -- ./deploy.sh", "Many hosts at once, taking turns"),
    )
    .command("iam-policy", "Print the least-privilege IAM policy the instance role needs (JSON)", (y) =>
      y
        .options(COMMAND_OPTIONS["iam-policy"])
        .example("$0 iam-policy --group web > policy.json", "Changes allowed on group web only"),
    )
    .command(
      "watch",
      "Run until stopped (systemd's balanced-watch.service): leave the load balancers before AWS takes this host away (Spot interruption, scheduled event, Auto Scaling lifecycle hook)",
      (y) =>
        y
          .options(COMMAND_OPTIONS.watch)
          .example("$0 watch", "Drain on Spot interruptions, retirements and scale-in hooks")
          .example("$0 watch --ready-url http://localhost/health", "Also answer launch hooks once healthy"),
    )
    .command(
      "lock <action>",
      "`lock create`: create the DynamoDB table --lock names (on-demand, time to live on its expiry), or check the one there",
      (y) =>
        y
          .positional("action", { choices: ["create"] as const, describe: "create: make the table" })
          .options(COMMAND_OPTIONS.lock)
          .example("$0 lock create --lock dynamodb:balanced-locks", "Once per account and region"),
    )
    .command(
      "repair",
      "From any host of the group: restore MinSize lowered by hosts that vanished or were stopped, remove expired turns",
      (y) =>
        y
          .options(COMMAND_OPTIONS.repair)
          .example("$0 repair", "After a host died while out: put MinSize back")
          .example("$0 repair --lock dynamodb:balanced-locks", "A fleet on the lock: also its stale items"),
    )
    .completion("completion", "Print a bash/zsh completion script: balanced completion >> ~/.bashrc")
    .demandCommand(1, "Name a command: status, out, in, run, watch, repair, lock, iam-policy or completion")
    .parserConfiguration({ "populate--": true })
    .strict()
    .version(VERSION)
    .help()
    .alias("h", "help")
    .epilog(EPILOG)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((message, err) => {
      throw usageError(explainUsage(message || err?.message || "bad usage", argv));
    });
}

const RUN_DESCRIPTION =
  "out, then run a command (after --), then in only if it succeeded: a broken deploy never takes traffic";

/** Edits needed to turn a into b (Levenshtein), for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/**
 * yargs' own wording made one line: an unknown flag named once, as typed (yargs names it twice, as
 * typed and camel-cased), with the option or command it most likely meant; an out-of-choice value
 * with its choices.
 */
function explainUsage(message: string, argv: string[]): string {
  const choice = /^Invalid values:\s+Argument: ([\w-]+), Given: (".*?"), Choices: (.*)$/s.exec(message);
  if (choice) {
    const choices = choice[3]!.split(", ").map((c) => c.replace(/^"|"$/g, ""));
    return `--${choice[1]} takes ${choices.slice(0, -1).join(", ")} or ${choices.at(-1)}, not ${choice[2]}`;
  }
  const m = /^Unknown arguments?: (.*)$/.exec(message);
  if (!m) return message.replace(/\s*\n\s*/g, " ");
  const command = commandOf(argv);
  if (command !== undefined && !COMMANDS.includes(command as (typeof COMMANDS)[number])) {
    const best = COMMANDS.find((c) => distance(command, c) <= 2);
    return `unknown command: ${command}${best ? ` (did you mean ${best}?)` : ""}; commands: ${COMMANDS.join(", ")}`;
  }
  const kebab = (n: string) => n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const names = [...new Set(m[1]!.split(", ").map(kebab))];
  const known = Object.keys(ALL_OPTIONS);
  const takers = (flag: string) =>
    COMMANDS.filter((c) => flag in (COMMAND_OPTIONS[c] as Record<string, Options>));
  const hints = names.flatMap((n) => {
    if (n in ALL_OPTIONS) return [`--${n} is for ${takers(n).join(", ")}`];
    const best = known.find((k) => distance(n, k) <= 2);
    return best ? [`did you mean --${best}?`] : [];
  });
  const asTyped = (n: string) =>
    argv.find((a) => a === `--${n}` || a.startsWith(`--${n}=`) || a === `-${n}`)?.replace(/=.*/, "") ?? n;
  const shown = names.map(asTyped).join(", ");
  return `unknown ${names.length === 1 ? "argument" : "arguments"}: ${shown}${hints.length ? ` (${hints.join(" ")})` : ""}`;
}

/**
 * After parsing a command, yargs renders that command's whole help to cache it for a later
 * showHelp(), which this CLI never calls (--help is rendered when asked, cache or not): about 20 ms
 * of measuring strings on every run, a tenth of `status` (node --cpu-prof). The usage instance is
 * internal to yargs, hence the guarded cast; without it, yargs simply caches again.
 */
function skipHelpCache(parser: Argv): void {
  const internal = parser as unknown as {
    getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } };
  };
  const usage = internal.getInternalMethods?.().getUsageInstance?.();
  if (usage?.cacheHelpMessage) usage.cacheHelpMessage = () => {};
}

/** Parses argv into an invocation; undefined when yargs answered by itself (--help, --version). */
/** `--reboot-exit-codes 35,37,194`: whole numbers 1 to 255, or none at all (""). */
function parseExitCodes(text: string): number[] {
  const codes = text
    .split(",")
    .map((c) => c.trim())
    .filter(Boolean);
  return codes.map((c) => {
    const n = Number(c);
    if (!Number.isInteger(n) || n < 1 || n > 255)
      throw usageError(`--reboot-exit-codes takes exit codes from 1 to 255, separated by commas, not "${c}"`);
    return n;
  });
}

/** What an `out` needs past the turn's settle at the least: a read, the decision, EnterStandby. */
const MIN_AFTER_SETTLE_MS = 2000;

export async function parseInvocation(argv: string[]): Promise<Invocation | undefined> {
  let helpShown = false;
  const parser = buildParser(argv, settingsFor(commandOf(argv), process.env));
  skipHelpCache(parser);
  const args = await parser.parseAsync(argv, {}, (_err, _argv, output) => {
    if (output) {
      helpShown = true;
      process.stdout.write(`${output}\n`);
    }
  });
  if (helpShown || args.help || args.version) return undefined;
  const command = String(args._[0]) as CommandName;
  const get = (k: string) => (args as Record<string, unknown>)[k];
  /** A string option's value, or its default from the option table (a command that does not take it). */
  const setting = (flag: keyof typeof ALL_OPTIONS): string => {
    const value = get(flag) ?? (ALL_OPTIONS[flag] as Options).default;
    if (value === undefined) throw new Error(`option --${flag} has no default`);
    return String(value);
  };
  const minHealthy = get("min-healthy");
  const timeout = get("timeout");
  if (minHealthy !== undefined) {
    const q = parseQuantity("min-healthy", String(minHealthy));
    if (q.value === 0)
      throw usageError(
        "--min-healthy must be at least 1: balanced never takes the last healthy instance out",
      );
  }
  const timeoutSeconds = timeout === undefined ? undefined : parseDuration("timeout", String(timeout));
  const rest = get("--");
  const commandArgv = Array.isArray(rest) ? rest.map(String) : [];
  if (command === "run" && commandArgv.length === 0)
    throw usageError("run needs a command after --: balanced run -- <command...>");
  if (command !== "run" && commandArgv.length) throw usageError(`${command} takes no command after --`);
  const staleAfterSeconds = parseDuration("stale-after", setting("stale-after"));
  const waitForTurn = get("wait-for-turn");
  const waitForTurnSeconds =
    waitForTurn === undefined ? undefined : parseDuration("wait-for-turn", String(waitForTurn));
  if (timeoutSeconds !== undefined && timeoutSeconds <= 0) throw usageError("--timeout must be more than 0");
  const pollIntervalSeconds = parseDuration("poll-interval", setting("poll-interval"));
  const lockText = get("lock");
  const lock = lockText === undefined ? undefined : parseLockSpec(String(lockText));
  if (typeof lock === "string") throw usageError(lock);
  if (command === "lock" && !lock)
    throw usageError("lock create needs the table: --lock dynamodb:TABLE (or BALANCED_LOCK)");
  if (command === "watch" && pollIntervalSeconds < 0.1)
    throw usageError("--poll-interval must be at least 100ms");
  const stalenessMs = parseDuration("staleness-bound", setting("staleness-bound")) * 1000;
  // The tag turn's settle cannot be cut short without leaving the turn to block every other host:
  // a --timeout that ends inside it is refused here, before anything is sent.
  const takesTagTurn =
    (command === "out" || command === "run") && !lock && !get("shutdown") && !get("dry-run");
  const shortest = Math.ceil((settleMs(stalenessMs) + MIN_AFTER_SETTLE_MS) / 1000);
  if (takesTagTurn && timeoutSeconds !== undefined && timeoutSeconds < shortest)
    throw usageError(
      `--timeout ${timeoutSeconds} s is shorter than taking the group's turn takes (${settleMs(stalenessMs) / 1000} s with --staleness-bound ${stalenessMs / 1000} s): give at least ${shortest} s, or use --lock`,
    );
  return {
    command,
    options: {
      json: Boolean(get("json")),
      quiet: Boolean(get("quiet")),
      dryRun: Boolean(get("dry-run")),
      shutdown: Boolean(get("shutdown")),
      afterShutdown: Boolean(get("after-shutdown")),
      force: Boolean(get("force")),
      timeoutSeconds,
      waitForTurnSeconds,
      staleAfterSeconds,
      command: command === "run" ? commandArgv : undefined,
      groups: names(get("group")),
      standaloneIam: Boolean(get("standalone")),
      onFailure: get("on-failure") === "in" ? "in" : "stay",
      rebootExitCodes: parseExitCodes(setting("reboot-exit-codes")),
      policy: {
        minHealthy: minHealthy === undefined ? undefined : parseQuantity("min-healthy", String(minHealthy)),
        maxUnavailable: parseQuantity("max-unavailable", setting("max-unavailable")),
        minSize: get("min-size") === "refuse" ? "refuse" : "lower",
      },
      targetGroupArns: list(get("target-group")),
      loadBalancerNames: list(get("load-balancer")),
      discover: Boolean(get("discover")),
      stalenessMs,
      lock,
      ...(command === "watch"
        ? {
            watch: {
              pollIntervalMs: pollIntervalSeconds * 1000,
              onRebalance: get("on-rebalance") === "drain" ? "drain" : "ignore",
              maintenanceLeadMs: parseDuration("maintenance-lead", setting("maintenance-lead")) * 1000,
              readyUrl: get("ready-url") === undefined ? undefined : String(get("ready-url")),
              readyCommand: get("ready-command") === undefined ? undefined : String(get("ready-command")),
              readyTimeoutMs: parseDuration("ready-timeout", setting("ready-timeout")) * 1000,
            },
          }
        : {}),
    },
  };
}
