import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { lifecycleOf, runCli } from "../helpers/cli";
import { control } from "../helpers/clients";
import { loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const BLUE = "i-0b000000000000001";
const BLUE_2 = "i-0b000000000000002";
const GREEN = "i-0c000000000000001";

interface History {
  loadBalancer?: string;
  outOfService: number;
}

const tgTags = (sim: Sim) => Object.fromEntries(sim.world().tgByName("shared-tg").tags);

const maxOutOf = async (sim: Sim, scope: string) => {
  const history = (await control(sim, "GET", "history?all")) as History[];
  return Math.max(0, ...history.filter((h) => h.loadBalancer === scope).map((h) => h.outOfService));
};

/**
 * Two Auto Scaling groups behind one target group (blue/green): the target group's budget counts
 * every target registered in it and every host recorded out of it, whichever group it is in, and
 * the turn spans both groups. Through the built CLI against the simulator.
 */
describe("a target group shared by two groups", () => {
  let sim: Sim;
  afterEach(() => sim?.stop());

  const start = async () => {
    sim = await startSim(loadFleet("two-groups-shared-tg"), { timeScale: 100 });
  };

  it("one budget: green may not leave while blue is out (exit 3, naming the target group); after blue's in it may", async () => {
    await start();
    const blue = await runCli(sim.hosts[BLUE]!, ["out"]);
    assert.equal(blue.code, 0, blue.stderr);
    assert.match(tgTags(sim)[`balanced:out:${BLUE}`] ?? "", /^ports= by=out at=\S+ group=blue$/);

    const green = await runCli(sim.hosts[GREEN]!, ["out"]);
    assert.equal(green.code, 3, green.stderr);
    assert.match(
      green.stderr,
      new RegExp(
        `refusing: 2 hosts would be out of tg/shared-tg at once \\(${BLUE}: taken out by balanced at \\S+, this host\\), --max-unavailable allows 1`,
      ),
    );
    assert.equal(await lifecycleOf(sim, GREEN), "InService");
    const dry = await runCli(sim.hosts[GREEN]!, ["out", "--dry-run"]);
    assert.equal(dry.code, 3, dry.stderr);

    const back = await runCli(sim.hosts[BLUE]!, ["in"]);
    assert.equal(back.code, 0, back.stderr);
    assert.match(
      back.stderr,
      new RegExp(`removing its records \\(balanced:out:${BLUE}\\) from tg/shared-tg`),
    );
    assert.equal(tgTags(sim)[`balanced:out:${BLUE}`], undefined);

    const now = await runCli(sim.hosts[GREEN]!, ["out"]);
    assert.equal(now.code, 0, now.stderr);
    assert.equal((await runCli(sim.hosts[GREEN]!, ["in"])).code, 0);
    assert.equal(await maxOutOf(sim, "tg/shared-tg"), 1);
    assert.deepEqual(
      Object.keys(tgTags(sim)).filter((k) => k.startsWith("balanced:")),
      [],
      "no record or turn left on the target group",
    );
  });

  it("a budget of 2 lets one host of each group out at once", async () => {
    await start();
    assert.equal((await runCli(sim.hosts[BLUE]!, ["out", "--max-unavailable", "2"])).code, 0);
    const green = await runCli(sim.hosts[GREEN]!, ["out", "--max-unavailable", "2"]);
    assert.equal(green.code, 0, green.stderr);
    const third = await runCli(sim.hosts[BLUE_2]!, ["out", "--max-unavailable", "2"]);
    assert.equal(third.code, 3, third.stderr);
    assert.match(third.stderr, /3 (instances|hosts) would be out/);
  });

  it("a host of the other group unhealthy in the target group counts against this group's out", async () => {
    await start();
    // Green's group would replace it at once; kept, it stays registered and failing.
    await control(sim, "POST", "events", {
      kind: "suspend",
      group: "green",
      processes: ["ReplaceUnhealthy"],
    });
    await control(sim, "POST", "events", {
      kind: "set-health",
      instance: GREEN,
      healthy: false,
      scope: "shared-tg",
    });
    // Blue's own group is all healthy; only the target group shows green's host failing.
    const deadline = Date.now() + 10_000;
    let res = await runCli(sim.hosts[BLUE]!, ["out", "--dry-run"]);
    while (res.code === 0 && Date.now() < deadline)
      res = await runCli(sim.hosts[BLUE]!, ["out", "--dry-run"]);
    assert.equal(res.code, 3, res.stderr);
    assert.match(
      res.stderr,
      new RegExp(
        `2 hosts would be out of tg/shared-tg at once \\(${GREEN}: unhealthy in tg/shared-tg, this host\\)`,
      ),
    );
  });

  it("a target group at its tag quota: out says the record failed, sends no EnterStandby, and leaves nothing", async () => {
    await start();
    const tags = sim.world().tgByName("shared-tg").tags;
    // 50 tags a resource (the ELB guides' quota): 49 of the operator's leave room for the turn only.
    for (let i = 0; i < 49; i++) tags.set(`team:${i}`, "x");
    const res = await runCli(sim.hosts[BLUE]!, ["out"]);
    assert.equal(res.code, 4, res.stderr);
    assert.match(res.stderr, /TooManyTags.*EnterStandby was not sent, so this host is still serving/);
    assert.equal(await lifecycleOf(sim, BLUE), "InService");
    const calls = (await control(sim, "GET", "calls")) as { action: string }[];
    assert.equal(calls.filter((c) => c.action === "EnterStandby").length, 0);
    assert.deepEqual(
      [...sim.world().groups.get("blue")!.tags.keys()].filter((k) => k.startsWith("balanced:")),
      [],
      "no parked record or turn left on the group",
    );
  });

  it("tag mode: blue and green racing out take turns on the shared target group; never two out", async () => {
    await start();
    await control(sim, "POST", "faults", [{ service: "*", kind: "latency", ms: 0, jitterMs: 200 }]);
    const [b, g] = await Promise.all([runCli(sim.hosts[BLUE]!, ["out"]), runCli(sim.hosts[GREEN]!, ["out"])]);
    const codes = [b.code, g.code].sort();
    assert.equal(codes[0], 0, `${b.stderr}\n---\n${g.stderr}`);
    assert.ok(codes[1] === 3 || codes[1] === 4, `${b.stderr}\n---\n${g.stderr}`);
    assert.equal(await maxOutOf(sim, "tg/shared-tg"), 1);
  });
});
