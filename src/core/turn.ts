/**
 * The group-wide turn, stored as one Auto Scaling group tag. Pure: formatting, parsing, and what a
 * tag value means now. The protocol that takes and releases it is in src/aws/turn.ts.
 */
export const TURN_TAG = "balanced:turn";

/** Longest read-to-write-acknowledged interval accepted (step 2 of src/aws/turn.ts). API calls take ~0.1 s. */
export const WRITE_BOUND_MS = 2000;
/** Slack on top of the bounds below, for timers and scheduling. */
const SETTLE_SLACK_MS = 500;

/**
 * Step 3's sleep, for reads up to `stalenessMs` old: longer than WRITE_BOUND plus twice the
 * staleness ("Stale reads" in src/aws/turn.ts). 2.5 s for fresh reads; 8.5 s for the default bound.
 */
export const settleMs = (stalenessMs: number) => WRITE_BOUND_MS + 2 * stalenessMs + SETTLE_SLACK_MS;

export interface Turn {
  /** Instance that holds it. */
  holder: string;
  /** Process on that instance, so a rerun after a crash can recognise its own dead predecessor. */
  pid: number;
  /** Distinguishes attempts: the read-back must find exactly this one. */
  nonce: string;
  /** Epoch ms; after this anyone may take the turn over. */
  expiresAt: number;
}

export function formatTurn(t: Turn): string {
  return `${t.holder} pid=${t.pid} nonce=${t.nonce} expires=${new Date(t.expiresAt).toISOString()}`;
}

export function parseTurn(value: string | undefined): Turn | undefined {
  if (!value) return undefined;
  const m = /^(\S+) pid=(\d+) nonce=(\S+) expires=(\S+)$/.exec(value.trim());
  if (!m) return undefined;
  const expiresAt = Date.parse(m[4]!);
  if (Number.isNaN(expiresAt)) return undefined;
  return { holder: m[1]!, pid: Number(m[2]), nonce: m[3]!, expiresAt };
}

export type TurnView =
  | { state: "free" }
  | { state: "expired"; turn: Turn }
  /** Held by this host's process that no longer runs (killed): ours to take over. */
  | { state: "orphaned"; turn: Turn }
  | { state: "held"; turn: Turn }
  /** Something balanced cannot parse: blocks like a held turn (safety first) until `repair` clears it. */
  | { state: "unreadable"; value: string };

/**
 * What a tag value means for `me`. An unparseable value is never free (safety first): it blocks
 * until `balanced repair` (or a person) removes it, and every refusal says so.
 */
export function viewTurn(
  value: string | undefined,
  now: number,
  me: { instanceId: string; isAlive: (pid: number) => boolean },
): TurnView {
  if (value === undefined || value === "") return { state: "free" };
  const turn = parseTurn(value);
  if (!turn) return { state: "unreadable", value };
  if (turn.expiresAt <= now) return { state: "expired", turn };
  if (turn.holder === me.instanceId && !me.isAlive(turn.pid)) return { state: "orphaned", turn };
  return { state: "held", turn };
}

export const isMine = (value: string | undefined, mine: Turn) => {
  const t = parseTurn(value);
  return t !== undefined && t.holder === mine.holder && t.nonce === mine.nonce;
};

/**
 * Why `out` would be refused for the turn right now (exit 4), or undefined: what `--dry-run` and
 * `status` report, so that they give the real run's answer.
 */
export function turnRefusal(view: TurnView, now: number, what = "the group's turn"): string | undefined {
  if (view.state === "unreadable")
    return `refusing: ${what} tag holds something balanced cannot read (${JSON.stringify(view.value.slice(0, 60))}); run \`balanced repair\` to clear it`;
  if (view.state !== "held") return undefined;
  const left = Math.max(0, Math.round((view.turn.expiresAt - now) / 1000));
  return `refusing: another host is leaving: ${view.turn.holder} holds ${what} (for up to ${left} s more)`;
}
