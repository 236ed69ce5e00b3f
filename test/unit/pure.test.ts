import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { combineMembers } from "../../src/aws/read";
import { classifyClassic, classifyTarget } from "../../src/core/health";
import { classifyStop } from "../../src/core/shutdown";
import { BRISK_POLL_MS, IDLE_POLL_MS, nextPollDelayMs } from "../../src/core/timing";
import { defaultsFilePath, parseDefaultsFile } from "../../src/defaults-file";
import { parseDuration, parseQuantity } from "../../src/options";

describe("load balancer states in AWS's words", () => {
  const classic: [string, string, string][] = [
    ["InService", "N/A", "healthy"],
    ["InService", "Instance deregistration currently in progress.", "draining"],
    ["OutOfService", "Instance is not currently registered with the LoadBalancer.", "absent"],
    ["OutOfService", "Instance registration is still in progress.", "registering"],
    [
      "OutOfService",
      "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.",
      "unhealthy",
    ],
    ["Unknown", "A transient error occurred. Please try again later.", "unhealthy"],
  ];
  for (const [state, description, expected] of classic) {
    it(`classic ${state} "${description}" -> ${expected}`, () =>
      assert.equal(classifyClassic(state, description).state, expected));
  }
  const targets: [string, string | undefined, string][] = [
    ["healthy", undefined, "healthy"],
    ["initial", "Elb.RegistrationInProgress", "registering"],
    ["initial", "Elb.InitialHealthChecking", "registering"],
    ["unhealthy", "Target.Timeout", "unhealthy"],
    ["draining", "Target.DeregistrationInProgress", "draining"],
    ["unused", "Target.NotRegistered", "absent"],
    ["unused", "Target.NotInUse", "not-in-use"],
    ["unused", "Target.InvalidState", "unhealthy"],
    ["unavailable", "Target.HealthCheckDisabled", "unavailable"],
  ];
  for (const [state, reason, expected] of targets) {
    it(`target ${state}/${reason} -> ${expected}`, () =>
      assert.equal(classifyTarget(state, reason).state, expected));
  }
  it("combines several ports of one instance: absent only when absent on all, otherwise the worst", () => {
    const m = (state: "absent" | "healthy" | "draining") => ({ state, detail: state });
    assert.equal(combineMembers([m("absent"), m("absent")]).state, "absent");
    assert.equal(combineMembers([m("absent"), m("healthy")]).state, "healthy");
    assert.equal(combineMembers([m("healthy"), m("draining")]).state, "draining");
  });
});

describe("polling schedule", () => {
  const cases: [string, number, number | undefined, number][] = [
    ["no prediction: brisk", 0, undefined, BRISK_POLL_MS],
    ["far from the predicted end: idle", 0, 60_000, IDLE_POLL_MS],
    ["near it: land just after it", 0, 2_000, 2_050],
    ["very near: still a second after the last poll", 0, 100, 1000],
    ["past it: brisk", 5_000, 2_000, BRISK_POLL_MS],
  ];
  for (const [name, now, predicted, expected] of cases) {
    it(name, () => assert.equal(nextPollDelayMs(now, predicted), expected));
  }
  it("never polls the load balancers twice within a second", () => {
    for (let t = 0; t < 20_000; t += 137) {
      for (const predicted of [undefined, 500, 1_000, 2_500, 10_000])
        assert.ok(nextPollDelayMs(t, predicted) >= 1000);
    }
  });
});

describe("option values", () => {
  const durations: [string, number][] = [
    ["300", 300],
    ["90s", 90],
    ["5m", 300],
    ["1h30m", 5400],
    ["1.5s", 1.5],
    ["250ms", 0.25],
  ];
  for (const [text, seconds] of durations)
    it(`duration ${text} = ${seconds} s`, () => assert.equal(parseDuration("timeout", text), seconds));
  for (const bad of ["", "5x", "m", "-1", "5m junk"]) {
    it(`rejects duration "${bad}" as a usage error`, () =>
      assert.throws(
        () => parseDuration("timeout", bad),
        (e: { exitCode?: number }) => e.exitCode === 2,
      ));
  }
  it("quantities", () => {
    assert.deepEqual(parseQuantity("min-healthy", "2"), { kind: "count", value: 2 });
    assert.deepEqual(parseQuantity("min-healthy", "50%"), { kind: "percent", value: 50 });
    assert.throws(() => parseQuantity("min-healthy", "150%"), /at most 100%/);
    assert.throws(() => parseQuantity("min-healthy", "two"), /whole number or a percentage/);
  });
});

describe("the settings file (/etc/default/balanced)", () => {
  it("reads every assignment as systemd's EnvironmentFile does (BALANCED_*, AWS_*, proxies), and no other line", () => {
    assert.deepEqual(
      parseDefaultsFile(
        [
          "# a comment",
          "#BALANCED_TIMEOUT=5m",
          "BALANCED_TARGET_GROUP=arn:a,arn:b",
          'BALANCED_LOAD_BALANCER="web classic"',
          "export BALANCED_MIN_HEALTHY='50%'",
          "  BALANCED_QUIET = true  ",
          "AWS_REGION=eu-west-1",
          "https_proxy=http://proxy:3128",
          "; another comment",
          "not a line",
        ].join("\n"),
      ),
      {
        BALANCED_TARGET_GROUP: "arn:a,arn:b",
        BALANCED_LOAD_BALANCER: "web classic",
        BALANCED_MIN_HEALTHY: "50%",
        BALANCED_QUIET: "true",
        AWS_REGION: "eu-west-1",
        https_proxy: "http://proxy:3128",
      },
    );
  });

  it("is named by --defaults-file, then BALANCED_DEFAULTS_FILE, then /etc/default/balanced", () => {
    assert.equal(defaultsFilePath(["out", "--defaults-file", "/a"], { BALANCED_DEFAULTS_FILE: "/b" }), "/a");
    assert.equal(defaultsFilePath(["out", "--defaults-file=/c"], {}), "/c");
    assert.equal(defaultsFilePath(["out"], { BALANCED_DEFAULTS_FILE: "/b" }), "/b");
    assert.equal(defaultsFilePath(["out"], {}), "/etc/default/balanced");
  });
});

describe("classifyStop: a system shutdown, or the unit alone", () => {
  const c = (systemState: string | undefined, jobs: string[] = []) => classifyStop({ systemState, jobs });
  it("tells them apart from what systemd reports", () => {
    assert.equal(c("stopping"), "system");
    assert.equal(c("running", ["reboot.target start"]), "system");
    assert.equal(c("degraded", ["poweroff.target start"]), "system");
    assert.equal(c("running", ["balanced.service stop"]), "unit-only");
    assert.equal(c("degraded"), "unit-only");
    assert.equal(c("running", ["reboot.target stop"]), "unit-only");
    // No systemd (a container), or no answer: as before, drain.
    assert.equal(c("offline"), "unknown");
    assert.equal(c(undefined), "unknown");
  });
});
