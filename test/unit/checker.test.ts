import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkBudgets, checkEnd } from "../chaos/checker";
import type { SimState } from "../sim/server";
import type { ServingChange, TargetState } from "../sim/world";

const change = (
  t: number,
  instanceId: string,
  serving: boolean,
  outOfService: number,
  of = 3,
): ServingChange => ({
  t,
  group: "web",
  instanceId,
  serving,
  outOfService,
  serving_count: of - outOfService,
});

const BUDGET = [{ scope: "web", maxUnavailable: 1, minServing: 1 }];

describe("checkBudgets: histories made by hand", () => {
  it("finds two hosts out at once, and says when and how many", () => {
    const history = [
      change(1000, "a", false, 1),
      change(2000, "b", false, 2),
      change(3000, "a", true, 1),
      change(4000, "b", true, 0),
    ];
    const [v, ...rest] = checkBudgets(history, BUDGET);
    assert.equal(rest.length, 0);
    assert.equal(v!.scope, "web");
    assert.equal(v!.t, 2000);
    assert.equal(v!.what, "2 out of service at once (budget 1), at 1 instant(s)");
    assert.equal(v!.timeline.length, 4);
  });

  it("lets a near miss pass: one back at the very instant the next leaves", () => {
    // Both changes at one instant: the count after them is 1, which the budget allows.
    const history = [
      change(1000, "a", false, 1),
      { ...change(2000, "a", true, 1) },
      change(2000, "b", false, 1),
      change(3000, "b", true, 0),
    ];
    assert.deepEqual(checkBudgets(history, BUDGET), []);
  });

  it("lets one out after another pass, however close", () => {
    const history = [
      change(1000, "a", false, 1),
      change(2000, "a", true, 0),
      change(2001, "b", false, 1),
      change(3000, "b", true, 0),
    ];
    assert.deepEqual(checkBudgets(history, BUDGET), []);
  });

  it("finds a floor broken: fewer serving than required", () => {
    const history = [change(1000, "a", false, 1, 2), change(1500, "b", false, 2, 2)];
    const v = checkBudgets(history, [{ scope: "web", maxUnavailable: 2, minServing: 1 }]);
    assert.equal(v.length, 1);
    assert.match(v[0]!.what, /0 serving \(at least 1 must\)/);
  });

  it("checks each scope against its own budget: a load balancer shared by two groups", () => {
    const lb = (t: number, id: string, serving: boolean, out: number): ServingChange => ({
      t,
      loadBalancer: "tg/shared",
      instanceId: id,
      serving,
      outOfService: out,
      serving_count: 4 - out,
    });
    const history = [change(1000, "a", false, 1), lb(1000, "a", false, 1), lb(1200, "x", false, 2)];
    const v = checkBudgets(history, [...BUDGET, { scope: "tg/shared", maxUnavailable: 1, minServing: 1 }]);
    assert.deepEqual(
      v.map((x) => x.scope),
      ["tg/shared"],
    );
  });
});

const state = (
  over: Partial<{
    min: number;
    desired: number;
    tags: Record<string, string>;
    life: string;
    tg: string;
  }> = {},
): SimState => ({
  now: "",
  timeScale: 1,
  groups: [
    {
      name: "web",
      min: over.min ?? 1,
      max: 4,
      desired: over.desired ?? 2,
      suspended: [],
      tags: over.tags ?? {},
      loadBalancerNames: [],
      targetGroupArns: ["arn:tg"],
      activities: [],
      refreshes: [],
    },
  ],
  instances: ["i-1", "i-2"].map((id) => ({
    id,
    group: "web",
    lifecycleState: id === "i-2" ? (over.life ?? "InService") : "InService",
    health: "Healthy",
    privateIp: "10.0.0.1",
    ec2State: "running",
  })),
  loadBalancers: [],
  targetGroups: [
    {
      name: "tg",
      arn: "arn:tg",
      targets: ["i-1", "i-2"].map((id) => ({
        id,
        port: 80,
        state: (id === "i-2" ? (over.tg ?? "healthy") : "healthy") as TargetState,
        reason: null,
      })),
      tags: {},
    },
  ],
  tables: [],
});

describe("checkEnd: what a finished trial must have left", () => {
  it("passes the start state itself", () => assert.deepEqual(checkEnd(state(), state()), []));

  it("names a MinSize left lowered, a turn left behind, a host stuck out", () => {
    const end = state({
      min: 0,
      desired: 1,
      tags: { "balanced:turn": "i-2 ..." },
      life: "Standby",
      tg: "draining",
    });
    assert.deepEqual(checkEnd(state(), end), [
      "web: MinSize 0, was 1",
      "web: DesiredCapacity 1, was 2",
      "web: tag balanced:turn=i-2 ... left behind",
      "i-2: Standby, was InService",
      "i-2: tg/tg:80 draining, was healthy",
    ]);
  });

  it("names an instance the group launched", () => {
    const end = state();
    end.instances.push({
      id: "i-3",
      group: "web",
      lifecycleState: "Pending",
      health: "Healthy",
      privateIp: "10.0.0.3",
      ec2State: "pending",
    });
    assert.deepEqual(checkEnd(state(), end), ["i-3 was launched (web, Pending)"]);
  });

  it("names a live turn left in the lock's table, not an expired one", () => {
    const end = state();
    end.now = "2026-12-01T00:00:00.000Z";
    const t = Date.parse(end.now);
    end.tables.push({
      name: "locks",
      status: "ACTIVE",
      items: [
        { key: "group:web", turn: "i-2 pid=9 nonce=a expires=...", expiresAt: t + 30_000 },
        { key: "tg:arn:tg", turn: "i-1 pid=8 nonce=b expires=...", expiresAt: t - 1 },
      ],
    });
    assert.deepEqual(checkEnd(state(), end), [
      "lock locks: group:web left held (i-2 pid=9 nonce=a expires=...)",
    ]);
  });
});
