import { leftGroup } from "./health";
import type { Snapshot } from "./types";

/**
 * A host that balanced put in Standby is recorded on its group, one tag per host:
 * `balanced:parked:<instance>` = when. `in` takes back only a host with such a record (or a
 * shutdown's), so a host someone else parked — an operator's quarantine, an investigation — is not
 * returned to service by a deploy chain's `out && deploy && in` without `--force`.
 */
export const PARKED_TAG_PREFIX = "balanced:parked:";

export const parkedKey = (instanceId: string) => `${PARKED_TAG_PREFIX}${instanceId}`;

export const parkedBy = (tags: Record<string, string>, instanceId: string) => parkedKey(instanceId) in tags;

/** Parked records whose host left the group (terminated, replaced, detached): no `in` will remove them. */
export function orphanedParked(s: Snapshot): string[] {
  return Object.keys(s.group.tags)
    .filter((k) => k.startsWith(PARKED_TAG_PREFIX))
    .map((k) => k.slice(PARKED_TAG_PREFIX.length))
    .filter((id) => leftGroup(s.group, id));
}
