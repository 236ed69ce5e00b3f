import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import {
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  EnterStandbyCommand,
  paginateDescribeAutoScalingInstances,
} from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand, paginateDescribeInstances } from "@aws-sdk/client-ec2";
import {
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { MetadataService } from "@aws-sdk/ec2-metadata-service";
import { clientsFor, control, eventually } from "../helpers/clients";
import { loadFleet } from "./fleet";
import { type Sim, startSim } from "./server";

const A = "i-0a000000000000001";

async function errorOf(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    const e = err as {
      name: string;
      message: string;
      $metadata?: { httpStatusCode?: number; attempts?: number };
    };
    return {
      name: e.name,
      message: e.message,
      status: e.$metadata?.httpStatusCode,
      attempts: e.$metadata?.attempts,
    };
  }
  assert.fail("expected the call to fail");
}

/** A hand-made query request, signed (in form only) with host A's instance-profile credentials. */
const post = (sim: Sim, body: string, auth?: string) =>
  fetch(sim.endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-amz-date": new Date().toISOString().replace(/[-:]|\.\d{3}/g, ""),
      "x-amz-security-token": sim.hosts[A]!.credentials.sessionToken!,
      ...(auth ? { authorization: auth.replace("KEY", sim.hosts[A]!.credentials.accessKeyId) } : {}),
    },
    body,
  });

const scope = (service: string, region = "us-east-1") =>
  `AWS4-HMAC-SHA256 Credential=KEY/20261123/${region}/${service}/aws4_request, SignedHeaders=host, Signature=00`;

describe("query protocol: errors and signatures", () => {
  let sim: Sim;
  before(async () => {
    sim = await startSim(loadFleet("three-hosts"));
  });
  after(() => sim.stop());

  it("answers an unknown action with InvalidAction in AWS's ErrorResponse shape", async () => {
    const res = await post(sim, "Action=DescribeEverything&Version=2011-01-01", scope("autoscaling"));
    assert.equal(res.status, 400);
    const xml = await res.text();
    assert.match(
      xml,
      /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<ErrorResponse xmlns="http:\/\/autoscaling\.amazonaws\.com\/doc\/2011-01-01\/">/,
    );
    assert.match(
      xml,
      /<Error><Type>Sender<\/Type><Code>InvalidAction<\/Code><Message>The action DescribeEverything is not valid for this web service\.<\/Message><\/Error><RequestId>[0-9a-f-]{36}<\/RequestId><\/ErrorResponse>$/,
    );
  });

  it("requires a SigV4 Authorization header scoped to the right service and region", async () => {
    const unsigned = await post(sim, "Action=DescribeAutoScalingGroups&Version=2011-01-01");
    assert.equal(unsigned.status, 403);
    assert.match(await unsigned.text(), /<Code>MissingAuthenticationToken<\/Code>/);
    const wrongService = await post(sim, "Action=DescribeAutoScalingGroups&Version=2011-01-01", scope("ec2"));
    assert.match(await wrongService.text(), /Credential should be scoped to correct service: 'autoscaling'/);
    const wrongRegion = await post(
      sim,
      "Action=DescribeAutoScalingGroups&Version=2011-01-01",
      scope("autoscaling", "eu-west-1"),
    );
    assert.match(await wrongRegion.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
  });

  it("answers EC2 errors in EC2's own Response/Errors shape", async () => {
    const res = await post(
      sim,
      "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-0nope",
      scope("ec2"),
    );
    assert.match(
      await res.text(),
      /^<\?xml[^>]*>\n<Response><Errors><Error><Code>InvalidInstanceID\.NotFound<\/Code>/,
    );
  });

  it("records every call with its service, action, calling host and outcome", async () => {
    await clientsFor(sim.hosts[A]!).asg.send(new DescribeAutoScalingGroupsCommand({}));
    const calls = (await control(sim, "GET", "calls")) as {
      service: string;
      action: string;
      host: string;
      outcome: string;
    }[];
    assert.deepEqual(calls.at(-1), {
      ...calls.at(-1)!,
      service: "autoscaling",
      action: "DescribeAutoScalingGroups",
      host: A,
      outcome: "ok",
    });
  });
});

describe("fault injection", () => {
  let sim: Sim;
  before(async () => {
    sim = await startSim(loadFleet("three-hosts"));
  });
  after(() => sim.stop());
  const once = () => clientsFor(sim.hosts[A]!, { maxAttempts: 1 });

  it("throttles above N requests/s with the real Throttling error, which the SDK retries through", async () => {
    await control(sim, "DELETE", "faults");
    await control(sim, "POST", "faults", { service: "autoscaling", kind: "throttle", rps: 1 });
    const c = once();
    await c.asg.send(new DescribeAutoScalingGroupsCommand({}));
    const err = await errorOf(c.asg.send(new DescribeAutoScalingGroupsCommand({})));
    assert.deepEqual([err.name, err.message, err.status], ["Throttling", "Rate exceeded", 400]);
    // With retries (and the SDK's backoff), the same call gets through.
    const patient = clientsFor(sim.hosts[A]!, { maxAttempts: 8 });
    const ok = await patient.asg.send(new DescribeAutoScalingGroupsCommand({}));
    assert.ok((ok.$metadata.attempts ?? 1) > 1);
  });

  it("fails with 500 InternalFailure and 503 ServiceUnavailable", async () => {
    await control(sim, "DELETE", "faults");
    await control(sim, "POST", "faults", {
      service: "elbv2",
      action: "DescribeTargetGroups",
      kind: "error",
      status: 500,
      count: 1,
    });
    const e500 = await errorOf(once().elbv2.send(new DescribeTargetGroupsCommand({})));
    assert.deepEqual([e500.name, e500.status], ["InternalFailure", 500]);
    await control(sim, "POST", "faults", { service: "ec2", kind: "error", status: 503, count: 1 });
    const e503 = await errorOf(once().ec2.send(new DescribeInstancesCommand({})));
    assert.deepEqual([e503.name, e503.status], ["ServiceUnavailable", 503]);
    // count: 1 means it expired.
    await once().ec2.send(new DescribeInstancesCommand({}));
  });

  it("denies an action for one host with AccessDenied naming the IAM action", async () => {
    await control(sim, "DELETE", "faults");
    await control(sim, "POST", "faults", {
      service: "autoscaling",
      action: "EnterStandby",
      host: A,
      kind: "deny",
    });
    const err = await errorOf(
      once().asg.send(
        new EnterStandbyCommand({
          AutoScalingGroupName: "web",
          InstanceIds: [A],
          ShouldDecrementDesiredCapacity: true,
        }),
      ),
    );
    assert.equal(err.name, "AccessDenied");
    assert.equal(err.status, 403);
    assert.match(err.message, /is not authorized to perform: autoscaling:EnterStandby/);
    const other = clientsFor(sim.hosts["i-0a000000000000002"]!, { maxAttempts: 1 });
    await other.asg.send(new DescribeAutoScalingGroupsCommand({}));
  });

  it("adds latency, and drops connections", async () => {
    await control(sim, "DELETE", "faults");
    await control(sim, "POST", "faults", { service: "autoscaling", kind: "latency", ms: 300 });
    const t0 = Date.now();
    await once().asg.send(new DescribeAutoScalingGroupsCommand({}));
    assert.ok(Date.now() - t0 >= 300);
    await control(sim, "DELETE", "faults");
    await control(sim, "POST", "faults", { service: "autoscaling", kind: "drop", count: 1 });
    const err = await errorOf(once().asg.send(new DescribeAutoScalingGroupsCommand({})));
    assert.match(`${err.name} ${err.message}`, /socket hang up|ECONNRESET|TimeoutError|aborted/i);
  });
});

describe("pagination over the large fleet", () => {
  let sim: Sim;
  before(async () => {
    sim = await startSim(loadFleet("large"));
  });
  after(() => sim.stop());

  it("pages 1,000 instances through the SDK's own paginators", async () => {
    const c = clientsFor(Object.values(sim.hosts)[0]!);
    let pages = 0;
    let count = 0;
    for await (const page of paginateDescribeAutoScalingInstances({ client: c.asg }, {})) {
      pages++;
      count += page.AutoScalingInstances!.length;
    }
    assert.deepEqual([pages, count], [20, 1000]);
    let ec2Count = 0;
    for await (const page of paginateDescribeInstances({ client: c.ec2, pageSize: 200 }, {})) {
      ec2Count += page.Reservations!.flatMap((r) => r.Instances!).length;
    }
    assert.equal(ec2Count, 1000);
    const first = await c.asg.send(new DescribeAutoScalingInstancesCommand({ MaxRecords: 50 }));
    assert.ok(first.NextToken);
    const tooMany = await errorOf(c.asg.send(new DescribeAutoScalingInstancesCommand({ MaxRecords: 51 })));
    assert.equal(tooMany.name, "ValidationError");
    const g = (await c.asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ["fleet"] })))
      .AutoScalingGroups![0]!;
    assert.equal(g.Instances!.length, 1000);
    assert.equal(g.TargetGroupARNs!.length, 10);
    const th = await c.elbv2.send(
      new DescribeTargetHealthCommand({ TargetGroupArn: g.TargetGroupARNs![9]! }),
    );
    assert.equal(th.TargetHealthDescriptions!.length, 1000);
  });
});

describe("instance metadata (IMDSv2)", () => {
  let sim: Sim;
  before(async () => {
    const fleet = loadFleet("three-hosts");
    fleet.groups![0]!.instances![1]!.imdsTokens = "required";
    sim = await startSim(fleet);
  });
  after(() => sim.stop());
  const url = (id: string, path: string) => `${sim.hosts[id]!.imds}${path}`;

  it("serves identity through the SDK's token flow", async () => {
    const md = new MetadataService({ endpoint: sim.hosts[A]!.imds, retries: 0 });
    assert.equal(await md.request("/latest/meta-data/instance-id", {}), A);
    assert.equal(await md.request("/latest/meta-data/placement/region", {}), "us-east-1");
    assert.equal(await md.request("/latest/meta-data/placement/availability-zone", {}), "us-east-1a");
    assert.equal(await md.request("/latest/meta-data/local-ipv4", {}), "10.0.97.11");
    assert.equal(await md.request("/latest/meta-data/autoscaling/target-lifecycle-state", {}), "InService");
    const doc = JSON.parse(await md.request("/latest/dynamic/instance-identity/document", {})) as {
      instanceId: string;
      region: string;
    };
    assert.deepEqual([doc.instanceId, doc.region], [A, "us-east-1"]);
    const role = await md.request("/latest/meta-data/iam/security-credentials/", {});
    const creds = JSON.parse(await md.request(`/latest/meta-data/iam/security-credentials/${role}`, {})) as {
      Code: string;
    };
    assert.equal(creds.Code, "Success");
  });

  it("checks the token TTL bounds and refuses forwarded token requests", async () => {
    const put = (headers: Record<string, string>) =>
      fetch(url(A, "/latest/api/token"), { method: "PUT", headers });
    assert.equal((await put({ "x-aws-ec2-metadata-token-ttl-seconds": "0" })).status, 400);
    assert.equal((await put({ "x-aws-ec2-metadata-token-ttl-seconds": "21601" })).status, 400);
    assert.equal((await put({})).status, 400);
    assert.equal(
      (await put({ "x-aws-ec2-metadata-token-ttl-seconds": "21600", "x-forwarded-for": "1.2.3.4" })).status,
      403,
    );
    const ok = await put({ "x-aws-ec2-metadata-token-ttl-seconds": "1" });
    assert.equal(ok.status, 200);
    const token = await ok.text();
    assert.equal(
      (
        await fetch(url(A, "/latest/meta-data/instance-id"), {
          headers: { "x-aws-ec2-metadata-token": token },
        })
      ).status,
      200,
    );
    assert.equal(
      (
        await fetch(url(A, "/latest/meta-data/instance-id"), {
          headers: { "x-aws-ec2-metadata-token": "forged" },
        })
      ).status,
      401,
    );
  });

  it("returns 401 without a token when the host requires tokens, and IMDSv1 works where it does not", async () => {
    const B = "i-0a000000000000002";
    assert.equal((await fetch(url(B, "/latest/meta-data/instance-id"))).status, 401);
    assert.equal((await fetch(url(A, "/latest/meta-data/instance-id"))).status, 200);
    await control(sim, "POST", "faults", { service: "imds", host: A, kind: "tokens-required" });
    assert.equal((await fetch(url(A, "/latest/meta-data/instance-id"))).status, 401);
    await control(sim, "DELETE", "faults");
  });

  it("can be made unreachable: hanging (a client must time out) or refusing", async () => {
    await control(sim, "POST", "faults", { service: "imds", host: A, kind: "unreachable" });
    const hung = await fetch(url(A, "/latest/meta-data/instance-id"), {
      signal: AbortSignal.timeout(300),
    }).catch((e: Error) => e);
    assert.ok(hung instanceof Error && /abort|timeout/i.test(hung.name));
    await control(sim, "DELETE", "faults");
    await control(sim, "POST", "faults", { service: "imds", host: A, kind: "unreachable", mode: "refuse" });
    const refused = await fetch(url(A, "/latest/meta-data/instance-id")).catch((e: Error) => e);
    assert.ok(refused instanceof Error);
    await control(sim, "DELETE", "faults");
  });
});

describe("npm run sim", () => {
  /** `npm run -s sim` as the README shows it; resolves with npm's child and the ready line. */
  async function startNpmSim() {
    const npm = spawn("npm", ["run", "-s", "sim", "--", "--fleet", "three-hosts", "--time-scale", "10"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const line = await new Promise<string>((resolve) =>
      createInterface({ input: npm.stdout }).once("line", resolve),
    );
    return { npm, started: JSON.parse(line) as SimReady };
  }
  interface SimReady {
    pid: number;
    endpoint: string;
    control: string;
    hosts: Record<string, { imds: string; env: Record<string, string> }>;
  }
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const gone = (pid: number) => eventually(async () => !alive(pid), 10_000);

  it("prints one JSON line with each host's complete environment; SIGTERM to npm stops it all", async () => {
    const { npm, started } = await startNpmSim();
    // A failed assertion must not leave the simulator running (it would hold the test run open).
    after(() => npm.kill("SIGKILL"));
    assert.match(started.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(started.control, `${started.endpoint}/_sim`);
    assert.deepEqual(Object.keys(started.hosts), [A, "i-0a000000000000002", "i-0a000000000000003"]);
    // No keys: as on EC2, credentials come from the instance profile, through the metadata service.
    assert.deepEqual(Object.keys(started.hosts[A]!.env).sort(), [
      "AWS_EC2_METADATA_SERVICE_ENDPOINT",
      "AWS_ENDPOINT_URL_AUTO_SCALING",
      "AWS_ENDPOINT_URL_DYNAMODB",
      "AWS_ENDPOINT_URL_EC2",
      "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING",
      "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2",
      "AWS_REGION",
    ]);
    const state = (await (await fetch(`${started.control}/state`)).json()) as { timeScale: number };
    assert.equal(state.timeScale, 10);
    npm.kill("SIGTERM");
    await gone(started.pid);
    await gone(npm.pid!);
  });

  it("stops by itself when npm is killed outright (SIGKILL): no simulator is left behind", async () => {
    const { npm, started } = await startNpmSim();
    assert.ok(alive(started.pid));
    npm.kill("SIGKILL");
    await gone(started.pid);
  });
});
