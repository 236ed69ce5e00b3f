/**
 * `balanced lock create --lock dynamodb:TABLE`: the lock's table (src/aws/lock.ts), made once per
 * account and region by an operator. Idempotent: an existing table with the lock's key is checked
 * and completed (time to live), never replaced.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { awsCall, createClients } from "../aws/clients";
import { readIdentity } from "../aws/identity";
import { LOCK_KEY, TTL_ATTRIBUTE } from "../aws/lock";
import { AwsCallError, awsRefused, timedOut } from "../errors";
import type { MoveResult } from "./move";
import type { Run } from "./run";

/** CreateTable takes seconds to a minute; DescribeTable is cheap enough to ask every few seconds. */
const ACTIVE_WITHIN_S = 300;

export async function lock(run: Run): Promise<MoveResult> {
  const table = run.options.lock!.table;
  // From a workstation the standard environment names the region; on a host, its metadata does.
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (await readIdentity()).region;
  // Loaded here, not at start-up: only this command and `--lock` need DynamoDB (src/aws/clients.ts).
  const sdk = await import("@aws-sdk/client-dynamodb");
  const { CreateTableCommand, DescribeTableCommand } = sdk;
  const db = await createClients(region).dynamodb();
  const call = <T>(
    action: Parameters<typeof awsCall>[1],
    send: (o: { abortSignal?: AbortSignal }) => Promise<T>,
  ) => awsCall(run.log, action, run.signal, send);

  const existing = await call("dynamodb:DescribeTable", (o) =>
    db.send(new DescribeTableCommand({ TableName: table }), o),
  ).catch((err: unknown) => {
    if (err instanceof AwsCallError && err.awsCode === "ResourceNotFoundException") return undefined;
    throw err;
  });
  let created = false;
  if (existing?.Table) {
    const key = existing.Table.KeySchema ?? [];
    if (key.length !== 1 || key[0]?.AttributeName !== LOCK_KEY)
      throw awsRefused(
        `table ${table} exists with the key ${key.map((k) => `${k.AttributeName} (${k.KeyType})`).join(", ") || "(none)"}, not ${LOCK_KEY} (HASH, string): name another table for the lock`,
      );
  } else {
    run.reporter.step(`creating table ${table} in ${region} (on-demand, key ${LOCK_KEY})`);
    await call("dynamodb:CreateTable", (o) =>
      db.send(
        new CreateTableCommand({
          TableName: table,
          BillingMode: "PAY_PER_REQUEST",
          KeySchema: [{ AttributeName: LOCK_KEY, KeyType: "HASH" }],
          AttributeDefinitions: [{ AttributeName: LOCK_KEY, AttributeType: "S" }],
        }),
        o,
      ),
    ).catch((err: unknown) => {
      // Another operator made it just now: carry on as if it had been there.
      if (err instanceof AwsCallError && err.awsCode === "ResourceInUseException") return undefined;
      throw err;
    });
    created = true;
  }
  await waitActive(run, sdk, db, table);
  const ttl = await ensureTtl(run, sdk, db, table);
  return {
    outcome: created ? "done" : "already",
    message: `${created ? "created" : "found"} table ${table} in ${region}: ACTIVE, key ${LOCK_KEY}, time to live on ${ttl}; use --lock dynamodb:${table} (or BALANCED_LOCK) on every host`,
  };
}

type DynamoSdk = typeof import("@aws-sdk/client-dynamodb");

async function waitActive(run: Run, sdk: DynamoSdk, db: DynamoDBClient, table: string): Promise<void> {
  run.reporter.step(`waiting for table ${table} to be ACTIVE (up to ${ACTIVE_WITHIN_S} s)`);
  run.log.note("dynamodb:DescribeTable");
  await sdk
    .waitUntilTableExists(
      {
        client: db,
        maxWaitTime: ACTIVE_WITHIN_S,
        minDelay: 2,
        maxDelay: 10,
        ...(run.signal ? { abortSignal: run.signal } : {}),
      },
      { TableName: table },
    )
    .catch((err: unknown) => {
      throw timedOut(
        `table ${table} was not ACTIVE within ${ACTIVE_WITHIN_S} s: ${(err as Error).message.split("\n")[0]}`,
      );
    });
}

/** Time to live on the lock's expiry attribute: on if off; another attribute is left as it is, with a warning. */
async function ensureTtl(run: Run, sdk: DynamoSdk, db: DynamoDBClient, table: string): Promise<string> {
  const { DescribeTimeToLiveCommand, UpdateTimeToLiveCommand } = sdk;
  const now = await awsCall(run.log, "dynamodb:DescribeTimeToLive", run.signal, (o) =>
    db.send(new DescribeTimeToLiveCommand({ TableName: table }), o),
  );
  const status = now.TimeToLiveDescription?.TimeToLiveStatus ?? "DISABLED";
  const attribute = now.TimeToLiveDescription?.AttributeName;
  if (status === "ENABLED" || status === "ENABLING") {
    if (attribute !== TTL_ATTRIBUTE)
      run.reporter.step(
        `warning: table ${table} expires items on ${attribute}, not ${TTL_ATTRIBUTE}: old turns stay in the table (harmless: balanced judges expiry itself)`,
      );
    return `${attribute} (${status})`;
  }
  run.reporter.step(`turning on time to live on ${TTL_ATTRIBUTE}, so that old turns are deleted`);
  await awsCall(run.log, "dynamodb:UpdateTimeToLive", run.signal, (o) =>
    db.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { Enabled: true, AttributeName: TTL_ATTRIBUTE },
      }),
      o,
    ),
  );
  return `${TTL_ATTRIBUTE} (ENABLING)`;
}
