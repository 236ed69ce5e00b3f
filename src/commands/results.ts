import type { Decision } from "../core/decide";

/** What the commands answer, in one module of types that every command and mode may import. */

export interface MoveResult {
  outcome: "done" | "already" | "dry-run";
  message: string;
}

export interface StatusResult {
  outcome: "status";
  message: string;
  out: Decision<string>;
  in: Decision<string>;
  leftovers: string[];
  /** What the metadata service says AWS is about to do to this host (balanced watch acts on it). */
  notices: string[];
}

export interface RepairResult {
  outcome: "done";
  message: string;
}
