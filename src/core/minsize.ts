/**
 * MinSize lowered for the time a host is out, recorded on the group (one tag per host), restored on
 * `in` or by `balanced repair`. Pure: what the records say and what to set.
 *
 * Each host that lowers MinSize by one writes `balanced:min-size:<instance>` = the operator's MinSize
 * (the one before any host lowered it) and the value it lowered to, BEFORE it lowers (so a crash leaves a record, never a silently
 * shrunken group). `base`, the largest recorded original, is the operator's own value. With k records,
 * our lowerings explain any MinSize in [base − k, base] (k when all took effect; fewer when a host
 * crashed between recording and lowering). Undoing one host's record sets
 * max(current, base − (k − 1)): never lower than now, never above base. A MinSize outside that range
 * was set by someone else in between: that is the operator's intent, so it is left alone (never raised
 * above what the operator set) and only the record is removed.
 */
export const MIN_SIZE_TAG_PREFIX = "balanced:min-size:";

export interface MinSizeRecord {
  instanceId: string;
  original: number;
  loweredTo: number;
  at: string;
}

export const recordKey = (instanceId: string) => `${MIN_SIZE_TAG_PREFIX}${instanceId}`;

export const formatRecord = (r: MinSizeRecord) =>
  `original=${r.original} lowered-to=${r.loweredTo} at=${r.at}`;

export function parseRecords(tags: Record<string, string>): MinSizeRecord[] {
  const records: MinSizeRecord[] = [];
  for (const [key, value] of Object.entries(tags)) {
    if (!key.startsWith(MIN_SIZE_TAG_PREFIX)) continue;
    const m = /original=(\d+) lowered-to=(\d+) at=(\S+)/.exec(value);
    if (!m) continue;
    records.push({
      instanceId: key.slice(MIN_SIZE_TAG_PREFIX.length),
      original: Number(m[1]),
      loweredTo: Number(m[2]),
      at: m[3]!,
    });
  }
  return records.sort((a, b) => a.at.localeCompare(b.at));
}

export interface Sizes {
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
}

export type LowerPlan =
  /** Write this record, then set MinSize to record.loweredTo. */
  | { kind: "lower"; record: MinSizeRecord; writeRecord: boolean }
  /** This host's record is there and MinSize already lowered (a rerun after a crash). */
  | { kind: "already" };

/** Lowering by one for `instanceId`: idempotent across reruns. */
export function planLower(
  sizes: Sizes,
  records: MinSizeRecord[],
  instanceId: string,
  now: string,
): LowerPlan {
  const mine = records.find((r) => r.instanceId === instanceId);
  if (mine) {
    // Recorded before a crash: lower now unless that already happened.
    return sizes.minSize === mine.loweredTo
      ? { kind: "already" }
      : { kind: "lower", record: { ...mine, loweredTo: sizes.minSize - 1 }, writeRecord: false };
  }
  // `original` is the operator's MinSize: with other hosts' records in place, theirs, not today's value.
  const original = records.length ? Math.max(...records.map((r) => r.original)) : sizes.minSize;
  return {
    kind: "lower",
    record: { instanceId, original, loweredTo: sizes.minSize - 1, at: now },
    writeRecord: true,
  };
}

export type RestorePlan =
  | { kind: "none" }
  /**
   * Set MinSize to `minSize`, then delete the record, and those of `settled`: hosts back in service
   * whose share this restore gives back with its own.
   */
  | { kind: "restore"; minSize: number; record: MinSizeRecord; settled: string[] }
  /**
   * Desired capacity is below what MinSize should return to, and raising MinSize above it would
   * make the group launch instances: set `minSize` (never lower than now), keep the record.
   */
  | { kind: "partial"; minSize: number; wanted: number; record: MinSizeRecord }
  /** Someone changed MinSize meanwhile: delete the record, leave MinSize as it is. */
  | { kind: "leave"; record: MinSizeRecord; expected: number };

/**
 * Undoing `instanceId`'s lowering. `stillOut`: whether another recorded host is still out (in Standby
 * or entering it); by default every one is. `gone`: whether a recorded host left the group for good
 * (terminated, detached). MinSize returns to the base less one for each host still out, never
 * lowered, never above MaxSize, and above desired capacity only by the shares of hosts gone for good
 * (AWS raises desired to a MinSize above it and launches: right for a host that will not return, a
 * group grown past the operator's size for one that will).
 */
export function planRestore(
  sizes: Sizes,
  records: MinSizeRecord[],
  instanceId: string,
  stillOut: (instanceId: string) => boolean = () => true,
  gone: (instanceId: string) => boolean = () => false,
): RestorePlan {
  const mine = records.find((r) => r.instanceId === instanceId);
  if (!mine) return { kind: "none" };
  const base = Math.max(...records.map((r) => r.original));
  const lowest = base - records.length;
  if (sizes.minSize < lowest || sizes.minSize > base)
    return { kind: "leave", record: mine, expected: lowest };
  const others = records.filter((r) => r.instanceId !== instanceId);
  const out = others.filter((r) => stillOut(r.instanceId));
  const wanted = Math.min(sizes.maxSize, base - out.length);
  const replaced = records.filter((r) => gone(r.instanceId)).length;
  const reachable = Math.max(sizes.minSize, Math.min(wanted, sizes.desiredCapacity + replaced));
  if (reachable < wanted) return { kind: "partial", minSize: reachable, wanted, record: mine };
  return {
    kind: "restore",
    minSize: reachable,
    record: mine,
    settled: others.filter((r) => !stillOut(r.instanceId)).map((r) => r.instanceId),
  };
}
