/**
 * The turn as a lock in a DynamoDB table (`--lock dynamodb:TABLE`): compare-and-swap instead of the
 * tag protocol's timing argument (src/aws/turn.ts).
 *
 * One item per resource the turn spans, keyed `lockKey`: `group:<name>` for the group, and one for
 * every load balancer this host is in (`elb:<name>`, `tg:<arn>`), so hosts of different groups and
 * hosts in no group that share a load balancer take turns too. An item holds the turn (the same text
 * the tag holds), its holder, nonce, expiry (epoch ms, and `ttl` in epoch seconds for DynamoDB's time
 * to live, which deletes expired items only within days, so expiry is judged here) and a version.
 *
 * Protocol, for a contender P:
 *   1. for each key in sorted order: read the item with ConsistentRead; a live turn of another host
 *      (or one balanced cannot read) is a refusal: give back what P took and stop;
 *   2. write P's turn with PutItem conditioned on the version read (or on no item): a
 *      ConditionalCheckFailedException means another contender wrote in between, unless the item
 *      it returns (ALL_OLD) is P's own — the SDK resent a write whose answer was lost;
 *   3. holding every key, P reads the world afresh and decides;
 *   4. right before each acting call, the fence: UpdateItem conditioned on P's nonce, setting the
 *      expiry to cover the act deadline, the staleness wait and the clock tolerance (LEASE below);
 *   5. release: DeleteItem conditioned on P's nonce, on every key, as soon as the acting call's
 *      outcome is known and the staleness bound has passed (TurnRelease, as for tags). Conditioned
 *      on the nonce, a release never removes another host's turn, so P also gives back a turn it
 *      took but could not confirm (a lost answer, a refusal, a signal). Except over a turn of a
 *      killed earlier run on this host (its pid is gone): that run's acting call may still land, so
 *      P's item lasts at least as long as that turn, an attempt that fails keeps it, and P, unless it
 *      acted itself, gives it back only once that run's act deadline and the staleness bound are
 *      over (holdingTurn in src/commands/turns.ts).
 *
 * Claim: two contenders that share a key are never both between a successful fence and the end of
 * their acting calls. The conditional writes are linearizable on one item (a strongly consistent
 * read and a condition see every acknowledged write): Q overwrites P's turn only after reading it
 * with ConsistentRead and finding it expired or gone. Gone: P released it, after its acting call was
 * answered (or P never acted). Expired: P's last fence set the expiry to fence + LEASE, by P's
 * clock; P's acting call ends by fence + ACT_CALL_DEADLINE, and the turn is released no earlier than
 * the staleness bound after that. Both clocks are checked against AWS's (the Date of DynamoDB's
 * answers) within CLOCK_TOLERANCE, so Q's reading of "expired" is at most 2 x CLOCK_TOLERANCE early,
 * which LEASE covers. ∎
 */

import { randomBytes } from "node:crypto";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { formatTurn, parseTurn, type Turn } from "../core/turn";
import { awsCall } from "./clients";
import { CLOCK_TOLERANCE_MS, checkClock, clockOffset } from "./clock";
import type { ReadContext } from "./read";
import {
  ACT_CALL_DEADLINE_MS,
  orphanIn,
  RELEASE_DEADLINE_MS,
  type TurnAttempt,
  type TurnLock,
  TurnLostError,
  viewTurnHere,
  worstView,
} from "./turn";

export const LOCK_KEY = "lockKey";
/** DynamoDB's time-to-live attribute: epoch seconds. */
export const TTL_ATTRIBUTE = "ttl";
/** A taken turn lives this long before the fence extends it (deciding takes a snapshot read). */
export const TAKE_LEASE_MS = 60_000;
/** What a fence must cover: the acting call, the staleness wait, both hosts' clock error. */
export const leaseMs = (stalenessMs: number) =>
  ACT_CALL_DEADLINE_MS + stalenessMs + 2 * CLOCK_TOLERANCE_MS + 5000;

const itemOf = (key: string, turn: Turn, version: number): Record<string, AttributeValue> => ({
  [LOCK_KEY]: { S: key },
  turn: { S: formatTurn(turn) },
  holder: { S: turn.holder },
  nonce: { S: turn.nonce },
  expiresAt: { N: String(turn.expiresAt) },
  [TTL_ATTRIBUTE]: { N: String(Math.ceil(turn.expiresAt / 1000)) },
  version: { N: String(version) },
});

/** A conditional write's answer: applied, or its condition failed (with the item, when asked). */
async function conditional(
  send: Promise<unknown>,
): Promise<{ ok: true } | { ok: false; old: Record<string, AttributeValue> | undefined }> {
  try {
    await send;
    return { ok: true };
  } catch (err) {
    const e = err as { name?: string; Item?: Record<string, AttributeValue> };
    if (e.name === "ConditionalCheckFailedException") return { ok: false, old: e.Item };
    throw err;
  }
}

/** DynamoDB's commands, loaded with its client on first use (src/aws/clients.ts). */
/** The DynamoDB client and its commands, loaded only when a run takes the lock. */
const dynamo = (ctx: ReadContext) =>
  Promise.all([ctx.clients.dynamodb(), import("@aws-sdk/client-dynamodb")]);

/** The turn as a DynamoDB lock on these keys (see the protocol above). */
export class DynamoLock {
  constructor(
    readonly table: string,
    readonly keys: string[],
  ) {}

  /** Every key's item as it stands, read with ConsistentRead (for `repair`). */
  async inspect(ctx: ReadContext): Promise<{ key: string; value: string | undefined; version: number }[]> {
    return Promise.all(this.keys.map(async (key) => ({ key, ...(await this.read(ctx, key)) })));
  }

  /**
   * Deletes an item balanced cannot read (`repair`), only if it is still the version read: a turn
   * written since is someone's, and stays. False when it changed meanwhile.
   */
  async clear(ctx: ReadContext, key: string, version: number): Promise<boolean> {
    const [db, { DeleteItemCommand }] = await dynamo(ctx);
    const result = await awsCall(ctx.log, "dynamodb:DeleteItem", ctx.signal, (o) =>
      conditional(
        db.send(
          new DeleteItemCommand({
            TableName: this.table,
            Key: { [LOCK_KEY]: { S: key } },
            ...(version > 0
              ? {
                  ConditionExpression: "version = :seen",
                  ExpressionAttributeValues: { ":seen": { N: String(version) } },
                }
              : { ConditionExpression: "attribute_not_exists(version)" }),
          }),
          o,
        ),
      ),
    );
    return result.ok;
  }

  /** The turn values now, by key, read with ConsistentRead (for `status`, `--dry-run`, orphans). */
  async current(ctx: ReadContext): Promise<(string | undefined)[]> {
    return Promise.all(this.keys.map(async (k) => (await this.read(ctx, k)).value));
  }

  private async read(ctx: ReadContext, key: string) {
    const [db, { GetItemCommand }] = await dynamo(ctx);
    const command = new GetItemCommand({
      TableName: this.table,
      Key: { [LOCK_KEY]: { S: key } },
      ConsistentRead: true,
    });
    const offset = clockOffset(command);
    const res = await awsCall(ctx.log, "dynamodb:GetItem", ctx.signal, (o) => db.send(command, o));
    checkClock(offset());
    // An item without a turn reads as something balanced cannot read: it blocks until `repair`.
    return {
      value: res.Item ? (res.Item.turn?.S ?? JSON.stringify(res.Item)) : undefined,
      version: Number(res.Item?.version?.N ?? 0),
      exists: res.Item !== undefined,
    };
  }

  async take(ctx: ReadContext): Promise<TurnAttempt> {
    let turn: Turn = {
      holder: ctx.identity.instanceId,
      pid: process.pid,
      nonce: randomBytes(6).toString("hex"),
      expiresAt: Date.now() + TAKE_LEASE_MS,
    };
    let replaced: Turn | undefined;
    // Keys that held a killed earlier run's turn on this host: a call of that run may still land, so
    // an attempt that fails does not give them back (see holdingTurn); they expire no earlier.
    const overOrphans = new Set<string>();
    const giveBack = (keys: string[]) =>
      this.release(
        ctx,
        turn,
        keys.filter((k) => !overOrphans.has(k)),
      );
    const taken: string[] = [];
    try {
      for (const key of this.keys) {
        const seen = await this.read(ctx, key);
        const view = viewTurnHere(seen.value, ctx.identity.instanceId);
        if (view.state === "held" || view.state === "unreadable") {
          await giveBack(taken);
          return { taken: false, view };
        }
        if (view.state === "orphaned") {
          replaced ??= view.turn;
          overOrphans.add(key);
          if (view.turn.expiresAt > turn.expiresAt) turn = { ...turn, expiresAt: view.turn.expiresAt };
        }
        const won = await this.put(ctx, key, turn, seen);
        if (won !== true) {
          await giveBack(taken);
          return { taken: false, view: { state: "held", turn: won } };
        }
        taken.push(key);
      }
      return replaced ? { taken: true, turn, replaced } : { taken: true, turn };
    } catch (err) {
      // An unknown outcome of a write: the nonce is only ours, so giving back every key is safe.
      await giveBack(this.keys).catch(() => undefined);
      throw err;
    }
  }

  /** The conditional write of step 2: true, or the turn that won instead. */
  private async put(
    ctx: ReadContext,
    key: string,
    turn: Turn,
    seen: { version: number; exists: boolean },
  ): Promise<true | Turn> {
    const [db, { PutItemCommand }] = await dynamo(ctx);
    const result = await awsCall(ctx.log, "dynamodb:PutItem", ctx.signal, (o) =>
      conditional(
        db.send(
          new PutItemCommand({
            TableName: this.table,
            Item: itemOf(key, turn, seen.version + 1),
            ...(seen.exists
              ? {
                  ConditionExpression: "version = :seen",
                  ExpressionAttributeValues: { ":seen": { N: String(seen.version) } },
                }
              : { ConditionExpression: `attribute_not_exists(${LOCK_KEY})` }),
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
          o,
        ),
      ),
    );
    if (result.ok) return true;
    const other = parseTurn(result.old?.turn?.S);
    // The SDK resent a write that had been applied (its answer lost): the item is ours.
    if (other && other.nonce === turn.nonce) return true;
    return other ?? { ...turn, holder: "another host" };
  }

  /** Step 4: still ours, and long enough for the acting call that follows. */
  async fence(ctx: ReadContext, turn: Turn, stalenessMs: number): Promise<void> {
    const expiresAt = Date.now() + leaseMs(stalenessMs);
    const fenced = { ...turn, expiresAt };
    const [db, { UpdateItemCommand }] = await dynamo(ctx);
    const results = await Promise.all(
      this.keys.map((key) =>
        awsCall(ctx.log, "dynamodb:UpdateItem", ctx.signal, (o) =>
          conditional(
            db.send(
              new UpdateItemCommand({
                TableName: this.table,
                Key: { [LOCK_KEY]: { S: key } },
                UpdateExpression: "SET turn = :turn, expiresAt = :exp, #ttl = :ttl, version = version + :one",
                ConditionExpression: "nonce = :nonce",
                ExpressionAttributeNames: { "#ttl": TTL_ATTRIBUTE },
                ExpressionAttributeValues: {
                  ":turn": { S: formatTurn(fenced) },
                  ":exp": { N: String(expiresAt) },
                  ":ttl": { N: String(Math.ceil(expiresAt / 1000)) },
                  ":one": { N: "1" },
                  ":nonce": { S: turn.nonce },
                },
              }),
              o,
            ),
          ),
        ),
      ),
    );
    if (results.some((r) => !r.ok))
      throw new TurnLostError(
        `refusing: another host took the lock in ${this.table} before this host could act; try again`,
      );
  }

  /** Step 5, on the keys given (every one by default): only where the item still carries this nonce. */
  async release(ctx: ReadContext, turn: Turn, keys = this.keys): Promise<void> {
    const signal = AbortSignal.timeout(RELEASE_DEADLINE_MS);
    const [db, { DeleteItemCommand }] = await dynamo(ctx);
    await Promise.all(
      keys.map((key) =>
        awsCall(ctx.log, "dynamodb:DeleteItem", signal, (o) =>
          conditional(
            db.send(
              new DeleteItemCommand({
                TableName: this.table,
                Key: { [LOCK_KEY]: { S: key } },
                ConditionExpression: "nonce = :nonce",
                ExpressionAttributeValues: { ":nonce": { S: turn.nonce } },
              }),
              o,
            ),
          ),
        ),
      ),
    );
  }
}

/** The DynamoDB lock as a TurnLock: its writes compare and swap, so there is nothing to confirm. */
export function dynamoTurnLock(lock: DynamoLock, stalenessMs: number): TurnLock {
  return {
    what: `the lock in ${lock.table}`,
    view: async (ctx) => worstView(await lock.current(ctx), ctx.identity.instanceId),
    orphan: async (ctx) => orphanIn(await lock.current(ctx), ctx.identity.instanceId),
    take: (ctx) => lock.take(ctx),
    confirm: () => ({ ok: true }),
    fence: (ctx, turn) => lock.fence(ctx, turn, stalenessMs),
    release: (ctx, turn) => lock.release(ctx, turn),
    releaseOrphaned: (ctx, turn) => lock.release(ctx, turn),
    // A fenced turn expires LEASE after its fence; its act deadline ends well before. (Unfenced, the
    // holder sent nothing: the same bound is merely cautious.)
    actingUntil: (turn) => turn.expiresAt - leaseMs(stalenessMs) + ACT_CALL_DEADLINE_MS,
  };
}
