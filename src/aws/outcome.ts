import { AwsCallError } from "../errors";

/**
 * What a failed AWS call's error says about the change it asked for:
 * - `unprocessed`: refused before it was processed (throttled, or ResourceContention: another
 *   update to the group pending). Nothing was applied, and nothing can be later: sending it again
 *   is safe.
 * - `refused`: AWS answered that it did not apply it (ValidationError, access denied, a tag quota,
 *   no credentials to sign it with, and the refusals Auto Scaling's API reference lists for its
 *   writes: ScalingActivityInProgress, ResourceInUse).
 * - `unknown`: no answer (a lost connection, a timeout), AWS failing (a 5xx), or an answer this
 *   table does not know: it may have been applied, perhaps later. Whatever was done for it stays
 *   (a record, the turn), since undoing it could leave AWS changed with nothing to say so.
 * Unknown is the default: only an answer known to mean "not applied" lets a caller undo.
 */
export type CallOutcome = "unprocessed" | "refused" | "unknown";

const UNPROCESSED = new Set(["throttled", "contention"]);
const REFUSED = new Set(["access-denied", "no-credentials", "tag-quota"]);
const REFUSED_CODES = new Set([
  "ValidationError",
  "ScalingActivityInProgress",
  "ScalingActivityInProgressFault",
  "ResourceInUse",
  "ResourceInUseFault",
]);

export function callOutcome(err: AwsCallError): CallOutcome {
  if (UNPROCESSED.has(err.kind)) return "unprocessed";
  if (REFUSED.has(err.kind) || REFUSED_CODES.has(err.awsCode)) return "refused";
  return "unknown";
}

/** AWS answered that it did not apply it, or refused it unprocessed: safe to undo what was done for it. */
export const notApplied = (err: unknown) => err instanceof AwsCallError && callOutcome(err) !== "unknown";

/** Refused before it was processed: it can be sent again, and cannot land late. */
export const unprocessed = (err: unknown) =>
  err instanceof AwsCallError && callOutcome(err) === "unprocessed";
