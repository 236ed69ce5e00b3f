import { classifyStop } from "../core/shutdown";
import { BalancedError, notManageable } from "../errors";
import { readSystemd } from "../systemd";
import { groupIn, groupOut } from "./move";
import { groupRepair } from "./repair";
import type { MoveResult, RepairResult, StatusResult } from "./results";
import type { Run } from "./run";
import { standaloneConfigured, standaloneIn, standaloneOut, standaloneStatus } from "./standalone";
import { groupStatus } from "./status";

/**
 * What each command does for a host of an Auto Scaling group, and for a host in no group (its load
 * balancers named, or found with --discover). The commands choose a mode here, once, and never
 * switch on it themselves.
 */
interface Mode {
  status(run: Run): Promise<StatusResult>;
  out(run: Run): Promise<MoveResult>;
  in(run: Run): Promise<MoveResult>;
  repair(run: Run): Promise<RepairResult>;
}

const groupMode: Mode = { status: groupStatus, out: groupOut, in: groupIn, repair: groupRepair };

const standaloneMode: Mode = {
  status: standaloneStatus,
  out: standaloneOut,
  in: standaloneIn,
  repair: () => {
    throw notManageable(
      "repair mends what hosts left on an Auto Scaling group; a host in no group is restored by its own `balanced in` (its records are on its load balancers, see `balanced status`)",
    );
  },
};

/**
 * Runs the group way, and falls over to the standalone way when the host is in no group and load
 * balancers are named (or --discover): the group lookup is the first call either way, so this costs
 * no extra call.
 */
async function inMode<T>(run: Run, act: (mode: Mode) => Promise<T>): Promise<T> {
  // Already known to be in no group (`run --`: out, then in): no second group lookup.
  if (run.standalone) return act(standaloneMode);
  try {
    return await act(groupMode);
  } catch (err) {
    if (!(err instanceof BalancedError && err.kind === "no-group") || !standaloneConfigured(run)) throw err;
    return act(standaloneMode);
  }
}

/** Read, decide, print: shows what `out` and `in` would do now, and why. */
export const status = (run: Run) => inMode(run, (mode) => mode.status(run));
export const out = async (run: Run): Promise<MoveResult> => {
  // The unit's ExecStop only: a drain `watch` starts for a notice (its options carry `watch`) is
  // AWS taking the host, whatever systemd's state.
  if (run.options.shutdown && !run.options.watch) {
    const unitOnly = await onlyTheUnitStops();
    if (unitOnly) return { outcome: "already", message: unitOnly };
  }
  return inMode(run, (mode) => mode.out(run));
};

/**
 * `out --shutdown` (the unit's ExecStop) while the system keeps running: the unit alone is stopped
 * or restarted, and this host keeps serving. Says so, or undefined for a real shutdown (or when
 * systemd cannot tell).
 */
async function onlyTheUnitStops(): Promise<string | undefined> {
  const report = await readSystemd();
  if (classifyStop(report) !== "unit-only") return undefined;
  return `the system is ${report.systemState}, not shutting down: only the balanced unit stops (a restart, an upgrade), so this host keeps serving and its traffic is left as it is`;
}
export const in_ = (run: Run) => inMode(run, (mode) => mode.in(run));
/** `balanced repair`: from any host of the group, undo what crashed or vanished hosts left behind. */
export const repair = (run: Run) => inMode(run, (mode) => mode.repair(run));
