import type { Run } from "../commands/run";
import type { BalancedError } from "../errors";

export type Outcome =
  | "done"
  | "already"
  | "dry-run"
  | "status"
  | "refused"
  | "timeout"
  | "interrupted"
  | "command-failed"
  | "error";

/** The one JSON document `--json` prints: the same content as the human output, for machines. */
export function jsonReport(
  run: Run | undefined,
  command: string,
  outcome: Outcome,
  exitCode: number,
  message: string,
  extra: Record<string, unknown> = {},
) {
  return {
    command,
    outcome,
    exitCode,
    message,
    ...extra,
    instanceId: run?.identity?.instanceId,
    region: run?.identity?.region,
    group: run?.snapshot?.group.name,
    decision: run?.decision,
    budget: run?.budget,
    steps: run?.steps ?? [],
    durationMs: run ? Date.now() - run.startedAt : 0,
    apiCalls: run ? { total: run.log.total, byAction: run.log.byAction } : { total: 0, byAction: {} },
    snapshot: run?.snapshot ?? run?.standalone?.snapshot,
  };
}

export function outcomeOf(err: BalancedError): Outcome {
  switch (err.kind) {
    case "unsafe":
    case "busy":
      return "refused";
    case "timeout":
      return "timeout";
    case "interrupted":
      return "interrupted";
    case "command-failed":
      return "command-failed";
    default:
      return "error";
  }
}
