import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { EnterStandbyCommand } from "@aws-sdk/client-auto-scaling";
import { lifecycleOf, runCli, simState } from "../helpers/cli";
import { clientsFor, control, eventually } from "../helpers/clients";
import type { SimEvent } from "../sim/events";
import { type FleetFile, loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";

const A = "i-0a000000000000001";
const B = "i-0a000000000000002";

interface Case {
  name: string;
  fleet?: FleetFile;
  events?: SimEvent[];
  args?: string[];
  host?: string;
  code: number;
  reason: RegExp;
}

const withPolicy = (pct: number): FleetFile => {
  const f = loadFleet("three-hosts");
  f.groups![0]!.instanceMaintenancePolicy = { minHealthyPercentage: pct, maxHealthyPercentage: 100 };
  return f;
};

// Each refusal: the exit code, the one-line reason, and the group left exactly as it was.
const CASES: Case[] = [
  {
    name: "a scaling activity in progress",
    events: [
      {
        kind: "start-activity",
        group: "web",
        statusCode: "WaitingForELBConnectionDraining",
        description: "Terminating EC2 instance: i-0ffff",
      },
    ],
    code: 4,
    reason:
      /^balanced: refusing: group web is busy: scaling activity in progress \(WaitingForELBConnectionDraining\): Terminating EC2 instance: i-0ffff\n$/,
  },
  {
    name: "an instance refresh in progress",
    events: [{ kind: "start-instance-refresh", group: "web" }],
    code: 4,
    reason: /refusing: group web is busy: instance refresh [0-9a-f-]+ is InProgress/,
  },
  {
    name: "a pending instance refresh",
    events: [{ kind: "start-instance-refresh", group: "web", status: "Pending" }],
    code: 4,
    reason: /instance refresh [0-9a-f-]+ is Pending/,
  },
  {
    name: "a peer in a transitional state",
    events: [{ kind: "set-lifecycle", instance: B, state: "Terminating:Wait" }],
    code: 4,
    reason: /refusing: group web is busy: i-0a000000000000002 is Terminating:Wait/,
  },
  {
    name: "this host in Pending:Wait",
    events: [{ kind: "set-lifecycle", instance: A, state: "Pending:Wait" }],
    code: 4,
    reason: /refusing: this host is Pending:Wait; it can leave only from InService/,
  },
  {
    name: "the Launch process suspended",
    events: [{ kind: "suspend", group: "web", processes: ["Launch"] }],
    code: 4,
    reason: /has its Launch process suspended, so this host could not come back; resume it first/,
  },
  {
    name: "an unhealthy peer: the disruption budget (max-unavailable 1) is spent",
    events: [{ kind: "set-health", instance: B, healthy: false, scope: "group" }],
    code: 3,
    reason:
      /refusing: 2 instances would be out of service or unhealthy at once \(i-0a000000000000002: Unhealthy in the group, this host\), --max-unavailable allows 1/,
  },
  {
    name: "another host already out (Standby)",
    events: [{ kind: "set-lifecycle", instance: B, state: "Standby" }],
    code: 3,
    reason: /i-0a000000000000002: Standby, this host\), --max-unavailable allows 1/,
  },
  {
    name: "--min-healthy 3 with two healthy peers",
    args: ["--min-healthy", "3"],
    code: 3,
    reason: /^balanced: refusing: 2 healthy peers would remain, --min-healthy requires 3\n$/,
  },
  {
    name: "--min-healthy 100% of desired 3",
    args: ["--min-healthy", "100%"],
    code: 3,
    reason: /refusing: 2 healthy peers would remain, --min-healthy requires 3 \(100% of desired capacity 3\)/,
  },
  {
    name: "the group's instance maintenance policy (90% of 3 = 3)",
    fleet: withPolicy(90),
    code: 3,
    reason:
      /--min-healthy requires 3 \(the group's instance maintenance policy: MinHealthyPercentage 90% of desired capacity 3\)/,
  },
  {
    name: "--min-healthy 2 with an unhealthy peer (and a generous --max-unavailable)",
    events: [{ kind: "set-health", instance: B, healthy: false, scope: "group" }],
    args: ["--min-healthy", "2", "--max-unavailable", "2"],
    code: 3,
    reason: /refusing: 1 healthy peer would remain, --min-healthy requires 2/,
  },
  {
    name: "MinSize equals desired capacity, with --min-size refuse",
    fleet: loadFleet("min-equals-desired"),
    args: ["--max-unavailable", "50%", "--min-size", "refuse"],
    code: 3,
    reason:
      /refusing: group web is at its MinSize \(min 2, desired 2\), so AWS will not let this host enter standby; without --min-size refuse, balanced lowers MinSize/,
  },
  {
    name: "the only host (single-host): never the last healthy instance",
    fleet: loadFleet("single-host"),
    code: 3,
    reason:
      /refusing: 0 healthy peers would remain, --min-healthy requires 1 \(the default: never the last healthy instance\)/,
  },
];

describe("balanced out refuses, with a distinct exit code and a one-line reason", () => {
  let sim: Sim | undefined;
  afterEach(() => sim?.stop());

  for (const c of CASES) {
    it(`refuses (exit ${c.code}) on ${c.name}`, async () => {
      sim = await startSim(c.fleet ?? loadFleet("three-hosts"));
      if (c.events) await control(sim, "POST", "events", c.events);
      const host = c.host ?? A;
      const before = await lifecycleOf(sim, host);
      const res = await runCli(sim.hosts[host]!, ["out", ...(c.args ?? [])]);
      assert.equal(res.code, c.code, res.stderr);
      assert.match(res.stderr, c.reason);
      assert.equal(res.stdout, "");
      assert.equal(await lifecycleOf(sim, host), before, "a refusal changes nothing");
      const calls = (await control(sim, "GET", "calls")) as { action: string }[];
      assert.equal(calls.filter((x) => x.action === "EnterStandby").length, 0);
    });
  }

  it("allows --min-healthy 50% of desired 3 (rounded up to 2) with two healthy peers", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const res = await runCli(sim.hosts[A]!, ["out", "--dry-run", "--min-healthy", "50%"]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /2 healthy peers remain \(at least 2 required\)/);
  });

  it("rejects --min-healthy 0: the last healthy instance never leaves", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const res = await runCli(sim.hosts[A]!, ["out", "--min-healthy", "0"]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /--min-healthy must be at least 1/);
  });

  it("reads flags from BALANCED_* environment variables", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const res = await runCli(sim.hosts[A]!, ["out"], {
      env: { BALANCED_MIN_HEALTHY: "3", BALANCED_DRY_RUN: "true" },
    });
    assert.equal(res.code, 3);
    assert.match(res.stderr, /--min-healthy requires 3/);
  });

  it("in refuses above MaxSize with exit 3", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    assert.equal((await runCli(sim.hosts[A]!, ["out", "-q"])).code, 0);
    await control(sim, "POST", "events", { kind: "set-sizes", group: "web", max: 2 });
    const res = await runCli(sim.hosts[A]!, ["in"]);
    assert.equal(res.code, 3);
    assert.match(res.stderr, /refusing: group web is at its MaxSize \(max 2, desired 2\)/);
    assert.equal(await lifecycleOf(sim, A), "Standby");
  });
});

describe("percentages are of the group's full size, not of the desired capacity every out lowers", () => {
  let sim: Sim | undefined;
  afterEach(() => sim?.stop());

  it("ten-hosts, --min-healthy 50% --max-unavailable 100% on each host in turn: exactly 5 out", async () => {
    sim = await startSim(loadFleet("ten-hosts"));
    const ids = [...sim.world().instances.keys()];
    const codes: number[] = [];
    for (const id of ids) {
      const res = await runCli(sim.hosts[id]!, [
        "out",
        "-q",
        "--min-healthy",
        "50%",
        "--max-unavailable",
        "100%",
      ]);
      codes.push(res.code ?? -1);
    }
    assert.deepEqual(codes, [0, 0, 0, 0, 0, 3, 3, 3, 3, 3]);
    const standby = [...sim.world().instances.values()].filter((i) => i.lifecycleState === "Standby");
    assert.equal(standby.length, 5);
    const refused = await runCli(sim.hosts[ids[9]!]!, [
      "out",
      "--min-healthy",
      "50%",
      "--max-unavailable",
      "100%",
    ]);
    assert.match(
      refused.stderr,
      /--min-healthy requires 5 \(50% of the group's full size 10 \(desired 5 \+ 5 in Standby\)\)/,
    );
  });
});

describe("a host someone else parked stays parked", () => {
  let sim: Sim | undefined;
  afterEach(() => sim?.stop());

  it("in refuses (exit 3) a host put in Standby by hand; --force takes it back; BALANCED_FORCE is no setting", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    // An operator quarantines the host with the AWS API directly, not with balanced.
    await clientsFor(sim.hosts[A]!).asg.send(
      new EnterStandbyCommand({
        AutoScalingGroupName: "web",
        InstanceIds: [A],
        ShouldDecrementDesiredCapacity: true,
      }),
    );
    await eventually(async () => (await lifecycleOf(sim!, A)) === "Standby");
    const refused = await runCli(sim.hosts[A]!, ["in"]);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(
      refused.stderr,
      /refusing: balanced did not put this host in Standby \(no balanced:parked:i-0a000000000000001 tag on web\)/,
    );
    assert.equal(await lifecycleOf(sim, A), "Standby");
    const status = await runCli(sim.hosts[A]!, ["status"]);
    assert.match(status.stdout, /^in\s+refusing: balanced did not put this host in Standby/m);
    const setting = await runCli(sim.hosts[A]!, ["in"], { env: { BALANCED_FORCE: "true" } });
    assert.equal(setting.code, 2);
    assert.match(setting.stderr, /BALANCED_FORCE is not a setting: pass --force on the command line/);
    const forced = await runCli(sim.hosts[A]!, ["in", "--force", "-q"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(await lifecycleOf(sim, A), "InService");
  });

  it("a host terminated while parked: status on a peer names its record, repair removes it", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    assert.equal((await runCli(sim.hosts[A]!, ["out", "-q"])).code, 0);
    await control(sim, "POST", "events", { kind: "terminate", instance: A });
    await eventually(async () => {
      const state = (await simState(sim!)).instances.find((i) => i.id === A);
      return !state || state.group === null || state.lifecycleState === "Terminated";
    }, 20_000);
    const status = await runCli(sim.hosts[B]!, ["status"]);
    assert.match(
      status.stdout,
      /balanced:parked:i-0a000000000000001: its host left the group while parked; run `balanced repair`/,
    );
    const repaired = await runCli(sim.hosts[B]!, ["repair"]);
    assert.equal(repaired.code, 0, repaired.stderr);
    assert.match(
      repaired.stdout,
      /removed the parked record of i-0a000000000000001 \(its host left the group\)/,
    );
    assert.equal(sim.world().groups.get("web")!.tags.has(`balanced:parked:${A}`), false);
  });

  it("out records that balanced parked the host, in removes the record; a refused EnterStandby leaves none", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const tags = () => sim!.world().groups.get("web")!.tags;
    assert.equal((await runCli(sim.hosts[A]!, ["out", "-q"])).code, 0);
    assert.ok(tags().has(`balanced:parked:${A}`), "recorded by out");
    assert.equal((await runCli(sim.hosts[A]!, ["in", "-q"])).code, 0);
    assert.equal(tags().has(`balanced:parked:${A}`), false, "removed by in");
    await control(sim, "POST", "faults", { kind: "deny", service: "autoscaling", action: "EnterStandby" });
    const denied = await runCli(sim.hosts[A]!, ["out"]);
    assert.equal(denied.code, 7, denied.stderr);
    assert.equal(tags().has(`balanced:parked:${A}`), false, "taken back: the host never left");
  });
});
