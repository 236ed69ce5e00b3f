import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { runCli } from "../helpers/cli";
import { control } from "../helpers/clients";
import { type FleetFile, loadFleet } from "../sim/fleet";
import { type Sim, startSim } from "../sim/server";
import { autoscalingActions } from "../sim/services/autoscaling";
import { dynamodbActions } from "../sim/services/dynamodb";
import { ec2Actions } from "../sim/services/ec2";
import { elbActions } from "../sim/services/elb";
import { elbv2Actions } from "../sim/services/elbv2";
import { type Call, drive, everyAction, everyLockAction } from "./drive";
import { pastLimit, statedLimits } from "./limits";
import type { ModelledService } from "./models";
import { BOTOCORE, Conformance } from "./recorder";

/**
 * The simulator checked against AWS's machine-readable models (botocore's service-2.json): every
 * request the agent sends and every answer and error the simulator gives, for every action the
 * simulator implements. `npm run test:aws-models` runs this file alone.
 */
const skip = "missing" in BOTOCORE ? BOTOCORE.missing : false;

const IMPLEMENTED: Record<ModelledService, Record<string, unknown>> = {
  autoscaling: autoscalingActions,
  elb: elbActions,
  elbv2: elbv2Actions,
  ec2: ec2Actions,
  dynamodb: dynamodbActions,
};

const A = "i-0a000000000000001";
const B = "i-0a000000000000002";
const HELD = "i-0a000000000000009";
const TABLE = "balanced-locks";
const LOCK = ["--lock", `dynamodb:${TABLE}`];

interface Step {
  host: string;
  args: string[];
  env?: Record<string, string>;
  /** Control-API calls to make before this step. */
  before?: [method: string, path: string, body?: unknown][];
}

describe("the simulator against AWS's own models (botocore)", { skip }, () => {
  let conf: Conformance;
  before(() => {
    if ("dir" in BOTOCORE) conf = new Conformance(BOTOCORE.dir);
  });
  after(() => {
    if (conf) console.log(`# checked ${conf.exchanges.length} exchanges against botocore's models`);
  });

  /** Runs the built agent against a recording simulator; returns each step's exit code. */
  async function agent(fleet: FleetFile, steps: Step[], timeScale = 1): Promise<number[]> {
    const sim: Sim = await startSim(fleet, { onExchange: conf.record, timeScale });
    try {
      const codes: number[] = [];
      for (const s of steps) {
        for (const [method, path, body] of s.before ?? []) await control(sim, method, path, body);
        const res = await runCli(sim.hosts[s.host]!, s.args, { env: s.env, killAfterMs: 90_000 });
        codes.push(res.code ?? -1);
      }
      return codes;
    } finally {
      await sim.stop();
    }
  }

  /** Only what this exchange set found; each scenario asserts on what it added. */
  const problemsSince = (n: number) => conf.problemsOf(conf.exchanges.slice(n));

  it("the agent on three-hosts: status, out, in, run, repair, dry runs, refusals", async () => {
    const from = conf.exchanges.length;
    const codes = await agent(loadFleet("three-hosts"), [
      { host: A, args: ["status", "--json"] },
      { host: A, args: ["out", "--dry-run", "-q"] },
      { host: A, args: ["out", "-q"] },
      { host: B, args: ["out", "-q"] },
      { host: A, args: ["in", "-q"] },
      { host: B, args: ["run", "-q", "--", "true"] },
      { host: A, args: ["repair", "-q"] },
      {
        host: A,
        args: ["out", "-q"],
        before: [["POST", "events", { kind: "start-activity", group: "web" }]],
      },
    ]);
    assert.deepEqual(codes, [0, 0, 0, 3, 0, 0, 0, 4]);
    assert.deepEqual(problemsSince(from), []);
  });

  it("the agent where MinSize must be lowered, and under throttling, denials and server errors", async () => {
    const from = conf.exchanges.length;
    const host = A;
    const codes = await agent(loadFleet("min-equals-desired"), [
      { host, args: ["out", "-q"] },
      { host, args: ["in", "-q"] },
      {
        host,
        args: ["status"],
        env: { AWS_MAX_ATTEMPTS: "3" },
        before: [["POST", "faults", [{ kind: "throttle", service: "autoscaling", rps: 1 }]]],
      },
      {
        host,
        args: ["status"],
        before: [
          ["DELETE", "faults"],
          ["POST", "faults", { kind: "deny", service: "elbv2", action: "DescribeTargetHealth" }],
        ],
      },
      {
        host,
        args: ["status"],
        env: { AWS_MAX_ATTEMPTS: "2" },
        before: [
          ["DELETE", "faults"],
          [
            "POST",
            "faults",
            [
              { kind: "error", service: "elb", status: 503 },
              { kind: "error", service: "ec2" },
            ],
          ],
        ],
      },
    ]);
    assert.deepEqual(codes.slice(0, 2), [0, 0]);
    assert.equal(codes[3], 7, "a denial is exit 7");
    const errors = [...conf.covered().errors].join(" ");
    assert.match(errors, /autoscaling:\w+:Throttling/);
    assert.match(errors, /elbv2:DescribeTargetHealth:AccessDenied/);
    assert.deepEqual(problemsSince(from), []);
  });

  it("the agent on hosts in no group (named, and --discover) and behind an IP target group", async () => {
    const from = conf.exchanges.length;
    const S = "i-0c000000000000001";
    const tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app-tg/6170702d74670000";
    const named = ["--load-balancer", "app-classic", "--target-group", tg];
    const codes = await agent(loadFleet("standalone-pair"), [
      { host: S, args: ["status", ...named] },
      { host: S, args: ["out", "-q", ...named] },
      { host: S, args: ["in", "-q", "--discover"] },
    ]);
    assert.deepEqual(codes, [0, 0, 0]);
    const ipFleet = loadFleet("three-hosts");
    ipFleet.targetGroups![0]!.targetType = "ip";
    assert.deepEqual(
      await agent(ipFleet, [
        { host: A, args: ["out", "-q"] },
        { host: A, args: ["in", "-q"] },
      ]),
      [0, 0],
    );
    assert.deepEqual(problemsSince(from), []);
  });

  it("a fleet with AWS's own minimums (5 s health checks), at time scale 5: no timing waiver needed", async () => {
    const from = conf.exchanges.length;
    const fleet = loadFleet("three-hosts");
    for (const lb of fleet.loadBalancers!) lb.healthCheck = { ...lb.healthCheck, interval: 5, timeout: 2 };
    for (const tg of fleet.targetGroups!) tg.healthCheck = { ...tg.healthCheck, interval: 5, timeout: 2 };
    fleet.loadBalancers![0]!.connectionDraining = { enabled: true, timeout: 5 };
    fleet.targetGroups![0]!.deregistrationDelay = 5;
    const codes = await agent(
      fleet,
      [
        { host: A, args: ["status"] },
        { host: A, args: ["out", "-q"] },
      ],
      5,
    );
    assert.deepEqual(codes, [0, 0]);
    assert.deepEqual(conf.problemsOf(conf.exchanges.slice(from), { waiveScaledTimings: false }), []);
  });

  it("the agent with the DynamoDB lock: lock create, out, in, a refusal, repair, a denial; then every item call", async () => {
    const from = conf.exchanges.length;
    const sim = await startSim(loadFleet("three-hosts"), { onExchange: conf.record, timeScale: 100 });
    try {
      const codes: number[] = [];
      for (const [host, args] of [
        [A, ["lock", "create", ...LOCK]],
        [A, ["lock", "create", ...LOCK]],
        [A, ["status", ...LOCK]],
        [A, ["out", "-q", ...LOCK]],
        [B, ["out", "-q", ...LOCK]],
        [A, ["in", "-q", ...LOCK]],
        [B, ["repair", "-q", ...LOCK]],
      ] as const)
        codes.push((await runCli(sim.hosts[host]!, [...args], { killAfterMs: 90_000 })).code ?? -1);
      await control(sim, "POST", "faults", { kind: "deny", service: "dynamodb", action: "GetItem" });
      codes.push((await runCli(sim.hosts[A]!, ["out", "-q", ...LOCK])).code ?? -1);
      await control(sim, "DELETE", "faults");
      assert.deepEqual(codes, [0, 0, 0, 0, 3, 0, 0, 7]);
      await drive(sim.hosts[A]!, everyLockAction({ table: TABLE, instance: A, other: B }));
    } finally {
      await sim.stop();
    }
    assert.deepEqual(problemsSince(from), []);
    const errors = [...conf.covered().errors].join(" ");
    assert.match(errors, /dynamodb:PutItem:ConditionalCheckFailedException/);
    assert.match(errors, /dynamodb:CreateTable:ResourceInUseException/);
    assert.match(errors, /dynamodb:UpdateItem:ValidationException/);
    assert.match(errors, /dynamodb:GetItem:AccessDeniedException/);
  });

  /** The fleet every action is called on: three-hosts with a launch hook holding a fourth host. */
  function actionFleet(): FleetFile {
    const fleet = loadFleet("three-hosts");
    const group = fleet.groups![0]!;
    group.max = 5;
    group.desired = 4;
    group.lifecycleHooks = [
      { name: "launch", transition: "autoscaling:EC2_INSTANCE_LAUNCHING", heartbeatTimeout: 600 },
    ];
    group.instances!.push({
      id: HELD,
      az: "us-east-1a",
      privateIp: "10.0.97.19",
      lifecycleState: "Pending:Wait",
    });
    fleet.targetGroups!.push({ name: "side-tg", port: 8080, loadBalancer: null });
    return fleet;
  }
  const callsOn = (sim: Sim) => {
    const arnOf = (name: string) => [...sim.world().targetGroups.values()].find((t) => t.name === name)!.arn;
    return everyAction({
      group: "web",
      instance: A,
      other: B,
      held: HELD,
      hook: "launch",
      lb: "web-classic",
      tgArn: arnOf("web-tg"),
      tgArnUnmanaged: arnOf("side-tg"),
    });
  };

  it("every action the simulator implements, called through the SDK, valid and invalid", async () => {
    const from = conf.exchanges.length;
    // One caller, each call answered before the next: writes overlap only while in flight
    // (ResourceContention between agents' writes is exercised by the runs above).
    const sim = await startSim(actionFleet(), { onExchange: conf.record, contentionMs: 0 });
    try {
      await drive(sim.hosts[A]!, callsOn(sim));
    } finally {
      await sim.stop();
    }
    assert.deepEqual(problemsSince(from), []);
    const { ok } = conf.covered();
    const missing = Object.entries(IMPLEMENTED).flatMap(([svc, actions]) =>
      Object.keys(actions)
        .filter((a) => !ok.has(`${svc}:${a}`))
        .map((a) => `${svc}:${a}`),
    );
    assert.deepEqual(missing, [], "every implemented action answered 200 at least once");
  });

  it("every limit AWS states for a simulated action's request (shapes and documentation): one past it is refused", async () => {
    const sim = await startSim(actionFleet(), { onExchange: conf.record, contentionMs: 0 });
    const probed: string[] = [];
    const accepted: string[] = [];
    try {
      const calls = callsOn(sim);
      for (const [service, checker] of Object.entries(conf.checkers)) {
        const actions = Object.keys(IMPLEMENTED[service as ModelledService]);
        for (const action of actions) {
          const base = calls.find((c) => c.service === service && c.action === action);
          for (const limit of statedLimits(checker.model, action)) {
            const probe: Call = {
              service: service as ModelledService,
              action,
              input: pastLimit(base?.input ?? {}, limit),
            };
            const n = conf.exchanges.length;
            await drive(sim.hosts[A]!, [probe]);
            const x = conf.exchanges[n]!;
            const name = `${service}:${action}.${limit.member} ${limit.kind === "count" ? "elements" : "value"} > ${limit.max} (${limit.source})`;
            probed.push(name);
            const named =
              new RegExp(limit.member.replace(/s$/, ""), "i").test(x.response) ||
              /FilterLimitExceeded/.test(x.response);
            if (x.status === 200 || !named)
              accepted.push(`${name}: ${x.status} ${/<Message>([^<]*)/.exec(x.response)?.[1] ?? ""}`);
          }
        }
      }
    } finally {
      await sim.stop();
    }
    console.log(`# probed ${probed.length} stated limits:\n# ${probed.join("\n# ")}`);
    assert.ok(probed.length >= 15, `only ${probed.length} limits found in the models`);
    assert.deepEqual(accepted, [], "refused, with a message naming the member");
  });
});
