import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type MinSizeRecord, planLower, planRestore, type Sizes } from "../../src/core/minsize";

const rec = (instanceId: string, original: number, loweredTo = original - 1): MinSizeRecord => ({
  instanceId,
  original,
  loweredTo,
  at: `t-${instanceId}`,
});
const sizes = (minSize: number, desiredCapacity = minSize, maxSize = 10): Sizes => ({
  minSize,
  maxSize,
  desiredCapacity,
});

describe("MinSize lowering and restoring", () => {
  it("lowers by one and records the original first", () => {
    assert.deepEqual(planLower(sizes(2), [], "i-a", "t-i-a"), {
      kind: "lower",
      record: rec("i-a", 2),
      writeRecord: true,
    });
  });
  it("a second host records the operator's MinSize, not the already-lowered one", () => {
    const plan = planLower(sizes(2), [rec("i-a", 3)], "i-b", "t-i-b");
    assert.deepEqual(plan, { kind: "lower", record: rec("i-b", 3, 1), writeRecord: true });
  });
  it("a rerun after recording but before lowering lowers without rewriting the record", () => {
    assert.deepEqual(planLower(sizes(2), [rec("i-a", 2)], "i-a", "later"), {
      kind: "lower",
      record: rec("i-a", 2),
      writeRecord: false,
    });
  });
  it("a rerun after lowering does nothing", () => {
    assert.deepEqual(planLower(sizes(1), [rec("i-a", 2)], "i-a", "later"), { kind: "already" });
  });

  const restores: [string, Sizes, MinSizeRecord[], string, unknown][] = [
    ["one host: back to the original", sizes(1, 2), [rec("i-a", 2)], "i-a", { kind: "restore", minSize: 2 }],
    [
      "two lowered, first back: one step up",
      sizes(1, 2),
      [rec("i-a", 3), rec("i-b", 3, 1)],
      "i-a",
      { kind: "restore", minSize: 2 },
    ],
    [
      "two lowered, second back first: one step up",
      sizes(1, 2),
      [rec("i-a", 3), rec("i-b", 3, 1)],
      "i-b",
      { kind: "restore", minSize: 2 },
    ],
    [
      "the last of two: back to the operator's value",
      sizes(2, 3),
      [rec("i-b", 3, 1)],
      "i-b",
      { kind: "restore", minSize: 3 },
    ],
    [
      "crash before lowering: MinSize untouched, nothing to undo",
      sizes(2),
      [rec("i-a", 2)],
      "i-a",
      { kind: "restore", minSize: 2 },
    ],
    ["operator raised MinSize meanwhile: leave it", sizes(4), [rec("i-a", 2)], "i-a", { kind: "leave" }],
    ["operator lowered it further meanwhile: leave it", sizes(0), [rec("i-a", 2)], "i-a", { kind: "leave" }],
    ["never above MaxSize", sizes(1, 1, 1), [rec("i-a", 2)], "i-a", { kind: "restore", minSize: 1 }],
    ["no record: nothing to do", sizes(1), [rec("i-b", 3, 1)], "i-a", { kind: "none" }],
  ];
  for (const [name, s, records, me, expected] of restores) {
    it(name, () => {
      const plan = planRestore(s, records, me) as { kind: string; minSize?: number };
      assert.deepEqual(
        { kind: plan.kind, ...(plan.minSize !== undefined ? { minSize: plan.minSize } : {}) },
        expected,
      );
    });
  }

  it("never above desired capacity: AWS would launch instances to meet it; the record stays", () => {
    // Base 3, two lowered; desired is 1 although the other host is back (a scale-in meanwhile).
    const plan = planRestore(sizes(1, 1), [rec("i-a", 3), rec("i-b", 3, 1)], "i-a", () => false);
    assert.deepEqual(
      { kind: plan.kind, minSize: (plan as { minSize: number }).minSize },
      { kind: "partial", minSize: 1 },
    );
    assert.equal((plan as { wanted: number }).wanted, 3);
  });
  it("above desired capacity by the share of a host gone for good: its replacement is due", () => {
    const plan = planRestore(
      sizes(2, 2),
      [rec("i-a", 3)],
      "i-a",
      () => false,
      () => true,
    );
    assert.deepEqual(plan.kind === "restore" ? plan.minSize : plan, 3);
  });
  it("a host back in service without its restore: this restore gives back its share too", () => {
    const plan = planRestore(sizes(1, 3), [rec("i-a", 3), rec("i-b", 3, 1)], "i-a", () => false);
    assert.deepEqual(plan.kind === "restore" ? [plan.minSize, plan.settled] : plan, [3, ["i-b"]]);
    // Still out, it keeps its share: one step up only.
    const still = planRestore(sizes(1, 2), [rec("i-a", 3), rec("i-b", 3, 1)], "i-a", () => true);
    assert.deepEqual(still.kind === "restore" ? [still.minSize, still.settled] : still, [2, []]);
  });

  it("two hosts out, restored in either order, end at the operator's MinSize", () => {
    for (const order of [
      ["i-a", "i-b"],
      ["i-b", "i-a"],
    ]) {
      let records = [rec("i-a", 3), rec("i-b", 3, 1)];
      let min = 1;
      for (const id of order) {
        const plan = planRestore(sizes(min, 3), records, id);
        assert.equal(plan.kind, "restore");
        if (plan.kind === "restore") min = plan.minSize;
        records = records.filter((r) => r.instanceId !== id);
      }
      assert.equal(min, 3);
    }
  });
});
