import { StandardRetryStrategy } from "@smithy/core/retry";
import type { RetryErrorInfo, RetryStrategyV2, StandardRetryToken } from "@smithy/types";

/**
 * The SDK's standard retries, with throttling given a budget of its own.
 *
 * AWS's SDK reference calls the adaptive mode "appropriate only for specialized use-cases"; standard
 * is the one for a CLI. But a fleet of agents started together (a deploy over 100 hosts) meets
 * throttling that outlasts standard's few attempts, and a throttled call is refused unprocessed, so
 * trying it again is always safe. So: non-throttling errors (5xx, timeouts, a lost connection) keep
 * standard's attempts and backoff, and an unreachable AWS is reported as soon as they run out;
 * throttling is retried with full-jitter exponential backoff (THROTTLE_BASE_MS doubling, capped at
 * THROTTLE_MAX_DELAY_MS) up to THROTTLED_ATTEMPTS (AWS_MAX_ATTEMPTS, when set, bounds both). Every call carries the run's deadline as its
 * abort signal, and the SDK's retry loop races each wait against it, so the run's deadline is what
 * ends a throttling storm that lasts longer than the run may.
 */
export const THROTTLED_ATTEMPTS = 40;
const THROTTLE_BASE_MS = 1000;
const THROTTLE_MAX_DELAY_MS = 20_000;

export class CliRetryStrategy implements RetryStrategyV2 {
  readonly mode = "standard";
  private readonly standard: StandardRetryStrategy;

  /** `throttledAttempts`: THROTTLED_ATTEMPTS, unless the operator set AWS_MAX_ATTEMPTS (honoured for both). */
  constructor(
    maxAttempts: number,
    private readonly throttledAttempts = THROTTLED_ATTEMPTS,
    private readonly random: () => number = Math.random,
  ) {
    this.standard = new StandardRetryStrategy(maxAttempts);
  }

  acquireInitialRetryToken(scope: string): Promise<StandardRetryToken> {
    return this.standard.acquireInitialRetryToken(scope);
  }

  async refreshRetryTokenForRetry(
    token: StandardRetryToken,
    info: RetryErrorInfo,
  ): Promise<StandardRetryToken> {
    if (info.errorType !== "THROTTLING") return this.standard.refreshRetryTokenForRetry(token, info);
    const count = token.getRetryCount() + 1;
    if (count >= this.throttledAttempts) throw new Error("No retry token available: throttled too often");
    const delay = throttleDelayMs(count, this.random);
    // The SDK waits getRetryDelay() before the next attempt, racing the call's abort signal.
    return { getRetryCount: () => count, getRetryDelay: () => delay, getRetryCost: () => 0 };
  }

  recordSuccess(token: StandardRetryToken): void {
    this.standard.recordSuccess(token);
  }
}

/** Full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog): uniform in [0, min(cap, base·2^n)). */
export const throttleDelayMs = (retry: number, random: () => number) =>
  random() * Math.min(THROTTLE_MAX_DELAY_MS, THROTTLE_BASE_MS * 2 ** retry);
