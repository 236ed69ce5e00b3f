/**
 * The lock's table itself (`balanced lock create`): DynamoDB's table calls, loaded only for that
 * command. What to create, and what an existing table must look like, is src/commands/lock.ts's.
 */
import type { TableDescription } from "@aws-sdk/client-dynamodb";
import { AwsCallError, timedOut } from "../errors";
import type { CallLog } from "./call-log";
import { awsCall, createClients } from "./clients";
import { LOCK_KEY, TTL_ATTRIBUTE } from "./lock";

export interface LockTable {
  /** The table as DynamoDB describes it, or undefined when there is none. */
  describe(): Promise<TableDescription | undefined>;
  /** On-demand, keyed LOCK_KEY; made by another caller in between (ResourceInUse) is as good. */
  create(): Promise<void>;
  /** Until the table is ACTIVE, at most `withinS` seconds (exit 5 after). */
  waitActive(withinS: number): Promise<void>;
  timeToLive(): Promise<{ status: string; attribute: string | undefined }>;
  enableTimeToLive(): Promise<void>;
}

export async function lockTable(
  log: CallLog,
  signal: AbortSignal | undefined,
  region: string,
  table: string,
): Promise<LockTable> {
  // Loaded here, not at start-up: only this command and `--lock` need DynamoDB (src/aws/clients.ts).
  const sdk = await import("@aws-sdk/client-dynamodb");
  const db = await createClients(region).dynamodb();
  const unless = (code: string) => (err: unknown) => {
    if (err instanceof AwsCallError && err.awsCode === code) return undefined;
    throw err;
  };
  return {
    async describe() {
      const res = await awsCall(log, "dynamodb:DescribeTable", signal, (o) =>
        db.send(new sdk.DescribeTableCommand({ TableName: table }), o),
      ).catch(unless("ResourceNotFoundException"));
      return res?.Table;
    },
    async create() {
      await awsCall(log, "dynamodb:CreateTable", signal, (o) =>
        db.send(
          new sdk.CreateTableCommand({
            TableName: table,
            BillingMode: "PAY_PER_REQUEST",
            KeySchema: [{ AttributeName: LOCK_KEY, KeyType: "HASH" }],
            AttributeDefinitions: [{ AttributeName: LOCK_KEY, AttributeType: "S" }],
          }),
          o,
        ),
      ).catch(unless("ResourceInUseException"));
    },
    async waitActive(withinS) {
      log.note("dynamodb:DescribeTable");
      await sdk
        .waitUntilTableExists(
          {
            client: db,
            maxWaitTime: withinS,
            minDelay: 2,
            maxDelay: 10,
            ...(signal ? { abortSignal: signal } : {}),
          },
          { TableName: table },
        )
        .catch((err: unknown) => {
          throw timedOut(
            `table ${table} was not ACTIVE within ${withinS} s: ${(err as Error).message.split("\n")[0]}`,
          );
        });
    },
    async timeToLive() {
      const res = await awsCall(log, "dynamodb:DescribeTimeToLive", signal, (o) =>
        db.send(new sdk.DescribeTimeToLiveCommand({ TableName: table }), o),
      );
      return {
        status: res.TimeToLiveDescription?.TimeToLiveStatus ?? "DISABLED",
        attribute: res.TimeToLiveDescription?.AttributeName,
      };
    },
    async enableTimeToLive() {
      await awsCall(log, "dynamodb:UpdateTimeToLive", signal, (o) =>
        db.send(
          new sdk.UpdateTimeToLiveCommand({
            TableName: table,
            TimeToLiveSpecification: { Enabled: true, AttributeName: TTL_ATTRIBUTE },
          }),
          o,
        ),
      );
    },
  };
}
