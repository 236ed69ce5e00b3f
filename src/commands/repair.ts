import { deleteGroupTag } from "../aws/group";
import { DynamoLock } from "../aws/lock";
import type { ReadContext } from "../aws/read";
import { removeLbTag } from "../aws/standalone";
import { deleteTurnTag, releaseTurn, TURN_TTL_MS, viewTurnHere } from "../aws/turn";
import { backInService, lbLabel, leftGroup } from "../core/health";
import { lockKeys } from "../core/lock";
import { parseRecords } from "../core/minsize";
import { orphanedParked, parkedKey } from "../core/parked";
import { outKey, parseRemovals } from "../core/removals";
import { parseTurn, TURN_TAG } from "../core/turn";
import type { LoadBalancerView, Snapshot } from "../core/types";
import { restoreMinSizeUnderTurn } from "./move";
import type { RepairResult } from "./results";
import type { Run } from "./run";
import { groupLock, groupTurnValues, settleOrphanedTurn } from "./turns";

/**
 * A MinSize record whose host will not restore it itself: the host left the group (terminated,
 * replaced, detached), or is back in service and healthy but was stopped before its last step.
 */
export function staleRecords(s: Snapshot): { instanceId: string; why: string }[] {
  return parseRecords(s.group.tags).flatMap((r) => {
    if (leftGroup(s.group, r.instanceId))
      return [{ instanceId: r.instanceId, why: "its host left the group" }];
    if (backInService(s, r.instanceId))
      return [{ instanceId: r.instanceId, why: "its host is back in service" }];
    return [];
  });
}

/** How long after its record an `out` may still be acting (its turn's life): then a record is settled. */
const RECORD_SETTLED_MS = TURN_TTL_MS;

/**
 * Removal records on the group's load balancers (src/core/removals.ts) that their hosts will not
 * remove themselves: of this group's hosts that left it, or that are back in service and healthy
 * long after the record (an `in` stopped before its last step). Another group's records, or a host
 * in no group's, are theirs to remove.
 */
export function staleRemovals(
  s: Snapshot,
  now = Date.now(),
): { lb: LoadBalancerView; instanceId: string; why: string }[] {
  return s.loadBalancers.flatMap((lb) =>
    parseRemovals(lb.tags ?? {}).flatMap((r) => {
      if (r.group === s.group.name && leftGroup(s.group, r.instanceId))
        return [{ lb, instanceId: r.instanceId, why: "its host left the group" }];
      if (backInService(s, r.instanceId) && now - Date.parse(r.at) > RECORD_SETTLED_MS)
        return [{ lb, instanceId: r.instanceId, why: "its host is back in service" }];
      return [];
    }),
  );
}

/**
 * With `--lock`: the lock's items for this group and its load balancers that nobody will give back —
 * expired, or unreadable (each removed only as it was read: a turn taken since stays). One left by a
 * killed run here is settled first, as `in` settles it (groupRepair).
 */
async function repairLock(run: Run, ctx: ReadContext, snapshot: Snapshot, table: string): Promise<string[]> {
  const lock = new DynamoLock(table, lockKeys(snapshot.group.name, snapshot.loadBalancers));
  const done: string[] = [];
  for (const item of await lock.inspect(ctx)) {
    if (item.value === undefined) continue;
    const view = viewTurnHere(item.value, ctx.identity.instanceId);
    if (view.state === "unreadable") {
      run.reporter.step(
        `removing the lock item ${item.key} in ${table} that balanced cannot read (${JSON.stringify(view.value)})`,
      );
      if (await lock.clear(ctx, item.key, item.version))
        done.push(`removed an unreadable lock item ${item.key}`);
    } else if (view.state === "expired") {
      run.reporter.step(
        `removing the lock item ${item.key} left behind by ${view.turn.holder} (${view.state})`,
      );
      await lock.release(ctx, view.turn, [item.key]);
      done.push(`removed the ${view.state} lock item ${item.key} of ${view.turn.holder}`);
    }
  }
  return done;
}

/** `balanced repair`: from any host of the group, undo what crashed or vanished hosts left behind. */
export async function groupRepair(run: Run): Promise<RepairResult> {
  const ctx = await run.context();
  let { snapshot } = await run.timed("read", () => run.refresh());
  const group = snapshot.group.name;
  const done: string[] = [];
  // First, a turn a killed run on this host left: its last acting call may still land, and reads
  // may not show it yet, so it goes back only when `in` would give it back (src/commands/turns.ts).
  // Given back at once (or taken over by the restore below), another host could take the turn and
  // count this one as serving, and this host's next `in`, finding no turn to wait out, could trust
  // a read that predates that call.
  if (await settleOrphanedTurn(run, ctx, groupLock(run, group), groupTurnValues(snapshot))) {
    done.push("gave back the turn a killed run on this host left, once its calls could no longer land");
    ({ snapshot } = await run.timed("read", () => run.refresh(group)));
  }
  const stale = staleRecords(snapshot);
  for (const { instanceId, why } of stale) {
    const note = await run.timed("restore-min-size", () =>
      restoreMinSizeUnderTurn(run, ctx, group, instanceId),
    );
    if (note) done.push(`${note} (record of ${instanceId}: ${why})`);
  }
  for (const instanceId of orphanedParked(snapshot)) {
    run.reporter.step(`removing the parked record of ${instanceId} from ${group}: its host left the group`);
    await run.timed("forget-parked", () => deleteGroupTag(ctx, group, parkedKey(instanceId)));
    done.push(`removed the parked record of ${instanceId} (its host left the group)`);
  }
  const removals = staleRemovals(snapshot);
  for (const { lb, instanceId, why } of removals) {
    run.reporter.step(`removing ${outKey(instanceId)} from ${lbLabel(lb)}: ${why}`);
    await run.timed("forget-removal", () =>
      removeLbTag(ctx, { lb, tags: lb.tags ?? {}, selfPorts: [] }, outKey(instanceId)),
    );
    done.push(`removed ${outKey(instanceId)} from ${lbLabel(lb)} (${why})`);
  }
  const turnValue = snapshot.group.tags[TURN_TAG];
  const view = viewTurnHere(turnValue, ctx.identity.instanceId);
  if (view.state === "unreadable") {
    run.reporter.step(`removing the group's turn tag balanced cannot read (${JSON.stringify(view.value)})`);
    await deleteTurnTag(ctx, group, view.value);
    done.push("removed an unreadable turn tag");
  } else if (view.state === "expired") {
    const turn = parseTurn(turnValue)!;
    run.reporter.step(`removing the group's turn left behind by ${turn.holder} (${view.state})`);
    await releaseTurn(ctx, group, turn);
    done.push(`removed the ${view.state} turn of ${turn.holder}`);
  }
  if (run.options.lock) done.push(...(await repairLock(run, ctx, snapshot, run.options.lock.table)));
  const still = parseRecords(snapshot.group.tags).filter(
    (r) => !stale.some((x) => x.instanceId === r.instanceId),
  );
  const waiting = still.map((r) => `${r.instanceId} is still out; its own \`balanced in\` restores MinSize`);
  return {
    outcome: "done",
    message: [...done, ...waiting].join("\n") || `nothing to repair in ${group}`,
  };
}
