/** Which turn a command takes: the tags (src/aws/turn.ts), or with `--lock` DynamoDB (src/aws/lock.ts). */

import { setTimeout as sleep } from "node:timers/promises";
import { DynamoLock, dynamoTurnLock } from "../aws/lock";
import { unprocessed } from "../aws/outcome";
import type { ReadContext } from "../aws/read";
import { lbTagLock, lbTurnStore } from "../aws/standalone";
import {
  ACT_CALL_DEADLINE_MS,
  ACT_MARGIN_MS,
  ActDeadlineError,
  attemptTurn,
  groupTagLock,
  groupTurnStore,
  type OrphanedTurn,
  orphanIn,
  RELEASE_DEADLINE_MS,
  settleMs,
  TakeInterrupted,
  type TurnAttempt,
  type TurnLock,
  TurnLostError,
  TurnRelease,
  type TurnStore,
  tagTiming,
  WRITE_BOUND_MS,
  worstView,
} from "../aws/turn";
import { lockKeys } from "../core/lock";
import type { StandaloneLb } from "../core/standalone";
import type { Turn } from "../core/turn";
import { isMine, TURN_TAG, turnRefusal } from "../core/turn";
import type { LoadBalancerView, Snapshot } from "../core/types";
import { BalancedError, busy, ExitCode, timedOut } from "../errors";
import type { Run } from "./run";
import { seconds } from "./wait";

/**
 * The turn this group host takes, on the group and on each of its load balancers (so that it spans
 * every host that shares one, whatever its group or none): their tags (src/aws/turn.ts), or with
 * `--lock` the DynamoDB lock (src/aws/lock.ts). The load balancers come from the snapshot.
 */
export function groupLock(run: Run, group: string): TurnLock {
  const stalenessMs = run.options.stalenessMs;
  const spec = run.options.lock;
  const lbs = run.snapshot?.group.name === group ? run.snapshot.loadBalancers : [];
  if (!spec) return lbs.length ? spanningTagLock(group, lbs, stalenessMs) : groupTagLock(group, stalenessMs);
  return dynamoTurnLock(new DynamoLock(spec.table, lockKeys(group, lbs)), stalenessMs);
}

/**
 * The turn's values in a group snapshot, in the order groupLock's locks read them: the group's tag,
 * then each load balancer's.
 */
export const groupTurnValues = (s: Snapshot): (string | undefined)[] => [
  s.group.tags[TURN_TAG],
  ...s.loadBalancers.map((lb) => lb.tags?.[TURN_TAG]),
];

/**
 * The group's tag and its load balancers' tags as one turn: one attempt writes the same turn on all
 * of them (one write bound, one settle; see "Several resources" in src/aws/turn.ts), and each part
 * gives back only what the read-back showed ours.
 */
function spanningTagLock(group: string, lbs: LoadBalancerView[], stalenessMs: number): TurnLock {
  const onLbs = lbs.map((lb) => ({ lb, tags: lb.tags ?? {}, selfPorts: [] }));
  const onGroup = groupTagLock(group, stalenessMs);
  const onLoadBalancers = lbTagLock(onLbs, stalenessMs);
  const groupStore = groupTurnStore(group);
  const lbStore = lbTurnStore(onLbs);
  const store: TurnStore = {
    async read(ctx) {
      const [a, b] = await Promise.all([groupStore.read(ctx), lbStore.read(ctx)]);
      return {
        values: [...a.values, ...b.values],
        attemptSentAt: Math.min(a.attemptSentAt, b.attemptSentAt),
      };
    },
    async write(ctx, value) {
      // The group's tag first: contenders of one group meet there, and AWS refuses all but one of
      // their overlapping writes (ResourceContention) or throttles them, unapplied. Writing the load
      // balancers' tags only then keeps a refused contender from writing over the winner there, which
      // would leave neither holding every resource. A group write with no answer may have landed:
      // the load balancers are written as well, and the read-back decides.
      try {
        await groupStore.write(ctx, value);
      } catch (err) {
        if (unprocessed(err)) throw err;
        await lbStore.write(ctx, value).catch(() => undefined);
        throw err;
      }
      await lbStore.write(ctx, value);
    },
  };
  return {
    what: onGroup.what,
    view: async (ctx, values) => worstView(values, ctx.identity.instanceId),
    orphan: async (ctx, values) => orphanIn(values, ctx.identity.instanceId),
    take: (ctx) => attemptTurn(ctx, store, stalenessMs),
    confirm(turn, values) {
      const a = onGroup.confirm(turn, values.slice(0, 1));
      const b = onLoadBalancers.confirm(turn, values.slice(1));
      return a.ok ? b : a;
    },
    // See "A split read-back" in src/aws/turn.ts.
    async complete(ctx, turn, values) {
      const rest = onLbs.filter((_, i) => !isMine(values[i + 1], turn));
      if (!isMine(values[0], turn) || !rest.length) return "refused";
      const restStore = lbTurnStore(rest);
      const patienceEnds = performance.now() + SPLIT_PATIENCE_MS;
      for (;;) {
        // The second round must leave ACT_MARGIN after its own settle.
        const left = turn.expiresAt - Date.now() - settleMs(stalenessMs) - WRITE_BOUND_MS;
        if (left <= ACT_MARGIN_MS || performance.now() > patienceEnds) return "refused";
        const attempt = await attemptTurn(ctx, restStore, stalenessMs, turn);
        if (attempt.taken) return "taken";
        if (attempt.view.state === "late") return "late";
        if (attempt.view.state !== "held") return "refused";
        await sleep(
          SPLIT_RETRY_MS * (0.5 + Math.random()),
          undefined,
          ctx.signal ? { signal: ctx.signal } : undefined,
        );
      }
    },
    async fence(ctx, turn) {
      await Promise.all([onGroup.fence(ctx, turn), onLoadBalancers.fence(ctx, turn)]);
    },
    async release(ctx, turn) {
      await Promise.all([onGroup.release(ctx, turn), onLoadBalancers.release(ctx, turn)]);
    },
    async releaseOrphaned(ctx, turn) {
      await Promise.all([onGroup.releaseOrphaned(ctx, turn), onLoadBalancers.releaseOrphaned(ctx, turn)]);
    },
    ...tagTiming(store, stalenessMs),
  };
}

/**
 * How long the group's winner of a split read-back waits for the rest to show no live turn: the
 * others of its group give theirs back right after their own read-back, a few calls after their
 * settle, which ends about when the winner's does.
 */
const SPLIT_PATIENCE_MS = 20_000;
const SPLIT_RETRY_MS = 1000;

/**
 * Step 3's read-back on a fresh snapshot of the group (TurnLock.confirm), with a split one completed
 * first (TurnLock.complete).
 */
export async function readBackTurn(
  run: Run,
  ctx: ReadContext,
  group: string,
  lock: TurnLock,
  turn: Turn,
): Promise<{ ok: true; snapshot: Snapshot } | { ok: false; holder: string }> {
  const { snapshot } = await run.timed("read", () => run.refresh(group));
  const confirmed = lock.confirm(turn, groupTurnValues(snapshot));
  if (confirmed.ok) return { ok: true, snapshot };
  if (!lock.complete) return confirmed;
  run.reporter.step(
    `another host's turn stands on some of ${group}'s load balancers; waiting for it to go, then taking them too`,
  );
  const completed = await run.timed("take-turn", () => lock.complete!(ctx, turn, groupTurnValues(snapshot)));
  if (completed === "refused") return confirmed;
  const again = await run.timed("read", () => run.refresh(group));
  const reconfirmed = lock.confirm(turn, groupTurnValues(again.snapshot));
  // A late write is read back only so that what shows ours is given back: it proves nothing.
  if (completed === "late") return { ok: false, holder: "another host" };
  return reconfirmed.ok ? { ok: true, snapshot: again.snapshot } : reconfirmed;
}

/** The turn on these load balancers: their tags (src/aws/turn.ts), or with `--lock` the DynamoDB lock. */
export function standaloneLock(run: Run, lbs: StandaloneLb[]): TurnLock {
  const stalenessMs = run.options.stalenessMs;
  const spec = run.options.lock;
  if (!spec) return lbTagLock(lbs, stalenessMs);
  return dynamoTurnLock(
    new DynamoLock(
      spec.table,
      lockKeys(
        undefined,
        lbs.map((l) => l.lb),
      ),
    ),
    stalenessMs,
  );
}

/**
 * `in` after a killed `out` on this host: that run's last acting call (EnterStandby, a
 * deregistration) may still land, and a read now may not show it yet, so "already in" could be
 * wrong. Waits until that run's act deadline and the staleness bound are over, then gives its turn
 * back (its calls have landed or never will, and reads show them). True when the caller must read
 * again.
 */
export async function settleOrphanedTurn(
  run: Run,
  ctx: ReadContext,
  lock: TurnLock,
  values: (string | undefined)[],
): Promise<boolean> {
  let found = await lock.orphan(ctx, values);
  if (!found) return false;
  // Several killed runs may each have left a turn on some of the resources (a late write that a
  // refused retry left standing, then a run killed during its settle over part of it): one at a
  // time, each after its own wait, until a fresh read shows none.
  const settled = new Set<string>();
  for (let i = 0; found && !settled.has(found.turn.nonce) && i < MAX_ORPHANS; i++) {
    settled.add(found.turn.nonce);
    await settleOneOrphan(run, ctx, lock, found);
    // A failed look leaves any further turn to expire by itself, as before this loop.
    const again = lock.peek ? await lock.peek(ctx).catch(() => undefined) : undefined;
    found = again ? await lock.orphan(ctx, again) : undefined;
  }
  return true;
}

/** Giving a turn back is a courtesy once nothing can land under it: if it fails, the turn expires. */
const giveBack = (run: Run, release: Promise<void>): Promise<void> =>
  release.catch((err: unknown) =>
    run.reporter.step(`could not give the turn back (${(err as Error).message}); it expires by itself`),
  );

/** Turns left by killed runs that one `in` gives back, one after another. */
const MAX_ORPHANS = 4;

async function settleOneOrphan(
  run: Run,
  ctx: ReadContext,
  lock: TurnLock,
  view: OrphanedTurn,
): Promise<void> {
  const stalenessMs = run.options.stalenessMs;
  // Killed before its settle was over, it never acted. But a contender whose read missed its write
  // may have written over it unseen, and holds the turn by now: DeleteTags is by key, so the
  // give-back reads the tags again only once such a write shows (a settle after the read that
  // showed the orphan, which came before this), and deletes only what still shows the orphan.
  const overwritable =
    lock.earliestAct !== undefined && Date.now() < lock.earliestAct(view.turn)
      ? lock.overwritableForMs
      : undefined;
  const neverActed = overwritable !== undefined;
  const wait = overwritable ?? lock.actingUntil(view.turn) + stalenessMs - Date.now();
  if (wait > 0) {
    run.reporter.step(
      neverActed
        ? `waiting ${seconds(wait)} before giving back ${lock.what}: a killed earlier run on this host (pid ${view.turn.pid}) wrote it just before it died, and another host's turn written over it may not show yet`
        : `waiting ${seconds(wait)} before deciding: a killed earlier run on this host (pid ${view.turn.pid}) held ${lock.what}, and a call it sent may still land until then`,
    );
    await sleep(wait, undefined, run.signal ? { signal: run.signal } : undefined);
  }
  run.reporter.step(`giving back ${lock.what} left by that run`);
  await giveBack(run, lock.releaseOrphaned(ctx, view.turn));
}

/**
 * `in` whose read shows this host in service, and no orphan: but a run killed here shortly before may have
 * written a turn that read was too stale to show (it never acted then: it acts only after its
 * settle, which outlasts the staleness bound). Once the bound has passed since `readAt` (a
 * performance.now() from before the read), the tags are read again and such a turn is given back,
 * instead of blocking every host until it expires.
 */
export async function settleUnseenOrphan(
  run: Run,
  ctx: ReadContext,
  lock: TurnLock,
  readAt: number,
): Promise<void> {
  if (!lock.peek) return;
  const wait = readAt + run.options.stalenessMs - performance.now();
  if (wait > 0) await sleep(wait, undefined, run.signal ? { signal: run.signal } : undefined);
  await settleOrphanedTurn(run, ctx, lock, await lock.peek(ctx));
}

/**
 * An earlier `out` on this host was killed after it acted, before giving the turn back, and a read
 * sent at `readAt` (a performance.now()) shows this host out: give the turn back, as that run would
 * have, so others need not wait for its expiry. Not at once: that read may be the first to show it,
 * and the next holder's reads, up to the staleness bound older, must show it too (with the lock,
 * nothing else delays them: there is no settle). A failure only warns: the turn expires by itself.
 */
export async function releaseOrphanedTurn(
  run: Run,
  ctx: ReadContext,
  lock: TurnLock,
  values: (string | undefined)[],
  readAt: number,
): Promise<void> {
  const view = await lock.orphan(ctx, values);
  if (!view) return;
  const wait = readAt + run.options.stalenessMs - performance.now();
  run.reporter.step(
    `giving back ${lock.what} left by a killed earlier run on this host (pid ${view.turn.pid})` +
      (wait > 0 ? ` in ${seconds(wait)}, once every host's reads show this one out` : ""),
  );
  if (wait > 0) await sleep(wait, undefined, run.signal ? { signal: run.signal } : undefined);
  await giveBack(run, lock.releaseOrphaned(ctx, view.turn));
}

/**
 * A turn this run wrote and never acted under, stopped (a signal, its deadline) before or after the
 * read-back: given back once its settle is over and a fresh read shows it ours, by the same argument
 * that lets step 3 confirm it (src/aws/turn.ts): a contender whose read missed it has written over
 * it by then, and the read shows that. Bounded by the settle and RELEASE_DEADLINE_MS; a lock with
 * no settle (DynamoDB) releases what it holds at once.
 */
async function giveBackUnacted(
  run: Run,
  ctx: ReadContext,
  lock: TurnLock,
  turn: Turn,
  settleEndsAt: number,
): Promise<void> {
  try {
    const own = {
      ...ctx,
      signal: AbortSignal.timeout(
        Math.ceil(RELEASE_DEADLINE_MS + Math.max(0, settleEndsAt - performance.now())),
      ),
    };
    if (!lock.peek) return await lock.release(own, turn);
    const wait = settleEndsAt - performance.now();
    run.reporter.step(
      `stopped before acting: giving back ${lock.what}${wait > 0 ? ` once its settle is over (${seconds(wait)})` : ""}`,
    );
    if (wait > 0) await sleep(wait);
    const values = await lock.peek(own);
    if (lock.confirm(turn, values).ok) await lock.release(own, turn);
  } catch {
    // Unanswered: the turn expires by itself, as before.
  }
}

/** Timed out before acting: say that nothing changed, so the operator knows the host serves. */
export function stillServing(err: unknown): unknown {
  if (err instanceof BalancedError && err.exitCode === ExitCode.TimedOut)
    return timedOut(`${err.message}; this host has not left (nothing was changed): it is still serving`);
  return err;
}

/**
 * This turn was written over a turn of a killed earlier run on this host (its process was gone at the
 * take). That run may have sent an acting call (EnterStandby) just before it died, which AWS may
 * apply up to its act deadline later; if this run does not act itself, giving the turn back before
 * that call has landed and shows in every read would let the next holder count this host as
 * serving. Until when to keep it (epoch ms), or undefined when that run never acted.
 */
function orphanKeptUntil(run: Run, lock: TurnLock, orphan: Turn): number | undefined {
  const now = Date.now();
  // Killed before it could act (tags: before its settle was over): nothing of it can land.
  if (lock.earliestAct && now < lock.earliestAct(orphan)) return undefined;
  // It died before this take saw it gone, so its last call was sent before now.
  const actingUntil = Math.min(lock.actingUntil(orphan), now + ACT_CALL_DEADLINE_MS);
  return actingUntil + run.options.stalenessMs;
}

/**
 * Waits until `until` before a turn that replaced a killed run's is given back. False when stopped
 * (SIGINT/SIGTERM): then the turn is kept, and expires no earlier than the killed run's would have.
 */
async function keepForOrphan(run: Run, lock: TurnLock, until: number): Promise<boolean> {
  const wait = until - Date.now();
  if (wait <= 0) return true;
  if (run.signal?.aborted) {
    run.reporter.step(
      `keeping ${lock.what}: it replaced a killed earlier run's on this host, a call of which may still land; it expires by itself`,
    );
    return false;
  }
  run.reporter.step(
    `keeping ${lock.what} ${seconds(wait)} more before giving it back: it replaced a killed earlier run's on this host, a call of which may still land until then`,
  );
  return sleep(wait, true, run.signal ? { signal: run.signal } : undefined).catch(() => false);
}

/** What the body under a turn gets: the turn, its fence, and the give-back for once the host is leaving. */
export interface HeldTurn {
  turn: Turn;
  /** Right before the first change (lowering MinSize); every acting call is fenced again by itself. */
  fence: () => Promise<void>;
  /** Give the turn back now that every other host counts this one as leaving (a failure only warns). */
  leaving: () => Promise<void>;
}

/**
 * One turn's lifecycle, for both modes: take it (refused: a busy error to wait out), run `body`
 * under it, and give it back — unless an acting call's outcome is unknown (AWS may still apply it:
 * then it is kept until it expires). Refusals come back as errors; failures are thrown.
 */
export async function holdingTurn<T>(
  run: Run,
  ctx: ReadContext,
  lock: TurnLock,
  where: string,
  body: (held: HeldTurn) => Promise<T | BalancedError>,
): Promise<T | BalancedError> {
  run.reporter.step(`taking ${lock.what} ${where} (so no other host leaves at the same time)`);
  let attempt: TurnAttempt;
  try {
    attempt = await run.timed("take-turn", () => lock.take(ctx));
  } catch (err) {
    if (!(err instanceof TakeInterrupted)) throw err;
    if (!err.replaced) await giveBackUnacted(run, ctx, lock, err.turn, err.settleEndsAt);
    throw err.stoppedBy;
  }
  if (!attempt.taken) {
    const v = attempt.view;
    if (v.state === "late")
      return busy(`refusing: AWS answered too slowly to take ${lock.what} safely; try again`);
    return busy(turnRefusal(v, Date.now(), lock.what)!);
  }
  const turn = attempt.turn;
  const keepUntil = attempt.replaced ? orphanKeptUntil(run, lock, attempt.replaced) : undefined;
  const fence = async () => {
    if (run.deadlinePassed())
      throw timedOut(`timed out after ${run.options.timeoutSeconds} s (--timeout) before this host acted`);
    await lock.fence(ctx, turn);
  };
  const guard = new TurnRelease(run.options.stalenessMs, fence);
  run.turnRelease = guard;
  // Given back once (or kept, while an acting call's outcome is unknown).
  let settled = false;
  const release = async () => {
    if (settled || !(await guard.ready())) return;
    settled = true;
    if (keepUntil !== undefined && !guard.acted && !(await keepForOrphan(run, lock, keepUntil))) return;
    // Stopped before acting, perhaps before the read-back confirmed the turn: give back what a fresh
    // read shows ours (a confirmed turn too), rather than leave it blocking every host until it expires.
    if (run.signal?.aborted && !guard.acted) return giveBackUnacted(run, ctx, lock, turn, performance.now());
    await lock.release(ctx, turn);
  };
  try {
    return await body({
      turn,
      fence,
      leaving: () => giveBack(run, release()),
    });
  } catch (err) {
    if (err instanceof ActDeadlineError) settled = true;
    if (err instanceof TurnLostError) return err;
    throw guard.acted ? err : stillServing(err);
  } finally {
    await release().catch(() => undefined);
  }
}
