import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { afterEach, describe, it } from "node:test";
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { BUNDLE, lifecycleOf, runCli } from "../helpers/cli";
import { clientsFor, control, sleep } from "../helpers/clients";
import { loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const A = "i-0a000000000000001";
const B = "i-0a000000000000002";
const C = "i-0a000000000000003";
const TABLE = "balanced-locks";
const LOCK = ["--lock", `dynamodb:${TABLE}`];
const hasFaketime = spawnSync("sh", ["-c", "command -v faketime"]).status === 0;

interface History {
  group?: string;
  loadBalancer?: string;
  outOfService: number;
}

const items = (sim: Sim) => [...(sim.world().tables.get(TABLE)?.items.values() ?? [])];

/**
 * `--lock dynamodb:TABLE`: the turn as conditional writes on a DynamoDB table in the simulator,
 * through the built CLI. Each test asserts on exit codes, on what was printed, and on the
 * simulator's state and history after the run.
 */
describe("the DynamoDB lock", () => {
  let sim: Sim;
  afterEach(() => sim?.stop());

  const start = async (fleet = "three-hosts") => {
    sim = await startSim(loadFleet(fleet), { timeScale: 100 });
    const first = Object.values(sim.hosts)[0]!;
    const made = await runCli(first, ["lock", "create", ...LOCK]);
    assert.equal(made.code, 0, made.stderr);
    return sim;
  };

  it("lock create makes the table once (on-demand, time to live), then finds it; bad specs are usage errors", async () => {
    await start();
    const table = sim.world().tables.get(TABLE)!;
    assert.equal(table.status, "ACTIVE");
    assert.equal(table.billingMode, "PAY_PER_REQUEST");
    assert.equal(table.ttl?.attribute, "ttl");
    const again = await runCli(sim.hosts[A]!, ["lock", "create", ...LOCK, "--json"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).outcome, "already");
    const missing = await runCli(sim.hosts[A]!, ["lock", "create"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /lock create needs the table: --lock dynamodb:TABLE/);
    const bad = await runCli(sim.hosts[A]!, ["out", "--lock", "redis:x"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--lock takes dynamodb:TABLE .*not "redis:x"/);
    assert.doesNotMatch(bad.stderr + missing.stderr, /at .*\.js:\d+/);
  });

  it("out and in take and give back the lock: no item is left, no tag is written", async () => {
    await start();
    const out = await runCli(sim.hosts[A]!, ["out", ...LOCK]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /taking the lock in balanced-locks for web/);
    assert.equal(await lifecycleOf(sim, A), "Standby");
    assert.deepEqual(items(sim), []);
    assert.equal(sim.world().groups.get("web")!.tags.has("balanced:turn"), false);
    // One fence per key (the group and its two load balancers), right before EnterStandby: with
    // MinSize not lowered there is no earlier change to fence.
    assert.equal(sim.calls.filter((c) => c.action === "UpdateItem").length, 3);
    const back = await runCli(sim.hosts[A]!, ["in"]);
    assert.equal(back.code, 0, back.stderr);
  });

  it("a held lock refuses out with exit 4 naming the holder; --dry-run and status say the same", async () => {
    await start();
    const expires = Date.now() + 60_000;
    const turn = `${B} pid=1 nonce=abc expires=${new Date(expires).toISOString()}`;
    await clientsFor(sim.hosts[B]!).dynamodb.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          lockKey: { S: "group:web" },
          turn: { S: turn },
          holder: { S: B },
          nonce: { S: "abc" },
          expiresAt: { N: String(expires) },
          version: { N: "1" },
        },
      }),
    );
    const out = await runCli(sim.hosts[A]!, ["out", ...LOCK]);
    assert.equal(out.code, 4, out.stderr);
    assert.match(out.stderr, new RegExp(`${B} holds the lock in balanced-locks`));
    assert.equal(await lifecycleOf(sim, A), "InService");
    const dry = await runCli(sim.hosts[A]!, ["out", "--dry-run", ...LOCK]);
    assert.equal(dry.code, 4, dry.stderr);
    const status = await runCli(sim.hosts[A]!, ["status", ...LOCK]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`turn +held by ${B} .*\\(lock table balanced-locks\\)`));
    // The other host's item is untouched: nobody deletes a turn that is not theirs.
    assert.equal(items(sim).find((i) => i.lockKey?.S === "group:web")?.nonce?.S, "abc");
  });

  it("an item balanced cannot read blocks out (exit 4) until repair --lock removes it; a live turn stays", async () => {
    await start();
    const db = clientsFor(sim.hosts[B]!).dynamodb;
    await db.send(
      new PutItemCommand({ TableName: TABLE, Item: { lockKey: { S: "group:web" }, note: { S: "by hand" } } }),
    );
    const blocked = await runCli(sim.hosts[A]!, ["out", ...LOCK]);
    assert.equal(blocked.code, 4, blocked.stderr);
    const expires = Date.now() + 60_000;
    const live = `${B} pid=1 nonce=live expires=${new Date(expires).toISOString()}`;
    await db.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          lockKey: { S: "elb:web-classic" },
          turn: { S: live },
          nonce: { S: "live" },
          expiresAt: { N: String(expires) },
          version: { N: "1" },
        },
      }),
    );
    const fixed = await runCli(sim.hosts[C]!, ["repair", ...LOCK]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(fixed.stdout, /removed an unreadable lock item group:web/);
    assert.deepEqual(
      items(sim).map((i) => i.lockKey?.S),
      ["elb:web-classic"],
      "another host's live turn is left",
    );
  });

  it("two groups behind one target group take turns: the lock spans the shared target group", async () => {
    await start("two-groups-shared-tg");
    const blue = sim.hosts["i-0b000000000000001"]!;
    const green = sim.hosts["i-0c000000000000001"]!;
    await control(sim, "POST", "faults", [
      { service: "autoscaling", kind: "latency", ms: 0, jitterMs: 200 },
      { service: "dynamodb", kind: "latency", ms: 0, jitterMs: 200 },
    ]);
    const [b, g] = await Promise.all([runCli(blue, ["out", ...LOCK]), runCli(green, ["out", ...LOCK])]);
    const codes = [b.code, g.code].sort();
    assert.deepEqual(codes, [0, 4], `${b.stderr}\n${g.stderr}`);
    assert.match(b.code === 4 ? b.stderr : g.stderr, /holds the lock in balanced-locks/);
  });

  it("racing hosts with every describe up to 10 s stale and lost answers: never two out", async () => {
    await start();
    await control(sim, "POST", "faults", [
      { service: "*", kind: "stale-reads", ms: 10_000 },
      { service: "dynamodb", kind: "lost-response", probability: 0.3 },
      { service: "dynamodb", kind: "latency", ms: 0, jitterMs: 300 },
    ]);
    const results = await Promise.all(
      Object.values(sim.hosts).map((h) =>
        runCli(h, ["out", ...LOCK, "--staleness-bound", "10s"], { killAfterMs: 120_000 }),
      ),
    );
    const codes = results.map((r) => r.code);
    assert.equal(codes.filter((c) => c === 0).length, 1, results.map((r) => r.stderr).join("\n---\n"));
    const history = (await control(sim, "GET", "history?all")) as History[];
    const maxOut = Math.max(0, ...history.filter((h) => h.group === "web").map((h) => h.outOfService));
    assert.equal(maxOut, 1);
  });

  it("a clock 30 s off AWS's is refused (exit 4) before the lock is touched", {
    skip: hasFaketime ? false : "needs faketime (apt-get install faketime)",
  }, async () => {
    await start();
    const skewed = await runCli(sim.hosts[A]!, ["-f", "+30s", process.execPath, BUNDLE, "out", ...LOCK], {
      executable: "faketime",
    });
    assert.equal(skewed.code, 4, skewed.stderr);
    assert.match(skewed.stderr, /this host's clock is 3\d s ahead of AWS's/);
    assert.equal(await lifecycleOf(sim, A), "InService");
    assert.deepEqual(items(sim), []);
  });

  it("in after a killed out waits until that run's EnterStandby can no longer land, then brings the host back", async () => {
    await start();
    // EnterStandby is applied 4 s after it arrives; the out is killed while it is on its way.
    await control(sim, "POST", "faults", {
      service: "autoscaling",
      action: "EnterStandby",
      kind: "slow-apply",
      ms: 4000,
      applyAt: "end",
    });
    const killed = await runCli(sim.hosts[A]!, ["out", ...LOCK], {
      interrupt: { signal: "SIGKILL", when: /entering standby/, afterMs: 1500 },
    });
    assert.equal(killed.signal, "SIGKILL");
    const back = await runCli(sim.hosts[A]!, ["in", ...LOCK], { killAfterMs: 120_000 });
    assert.equal(back.code, 0, back.stderr);
    assert.match(
      back.stderr,
      /a killed earlier run on this host \(pid \d+\) held the lock in balanced-locks/,
    );
    // The late EnterStandby landed while in waited, and in took the host back after it.
    assert.match(back.stderr, /exiting standby/);
    await sleep(1000);
    assert.equal(await lifecycleOf(sim, A), "InService");
    assert.deepEqual(items(sim), []);
  });

  it("repair on the host of a killed out keeps its lock until its EnterStandby shows in every read: in then brings the host back", async () => {
    await start();
    // Every describe answers as AWS may, from the staleness bound ago.
    await control(sim, "POST", "faults", {
      service: "autoscaling",
      kind: "stale-reads",
      ms: 10_000,
      fixed: true,
    });
    const args = [...LOCK, "--staleness-bound", "10s"];
    // Killed after EnterStandby was answered, before the lock goes back (a staleness bound later).
    const killed = await runCli(sim.hosts[A]!, ["out", ...args], {
      interrupt: { signal: "SIGKILL", when: /entering standby/, afterMs: 1000 },
    });
    assert.equal(killed.signal, "SIGKILL", `${killed.code} ${killed.stderr}`);
    assert.equal(await lifecycleOf(sim, A), "Standby");
    const repaired = await runCli(sim.hosts[A]!, ["repair", ...args], { killAfterMs: 120_000 });
    assert.equal(repaired.code, 0, repaired.stderr);
    assert.match(repaired.stdout, /gave back the turn a killed run on this host left/);
    assert.deepEqual(items(sim), []);
    // Given back at once, the lock no longer told `in` to wait, and its read (10 s old) still showed
    // the host in service: it never took the host out of Standby.
    const back = await runCli(sim.hosts[A]!, ["in", ...args], { killAfterMs: 120_000 });
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stderr, /exiting standby/);
    assert.equal(await lifecycleOf(sim, A), "InService");
  });

  /**
   * B's describes answer from the staleness bound ago, A's are fresh (AWS promises no more); then A's
   * `out` is SIGKILLed while its EnterStandby is on its way, leaving its lock item behind.
   */
  const killOutWhileBReadsStale = async (args: string[]) => {
    await control(sim, "POST", "faults", {
      service: "*",
      host: B,
      kind: "stale-reads",
      ms: 10_000,
      fixed: true,
    });
    const killed = await runCli(sim.hosts[A]!, ["out", ...args], {
      interrupt: { signal: "SIGKILL", when: /entering standby/, afterMs: 1000 },
    });
    assert.equal(killed.signal, "SIGKILL", `${killed.code} ${killed.stderr}`);
  };

  it("a rerun of a killed out finds the host leaving and gives the lock back only once every host's reads show it", async () => {
    await start();
    const args = [...LOCK, "--staleness-bound", "10s"];
    await killOutWhileBReadsStale(args);
    // B waits for the lock the killed run left. Given back the moment A's rerun saw A leaving, B took
    // it and its read, older than A's EnterStandby, counted A as serving: two hosts out.
    const [rerun, other] = await Promise.all([
      runCli(sim.hosts[A]!, ["out", ...args], { killAfterMs: 120_000 }),
      runCli(sim.hosts[B]!, ["out", ...args, "--wait-for-turn", "20s"], { killAfterMs: 120_000 }),
    ]);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(
      rerun.stderr,
      /giving back the lock in balanced-locks left by a killed earlier run on this host \(pid \d+\) in \d/,
    );
    assert.notEqual(other.code, 0, other.stderr);
    assert.equal(await lifecycleOf(sim, B), "InService");
    const history = (await control(sim, "GET", "history?all")) as History[];
    const maxOut = Math.max(0, ...history.filter((h) => h.group === "web").map((h) => h.outOfService));
    assert.equal(maxOut, 1);
  });

  it("a rerun of a killed out that takes over its lock and is stopped before acting keeps the lock while that run's EnterStandby may still land", async () => {
    await start();
    const args = [...LOCK, "--staleness-bound", "10s"];
    // A's EnterStandby lands 15 s after it is sent; A's snapshot reads take 3 s, so its rerun is
    // still reading under the lock when it is stopped.
    await control(sim, "POST", "faults", {
      service: "autoscaling",
      action: "EnterStandby",
      host: A,
      kind: "slow-apply",
      ms: 15_000,
      applyAt: "end",
    });
    await control(sim, "POST", "faults", {
      service: "autoscaling",
      action: "DescribeAutoScalingGroups",
      host: A,
      kind: "latency",
      ms: 3000,
    });
    await killOutWhileBReadsStale(args);
    // The rerun sees A in service (the EnterStandby has not landed), writes over the killed run's
    // lock and is stopped while it reads again. Given back at that moment, B took the lock, its read
    // (older than A's record on the load balancers) counted A as serving, and A's EnterStandby
    // landed after B left: two hosts out.
    const rerun = await runCli(sim.hosts[A]!, ["out", ...args], {
      interrupt: { signal: "SIGTERM", when: /taking the lock/, afterMs: 1500 },
      killAfterMs: 120_000,
    });
    assert.equal(rerun.code, 143, rerun.stderr);
    const other = await runCli(sim.hosts[B]!, ["out", ...args], { killAfterMs: 120_000 });
    // The killed run's EnterStandby has landed by now: A is out, B never left.
    await sleep(15_000);
    assert.equal(await lifecycleOf(sim, A), "Standby");
    const history = (await control(sim, "GET", "history?all")) as History[];
    const maxOut = Math.max(0, ...history.filter((h) => h.group === "web").map((h) => h.outOfService));
    assert.equal(maxOut, 1, `${other.code} ${other.stderr}`);
    assert.equal(await lifecycleOf(sim, B), "InService");
    // Refused for the lock A keeps (4), or, when the machine was slow enough that B's read shows A's
    // record on the load balancers, for the budget (3).
    assert.ok([3, 4].includes(other.code ?? -1), other.stderr);
    assert.match(rerun.stderr, /keeping the lock in balanced-locks: it replaced a killed earlier run's/);
    // Kept to expire by itself, no earlier than the killed run's would have.
    const kept = items(sim).find((i) => i.lockKey?.S === "group:web");
    assert.equal(kept?.holder?.S, A);
    assert.ok(Number(kept?.expiresAt?.N) > Date.now(), "the kept lock has expired already");
  });

  /**
   * Starts an `out` on a min-equals-desired group that is sent SIGTERM after lowering MinSize and
   * before EnterStandby; `run` is its result.
   */
  const outStoppedBeforeStandby = async () => {
    await start("min-equals-desired");
    // The fences are slow, so the signal comes while the one before EnterStandby is on its way.
    await control(sim, "POST", "faults", {
      service: "dynamodb",
      action: "UpdateItem",
      kind: "latency",
      ms: 1500,
    });
    const run = runCli(sim.hosts[A]!, ["out", ...LOCK], {
      interrupt: { signal: "SIGTERM", when: /entering standby/, afterMs: 300 },
      killAfterMs: 60_000,
    });
    return { run, web: sim.world().groups.get("web")! };
  };

  it("out stopped by SIGTERM after lowering MinSize, before EnterStandby: it puts MinSize back and gives the lock back (exit 143)", async () => {
    const { run, web } = await outStoppedBeforeStandby();
    const res = await run;
    assert.equal(res.code, 143, res.stderr);
    assert.match(res.stderr, /lowering MinSize of web 2 -> 1/);
    assert.match(res.stderr, /this host did not leave, so: MinSize of web restored 1 -> 2/);
    assert.equal(web.min, 2, "MinSize was left lowered");
    assert.deepEqual(
      [...web.tags.keys()].filter((k) => k.startsWith("balanced:")),
      [],
      "a record was left on the group",
    );
    assert.equal(await lifecycleOf(sim, A), "InService");
    assert.deepEqual(items(sim), []);
    assert.equal(sim.calls.filter((c) => c.action === "EnterStandby").length, 0);
  });

  it("out stopped after lowering MinSize, whose undo is refused: it keeps the lock and the record, and `in` restores MinSize", async () => {
    const { run, web } = await outStoppedBeforeStandby();
    // Once the lowering has landed, every later change of the group is refused.
    for (const until = Date.now() + 30_000; web.min !== 1 && Date.now() < until; ) await sleep(10);
    assert.equal(web.min, 1, "out never lowered MinSize");
    await control(sim, "POST", "faults", {
      service: "autoscaling",
      action: "UpdateAutoScalingGroup",
      kind: "deny",
    });
    const res = await run;
    assert.equal(res.code, 143, res.stderr);
    assert.match(res.stderr, /could not put MinSize of web back .*the turn is kept until it expires/);
    assert.equal(web.min, 1);
    assert.ok(web.tags.has(`balanced:min-size:${A}`), "the record of the lowering was removed");
    assert.equal(
      items(sim).find((i) => i.lockKey?.S === "group:web")?.holder?.S,
      A,
      "the lock was given back with MinSize still lowered",
    );
    assert.equal(await lifecycleOf(sim, A), "InService");

    await control(sim, "DELETE", "faults");
    const back = await runCli(sim.hosts[A]!, ["in", ...LOCK], { killAfterMs: 60_000 });
    assert.equal(back.code, 0, back.stderr);
    // The kept lock is this host's own, but a call of the stopped run may land until it expires.
    assert.match(back.stderr, /waiting [\d.]+ s before deciding: a killed earlier run on this host/);
    assert.match(back.stderr, /restoring MinSize of web 1 -> 2/);
    assert.equal(web.min, 2, "in left MinSize lowered");
    assert.deepEqual(
      [...web.tags.keys()].filter((k) => k.startsWith("balanced:")),
      [],
      "a record was left on the group",
    );
    assert.deepEqual(items(sim), []);
  });

  it("without the lock too: a host whose clock is 150 s behind AWS's does not take the group's turn", {
    skip: hasFaketime ? false : "needs faketime (apt-get install faketime)",
  }, async () => {
    sim = await startSim(loadFleet("three-hosts"), { timeScale: 100 });
    const skewed = await runCli(sim.hosts[A]!, ["-f", "-150s", process.execPath, BUNDLE, "out"], {
      executable: "faketime",
    });
    assert.equal(skewed.code, 4, skewed.stderr);
    assert.match(skewed.stderr, /this host's clock is 1[45]\d s behind AWS's \(the Date of its answers\)/);
    assert.equal(await lifecycleOf(sim, A), "InService");
    assert.equal(sim.world().groups.get("web")!.tags.has("balanced:turn"), false);
  });

  it("the fence: a lock taken over after this host took it refuses before anything is sent (exit 4)", async () => {
    await start();
    // The read after taking the lock is slow, so the takeover lands between the take and the fence.
    await control(sim, "POST", "faults", { service: "autoscaling", kind: "latency", ms: 400 });
    const running = runCli(sim.hosts[A]!, ["out", ...LOCK], { killAfterMs: 60_000 });
    const taken = () =>
      sim.calls.filter((c) => c.action === "PutItem" && c.host === A && c.outcome === "ok").length;
    while (taken() < 3) await sleep(10);
    const expires = Date.now() + 60_000;
    await clientsFor(sim.hosts[B]!).dynamodb.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          lockKey: { S: "group:web" },
          turn: { S: `${B} pid=1 nonce=stolen expires=${new Date(expires).toISOString()}` },
          holder: { S: B },
          nonce: { S: "stolen" },
          expiresAt: { N: String(expires) },
          version: { N: "9" },
        },
      }),
    );
    const out = await running;
    assert.equal(out.code, 4, out.stderr);
    assert.match(out.stderr, /another host took the lock in balanced-locks before this host could act/);
    assert.equal(await lifecycleOf(sim, A), "InService");
    assert.equal(sim.calls.filter((c) => c.action === "EnterStandby").length, 0);
    // Only this host's own items were given back: the other host's turn stands.
    assert.equal(items(sim).find((i) => i.lockKey?.S === "group:web")?.nonce?.S, "stolen");
  });

  it("iam-policy --lock allows exactly the lock's item calls on that table", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const r = await runCli(sim.hosts[A]!, ["iam-policy", ...LOCK]);
    assert.equal(r.code, 0, r.stderr);
    const policy = JSON.parse(r.stdout) as {
      Statement: { Sid: string; Action: string[]; Resource: string }[];
    };
    const lock = policy.Statement.find((s) => s.Sid === "BalancedLock");
    assert.deepEqual(lock?.Action, [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
    ]);
    assert.equal(lock?.Resource, `arn:aws:dynamodb:*:*:table/${TABLE}`);
  });
});
