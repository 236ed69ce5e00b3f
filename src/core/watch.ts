/**
 * `balanced watch`: what the metadata service says AWS is about to do to this host, and what to do
 * about it. Pure: notices in, one next action out (src/commands/watch.ts polls and acts).
 *
 * Sources (EC2 user guide, instance metadata categories):
 *   - spot/instance-action: {"action": "terminate"|"stop"|"hibernate", "time": ISO}, 404 until a
 *     Spot interruption notice (two minutes before);
 *   - events/recommendations/rebalance: {"noticeTime": ISO}, 404 until a rebalance recommendation;
 *   - events/maintenance/scheduled: [{Code, Description, EventId, NotBefore, NotAfter, State}], times
 *     as "21 Jan 2019 09:00:43 GMT";
 *   - autoscaling/target-lifecycle-state: the Auto Scaling lifecycle state the instance is heading
 *     to ("InService", "Standby", "Terminated", ...).
 */
export type SpotAction = "terminate" | "stop" | "hibernate";

export interface Notices {
  spot?: { action: SpotAction; time: number };
  rebalanceAt?: number;
  /** Upcoming events (`scheduled` lists only these; canceled and completed ones move to `history`). */
  maintenance: { code: string; eventId: string; notBefore: number; notAfter?: number; state: string }[];
  /** autoscaling/target-lifecycle-state; undefined outside a group. */
  targetLifecycle?: string;
}

export interface WatchConfig {
  /** Drain on a rebalance recommendation (a Spot Instance at elevated risk), or only note it. */
  onRebalance: "drain" | "ignore";
  /** Drain this long before a scheduled event's NotBefore. */
  maintenanceLeadMs: number;
}

/** `balanced watch`'s settings: the pure ones above, and how it polls and judges a launch ready. */
export interface WatchOptions extends WatchConfig {
  pollIntervalMs: number;
  /** The launch hook: ready when this URL answers 2xx, or this command exits 0. */
  readyUrl: string | undefined;
  readyCommand: string | undefined;
  /** ... and ABANDON when not ready within this long. */
  readyTimeoutMs: number;
}

export type WatchAction =
  | { kind: "none" }
  /**
   * Leave every load balancer before `leaveBy`. `replace`: the host is not coming back, so it leaves
   * without decrementing desired capacity and its group launches a replacement at once; otherwise
   * (a reboot) it leaves as the systemd unit's shutdown does, recorded, to return at boot.
   */
  | { kind: "drain"; key: string; reason: string; leaveBy: number; replace: boolean }
  /** Auto Scaling is terminating this host: see it drained, then complete its lifecycle hook. */
  | { kind: "terminating"; key: string }
  /** Auto Scaling launched this host and may hold it in Pending:Wait until it is ready. */
  | { kind: "launching"; key: string }
  /**
   * A drain that meant to come back is over without a reboot bringing the host back: the event was
   * canceled, or its window passed (network maintenance reboots nothing). Return the host as the
   * boot would (`in --after-shutdown`: only if its drain's record is there).
   */
  | { kind: "return"; key: string; reason: string };

/**
 * Scheduled event codes after which the instance comes back; the others (instance-stop,
 * instance-retirement) stop it for good. system-maintenance is power maintenance (a reboot) or
 * network maintenance ("your instance will lose network connectivity for a brief period of time",
 * EC2's DescribeInstanceStatus reference): no reboot, so nothing but watch brings the host back.
 */
const RETURNS = new Set(["instance-reboot", "system-reboot", "system-maintenance"]);
/** The key of a drain for event `id` that means to come back. */
const backKey = (id: string) => `maintenance:${id}:back`;

const iso = (t: number) => new Date(t).toISOString();

/**
 * The one thing to do next, given what is pending and what was already handled (by key, so each
 * notice is acted on once). The nearest deadline first: a Spot interruption, then maintenance, then
 * a rebalance recommendation; lifecycle transitions when nothing is about to take the host away.
 */
export function nextWatchAction(
  n: Notices,
  now: number,
  cfg: WatchConfig,
  handled: ReadonlySet<string>,
): WatchAction {
  const drains: Extract<WatchAction, { kind: "drain" }>[] = [];
  if (n.spot) {
    drains.push({
      kind: "drain",
      key: `spot:${n.spot.action}:${n.spot.time}`,
      reason: `Spot interruption notice: AWS will ${n.spot.action} this instance at ${iso(n.spot.time)}`,
      leaveBy: n.spot.time,
      replace: true,
    });
  }
  for (const e of n.maintenance) {
    if (e.state !== "active" || e.notBefore - cfg.maintenanceLeadMs > now) continue;
    const back = RETURNS.has(e.code);
    drains.push({
      kind: "drain",
      key: back ? backKey(e.eventId) : `maintenance:${e.eventId}`,
      reason: `scheduled ${e.code} (${e.eventId}) not before ${iso(e.notBefore)}`,
      leaveBy: e.notBefore,
      replace: !back,
    });
  }
  if (n.rebalanceAt !== undefined && cfg.onRebalance === "drain") {
    drains.push({
      kind: "drain",
      key: `rebalance:${n.rebalanceAt}`,
      reason: `rebalance recommendation at ${iso(n.rebalanceAt)}: this Spot Instance is at elevated risk of interruption`,
      // No deadline comes with it; a Spot notice, if one follows, gives two minutes.
      leaveBy: n.rebalanceAt + 120_000,
      replace: true,
    });
  }
  const due = drains.filter((d) => !handled.has(d.key)).sort((a, b) => a.leaveBy - b.leaveBy)[0];
  if (due) return due;
  const back = returnDue(n, now, handled);
  if (back) return back;
  if (n.targetLifecycle === "Terminated" && !handled.has("lifecycle:Terminated"))
    return { kind: "terminating", key: "lifecycle:Terminated" };
  if (n.targetLifecycle === "InService" && !handled.has("lifecycle:InService"))
    return { kind: "launching", key: "lifecycle:InService" };
  // Entering a warm pool (Warmed:Stopped, Running or Hibernated): the launch hook fires then too,
  // holding the instance in Warmed:Pending:Wait until it is initialized ("Lifecycle hooks for a warm
  // pool", EC2 Auto Scaling user guide). It serves no traffic there: nothing to drain.
  const warm = n.targetLifecycle;
  if (warm?.startsWith("Warmed:") && warm !== "Warmed:Terminated" && !handled.has(`lifecycle:${warm}`))
    return { kind: "launching", key: `lifecycle:${warm}` };
  return { kind: "none" };
}

/**
 * Every drain that meant to come back has a way back: once its event is no longer scheduled (EC2
 * moves a canceled or completed event to `events/maintenance/history`) or its window has passed
 * (`NotAfter`), with the host still here, nothing rebooted it: return it. After a real reboot this
 * process is gone, and the boot's own `in --after-shutdown` returns the host.
 */
function returnDue(n: Notices, now: number, handled: ReadonlySet<string>): WatchAction | undefined {
  for (const key of handled) {
    const m = /^maintenance:(.+):back$/.exec(key);
    if (!m || handled.has(`return:${m[1]}`)) continue;
    const e = n.maintenance.find((x) => x.eventId === m[1]);
    const over = !e
      ? "is no longer scheduled (canceled or completed)"
      : e.notAfter !== undefined && now >= e.notAfter
        ? `window ended at ${iso(e.notAfter)}`
        : undefined;
    if (over) return { kind: "return", key: `return:${m[1]}`, reason: `scheduled event ${m[1]} ${over}` };
  }
  return undefined;
}

/** Scheduled events' times: "21 Jan 2019 09:00:43 GMT". */
export function parseGmt(text: string): number {
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Error(`not a time: ${text}`);
  return t;
}

export function parseSpot(json: string): Notices["spot"] {
  const v = JSON.parse(json) as { action?: string; time?: string };
  if (v.action !== "terminate" && v.action !== "stop" && v.action !== "hibernate") return undefined;
  const time = Date.parse(v.time ?? "");
  return Number.isNaN(time) ? undefined : { action: v.action, time };
}

export function parseMaintenance(json: string): Notices["maintenance"] {
  const list = JSON.parse(json) as {
    Code?: string;
    EventId?: string;
    NotBefore?: string;
    NotAfter?: string;
    State?: string;
  }[];
  return (Array.isArray(list) ? list : []).map((e) => ({
    code: e.Code ?? "unknown",
    eventId: e.EventId ?? "unknown",
    notBefore: parseGmt(e.NotBefore ?? ""),
    ...(e.NotAfter ? { notAfter: parseGmt(e.NotAfter) } : {}),
    state: e.State ?? "active",
  }));
}

/** A line per pending notice, for `status` and the journal. */
export function describeNotices(n: Notices, now: number): string[] {
  const inS = (t: number) => `${Math.round((t - now) / 1000)} s`;
  const lines: string[] = [];
  if (n.spot)
    lines.push(`Spot interruption: ${n.spot.action} at ${iso(n.spot.time)} (in ${inS(n.spot.time)})`);
  if (n.rebalanceAt !== undefined) lines.push(`rebalance recommendation since ${iso(n.rebalanceAt)}`);
  for (const e of n.maintenance.filter((x) => x.state === "active"))
    lines.push(`scheduled ${e.code} (${e.eventId}) not before ${iso(e.notBefore)} (in ${inS(e.notBefore)})`);
  if (n.targetLifecycle === "Terminated") lines.push("Auto Scaling is terminating this instance");
  return lines;
}
