/** Which turn a command takes: the tags (src/aws/turn.ts), or with `--lock` DynamoDB (src/aws/lock.ts). */

import { setTimeout as sleep } from "node:timers/promises";
import { DynamoLock, dynamoTurnLock } from "../aws/lock";
import type { ReadContext } from "../aws/read";
import { lbTagLock } from "../aws/standalone";
import { DEFAULT_STALENESS_MS, groupTagLock, type TurnLock } from "../aws/turn";
import { lockKeys } from "../core/lock";
import type { StandaloneLb } from "../core/standalone";
import type { Run } from "./run";
import { seconds } from "./wait";

/**
 * The turn this group host takes: the group tag (src/aws/turn.ts), or with `--lock` the DynamoDB
 * lock on the group and on each of its load balancers (src/aws/lock.ts), which needs the snapshot.
 */
export function groupLock(run: Run, group: string): TurnLock {
  const stalenessMs = run.options.stalenessMs ?? DEFAULT_STALENESS_MS;
  const spec = run.options.lock;
  if (!spec) return groupTagLock(group, stalenessMs);
  const lbs = run.snapshot?.group.name === group ? run.snapshot.loadBalancers : [];
  return dynamoTurnLock(new DynamoLock(spec.table, lockKeys(group, lbs)), stalenessMs);
}

/** The turn on these load balancers: their tags (src/aws/turn.ts), or with `--lock` the DynamoDB lock. */
export function standaloneLock(run: Run, lbs: StandaloneLb[]): TurnLock {
  const stalenessMs = run.options.stalenessMs ?? DEFAULT_STALENESS_MS;
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
  const view = await lock.view(ctx, values);
  if (view.state !== "orphaned") return false;
  const wait = lock.actingUntil(view.turn) + (run.options.stalenessMs ?? DEFAULT_STALENESS_MS) - Date.now();
  if (wait > 0) {
    run.reporter.step(
      `waiting ${seconds(wait)} before deciding: a killed earlier run on this host (pid ${view.turn.pid}) held ${lock.what}, and a call it sent may still land until then`,
    );
    await sleep(wait, undefined, run.signal ? { signal: run.signal } : undefined);
  }
  run.reporter.step(`giving back ${lock.what} left by that run`);
  await lock
    .releaseOrphaned(ctx, view.turn)
    .catch((err: unknown) =>
      run.reporter.step(`could not give the turn back (${(err as Error).message}); it expires by itself`),
    );
  return true;
}
