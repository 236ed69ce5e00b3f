import type { LoadBalancerView } from "./types";

/**
 * Deadlines and the polling schedule. Each default deadline is what AWS's own settings say the
 * transition can take, plus a margin for the parts AWS does not publish.
 */

/** EnterStandby itself (before draining) and the group's bookkeeping: seconds in practice. */
export const STANDBY_MARGIN_SECONDS = 60;
/** ExitStandby to InService: the group registers the host and moves it on, usually within seconds. */
export const EXIT_STANDBY_ALLOWANCE_SECONDS = 60;
/** Target groups spend a moment in Elb.RegistrationInProgress before the first health check. */
export const REGISTRATION_ALLOWANCE_SECONDS = 10;

/** Brisk polling: at most one call per load balancer per second, so a fleet never hammers the API. */
export const BRISK_POLL_MS = 1000;
/**
 * While ExitStandby's Pending lasts, only the group is polled (one cheap call, no load balancer):
 * twice a second, so the health-check clock starts when InService does, not up to a second later.
 */
export const PENDING_POLL_MS = 500;
/** While the predicted end is far off, look in now and then to report progress and catch early ends. */
export const IDLE_POLL_MS = 3000;

export const drainSeconds = (lbs: LoadBalancerView[]) => Math.max(0, ...lbs.map((lb) => lb.drainSeconds));

export const healthySeconds = (lbs: LoadBalancerView[]) =>
  Math.max(
    0,
    ...lbs.map((lb) => (lb.healthChecksEnabled ? lb.healthCheckIntervalSeconds * lb.healthyThreshold : 0)),
  );

export const defaultOutTimeoutSeconds = (lbs: LoadBalancerView[]) =>
  drainSeconds(lbs) + STANDBY_MARGIN_SECONDS;

export const defaultInTimeoutSeconds = (lbs: LoadBalancerView[]) =>
  EXIT_STANDBY_ALLOWANCE_SECONDS +
  healthySeconds(lbs) +
  REGISTRATION_ALLOWANCE_SECONDS +
  STANDBY_MARGIN_SECONDS;

/**
 * How long to sleep before the next poll: straight to the predicted completion when it is near,
 * a few seconds at a time when it is far, and briskly once it is due.
 */
export function nextPollDelayMs(nowMs: number, predictedAtMs: number | undefined): number {
  if (predictedAtMs === undefined) return BRISK_POLL_MS;
  const remaining = predictedAtMs - nowMs;
  if (remaining <= 0) return BRISK_POLL_MS;
  // A little after the predicted moment, so the state has flipped when we look; never two polls of
  // the load balancers within a second.
  if (remaining <= IDLE_POLL_MS) return Math.max(BRISK_POLL_MS, remaining + 50);
  return IDLE_POLL_MS;
}
