import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import {
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
} from "@aws-sdk/client-auto-scaling";
import { PutItemCommand, ScanCommand } from "@aws-sdk/client-dynamodb";
import { runCli } from "../helpers/cli";
import { type MotoWorld, motoAvailable, startMoto } from "./moto";

/**
 * The agent against moto, a second, independent emulator of AWS: the same jobs as against our own
 * simulator, asserted on moto's state afterwards. `npm run test:moto` runs this file alone.
 */
const available = motoAvailable();
const skip = available === true ? false : available;

describe("the agent against moto (a second opinion)", { skip, concurrency: false }, () => {
  let moto: MotoWorld | undefined;
  afterEach(async () => {
    await moto?.stop();
    moto = undefined;
  });

  const lifecycleOf = async (id: string) =>
    (await moto!.clients.asg.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [id] })))
      .AutoScalingInstances?.[0]?.LifecycleState;
  const groupOf = async () =>
    (
      await moto!.clients.asg.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [moto!.group] }),
      )
    ).AutoScalingGroups![0]!;
  const agent = async (id: string, args: string[]) =>
    runCli({ env: await moto!.envFor(id) }, args, { killAfterMs: 120_000 });

  it("status, out, in, run and iam-policy on a group of three behind a classic ELB and a target group", async () => {
    moto = await startMoto({ min: 1, desired: 3 });
    const [me] = await moto.groupInstances();
    const status = await agent(me!, ["status", "--json"]);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout) as { group: string; instanceId: string; exitCode: number };
    assert.equal(s.group, "web");
    assert.equal(s.instanceId, me);

    const out = await agent(me!, ["out"]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(await lifecycleOf(me!), "Standby");
    assert.equal((await groupOf()).DesiredCapacity, 2, "EnterStandby decremented desired capacity");

    const again = await agent(me!, ["out", "--json"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { outcome: string }).outcome, "already");

    const back = await agent(me!, ["in"]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(await lifecycleOf(me!), "InService");
    assert.equal((await groupOf()).DesiredCapacity, 3);

    const run = await agent(me!, ["run", "--", "sh", "-c", "exit 0"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await lifecycleOf(me!), "InService");
    assert.ok(moto.actions.includes("EnterStandby") && moto.actions.includes("ExitStandby"));

    const policy = await agent(me!, ["iam-policy", "--group", "web"]);
    assert.equal(policy.code, 0);
    assert.match(policy.stdout, /autoscaling:EnterStandby/);
  });

  it("the budget refuses a second host out (exit 3), as against the simulator", async () => {
    moto = await startMoto({ min: 1, desired: 3 });
    const [a, b] = await moto.groupInstances();
    assert.equal((await agent(a!, ["out", "-q"])).code, 0);
    const second = await agent(b!, ["out"]);
    assert.equal(second.code, 3, second.stderr);
    assert.match(second.stderr, /out of service or unhealthy at once/);
    assert.equal(await lifecycleOf(b!), "InService");
  });

  it("the MinSize path: a group at its MinSize is lowered while the host is out, and restored", async () => {
    moto = await startMoto({ min: 3, desired: 3 });
    const [me] = await moto.groupInstances();
    const out = await agent(me!, ["out"]);
    assert.equal(out.code, 0, out.stderr);
    let g = await groupOf();
    assert.equal(g.MinSize, 2);
    assert.ok(
      g.Tags?.some((t) => t.Key === `balanced:min-size:${me}`),
      "the record is on the group",
    );
    const back = await agent(me!, ["in"]);
    assert.equal(back.code, 0, back.stderr);
    g = await groupOf();
    assert.equal(g.MinSize, 3);
    assert.equal(g.DesiredCapacity, 3);
    assert.ok(!g.Tags?.some((t) => t.Key?.startsWith("balanced:")), "no balanced:* tag left");
  });

  it("a host in no group: named load balancers, then --discover", async () => {
    moto = await startMoto({ min: 1, desired: 2 });
    const me = moto.loneInstance;
    const named = ["--load-balancer", moto.lbName, "--target-group", moto.tgArn];
    const status = await agent(me, ["status", ...named]);
    assert.equal(status.code, 0, status.stderr);
    const out = await agent(me, ["out", ...named]);
    assert.equal(out.code, 0, out.stderr);
    const back = await agent(me, ["in", "--discover"]);
    assert.equal(back.code, 0, back.stderr);
    assert.ok(moto.actions.includes("DeregisterTargets") && moto.actions.includes("RegisterTargets"));
    assert.ok(
      moto.actions.includes("DeregisterInstancesFromLoadBalancer") &&
        moto.actions.includes("RegisterInstancesWithLoadBalancer"),
    );
  });

  it("the DynamoDB lock on moto's DynamoDB: lock create, out and in give the lock back, a held lock refuses", async () => {
    moto = await startMoto({ min: 1, desired: 3 });
    const [a, b] = await moto.groupInstances();
    const TABLE = "balanced-locks";
    const LOCK = ["--lock", `dynamodb:${TABLE}`];
    const made = await agent(a!, ["lock", "create", ...LOCK]);
    assert.equal(made.code, 0, made.stderr);
    const again = await agent(a!, ["lock", "create", ...LOCK, "--json"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { outcome: string }).outcome, "already");
    const items = async () =>
      (await moto!.clients.dynamodb.send(new ScanCommand({ TableName: TABLE }))).Items ?? [];

    const out = await agent(a!, ["out", ...LOCK]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(await lifecycleOf(a!), "Standby");
    assert.deepEqual(await items(), [], "out gave the lock back");
    const back = await agent(a!, ["in", ...LOCK]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(await lifecycleOf(a!), "InService");
    assert.deepEqual(await items(), []);
    assert.ok(moto.actions.includes("PutItem") && moto.actions.includes("DeleteItem"));

    // Another host's live turn: the conditional write fails on moto as on AWS, and out refuses.
    const expires = Date.now() + 60_000;
    await moto.clients.dynamodb.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          lockKey: { S: `group:${moto.group}` },
          turn: { S: `${b} pid=1 nonce=abc expires=${new Date(expires).toISOString()}` },
          holder: { S: b! },
          nonce: { S: "abc" },
          expiresAt: { N: String(expires) },
          version: { N: "1" },
        },
      }),
    );
    const refused = await agent(a!, ["out", ...LOCK]);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, new RegExp(`${b} holds the lock in ${TABLE}`));
    assert.equal(await lifecycleOf(a!), "InService");
    assert.equal((await items()).length, 1, "the other host's turn is left alone");
  });
});
