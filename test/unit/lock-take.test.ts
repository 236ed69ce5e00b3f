import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { CallLog } from "../../src/aws/call-log";
import { createClients } from "../../src/aws/clients";
import { DynamoLock } from "../../src/aws/lock";
import type { ReadContext } from "../../src/aws/read";
import { formatTurn, parseTurn, type Turn } from "../../src/core/turn";
import { runCli } from "../helpers/cli";
import { clientsFor } from "../helpers/clients";
import { loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const A = "i-0a000000000000001";
const B = "i-0a000000000000002";
const TABLE = "balanced-locks";
/** No process has this pid: a turn of A's carrying it is a killed run's. */
const DEAD_PID = 9_999_999;

/**
 * DynamoLock.take over a turn of a killed earlier run on this host, against the simulator's
 * DynamoDB (the real SDK on the wire): it reports the turn it wrote over, lasts at least as long,
 * and an attempt that fails does not give back what it wrote over that turn.
 */
describe("DynamoLock.take over a killed run's turn", () => {
  let sim: Sim;
  let ctx: ReadContext;
  const saved = { ...process.env };

  before(async () => {
    sim = await startSim(loadFleet("three-hosts"), { timeScale: 100 });
    const made = await runCli(sim.hosts[A]!, ["lock", "create", "--lock", `dynamodb:${TABLE}`]);
    assert.equal(made.code, 0, made.stderr);
    // The agent's own clients, configured as on host A: by the standard environment.
    Object.assign(process.env, sim.hosts[A]!.env);
    ctx = {
      clients: createClients(sim.hosts[A]!.env.AWS_REGION!),
      log: new CallLog(),
      signal: undefined,
      identity: { instanceId: A, region: "", availabilityZone: "", privateIp: undefined, privateIps: [] },
      extraLoadBalancerNames: [],
      extraTargetGroupArns: [],
      discover: false,
    };
  });
  after(async () => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    await sim?.stop();
  });

  const put = (key: string, turn: Turn) =>
    clientsFor(sim.hosts[B]!).dynamodb.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          lockKey: { S: key },
          turn: { S: formatTurn(turn) },
          holder: { S: turn.holder },
          nonce: { S: turn.nonce },
          expiresAt: { N: String(turn.expiresAt) },
          version: { N: "1" },
        },
      }),
    );
  const item = (key: string) => sim.world().tables.get(TABLE)?.items.get(key);

  it("takes it, says whose it replaced, and lasts no shorter than it", async () => {
    // Fenced just before the kill: its lease outlasts a fresh take's.
    const orphan = { holder: A, pid: DEAD_PID, nonce: "killed1", expiresAt: Date.now() + 120_000 };
    await put("group:one", orphan);
    const attempt = await new DynamoLock(TABLE, ["group:one"]).take(ctx);
    assert.ok(attempt.taken);
    assert.equal(attempt.replaced?.nonce, "killed1");
    assert.ok(attempt.turn.expiresAt >= orphan.expiresAt);
    assert.equal(parseTurn(item("group:one")?.turn?.S)?.nonce, attempt.turn.nonce);
    assert.ok(Number(item("group:one")?.expiresAt?.N) >= orphan.expiresAt);
  });

  it("refused on a later key, it keeps the key it wrote over the killed run's turn", async () => {
    const orphan = { holder: A, pid: DEAD_PID, nonce: "killed2", expiresAt: Date.now() + 50_000 };
    const live = { holder: B, pid: 1, nonce: "live", expiresAt: Date.now() + 60_000 };
    await put("group:two", orphan);
    await put("tg:two", live);
    const attempt = await new DynamoLock(TABLE, ["group:two", "tg:two"]).take(ctx);
    assert.equal(attempt.taken, false);
    // Deleted, the killed run's EnterStandby, which may still land, would have nothing keeping
    // other hosts waiting: the key stays, no shorter than the killed run's.
    const kept = item("group:two");
    assert.ok(kept, "the key written over the killed run's turn was given back");
    assert.equal(kept.holder?.S, A);
    assert.ok(Number(kept.expiresAt?.N) >= orphan.expiresAt);
    assert.equal(item("tg:two")?.nonce?.S, "live");
  });

  it("a key it took that held no killed run's turn is given back when refused later", async () => {
    const live = { holder: B, pid: 1, nonce: "live3", expiresAt: Date.now() + 60_000 };
    await put("tg:three", live);
    const attempt = await new DynamoLock(TABLE, ["group:three", "tg:three"]).take(ctx);
    assert.equal(attempt.taken, false);
    assert.equal(item("group:three"), undefined);
  });
});
