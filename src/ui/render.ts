import type { Run } from "../commands/run";
import type { Decision } from "../core/decide";
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

/** A decision in one line, as `status` shows it. */
export const verdictLine = (d: Decision<string>) =>
  d.verdict === "refuse" ? `${d.reason} (exit ${d.exitCode})` : d.summary;

/** What `--dry-run` prints: what would be done, or why nothing is needed. */
export const dryRunMessage = (d: Decision<string>) =>
  d.verdict === "act" ? `dry run: ${d.summary}` : d.verdict === "done" ? d.summary : "";

/** The line a shutdown prints when it goes ahead despite a refusal (Decision's `overruled`). */
export const overruledLine = (overruled: string) =>
  `shutting down although ${overruled}: the host goes down either way, so it leaves first`;

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
