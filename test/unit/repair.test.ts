import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { staleRemovals } from "../../src/commands/repair";
import type { Snapshot } from "../../src/core/types";

const NOW = Date.parse("2026-12-02T01:00:00Z");
const OLD = "2026-12-02T00:00:00Z";
const FRESH = "2026-12-02T00:59:30Z";

function snapshot(records: Record<string, string>, states: Record<string, string>): Snapshot {
  const ids = Object.keys(states);
  return {
    instanceId: "i-a",
    region: "us-east-1",
    group: {
      name: "web",
      minSize: 1,
      maxSize: 4,
      desiredCapacity: 3,
      instances: ids.map((id) => ({
        id,
        lifecycleState: states[id]!,
        health: "Healthy",
        availabilityZone: "us-east-1a",
      })),
      suspendedProcesses: [],
      minHealthyPercentage: undefined,
      tags: {},
    },
    loadBalancers: [
      {
        kind: "target-group",
        name: "web-tg",
        id: "arn:tg",
        source: "group",
        drainSeconds: 1,
        healthCheckIntervalSeconds: 1,
        healthyThreshold: 2,
        healthChecksEnabled: true,
        targetType: "instance",
        port: 80,
        members: Object.fromEntries(
          ids
            .filter((id) => states[id] === "InService")
            .map((id) => [id, { state: "healthy" as const, detail: "healthy" }]),
        ),
        tags: Object.fromEntries(Object.entries(records).map(([id, v]) => [`balanced:out:${id}`, v])),
      },
    ],
    activities: [],
    refreshes: [],
    takenAt: NOW,
    standbySince: {},
  };
}

describe("staleRemovals: records on the load balancers that their hosts will not remove", () => {
  it("this group's host that left the group, and one back in service long after its record", () => {
    const s = snapshot(
      {
        "i-gone": `ports= by=out at=${OLD} group=web`,
        "i-b": `ports= by=out at=${OLD} group=web`,
      },
      { "i-a": "InService", "i-b": "InService" },
    );
    assert.deepEqual(
      staleRemovals(s, NOW).map((r) => `${r.instanceId}: ${r.why}`),
      ["i-gone: its host left the group", "i-b: its host is back in service"],
    );
  });
  it("never a record an `out` may still be acting on, a host still out, or another group's", () => {
    const s = snapshot(
      {
        // InService with a fresh record: an `out` about to enter Standby.
        "i-b": `ports= by=out at=${FRESH} group=web`,
        "i-c": `ports= by=out at=${OLD} group=web`,
        "i-blue": `ports= by=out at=${OLD} group=blue`,
        "i-nogroup": `ports=80 by=out at=${OLD}`,
      },
      { "i-a": "InService", "i-b": "InService", "i-c": "Standby" },
    );
    assert.deepEqual(staleRemovals(s, NOW), []);
  });
});
