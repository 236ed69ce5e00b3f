import { setTimeout as sleep } from "node:timers/promises";
import * as asg from "../aws/group";
import { callOutcome, notApplied } from "../aws/outcome";
import {
  findGroup,
  type ReadContext,
  readGroup,
  readSelfInLoadBalancer,
  readSelfLifecycle,
} from "../aws/read";
import { deregister, forgetRemoval, recordRemoval, register } from "../aws/standalone";
import {
  ActDeadlineError,
  actUnder,
  RELEASE_DEADLINE_MS,
  TurnLostError,
  viewTurnHere,
  withinActDeadline,
} from "../aws/turn";
import {
  assessBudget,
  budgetBreach,
  type Decision,
  decideIn,
  decideOut,
  decideShutdown,
  recordToRestore,
  refusalError,
  type Step,
  self,
  withTurn,
} from "../core/decide";
import { goneFrom, lbLabel, leftGroup, memberOf, servesOrNeedNot } from "../core/health";
import { formatRecord, parseRecords, planLower, planRestore, recordKey } from "../core/minsize";
import { parkedKey } from "../core/parked";
import { ownRemoval } from "../core/removals";
import { parseShutdownValue, shutdownKey, shutdownValue } from "../core/shutdown";
import { formatRemoval, outKey, type StandaloneLb } from "../core/standalone";
import {
  defaultInTimeoutSeconds,
  defaultOutTimeoutSeconds,
  drainSeconds,
  healthySeconds,
  PENDING_POLL_MS,
} from "../core/timing";
import { TURN_TAG, type Turn } from "../core/turn";
import type { GroupView, LoadBalancerView, MemberHealth, Snapshot } from "../core/types";
import { AwsCallError, BalancedError, busy, ExitCode, timedOut, unsafe } from "../errors";
import { dryRunMessage, overruledLine } from "../ui/render";
import type { MoveResult } from "./results";
import type { Run } from "./run";
import {
  groupLock,
  groupTurnValues,
  holdingTurn,
  readBackTurn,
  releaseOrphanedTurn,
  settleOrphanedTurn,
  settleUnseenOrphan,
  stillServing,
} from "./turns";
import { guardWait, retryWhileRefused, seconds, waitUntil } from "./wait";

interface SelfState {
  lifecycleState: string;
  health: string;
  lbs: { lb: LoadBalancerView; member: MemberHealth }[];
}

const describeLbs = (s: Pick<SelfState, "lbs">) =>
  s.lbs.map(({ lb, member }) => `${lbLabel(lb)}: ${member.state}`).join(", ") || "no load balancers";

const detailLbs = (s: Pick<SelfState, "lbs">, pick: (lb: LoadBalancerView, m: MemberHealth) => boolean) =>
  s.lbs
    .filter(({ lb, member }) => pick(lb, member))
    .map(({ lb, member }) => `${lbLabel(lb)}: ${member.state} (${member.detail})`)
    .join("; ");

async function pollSelf(
  ctx: ReadContext,
  run: Run,
  withLbs: (lifecycle: string) => boolean,
): Promise<SelfState> {
  const lbs = run.snapshot!.loadBalancers;
  const me = await readSelfLifecycle(ctx);
  const members = withLbs(me.lifecycleState)
    ? await Promise.all(
        lbs.map(async (lb) => ({
          lb,
          member: await readSelfInLoadBalancer(ctx, lb, run.read!.selfTargets[lb.id]),
        })),
      )
    : lbs.map((lb) => ({ lb, member: { state: "absent" as const, detail: "not yet registered" } }));
  return { ...me, lbs: members };
}

/**
 * A ValidationError from EnterStandby/ExitStandby means a size limit (unsafe), or that the group
 * changed between our snapshot and the call (busy: decide again later). Anything else propagates.
 */
function standbyRefused(err: unknown, action: string, sizeLimit: RegExp, sizeReason: string): never {
  if (err instanceof AwsCallError && err.awsCode === "ValidationError") {
    if (sizeLimit.test(err.awsMessage)) throw unsafe(`refusing: ${sizeReason}: ${err.awsMessage}`);
    throw busy(`refusing: AWS refused ${action}, the group changed under us: ${err.awsMessage}`);
  }
  throw err;
}

/** Lifecycle states that show EnterStandby (resp. ExitStandby) was applied. */
const ENTERED = new Set(["EnteringStandby", "Standby"]);
const EXITED = new Set(["Pending", "Pending:Wait", "Pending:Proceed", "InService"]);
/** Sends of a standby call, when the earlier ones were throttled. */
const SEND_ATTEMPTS = 3;

/**
 * Sends a standby call with no SDK retries (it is not idempotent). Throttled or ResourceContention:
 * refused unprocessed, so sent again after a pause. No answer (a dropped connection, a 5xx, a timeout) or AWS's "not in
 * InService/Standby": re-read this host's lifecycle state for up to the staleness bound; a state
 * showing the call applied is success; otherwise the error stands and the call is not sent again —
 * its outcome is unknown, so the turn is kept until it expires (src/aws/turn.ts).
 */
async function sendOnce(
  run: Run,
  ctx: ReadContext,
  applied: Set<string>,
  send: () => Promise<unknown>,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await send();
      return;
    } catch (err) {
      if (!(err instanceof AwsCallError) || attempt >= SEND_ATTEMPTS) throw err;
      // Throttled, or another update to the group pending (often this run's own record, written
      // just before): refused unprocessed, so sent again; an update is pending for moments only.
      const outcome = callOutcome(err);
      if (outcome === "unprocessed") {
        const pauseMs = err.kind === "throttled" ? 500 : 100;
        await sleep(
          pauseMs * attempt + Math.random() * pauseMs,
          undefined,
          run.signal ? { signal: run.signal } : undefined,
        );
        continue;
      }
      // AWS's answer to a second send of a call that was applied: "The instance ... is not in InService."
      const movedAlready =
        err.awsCode === "ValidationError" && /is not in (InService|Standby)/.test(err.awsMessage);
      if (outcome !== "unknown" && !movedAlready) throw err;
      const until = Date.now() + run.options.stalenessMs + 1000;
      for (;;) {
        const { lifecycleState } = await readSelfLifecycle(ctx);
        if (applied.has(lifecycleState)) {
          run.reporter.step(
            `AWS had applied it (${lifecycleState}) though its answer said otherwise or got lost`,
          );
          return;
        }
        if (Date.now() >= until) break;
        await sleep(500, undefined, run.signal ? { signal: run.signal } : undefined);
      }
      throw err;
    }
  }
}

async function enterStandby(run: Run, ctx: ReadContext): Promise<void> {
  const g = run.snapshot!.group;
  const replace = run.options.replace === true;
  run.reporter.step(
    replace
      ? `entering standby in ${g.name} without decrementing desired capacity (${g.desiredCapacity}): the group launches a replacement`
      : `entering standby in ${g.name} (desired capacity ${g.desiredCapacity} -> ${g.desiredCapacity - 1})`,
  );
  // Recorded first: `in` takes back only a host balanced parked (src/core/parked.ts), and every host
  // of any group counts it out of its load balancers (src/core/removals.ts). A host drained for
  // replacement (a Spot notice) is not coming back, so it needs neither.
  const parked = !replace;
  const recorded = parked ? toRecord(run, ctx) : [];
  let sent = false;
  try {
    // One act deadline for the record and every send: the turn's argument needs acting to end
    // inside it (src/aws/turn.ts).
    const once = () =>
      withinActDeadline(run.interrupt, "EnterStandby", async (signal) => {
        // Past the fence: what follows may take the host out, so a failure no longer undoes the
        // lowering by itself (the catch below does when AWS refused).
        run.standbyStarted = true;
        if (parked)
          await Promise.all([
            asg.setGroupTag(
              ctx,
              g.name,
              parkedKey(ctx.identity.instanceId),
              new Date().toISOString(),
              signal,
            ),
            recordOut(run, ctx, recorded, signal),
          ]);
        sent = true;
        return sendOnce(run, ctx, ENTERED, () => asg.enterStandby(ctx, g.name, !replace, signal));
      });
    await actUnder(run.turnRelease, once);
  } catch (err) {
    // AWS answered no, or nothing was sent (the fence): the host stays in service, so what this run
    // did for its leaving is undone. An unknown outcome keeps both: AWS may still apply the call.
    // A record AWS refused (a tag quota, say): EnterStandby was never sent.
    const aws = err instanceof AwsCallError ? err : undefined;
    const outcome = aws && callOutcome(aws);
    const notSent = !sent && aws !== undefined;
    // Every send refused unprocessed (throttled, or ResourceContention: sendOnce sends again only
    // after those): nothing can land later either.
    const neverApplied = outcome === "unprocessed";
    if (notSent || neverApplied) run.turnRelease?.withdraw();
    if (err instanceof TurnLostError || notApplied(err) || notSent) {
      if (parked)
        await Promise.all([
          asg.deleteGroupTag(ctx, g.name, parkedKey(ctx.identity.instanceId)),
          recorded.length ? forgetRemoval(ctx, recorded) : undefined,
        ]).catch(() => undefined);
      // The host is not leaving after all: under a turn, its holder undoes the lowering within it
      // (a turn found lost is another host's now: the restore is left to a later read under it).
      run.standbyStarted = false;
      if (!run.turnRelease) await undoOwnLowering(run, ctx, g.name);
    }
    if (aws && notSent)
      throw new BalancedError(
        aws.exitCode,
        aws.kind,
        `${aws.message}; EnterStandby was not sent, so this host is still serving`,
      );
    if (aws && outcome === "unknown")
      throw new ActDeadlineError(
        "EnterStandby",
        aws.kind === "unreachable"
          ? `(no answer: ${aws.message})`
          : `(an answer that does not say it was not applied: ${aws.message})`,
      );
    if (aws && neverApplied)
      throw new BalancedError(
        aws.exitCode,
        aws.kind,
        `${aws.message}; EnterStandby was not applied, so this host is still serving`,
      );
    standbyRefused(err, "EnterStandby", /min-size/, `AWS would shrink ${g.name} below MinSize`);
  }
}

/**
 * The load balancers this host is recorded out of before it enters Standby: the group's (Standby
 * takes it out of them; no ports, ExitStandby puts it back), and the named ones it is registered
 * in (their ports, which `in` registers it on again).
 */
function toRecord(run: Run, ctx: ReadContext): StandaloneLb[] {
  const me = ctx.identity.instanceId;
  return run
    .snapshot!.loadBalancers.filter(
      (lb) => lb.source === "group" || !["absent", "draining"].includes(memberOf(lb, me).state),
    )
    .map((lb) => ({
      lb,
      tags: lb.tags ?? {},
      selfPorts:
        lb.source === "named" && lb.kind === "target-group"
          ? (run.read!.selfTargets[lb.id]?.servingPorts ?? [])
          : [],
    }));
}

async function recordOut(
  run: Run,
  ctx: ReadContext,
  lbs: StandaloneLb[],
  signal: AbortSignal,
): Promise<void> {
  if (lbs.length === 0) return;
  const at = new Date().toISOString();
  const by = run.options.shutdown ? "shutdown" : "out";
  const group = run.snapshot!.group.name;
  await recordRemoval({ ...ctx, signal }, lbs, (l) => formatRemoval({ ports: l.selfPorts, by, at, group }));
}

/** Record first, then lower: a crash in between leaves a record, never a silently shrunken group. */
async function lowerMinSize(run: Run, ctx: ReadContext): Promise<void> {
  const g = run.snapshot!.group;
  const id = ctx.identity.instanceId;
  const plan = planLower(g, parseRecords(g.tags), id, new Date().toISOString());
  if (plan.kind === "already") {
    // Lowered by this host's earlier, interrupted run: still this host's to give back if it fails.
    run.loweredMinSize = true;
    return;
  }
  run.reporter.step(
    `lowering MinSize of ${g.name} ${g.minSize} -> ${plan.record.loweredTo} while this host is out (recorded as ${recordKey(id)})`,
  );
  // An acting call under the turn (fenced first): with no answer (a signal, a lost connection)
  // AWS may still apply it, so the turn is kept, and this host's next run finds it and restores.
  await actUnder(run.turnRelease, async () => {
    if (plan.writeRecord) await asg.setGroupTag(ctx, g.name, recordKey(id), formatRecord(plan.record));
    try {
      await asg.setMinSize(ctx, g.name, plan.record.loweredTo);
    } catch (err) {
      // AWS answered no, so MinSize is as it was: take the record back, or status and repair would
      // speak of a lowering that never happened. An unknown outcome (no answer) keeps the record.
      if (plan.writeRecord && notApplied(err))
        await asg.deleteGroupTag(ctx, g.name, recordKey(id)).catch(() => undefined);
      throw err;
    }
  });
  g.minSize = plan.record.loweredTo;
  g.tags[recordKey(id)] = formatRecord(plan.record);
  run.loweredMinSize = true;
}

/**
 * `out` lowered MinSize and the host never left (it stopped before EnterStandby: a signal, the
 * deadline, an error; or AWS refused EnterStandby): the lowering goes back now, on its own deadline
 * (the run's signal may be what stopped it), within the turn still held, if any. A read now may be
 * too stale to show the lowering, and a rerun's `in` too stale to see its record, so the restore
 * plans from what this run did; if it fails, the turn is kept, and this host's next run finds it
 * and restores.
 */
async function undoOwnLowering(run: Run, ctx: ReadContext, group: string, turn?: Turn): Promise<void> {
  if (!run.loweredMinSize || run.standbyStarted) return;
  const stalenessMs = run.options.stalenessMs;
  const undoMs = RELEASE_DEADLINE_MS + stalenessMs + READ_BACK_SLACK_MS;
  const own = { ...ctx, signal: AbortSignal.timeout(undoMs) };
  try {
    // Within the turn as taken (a fence only lengthens the lock's): no other host changes MinSize.
    if (turn && turn.expiresAt - Date.now() < undoMs) throw new Error("the turn would run out first");
    const note = await restoreMinSize(run, own, ctx.identity.instanceId, run.snapshot!.group, false);
    if (note) run.reporter.step(`this host did not leave, so: ${note}`);
    run.loweredMinSize = false;
  } catch (err) {
    run.turnRelease?.keep();
    run.reporter.step(
      `could not put MinSize of ${group} back (${(err as Error).message}); ${run.turnRelease ? "the turn is kept until it expires, and " : ""}\`balanced in\` on this host (or \`balanced repair\`) restores it`,
    );
  }
}

/**
 * Undo this host's lowering (see src/core/minsize.ts), then remove its record. `g`: the group as
 * just read under a turn this run holds for it (restoreMinSizeUnderTurn), whose fence the change
 * then waits for (`fenced`); or, unfenced, as an `out` that lowered MinSize knows it (undoOwnLowering).
 */
export async function restoreMinSize(
  run: Run,
  ctx: ReadContext,
  instanceId: string,
  g: GroupView,
  fenced: boolean,
): Promise<string> {
  const stillOut = (id: string) =>
    ["Standby", "EnteringStandby"].includes(g.instances.find((i) => i.id === id)?.lifecycleState ?? "");
  // Terminating (any stage) counts too: it will not come back either.
  const gone = (id: string) =>
    leftGroup(g, id) ||
    /^(Terminating|Detaching)/.test(g.instances.find((i) => i.id === id)?.lifecycleState ?? "");
  const plan = planRestore(g, parseRecords(g.tags), instanceId, stillOut, gone);
  if (plan.kind === "none") return "";
  if (plan.kind === "leave") {
    const note = `MinSize of ${g.name} is ${g.minSize}, not what balanced left (${plan.expected}): someone changed it, so it stays`;
    run.reporter.step(`${note}; removing the record of ${instanceId}`);
    await asg.deleteGroupTag(ctx, g.name, recordKey(instanceId));
    return note;
  }
  if (plan.minSize !== g.minSize) {
    run.reporter.step(`restoring MinSize of ${g.name} ${g.minSize} -> ${plan.minSize}`);
    const set = () => asg.setMinSize(ctx, g.name, plan.minSize);
    await (fenced ? actUnder(run.turnRelease, set) : set());
    await readBackMinSize(run, ctx, g.name, plan.minSize);
  }
  if (plan.kind === "partial") {
    const note = `MinSize of ${g.name} is ${plan.minSize}, not yet ${plan.wanted}: desired capacity is ${g.desiredCapacity}, and a MinSize above it would make AWS launch instances; the record of ${instanceId} stays (\`balanced repair\` finishes once desired capacity allows)`;
    run.reporter.step(note);
    return note;
  }
  const note =
    plan.minSize === g.minSize
      ? `MinSize of ${g.name} is already ${g.minSize}`
      : `MinSize of ${g.name} restored ${g.minSize} -> ${plan.minSize}`;
  const done = [instanceId, ...plan.settled];
  if (plan.minSize === g.minSize) run.reporter.step(`${note}; removing the record of ${done.join(", ")}`);
  await Promise.all(done.map((id) => asg.deleteGroupTag(ctx, g.name, recordKey(id))));
  return note;
}

/**
 * MinSize as AWS shows it after the change: the record goes only once a read shows the change (a
 * stale read may show the old value for up to the staleness bound).
 */
async function readBackMinSize(run: Run, ctx: ReadContext, group: string, minSize: number): Promise<void> {
  const until = Date.now() + run.options.stalenessMs + READ_BACK_SLACK_MS;
  for (;;) {
    const g = await readGroup(ctx, group);
    if (g.minSize === minSize) return;
    if (Date.now() >= until)
      throw new BalancedError(
        ExitCode.AwsRefused,
        "aws",
        `set MinSize of ${group} to ${minSize}, but AWS still shows ${g.minSize}; the record stays: run \`balanced in\` again (or \`balanced repair\`)`,
      );
    await sleep(READ_BACK_POLL_MS, undefined, ctx.signal ? { signal: ctx.signal } : undefined);
  }
}

const READ_BACK_SLACK_MS = 2000;
const READ_BACK_POLL_MS = 500;

/**
 * Restores are read-modify-writes of one MinSize: two at once lose one (each reads the other's
 * before-value). So `in` and `repair` restore under the group's turn, read afresh under it, waiting
 * (with jitter, until the run's deadline) while another host holds it.
 */
export async function restoreMinSizeUnderTurn(
  run: Run,
  ctx: ReadContext,
  group: string,
  /** Whose record: a host, or chosen from the snapshot read under the turn. */
  whose: string | ((s: Snapshot) => string | undefined),
): Promise<string> {
  const deadlineAt = run.deadlineAt ?? Date.now() + RESTORE_TURN_WAIT_MS;
  for (;;) {
    const lock = groupLock(run, group);
    const result = await holdingTurn(run, ctx, lock, `for ${group} to restore MinSize`, async ({ turn }) => {
      // A read up to the staleness bound old may predate this host's own return, and show the desired
      // capacity it raised as still lowered: the restore would stop short of it ("partial") and leave
      // MinSize lowered. The tags' settle outlasts the wait; the lock has none.
      const fresh = (run.returnedAt ?? 0) + run.options.stalenessMs - performance.now();
      if (fresh > 0) await sleep(fresh, undefined, run.signal ? { signal: run.signal } : undefined);
      const confirmed = await readBackTurn(run, ctx, group, lock, turn);
      if (!confirmed.ok) return busy(`refusing: ${confirmed.holder} took ${lock.what}`);
      const instanceId = typeof whose === "string" ? whose : whose(confirmed.snapshot);
      return instanceId ? restoreMinSize(run, ctx, instanceId, confirmed.snapshot.group, true) : "";
    });
    if (!(result instanceof BalancedError)) return result;
    if (Date.now() + RESTORE_RETRY_MAX_MS >= deadlineAt)
      throw new BalancedError(
        result.exitCode,
        result.kind,
        `MinSize of ${group} is not restored yet: ${result.message.replace(/^refusing: /, "")}; run \`balanced in\` again (or \`balanced repair\`)`,
      );
    run.reporter.step(`${result.message.replace(/^refusing: /, "")}: trying again`);
    await sleep(
      RESTORE_RETRY_MAX_MS * (0.3 + 0.7 * Math.random()),
      undefined,
      run.signal ? { signal: run.signal } : undefined,
    );
  }
}

const RESTORE_TURN_WAIT_MS = 120_000;
const RESTORE_RETRY_MAX_MS = 3000;

/** Before EnterStandby: a crash in between leaves a record, and the boot's `in` finds the host in service. */
/** The shutdown record the boot's `in --after-shutdown` looks for; `why` says who asked for it. */
async function writeShutdownRecord(
  run: Run,
  ctx: ReadContext,
  why: (key: string) => string,
): Promise<string> {
  const g = run.snapshot!.group;
  const key = shutdownKey(ctx.identity.instanceId);
  run.reporter.step(`recording on ${g.name} that ${why(key)}`);
  await asg.setGroupTag(ctx, g.name, key, new Date().toISOString());
  return key;
}

const recordShutdown = (run: Run, ctx: ReadContext) =>
  writeShutdownRecord(run, ctx, (key) => `a shutdown takes this host out (${key}), for the boot`);

/**
 * `run`'s command asked for a reboot (its exit code): this host, already out, is recorded as a
 * shutdown's would be, so that the boot's `in --after-shutdown` returns it. Returns the record's key.
 */
export const recordReturnAtBoot = async (run: Run): Promise<string> =>
  writeShutdownRecord(run, await run.context(), (key) => `this host returns at its next boot (${key})`);

async function forgetShutdown(run: Run, ctx: ReadContext): Promise<void> {
  const g = run.snapshot!.group;
  const key = shutdownKey(ctx.identity.instanceId);
  run.reporter.step(`removing the shutdown record ${key} from ${g.name}`);
  await asg.deleteGroupTag(ctx, g.name, key);
  run.notes.push("shutdown record removed");
}

/** The group is terminating this host and deregisters it itself: only watch the drain, within the deadline. */
async function waitDrained(run: Run, ctx: ReadContext, deadlineAt: number): Promise<void> {
  const lbs = run.snapshot!.loadBalancers;
  const budgetS = run.budgetSeconds(deadlineAt);
  const expectedAt = Date.now() + drainSeconds(lbs) * 1000;
  run.reporter.step(
    `waiting while ${run.snapshot!.group.name} drains this host from ${lbs.map(lbLabel).join(", ")} (up to ${drainSeconds(lbs)} s)`,
  );
  type Drain = Pick<SelfState, "lbs">;
  const poll = async (): Promise<Drain> => ({
    lbs: await Promise.all(
      lbs.map(async (lb) => ({
        lb,
        member: await readSelfInLoadBalancer(ctx, lb, run.read!.selfTargets[lb.id]),
      })),
    ),
  });
  let last: Drain | undefined;
  const outcome = await guardWait(
    run,
    () => `the group is terminating this host (${last ? describeLbs(last) : "state unknown"})`,
    "balanced out --shutdown",
    () =>
      waitUntil<Drain>({
        deadlineAt,
        signal: run.signal,
        reporter: run.reporter,
        poll: async () => (last = await poll()),
        isDone: (d) => d.lbs.every(({ member }) => goneFrom(member)),
        describe: (d, elapsed) => ({
          line: `Terminating; ${describeLbs(d)} — ${seconds(elapsed)} of up to ${budgetS} s`,
          key: describeLbs(d),
        }),
        predictAt: () => expectedAt,
      }),
  );
  if (!outcome.reached) {
    const pending = detailLbs(outcome.state, (_lb, m) => !goneFrom(m));
    throw timedOut(
      `timed out after ${budgetS} s waiting for the group to drain this host: still in ${pending}; AWS goes on draining it`,
    );
  }
}

async function exitStandby(run: Run, ctx: ReadContext): Promise<void> {
  const g = run.snapshot!.group;
  run.reporter.step(
    `exiting standby in ${g.name} (desired capacity ${g.desiredCapacity} -> ${g.desiredCapacity + 1})`,
  );
  try {
    await sendOnce(run, ctx, EXITED, () => asg.exitStandby(ctx, g.name));
    run.returnedAt = performance.now();
  } catch (err) {
    standbyRefused(err, "ExitStandby", /max-size/, `AWS would grow ${g.name} above MaxSize`);
  }
}

async function waitOut(
  run: Run,
  ctx: ReadContext,
  deadlineAt: number,
  onLeaving?: () => Promise<void>,
): Promise<void> {
  const lbs = run.snapshot!.loadBalancers;
  await leaveNamed(run, ctx);
  const expectedAt = Date.now() + drainSeconds(lbs) * 1000;
  const budgetS = run.budgetSeconds(deadlineAt);
  run.reporter.step(
    `leaving ${lbs.map(lbLabel).join(", ") || "the group"} (draining takes up to ${drainSeconds(lbs)} s)`,
  );
  let last: SelfState | undefined;
  // Giving the turn back waits out the staleness bound: it runs beside the drain, not before it.
  let givingBack: Promise<void> | undefined;
  const outcome = await guardWait(
    run,
    () =>
      `host is ${last?.lifecycleState ?? "entering standby"} and still draining (${last ? describeLbs(last) : "state unknown"}); AWS keeps draining it`,
    "balanced out",
    () =>
      waitUntil<SelfState>({
        deadlineAt,
        signal: run.signal,
        reporter: run.reporter,
        poll: async () => {
          last = await pollSelf(ctx, run, () => true);
          if (onLeaving && LEAVING.has(last.lifecycleState)) {
            givingBack = onLeaving();
            onLeaving = undefined;
          }
          return last;
        },
        isDone: (s) => s.lifecycleState === "Standby" && s.lbs.every(({ member }) => goneFrom(member)),
        describe: (s, elapsed) => ({
          line: `${s.lifecycleState}; ${describeLbs(s)} — ${seconds(elapsed)} of up to ${budgetS} s`,
          key: `${s.lifecycleState} ${describeLbs(s)}`,
        }),
        predictAt: () => expectedAt,
      }),
  ).finally(() => givingBack);
  if (!outcome.reached) {
    const s = outcome.state;
    const pending = detailLbs(s, (_lb, m) => !goneFrom(m));
    throw timedOut(
      `timed out after ${budgetS} s waiting to leave the load balancers: host is ${s.lifecycleState}` +
        (pending ? `; still in ${pending}` : "") +
        "; AWS keeps draining it: run `balanced out` again to keep waiting, or `balanced in` to return it",
    );
  }
}

async function waitStandby(run: Run, ctx: ReadContext, deadlineAt: number): Promise<void> {
  let last = "EnteringStandby";
  const outcome = await guardWait(
    run,
    () => `host is ${last}`,
    "balanced in",
    () =>
      waitUntil({
        deadlineAt,
        signal: run.signal,
        reporter: run.reporter,
        poll: async () => (last = (await readSelfLifecycle(ctx)).lifecycleState),
        isDone: (state) => state === "Standby",
        describe: (state, elapsed) => ({
          line: `waiting for the earlier \`out\` to finish: ${state} — ${seconds(elapsed)}`,
          key: state,
        }),
        predictAt: () => undefined,
      }),
  );
  if (!outcome.reached)
    throw timedOut(`timed out waiting for this host to reach Standby: it is ${outcome.state}`);
}

/**
 * Load balancers named on the command line that the group does not manage: Standby does not take
 * this host out of them, so balanced does, recording there what it removed, for `in` (as for a host
 * in no group). Where it is already draining or gone, there is nothing to do.
 */
async function leaveNamed(run: Run, ctx: ReadContext): Promise<void> {
  const me = ctx.identity.instanceId;
  const lbs: StandaloneLb[] = run
    .snapshot!.loadBalancers.filter((lb) => lb.source === "named")
    .filter((lb) => !["absent", "draining"].includes(memberOf(lb, me).state))
    .map((lb) => ({
      lb,
      tags: {},
      selfPorts: lb.kind === "classic" ? [] : (run.read!.selfTargets[lb.id]?.servingPorts ?? []),
    }));
  if (lbs.length === 0) return;
  run.reporter.step(
    `deregistering from ${lbs.map((l) => lbLabel(l.lb)).join(", ")} too: the group does not manage ${lbs.length > 1 ? "them" : "it"}, so Standby does not leave ${lbs.length > 1 ? "them" : "it"} (recorded there as ${outKey(me)}, for \`in\`)`,
  );
  const at = new Date().toISOString();
  const group = run.snapshot!.group.name;
  await recordRemoval(ctx, lbs, (l) => formatRemoval({ ports: l.selfPorts, by: "out", at, group }));
  await Promise.all(lbs.map((l) => deregister(ctx, l, l.selfPorts)));
}

/** Back into the named load balancers `out` took this host out of (its records say on which ports). */
async function returnToNamed(run: Run, ctx: ReadContext): Promise<StandaloneLb[]> {
  const me = ctx.identity.instanceId;
  const recorded = run
    .snapshot!.loadBalancers.filter((lb) => lb.source === "named" && lb.removedPorts !== undefined)
    .map((lb) => ({ lb, tags: {}, selfPorts: lb.removedPorts! }));
  const absent = recorded.filter((l) => goneFrom(memberOf(l.lb, me)));
  if (absent.length) {
    run.reporter.step(
      `registering again with ${absent.map((l) => lbLabel(l.lb) + (l.selfPorts.length ? ` (port ${l.selfPorts.join(", ")})` : "")).join(", ")}, where \`out\` took this host out`,
    );
    await Promise.all(absent.map((l) => register(ctx, l, l.selfPorts)));
  }
  // Polls ask for this host on the ports it was registered on.
  for (const l of recorded)
    if (l.lb.kind === "target-group" && l.selfPorts.length)
      run.read!.selfTargets[l.lb.id] = {
        id: run.read!.selfTargets[l.lb.id]?.id ?? me,
        ports: l.selfPorts,
        servingPorts: l.selfPorts,
      };
  return recorded;
}

async function waitIn(run: Run, ctx: ReadContext, deadlineAt: number): Promise<void> {
  const lbs = run.snapshot!.loadBalancers;
  const returned = await returnToNamed(run, ctx);
  const budgetS = run.budgetSeconds(deadlineAt);
  run.reporter.step(
    `waiting until healthy in ${lbs.map(lbLabel).join(", ") || "the group"} (health checks take about ${healthySeconds(lbs)} s)`,
  );
  let inServiceAt: number | undefined;
  let last: SelfState | undefined;
  const outcome = await guardWait(
    run,
    () =>
      `host is ${last?.lifecycleState ?? "leaving standby"} (${last ? describeLbs(last) : "state unknown"})`,
    "balanced in",
    () =>
      waitUntil<SelfState>({
        deadlineAt,
        signal: run.signal,
        reporter: run.reporter,
        poll: async () => {
          last = await pollSelf(ctx, run, (lifecycle) => lifecycle === "InService");
          if (last.lifecycleState === "InService") inServiceAt ??= Date.now();
          const stuck = last.lbs.find(({ member }) => member.stuck);
          if (stuck)
            throw timedOut(
              `this host will not take traffic from ${lbLabel(stuck.lb)} however long it waits: ${stuck.member.stuck} (AWS says: ${stuck.member.detail})`,
            );
          return last;
        },
        isDone: (s) =>
          s.lifecycleState === "InService" &&
          s.health.toUpperCase() === "HEALTHY" &&
          s.lbs.every(({ lb, member }) => servesOrNeedNot(lb, member)),
        describe: (s, elapsed) => {
          // Before InService the group has not registered the host yet; there is nothing to show per LB.
          const where =
            s.lifecycleState === "InService" ? describeLbs(s) : "waiting for InService before health checks";
          return {
            line: `${s.lifecycleState}; ${where} — ${seconds(elapsed)} of up to ${budgetS} s`,
            key: `${s.lifecycleState} ${where}`,
          };
        },
        predictAt: () => (inServiceAt === undefined ? undefined : inServiceAt + healthySeconds(lbs) * 1000),
        pollEveryMs: (s) => (s.lifecycleState === "InService" ? undefined : PENDING_POLL_MS),
      }),
  );
  if (!outcome.reached) {
    const s = outcome.state;
    const pending = detailLbs(s, (lb, m) => !servesOrNeedNot(lb, m));
    throw timedOut(
      `timed out after ${budgetS} s waiting for this host to take traffic: host is ${s.lifecycleState}` +
        (pending ? `, not yet healthy in ${pending}` : "") +
        "; check the application's health check, then run `balanced in` again to keep waiting",
    );
  }
  if (returned.length) {
    await forgetRemoval(ctx, returned);
    for (const l of returned) {
      l.lb.removedPorts = undefined;
      delete l.lb.tags?.[outKey(ctx.identity.instanceId)];
    }
  }
}

/** Back and serving: its records no longer count it out of its load balancers. */
async function forgetOwnRemovals(run: Run, ctx: ReadContext): Promise<void> {
  const me = ctx.identity.instanceId;
  const lbs = run.snapshot!.loadBalancers.filter((lb) => ownRemoval(lb, me));
  if (lbs.length === 0) return;
  run.reporter.step(`removing its records (${outKey(me)}) from ${lbs.map(lbLabel).join(", ")}`);
  await forgetRemoval(
    ctx,
    lbs.map((lb) => ({ lb, tags: lb.tags ?? {}, selfPorts: [] })),
  );
}

async function execute(
  run: Run,
  ctx: ReadContext,
  steps: Step[],
  timeoutSeconds: number,
  onLeaving?: () => Promise<void>,
): Promise<void> {
  const deadlineAt = run.waitDeadline(timeoutSeconds);
  for (const step of steps) {
    switch (step) {
      case "enter-standby":
        await run.timed(step, () => enterStandby(run, ctx));
        break;
      case "exit-standby":
        await run.timed(step, () => exitStandby(run, ctx));
        break;
      case "wait-out":
        await run.timed(step, () => waitOut(run, ctx, deadlineAt, onLeaving));
        break;
      case "wait-standby":
        await run.timed(step, () => waitStandby(run, ctx, deadlineAt));
        break;
      case "wait-in":
        await run.timed(step, () => waitIn(run, ctx, deadlineAt));
        break;
      case "lower-min-size":
        await run.timed(step, () => lowerMinSize(run, ctx));
        break;
      case "restore-min-size":
        await run.timed(step, async () => {
          const note = await restoreMinSizeUnderTurn(run, ctx, run.snapshot!.group.name, recordToRestore);
          if (note) run.notes.push(note);
        });
        break;
      case "record-shutdown":
        await run.timed(step, () => recordShutdown(run, ctx));
        break;
      case "forget-shutdown":
        await run.timed(step, () => forgetShutdown(run, ctx));
        break;
      case "forget-removal":
        await run.timed(step, () => forgetOwnRemovals(run, ctx));
        break;
      case "forget-parked":
        await run.timed(step, async () => {
          const group = run.snapshot!.group.name;
          const key = parkedKey(ctx.identity.instanceId);
          run.reporter.step(`removing the parked record ${key} from ${group}`);
          await asg.deleteGroupTag(ctx, group, key);
        });
        break;
      case "wait-drained":
        await run.timed(step, () => waitDrained(run, ctx, deadlineAt));
        break;
    }
  }
}

/** Lifecycle states in which every other host already counts this one as out of service. */
const LEAVING = new Set(["EnteringStandby", "Standby"]);

type Attempt = { kind: "result"; value: MoveResult } | { kind: "retry"; error: BalancedError };

const retry = (error: BalancedError): Attempt => ({ kind: "retry", error });

function outDone(run: Run): MoveResult {
  const snapshot = run.snapshot!;
  const names = snapshot.loadBalancers.map(lbLabel).join(", ");
  return {
    outcome: "done",
    message: `${run.identity!.instanceId} is out: Standby in ${snapshot.group.name}, drained from ${names || "no load balancers"} (${seconds(Date.now() - run.startedAt)})`,
  };
}

/** Decide on the snapshot just read: refusals become retries (the caller may wait them out). */
function decideOutNow(run: Run): Attempt | Extract<Decision, { verdict: "act" }> {
  const snapshot = run.snapshot!;
  run.budget = assessBudget(snapshot, run.options.policy);
  const decision = decideOut(snapshot, run.options.policy);
  run.decision = decision;
  if (decision.verdict === "refuse") return retry(refusalError(decision));
  if (decision.verdict === "done") {
    return {
      kind: "result",
      value: { outcome: "already", message: `${run.identity!.instanceId} is ${decision.summary}` },
    };
  }
  return decision;
}

/**
 * One attempt at `out`. A host that is still InService must hold the turn (src/aws/turn.ts, or the
 * lock: src/aws/lock.ts) from its fresh snapshot until the group shows it leaving; a host already
 * leaving needs none.
 */
async function outAttempt(run: Run, ctx: ReadContext): Promise<Attempt> {
  const readAt = performance.now();
  const { group, lifecycleState } = await findGroup(ctx);
  const needsTurn = lifecycleState === "InService" && !run.options.dryRun;
  if (!needsTurn) {
    await run.timed("read", () => run.refresh(group));
    if (!run.options.dryRun && LEAVING.has(lifecycleState))
      await releaseOrphanedTurn(run, ctx, groupLock(run, group), groupTurnValues(run.snapshot!), readAt);
    const d = decideOutNow(run);
    if (!("verdict" in d)) return d;
    if (run.options.dryRun) {
      // The real run would meet the turn: answer as it would (exit 4 while another holds it).
      const withTheTurn =
        lifecycleState === "InService"
          ? withTurn(d, await groupLock(run, group).view(ctx, groupTurnValues(run.snapshot!)), Date.now())
          : d;
      run.decision = withTheTurn;
      if (withTheTurn.verdict === "refuse") return retry(refusalError(withTheTurn));
      return { kind: "result", value: { outcome: "dry-run", message: dryRunMessage(d) } };
    }
    await execute(
      run,
      ctx,
      d.steps,
      run.options.timeoutSeconds ?? defaultOutTimeoutSeconds(run.snapshot!.loadBalancers),
    );
    return { kind: "result", value: outDone(run) };
  }

  // The turn spans the group's load balancers, so it needs a snapshot first: a refusal costs no turn.
  await run
    .timed("read", () => run.refresh(group))
    .catch((err: unknown) => {
      throw stillServing(err);
    });
  const first = decideOutNow(run);
  if (!("verdict" in first)) return first;
  const lock = groupLock(run, group);
  const result = await holdingTurn(run, ctx, lock, `for ${group}`, async ({ turn, leaving }) => {
    const confirmed = await readBackTurn(run, ctx, group, lock, turn);
    if (!confirmed.ok)
      return busy(`refusing: another host is leaving: ${confirmed.holder} took ${lock.what}`);
    const d = decideOutNow(run);
    if (!("verdict" in d)) return d.kind === "retry" ? d.error : d.value;
    try {
      await execute(
        run,
        ctx,
        d.steps,
        run.options.timeoutSeconds ?? defaultOutTimeoutSeconds(run.snapshot!.loadBalancers),
        // The host is visibly leaving: a failed release must not fail the out; the turn expires anyway.
        leaving,
      );
    } catch (err) {
      // A turn found lost is another host's now: the restore is left to a later read under it.
      if (!(err instanceof TurnLostError)) await undoOwnLowering(run, ctx, group, turn);
      throw err;
    }
    await recheckAfterActing(run, group);
    return outDone(run);
  });
  return result instanceof BalancedError ? retry(result) : { kind: "result", value: result };
}

/**
 * The decision held when it was made; the world may have moved while the host drained (a peer
 * failed, a scale-in or an instance refresh started). Read again: if the budget no longer holds,
 * say so and exit 3, so the deploy chain stops with this host out (its `balanced in` returns it).
 */
async function recheckAfterActing(run: Run, group: string): Promise<void> {
  const { snapshot } = await run.timed("recheck", () => run.refresh(group));
  const breach = budgetBreach(snapshot, run.options.policy);
  if (!breach) return;
  throw unsafe(
    `${snapshot.instanceId} is out, but the budget no longer holds: ${breach}; stop the deploy here (\`balanced in\` returns this host)`,
  );
}

/**
 * `out --shutdown` (the systemd unit's ExecStop): no turn to wait for and no refusal for a busy
 * group or a spent budget (see decideShutdown); the deadline is the unit's stop timeout.
 */
async function shutdownOut(run: Run): Promise<MoveResult> {
  const ctx = await run.context();
  const readAt = performance.now();
  const { group, lifecycleState } = await findGroup(ctx);
  await run.timed("read", () => run.refresh(group));
  if (!run.options.dryRun && LEAVING.has(lifecycleState))
    await releaseOrphanedTurn(run, ctx, groupLock(run, group), groupTurnValues(run.snapshot!), readAt);
  const snapshot = run.snapshot!;
  run.budget = assessBudget(snapshot, run.options.policy);
  const decision = decideShutdown(snapshot, run.options.policy, { replace: run.options.replace === true });
  run.decision = decision;
  if (decision.verdict === "refuse") throw refusalError(decision);
  if (decision.verdict === "done")
    return { outcome: "already", message: `${ctx.identity.instanceId} is ${decision.summary}` };
  if (run.options.dryRun) return { outcome: "dry-run", message: dryRunMessage(decision) };
  if (decision.overruled) run.reporter.step(overruledLine(decision.overruled));
  const timeout = run.options.timeoutSeconds ?? defaultOutTimeoutSeconds(snapshot.loadBalancers);
  await execute(run, ctx, decision.steps, timeout);
  if (decision.steps.includes("wait-drained")) {
    const names = snapshot.loadBalancers.map(lbLabel).join(", ");
    return {
      outcome: "done",
      message: `${ctx.identity.instanceId} is drained from ${names}: ${snapshot.group.name} is terminating it (${seconds(Date.now() - run.startedAt)})`,
    };
  }
  return outDone(run);
}

/** `out` for a host of a group: the systemd unit's shutdown, or an operator's deploy. */
export function groupOut(run: Run): Promise<MoveResult> {
  return run.options.shutdown ? shutdownOut(run) : deployOut(run);
}

async function deployOut(run: Run): Promise<MoveResult> {
  const ctx = await run.context();
  return retryWhileRefused(
    run,
    async () => {
      const attempt = await outAttempt(run, ctx);
      return attempt.kind === "result" ? attempt.value : attempt.error;
    },
    // What refuses an `out` is mostly in the group itself: members not in service, and the turn.
    async () => {
      const name = run.snapshot?.group.name;
      if (!name) throw new Error("no group read yet");
      const g = await readGroup(ctx, name);
      const notServing = g.instances.filter(
        (i) => i.lifecycleState !== "InService" || i.health !== "Healthy",
      );
      const turn = viewTurnHere(g.tags[TURN_TAG], ctx.identity.instanceId).state === "held" ? 1 : 0;
      return notServing.length + turn;
    },
  );
}

export async function groupIn(run: Run): Promise<MoveResult> {
  if (!run.options.afterShutdown) return groupInOnce(run);
  try {
    return await groupInOnce(run);
  } catch (err) {
    if (err instanceof BalancedError) await recordBootFailure(run, err.exitCode);
    throw err;
  }
}

/**
 * The boot's return failed: say so on the shutdown record, so `status` on any host shows it (the
 * unit keeps running, "-" in ExecStart, so that the next shutdown still drains). Best effort, on its
 * own short deadline: the failure itself is what the unit reports.
 */
async function recordBootFailure(run: Run, exitCode: number): Promise<void> {
  const g = run.snapshot?.group;
  const id = run.identity?.instanceId;
  if (!g || !id) return;
  const key = shutdownKey(id);
  const value = g.tags[key];
  if (value === undefined) return;
  const record = parseShutdownValue(id, value);
  const failed = shutdownValue({ at: record.at, bootFailed: { at: new Date().toISOString(), exitCode } });
  const ctx = await run.context();
  await asg
    .setGroupTag(ctx, g.name, key, failed, AbortSignal.timeout(RELEASE_DEADLINE_MS))
    .catch(() => undefined);
}

async function groupInOnce(run: Run): Promise<MoveResult> {
  const ctx = await run.context();
  const readAt = performance.now();
  run.returnedAt = readAt;
  let { snapshot } = await run.timed("read", () => run.refresh());
  const g = snapshot.group;
  const lock = groupLock(run, g.name);
  const orphaned =
    !run.options.dryRun && (await settleOrphanedTurn(run, ctx, lock, groupTurnValues(snapshot)));
  // A snapshot that shows this host in service may predate a killed run's EnterStandby whose turn
  // was given back (by `repair`, once that call could no longer land) after the snapshot was read
  // and before the turn was looked at: a read sent after that look shows the call. With the tags,
  // the look is one more read once the staleness bound has passed, which also finds a turn the
  // snapshot was too stale to show (settleUnseenOrphan).
  let readAgain = orphaned;
  if (!run.options.dryRun && !orphaned && self(snapshot).lifecycleState === "InService") {
    await settleUnseenOrphan(run, ctx, lock, readAt);
    readAgain = true;
  }
  if (readAgain) ({ snapshot } = await run.timed("read", () => run.refresh()));
  const decision = decideIn(snapshot, { afterShutdown: run.options.afterShutdown, force: run.options.force });
  run.decision = decision;
  if (decision.verdict === "refuse") throw refusalError(decision);
  if (decision.verdict === "done")
    return { outcome: "already", message: `${ctx.identity.instanceId} is ${decision.summary}` };
  if (run.options.dryRun) return { outcome: "dry-run", message: dryRunMessage(decision) };
  const timeout = run.options.timeoutSeconds ?? defaultInTimeoutSeconds(snapshot.loadBalancers);
  await execute(run, ctx, decision.steps, timeout);
  const names = snapshot.loadBalancers.map(lbLabel).join(", ");
  return {
    outcome: "done",
    message:
      `${ctx.identity.instanceId} is in: InService in ${snapshot.group.name}, healthy in ${names || "no load balancers"}` +
      `${run.notes.map((n) => `; ${n}`).join("")} (${seconds(Date.now() - run.startedAt)})`,
  };
}
