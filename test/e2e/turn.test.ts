import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { runCli } from "../helpers/cli";
import { setGroupTag } from "../helpers/clients";
import { loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const A = "i-0a000000000000001";
const B = "i-0a000000000000002";

const setTurn = (sim: Sim, value: string) => setGroupTag(sim.hosts[B]!, "web", "balanced:turn", value);

describe("the group's turn as dry runs, status and repair see it", () => {
  let sim: Sim;
  afterEach(() => sim.stop());

  it("--dry-run and status give the real run's answer while another host holds the turn (exit 4)", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await setTurn(sim, `${B} pid=4242 nonce=abc123 expires=${new Date(Date.now() + 90_000).toISOString()}`);
    const real = await runCli(sim.hosts[A]!, ["out"]);
    const dry = await runCli(sim.hosts[A]!, ["out", "--dry-run"]);
    assert.deepEqual([real.code, dry.code], [4, 4]);
    assert.match(dry.stderr, /refusing: another host is leaving: i-0a000000000000002 holds the group's turn/);
    const status = await runCli(sim.hosts[A]!, ["status"]);
    assert.match(
      status.stdout,
      /^out +refusing: another host is leaving: i-0a000000000000002 holds the group's turn .*\(exit 4\)$/m,
    );
    assert.equal(sim.world().instances.get(A)!.lifecycleState, "InService");
  });

  it("an unreadable turn tag blocks out with a reason that names repair, and repair clears it", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    await setTurn(sim, "someone's note");
    const blocked = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(blocked.code, 4);
    assert.match(
      blocked.stderr,
      /the group's turn tag holds something balanced cannot read \("someone's note"\); run `balanced repair` to clear it/,
    );
    assert.doesNotMatch(blocked.stderr, /Infinity/);
    assert.match((await runCli(sim.hosts[A]!, ["status"])).stdout, /^turn +unreadable \("someone's note"\)/m);
    const repaired = await runCli(sim.hosts[A]!, ["repair"]);
    assert.equal(repaired.code, 0, repaired.stderr);
    assert.match(repaired.stdout, /removed an unreadable turn tag/);
    assert.equal((await runCli(sim.hosts[A]!, ["out", "-q"])).code, 0);
  });
});
