import { setTimeout as sleep } from "node:timers/promises";
import { nextPollDelayMs } from "../core/timing";
import { BalancedError, ExitCode, InterruptedError, isAbort, timedOut } from "../errors";
import type { Reporter } from "../ui/reporter";
import type { Run } from "./run";

/** Elapsed time in progress lines and results: "4.6 s". */
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export interface WaitSpec<T> {
  /** Epoch ms after which the wait gives up. */
  deadlineAt: number;
  poll: () => Promise<T>;
  isDone: (state: T) => boolean;
  /** The progress line for a state, and a key that changes when the state does. */
  describe: (state: T, elapsedMs: number) => { line: string; key: string };
  /** When the state is expected to be reached (epoch ms), if the settings say. */
  predictAt: (state: T) => number | undefined;
  /** Overrides the schedule for states that poll no load balancer. */
  pollEveryMs?: (state: T) => number | undefined;
  signal: AbortSignal | undefined;
  reporter: Reporter;
  now?: () => number;
}

export type WaitOutcome<T> = { reached: true; state: T } | { reached: false; state: T };

/**
 * Polls until done or the deadline. The sleep is abortable and unref'd-by-abort, so a signal ends
 * the wait at once and leaves no timer holding the process open.
 */
export async function waitUntil<T>(spec: WaitSpec<T>): Promise<WaitOutcome<T>> {
  const now = spec.now ?? Date.now;
  const started = now();
  let last: T | undefined;
  for (;;) {
    let state: T;
    try {
      // The last poll, at the deadline, still gets a moment to answer; a hung one is cut then.
      const polled = await beforeDeadline(spec.poll(), Math.max(spec.deadlineAt - now(), LAST_POLL_GRACE_MS));
      if (polled.late) {
        // A call hung past the deadline: report where things last stood, not how long AWS hangs.
        spec.reporter.endProgress();
        if (last === undefined) throw timedOut("timed out: AWS did not answer before the deadline");
        return { reached: false, state: last };
      }
      state = polled.value;
    } catch (err) {
      // A poll that failed after the SDK's own retries (throttling, a 5xx, a dropped connection) is
      // no reason to give up a wait with time left: try again, until the deadline.
      if (!isTransient(err) || now() >= spec.deadlineAt || last === undefined) throw err;
      spec.reporter.progress(`AWS did not answer (${(err as Error).message}); trying again`, "poll-failed");
      await sleep(TRANSIENT_RETRY_MS, undefined, spec.signal ? { signal: spec.signal } : undefined);
      continue;
    }
    last = state;
    const t = now();
    if (spec.isDone(state)) {
      spec.reporter.endProgress();
      return { reached: true, state };
    }
    const { line, key } = spec.describe(state, t - started);
    spec.reporter.progress(line, key);
    if (t >= spec.deadlineAt) {
      spec.reporter.endProgress();
      return { reached: false, state };
    }
    const scheduled = spec.pollEveryMs?.(state) ?? nextPollDelayMs(t, spec.predictAt(state));
    const delay = Math.min(scheduled, Math.max(0, spec.deadlineAt - t));
    await sleep(delay, undefined, spec.signal ? { signal: spec.signal } : undefined);
  }
}

/** Resolves with the promise's value, or `late` once `ms` pass first (the promise is left to settle). */
async function beforeDeadline<T>(
  p: Promise<T>,
  ms: number,
): Promise<{ late: false; value: T } | { late: true }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ late: true }>((resolve) => {
    timer = setTimeout(() => resolve({ late: true }), Math.max(0, ms));
  });
  try {
    return await Promise.race([p.then((value) => ({ late: false as const, value })), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Failures a later poll may not meet: throttling, AWS unreachable or failing for a moment. */
const isTransient = (err: unknown) =>
  err instanceof BalancedError && ["throttled", "contention", "unreachable", "aws-error"].includes(err.kind);

/** How long a poll at (or after) the deadline may take before the wait reports where things stood. */
const LAST_POLL_GRACE_MS = 2000;

/** Pause after a failed poll before the next. */
const TRANSIENT_RETRY_MS = 1000;

/** Turns an abort during a wait into the interruption report: where things stand, and what continues. */
function interrupted(run: Run, standing: string, next: string): InterruptedError {
  const signal = run.signal?.reason === "SIGTERM" ? "SIGTERM" : "SIGINT";
  return new InterruptedError(signal, `interrupted by ${signal}: ${standing}; run \`${next}\` to continue`);
}

export async function guardWait<T>(
  run: Run,
  standing: () => string,
  next: string,
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (run.abortedByTimeout)
      throw timedOut(
        `timed out after ${run.options.timeoutSeconds} s (--timeout): ${standing()}; run \`${next}\` to continue`,
      );
    if (isAbort(err) || run.signal?.aborted) throw interrupted(run, standing(), next);
    throw err;
  }
}

/** Between --wait-for-turn retries: long enough not to hammer, jittered so hosts do not collide again. */
const TURN_RETRY_MIN_MS = 1000;
const TURN_RETRY_JITTER_MS = 2000;

/**
 * Between refused attempts, a cheap look (one call instead of a whole snapshot) at how busy the
 * group is: hosts out of service or leaving, and a live turn. A fleet of waiting hosts must not
 * starve, under AWS's request limits, the one host that is making progress, nor all rush in at once
 * when it is done. A full attempt follows only when the probe shows less busy than at the refusal,
 * twice, a random pause apart (the first waiter to try takes the turn, and the others' second look
 * sees it), or every FULL_RETRY_MS at the latest (a refusal may come from what the probe cannot see).
 */
export type RefusalProbe = () => Promise<number>;
const FULL_RETRY_MS = 60_000;
const CHANCE_JITTER_MS = 5000;

/**
 * `out --wait-for-turn`: repeats an attempt while it is refused as unsafe or busy (exit 3/4), until
 * the wait runs out; without the flag, the first refusal stands. `probe`: see RefusalProbe.
 */
export async function retryWhileRefused<T>(
  run: Run,
  attempt: () => Promise<T | BalancedError>,
  probe?: RefusalProbe,
): Promise<T> {
  const giveUpAt =
    run.options.waitForTurnSeconds === undefined
      ? undefined
      : Date.now() + run.options.waitForTurnSeconds * 1000;
  for (;;) {
    const result = await attempt();
    if (!(result instanceof BalancedError)) return result;
    const retryable = result.exitCode === ExitCode.Busy || result.exitCode === ExitCode.Unsafe;
    if (giveUpAt === undefined || !retryable || Date.now() >= giveUpAt) throw result;
    run.reporter.progress(`waiting for a turn: ${result.message.replace(/^refusing: /, "")}`, result.message);
    const refusedAt = Date.now();
    const seen = probe ? await probe().catch(() => undefined) : undefined;
    const pause = (ms: number) =>
      guardWait(
        run,
        () => "this host has not left; nothing changed",
        "balanced out",
        () =>
          sleep(
            Math.min(ms, Math.max(0, giveUpAt - Date.now())),
            undefined,
            run.signal ? { signal: run.signal } : undefined,
          ),
      );
    const chance = async (than: number) => ((await probe!().catch(() => undefined)) ?? -1) < than;
    for (;;) {
      await pause(TURN_RETRY_MIN_MS + Math.random() * TURN_RETRY_JITTER_MS);
      if (!probe || seen === undefined || Date.now() >= giveUpAt || Date.now() - refusedAt >= FULL_RETRY_MS)
        break;
      if (!(await chance(seen))) continue;
      await pause(Math.random() * CHANCE_JITTER_MS);
      if (Date.now() >= giveUpAt || (await chance(seen))) break;
    }
  }
}
