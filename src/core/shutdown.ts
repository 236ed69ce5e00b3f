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
  /** The boot's `in --after-shutdown` failed: when, and with which exit code. */
  bootFailed?: { at: string; exitCode: number };
}

/**
 * The record's value: when the shutdown took the host out, and, once a boot failed to bring it back,
 * `boot-failed=<when> exit=<code>` — so `status` on any host says so, instead of "its boot brings it
 * back" about a host whose boot already tried and failed.
 */
export function shutdownValue(r: Pick<ShutdownRecord, "at" | "bootFailed">): string {
  return r.bootFailed ? `${r.at} boot-failed=${r.bootFailed.at} exit=${r.bootFailed.exitCode}` : r.at;
}

export function parseShutdownValue(instanceId: string, value: string): ShutdownRecord {
  const m = /^(\S+) boot-failed=(\S+) exit=(\d+)$/.exec(value.trim());
  return m
    ? { instanceId, at: m[1]!, bootFailed: { at: m[2]!, exitCode: Number(m[3]) } }
    : { instanceId, at: value.trim() };
}

export const shutdownRecords = (tags: Record<string, string>): ShutdownRecord[] =>
  Object.entries(tags)
    .filter(([key]) => key.startsWith(SHUTDOWN_TAG_PREFIX))
    .map(([key, value]) => parseShutdownValue(key.slice(SHUTDOWN_TAG_PREFIX.length), value));

export const hasShutdownRecord = (tags: Record<string, string>, instanceId: string) =>
  shutdownKey(instanceId) in tags;
