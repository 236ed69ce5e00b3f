import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  assessBudget,
  budgetBreach,
  type Decision,
  decideIn,
  decideOut,
  decideShutdown,
  resolveQuantity,
} from "../../src/core/decide";
import type { LoadBalancerView, MemberState, Policy, Snapshot } from "../../src/core/types";

/** A three-host group, everything healthy, one classic ELB and one target group; tweak per case. */
function snapshot(tweak: (s: Snapshot) => void = () => {}): Snapshot {
  const ids = ["i-a", "i-b", "i-c"];
  const lb = (kind: LoadBalancerView["kind"], name: string): LoadBalancerView => ({
    kind,
    name,
    id: name,
    source: "group",
    drainSeconds: 300,
    healthCheckIntervalSeconds: 10,
    healthyThreshold: 3,
    healthChecksEnabled: true,
    targetType: "instance",
    port: kind === "classic" ? undefined : 80,
    members: Object.fromEntries(ids.map((id) => [id, { state: "healthy" as MemberState, detail: "" }])),
  });
  const s: Snapshot = {
    instanceId: "i-a",
    region: "us-east-1",
    group: {
      name: "web",
      minSize: 1,
      maxSize: 4,
      desiredCapacity: 3,
      instances: ids.map((id) => ({
        id,
        lifecycleState: "InService",
        health: "Healthy",
        availabilityZone: "us-east-1a",
      })),
      suspendedProcesses: [],
      minHealthyPercentage: undefined,
      tags: {},
    },
    loadBalancers: [lb("classic", "web-classic"), lb("target-group", "web-tg")],
    activities: [],
    refreshes: [],
    takenAt: 0,
    standbySince: {},
  };
  tweak(s);
  return s;
}

const inst = (s: Snapshot, id: string) => s.group.instances.find((i) => i.id === id)!;
const member = (s: Snapshot, lb: number, id: string, state: MemberState) => {
  s.loadBalancers[lb]!.members[id] = { state, detail: state };
};
const DEFAULT: Policy = {
  minHealthy: undefined,
  maxUnavailable: { kind: "count", value: 1 },
  minSize: "lower",
};

const summary = (d: Decision) =>
  d.verdict === "refuse" ? `refuse ${d.exitCode}` : d.verdict === "act" ? `act ${d.steps.join(",")}` : "done";

describe("decideOut", () => {
  const cases: [string, (s: Snapshot) => void, Policy, string][] = [
    ["all healthy", () => {}, DEFAULT, "act enter-standby,wait-out"],
    [
      "already Standby and gone everywhere",
      (s) => {
        inst(s, "i-a").lifecycleState = "Standby";
        member(s, 0, "i-a", "absent");
        member(s, 1, "i-a", "absent");
      },
      DEFAULT,
      "done",
    ],
    [
      "Standby but still draining in one target group",
      (s) => {
        inst(s, "i-a").lifecycleState = "Standby";
        member(s, 0, "i-a", "absent");
        member(s, 1, "i-a", "draining");
      },
      DEFAULT,
      "act wait-out",
    ],
    [
      "NotInUse is not a deregistration",
      (s) => {
        inst(s, "i-a").lifecycleState = "Standby";
        member(s, 0, "i-a", "absent");
        member(s, 1, "i-a", "not-in-use");
      },
      DEFAULT,
      "act wait-out",
    ],
    [
      "EnteringStandby: finish the earlier run",
      (s) => {
        inst(s, "i-a").lifecycleState = "EnteringStandby";
      },
      DEFAULT,
      "act wait-out",
    ],
    [
      "self Pending:Wait",
      (s) => {
        inst(s, "i-a").lifecycleState = "Pending:Wait";
      },
      DEFAULT,
      "refuse 4",
    ],
    [
      "activity of another instance",
      (s) => {
        s.activities = [
          {
            id: "x",
            statusCode: "PreInService",
            description: "Launching a new EC2 instance: i-z",
            startTime: undefined,
          },
        ];
      },
      DEFAULT,
      "refuse 4",
    ],
    [
      "this host's own activity does not count",
      (s) => {
        s.activities = [
          {
            id: "x",
            statusCode: "InProgress",
            description: "Moving EC2 instance to InService: i-a",
            startTime: undefined,
          },
        ];
      },
      DEFAULT,
      "act enter-standby,wait-out",
    ],
    [
      "refresh pending",
      (s) => {
        s.refreshes = [{ id: "r", status: "Pending" }];
      },
      DEFAULT,
      "refuse 4",
    ],
    [
      "refresh finished long ago",
      (s) => {
        s.refreshes = [{ id: "r", status: "Successful" }];
      },
      DEFAULT,
      "act enter-standby,wait-out",
    ],
    [
      "peer Terminating",
      (s) => {
        inst(s, "i-b").lifecycleState = "Terminating";
      },
      DEFAULT,
      "refuse 4",
    ],
    [
      "peer Terminated is gone, not transitional",
      (s) => {
        inst(s, "i-c").lifecycleState = "Terminated";
      },
      { ...DEFAULT },
      "act enter-standby,wait-out",
    ],
    [
      "Launch suspended",
      (s) => {
        s.group.suspendedProcesses = ["Launch"];
      },
      DEFAULT,
      "refuse 4",
    ],
    [
      "AddToLoadBalancer suspended",
      (s) => {
        s.group.suspendedProcesses = ["AddToLoadBalancer"];
      },
      DEFAULT,
      "refuse 4",
    ],
    [
      "peer unhealthy in one target group spends the budget",
      (s) => member(s, 1, "i-b", "unhealthy"),
      DEFAULT,
      "refuse 3",
    ],
    [
      "peer unhealthy, but --max-unavailable 2",
      (s) => member(s, 1, "i-b", "unhealthy"),
      { ...DEFAULT, maxUnavailable: { kind: "count", value: 2 } },
      "act enter-standby,wait-out",
    ],
    [
      "peer whose health AWS cannot tell (unavailable: Elb.InternalError) is not healthy",
      (s) => member(s, 1, "i-b", "unavailable"),
      DEFAULT,
      "refuse 3",
    ],
    [
      "peer still registering is not healthy yet",
      (s) => member(s, 0, "i-b", "registering"),
      DEFAULT,
      "refuse 3",
    ],
    [
      "peer in Standby",
      (s) => {
        inst(s, "i-b").lifecycleState = "Standby";
      },
      DEFAULT,
      "refuse 3",
    ],
    [
      "--min-healthy 2 with two healthy peers",
      () => {},
      { ...DEFAULT, minHealthy: { kind: "count", value: 2 } },
      "act enter-standby,wait-out",
    ],
    [
      "--min-healthy 67% of 3 rounds up to 3",
      () => {},
      { ...DEFAULT, minHealthy: { kind: "percent", value: 67 } },
      "refuse 3",
    ],
    [
      "maintenance policy 50% of 3 -> 2",
      (s) => {
        s.group.minHealthyPercentage = 50;
      },
      DEFAULT,
      "act enter-standby,wait-out",
    ],
    [
      "maintenance policy 100%",
      (s) => {
        s.group.minHealthyPercentage = 100;
      },
      DEFAULT,
      "refuse 3",
    ],
    [
      "min equals desired: lower it for the time this host is out",
      (s) => {
        s.group.minSize = 3;
      },
      DEFAULT,
      "act lower-min-size,enter-standby,wait-out",
    ],
    [
      "min equals desired with --min-size refuse",
      (s) => {
        s.group.minSize = 3;
      },
      { ...DEFAULT, minSize: "refuse" },
      "refuse 3",
    ],
    [
      "min equals desired at MinSize 0 is impossible: refuse",
      (s) => {
        s.group.minSize = 0;
        s.group.desiredCapacity = 0;
      },
      DEFAULT,
      "refuse 3",
    ],
    [
      "last instance",
      (s) => {
        s.group.instances = s.group.instances.slice(0, 1);
        s.group.desiredCapacity = 1;
        s.group.minSize = 0;
      },
      { ...DEFAULT, maxUnavailable: { kind: "percent", value: 100 } },
      "refuse 3",
    ],
  ];
  for (const [name, tweak, policy, expected] of cases) {
    it(`${name} -> ${expected}`, () => assert.equal(summary(decideOut(snapshot(tweak), policy)), expected));
  }

  it("says the numbers when refusing", () => {
    const d = decideOut(snapshot(), { ...DEFAULT, minHealthy: { kind: "count", value: 3 } });
    assert.equal(
      d.verdict === "refuse" && d.reason,
      "refusing: 2 healthy peers would remain, --min-healthy requires 3",
    );
  });
});

describe("decideIn", () => {
  const cases: [string, (s: Snapshot) => void, string][] = [
    ["already in", () => {}, "done"],
    [
      "Standby",
      (s) => {
        inst(s, "i-a").lifecycleState = "Standby";
        s.group.tags["balanced:parked:i-a"] = "2026-11-23T00:00:00Z";
      },
      "act exit-standby,wait-in,forget-parked",
    ],
    [
      "EnteringStandby: wait for it first",
      (s) => {
        inst(s, "i-a").lifecycleState = "EnteringStandby";
        s.group.tags["balanced:parked:i-a"] = "2026-11-23T00:00:00Z";
      },
      "act wait-standby,exit-standby,wait-in,forget-parked",
    ],
    [
      "Pending: finish an earlier in",
      (s) => {
        inst(s, "i-a").lifecycleState = "Pending";
      },
      "act wait-in",
    ],
    ["InService but still registering", (s) => member(s, 1, "i-a", "registering"), "act wait-in"],
    [
      "Standby at MaxSize",
      (s) => {
        inst(s, "i-a").lifecycleState = "Standby";
        s.group.maxSize = 3;
      },
      "refuse 3",
    ],
    [
      "Terminating",
      (s) => {
        inst(s, "i-a").lifecycleState = "Terminating";
      },
      "refuse 4",
    ],
    [
      "Standby having lowered MinSize: restore it last",
      (s) => {
        inst(s, "i-a").lifecycleState = "Standby";
        s.group.tags["balanced:parked:i-a"] = "2026-11-23T00:00:00Z";
        s.group.tags["balanced:min-size:i-a"] = "original=3 lowered-to=2 at=2026-11-23T00:00:00Z";
      },
      "act exit-standby,wait-in,restore-min-size,forget-parked",
    ],
    [
      "in and healthy, but MinSize not restored (killed at the last step)",
      (s) => {
        s.group.tags["balanced:min-size:i-a"] = "original=3 lowered-to=2 at=2026-11-23T00:00:00Z";
      },
      "act restore-min-size",
    ],
    [
      "Standby, parked by someone else (no record): refused, so a quarantine stays",
      (s) => {
        inst(s, "i-a").lifecycleState = "Standby";
      },
      "refuse 3",
    ],
    [
      "back in, its parked record still there (killed at the last step)",
      (s) => {
        s.group.tags["balanced:parked:i-a"] = "2026-11-23T00:00:00Z";
      },
      "act forget-parked",
    ],
    [
      "another host's MinSize record while that host is out is its own to restore",
      (s) => {
        inst(s, "i-b").lifecycleState = "Standby";
        s.group.tags["balanced:min-size:i-b"] = "original=3 lowered-to=2 at=2026-11-23T00:00:00Z";
      },
      "done",
    ],
    [
      "another host's MinSize record with that host back and healthy: a restore it could not finish, finished here",
      (s) => {
        s.group.tags["balanced:min-size:i-b"] = "original=3 lowered-to=2 at=2026-11-23T00:00:00Z";
      },
      "act restore-min-size",
    ],
  ];
  for (const [name, tweak, expected] of cases) {
    it(`${name} -> ${expected}`, () => assert.equal(summary(decideIn(snapshot(tweak))), expected));
  }
  it("--force takes back a host someone else parked", () => {
    const s = snapshot((x) => {
      inst(x, "i-a").lifecycleState = "Standby";
    });
    assert.equal(summary(decideIn(s, { force: true })), "act exit-standby,wait-in");
    const refused = decideIn(s);
    assert.match(refused.verdict === "refuse" ? refused.reason : "", /balanced in --force/);
  });
});

describe("decideShutdown (the systemd unit's stop)", () => {
  const cases: [string, (s: Snapshot) => void, Policy, string][] = [
    ["in service: record, then leave", () => {}, DEFAULT, "act record-shutdown,enter-standby,wait-out"],
    [
      "over budget: leaves anyway, the host goes down either way",
      (s) => {
        inst(s, "i-b").health = "Unhealthy";
      },
      DEFAULT,
      "act record-shutdown,enter-standby,wait-out",
    ],
    [
      "the group is busy: leaves anyway",
      (s) => {
        inst(s, "i-c").lifecycleState = "Pending";
      },
      DEFAULT,
      "act record-shutdown,enter-standby,wait-out",
    ],
    [
      "at MinSize: lowers it, recorded for the boot's in",
      (s) => {
        s.group.minSize = 3;
      },
      DEFAULT,
      "act record-shutdown,lower-min-size,enter-standby,wait-out",
    ],
    [
      "at MinSize under --min-size refuse: AWS would refuse standby",
      (s) => {
        s.group.minSize = 3;
      },
      { ...DEFAULT, minSize: "refuse" },
      "refuse 3",
    ],
    [
      "being terminated and still draining: only wait",
      (s) => {
        inst(s, "i-a").lifecycleState = "Terminating:Wait";
        member(s, 0, "i-a", "draining");
        member(s, 1, "i-a", "absent");
      },
      DEFAULT,
      "act wait-drained",
    ],
    [
      "being terminated and drained: nothing to do",
      (s) => {
        inst(s, "i-a").lifecycleState = "Terminating";
        member(s, 0, "i-a", "absent");
        member(s, 1, "i-a", "absent");
      },
      DEFAULT,
      "done",
    ],
    [
      "already out: nothing recorded",
      (s) => {
        inst(s, "i-a").lifecycleState = "Standby";
        member(s, 0, "i-a", "absent");
        member(s, 1, "i-a", "absent");
      },
      DEFAULT,
      "done",
    ],
    [
      "still Pending at shutdown: nothing to drain",
      (s) => {
        inst(s, "i-a").lifecycleState = "Pending";
      },
      DEFAULT,
      "done",
    ],
  ];
  for (const [name, tweak, policy, expected] of cases) {
    it(`${name} -> ${expected}`, () =>
      assert.equal(summary(decideShutdown(snapshot(tweak), policy)), expected));
  }
});

describe("decideIn --after-shutdown (the systemd unit's start)", () => {
  const recorded = (s: Snapshot) => {
    s.group.tags["balanced:shutdown:i-a"] = "2026-11-24T00:00:00Z";
  };
  const cases: [string, (s: Snapshot) => void, boolean, string][] = [
    [
      "out by a shutdown: come back, then forget it",
      (s) => {
        recorded(s);
        inst(s, "i-a").lifecycleState = "Standby";
      },
      true,
      "act exit-standby,wait-in,forget-shutdown",
    ],
    [
      "out by an operator: stays out",
      (s) => {
        inst(s, "i-a").lifecycleState = "Standby";
      },
      true,
      "done",
    ],
    [
      "another host's record is not this host's",
      (s) => {
        s.group.tags["balanced:shutdown:i-b"] = "2026-11-24T00:00:00Z";
        inst(s, "i-a").lifecycleState = "Standby";
      },
      true,
      "done",
    ],
    ["killed before standby: already in, forget the record", recorded, true, "act forget-shutdown"],
    [
      "a plain in also forgets the record",
      (s) => {
        recorded(s);
        inst(s, "i-a").lifecycleState = "Standby";
      },
      false,
      "act exit-standby,wait-in,forget-shutdown",
    ],
    [
      "MinSize lowered by the shutdown too: restore, then forget",
      (s) => {
        recorded(s);
        s.group.tags["balanced:min-size:i-a"] = "original=3 lowered-to=2 at=2026-11-24T00:00:00Z";
        inst(s, "i-a").lifecycleState = "Standby";
      },
      true,
      "act exit-standby,wait-in,restore-min-size,forget-shutdown",
    ],
  ];
  for (const [name, tweak, afterShutdown, expected] of cases) {
    it(`${name} -> ${expected}`, () =>
      assert.equal(summary(decideIn(snapshot(tweak), { afterShutdown })), expected));
  }
});

describe("load balancers named on the command line", () => {
  it("a peer absent from a named target group is still healthy; a registered unhealthy one is not", () => {
    const named = (tweak: (s: Snapshot) => void) =>
      snapshot((s) => {
        s.loadBalancers[1]!.source = "named";
        tweak(s);
      });
    assert.deepEqual(
      assessBudget(
        named((s) => member(s, 1, "i-b", "absent")),
        DEFAULT,
      ).healthyPeers,
      ["i-b", "i-c"],
    );
    assert.deepEqual(
      assessBudget(
        named((s) => member(s, 1, "i-b", "unhealthy")),
        DEFAULT,
      ).healthyPeers,
      ["i-c"],
    );
    // In the group's own target group, absence means not serving.
    assert.deepEqual(
      assessBudget(
        snapshot((s) => member(s, 1, "i-b", "absent")),
        DEFAULT,
      ).healthyPeers,
      ["i-c"],
    );
  });
});

describe("assessBudget and quantities", () => {
  it("lists who would be unavailable and why", () => {
    const b = assessBudget(
      snapshot((s) => member(s, 1, "i-c", "draining")),
      DEFAULT,
    );
    assert.deepEqual(b.unavailableAfter, [
      { id: "i-c", why: "draining in tg/web-tg" },
      { id: "i-a", why: "this host" },
    ]);
    assert.deepEqual(b.healthyPeers, ["i-b"]);
  });
  // Percentages are of the group's full size: desired capacity plus the members a decrementing
  // EnterStandby took out of it (Standby, EnteringStandby), as a PodDisruptionBudget's are of its
  // controller's scale. Ten hosts, k of them already out: (k, policy) -> required healthy, max out.
  const tenHosts = (out: number, entering = 0) =>
    snapshot((s) => {
      const ids = Array.from({ length: 10 }, (_, i) => `i-${String.fromCharCode(97 + i)}`);
      s.group.maxSize = 12;
      s.group.desiredCapacity = 10 - out - entering;
      s.group.instances = ids.map((id, i) => ({
        id,
        lifecycleState:
          i === 0 || i > out + entering ? "InService" : i <= out ? "Standby" : "EnteringStandby",
        health: "Healthy",
        availabilityZone: "us-east-1a",
      }));
      for (const lb of s.loadBalancers)
        lb.members = Object.fromEntries(
          s.group.instances
            .filter((i) => i.lifecycleState === "InService")
            .map((i) => [i.id, { state: "healthy" as MemberState, detail: "" }]),
        );
    });
  const fullSizeCases: [string, Snapshot, Policy, number, number][] = [
    [
      "none out, 50% / 100%",
      tenHosts(0),
      {
        ...DEFAULT,
        minHealthy: { kind: "percent", value: 50 },
        maxUnavailable: { kind: "percent", value: 100 },
      },
      5,
      10,
    ],
    [
      "four in Standby: still 50% of 10",
      tenHosts(4),
      { ...DEFAULT, minHealthy: { kind: "percent", value: 50 } },
      5,
      1,
    ],
    [
      "three in Standby and one entering it",
      tenHosts(3, 1),
      { ...DEFAULT, minHealthy: { kind: "percent", value: 50 } },
      5,
      1,
    ],
    [
      "max-unavailable 30% of the full 10, with 5 out",
      tenHosts(5),
      { ...DEFAULT, maxUnavailable: { kind: "percent", value: 30 } },
      1,
      3,
    ],
    [
      "35% rounds up to 4 of 10",
      tenHosts(2),
      { ...DEFAULT, minHealthy: { kind: "percent", value: 35 } },
      4,
      1,
    ],
  ];
  for (const [name, s, policy, required, maxOut] of fullSizeCases)
    it(`percentages against the group's full size: ${name} -> at least ${required} healthy, at most ${maxOut} out`, () => {
      const b = assessBudget(s, policy);
      assert.equal(b.requiredHealthy, required);
      assert.equal(b.maxUnavailable, maxOut);
    });
  it("four of ten in Standby with --min-healthy 50%: a fifth may go, a sixth may not", () => {
    const policy: Policy = {
      ...DEFAULT,
      minHealthy: { kind: "percent", value: 50 },
      maxUnavailable: { kind: "percent", value: 100 },
    };
    assert.equal(summary(decideOut(tenHosts(4), policy)), "act enter-standby,wait-out");
    assert.equal(summary(decideOut(tenHosts(5), policy)), "refuse 3");
    assert.match(
      (() => {
        const d = decideOut(tenHosts(5), policy);
        return d.verdict === "refuse" ? d.reason : "";
      })(),
      /--min-healthy requires 5 \(50% of the group's full size 10 \(desired 5 \+ 5 in Standby\)\)/,
    );
  });
  it("rounds percentages of desired capacity up", () => {
    assert.equal(resolveQuantity({ kind: "percent", value: 50 }, 3), 2);
    assert.equal(resolveQuantity({ kind: "percent", value: 50 }, 4), 2);
    assert.equal(resolveQuantity({ kind: "percent", value: 10 }, 1000), 100);
    assert.equal(resolveQuantity({ kind: "percent", value: 0 }, 3), 0);
    assert.equal(resolveQuantity({ kind: "count", value: 7 }, 3), 7);
  });
});

describe("budgetBreach: after acting, whether the budget still holds with this host out", () => {
  const out = (s: Snapshot) => {
    inst(s, "i-a").lifecycleState = "Standby";
    member(s, 0, "i-a", "absent");
    member(s, 1, "i-a", "absent");
  };
  it("holds when this host alone is out", () =>
    assert.equal(budgetBreach(snapshot(out), DEFAULT), undefined));
  it("names a peer that failed meanwhile", () => {
    const s = snapshot((x) => {
      out(x);
      member(x, 1, "i-b", "unhealthy");
    });
    assert.match(
      budgetBreach(s, DEFAULT) ?? "",
      /2 instances are out of service or unhealthy at once \(.*i-b.*\), --max-unavailable allows 1/,
    );
  });
  it("names a scale-in that started, not this host's own Standby activity", () => {
    const s = snapshot((x) => {
      out(x);
      x.activities = [
        { description: "Moving EC2 instance to Standby: i-a", statusCode: "InProgress" },
        { description: "Terminating EC2 instance: i-c", statusCode: "InProgress" },
      ] as Snapshot["activities"];
    });
    assert.match(
      budgetBreach(s, DEFAULT) ?? "",
      /group web became busy: scaling activity in progress .*Terminating EC2 instance: i-c/,
    );
    const own = snapshot((x) => {
      out(x);
      x.activities = [
        { description: "Moving EC2 instance to Standby: i-b", statusCode: "InProgress" },
      ] as Snapshot["activities"];
    });
    assert.equal(budgetBreach(own, { ...DEFAULT, maxUnavailable: { kind: "count", value: 2 } }), undefined);
  });
});

describe("the budget per load balancer: every target there, and every host recorded out of it", () => {
  const record = (s: Snapshot, lb: number, id: string) => {
    s.loadBalancers[lb]!.tags = {
      ...s.loadBalancers[lb]!.tags,
      [`balanced:out:${id}`]: "ports= by=out at=2026-12-02T00:00:00Z group=web",
    };
  };
  it("a host of another group recorded out of the target group spends its budget", () => {
    const s = snapshot((x) => record(x, 1, "i-other"));
    const d = decideOut(s, DEFAULT);
    assert.equal(summary(d), "refuse 3");
    assert.match(
      d.verdict === "refuse" ? d.reason : "",
      /^refusing: 2 hosts would be out of tg\/web-tg at once \(i-other: taken out by balanced at \S+, this host\), --max-unavailable allows 1$/,
    );
    assert.equal(
      summary(decideOut(s, { ...DEFAULT, maxUnavailable: { kind: "count", value: 2 } })),
      "act enter-standby,wait-out",
    );
  });
  it("a target no group of this host's registered (an IP target) counts when it is not serving", () => {
    const s = snapshot((x) => member(x, 1, "10.0.9.9", "unhealthy"));
    assert.match(
      (decideOut(s, DEFAULT) as { reason?: string }).reason ?? "",
      /2 hosts would be out of tg\/web-tg at once \(10\.0\.9\.9: unhealthy in tg\/web-tg, this host\)/,
    );
    // Healthy, it is one more healthy member: percentages are of every member.
    const healthy = snapshot((x) => member(x, 1, "10.0.9.9", "healthy"));
    assert.equal(summary(decideOut(healthy, DEFAULT)), "act enter-standby,wait-out");
  });
  it("a peer of this group in Standby with its record is counted once, not twice", () => {
    const s = snapshot((x) => {
      inst(x, "i-b").lifecycleState = "Standby";
      member(x, 0, "i-b", "absent");
      member(x, 1, "i-b", "absent");
      record(x, 1, "i-b");
    });
    const d = decideOut(s, { ...DEFAULT, maxUnavailable: { kind: "count", value: 2 } });
    assert.equal(summary(d), "act enter-standby,wait-out");
  });
  it("this host's own record does not count against it", () =>
    assert.equal(
      summary(
        decideOut(
          snapshot((x) => record(x, 1, "i-a")),
          DEFAULT,
        ),
      ),
      "act enter-standby,wait-out",
    ));
  it("after acting: another group's host recorded out meanwhile is a breach", () => {
    const s = snapshot((x) => {
      inst(x, "i-a").lifecycleState = "Standby";
      member(x, 0, "i-a", "absent");
      member(x, 1, "i-a", "absent");
      record(x, 1, "i-a");
      record(x, 1, "i-other");
    });
    assert.match(budgetBreach(s, DEFAULT) ?? "", /^2 hosts are out of tg\/web-tg at once/);
    // Not in a load balancer and not recorded out of it: not this host's to spend.
    const named = snapshot((x) => {
      member(x, 1, "i-a", "absent");
      record(x, 1, "i-other");
    });
    assert.equal(summary(decideOut(named, DEFAULT)), "act enter-standby,wait-out");
  });
  it("in: a host back in service forgets its records, also when it is in already", () => {
    const s = snapshot((x) => record(x, 1, "i-a"));
    assert.equal(summary(decideIn(s)), "act forget-removal");
    const standby = snapshot((x) => {
      inst(x, "i-a").lifecycleState = "Standby";
      x.group.tags["balanced:parked:i-a"] = "2026-12-02T00:00:00Z";
      record(x, 1, "i-a");
    });
    assert.equal(summary(decideIn(standby)), "act exit-standby,wait-in,forget-removal,forget-parked");
  });
});
