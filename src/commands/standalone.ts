/**
 * `status`, `out` and `in` for a host in no Auto Scaling group (src/core/standalone.ts): the same
 * safety, turn-taking and exit codes, with the load balancers as the shared state.
 */

import { pendingNotices } from "../aws/notices";
import { type ReadContext, readSelfInLoadBalancer } from "../aws/read";
import {
  deregister,
  discover,
  forgetRemoval,
  readStandalone,
  recordRemoval,
  register,
} from "../aws/standalone";
import { actUnder, withinActDeadline } from "../aws/turn";
import { refusalError, withTurn } from "../core/decide";
import { goneFrom, lbLabel, memberOf, servesIn } from "../core/health";
import { assessLbBudget } from "../core/removals";
import {
  decideStandaloneIn,
  decideStandaloneOut,
  decideStandaloneShutdown,
  formatRemoval,
  ipToRegister,
  parseRemovals,
  portsToRegister,
  type StandaloneDecision,
  type StandaloneLb,
  type StandaloneSnapshot,
  type StandaloneStep,
  zoneToRegister,
} from "../core/standalone";
import {
  defaultInTimeoutSeconds,
  defaultOutTimeoutSeconds,
  drainSeconds,
  healthySeconds,
} from "../core/timing";
import { TURN_TAG } from "../core/turn";
import type { MemberHealth } from "../core/types";
import { type BalancedError, busy, notManageable, timedOut } from "../errors";
import { dryRunMessage, overruledLine, verdictLine } from "../ui/render";
import type { MoveResult, StatusResult } from "./results";
import type { Run } from "./run";
import {
  holdingTurn,
  releaseOrphanedTurn,
  settleOrphanedTurn,
  settleUnseenOrphan,
  standaloneLock,
} from "./turns";
import { guardWait, retryWhileRefused, seconds, waitUntil } from "./wait";

/** Whether this invocation can run without a group: load balancers named, or --discover. */
export const standaloneConfigured = (run: Run) =>
  run.options.loadBalancerNames.length > 0 || run.options.targetGroupArns.length > 0 || run.options.discover;

const discovered = new WeakMap<Run, { names: string[]; arns: string[] }>();

async function read(run: Run, ctx: ReadContext) {
  let names = run.options.loadBalancerNames;
  let arns = run.options.targetGroupArns;
  if (run.options.discover) {
    // Once a run: the read after taking the turn looks at the same load balancers as the one before.
    let found = discovered.get(run);
    if (!found) {
      run.reporter.step("discovering this host's load balancers (asking every one in the region)");
      found = await run.timed("discover", () => discover(ctx));
      discovered.set(run, found);
    }
    names = [...new Set([...names, ...found.names])];
    arns = [...new Set([...arns, ...found.arns])];
    if (names.length + arns.length === 0)
      throw notManageable(
        `${ctx.identity.instanceId} is in no Auto Scaling group and no load balancer or target group in ${ctx.identity.region} has it or a record of it`,
      );
  }
  run.standalone = await run.timed("read", () => readStandalone(ctx, names, arns));
  run.sayGone(run.standalone.snapshot.gone);
  return run.standalone.snapshot;
}

/** "tg/app-tg (port 8080)": a load balancer with the ports this host is on there. */
const withPorts = (l: StandaloneLb, ports: number[]) =>
  `${lbLabel(l.lb)}${ports.length ? ` (port ${ports.join(", ")})` : ""}`;

const byId = (lbs: StandaloneLb[], ids: string[]) => lbs.filter((l) => ids.includes(l.lb.id));

type Members = { l: StandaloneLb; member: MemberHealth }[];

const describe = (members: Members) =>
  members.map(({ l, member }) => `${lbLabel(l.lb)}: ${member.state}`).join(", ");

async function pollMembers(run: Run, ctx: ReadContext, lbs: StandaloneLb[]): Promise<Members> {
  return Promise.all(
    lbs.map(async (l) => ({
      l,
      member: await readSelfInLoadBalancer(ctx, l.lb, {
        id:
          ipToRegister(run.standalone!.snapshot, l) ??
          run.standalone!.selfTargets[l.lb.id]?.id ??
          ctx.identity.instanceId,
        ports: l.lb.kind === "classic" ? [] : portsToRegister(run.standalone!.snapshot, l),
      }),
    })),
  );
}

async function waitFor(
  run: Run,
  ctx: ReadContext,
  lbs: StandaloneLb[],
  deadlineAt: number,
  goal: "out" | "in",
): Promise<void> {
  const views = lbs.map((l) => l.lb);
  const expectedAt = Date.now() + (goal === "out" ? drainSeconds(views) : healthySeconds(views)) * 1000;
  const budgetS = run.budgetSeconds(deadlineAt);
  const done = (m: MemberHealth) => (goal === "out" ? goneFrom(m) : servesIn(m));
  run.reporter.step(
    goal === "out"
      ? `leaving ${views.map(lbLabel).join(", ")} (draining takes up to ${drainSeconds(views)} s)`
      : `waiting until healthy in ${views.map(lbLabel).join(", ")} (health checks take about ${healthySeconds(views)} s)`,
  );
  let last: Members | undefined;
  const outcome = await guardWait(
    run,
    () =>
      `${last ? describe(last) : "state unknown"}; AWS goes on ${goal === "out" ? "draining" : "checking"} it`,
    `balanced ${goal}`,
    () =>
      waitUntil<Members>({
        deadlineAt,
        signal: run.signal,
        reporter: run.reporter,
        poll: async () => (last = await pollMembers(run, ctx, lbs)),
        isDone: (ms) => ms.every(({ member }) => done(member)),
        describe: (ms, elapsed) => ({
          line: `${describe(ms)} — ${seconds(elapsed)} of up to ${budgetS} s`,
          key: describe(ms),
        }),
        predictAt: () => expectedAt,
      }),
  );
  if (!outcome.reached) {
    const pending = outcome.state
      .filter(({ member }) => !done(member))
      .map(({ l, member }) => `${lbLabel(l.lb)}: ${member.state} (${member.detail})`)
      .join("; ");
    throw timedOut(
      goal === "out"
        ? `timed out after ${budgetS} s waiting to leave the load balancers: still in ${pending}; AWS keeps draining it: run \`balanced out\` again to keep waiting, or \`balanced in\` to return it`
        : `timed out after ${budgetS} s waiting for this host to take traffic: not yet healthy in ${pending}; check the application's health check, then run \`balanced in\` again to keep waiting`,
    );
  }
}

async function execute(
  run: Run,
  ctx: ReadContext,
  decision: Extract<StandaloneDecision, { verdict: "act" }>,
  timeoutSeconds: number,
  by: "out" | "shutdown",
  onLeft?: () => Promise<void>,
): Promise<void> {
  const deadlineAt = run.waitDeadline(timeoutSeconds);
  const s = run.standalone!.snapshot;
  const targets = byId(s.loadBalancers, decision.targets);
  const mine = s.loadBalancers.filter((l) =>
    parseRemovals(l.tags).some((r) => r.instanceId === s.instanceId),
  );
  const at = new Date().toISOString();
  // Giving the turn back waits out the staleness bound: it runs beside the drain, not before it.
  let givingBack: Promise<void> | undefined;
  try {
    for (const step of decision.steps) {
      await run.timed(step, () => runStep(step));
    }
  } finally {
    await givingBack;
  }
  async function runStep(step: StandaloneStep): Promise<void> {
    switch (step) {
      case "record-removal":
        run.reporter.step(
          `recording on ${targets.map((l) => lbLabel(l.lb)).join(", ")} what this host leaves (balanced:out:${s.instanceId}), for \`in\``,
        );
        await withinActDeadline(run.interrupt, "the removal records", (signal) =>
          recordRemoval({ ...ctx, signal }, targets, (l) =>
            formatRemoval({
              ports: l.selfPorts,
              by,
              at,
              ...(l.selfZone === "all" ? { az: "all" } : {}),
              ...(l.selfIp && l.selfIp !== ctx.identity.privateIp ? { ip: l.selfIp } : {}),
            }),
          ),
        );
        return;
      case "deregister":
        run.reporter.step(`deregistering from ${targets.map((l) => withPorts(l, l.selfPorts)).join(", ")}`);
        await actUnder(run.turnRelease, () =>
          withinActDeadline(run.interrupt, "the deregistration", (signal) =>
            Promise.all(targets.map((l) => deregister({ ...ctx, signal }, l, l.selfPorts))),
          ),
        );
        givingBack = onLeft?.();
        return;
      case "finish-deregister": {
        const left = targets.filter((l) => memberOf(l.lb, s.instanceId).state !== "draining");
        run.reporter.step(
          `finishing an earlier \`out\`: deregistering from ${left.map((l) => withPorts(l, l.selfPorts)).join(", ")} (recorded as out there already, so no turn is needed)`,
        );
        await withinActDeadline(run.interrupt, "the deregistration", (signal) =>
          Promise.all(left.map((l) => deregister({ ...ctx, signal }, l, l.selfPorts))),
        );
        return;
      }
      case "wait-out":
        await waitFor(run, ctx, targets, deadlineAt, "out");
        return;
      case "register": {
        const ports = targets.map((l) => portsToRegister(s, l));
        run.reporter.step(`registering with ${targets.map((l, i) => withPorts(l, ports[i]!)).join(", ")}`);
        await Promise.all(
          targets.map((l, i) =>
            register(ctx, { ...l, selfIp: ipToRegister(s, l) ?? l.selfIp }, ports[i]!, zoneToRegister(s, l)),
          ),
        );
        return;
      }
      case "wait-in":
        await waitFor(
          run,
          ctx,
          s.loadBalancers.filter((l) => !decision.skipped?.includes(l.lb.id)),
          deadlineAt,
          "in",
        );
        return;
      case "forget-removal":
        run.reporter.step(
          `removing this host's removal records from ${mine.map((l) => lbLabel(l.lb)).join(", ")}`,
        );
        await forgetRemoval(ctx, mine);
        run.notes.push("removal records removed");
        return;
    }
  }
}

const dryRun = (d: StandaloneDecision): MoveResult => ({ outcome: "dry-run", message: dryRunMessage(d) });

function outDone(run: Run, targets: string[]): MoveResult {
  const s = run.standalone!.snapshot;
  const names = byId(s.loadBalancers, targets)
    .map((l) => lbLabel(l.lb))
    .join(", ");
  return {
    outcome: "done",
    message: `${s.instanceId} is out: deregistered and drained from ${names} (${seconds(Date.now() - run.startedAt)})`,
  };
}

const turnValues = (s: StandaloneSnapshot) => s.loadBalancers.map((l) => l.tags[TURN_TAG]);

/** One attempt: refusals and lost turns come back as errors the caller may wait out. */
async function outAttempt(run: Run, ctx: ReadContext): Promise<MoveResult | BalancedError> {
  const readAt = performance.now();
  const before = await read(run, ctx);
  const policy = run.options.policy;
  if (run.options.shutdown) {
    const d = decideStandaloneShutdown(before, policy);
    run.decision = d;
    if (d.verdict === "refuse") throw refusalError(d);
    if (d.verdict === "done") return { outcome: "already", message: `${before.instanceId} is ${d.summary}` };
    if (run.options.dryRun) return dryRun(d);
    if (d.overruled) run.reporter.step(overruledLine(d.overruled));
    const timeout =
      run.options.timeoutSeconds ?? defaultOutTimeoutSeconds(before.loadBalancers.map((l) => l.lb));
    await execute(run, ctx, d, timeout, "shutdown");
    return outDone(run, d.targets);
  }
  // A cheap look first: no turn is taken to refuse, or to finish an earlier out.
  const first = decideStandaloneOut(before, policy);
  run.decision = first;
  if (first.verdict === "refuse") return refusalError(first);
  if (run.options.dryRun) {
    // The real run would meet the turn before deregistering: answer as it would (exit 4).
    if (first.verdict !== "act" || !first.steps.includes("deregister")) return dryRun(first);
    const lock = standaloneLock(run, before.loadBalancers);
    const d = withTurn(first, await lock.view(ctx, turnValues(before)), Date.now());
    run.decision = d;
    return d.verdict === "refuse" ? refusalError(d) : dryRun(first);
  }
  if (first.verdict === "done" || !first.steps.includes("deregister"))
    await releaseOrphanedTurn(
      run,
      ctx,
      standaloneLock(run, before.loadBalancers),
      turnValues(before),
      readAt,
    );
  if (first.verdict === "done")
    return { outcome: "already", message: `${before.instanceId} is ${first.summary}` };
  const timeout =
    run.options.timeoutSeconds ?? defaultOutTimeoutSeconds(before.loadBalancers.map((l) => l.lb));
  if (!first.steps.includes("deregister")) {
    await execute(run, ctx, first, timeout, "out");
    return outDone(run, first.targets);
  }

  // The turn lives on every load balancer this host is in: any host sharing one of them excludes it.
  const lbs = before.loadBalancers;
  const lock = standaloneLock(run, lbs);
  return holdingTurn(
    run,
    ctx,
    lock,
    `on ${lbs.map((l) => lbLabel(l.lb)).join(", ")}`,
    async ({ turn, fence, leaving }) => {
      const fresh = await read(run, ctx);
      const ids = new Set(lbs.map((l) => l.lb.id));
      const byId = new Map(fresh.loadBalancers.map((l) => [l.lb.id, l.tags[TURN_TAG]]));
      const confirmed = lock.confirm(turn, [
        ...lbs.map((l) => byId.get(l.lb.id)),
        ...fresh.loadBalancers.filter((l) => !ids.has(l.lb.id)).map((l) => l.tags[TURN_TAG]),
      ]);
      if (!confirmed.ok)
        return busy(`refusing: another host is leaving: ${confirmed.holder} took ${lock.what}`);
      const d = decideStandaloneOut(fresh, policy);
      run.decision = d;
      if (d.verdict === "refuse") return refusalError(d);
      if (d.verdict === "done") return { outcome: "already", message: `${fresh.instanceId} is ${d.summary}` };
      await fence();
      // Once deregistered, this host's records make it count as out for every other host: give the turn back.
      await execute(run, ctx, d, timeout, "out", leaving);
      return outDone(run, d.targets);
    },
  );
}

export async function standaloneOut(run: Run): Promise<MoveResult> {
  const ctx = await run.context();
  return retryWhileRefused(run, () => outAttempt(run, ctx));
}

export async function standaloneIn(run: Run): Promise<MoveResult> {
  const ctx = await run.context();
  const readAt = performance.now();
  let s = await read(run, ctx);
  const lock = standaloneLock(run, s.loadBalancers);
  const orphaned = !run.options.dryRun && (await settleOrphanedTurn(run, ctx, lock, turnValues(s)));
  if (orphaned) s = await read(run, ctx);
  const d = decideStandaloneIn(s, { afterShutdown: run.options.afterShutdown });
  run.decision = d;
  if (d.verdict === "refuse") throw refusalError(d);
  if (d.verdict === "done") {
    if (!run.options.dryRun && !orphaned) await settleUnseenOrphan(run, ctx, lock, readAt);
    return { outcome: "already", message: `${s.instanceId} is ${d.summary}` };
  }
  if (run.options.dryRun) return dryRun(d);
  const timeout = run.options.timeoutSeconds ?? defaultInTimeoutSeconds(s.loadBalancers.map((l) => l.lb));
  await execute(run, ctx, d, timeout, "out");
  return {
    outcome: "done",
    message:
      `${s.instanceId} is in: healthy in ${s.loadBalancers.map((l) => lbLabel(l.lb)).join(", ")}` +
      `${run.notes.map((n) => `; ${n}`).join("")} (${seconds(Date.now() - run.startedAt)})`,
  };
}

export async function standaloneStatus(run: Run): Promise<StatusResult> {
  const ctx = await run.context();
  const [s, notices] = await Promise.all([read(run, ctx), pendingNotices()]);
  const policy = run.options.policy;
  const outDecision = decideStandaloneOut(s, policy);
  const inDecision = decideStandaloneIn(s);
  run.decision = outDecision;
  const id = run.identity!;
  const pad = (label: string) => label.padEnd(11);
  const leftovers = s.loadBalancers.flatMap((l) =>
    parseRemovals(l.tags).map(
      (r) =>
        `${r.instanceId} was taken out of ${lbLabel(l.lb)} by balanced ${r.by === "shutdown" ? "at shutdown " : ""}at ${r.at}` +
        `${r.ports.length ? ` (port ${r.ports.join(", ")})` : ""}; its \`balanced in\` restores it`,
    ),
  );
  const lines = [
    `${id.instanceId} (${id.availabilityZone || "?"}, ${s.region})`,
    `${pad("mode")}no Auto Scaling group: deregistered from and registered with its load balancers directly`,
    ...s.loadBalancers.map((l, i) => {
      const m = memberOf(l.lb, s.instanceId);
      const ports = l.selfPorts.length ? ` on port ${l.selfPorts.join(", ")}` : "";
      return `${pad(i === 0 ? "this host" : "")}${lbLabel(l.lb).padEnd(28)} ${m.state}${ports}${m.state === "healthy" ? "" : ` (${m.detail})`}`;
    }),
    ...s.loadBalancers.map((l, i) => {
      const b = assessLbBudget(s.instanceId, l.lb, l.tags, policy);
      const others = Object.keys(l.lb.members).filter((m) => m !== s.instanceId).length;
      return `${pad(i === 0 ? "peers" : "")}${lbLabel(l.lb).padEnd(28)} ${b.healthyOthers.length} of ${others} other${others === 1 ? "" : "s"} healthy; at least ${b.requiredHealthy} must remain, at most ${b.maxUnavailable} out at once`;
    }),
    ...leftovers.map((line, i) => `${pad(i === 0 ? "left over" : "")}${line}`),
    ...notices.map((line, i) => `${pad(i === 0 ? "notices" : "")}${line}`),
    `${pad("out")}${verdictLine(outDecision)}`,
    `${pad("in")}${verdictLine(inDecision)}`,
  ];
  return {
    outcome: "status",
    message: lines.join("\n"),
    out: outDecision,
    in: inDecision,
    leftovers,
    notices,
  };
}
