import { AutoScalingClient } from "@aws-sdk/client-auto-scaling";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { EC2Client } from "@aws-sdk/client-ec2";
import { ElasticLoadBalancingClient } from "@aws-sdk/client-elastic-load-balancing";
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { fromNodeProviderChain } from "@aws-sdk/credential-providers";
import type { IamAction } from "../core/iam";
import { AwsCallError, ExitCode, isAbort, timedOut } from "../errors";
import type { CallLog } from "./call-log";
import { CliRetryStrategy } from "./retry";

/**
 * The AWS clients, configured only through the standard AWS environment (region, endpoints,
 * profiles, credentials, retry settings), so tests and production take the same path.
 */
export interface AwsClients {
  autoscaling: AutoScalingClient;
  /**
   * For EnterStandby and ExitStandby, which are not idempotent: one attempt a send. When the answer
   * is lost the SDK would send it again, and the second answer ("not in InService") would hide that
   * the first was applied; the caller re-reads instead (src/commands/move.ts, sendOnce).
   */
  autoscalingOnce: AutoScalingClient;
  elb: ElasticLoadBalancingClient;
  elbv2: ElasticLoadBalancingV2Client;
  /** One attempt a send too: the turn's writes on load balancers (src/aws/turn.ts, attemptTurnOnce). */
  elbOnce: ElasticLoadBalancingClient;
  elbv2Once: ElasticLoadBalancingV2Client;
  /**
   * Loaded on first use: only IP target groups need EC2, only `--lock` DynamoDB, and loading EC2's
   * client alone costs a bare Node start about 190 ms and 70 MB (measured with `node -e`). Each is
   * a chunk of the bundle that this import() loads (scripts/build.mjs).
   */
  ec2: () => Promise<EC2Client>;
  /** The lock's table (`--lock dynamodb:TABLE`), loaded on first use too. */
  dynamodb: () => Promise<DynamoDBClient>;
}

/** A client made once, on first use. */
function onFirstUse<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => {
    made ??= make();
    return made;
  };
}

/**
 * Attempts for errors other than throttling (5xx, a lost connection): AWS_MAX_ATTEMPTS overrides it.
 * Throttling has its own budget, bounded by the run's deadline (src/aws/retry.ts); AWS_RETRY_MODE
 * set in the environment replaces both with the SDK's own strategy of that mode.
 */
const DEFAULT_MAX_ATTEMPTS = 10;
/** Loopback or VPC endpoint: a connection that takes longer than this will not come. */
const CONNECTION_TIMEOUT_MS = 3000;
/** Per metadata request for instance-profile credentials, as patient as identity's second try. */
const CREDENTIALS_TIMEOUT_MS = 4000;
/** Retries of each such request: a metadata service under load answers the next one. */
const CREDENTIALS_RETRIES = 2;
/** No AWS describe call legitimately takes this long; a hung socket must not hang the deploy. */
const REQUEST_TIMEOUT_MS = 15000;

export function createClients(region: string): AwsClients {
  const asked = Number(process.env.AWS_MAX_ATTEMPTS) || undefined;
  const maxAttempts = asked ?? DEFAULT_MAX_ATTEMPTS;
  const base = {
    region,
    // The instance profile's credentials come from the metadata service, which identity already
    // found answering, if perhaps slowly: the SDK's default (1 s, no retry) would give up on a busy
    // host that identity waited for.
    credentials: fromNodeProviderChain({ timeout: CREDENTIALS_TIMEOUT_MS, maxRetries: CREDENTIALS_RETRIES }),
    // Without throwOnRequestTimeout the handler only logs a breach of requestTimeout, and a hung call
    // hangs on (@smithy/types, NodeHttpHandlerOptions).
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
  };
  const config = process.env.AWS_RETRY_MODE
    ? base
    : { ...base, retryStrategy: new CliRetryStrategy(maxAttempts, asked) };
  const once = { ...base, maxAttempts: 1 };
  return {
    autoscaling: new AutoScalingClient(config),
    autoscalingOnce: new AutoScalingClient(once),
    elb: new ElasticLoadBalancingClient(config),
    elbv2: new ElasticLoadBalancingV2Client(config),
    elbOnce: new ElasticLoadBalancingClient(once),
    elbv2Once: new ElasticLoadBalancingV2Client(once),
    ec2: onFirstUse(async () => new (await import("@aws-sdk/client-ec2")).EC2Client(config)),
    dynamodb: onFirstUse(async () => new (await import("@aws-sdk/client-dynamodb")).DynamoDBClient(config)),
  };
}

const DENIED = new Set([
  "AccessDenied",
  "AccessDeniedException",
  "UnauthorizedOperation",
  "UnauthorizedAccess",
]);
const THROTTLED = new Set([
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
]);
/** A tag quota reached: ELB's and ELBv2's TooManyTags, Auto Scaling's LimitExceeded (only tag writes meet it here). */
const TAG_QUOTA = new Set(["TooManyTagsException", "TooManyTags", "LimitExceededFault", "LimitExceeded"]);
const NETWORK = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "TimeoutError",
  "EPIPE",
]);

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/**
 * Waits for every one of these calls to answer or fail, then throws a failure if any: one that is
 * not a lost connection first (it says more). For writes whose timing matters: Promise.all returns
 * at the first failure while the other calls may still land later, unmeasured.
 */
export async function allAnswered<T>(calls: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(calls);
  const failures = settled.flatMap((s) => (s.status === "rejected" ? [s.reason as unknown] : []));
  if (failures.length)
    throw failures.find((e) => !(e instanceof AwsCallError && e.kind === "unreachable")) ?? failures[0];
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

/** Turns whatever the SDK threw into a typed error that names the IAM action and says what to do. */
export function toAwsCallError(iamAction: string, err: unknown): AwsCallError {
  const e = (err ?? {}) as SdkError;
  const name = e.name ?? "Error";
  const message = (e.message ?? String(err)).split("\n")[0]!;
  const attempts = e.$metadata?.attempts;
  const make = (code: (typeof ExitCode)[keyof typeof ExitCode], kind: string, reason: string) =>
    new AwsCallError(code, kind, reason, { code: name, message, iamAction });
  if (DENIED.has(name)) {
    return make(
      ExitCode.AwsRefused,
      "access-denied",
      `AWS denied ${iamAction}: the instance role needs "${iamAction}" (the README lists the whole IAM policy)`,
    );
  }
  if (name === "CredentialsProviderError") {
    return make(ExitCode.NotManageable, "no-credentials", `no AWS credentials for ${iamAction}: ${message}`);
  }
  if (THROTTLED.has(name)) {
    return make(
      ExitCode.AwsRefused,
      "throttled",
      `AWS kept throttling ${iamAction}${attempts ? ` after ${attempts} attempts` : ""}; try again later, or with a longer --timeout`,
    );
  }
  if (TAG_QUOTA.has(name)) {
    // A classic ELB takes 10 tags (its AddTags reference), a target group and an Auto Scaling group
    // 50: balanced's records (one a host out) need room beside the operator's own tags.
    return make(
      ExitCode.Busy,
      "tag-quota",
      `AWS refused ${iamAction} (${name.replace(/(Exception|Fault)$/, "")}): the resource already carries as many tags as AWS allows (classic ELB 10, target group and Auto Scaling group 50), and balanced records each host it takes out there as a tag; remove tags it does not need, or wait for hosts out to return: ${message}`,
    );
  }
  if (name === "ResourceContentionFault" || name === "ResourceContention") {
    // Auto Scaling's writes document it (HTTP 500): another update to the group is pending, so this
    // one was not applied. Callers send again within their deadlines; at worst the group is busy.
    return make(
      ExitCode.Busy,
      "contention",
      `AWS refused ${iamAction} for now: another update to the group is pending (ResourceContention); try again in a moment`,
    );
  }
  if (NETWORK.has(name) || NETWORK.has(e.code ?? "")) {
    return make(ExitCode.AwsRefused, "unreachable", `could not reach AWS for ${iamAction}: ${message}`);
  }
  return make(ExitCode.AwsRefused, "aws-error", `AWS refused ${iamAction}: ${name}: ${message}`);
}

/** Runs one AWS call: counted, abortable, and its failure typed. */
export async function awsCall<T>(
  log: CallLog,
  iamAction: IamAction,
  signal: AbortSignal | undefined,
  send: (options: { abortSignal?: AbortSignal }) => Promise<T>,
): Promise<T> {
  log.note(iamAction);
  try {
    return await send(signal ? { abortSignal: signal } : {});
  } catch (err) {
    // Aborted by a deadline (AbortSignal.timeout), not by the operator: a timeout, naming the call.
    if (signal?.aborted && (signal.reason as { name?: string } | undefined)?.name === "TimeoutError")
      throw timedOut(`timed out: AWS had not answered ${iamAction} by the deadline (--timeout)`);
    if (isAbort(err) || signal?.aborted) throw err;
    throw toAwsCallError(iamAction, err);
  }
}
