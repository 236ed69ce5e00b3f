/**
 * Group-wide turn-taking on an Auto Scaling group tag: Fischer's timed mutual exclusion, because
 * tags have no compare-and-swap.
 *
 * Protocol, for a contender P (one `balanced out` process):
 *   1. read the tag (DescribeTags); if another live, unexpired turn is there, give up (or wait);
 *   2. write its own turn (CreateOrUpdateTags: holder, pid, fresh nonce, expiry now + TURN_TTL);
 *      if more than WRITE_BOUND elapsed between sending the read (the attempt that answered) and
 *      the write's acknowledgement,
 *      abandon the attempt — without deleting anything, since the tag may now be someone else's;
 *   3. sleep SETTLE > WRITE_BOUND, then read the tag again (the fresh snapshot's group tags);
 *      P holds the turn only if the tag still carries P's nonce;
 *   4. holding it, decide afresh on that fresh snapshot; act (EnterStandby) only while more than
 *      ACT_MARGIN of the turn remains; release (DeleteTags) once the group shows P as
 *      EnteringStandby/Standby — from then on every other host counts P as out of service — or
 *      when P refuses.
 *
 * Several resources (a host in no group: every load balancer it is in, src/commands/standalone.ts;
 * a group's host: its group and each of the group's load balancers, src/commands/turns.ts): P reads
 * the turn on every resource, writes it on every one (the write bound runs from the earliest
 * answering read to the last acknowledged write), and holds the turn only if the read-back finds its
 * nonce on every one. For two contenders that share a resource R (one group, or two groups behind
 * one target group), every step above on R is one of theirs, so the claim holds on R as written.
 * Contenders that share none do not exclude each other, and need not: the budget is per group and
 * per load balancer, and neither can spend the other's. Across groups, what the next holder counts
 * is P's removal record on the shared load balancer (src/core/removals.ts), written before
 * EnterStandby, so the release rule below covers it too.
 *
 * A split read-back (a group's host): when several hosts of one group write at once, the last writer
 * may differ per resource, and then nobody's nonce is on all of them. Each resource on its own is
 * an instance of the protocol, so P holds exactly those that show its nonce; at most one contender
 * holds the group. That one keeps the group and what else it holds, waits (bounded, so that
 * ACT_MARGIN still remains after a second settle) until the rest show no live turn, and runs steps
 * 1-3 again with the same turn on the rest alone; the fresh read-back must then find it on every
 * resource. The others of the group lost it: they give back what shows theirs and refuse, as before.
 * The second round is a whole attempt on each resource it writes, so the claim holds there as in
 * the first. P's first-round write there was overwritten by Q's (an abandoned attempt, which the
 * claim does not use), and P's second read cannot show that resource free while Q's turn stands:
 * Q's write missed P's, so it landed within S + WRITE_BOUND of P's, while the second read comes more
 * than a settle after P's write and reflects a world at most S older. Holding the group meanwhile
 * costs its other hosts nothing (they lost) and other groups at most the bounded wait.
 *
 * Claim: two contenders are never between step 3's read-back and step 4's release at once.
 * Suppose P and Q both pass step 3. The service applies writes one after the other; say P's write
 * took effect at w_P before Q's at w_Q. P read the tag back at b_P ≥ w_P + SETTLE and still found its
 * nonce, so no write landed in (w_P, b_P): w_Q > b_P ≥ w_P + SETTLE. Q's read r_Q took effect at most
 * WRITE_BOUND before w_Q (step 2's check measures a superset of that interval), so
 * r_Q ≥ w_Q − WRITE_BOUND > w_P + SETTLE − WRITE_BOUND > w_P. So Q read after P's tag was in place.
 * Q wrote, so it saw no live turn: P's tag was gone — P had released it, i.e. P was already visibly
 * out of service, which Q's fresh snapshot then counts against the budget — or P's turn had expired,
 * and P acts only with ACT_MARGIN to spare and abandons the EnterStandby call within ACT_CALL_DEADLINE
 * < ACT_MARGIN, so P no longer acts. Either way the two critical sections do not overlap. ∎
 *
 * Timing assumptions, and why they hold:
 *   - read-after-write: a read issued after a write was acknowledged sees it (Auto Scaling's tag
 *     APIs behave so; SETTLE also gives a lagging replica seconds to catch up);
 *   - WRITE_BOUND and SETTLE are measured on the contender's own monotonic clock; a pause of the
 *     process (GC, SIGSTOP, a slow retry) between read and write lies inside the measured interval;
 *   - expiry compares wall clocks of different hosts: skew must stay well below
 *     TURN_TTL − ACT_MARGIN (NTP keeps EC2 clocks within milliseconds); a host whose clock is more
 *     than CLOCK_TOLERANCE off AWS's (the Date of the turn read's answer) refuses (src/aws/clock.ts);
 *   - a contender killed while holding the turn blocks others until expiry; a rerun on the same
 *     host sees its predecessor's pid is gone and takes over at once (a rerun of `out` that reads
 *     the host leaving gives the turn back a staleness bound after that read, so that every other
 *     reader sees it leave; one that took over the turn and did not act keeps it until the killed
 *     run's act deadline and S are over, since that run's EnterStandby may still land: holdingTurn
 *     in src/commands/turns.ts, and the chaos fault kill). A rerun's `in` (or `repair`) gives the turn
 *     back once the killed run's acting calls are over, or, when it died before its settle ended
 *     (it never acted: it writes the turn at expiry − TURN_TTL and acts only after the settle, on
 *     this host's own clock), once a settle has passed since a read showed it: by then every
 *     contender whose read missed it has written over it visibly, and only what still shows the
 *     orphan is deleted (its timestamp does not say when it landed: a write sent after a pause, or
 *     answered too late, stays behind).
 *
 * Stale reads. AWS's describe calls are eventually consistent: an answer may show the world as it
 * was up to S ago (S = --staleness-bound, default 3 s), a host need not read its own writes, and two
 * reads of one host may see different pasts. The claim holds for any staleness up to S when:
 *   - the settle exceeds WRITE_BOUND + 2S. Q's first read, issued at r_Q ≤ w_Q and at most
 *     WRITE_BOUND before w_Q, reflects the world as of r_Q − S or later; to have missed P's tag it
 *     reflects a time before w_P, so w_Q < w_P + S + WRITE_BOUND. P's read-back at b_P ≥ w_P + settle
 *     reflects the world as of b_P − S > w_P + S + WRITE_BOUND > w_Q: it shows Q's tag (or a later
 *     one), not P's — P does not pass step 3. (The chaos fault stale-reads tests it.)
 *   - the turn is released no earlier than S after EnterStandby was acknowledged. The next holder
 *     reads the released tag, so its snapshot is read after the release and reflects the world as of
 *     at least S before — after EnterStandby took effect: it counts P as out of service.
 *   - an acting call whose outcome is unknown (no answer: a deadline, a signal, a lost response)
 *     keeps the turn until it expires: AWS may still apply it.
 *
 * A write acknowledged too late (step 2) leaves this process's tag in place; the process starts again
 * at step 1 (for up to LATE_PATIENCE), reading its own tag as free. That is no weaker than a first
 * attempt: the claim only uses the read and write of the attempt that passed step 3, and the tag it
 * overwrites is one no other contender could have passed step 3 with while it stood (their
 * read-back would find this process's nonce, not theirs).
 *
 * A write whose answer is lost (the connection dropped) may have been applied, and if so before the
 * error arrived: step 2 times it to the error, and steps 3-4 go on as for an acknowledged write. The
 * read-back decides; the turn is given back wherever it shows this process's nonce, so a write that
 * landed unseen is not left standing until it expires (the chaos fault lost-response tests it).
 */

import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { CreateOrUpdateTagsCommand, DescribeTagsCommand } from "@aws-sdk/client-auto-scaling";
import {
  formatTurn,
  isMine,
  parseTurn,
  settleMs,
  TURN_TAG,
  type Turn,
  type TurnView,
  viewTurn,
  WRITE_BOUND_MS,
} from "../core/turn";
import { AwsCallError, BalancedError, ExitCode } from "../errors";
import { awsCall } from "./clients";
import { checkClock, clockAttempts, clockOffset } from "./clock";
import { deleteGroupTag } from "./group";
import { unprocessed } from "./outcome";
import type { ReadContext } from "./read";

// Step 2's write bound and step 3's settle: pure, in src/core/turn.ts (the CLI checks --timeout
// against the settle without loading this file).
export { settleMs, WRITE_BOUND_MS } from "../core/turn";
/** A turn lives this long: far longer than step 3 plus deciding and EnterStandby. */
export const TURN_TTL_MS = 120_000;
/** P acts only while this much of its turn remains. */
export const ACT_MARGIN_MS = 60_000;
/** ... and gives up on the EnterStandby call after this long, well inside ACT_MARGIN. */
export const ACT_CALL_DEADLINE_MS = 30_000;
/**
 * An acting call got no answer in time. AWS may still apply it, so the turn is not given back: it
 * expires by itself, by when the change has landed or never will.
 */
export class ActDeadlineError extends BalancedError {
  /** `why`: what happened instead of an answer; by default, the act deadline passed. */
  constructor(what: string, why = `within ${ACT_CALL_DEADLINE_MS / 1000} s`) {
    super(
      ExitCode.TimedOut,
      "timeout",
      `AWS did not confirm ${what} ${why}, so this host stopped acting; AWS may still apply it, so the turn is kept until it expires; run \`balanced status\`, then \`balanced out\` again`,
    );
  }
}

/**
 * The acting calls under a turn (EnterStandby; recording and deregistering for a host in no group)
 * run on their own deadline, ACT_CALL_DEADLINE, inside ACT_MARGIN: the claim above needs P to stop
 * acting before its turn can expire. The caller's own signal (SIGINT/SIGTERM) still ends them too.
 */
export async function withinActDeadline<T>(
  signal: AbortSignal | undefined,
  what: string,
  body: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const deadline = AbortSignal.timeout(ACT_CALL_DEADLINE_MS);
  try {
    return await body(signal ? AbortSignal.any([signal, deadline]) : deadline);
  } catch (err) {
    if (deadline.aborted && !signal?.aborted) throw new ActDeadlineError(what);
    throw err;
  }
}

/** Final calls after a signal (releasing the turn) get their own short deadline. */
export const RELEASE_DEADLINE_MS = 5_000;

export type TurnAttempt =
  /** `replaced`: a turn of a killed earlier run on this host that this one wrote over (see holdingTurn). */
  | { taken: true; turn: Turn; replaced?: Turn }
  | { taken: false; view: Extract<TurnView, { state: "held" | "unreadable" }> | { state: "late" } };

export const pidAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

/** A turn tag's value as this host sees it now (its own killed runs are orphaned, not held). */
export const viewTurnHere = (value: string | undefined, instanceId: string) =>
  viewTurn(value, Date.now(), { instanceId, isAlive: pidAlive });

/** Where a turn is kept: one group tag, or one tag on each of several load balancers. */
export interface TurnStore {
  /** Reads the turn value on every resource; `attemptSentAt` is when the earliest answering attempt was sent. */
  read(ctx: ReadContext): Promise<{ values: (string | undefined)[]; attemptSentAt: number }>;
  write(ctx: ReadContext, value: string): Promise<void>;
}

/** The group's turn: the tag `balanced:turn` on the Auto Scaling group. */
export function groupTurnStore(group: string): TurnStore {
  return {
    async read(ctx) {
      const command = new DescribeTagsCommand({
        Filters: [
          { Name: "auto-scaling-group", Values: [group] },
          { Name: "key", Values: [TURN_TAG] },
        ],
      });
      const sentAt = clockAttempts(command);
      const offset = clockOffset(command);
      const res = await awsCall(ctx.log, "autoscaling:DescribeTags", ctx.signal, (o) =>
        ctx.clients.autoscaling.send(command, o),
      );
      // The turn's expiry is judged on this host's clock (see "Timing assumptions" above).
      checkClock(offset());
      return { values: [res.Tags?.find((t) => t.Key === TURN_TAG)?.Value], attemptSentAt: sentAt() };
    },
    async write(ctx, value) {
      // No SDK retries: see attemptTurnOnce.
      await awsCall(ctx.log, "autoscaling:CreateOrUpdateTags", ctx.signal, (o) =>
        ctx.clients.autoscalingOnce.send(
          new CreateOrUpdateTagsCommand({
            Tags: [
              {
                ResourceId: group,
                ResourceType: "auto-scaling-group",
                Key: TURN_TAG,
                Value: value,
                PropagateAtLaunch: false,
              },
            ],
          }),
          o,
        ),
      );
    },
  };
}

/**
 * Steps 1-3 up to the sleep; the read-back is the caller's fresh snapshot (see TurnLock.confirm). With
 * several resources, a live turn on any of them is a refusal, and the read-back must find this
 * turn on all of them: two contenders that share any one resource exclude each other on it.
 */
export async function attemptTurn(
  ctx: ReadContext,
  store: TurnStore,
  /** How stale AWS's describe answers may be (--staleness-bound): see "Stale reads" above. */
  stalenessMs: number,
  turn?: Turn,
): Promise<TurnAttempt> {
  const started = performance.now();
  for (let attempt = 1; ; attempt++) {
    const result = await attemptTurnOnce(ctx, store, stalenessMs, turn);
    if (result.taken || result.view.state !== "late" || performance.now() - started > LATE_PATIENCE_MS)
      return result;
    // A late write is this process's own tag: the next attempt reads it as ours and writes again,
    // so a throttled write never blocks its own host until the turn expires.
    await sleep(
      Math.min(LATE_RETRY_MS * 2 ** (attempt - 1), LATE_RETRY_MAX_MS) * (0.5 + Math.random()),
      undefined,
      ctx.signal ? { signal: ctx.signal } : undefined,
    );
  }
}

/**
 * How long steps 1-2 are tried again while the write is throttled or answered late, before
 * refusing. A throttling storm lasts as long as the fleet's burst of calls (CI saw a 3 requests/s
 * storm outlast four attempts a second apart); the SDK's own retries ride out tens of seconds too.
 */
export const LATE_PATIENCE_MS = 30_000;
/** First pause between those attempts, doubled each time up to the cap, jittered ±50% so contenders spread out. */
export const LATE_RETRY_MS = 1000;
export const LATE_RETRY_MAX_MS = 5000;

/** `preset`: the turn to write (a second round on some of its resources: TurnLock.complete), else a fresh one. */
async function attemptTurnOnce(
  ctx: ReadContext,
  store: TurnStore,
  stalenessMs: number,
  preset?: Turn,
): Promise<TurnAttempt> {
  const read = await store.read(ctx);
  let replaced: Turn | undefined;
  for (const value of read.values) {
    // This very process's own earlier, late write: not a live turn of anyone else.
    const own = parseTurn(value);
    if (own && own.holder === ctx.identity.instanceId && own.pid === process.pid) continue;
    const view = viewTurnHere(value, ctx.identity.instanceId);
    if (view.state === "held" || view.state === "unreadable") return { taken: false, view };
    if (view.state === "orphaned") replaced ??= view.turn;
  }
  const turn: Turn = preset ?? {
    holder: ctx.identity.instanceId,
    pid: process.pid,
    nonce: randomBytes(6).toString("hex"),
    expiresAt: Date.now() + TURN_TTL_MS,
  };
  try {
    await store.write(ctx, formatTurn(turn));
  } catch (err) {
    // Throttled: refused before it was applied. The SDK would retry it with backoff, landing it late
    // and leaving a turn nobody may delete; the protocol starts over from the read instead.
    // ResourceContention (another update to the group pending: a contender's write) likewise.
    if (unprocessed(err)) return { taken: false, view: { state: "late" } };
    // No answer (a lost connection): the write may have been applied, and if so before the error
    // came back, so the bound below holds for it. The settle and the read-back then decide as for
    // an acknowledged write, and what the read-back shows ours is given back: a write that landed
    // unseen is not left standing until it expires.
    if (!(err instanceof AwsCallError && err.kind === "unreachable")) throw err;
  }
  if (performance.now() - read.attemptSentAt > WRITE_BOUND_MS)
    return { taken: false, view: { state: "late" } };
  const settleEndsAt = performance.now() + settleMs(stalenessMs);
  try {
    await sleep(settleMs(stalenessMs), undefined, ctx.signal ? { signal: ctx.signal } : undefined);
  } catch (err) {
    // Stopped (a signal, the run's deadline) in the settle: the turn may be ours, and nothing acted.
    if (ctx.signal?.aborted) throw new TakeInterrupted(turn, settleEndsAt, replaced, err);
    throw err;
  }
  return replaced ? { taken: true, turn, replaced } : { taken: true, turn };
}

/**
 * The run was stopped during step 3's settle, after writing `turn`: it never acted, so the turn is
 * given back (holdingTurn) once the settle is over and a fresh read shows it ours, as step 3 would
 * have confirmed it, rather than left to block every other host until it expires.
 */
export class TakeInterrupted extends Error {
  constructor(
    readonly turn: Turn,
    /** performance.now() at which the settle ends. */
    readonly settleEndsAt: number,
    /** A killed earlier run's turn the write replaced: kept instead (see holdingTurn). */
    readonly replaced: Turn | undefined,
    readonly stoppedBy: unknown,
  ) {
    super("stopped while taking the turn");
  }
}

/** Whether the turn still leaves room to act (step 4). */
export const canAct = (turn: Turn, now = Date.now()) => turn.expiresAt - now > ACT_MARGIN_MS;

/**
 * Step 4's release. Only our own turn is ever deleted: the caller has seen it in place, and no
 * contender writes over a live turn. Runs on its own short deadline, so a SIGTERM cannot skip it.
 */
export function releaseTurn(ctx: ReadContext, group: string, turn: Turn): Promise<void> {
  return deleteTurnTag(ctx, group, formatTurn(turn));
}

/** DeleteTags of the turn tag with this value (`repair` also clears a value it cannot read). */
export const deleteTurnTag = (ctx: ReadContext, group: string, value: string): Promise<void> =>
  deleteGroupTag(ctx, group, TURN_TAG, AbortSignal.timeout(RELEASE_DEADLINE_MS), value);

/**
 * The fence found the turn no longer ours, or too short to act under: nothing was sent, so there is
 * nothing to keep the turn for.
 */
export class TurnLostError extends BalancedError {
  constructor(reason: string) {
    super(ExitCode.Busy, "busy", reason);
  }
}

/**
 * One turn's lifecycle, whatever keeps it (tags: this file; a DynamoDB table: src/aws/lock.ts):
 * take, confirm on the fresh read, fence before each acting call, release. A lock is for one
 * attempt: it remembers what it took and gives back only that.
 */
export interface TurnLock {
  /** For messages: "the group's turn", "the turn", "the lock in TABLE". */
  readonly what: string;
  /** The turn as it stands, the most blocking of its resources (`values`: the snapshot's tags). */
  view(ctx: ReadContext, values: (string | undefined)[]): Promise<TurnView>;
  take(ctx: ReadContext): Promise<TurnAttempt>;
  /** On the snapshot read after taking it: still ours, or who holds it. */
  confirm(turn: Turn, values: (string | undefined)[]): { ok: true } | { ok: false; holder: string };
  /**
   * Tags on several resources, when `confirm` failed on `values`: a contender that won some of them
   * and not others takes the rest in a second round on those alone ("Several resources" above).
   * "taken": read back again; "late": read again only to give back what shows ours; "refused": no
   * second round was written.
   */
  complete?(
    ctx: ReadContext,
    turn: Turn,
    values: (string | undefined)[],
  ): Promise<"taken" | "late" | "refused">;
  /** Right before acting: throws TurnLostError when the turn is not (or no longer long enough) ours. */
  fence(ctx: ReadContext, turn: Turn): Promise<void>;
  /** Gives back what this attempt holds and may give back; nothing else. */
  release(ctx: ReadContext, turn: Turn): Promise<void>;
  /**
   * A turn left by a killed earlier run on this host, on any of its resources (another host may have
   * taken the others since: the most blocking view would hide it).
   */
  orphan(ctx: ReadContext, values: (string | undefined)[]): Promise<OrphanedTurn | undefined>;
  /** Gives back a turn left by a killed earlier run on this host. */
  releaseOrphaned(ctx: ReadContext, turn: Turn): Promise<void>;
  /**
   * By when a holder of `turn` has stopped acting (its act deadline is over): after that, and the
   * staleness bound, its calls have landed or never will, and every read shows them.
   */
  actingUntil(turn: Turn): number;
  /**
   * Tags only (their reads may be stale; the lock's are not): the turn values read afresh, and the
   * earliest moment a holder of `turn` could act (after its settle). A run killed before then never
   * acted, so nothing of it can still land.
   */
  peek?(ctx: ReadContext): Promise<(string | undefined)[]>;
  earliestAct?(turn: Turn): number;
  /**
   * Tags only: how long after a read that showed a turn another contender may still write over it
   * unseen (step 3's settle: its read may predate the turn's write by the staleness bound, and it
   * writes within the write bound), whenever that turn was written.
   */
  overwritableForMs?: number;
}

/** The tag protocol acts only with ACT_MARGIN left, and for at most ACT_CALL_DEADLINE. */
export const tagActingUntil = (turn: Turn) => turn.expiresAt - ACT_MARGIN_MS + ACT_CALL_DEADLINE_MS;

/**
 * A tag turn's holder wrote it at expiry - TURN_TTL (or later) and acts only after the settle. The
 * holder was this host (orphans are ours), so the wall clock is the same one.
 */
export const tagEarliestAct = (turn: Turn, stalenessMs: number) =>
  turn.expiresAt - TURN_TTL_MS + settleMs(stalenessMs);

/** What every lock on tags (kept in `store`) tells about a turn's timing: one piece for all three. */
export const tagTiming = (store: TurnStore, stalenessMs: number) => ({
  actingUntil: tagActingUntil,
  peek: async (ctx: ReadContext) => (await store.read(ctx)).values,
  earliestAct: (turn: Turn) => tagEarliestAct(turn, stalenessMs),
  overwritableForMs: settleMs(stalenessMs),
});

export type OrphanedTurn = Extract<TurnView, { state: "orphaned" }>;

/** The first of these turn values that a killed earlier run on this host left. */
export function orphanIn(values: (string | undefined)[], instanceId: string): OrphanedTurn | undefined {
  for (const v of values) {
    const view = viewTurnHere(v, instanceId);
    if (view.state === "orphaned") return view;
  }
  return undefined;
}

/**
 * Which of these turn values, read again after the wait for `waitedFor`, to give back: the orphan
 * waited for, and any other orphan of this host whose acting calls are over (the first read may have
 * been stale, or shown another killed run's turn). Undefined where the value is none of them.
 */
export function orphansToGiveBack(
  values: (string | undefined)[],
  instanceId: string,
  waitedFor: Turn,
  stalenessMs: number,
  now = Date.now(),
): (Turn | undefined)[] {
  return values.map((v) => {
    const view = viewTurn(v, now, { instanceId, isAlive: pidAlive });
    if (view.state !== "orphaned") return undefined;
    const over = tagActingUntil(view.turn) + stalenessMs <= now;
    return view.turn.nonce === waitedFor.nonce || over ? view.turn : undefined;
  });
}

/** The most blocking of several turn values (unreadable, then held, then orphaned, then free). */
export function worstView(values: (string | undefined)[], instanceId: string): TurnView {
  const views = values.map((v) => viewTurnHere(v, instanceId));
  for (const state of ["unreadable", "held", "orphaned", "expired"] as const) {
    const found = views.find((v) => v.state === state);
    if (found) return found;
  }
  return { state: "free" };
}

/** The tag protocol's fence: act only while ACT_MARGIN of the turn remains (see the claim above). */
function tagFence(turn: Turn, what: string): void {
  if (!canAct(turn))
    throw new TurnLostError(`refusing: ${what} ran out before this host could act; try again`);
}

/** The group's turn as a TurnLock: Fischer's protocol on the group tag. */
export function groupTagLock(group: string, stalenessMs: number): TurnLock {
  let confirmed: Turn | undefined;
  return {
    what: "the group's turn",
    view: async (ctx, values) => worstView(values, ctx.identity.instanceId),
    orphan: async (ctx, values) => orphanIn(values, ctx.identity.instanceId),
    take: (ctx) => attemptTurn(ctx, groupTurnStore(group), stalenessMs),
    confirm(turn, values) {
      if (isMine(values[0], turn)) {
        confirmed = turn;
        return { ok: true };
      }
      return { ok: false, holder: parseTurn(values[0])?.holder ?? "another host" };
    },
    async fence(_ctx, turn) {
      try {
        tagFence(turn, "the group's turn");
      } catch (err) {
        // Expired: the tag may be another host's by the time it is deleted (DeleteTags is by key).
        confirmed = undefined;
        throw err;
      }
    },
    async release(ctx) {
      const turn = confirmed;
      confirmed = undefined;
      if (turn) await releaseTurn(ctx, group, turn);
    },
    // Read again, as on the load balancers: DeleteTags is by key, so only a value that is still an
    // orphan of this host's to give back goes.
    async releaseOrphaned(ctx, turn) {
      const { values } = await groupTurnStore(group).read(ctx);
      const [giveBack] = orphansToGiveBack(values, ctx.identity.instanceId, turn, stalenessMs);
      if (giveBack) await releaseTurn(ctx, group, giveBack);
    },
    ...tagTiming(groupTurnStore(group), stalenessMs),
  };
}

/** Runs an acting call under `guard` when a turn is held (a shutdown holds none). */
export const actUnder = <T>(guard: TurnRelease | undefined, call: () => Promise<T>): Promise<T> =>
  guard ? guard.acting(call) : call();

/**
 * When a held turn may be given back, given the acting call under it (EnterStandby; the
 * deregistrations of a host in no group): not while its outcome is unknown (sent, never answered:
 * AWS may still apply it), and not before the staleness bound has passed since it was acknowledged,
 * so that the next holder's reads show it.
 */
export class TurnRelease {
  private sent = false;
  private ackedAt: number | undefined;

  /** `fence` runs right before every acting call (TurnLock.fence). */
  constructor(
    private readonly stalenessMs: number,
    private readonly fence: () => Promise<void> = async () => {},
  ) {}

  /** Wraps the acting call. */
  async acting<T>(call: () => Promise<T>): Promise<T> {
    await this.fence();
    this.sent = true;
    const result = await call();
    this.ackedAt = performance.now();
    return result;
  }

  /**
   * The acting call failed before its change was sent (a record it writes first was refused):
   * nothing can land later, so nothing keeps the turn.
   */
  withdraw(): void {
    this.sent = false;
  }

  /**
   * Undoing this run's own change failed: the turn is kept until it expires, so that the next run
   * on this host finds it (every read of the lock shows it) and finishes the undo.
   */
  keep(): void {
    this.sent = true;
    this.ackedAt = undefined;
  }

  /** Whether an acting call was sent under the turn (before that, nothing has changed). */
  get acted(): boolean {
    return this.sent;
  }

  /** Waits until the turn may go, or says it must be kept (false). */
  async ready(): Promise<boolean> {
    if (this.sent && this.ackedAt === undefined) return false;
    if (this.ackedAt !== undefined) {
      const wait = this.ackedAt + this.stalenessMs - performance.now();
      if (wait > 0) await sleep(wait);
    }
    return true;
  }
}
