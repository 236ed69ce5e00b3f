import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  GetItemCommand,
  PutItemCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { clientsFor, control, eventually, sleep } from "../helpers/clients";
import { loadFleet } from "./fleet";
import { type Sim, startSim } from "./server";

const A = "i-0a000000000000001";
const TABLE = "locks";
const key = { lockKey: { S: "group:web" } };

/** The DynamoDB a lock needs, through the real SDK client: tables, conditions, consistency. */
describe("simulator: DynamoDB", () => {
  let sim: Sim;
  const db = () => clientsFor(sim.hosts[A]!, { maxAttempts: 1 }).dynamodb;
  beforeEach(async () => {
    // Scale 100: the table's 20 s of CREATING take 0.2 s.
    sim = await startSim(loadFleet("three-hosts"), { timeScale: 100, seed: 3 });
  });
  afterEach(() => sim.stop());

  const create = () =>
    db().send(
      new CreateTableCommand({
        TableName: TABLE,
        BillingMode: "PAY_PER_REQUEST",
        KeySchema: [{ AttributeName: "lockKey", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "lockKey", AttributeType: "S" }],
      }),
    );
  const active = async () => {
    await create();
    await eventually(async () => {
      const t = await db().send(new DescribeTableCommand({ TableName: TABLE }));
      return t.Table?.TableStatus === "ACTIVE";
    });
  };

  it("creates a table asynchronously: CREATING refuses item calls, a second create is ResourceInUse", async () => {
    const created = await create();
    assert.equal(created.TableDescription?.TableStatus, "CREATING");
    await assert.rejects(
      db().send(new GetItemCommand({ TableName: TABLE, Key: key })),
      ResourceNotFoundException,
    );
    await assert.rejects(create(), ResourceInUseException);
    await eventually(async () => {
      const t = await db().send(new DescribeTableCommand({ TableName: TABLE }));
      return t.Table?.TableStatus === "ACTIVE";
    });
    await db().send(
      new UpdateTimeToLiveCommand({
        TableName: TABLE,
        TimeToLiveSpecification: { Enabled: true, AttributeName: "ttl" },
      }),
    );
    const ttl = await db().send(new DescribeTimeToLiveCommand({ TableName: TABLE }));
    assert.match(ttl.TimeToLiveDescription?.TimeToLiveStatus ?? "", /ENABLING|ENABLED/);
    assert.equal(ttl.TimeToLiveDescription?.AttributeName, "ttl");
  });

  it("conditional writes: the second taker fails with ConditionalCheckFailedException and the old item", async () => {
    await active();
    const take = (holder: string) =>
      db().send(
        new PutItemCommand({
          TableName: TABLE,
          Item: { ...key, holder: { S: holder }, version: { N: "1" } },
          ConditionExpression: "attribute_not_exists(lockKey) OR #v < :v",
          ExpressionAttributeNames: { "#v": "version" },
          ExpressionAttributeValues: { ":v": { N: "0" } },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
    await take("a");
    const err = await take("b").catch((e: unknown) => e);
    assert.ok(err instanceof ConditionalCheckFailedException, String(err));
    assert.equal(err.Item?.holder?.S, "a");
    // Fenced update, and a delete conditioned on the holder.
    await db().send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: key,
        UpdateExpression: "SET #v = #v + :one",
        ConditionExpression: "holder = :me",
        ExpressionAttributeNames: { "#v": "version" },
        ExpressionAttributeValues: { ":one": { N: "1" }, ":me": { S: "a" } },
      }),
    );
    await assert.rejects(
      db().send(
        new DeleteItemCommand({
          TableName: TABLE,
          Key: key,
          ConditionExpression: "holder = :me",
          ExpressionAttributeValues: { ":me": { S: "b" } },
        }),
      ),
      ConditionalCheckFailedException,
    );
    const got = await db().send(new GetItemCommand({ TableName: TABLE, Key: key, ConsistentRead: true }));
    assert.equal(got.Item?.version?.N, "2");
    await db().send(
      new DeleteItemCommand({
        TableName: TABLE,
        Key: key,
        ConditionExpression: "holder = :me",
        ExpressionAttributeValues: { ":me": { S: "a" } },
      }),
    );
    assert.equal(
      (await db().send(new GetItemCommand({ TableName: TABLE, Key: key, ConsistentRead: true }))).Item,
      undefined,
    );
  });

  it("stale-reads: an eventually consistent GetItem may answer from the past; ConsistentRead never does", async () => {
    await active();
    const put = (v: string) =>
      db().send(new PutItemCommand({ TableName: TABLE, Item: { ...key, holder: { S: v } } }));
    await put("old");
    await control(sim, "POST", "faults", { service: "dynamodb", kind: "stale-reads", ms: 1500 });
    await sleep(1600);
    await put("new");
    const read = (consistent: boolean) =>
      db()
        .send(new GetItemCommand({ TableName: TABLE, Key: key, ConsistentRead: consistent }))
        .then((r) => r.Item?.holder?.S);
    const eventual = await Promise.all(Array.from({ length: 20 }, () => read(false)));
    assert.ok(eventual.includes("old"), `no stale answer in ${eventual}`);
    const strong = await Promise.all(Array.from({ length: 20 }, () => read(true)));
    assert.deepEqual(new Set(strong), new Set(["new"]));
  });

  it("refuses what DynamoDB refuses: unused expression values, undefined names", async () => {
    await active();
    await assert.rejects(
      db().send(
        new PutItemCommand({
          TableName: TABLE,
          Item: key,
          ConditionExpression: "attribute_not_exists(lockKey)",
          ExpressionAttributeValues: { ":x": { S: "y" } },
        }),
      ),
      /unused in expressions/,
    );
    await assert.rejects(
      db().send(new PutItemCommand({ TableName: TABLE, Item: key, ConditionExpression: "#h = :x" })),
      /attribute name .* not defined|not defined/,
    );
  });
});
