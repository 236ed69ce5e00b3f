/**
 * `balanced watch`: a long-running loop (its own systemd unit) that polls the instance metadata
 * service — not AWS's APIs — every few seconds, and leaves the load balancers before AWS takes the
 * host away: a Spot interruption, a scheduled retirement or reboot, a rebalance recommendation (if
 * asked), an Auto Scaling scale-in through a lifecycle hook. It also answers a launch hook once the
 * host is ready. One source is read each poll, one action taken at a time (src/core/watch.ts), by
 * src/commands/watch-actions.ts: loaded, with the AWS clients, only when a notice needs it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { NoticeReader } from "../aws/notices";
import { describeNotices, nextWatchAction } from "../core/watch";
import { BalancedError, isAbort } from "../errors";
import type { Run } from "./run";
import { seconds } from "./wait";

export async function watch(run: Run): Promise<{ outcome: "done"; message: string }> {
  const opts = run.options.watch!;
  const identity = await run.whoAmI();
  const reader = new NoticeReader();
  const handled = new Set<string>();
  let unreachableSince: number | undefined;
  let lastNotices = "";
  run.reporter.step(
    `watching ${identity.instanceId}'s instance metadata every ${opts.pollIntervalMs / 1000} s: Spot interruptions, scheduled events, ` +
      `${opts.onRebalance === "drain" ? "rebalance recommendations, " : ""}Auto Scaling lifecycle`,
  );
  while (!run.signal?.aborted) {
    try {
      const notices = await reader.read();
      if (unreachableSince !== undefined)
        run.reporter.step(
          `instance metadata answers again (after ${seconds(Date.now() - unreachableSince)})`,
        );
      unreachableSince = undefined;
      const lines = describeNotices(notices, Date.now()).map((l) => l.replace(/ \(in -?\d+ s\)/, ""));
      if (lines.join("\n") !== lastNotices && lines.length) run.reporter.step(`notice: ${lines.join("; ")}`);
      lastNotices = lines.join("\n");
      const action = nextWatchAction(notices, Date.now(), opts, handled);
      if (action.kind !== "none") {
        handled.add(action.key);
        // The AWS clients and everything that acts, loaded by the first notice that needs them.
        const { act } = await import("./watch-actions");
        await act(run, await run.context(), action, opts);
      }
    } catch (err) {
      if (isAbort(err) || run.signal?.aborted) break;
      if (err instanceof BalancedError) {
        run.reporter.step(`warning: ${err.message}; still watching`);
      } else if (unreachableSince === undefined) {
        unreachableSince = Date.now();
        run.reporter.step(
          `warning: instance metadata unreachable (${(err as Error).message}); still watching`,
        );
      }
    }
    await sleep(opts.pollIntervalMs, undefined, run.signal ? { signal: run.signal } : undefined).catch(
      () => undefined,
    );
  }
  return { outcome: "done", message: `${identity.instanceId}: watch stopped` };
}
