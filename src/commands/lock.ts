/**
 * `balanced lock create --lock dynamodb:TABLE`: the lock's table (src/aws/lock.ts), made once per
 * account and region by an operator. Idempotent: an existing table with the lock's key is checked
 * and completed (time to live), never replaced.
 */
import { readIdentity } from "../aws/identity";
import { LOCK_KEY, TTL_ATTRIBUTE } from "../aws/lock";
import { type LockTable, lockTable } from "../aws/lock-table";
import { awsRefused } from "../errors";
import type { MoveResult } from "./results";
import type { Run } from "./run";

/** CreateTable takes seconds to a minute; DescribeTable is cheap enough to ask every few seconds. */
const ACTIVE_WITHIN_S = 300;

export async function lock(run: Run): Promise<MoveResult> {
  const table = run.options.lock!.table;
  // From a workstation the standard environment names the region; on a host, its metadata does.
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (await readIdentity()).region;
  const api = await lockTable(run.log, run.signal, region, table);

  const existing = await api.describe();
  let created = false;
  if (existing) {
    const key = existing.KeySchema ?? [];
    if (key.length !== 1 || key[0]?.AttributeName !== LOCK_KEY)
      throw awsRefused(
        `table ${table} exists with the key ${key.map((k) => `${k.AttributeName} (${k.KeyType})`).join(", ") || "(none)"}, not ${LOCK_KEY} (HASH, string): name another table for the lock`,
      );
  } else {
    run.reporter.step(`creating table ${table} in ${region} (on-demand, key ${LOCK_KEY})`);
    // Made by another operator just now: carry on as if it had been there.
    await api.create();
    created = true;
  }
  run.reporter.step(`waiting for table ${table} to be ACTIVE (up to ${ACTIVE_WITHIN_S} s)`);
  await api.waitActive(ACTIVE_WITHIN_S);
  const ttl = await ensureTtl(run, api, table);
  return {
    outcome: created ? "done" : "already",
    message: `${created ? "created" : "found"} table ${table} in ${region}: ACTIVE, key ${LOCK_KEY}, time to live on ${ttl}; use --lock dynamodb:${table} (or BALANCED_LOCK) on every host`,
  };
}

/** Time to live on the lock's expiry attribute: on if off; another attribute is left as it is, with a warning. */
async function ensureTtl(run: Run, api: LockTable, table: string): Promise<string> {
  const { status, attribute } = await api.timeToLive();
  if (status === "ENABLED" || status === "ENABLING") {
    if (attribute !== TTL_ATTRIBUTE)
      run.reporter.step(
        `warning: table ${table} expires items on ${attribute}, not ${TTL_ATTRIBUTE}: old turns stay in the table (harmless: balanced judges expiry itself)`,
      );
    return `${attribute} (${status})`;
  }
  run.reporter.step(`turning on time to live on ${TTL_ATTRIBUTE}, so that old turns are deleted`);
  await api.enableTimeToLive();
  return `${TTL_ATTRIBUTE} (ENABLING)`;
}
