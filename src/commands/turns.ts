/** Which turn a command takes: the tags (src/aws/turn.ts), or with `--lock` DynamoDB (src/aws/lock.ts). */
import { DynamoLock, dynamoTurnLock } from "../aws/lock";
import { lbTagLock } from "../aws/standalone";
import { DEFAULT_STALENESS_MS, groupTagLock, type TurnLock } from "../aws/turn";
import { lockKeys } from "../core/lock";
import type { StandaloneLb } from "../core/standalone";
import type { Run } from "./run";

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
