/**
 * A host that `out --shutdown` took out (the systemd unit's ExecStop) is recorded on its group, one
 * tag per host: `balanced:shutdown:<instance>` = when. At boot, `in --after-shutdown` brings back only
 * a host with such a record, so a host an operator took out stays out across a reboot. The record
 * lives in AWS, not on the host's disk: a replaced root volume or a rebuilt host still finds it.
 */
export const SHUTDOWN_TAG_PREFIX = "balanced:shutdown:";

export const shutdownKey = (instanceId: string) => `${SHUTDOWN_TAG_PREFIX}${instanceId}`;

export interface ShutdownRecord {
  instanceId: string;
  at: string;
}

export const shutdownRecords = (tags: Record<string, string>): ShutdownRecord[] =>
  Object.entries(tags)
    .filter(([key]) => key.startsWith(SHUTDOWN_TAG_PREFIX))
    .map(([key, at]) => ({ instanceId: key.slice(SHUTDOWN_TAG_PREFIX.length), at }));

export const hasShutdownRecord = (tags: Record<string, string>, instanceId: string) =>
  shutdownKey(instanceId) in tags;
