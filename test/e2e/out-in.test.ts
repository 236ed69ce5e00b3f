import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { lifecycleOf, registrationsOf, runCli, simState } from "../helpers/cli";
import { control } from "../helpers/clients";
import { loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const A = "i-0a000000000000001";
const B = "i-0a000000000000002";

describe("balanced out / in on three-hosts (classic ELB + target group)", () => {
  let sim: Sim;
  beforeEach(async () => {
    sim = await startSim(loadFleet("three-hosts"));
  });
  afterEach(() => sim.stop());

  it("takes the host out (Standby, drained everywhere), then back in (InService, healthy everywhere)", async () => {
    const out = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(
      out.stdout,
      /^i-0a000000000000001 is out: Standby in web, drained from elb\/web-classic, tg\/web-tg \(\d+\.\d s\)\n$/,
    );
    assert.match(out.stderr, /entering standby in web \(desired capacity 3 -> 2\)/);
    assert.match(out.stderr, /EnteringStandby; elb\/web-classic: draining, tg\/web-tg: draining/);
    assert.equal(await lifecycleOf(sim, A), "Standby");
    assert.deepEqual(await registrationsOf(sim, A), { classic: {}, targets: {} });
    assert.equal((await simState(sim)).groups[0]!.desired, 2);

    const back = await runCli(sim.hosts[A]!, ["in"]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(
      back.stdout,
      /^i-0a000000000000001 is in: InService in web, healthy in elb\/web-classic, tg\/web-tg/,
    );
    assert.equal(await lifecycleOf(sim, A), "InService");
    assert.deepEqual(await registrationsOf(sim, A), {
      classic: { "web-classic": "InService" },
      targets: { "web-tg": "healthy" },
    });
    assert.equal((await simState(sim)).groups[0]!.desired, 3);
  });

  it("is idempotent: out twice and in twice each exit 0, the second saying there was nothing to do", async () => {
    assert.equal((await runCli(sim.hosts[A]!, ["out", "-q"])).code, 0);
    const again = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /already out: in Standby and gone from all 2 load balancers/);
    assert.equal((await runCli(sim.hosts[A]!, ["in", "-q"])).code, 0);
    const inAgain = await runCli(sim.hosts[A]!, ["in"]);
    assert.equal(inAgain.code, 0);
    assert.match(inAgain.stdout, /already in: InService and healthy in all 2 load balancers/);
    const calls = (await control(sim, "GET", "calls")) as { action: string }[];
    assert.equal(calls.filter((c) => c.action === "EnterStandby").length, 1);
    assert.equal(calls.filter((c) => c.action === "ExitStandby").length, 1);
  });

  it("completes a half-finished out: run again while EnteringStandby, it waits and succeeds", async () => {
    // A drain long enough that the rerun finds the host still leaving, even on a loaded machine.
    await sim.stop();
    const f = loadFleet("three-hosts");
    f.loadBalancers![0]!.connectionDraining = { enabled: true, timeout: 15 };
    sim = await startSim(f);
    // --timeout is the whole run's: past the turn (2.5 s), it ends during the drain.
    const first = await runCli(sim.hosts[A]!, ["out", "--timeout", "6"]);
    assert.equal(first.code, 5);
    assert.equal(await lifecycleOf(sim, A), "EnteringStandby");
    const second = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(second.code, 0, second.stderr);
    // It waits for the drain (or, on a very slow machine, finds it already done): never refuses.
    assert.match(second.stderr + second.stdout, /leaving elb\/web-classic, tg\/web-tg|already out/);
    assert.equal(await lifecycleOf(sim, A), "Standby");
    const calls = (await control(sim, "GET", "calls")) as { action: string }[];
    assert.equal(
      calls.filter((c) => c.action === "EnterStandby").length,
      1,
      "the second run must not call EnterStandby again",
    );
  });

  it("--dry-run decides but changes nothing, and exits with the real run's code", async () => {
    const dry = await runCli(sim.hosts[A]!, ["out", "--dry-run"]);
    assert.equal(dry.code, 0);
    assert.match(
      dry.stdout,
      /^dry run: would enter standby and leave 2 load balancers; 2 healthy peers remain/,
    );
    assert.equal(await lifecycleOf(sim, A), "InService");
    const refused = await runCli(sim.hosts[A]!, ["out", "--dry-run", "--min-healthy", "3"]);
    assert.equal(refused.code, 3);
    const calls = (await control(sim, "GET", "calls")) as { action: string }[];
    assert.equal(calls.filter((c) => /Standby/.test(c.action)).length, 0);
  });

  it("--json prints one document on stdout with result, reason, exit code, timings and snapshot", async () => {
    const res = await runCli(sim.hosts[A]!, ["out", "--json"]);
    assert.equal(res.code, 0);
    const doc = JSON.parse(res.stdout) as Record<string, unknown> & {
      steps: { step: string; ms: number }[];
      apiCalls: { total: number; byAction: Record<string, number> };
      snapshot: { group: { name: string } };
    };
    assert.equal(doc.command, "out");
    assert.equal(doc.outcome, "done");
    assert.equal(doc.exitCode, 0);
    assert.equal(doc.instanceId, A);
    assert.equal(doc.group, "web");
    assert.deepEqual(
      doc.steps.map((s) => s.step),
      ["read", "take-turn", "read", "enter-standby", "wait-out", "recheck"],
    );
    assert.equal(doc.apiCalls.byAction["autoscaling:EnterStandby"], 1);
    assert.equal(doc.snapshot.group.name, "web");
    // A refusal is a JSON document too, with its reason and code.
    const refused = await runCli(sim.hosts[B]!, ["out", "--json"]);
    assert.equal(refused.code, 3);
    const r = JSON.parse(refused.stdout) as {
      outcome: string;
      exitCode: number;
      kind: string;
      message: string;
    };
    assert.deepEqual([r.outcome, r.exitCode, r.kind], ["refused", 3, "unsafe"]);
    assert.match(r.message, /--max-unavailable allows 1/);
  });

  it("status shows the host, group, each load balancer's view, peers, budget and what out/in would do", async () => {
    const res = await runCli(sim.hosts[A]!, ["status"]);
    assert.equal(res.code, 0);
    assert.match(res.stdout, /^i-0a000000000000001 \(us-east-1a, us-east-1\)\n/);
    assert.match(res.stdout, /group +web: min 1, desired 3, max 4/);
    assert.match(res.stdout, /this host +InService, Healthy/);
    assert.match(res.stdout, /elb\/web-classic +healthy/);
    assert.match(res.stdout, /tg\/web-tg +healthy/);
    assert.match(res.stdout, /peers +2 of 2 healthy/);
    assert.match(res.stdout, /out +would enter standby/);
    assert.match(res.stdout, /in +already in/);
    const json = JSON.parse((await runCli(sim.hosts[A]!, ["status", "--json"])).stdout) as {
      out: { verdict: string };
      in: { verdict: string };
    };
    assert.deepEqual([json.out.verdict, json.in.verdict], ["act", "done"]);
  });

  it("uses instance-profile credentials from the metadata service (every simulated host has no keys)", async () => {
    assert.equal(sim.hosts[A]!.env.AWS_ACCESS_KEY_ID, undefined);
    const res = await runCli(sim.hosts[A]!, ["status", "--json"]);
    assert.equal(res.code, 0, res.stderr);
    const calls = (await control(sim, "GET", "calls")) as { service: string; action: string; host: string }[];
    assert.ok(calls.some((c) => c.service === "imds" && c.action.includes("security-credentials")));
    assert.ok(calls.some((c) => c.service === "autoscaling" && c.host === A));
  });

  it("a peer that turns unhealthy while this host drains: out finishes, then exits 3 saying the budget no longer holds", async () => {
    const unhealthy = { kind: "set-health", instance: B, healthy: false, scope: "web-tg" };
    const out = await runCli(sim.hosts[A]!, ["out"], {
      onStderr: { when: /entering standby/, run: () => void control(sim, "POST", "events", unhealthy) },
    });
    // Before, this was exit 0 with two hosts out of service, said nowhere.
    assert.equal(out.code, 3, out.stderr);
    assert.match(
      out.stderr,
      /balanced: i-0a000000000000001 is out, but the budget no longer holds: 2 instances are out of service or unhealthy at once \(.*i-0a000000000000002.*\), --max-unavailable allows 1; stop the deploy here/,
    );
    assert.equal(await lifecycleOf(sim, A), "Standby");
    const status = await runCli(sim.hosts[A]!, ["status"]);
    assert.match(status.stdout, /i-0a000000000000002 unhealthy/);
    const back = await runCli(sim.hosts[A]!, ["in"]);
    assert.equal(back.code, 0, back.stderr);
  });

  it("also waits on load balancers named with --target-group / --load-balancer (BALANCED_* too)", async () => {
    await sim.stop();
    sim = await startSim(loadFleet("two-groups"));
    const api = "i-0b000000000000001";
    const webTg = sim.world().tgByName("web-tg").arn;
    const plain = await runCli(sim.hosts[api]!, ["status"]);
    assert.doesNotMatch(plain.stdout, /tg\/web-tg|elb\/web-classic/);
    const named = await runCli(sim.hosts[api]!, ["status", "--target-group", webTg], {
      env: { BALANCED_LOAD_BALANCER: "web-classic" },
    });
    assert.equal(named.code, 0, named.stderr);
    assert.match(named.stdout, /tg\/api-tg +healthy/);
    assert.match(named.stdout, /elb\/web-classic +absent/);
    assert.match(named.stdout, /tg\/web-tg +absent/);
    const out = await runCli(sim.hosts[api]!, ["out", "--target-group", webTg]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /drained from tg\/api-tg, tg\/web-tg/);
  });
});
