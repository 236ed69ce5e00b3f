import { pendingNotices } from "../aws/notices";
import {
  assessBudget,
  busyReasons,
  decideIn,
  decideOut,
  formatQuantity,
  self,
  withTurn,
} from "../core/decide";
import { isHealthyServing, lbLabel, memberOf } from "../core/health";
import { parseRecords } from "../core/minsize";
import { orphanedParked, parkedKey } from "../core/parked";
import { outKey } from "../core/removals";
import { shutdownRecords } from "../core/shutdown";
import type { TurnView } from "../core/turn";
import type { Snapshot } from "../core/types";
import { verdictLine } from "../ui/render";
import { staleRecords, staleRemovals } from "./repair";
import type { StatusResult } from "./results";
import type { Run } from "./run";
import { groupLock, groupTurnValues } from "./turns";

function describeTurn(view: TurnView): string {
  if (view.state === "free") return "free";
  if (view.state === "unreadable")
    return `unreadable (${JSON.stringify(view.value.slice(0, 60))}): it blocks every \`out\`; \`balanced repair\` clears it`;
  const left = Math.round((view.turn.expiresAt - Date.now()) / 1000);
  if (view.state === "expired")
    return `left behind by ${view.turn.holder}, expired ${-left} s ago (the next \`out\` takes it over)`;
  if (view.state === "orphaned")
    return `left behind by a killed balanced on this host (pid ${view.turn.pid}); the next \`out\` here takes it over`;
  return `held by ${view.turn.holder} for up to ${left} s more`;
}

/** What crashed or forgotten runs left behind: lowered MinSize, hosts long in Standby. */
export function leftovers(s: Snapshot, staleAfterSeconds: number): string[] {
  const lines: string[] = [];
  const stale = staleRecords(s);
  for (const r of parseRecords(s.group.tags)) {
    const gone = stale.find((x) => x.instanceId === r.instanceId);
    lines.push(
      `MinSize lowered ${r.original} -> ${r.loweredTo} by ${r.instanceId} at ${r.at}: ` +
        (gone ? `${gone.why}; run \`balanced repair\`` : "restored by its `balanced in`"),
    );
  }
  for (const r of shutdownRecords(s.group.tags)) {
    const member = s.group.instances.find((i) => i.id === r.instanceId);
    lines.push(
      `${r.instanceId} was taken out by its shutdown at ${r.at}: ` +
        (!member
          ? "it is no longer in the group; remove the tag"
          : r.bootFailed
            ? `its return at boot FAILED at ${r.bootFailed.at} (exit ${r.bootFailed.exitCode}): see \`journalctl -u balanced\` there, fix it, then run \`balanced in\` there`
            : "its boot brings it back (systemd balanced.service), or run `balanced in` there"),
    );
  }
  for (const r of staleRemovals(s))
    lines.push(`${outKey(r.instanceId)} on ${lbLabel(r.lb)}: ${r.why}; run \`balanced repair\``);
  for (const id of orphanedParked(s))
    lines.push(`${parkedKey(id)}: its host left the group while parked; run \`balanced repair\``);
  for (const inst of s.group.instances.filter((i) => i.lifecycleState === "Standby")) {
    const since = s.standbySince[inst.id];
    const age = since ? (s.takenAt - Date.parse(since)) / 1000 : undefined;
    if (age === undefined || age > staleAfterSeconds) {
      const how =
        age === undefined ? "since before the recent activity history" : `for ${Math.round(age / 60)} min`;
      lines.push(
        `${inst.id} has been in Standby ${how} (over --stale-after); run \`balanced in\` there, or terminate it`,
      );
    }
  }
  return lines;
}

/** Peers named on the status line: the ones not serving first, then enough to recognise the group. */
const PEERS_SHOWN = 10;
function peerList(s: Snapshot, peers: Snapshot["group"]["instances"]): string {
  const described = peers.map((p) => {
    const healthy = isHealthyServing(s, p);
    const state = healthy ? "healthy" : p.lifecycleState === "InService" ? "unhealthy" : p.lifecycleState;
    return { healthy, text: `${p.id} ${state}` };
  });
  const ordered = [...described.filter((d) => !d.healthy), ...described.filter((d) => d.healthy)];
  const shown = ordered.slice(0, PEERS_SHOWN).map((d) => d.text);
  const more = ordered.length - shown.length;
  return shown.join(", ") + (more > 0 ? `, and ${more} more (status --json lists them all)` : "");
}

/** Read, decide, print, for a host of a group: shows what `out` and `in` would do now, and why. */
export async function groupStatus(run: Run): Promise<StatusResult> {
  const [{ snapshot: s }, notices] = await Promise.all([
    run.timed("read", () => run.refresh()),
    pendingNotices(),
  ]);
  const budget = assessBudget(s, run.options.policy);
  run.budget = budget;
  const turn = await groupLock(run, s.group.name).view(await run.context(), groupTurnValues(s));
  const outDecision = withTurn(decideOut(s, run.options.policy), turn, Date.now());
  const inDecision = decideIn(s);
  run.decision = outDecision;
  const me = self(s);
  const id = run.identity!;
  const left = leftovers(s, run.options.staleAfterSeconds);
  const g = s.group;
  const pad = (label: string) => label.padEnd(11);
  const peers = g.instances.filter((i) => i.id !== me.id);
  const lines = [
    `${id.instanceId} (${id.availabilityZone || "?"}, ${s.region})`,
    `${pad("group")}${g.name}: min ${g.minSize}, desired ${g.desiredCapacity}, max ${g.maxSize}` +
      (g.suspendedProcesses.length ? `; suspended: ${g.suspendedProcesses.join(", ")}` : ""),
    `${pad("this host")}${me.lifecycleState}, ${me.health}`,
    ...s.loadBalancers.map((lb) => {
      const m = memberOf(lb, me.id);
      return `${pad("")}${lbLabel(lb).padEnd(28)} ${m.state}${m.state === "healthy" ? "" : ` (${m.detail})`}`;
    }),
    ...(s.gone ?? []).map((label) => `${pad("")}${label.padEnd(28)} gone (deleted: serves no traffic)`),
    `${pad("peers")}${budget.healthyPeers.length} of ${peers.length} healthy` +
      (peers.length ? `: ${peerList(s, peers)}` : ""),
    `${pad("budget")}at least ${budget.requiredHealthy} healthy must remain` +
      (budget.requiredHealthySource ? ` (${budget.requiredHealthySource})` : "") +
      `; at most ${budget.maxUnavailable} out of service at once (--max-unavailable ${formatQuantity(run.options.policy.maxUnavailable)})`,
    `${pad("activity")}${busyReasons(s).join("; ") || "none in progress"}`,
    `${pad("turn")}${describeTurn(turn)}${run.options.lock ? ` (lock table ${run.options.lock.table})` : ""}`,
    ...left.map((l, i) => `${pad(i === 0 ? "left over" : "")}${l}`),
    ...notices.map((l, i) => `${pad(i === 0 ? "notices" : "")}${l}`),
    `${pad("out")}${verdictLine(outDecision)}`,
    `${pad("in")}${verdictLine(inDecision)}`,
  ];
  return {
    outcome: "status",
    message: lines.join("\n"),
    out: outDecision,
    in: inDecision,
    leftovers: left,
    notices,
  };
}
