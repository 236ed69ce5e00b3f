/**
 * This host's clock against AWS's: a turn's expiry is judged on the local clock, so a host whose
 * clock is off refuses to take one (the turn's argument allows CLOCK_TOLERANCE on each host).
 */
import type { MiddlewareStack } from "@smithy/types";
import { BalancedError, ExitCode } from "../errors";

/** How far this host's clock may be from AWS's before it refuses to judge a turn's expiry. */
export const CLOCK_TOLERANCE_MS = 5000;

/**
 * Records the `Date` of the attempt that answered, against the local clock at its middle: the
 * answer's clock, to the second (RFC 7231 dates have no fraction).
 */
export function clockOffset<I extends object, O extends object>(command: {
  middlewareStack: MiddlewareStack<I, O>;
}): () => number | undefined {
  let offset: number | undefined;
  command.middlewareStack.add(
    (next) => async (args) => {
      const sent = Date.now();
      const result = await next(args);
      const date = (result.response as { headers?: Record<string, string> }).headers?.date;
      const aws = date ? Date.parse(date) : Number.NaN;
      if (!Number.isNaN(aws)) offset = aws - (sent + Date.now()) / 2;
      return result;
    },
    { step: "deserialize", name: "balancedClockOffset" },
  );
  return () => offset;
}

/** Expiry is judged against this host's clock: refuse when it is off AWS's by more than the tolerance. */
export function checkClock(offsetMs: number | undefined): void {
  // The Date header is whole seconds: up to 1 s of the offset is its rounding.
  if (offsetMs === undefined || Math.abs(offsetMs) <= CLOCK_TOLERANCE_MS + 1000) return;
  throw new BalancedError(
    ExitCode.Busy,
    "clock",
    `refusing: this host's clock is ${(Math.abs(offsetMs) / 1000).toFixed(0)} s ${offsetMs > 0 ? "behind" : "ahead of"} AWS's (the Date of its answers), more than the ${CLOCK_TOLERANCE_MS / 1000} s the turn's expiry tolerates; fix the host's time (chrony/NTP) and try again`,
  );
}

/**
 * Measures when the attempt that answered was sent: throttled attempts the SDK retried were refused
 * unprocessed, so only the last one observed the tag (step 2 measures from there). The middleware
 * sits in the deserialize step, inside the SDK's retry loop.
 */
export function clockAttempts<I extends object, O extends object>(command: {
  middlewareStack: MiddlewareStack<I, O>;
}): () => number {
  let sentAt = performance.now();
  command.middlewareStack.add(
    (next) => async (args) => {
      sentAt = performance.now();
      return next(args);
    },
    { step: "deserialize", name: "balancedAttemptClock" },
  );
  return () => sentAt;
}
