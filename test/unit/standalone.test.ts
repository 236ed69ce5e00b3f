import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decideStandaloneIn,
  decideStandaloneOut,
  decideStandaloneShutdown,
  formatRemoval,
  parseRemovals,
  portsToRegister,
  type StandaloneDecision,
  type StandaloneSnapshot,
} from "../../src/core/standalone";
import type { LoadBalancerView, MemberState, Policy } from "../../src/core/types";

/** Host i-a and peers i-b, i-c, all healthy in one classic ELB and one target group (port 8080). */
function snapshot(tweak: (s: StandaloneSnapshot) => void = () => {}): StandaloneSnapshot {
  const lb = (kind: LoadBalancerView["kind"], name: string): LoadBalancerView => ({
    kind,
    name,
    id: kind === "classic" ? name : `arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/${name}/1`,
    source: "named",
    drainSeconds: 300,
    healthCheckIntervalSeconds: 10,
    healthyThreshold: 3,
    healthChecksEnabled: true,
    targetType: "instance",
    port: kind === "classic" ? undefined : 80,
    members: Object.fromEntries(
      ["i-a", "i-b", "i-c"].map((id) => [id, { state: "healthy" as MemberState, detail: "" }]),
    ),
  });
  const s: StandaloneSnapshot = {
    instanceId: "i-a",
    region: "us-east-1",
    loadBalancers: [
      { lb: lb("classic", "app-classic"), tags: {}, selfPorts: [] },
      { lb: lb("target-group", "app-tg"), tags: {}, selfPorts: [8080] },
    ],
    takenAt: 0,
  };
  tweak(s);
  return s;
}

const set = (s: StandaloneSnapshot, lb: number, id: string, state: MemberState) => {
  s.loadBalancers[lb]!.lb.members[id] = { state, detail: state };
};
const drop = (s: StandaloneSnapshot, lb: number, id: string) => {
  delete s.loadBalancers[lb]!.lb.members[id];
};
const record = (
  s: StandaloneSnapshot,
  lb: number,
  id: string,
  by: "out" | "shutdown" = "out",
  ports = [8080],
) => {
  s.loadBalancers[lb]!.tags[`balanced:out:${id}`] = formatRemoval({
    ports: lb === 0 ? [] : ports,
    by,
    at: "2026-11-24T00:00:00Z",
  });
};
/** This host out of both, as `out` leaves it. */
const out = (s: StandaloneSnapshot, by: "out" | "shutdown" = "out") => {
  for (const lb of [0, 1]) {
    drop(s, lb, "i-a");
    record(s, lb, "i-a", by);
  }
  s.loadBalancers[1]!.selfPorts = [];
};

const DEFAULT: Policy = {
  minHealthy: undefined,
  maxUnavailable: { kind: "count", value: 1 },
  minSize: "lower",
};
const summary = (d: StandaloneDecision) =>
  d.verdict === "refuse" ? `refuse ${d.exitCode}` : d.verdict === "act" ? `act ${d.steps.join(",")}` : "done";

describe("decideStandaloneOut", () => {
  const cases: [string, (s: StandaloneSnapshot) => void, Policy, string][] = [
    ["all healthy", () => {}, DEFAULT, "act record-removal,deregister,wait-out"],
    ["already out everywhere", (s) => out(s), DEFAULT, "done"],
    [
      "deregistered, still draining in one: finish",
      (s) => {
        out(s);
        set(s, 1, "i-a", "draining");
      },
      DEFAULT,
      "act wait-out",
    ],
    [
      "the only healthy member of the classic ELB",
      (s) => {
        set(s, 0, "i-b", "unhealthy");
        set(s, 0, "i-c", "unhealthy");
      },
      DEFAULT,
      "refuse 3",
    ],
    [
      "the only member at all",
      (s) => {
        drop(s, 1, "i-b");
        drop(s, 1, "i-c");
      },
      DEFAULT,
      "refuse 3",
    ],
    [
      "a peer already taken out by balanced spends the budget",
      (s) => {
        drop(s, 1, "i-b");
        record(s, 1, "i-b");
      },
      DEFAULT,
      "refuse 3",
    ],
    [
      "... unless --max-unavailable allows two",
      (s) => {
        drop(s, 1, "i-b");
        record(s, 1, "i-b");
      },
      { ...DEFAULT, maxUnavailable: { kind: "count", value: 2 } },
      "act record-removal,deregister,wait-out",
    ],
    ["an unhealthy peer spends it too", (s) => set(s, 1, "i-c", "unhealthy"), DEFAULT, "refuse 3"],
    [
      "--min-healthy 3 with two healthy peers",
      () => {},
      { ...DEFAULT, minHealthy: { kind: "count", value: 3 } },
      "refuse 3",
    ],
    [
      "--min-healthy 50% of three members: two remain",
      () => {},
      { ...DEFAULT, minHealthy: { kind: "percent", value: 50 } },
      "act record-removal,deregister,wait-out",
    ],
    [
      "a peer recorded as out but still registered (its out cut short) counts as out",
      (s) => record(s, 1, "i-b"),
      DEFAULT,
      "refuse 3",
    ],
    [
      "this host recorded as out everywhere, deregistered from one only: finish, no turn",
      (s) => {
        record(s, 0, "i-a");
        record(s, 1, "i-a");
        drop(s, 0, "i-a");
      },
      DEFAULT,
      "act finish-deregister,wait-out",
    ],
    [
      "... even though a peer now spends --max-unavailable (it counted this host out already)",
      (s) => {
        record(s, 0, "i-a");
        record(s, 1, "i-a");
        drop(s, 0, "i-a");
        set(s, 1, "i-c", "unhealthy");
      },
      DEFAULT,
      "act finish-deregister,wait-out",
    ],
    [
      "... but never as the last healthy member",
      (s) => {
        record(s, 0, "i-a");
        record(s, 1, "i-a");
        drop(s, 0, "i-a");
        set(s, 1, "i-b", "unhealthy");
        set(s, 1, "i-c", "unhealthy");
      },
      DEFAULT,
      "refuse 3",
    ],
    [
      "recorded on one only: a new out of the other, turn and budget again",
      (s) => record(s, 0, "i-a"),
      DEFAULT,
      "act record-removal,deregister,wait-out",
    ],
  ];
  for (const [name, tweak, policy, expected] of cases) {
    it(`${name} -> ${expected}`, () =>
      assert.equal(summary(decideStandaloneOut(snapshot(tweak), policy)), expected));
  }

  it("says which load balancer would be left without a healthy member", () => {
    const d = decideStandaloneOut(
      snapshot((s) => {
        set(s, 0, "i-b", "unhealthy");
        set(s, 0, "i-c", "draining");
      }),
      DEFAULT,
    );
    assert.equal(
      d.verdict === "refuse" && d.reason,
      "refusing: this host is the only healthy member of elb/app-classic; taking it out would leave none",
    );
  });

  it("a shutdown leaves even when the budget refuses, and says so", () => {
    const d = decideStandaloneShutdown(
      snapshot((s) => set(s, 1, "i-b", "unhealthy")),
      DEFAULT,
    );
    assert.equal(summary(d), "act record-removal,deregister,wait-out");
    assert.match(d.verdict === "act" ? d.summary : "", /although 2 hosts would be out of tg\/app-tg at once/);
  });
});

describe("decideStandaloneIn", () => {
  const cases: [string, (s: StandaloneSnapshot) => void, boolean, string][] = [
    ["already in, nothing recorded", () => {}, false, "done"],
    ["out: register, wait, forget", (s) => out(s), false, "act register,wait-in,forget-removal"],
    ["registered but still checking", (s) => set(s, 0, "i-a", "registering"), false, "act wait-in"],
    [
      "back and healthy, records left behind (killed at the last step)",
      (s) => {
        record(s, 0, "i-a");
        record(s, 1, "i-a");
      },
      false,
      "act forget-removal",
    ],
    ["at boot, out by a shutdown", (s) => out(s, "shutdown"), true, "act register,wait-in,forget-removal"],
    ["at boot, out by an operator: left out", (s) => out(s, "out"), true, "done"],
    [
      "in none of them and no record anywhere: where, and on which port, is unknown",
      (s) => {
        drop(s, 0, "i-a");
        drop(s, 1, "i-a");
      },
      false,
      "refuse 3",
    ],
  ];
  for (const [name, tweak, afterShutdown, expected] of cases) {
    it(`${name} -> ${expected}`, () =>
      assert.equal(summary(decideStandaloneIn(snapshot(tweak), { afterShutdown })), expected));
  }

  it("registers only where a record says out took it, and waits only there", () => {
    const s = snapshot((x) => {
      drop(x, 0, "i-a");
      record(x, 0, "i-a");
      drop(x, 1, "i-a");
    });
    const d = decideStandaloneIn(s);
    assert.equal(summary(d), "act register,wait-in,forget-removal");
    assert.ok(d.verdict === "act");
    assert.deepEqual(d.targets, [s.loadBalancers[0]!.lb.id]);
    assert.deepEqual(d.skipped, [s.loadBalancers[1]!.lb.id]);
    assert.match(d.summary, /; not tg\/app-tg: balanced did not take it out of it$/);
  });

  it("registers on the recorded ports, else where it is, else the target group's port", () => {
    const s = snapshot();
    const tg = s.loadBalancers[1]!;
    assert.deepEqual(portsToRegister(s, tg), [8080]);
    tg.selfPorts = [];
    assert.deepEqual(portsToRegister(s, tg), [80]);
    record(s, 1, "i-a", "out", [8080, 8443]);
    assert.deepEqual(portsToRegister(s, tg), [8080, 8443]);
    assert.deepEqual(portsToRegister(s, s.loadBalancers[0]!), []);
  });
});

describe("removal records", () => {
  it("round-trip, in the characters load balancer tags allow (no commas)", () => {
    const value = formatRemoval({ ports: [8080, 8443], by: "shutdown", at: "2026-11-24T01:02:03.456Z" });
    assert.match(value, /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u);
    assert.deepEqual(parseRemovals({ "balanced:out:i-x": value, Name: "web" }), [
      { instanceId: "i-x", ports: [8080, 8443], by: "shutdown", at: "2026-11-24T01:02:03.456Z" },
    ]);
  });
  it("keep the zone of an IP target outside the VPC (az=all), and older records still read", () => {
    const value = formatRemoval({ ports: [8080], by: "out", at: "2026-11-24T01:02:03Z", az: "all" });
    assert.equal(value, "ports=8080 by=out at=2026-11-24T01:02:03Z az=all");
    assert.equal(parseRemovals({ "balanced:out:i-x": value })[0]!.az, "all");
    assert.equal(
      parseRemovals({ "balanced:out:i-x": "ports=8080 by=out at=2026-11-24T01:02:03Z" })[0]!.az,
      undefined,
    );
  });
  it("keep a secondary IP the host was registered under (ip=)", () => {
    const value = formatRemoval({ ports: [8080], by: "out", at: "2026-11-24T01:02:03Z", ip: "10.0.98.21" });
    assert.equal(value, "ports=8080 by=out at=2026-11-24T01:02:03Z ip=10.0.98.21");
    assert.equal(parseRemovals({ "balanced:out:i-x": value })[0]!.ip, "10.0.98.21");
  });
  it("ignores what it cannot read", () => {
    assert.deepEqual(parseRemovals({ "balanced:out:i-x": "garbage" }), []);
  });
});
