/**
 * AWS as it documents itself, where the simulator used to share the agent's assumptions (issue 33).
 * Each test rests on a simulator behaviour that cites AWS's page, and failed on the agent before it.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { runCli, simState } from "../helpers/cli";
import { control } from "../helpers/clients";
import { loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const A = "i-0a000000000000001";

const balancedTags = async (sim: Sim) =>
  Object.keys((await simState(sim)).groups[0]!.tags).filter((k) => k.startsWith("balanced:"));

describe("AWS's documented semantics", () => {
  let sim: Sim | undefined;
  afterEach(() => sim?.stop());

  it("deletes its records for real: DeleteTags with a value deletes only a tag of that value", async () => {
    sim = await startSim(loadFleet("min-equals-desired"));
    const out = await runCli(sim.hosts[A]!, ["out", "--max-unavailable", "50%"]);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual((await balancedTags(sim)).sort(), [`balanced:min-size:${A}`, `balanced:parked:${A}`]);
    const back = await runCli(sim.hosts[A]!, ["in"]);
    assert.equal(back.code, 0, back.stderr);
    assert.deepEqual(await balancedTags(sim), [], "every record out wrote is gone after in");
    const g = (await simState(sim)).groups[0]!;
    assert.deepEqual([g.min, g.desired], [2, 2]);
    const calls = (await control(sim, "GET", "calls")) as { action: string; status: number }[];
    assert.ok(calls.filter((c) => c.action === "DeleteTags").every((c) => c.status === 200));
  });
});
