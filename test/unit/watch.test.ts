import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  describeNotices,
  type Notices,
  nextWatchAction,
  parseMaintenance,
  parseSpot,
  type WatchConfig,
} from "../../src/core/watch";

const NOW = Date.parse("2026-11-25T12:00:00Z");
const CFG: WatchConfig = { onRebalance: "ignore", maintenanceLeadMs: 600_000 };
const none: Notices = { maintenance: [] };
const next = (n: Partial<Notices>, handled: string[] = [], cfg = CFG) =>
  nextWatchAction({ ...none, ...n }, NOW, cfg, new Set(handled));

describe("nextWatchAction", () => {
  const spot = { action: "terminate" as const, time: NOW + 120_000 };
  const reboot = { code: "system-reboot", eventId: "e-1", notBefore: NOW + 300_000, state: "active" };
  const retire = { code: "instance-retirement", eventId: "e-2", notBefore: NOW + 3_600_000, state: "active" };

  const cases: [
    string,
    Partial<Notices>,
    string[],
    ReturnType<typeof next>["kind"],
    Record<string, unknown>,
  ][] = [
    ["nothing pending", {}, [], "none", {}],
    [
      "a Spot notice: drain by its time, for good",
      { spot },
      [],
      "drain",
      { leaveBy: spot.time, replace: true },
    ],
    ["the same Spot notice once handled", { spot }, [`spot:terminate:${spot.time}`], "none", {}],
    [
      "a reboot within the lead: drain, to come back",
      { maintenance: [reboot] },
      [],
      "drain",
      { leaveBy: reboot.notBefore, replace: false },
    ],
    ["a retirement beyond the lead: not yet", { maintenance: [retire] }, [], "none", {}],
    ["a completed event: nothing", { maintenance: [{ ...reboot, state: "completed" }] }, [], "none", {}],
    [
      "Spot and a reboot: the nearer first",
      { spot, maintenance: [reboot] },
      [],
      "drain",
      { leaveBy: spot.time },
    ],
    ["a rebalance recommendation, ignored by default", { rebalanceAt: NOW }, [], "none", {}],
    ["Auto Scaling terminating it", { targetLifecycle: "Terminated" }, [], "terminating", {}],
    ["heading in service (a launch hook may hold it)", { targetLifecycle: "InService" }, [], "launching", {}],
    ["in service, already looked at", { targetLifecycle: "InService" }, ["lifecycle:InService"], "none", {}],
    [
      "entering a warm pool (its launch hook may hold it)",
      { targetLifecycle: "Warmed:Stopped" },
      [],
      "launching",
      {},
    ],
    [
      "in the warm pool, already looked at",
      { targetLifecycle: "Warmed:Running" },
      ["lifecycle:Warmed:Running"],
      "none",
      {},
    ],
    ["a Spot notice beats the lifecycle", { spot, targetLifecycle: "Terminated" }, [], "drain", {}],
  ];
  for (const [name, notices, handled, kind, fields] of cases)
    it(name, () => {
      const a = next(notices, handled);
      assert.equal(a.kind, kind);
      assert.deepEqual({ ...a, ...fields }, a);
    });

  it("every drain that meant to come back has a way back: canceled, completed, or its window over", () => {
    const network = { ...reboot, code: "system-maintenance", eventId: "e-3", notAfter: NOW + 1_800_000 };
    const drained = next({ maintenance: [network] });
    assert.deepEqual([drained.kind, "key" in drained && drained.key], ["drain", "maintenance:e-3:back"]);
    // Still scheduled, within its window: stay out.
    assert.equal(next({ maintenance: [network] }, ["maintenance:e-3:back"]).kind, "none");
    // Canceled or completed: EC2 no longer lists it as scheduled.
    const gone = next({ maintenance: [] }, ["maintenance:e-3:back"]);
    assert.deepEqual([gone.kind, "key" in gone && gone.key], ["return", "return:e-3"]);
    // Its window over with the host still here: network maintenance reboots nothing.
    const over = nextWatchAction(
      { maintenance: [network] },
      network.notAfter,
      CFG,
      new Set(["maintenance:e-3:back"]),
    );
    assert.equal(over.kind, "return");
    // Once: the return is handled like any action.
    assert.equal(next({ maintenance: [] }, ["maintenance:e-3:back", "return:e-3"]).kind, "none");
    // A retirement drained for good has no way back to take (its replacement is launched).
    assert.equal(next({ maintenance: [] }, ["maintenance:e-2"]).kind, "none");
  });

  it("drains on a rebalance recommendation when asked, two minutes from it", () => {
    const a = next({ rebalanceAt: NOW }, [], { ...CFG, onRebalance: "drain" });
    assert.deepEqual([a.kind, "leaveBy" in a && a.leaveBy], ["drain", NOW + 120_000]);
  });
});

describe("the metadata service's notice formats", () => {
  it("reads a Spot instance-action, and ignores what it cannot", () => {
    assert.deepEqual(parseSpot('{"action": "stop", "time": "2017-09-18T08:22:00Z"}'), {
      action: "stop",
      time: Date.parse("2017-09-18T08:22:00Z"),
    });
    assert.equal(parseSpot('{"action": "reboot", "time": "2017-09-18T08:22:00Z"}'), undefined);
  });

  it("reads scheduled events with their GMT times", () => {
    const events = parseMaintenance(
      '[{"NotBefore":"21 Jan 2019 09:00:43 GMT","Code":"system-reboot","Description":"scheduled reboot","EventId":"instance-event-0d59937288b749b32","NotAfter":"21 Jan 2019 09:17:23 GMT","State":"active"}]',
    );
    assert.deepEqual(events, [
      {
        code: "system-reboot",
        eventId: "instance-event-0d59937288b749b32",
        notBefore: Date.parse("2019-01-21T09:00:43Z"),
        notAfter: Date.parse("2019-01-21T09:17:23Z"),
        state: "active",
      },
    ]);
  });

  it("describes what is pending, a line each", () => {
    assert.deepEqual(
      describeNotices(
        { spot: { action: "terminate", time: NOW + 90_000 }, maintenance: [], targetLifecycle: "Terminated" },
        NOW,
      ),
      [
        "Spot interruption: terminate at 2026-11-25T12:01:30.000Z (in 90 s)",
        "Auto Scaling is terminating this instance",
      ],
    );
  });
});
