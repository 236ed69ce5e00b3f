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

/** What systemd says while the unit's ExecStop runs (src/systemd.ts reads it). */
export interface SystemdReport {
  /** `systemctl is-system-running`: running, degraded, stopping, ... (undefined: no answer). */
  systemState: string | undefined;
  /** `systemctl list-jobs`: each queued job as "UNIT TYPE", e.g. "reboot.target start". */
  jobs: string[];
}

/** The targets a shutdown, reboot, poweroff, halt or kexec start (systemd.special(7)). */
const SHUTDOWN_TARGETS = new Set([
  "shutdown.target",
  "reboot.target",
  "poweroff.target",
  "halt.target",
  "kexec.target",
  "soft-reboot.target",
]);

/**
 * Why the unit is stopping. Only a real shutdown or reboot may override the budget and the turn
 * (`out --shutdown`): the host is going away whatever anyone decides. A stop of the unit alone
 * (`systemctl restart balanced`, a package upgrade, a configuration run's handler, on many hosts at
 * once) is not that, and must leave traffic as it is. systemd tells: the system's state is
 * `stopping`, or a job starting a shutdown target is queued. Without an answer (no systemd, or
 * `systemctl` missing) nothing tells them apart, and the host drains as it always did.
 */
export function classifyStop(report: SystemdReport): "system" | "unit-only" | "unknown" {
  if (report.systemState === "stopping") return "system";
  if (report.jobs.some((j) => SHUTDOWN_TARGETS.has(j.split(/\s+/)[0]!) && j.split(/\s+/)[1] === "start"))
    return "system";
  const up = ["running", "degraded", "starting", "initializing", "maintenance"];
  return report.systemState !== undefined && up.includes(report.systemState) ? "unit-only" : "unknown";
}
