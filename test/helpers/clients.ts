import { AutoScalingClient, CreateOrUpdateTagsCommand } from "@aws-sdk/client-auto-scaling";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EC2Client } from "@aws-sdk/client-ec2";
import { ElasticLoadBalancingClient } from "@aws-sdk/client-elastic-load-balancing";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import type { HostInfo } from "../sim/server";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

/** Real SDK v3 clients configured exactly as a host's environment would configure them. */
export function clientsFor(host: HostInfo, extra: { maxAttempts?: number } = {}) {
  const config = {
    region: host.env.AWS_REGION!,
    credentials: host.credentials,
    maxAttempts: extra.maxAttempts ?? 3,
  };
  return {
    asg: new AutoScalingClient({ ...config, endpoint: host.env.AWS_ENDPOINT_URL_AUTO_SCALING }),
    elb: new ElasticLoadBalancingClient({
      ...config,
      endpoint: host.env.AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING,
    }),
    elbv2: new ElasticLoadBalancingV2Client({
      ...config,
      endpoint: host.env.AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2,
    }),
    ec2: new EC2Client({ ...config, endpoint: host.env.AWS_ENDPOINT_URL_EC2 }),
    dynamodb: new DynamoDBClient({ ...config, endpoint: host.env.AWS_ENDPOINT_URL_DYNAMODB }),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value (not undefined, not false) or the deadline passes. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
}

export async function control(
  sim: { control: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const res = await fetch(`${sim.control}/${path}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as unknown;
  if (!res.ok) throw new Error(`control ${method} ${path}: ${JSON.stringify(json)}`);
  return json;
}

/** Writes a tag on an Auto Scaling group as `host` would (a turn or a record, as a test sets it up). */
export const setGroupTag = (host: HostInfo, group: string, key: string, value: string) =>
  clientsFor(host).asg.send(
    new CreateOrUpdateTagsCommand({
      Tags: [
        {
          ResourceId: group,
          ResourceType: "auto-scaling-group",
          Key: key,
          Value: value,
          PropagateAtLaunch: false,
        },
      ],
    }),
  );
