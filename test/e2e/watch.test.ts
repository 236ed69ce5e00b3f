import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, it } from "node:test";
import { RegisterTargetsCommand } from "@aws-sdk/client-elastic-load-balancing-v2";
import { BUNDLE, FAKE_BIN, runCli } from "../helpers/cli";
import { clientsFor, control, eventually, sleep } from "../helpers/clients";
import { type FleetFile, loadFleet } from "../sim/fleet";
import { type HostInfo, type Sim, startSim } from "../sim/server";
import type { ServingChange } from "../sim/world";

const A = "i-0a000000000000001";

/** Every watch a test started: one a failed test did not stop is killed after it. */
const running = new Set<ChildProcess>();

/** `balanced watch` on a host, running until the test stops it; its stderr collected. */
function startWatch(host: HostInfo, args: string[] = []) {
  const child: ChildProcess = spawn(
    process.execPath,
    [BUNDLE, "watch", "--poll-interval", "300ms", ...args],
    {
      env: {
        // systemd running, as on a host: a notice's drain is AWS taking the host, not a unit stop.
        PATH: `${FAKE_BIN}:${process.env.PATH}`,
        SYSTEMCTL_STATE: "running",
        NO_COLOR: "1",
        BALANCED_DEFAULTS_FILE: "/nonexistent",
        ...host.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
  running.add(child);
  child.on("close", () => running.delete(child));
  return {
    stderr: () => stderr,
    /** SIGTERM, as systemd stops it: the loop ends at once with exit 0. */
    async stop() {
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.kill("SIGTERM");
      const code = await closed;
      clearTimeout(killer);
      return code;
    },
    saw: (re: RegExp) => eventually(async () => re.test(stderr), 30_000),
  };
}

const calls = async (sim: Sim) =>
  (await control(sim, "GET", "calls")) as { action: string; host: string; outcome: string }[];

describe("balanced watch: leave before AWS takes the host away", () => {
  let sim: Sim | undefined;
  let server: Server | undefined;
  afterEach(async () => {
    for (const child of running) child.kill("SIGKILL");
    await sim?.stop();
    server?.close();
  });

  it("a Spot interruption notice: out of every load balancer before the termination time, nothing served after", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const w = startWatch(sim.hosts[A]!);
    await w.saw(/watching i-0a000000000000001's instance metadata/);
    await control(sim, "POST", "events", { kind: "spot-interruption", instance: A, noticeSeconds: 15 });
    const terminationAt = sim.world().instances.get(A)!.notices.spot!.time;
    // Any status on the host shows the notice, and --json carries it.
    const seen = await runCli(sim.hosts[A]!, ["status", "--json"]);
    assert.match(
      (JSON.parse(seen.stdout) as { notices: string[] }).notices.join(),
      /^Spot interruption: terminate at \S+ \(in \d+ s\)$/,
    );
    await w.saw(/is out: Standby in web, drained from elb\/web-classic, tg\/web-tg/);
    await eventually(async () => sim!.world().instances.get(A)!.lifecycleState === "Terminated", 30_000);
    assert.equal(await w.stop(), 0);
    const history = (await control(sim, "GET", "history?all")) as ServingChange[];
    const mine = history.filter((h) => h.instanceId === A);
    for (const scope of ["web", "elb/web-classic", "tg/web-tg"]) {
      const left = mine.filter((h) => (h.group ?? h.loadBalancer) === scope && !h.serving);
      assert.ok(
        left.length > 0 && left[0]!.t < terminationAt,
        `${scope}: left at ${left[0]?.t}, termination ${terminationAt}`,
      );
      assert.ok(
        !mine.some((h) => (h.group ?? h.loadBalancer) === scope && h.serving && h.t > left[0]!.t),
        `${scope}: served again`,
      );
    }
    // Not coming back: left without decrementing desired capacity, so the group replaces it.
    assert.equal(sim.world().groups.get("web")!.desired, 3);
    assert.match(w.stderr(), /entering standby in web without decrementing desired capacity \(3\)/);
  });

  it("a scale-in through a terminating hook: drained everywhere (heartbeats meanwhile), then CONTINUE", async () => {
    const fleet: FleetFile = loadFleet("three-hosts");
    fleet.groups![0]!.lifecycleHooks = [
      {
        name: "drain",
        transition: "autoscaling:EC2_INSTANCE_TERMINATING",
        heartbeatTimeout: 2,
        defaultResult: "ABANDON",
      },
    ];
    // A target group the group does not manage, with a drain longer than the hook's heartbeat timeout.
    fleet.targetGroups!.push({
      name: "extra-tg",
      deregistrationDelay: 6,
      healthCheck: { interval: 1, healthyThreshold: 2 },
      loadBalancer: "extra-alb",
    });
    sim = await startSim(fleet);
    const arn = sim.world().tgByName("extra-tg").arn;
    await clientsFor(sim.hosts[A]!).elbv2.send(
      new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: A }] }),
    );
    await eventually(
      async () => sim!.world().tgByName("extra-tg").targets.get(`${A}:80`)?.state === "healthy",
      10_000,
    );
    const w = startWatch(sim.hosts[A]!, ["--target-group", arn]);
    await w.saw(/watching/);
    await control(sim, "POST", "events", { kind: "terminate", instance: A });
    await w.saw(/completed drain with CONTINUE/);
    assert.equal(await w.stop(), 0);
    await eventually(async () => sim!.world().instances.get(A)!.lifecycleState === "Terminated", 10_000);
    const made = (await calls(sim)).filter((c) => c.host === A).map((c) => c.action);
    assert.ok(made.includes("DeregisterTargets"), "left the target group the group does not manage");
    assert.ok(
      made.filter((a) => a === "RecordLifecycleActionHeartbeat").length >= 1,
      `no heartbeat: ${made.join(" ")}`,
    );
    assert.ok(made.includes("CompleteLifecycleAction"));
    assert.ok(made.lastIndexOf("DeregisterTargets") < made.indexOf("CompleteLifecycleAction"));
  });

  const launchFleet = (): FleetFile => {
    const fleet = loadFleet("three-hosts");
    fleet.groups![0]!.lifecycleHooks = [
      {
        name: "warm",
        transition: "autoscaling:EC2_INSTANCE_LAUNCHING",
        heartbeatTimeout: 600,
        defaultResult: "ABANDON",
      },
    ];
    fleet.groups![0]!.instances![0]!.lifecycleState = "Pending:Wait";
    return fleet;
  };

  it("a launch hook: CONTINUE once --ready-url answers, and the group puts the host in service", async () => {
    sim = await startSim(launchFleet());
    let healthy = false;
    server = createServer((_req, res) => res.writeHead(healthy ? 200 : 503).end()).listen(0, "127.0.0.1");
    await new Promise((r) => server!.once("listening", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
    const w = startWatch(sim.hosts[A]!, ["--ready-url", url]);
    await w.saw(/hook warm holds this new host in Pending:Wait: waiting until ready/);
    await sleep(1000);
    assert.equal(sim.world().instances.get(A)!.lifecycleState, "Pending:Wait", "completed before ready");
    healthy = true;
    await w.saw(/ready: completed warm with CONTINUE/);
    await eventually(async () => sim!.world().instances.get(A)!.lifecycleState === "InService", 10_000);
    assert.equal(await w.stop(), 0);
  });

  it("a launch hook: ABANDON when the host never gets ready within --ready-timeout", async () => {
    sim = await startSim(launchFleet());
    const w = startWatch(sim.hosts[A]!, ["--ready-command", "exit 1", "--ready-timeout", "2s"]);
    await w.saw(/not ready within 2 s: completed warm with ABANDON/);
    await eventually(async () => /Terminat/.test(sim!.world().instances.get(A)!.lifecycleState), 10_000);
    assert.equal(await w.stop(), 0);
  });

  it("keeps watching through a metadata outage, and still drains on the notice that follows", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const w = startWatch(sim.hosts[A]!);
    await w.saw(/watching/);
    await control(sim, "POST", "faults", { service: "imds", host: A, kind: "unreachable", mode: "refuse" });
    await w.saw(/warning: instance metadata unreachable .*; still watching/);
    await control(sim, "DELETE", "faults");
    await w.saw(/instance metadata answers again/);
    await control(sim, "POST", "events", {
      kind: "scheduled-maintenance",
      instance: A,
      code: "system-reboot",
      notBeforeSeconds: 60,
    });
    // A reboot comes back: it leaves as the shutdown unit does, recorded for the boot.
    await w.saw(/scheduled system-reboot .*: leaving the load balancers/);
    await w.saw(/is out: Standby in web/);
    assert.equal(await w.stop(), 0);
    assert.match(sim.world().groups.get("web")!.tags.get(`balanced:shutdown:${A}`)?.value ?? "", /^\d{4}-/);
  });

  it("every drain has a way back: network maintenance over, or a reboot canceled, returns the host", async () => {
    sim = await startSim(loadFleet("three-hosts"));
    const w = startWatch(sim.hosts[A]!);
    await w.saw(/watching/);
    // Network maintenance (system-maintenance) in 3 s, lasting 8 s: nothing reboots the host.
    await control(sim, "POST", "events", {
      kind: "scheduled-maintenance",
      instance: A,
      code: "system-maintenance",
      notBeforeSeconds: 3,
      durationSeconds: 8,
    });
    await w.saw(/scheduled system-maintenance .*: leaving the load balancers/);
    await w.saw(/is out: Standby in web/);
    await w.saw(
      /scheduled event instance-event-\S+ (is no longer scheduled|window ended).*: returning this host/,
    );
    await w.saw(/is in: InService in web/);
    assert.equal(sim.world().instances.get(A)!.lifecycleState, "InService");
    assert.equal(sim.world().groups.get("web")!.tags.has(`balanced:shutdown:${A}`), false);

    // A reboot scheduled, then canceled by EC2: the host comes back without one.
    await control(sim, "POST", "events", {
      kind: "scheduled-maintenance",
      instance: A,
      code: "system-reboot",
      notBeforeSeconds: 120,
    });
    await w.saw(/scheduled system-reboot .*: leaving the load balancers/);
    await eventually(async () => sim!.world().instances.get(A)!.lifecycleState === "Standby", 20_000);
    await control(sim, "POST", "events", { kind: "cancel-maintenance", instance: A });
    await eventually(async () => sim!.world().instances.get(A)!.lifecycleState === "InService", 30_000);
    await w.saw(/no longer scheduled \(canceled or completed\): returning this host/);
    assert.equal(await w.stop(), 0);
  });

  it("a warm pool: the launch hook on entry to the pool is completed once ready, and the host rests Warmed:Stopped", async () => {
    const fleet = launchFleet();
    const g = fleet.groups![0]!;
    g.warmPool = { poolState: "Stopped" };
    g.instances!.push({ id: "i-0a0000000000000w1", lifecycleState: "Warmed:Pending:Wait" });
    g.instances![0]!.lifecycleState = "InService";
    sim = await startSim(fleet);
    const w = startWatch(sim.hosts["i-0a0000000000000w1"]!, ["--ready-command", "true"]);
    await w.saw(/hook warm holds this new host in Warmed:Pending:Wait: waiting until ready/);
    await w.saw(/ready: completed warm with CONTINUE/);
    await eventually(
      async () => sim!.world().instances.get("i-0a0000000000000w1")!.lifecycleState === "Warmed:Stopped",
    );
    assert.equal(await w.stop(), 0);
  });
});
