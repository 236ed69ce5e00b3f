/**
 * What `balanced watch` does about a notice (src/commands/watch.ts decides when): leave before AWS
 * takes the host, come back when the event is over, answer a lifecycle hook. Loaded only then.
 */
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { completeLifecycleAction, hookFor, recordLifecycleActionHeartbeat } from "../aws/group";
import { findGroup, type ReadContext } from "../aws/read";
import { deregister } from "../aws/standalone";
import { memberOf } from "../core/health";
import type { WatchAction, WatchOptions } from "../core/watch";
import { in_, out } from "./modes";
import { Run } from "./run";

/** A drain must finish this long before AWS takes the host: its last calls need the time. */
const DRAIN_MARGIN_MS = 5000;
/** Heartbeats go out at this fraction of the hook's heartbeat timeout, well before it runs out. */
const HEARTBEAT_FRACTION = 0.5;
/** How often the lifecycle-hook loops look at AWS (they run only while a hook holds the host). */
const HOOK_POLL_MS = 1000;

export async function act(
  run: Run,
  ctx: ReadContext,
  action: Exclude<WatchAction, { kind: "none" }>,
  opts: WatchOptions,
) {
  switch (action.kind) {
    case "drain":
      return drain(run, action);
    case "terminating":
      return terminating(run, ctx);
    case "launching":
      return launching(run, ctx, opts);
    case "return":
      return comeBack(run, action);
  }
}

/** A drain's event is over and nothing rebooted the host: return it as the boot would. */
async function comeBack(run: Run, action: Extract<WatchAction, { kind: "return" }>): Promise<void> {
  run.reporter.step(`${action.reason}: returning this host, as its boot would have`);
  await asSubRun(run, "in", { afterShutdown: true, timeoutSeconds: undefined }, in_);
}

/**
 * Leaves every load balancer as the systemd unit's shutdown does — no refusal for the budget or a busy
 * group, since AWS takes the host whatever balanced decides — with the notice's time as deadline.
 * A host that will not come back leaves without decrementing desired capacity (its group launches a
 * replacement at once); a reboot leaves recorded, to come back at boot.
 */
async function drain(run: Run, action: Extract<WatchAction, { kind: "drain" }>): Promise<void> {
  const leftMs = action.leaveBy - Date.now() - DRAIN_MARGIN_MS;
  run.reporter.step(
    `${action.reason}: leaving the load balancers (${Math.max(0, Math.round(leftMs / 1000))} s to do it)`,
  );
  const timeoutSeconds = Math.max(5, Math.floor(leftMs / 1000));
  await asSubRun(run, "out", { shutdown: true, replace: action.replace, timeoutSeconds }, out);
}

/** Runs `out` or `in` as a command of its own under watch's signal and reporter; its steps are watch's. */
async function asSubRun(
  run: Run,
  command: "out" | "in",
  options: Partial<Run["options"]>,
  body: (sub: Run) => Promise<{ message: string }>,
): Promise<void> {
  const sub = new Run(command, { ...run.options, ...options }, run.signal, run.reporter);
  try {
    run.reporter.step((await body(sub)).message);
  } finally {
    run.steps.push(...sub.steps);
  }
}

/**
 * Auto Scaling is terminating this host. It deregisters the host from the group's own load
 * balancers before its terminating hook holds it in Terminating:Wait (AWS's lifecycle hook docs);
 * balanced then leaves any others it is named for (--target-group/--load-balancer), waits until gone
 * everywhere — with heartbeats, so a drain longer than the hook's heartbeat timeout is not cut
 * short — and completes the hook with CONTINUE.
 */
async function terminating(run: Run, ctx: ReadContext): Promise<void> {
  const { group } = await findGroup(ctx);
  const hook = await hookFor(ctx, group, "autoscaling:EC2_INSTANCE_TERMINATING");
  if (!hook?.LifecycleHookName) {
    run.reporter.step(
      `${group} is terminating this host (no terminating hook): its own drain is all there is`,
    );
    return;
  }
  const name = hook.LifecycleHookName;
  const beatEveryMs = (hook.HeartbeatTimeout ?? 3600) * 1000 * HEARTBEAT_FRACTION;
  const deadline = Date.now() + (hook.GlobalTimeout ?? 172_800) * 1000;
  run.reporter.step(
    `${group} is terminating this host; its hook ${name} holds it until it has left every load balancer`,
  );
  let lastBeat = Date.now();
  const deregistered = new Set<string>();
  while (Date.now() < deadline && !run.signal?.aborted) {
    const { snapshot } = await run.refresh(group);
    const me = snapshot.group.instances.find((i) => i.id === ctx.identity.instanceId);
    if (!me) return;
    if (!me.lifecycleState.startsWith("Terminating")) return;
    const remaining = snapshot.loadBalancers.filter((lb) => memberOf(lb, me.id).state !== "absent");
    if (me.lifecycleState === "Terminating:Wait") {
      for (const lb of remaining.filter((l) => l.source === "named" && !deregistered.has(l.id))) {
        deregistered.add(lb.id);
        run.reporter.step(
          `leaving ${lb.kind === "classic" ? "elb" : "tg"}/${lb.name}, which the group does not manage`,
        );
        await deregister(ctx, { lb, tags: {}, selfPorts: [] }, []);
      }
      if (remaining.length === 0) {
        await completeLifecycleAction(ctx, group, name, "CONTINUE");
        run.reporter.step(`drained everywhere: completed ${name} with CONTINUE`);
        return;
      }
      if (Date.now() - lastBeat >= beatEveryMs) {
        await recordLifecycleActionHeartbeat(ctx, group, name);
        lastBeat = Date.now();
        run.reporter.step(
          `still draining from ${remaining.map((l) => l.name).join(", ")}: heartbeat sent to ${name}`,
        );
      }
    }
    await sleep(HOOK_POLL_MS, undefined, run.signal ? { signal: run.signal } : undefined);
  }
}

/** Whether the application is ready: the URL answers 2xx, or the command exits 0. */
async function ready(opts: WatchOptions, signal: AbortSignal | undefined): Promise<boolean> {
  if (opts.readyUrl) {
    try {
      const res = await fetch(opts.readyUrl, { signal: AbortSignal.timeout(5000) });
      return res.ok;
    } catch {
      return false;
    }
  }
  if (opts.readyCommand) {
    const command = opts.readyCommand;
    return new Promise((resolve) => {
      const child = spawn("sh", ["-c", command], { stdio: "ignore", signal });
      child.on("error", () => resolve(false));
      child.on("close", (code) => resolve(code === 0));
    });
  }
  return true;
}

/**
 * A launch hook holds this new host in Pending:Wait, unregistered: complete it with CONTINUE once the
 * application is ready by its own check, or ABANDON (the group terminates it and launches another)
 * when it is not ready within --ready-timeout.
 */
async function launching(run: Run, ctx: ReadContext, opts: WatchOptions): Promise<void> {
  const { group, lifecycleState } = await findGroup(ctx);
  // Held by the launch hook: into service, or into the warm pool.
  if (lifecycleState !== "Pending:Wait" && lifecycleState !== "Warmed:Pending:Wait") return;
  const hook = await hookFor(ctx, group, "autoscaling:EC2_INSTANCE_LAUNCHING");
  if (!hook?.LifecycleHookName) return;
  const name = hook.LifecycleHookName;
  const check = opts.readyUrl ?? opts.readyCommand ?? "nothing to check";
  run.reporter.step(
    `${group}'s hook ${name} holds this new host in ${lifecycleState}: waiting until ready (${check})`,
  );
  const deadline = Date.now() + opts.readyTimeoutMs;
  while (Date.now() < deadline && !run.signal?.aborted) {
    if (await ready(opts, run.signal)) {
      await completeLifecycleAction(ctx, group, name, "CONTINUE");
      run.reporter.step(`ready: completed ${name} with CONTINUE`);
      return;
    }
    await sleep(HOOK_POLL_MS, undefined, run.signal ? { signal: run.signal } : undefined);
  }
  if (run.signal?.aborted) return;
  await completeLifecycleAction(ctx, group, name, "ABANDON");
  run.reporter.step(`not ready within ${opts.readyTimeoutMs / 1000} s: completed ${name} with ABANDON`);
}
