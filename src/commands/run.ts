import { CallLog } from "../aws/call-log";
import type { AwsClients } from "../aws/clients";
import { type Identity, readIdentity } from "../aws/identity";
import type { ReadContext, ReadResult } from "../aws/read";
import type { TurnRelease } from "../aws/turn";
import type { Budget, Decision } from "../core/decide";
import type { LockSpec } from "../core/lock";
import { ownRemoval } from "../core/removals";
import type { StandaloneSnapshot } from "../core/standalone";
import type { Policy, Snapshot } from "../core/types";
import type { WatchOptions } from "../core/watch";
import type { Reporter } from "../ui/reporter";

export interface CommandOptions {
  json: boolean;
  quiet: boolean;
  dryRun: boolean;
  /** `out --shutdown` and `in --after-shutdown`: the systemd unit's stop and start. */
  shutdown: boolean;
  afterShutdown: boolean;
  /** `in`: take the host back even though balanced did not park it. */
  force: boolean;
  /** Overrides the deadline derived from the load balancers' settings. */
  timeoutSeconds: number | undefined;
  /** `run`: the command to wrap, and whether to return the host when it fails. */
  command: string[] | undefined;
  onFailure: "stay" | "in";
  /** `run`: the command's exit codes that ask for a reboot (the host stays out, to return at boot). */
  rebootExitCodes?: number[];
  /** `iam-policy`: groups to scope the changes to. */
  groups: string[];
  /** `iam-policy --standalone`: add the load balancer changes. */
  standaloneIam: boolean;
  /** `status`: a host in Standby longer than this is flagged. */
  staleAfterSeconds: number;
  /** `out`: wait this long for a turn (and for refusals to clear) instead of exiting 3/4 at once. */
  waitForTurnSeconds: number | undefined;
  policy: Policy;
  targetGroupArns: string[];
  loadBalancerNames: string[];
  /** No group: find the load balancers by asking each one in the region. */
  discover: boolean;
  /**
   * `out --shutdown` on behalf of `watch`, for a host that is not coming back: leave without
   * decrementing desired capacity (the group replaces it at once) and record no shutdown.
   */
  replace?: boolean;
  /** `watch`. */
  watch?: WatchOptions;
  /** How stale AWS's describe answers may be (--staleness-bound; the turn's settle follows from it). */
  stalenessMs: number;
  /** `--lock dynamodb:TABLE`: the turn as a DynamoDB lock instead of tags. */
  lock?: LockSpec | undefined;
}

/** How long after --timeout the run's signal cuts what is still running (see Run.deadline). */
const DEADLINE_SLACK_MS = 3000;

export interface StepRecord {
  step: string;
  startedAt: string;
  ms: number;
}

/**
 * One invocation: its options and what it has learnt so far. Commands fill it in as they go, so
 * the entry point can report where things stand even when a command fails half way.
 */
export class Run {
  readonly log = new CallLog();
  readonly startedAt = Date.now();
  identity: Identity | undefined;
  read: ReadResult | undefined;
  decision: Decision<string> | undefined;
  /** A host in no Auto Scaling group: what its load balancers say (src/core/standalone.ts). */
  standalone: { snapshot: StandaloneSnapshot; selfTargets: ReadResult["selfTargets"] } | undefined;
  budget: Budget | undefined;
  /** This run lowered MinSize (a failed `out` puts it back). */
  loweredMinSize = false;
  /** This run started EnterStandby (its records, then the call): from then on the host may leave. */
  standbyStarted = false;
  /**
   * `in`: when (performance.now()) this host was last known to be out of Standby — its ExitStandby
   * answered, or the first read showing it returning. A read sent the staleness bound after that
   * shows the desired capacity its return raised (src/commands/move.ts, restoreMinSizeUnderTurn).
   */
  returnedAt: number | undefined;
  /** The turn held by this `out`, and when it may be given back (src/aws/turn.ts). */
  turnRelease: TurnRelease | undefined;
  readonly steps: StepRecord[] = [];
  /** Things worth a line in the result (MinSize restored, ...). */
  readonly notes: string[] = [];
  private clients: AwsClients | undefined;

  /**
   * The run's end with an explicit `--timeout` on `out` or `in`: every wait ends by it, and every
   * AWS call and pause is cut a little after it (`signal`), so the timeout holds end to end.
   */
  readonly deadlineAt: number | undefined;
  /** Aborted by SIGINT/SIGTERM (its reason names the signal), or past the deadline (a TimeoutError). */
  readonly signal: AbortSignal | undefined;
  private readonly deadline: AbortSignal | undefined;

  constructor(
    readonly command: string,
    readonly options: CommandOptions,
    /**
     * SIGINT/SIGTERM only. Acting calls run under it and their own act deadline, not the run's
     * deadline: cut half way, a call's outcome would be unknown (the run refuses to start acting
     * past its deadline instead: `deadlinePassed`).
     */
    readonly interrupt: AbortSignal | undefined,
    readonly reporter: Reporter,
  ) {
    const timeout = options.timeoutSeconds;
    if (timeout !== undefined && (command === "out" || command === "in")) {
      this.deadlineAt = this.startedAt + timeout * 1000;
      // The waits report where things stand at the deadline (their last poll has a 2 s grace): this
      // cuts only what no wait watches, a hung read or the turn's settle.
      this.deadline = AbortSignal.timeout(timeout * 1000 + DEADLINE_SLACK_MS);
    }
    this.signal =
      this.deadline && interrupt ? AbortSignal.any([interrupt, this.deadline]) : (this.deadline ?? interrupt);
  }

  /** Whether the run's signal fired because its --timeout passed (not SIGINT/SIGTERM). */
  /**
   * For a run stopped by a signal or its deadline, where things stand and the one command that
   * continues: nothing sent yet (still serving: run it again), or an acting call sent (finish the
   * leave with `out`, or come back with `in`), with the state AWS last showed this host in.
   */
  standing(): string {
    const id = this.identity?.instanceId;
    const state = id && this.snapshot?.group.instances.find((i) => i.id === id)?.lifecycleState;
    const shown = state ? ` (AWS last showed it ${state})` : "";
    if (this.command === "in") return `this host may not be back yet${shown}; run \`balanced in\` again`;
    if (this.command !== "out" && this.command !== "run")
      return `run \`balanced status\` to see where things stand`;
    if (!this.standbyStarted && !this.turnRelease?.acted)
      return `nothing was sent to AWS: this host has not left, it is still serving${shown}; run \`balanced ${this.command === "run" ? "run" : "out"}\` again`;
    return `this host may be leaving${shown}; run \`balanced out\` again to finish leaving, or \`balanced in\` to return it`;
  }

  get abortedByTimeout(): boolean {
    return (
      this.deadline?.aborted === true &&
      !(this.signal?.reason === "SIGINT" || this.signal?.reason === "SIGTERM")
    );
  }

  /** Past --timeout: nothing more may be started. */
  deadlinePassed(): boolean {
    return this.deadlineAt !== undefined && Date.now() >= this.deadlineAt;
  }

  /** What a wait ending at `deadlineAt` reports as its budget: the --timeout when the run's deadline governs. */
  budgetSeconds(deadlineAt: number): number {
    if (deadlineAt === this.deadlineAt && this.options.timeoutSeconds !== undefined)
      return this.options.timeoutSeconds;
    return Math.round((deadlineAt - Date.now()) / 1000);
  }

  /** A wait's deadline: `timeoutSeconds` from now, but never past the run's own. */
  waitDeadline(timeoutSeconds: number): number {
    return Math.min(Date.now() + timeoutSeconds * 1000, this.deadlineAt ?? Number.POSITIVE_INFINITY);
  }

  get snapshot(): Snapshot | undefined {
    return this.read?.snapshot;
  }

  /** This host, from instance metadata: read once a run. */
  async whoAmI(): Promise<Identity> {
    if (!this.identity) {
      this.identity = await readIdentity();
      if (this.identity.note) this.reporter.step(`warning: ${this.identity.note}`);
    }
    return this.identity;
  }

  /**
   * Who this host is and the AWS clients to act with. The clients are loaded here, on first use:
   * `watch` idles on instance metadata alone, and loads them only when a notice needs AWS.
   */
  async context(): Promise<ReadContext> {
    const identity = await this.whoAmI();
    this.clients ??= (await import("../aws/clients")).createClients(identity.region);
    return {
      clients: this.clients,
      log: this.log,
      signal: this.signal,
      identity,
      extraLoadBalancerNames: this.options.loadBalancerNames,
      extraTargetGroupArns: this.options.targetGroupArns,
      discover: this.options.discover,
    };
  }

  async refresh(groupName?: string): Promise<ReadResult> {
    const ctx = await this.context();
    const { readSnapshot } = await import("../aws/read");
    const read = await readSnapshot(ctx, groupName ?? this.read?.snapshot.group.name);
    for (const lb of read.snapshot.loadBalancers)
      if (lb.source === "named") lb.removedPorts = ownRemoval(lb, ctx.identity.instanceId)?.ports;
    this.read = read;
    this.sayGone(read.snapshot.gone);
    return read;
  }

  private saidGone = new Set<string>();
  /** Load balancers found deleted: said once a run, since nothing is left to do there. */
  sayGone(gone: string[] | undefined): void {
    for (const label of gone ?? []) {
      if (this.saidGone.has(label)) continue;
      this.saidGone.add(label);
      this.reporter.step(`warning: ${goneLine(label)}`);
    }
  }

  /** Times a step, for the report. */
  async timed<T>(step: string, body: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    try {
      return await body();
    } finally {
      this.steps.push({ step, startedAt: new Date(t0).toISOString(), ms: Date.now() - t0 });
    }
  }
}

/** One deleted load balancer, as the agent tells it. */
export const goneLine = (label: string) =>
  `${label} no longer exists (deleted): it serves no traffic, so there is nothing to leave or wait for there`;
