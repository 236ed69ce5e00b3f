import {
  type Activity,
  type AutoScalingGroup,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeInstanceRefreshesCommand,
  DescribeScalingActivitiesCommand,
} from "@aws-sdk/client-auto-scaling";
import {
  DescribeTagsCommand as ClassicDescribeTagsCommand,
  DescribeInstanceHealthCommand,
  type DescribeInstanceHealthCommandOutput,
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import {
  DescribeTagsCommand,
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  type DescribeTargetHealthCommandOutput,
  type TargetGroup,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { classifyClassic, classifyNotInUse, classifyTarget } from "../core/health";
import type { GroupView, LoadBalancerView, MemberHealth, MemberState, Snapshot } from "../core/types";
import { AwsCallError, noGroup, notManageable } from "../errors";
import type { CallLog } from "./call-log";
import { type AwsClients, awsCall } from "./clients";
import { clockAttempts } from "./clock";
import type { Identity } from "./identity";

/** What the reader needs besides the clients. */
export interface ReadContext {
  clients: AwsClients;
  log: CallLog;
  signal: AbortSignal | undefined;
  identity: Identity;
  /** Extra load balancers and target groups named on the command line. */
  extraLoadBalancerNames: string[];
  extraTargetGroupArns: string[];
  /** No group: find the load balancers this host is in by asking each one in the region. */
  discover: boolean;
}

/** Statuses of instance refreshes still in flight, as AWS lists them. */
const TERMINAL_ACTIVITY = new Set(["Successful", "Failed", "Cancelled"]);
/** Activities: the newest page holds anything still in progress. */
const ACTIVITY_PAGE = 50;
const REFRESH_PAGE = 10;
/** DescribeTargetGroups accepts at most this many ARNs per call. */
const TARGET_GROUP_BATCH = 20;

/** Where a host is registered in a target group: its id there (instance id or IP) and ports. */
export interface SelfTarget {
  id: string;
  /** Every port it is registered on (polls watch them all, draining ones included). */
  ports: number[];
  /** The ports it serves on: not the ones already draining (someone else deregistered those). */
  servingPorts: number[];
  /** IP targets: the zone AWS gives it; "all" for an IP outside the target group's VPC. */
  availabilityZone?: string;
}

export interface ReadResult {
  snapshot: Snapshot;
  /** For each target group ARN, how this host appears in it (for targeted polling). */
  selfTargets: Record<string, SelfTarget>;
}

/** Several registrations (ports) of one instance: absent only if absent everywhere; otherwise the worst. */
const WORST_FIRST: MemberState[] = [
  "unhealthy",
  "draining",
  "registering",
  "not-in-use",
  "unavailable",
  "healthy",
];
export function combineMembers(states: MemberHealth[]): MemberHealth {
  const present = states.filter((s) => s.state !== "absent");
  if (present.length === 0) return states[0] ?? { state: "absent", detail: "not registered" };
  return present.sort((a, b) => WORST_FIRST.indexOf(a.state) - WORST_FIRST.indexOf(b.state))[0]!;
}

/** This host's group and lifecycle state, from one DescribeAutoScalingInstances call. */
export async function findGroup(ctx: ReadContext): Promise<{ group: string; lifecycleState: string }> {
  const { instanceId } = ctx.identity;
  const res = await awsCall(ctx.log, "autoscaling:DescribeAutoScalingInstances", ctx.signal, (o) =>
    ctx.clients.autoscaling.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }), o),
  );
  const me = res.AutoScalingInstances?.[0];
  if (!me?.AutoScalingGroupName) {
    throw noGroup(
      ctx.extraLoadBalancerNames.length || ctx.extraTargetGroupArns.length || ctx.discover
        ? `${instanceId} is not in an Auto Scaling group`
        : `${instanceId} is not in an Auto Scaling group; name its load balancers with --load-balancer/--target-group (or --discover) to deregister it from them directly`,
    );
  }
  return { group: me.AutoScalingGroupName, lifecycleState: me.LifecycleState ?? "Unknown" };
}

function groupView(g: AutoScalingGroup): GroupView {
  const pct = g.InstanceMaintenancePolicy?.MinHealthyPercentage;
  return {
    name: g.AutoScalingGroupName!,
    minSize: g.MinSize ?? 0,
    maxSize: g.MaxSize ?? 0,
    desiredCapacity: g.DesiredCapacity ?? 0,
    instances: (g.Instances ?? []).map((i) => ({
      id: i.InstanceId!,
      lifecycleState: i.LifecycleState ?? "Unknown",
      health: i.HealthStatus?.toLowerCase() === "healthy" ? "Healthy" : "Unhealthy",
      availabilityZone: i.AvailabilityZone ?? "",
    })),
    suspendedProcesses: (g.SuspendedProcesses ?? []).map((p) => p.ProcessName!).filter(Boolean),
    minHealthyPercentage: pct !== undefined && pct >= 0 ? pct : undefined,
    tags: Object.fromEntries((g.Tags ?? []).map((t) => [t.Key!, t.Value ?? ""])),
  };
}

const unique = (xs: string[]) => [...new Set(xs)];

/**
 * A load balancer or target group deleted under the group (which may keep naming it) answers
 * NotFound: it serves no traffic, so there is nothing to leave or wait for there.
 */
const GONE_LB_CODES = new Set([
  "AccessPointNotFoundException",
  "LoadBalancerNotFound",
  "TargetGroupNotFoundException",
  "TargetGroupNotFound",
]);
export const isGoneLoadBalancer = (err: unknown) =>
  err instanceof AwsCallError && GONE_LB_CODES.has(err.awsCode);

/**
 * Describes `keys` in one call; when AWS answers NotFound (one missing name fails the whole call),
 * asks for each to learn which are gone.
 */
async function describeEach<T>(
  keys: string[],
  describe: (keys: string[]) => Promise<T[]>,
): Promise<{ found: T[]; gone: string[] }> {
  try {
    return { found: await describe(keys), gone: [] };
  } catch (err) {
    if (!isGoneLoadBalancer(err) || keys.length === 0) throw err;
  }
  const each = await Promise.all(
    keys.map((k) =>
      describe([k]).then(
        (found) => ({ found, gone: [] as string[] }),
        (err: unknown) => {
          if (isGoneLoadBalancer(err)) return { found: [] as T[], gone: [k] };
          throw err;
        },
      ),
    ),
  );
  return { found: each.flatMap((e) => e.found), gone: each.flatMap((e) => e.gone) };
}

/** Runs a read of one load balancer; undefined when it turns out to be gone meanwhile. */
async function unlessGone<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (isGoneLoadBalancer(err)) return undefined;
    throw err;
  }
}

export interface LoadBalancerRead {
  views: LoadBalancerView[];
  /** Labels (`elb/NAME`, `tg/NAME`) of those named that no longer exist. */
  gone: string[];
}

export async function readClassic(
  ctx: ReadContext,
  names: string[],
  groupLbs: Set<string>,
): Promise<LoadBalancerRead> {
  if (names.length === 0) return { views: [], gone: [] };
  const described = await describeEach(names, async (batch) => {
    const res = await awsCall(ctx.log, "elasticloadbalancing:DescribeLoadBalancers", ctx.signal, (o) =>
      ctx.clients.elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: batch }), o),
    );
    return res.LoadBalancerDescriptions ?? [];
  });
  const present = names.filter((n) => !described.gone.includes(n));
  const read = await Promise.all(
    present.map((name) =>
      unlessGone(async () => {
        const d = described.found.find((x) => x.LoadBalancerName === name);
        const [attrs, health] = await Promise.all([
          awsCall(ctx.log, "elasticloadbalancing:DescribeLoadBalancerAttributes", ctx.signal, (o) =>
            ctx.clients.elb.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerName: name }), o),
          ),
          awsCall(ctx.log, "elasticloadbalancing:DescribeInstanceHealth", ctx.signal, (o) =>
            ctx.clients.elb.send(new DescribeInstanceHealthCommand({ LoadBalancerName: name }), o),
          ),
        ]);
        const draining = attrs.LoadBalancerAttributes?.ConnectionDraining;
        // DescribeInstanceHealth also answers for instances no longer registered; the load balancer's
        // own instance list says who is (AWS: "the state of terminated instances is not returned").
        const registered = new Set((d?.Instances ?? []).map((i) => i.InstanceId));
        const members: Record<string, MemberHealth> = {};
        for (const s of health.InstanceStates ?? []) {
          if (!s.InstanceId) continue;
          members[s.InstanceId] =
            d?.Instances && !registered.has(s.InstanceId)
              ? { state: "absent", detail: "not registered" }
              : classifyClassic(s.State, s.Description);
        }
        return {
          kind: "classic" as const,
          name,
          id: name,
          source:
            ctx.extraLoadBalancerNames.includes(name) && !groupLbs.has(name)
              ? ("named" as const)
              : ("group" as const),
          drainSeconds: draining?.Enabled ? (draining.Timeout ?? 300) : 0,
          healthCheckIntervalSeconds: d?.HealthCheck?.Interval ?? 30,
          healthyThreshold: d?.HealthCheck?.HealthyThreshold ?? 10,
          healthChecksEnabled: true,
          targetType: "instance" as const,
          port: undefined,
          members,
        };
      }),
    ),
  );
  const views = read.filter((v) => v !== undefined);
  const gone = names.filter((n) => !views.some((v) => v.name === n));
  return { views, gone: gone.map((n) => `elb/${n}`) };
}

async function describeTargetGroups(
  ctx: ReadContext,
  arns: string[],
): Promise<{ found: TargetGroup[]; gone: string[] }> {
  const batches: string[][] = [];
  for (let i = 0; i < arns.length; i += TARGET_GROUP_BATCH)
    batches.push(arns.slice(i, i + TARGET_GROUP_BATCH));
  const pages = await Promise.all(
    batches.map((batch) =>
      describeEach(batch, async (some) => {
        const res = await awsCall(ctx.log, "elasticloadbalancing:DescribeTargetGroups", ctx.signal, (o) =>
          ctx.clients.elbv2.send(new DescribeTargetGroupsCommand({ TargetGroupArns: some }), o),
        );
        return res.TargetGroups ?? [];
      }),
    ),
  );
  return { found: pages.flatMap((p) => p.found), gone: pages.flatMap((p) => p.gone) };
}

/** EC2 takes at most 200 values in one filter ("FilterLimitExceeded" beyond). */
const EC2_FILTER_VALUES = 200;

/** Private IPs of the group's instances, needed only when a target group registers by IP. */
async function privateIps(ctx: ReadContext, allIds: string[]): Promise<Map<string, string>> {
  const byIp = new Map<string, string>();
  const chunks: string[][] = [];
  for (let i = 0; i < allIds.length; i += EC2_FILTER_VALUES)
    chunks.push(allIds.slice(i, i + EC2_FILTER_VALUES));
  for (const instanceIds of chunks) await privateIpsOf(ctx, instanceIds, byIp);
  return byIp;
}

async function privateIpsOf(
  ctx: ReadContext,
  instanceIds: string[],
  byIp: Map<string, string>,
): Promise<void> {
  const [ec2, { DescribeInstancesCommand }] = await Promise.all([
    ctx.clients.ec2(),
    import("@aws-sdk/client-ec2"),
  ]);
  let token: string | undefined;
  do {
    const page = await awsCall(ctx.log, "ec2:DescribeInstances", ctx.signal, (o) =>
      ec2.send(
        new DescribeInstancesCommand({
          Filters: [{ Name: "instance-id", Values: instanceIds }],
          NextToken: token,
          MaxResults: 1000,
        }),
        o,
      ),
    );
    for (const r of page.Reservations ?? []) {
      for (const i of r.Instances ?? [])
        if (i.PrivateIpAddress && i.InstanceId) byIp.set(i.PrivateIpAddress, i.InstanceId);
    }
    token = page.NextToken;
  } while (token);
}

/**
 * `instanceIds`: the group's instances, to map IP targets back to instances. Without a group
 * (undefined), an IP target that is not this host is listed under its IP.
 */
export async function readTargetGroups(
  ctx: ReadContext,
  arns: string[],
  instanceIds: string[] | undefined,
  groupLbs: Set<string>,
): Promise<LoadBalancerRead & { selfTargets: Record<string, SelfTarget> }> {
  if (arns.length === 0) return { views: [], gone: [], selfTargets: {} };
  const described = await describeTargetGroups(ctx, arns);
  const groups = described.found;
  const needIps = instanceIds !== undefined && groups.some((g) => g.TargetType === "ip");
  const ipToInstance = needIps ? await privateIps(ctx, instanceIds) : new Map<string, string>();
  const selfTargets: Record<string, SelfTarget> = {};
  const present = arns.filter((a) => !described.gone.includes(a));
  const read = await Promise.all(
    present.map((arn) =>
      unlessGone(async () => {
        const tg = groups.find((g) => g.TargetGroupArn === arn);
        const [attrs, health] = await Promise.all([
          awsCall(ctx.log, "elasticloadbalancing:DescribeTargetGroupAttributes", ctx.signal, (o) =>
            ctx.clients.elbv2.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: arn }), o),
          ),
          awsCall(ctx.log, "elasticloadbalancing:DescribeTargetHealth", ctx.signal, (o) =>
            ctx.clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }), o),
          ),
        ]);
        const targetType = tg?.TargetType === "ip" ? "ip" : "instance";
        const byInstance = new Map<string, MemberHealth[]>();
        // An IP target group may list this host under any of its private IPs (a secondary one too).
        const selfIds =
          targetType === "ip"
            ? (ctx.identity.privateIps ?? [ctx.identity.privateIp ?? ""])
            : [ctx.identity.instanceId];
        const isSelf = (id: string) => selfIds.includes(id);
        let selfId = selfIds[0] ?? "";
        const selfPorts: number[] = [];
        const servingPorts: number[] = [];
        let selfZone: string | undefined;
        for (const d of health.TargetHealthDescriptions ?? []) {
          const targetId = d.Target?.Id ?? "";
          const instanceId =
            targetType !== "ip"
              ? targetId
              : isSelf(targetId)
                ? ctx.identity.instanceId
                : // Not one of the group's: still a target the budget counts, under its IP.
                  (ipToInstance.get(targetId) ?? targetId);
          if (isSelf(targetId) && d.Target?.Port !== undefined) {
            if (!selfPorts.length) selfId = targetId;
            selfPorts.push(d.Target.Port);
            selfZone ??= d.Target.AvailabilityZone;
            if (d.TargetHealth?.State !== "draining") servingPorts.push(d.Target.Port);
          }
          if (!instanceId) continue;
          const list = byInstance.get(instanceId) ?? [];
          list.push(
            classifyNotInUse(
              classifyTarget(d.TargetHealth?.State, d.TargetHealth?.Reason, d.TargetHealth?.Description),
              (tg?.LoadBalancerArns?.length ?? 0) > 0,
            ),
          );
          byInstance.set(instanceId, list);
        }
        selfTargets[arn] = {
          id: selfId,
          ports: selfPorts.length ? selfPorts : tg?.Port !== undefined ? [tg.Port] : [],
          servingPorts,
          availabilityZone: selfZone,
        };
        const delay = attrs.Attributes?.find((a) => a.Key === "deregistration_delay.timeout_seconds")?.Value;
        const name = tg?.TargetGroupName ?? arn.split("/")[1] ?? arn;
        return {
          kind: "target-group" as const,
          name,
          id: arn,
          source:
            ctx.extraTargetGroupArns.includes(arn) && !groupLbs.has(arn)
              ? ("named" as const)
              : ("group" as const),
          drainSeconds: delay !== undefined ? Number(delay) : 300,
          healthCheckIntervalSeconds: tg?.HealthCheckIntervalSeconds ?? 30,
          healthyThreshold: tg?.HealthyThresholdCount ?? 5,
          healthChecksEnabled: tg?.HealthCheckEnabled ?? true,
          routed: (tg?.LoadBalancerArns?.length ?? 0) > 0,
          targetType: targetType as "instance" | "ip",
          port: tg?.Port,
          members: Object.fromEntries([...byInstance].map(([id, states]) => [id, combineMembers(states)])),
        };
      }),
    ),
  );
  const views = read.filter((v) => v !== undefined);
  // Labelled by name, as lbLabel does: an ARN's path is targetgroup/NAME/ID.
  const gone = arns.filter((a) => !views.some((v) => v.id === a)).map((a) => `tg/${a.split("/")[1] ?? a}`);
  return { views, gone, selfTargets };
}

/** Both DescribeTags APIs take at most 20 resources a call. */
export const TAG_BATCH = 20;

export const batches = <T>(xs: T[], size = TAG_BATCH): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
};

/** Tags of classic ELBs and target groups, by name / ARN; `sentAt`: the earliest answering attempt. */
export async function readTags(
  ctx: ReadContext,
  names: string[],
  arns: string[],
): Promise<{ tags: Map<string, Record<string, string>>; sentAt: number }> {
  const tags = new Map<string, Record<string, string>>();
  const sent: number[] = [];
  await Promise.all([
    ...batches(names).map(async (batch) => {
      const command = new ClassicDescribeTagsCommand({ LoadBalancerNames: batch });
      const sentAt = clockAttempts(command);
      const res = await awsCall(ctx.log, "elasticloadbalancing:DescribeTags", ctx.signal, (o) =>
        ctx.clients.elb.send(command, o),
      );
      sent.push(sentAt());
      for (const d of res.TagDescriptions ?? [])
        tags.set(
          d.LoadBalancerName ?? "",
          Object.fromEntries((d.Tags ?? []).map((t) => [t.Key!, t.Value ?? ""])),
        );
    }),
    ...batches(arns).map(async (batch) => {
      const command = new DescribeTagsCommand({ ResourceArns: batch });
      const sentAt = clockAttempts(command);
      const res = await awsCall(ctx.log, "elasticloadbalancing:DescribeTags", ctx.signal, (o) =>
        ctx.clients.elbv2.send(command, o),
      );
      sent.push(sentAt());
      for (const d of res.TagDescriptions ?? [])
        tags.set(d.ResourceArn ?? "", Object.fromEntries((d.Tags ?? []).map((t) => [t.Key!, t.Value ?? ""])));
    }),
  ]);
  return { tags, sentAt: Math.min(...sent, performance.now()) };
}

/**
 * The same, where some may be deleted: one that is gone fails the whole DescribeTags, so once
 * `reads` (the load balancers' own describes) say which are left, ask again for those.
 */
export function readTagsOfPresent(
  ctx: ReadContext,
  names: string[],
  arns: string[],
  reads: Promise<[LoadBalancerRead, LoadBalancerRead]>,
): Promise<Map<string, Record<string, string>>> {
  return readTags(ctx, names, arns).then(
    (r) => r.tags,
    async (err: unknown) => {
      if (!isGoneLoadBalancer(err)) throw err;
      const [c, t] = await reads;
      const again = await readTags(
        ctx,
        c.views.map((v) => v.name),
        t.views.map((v) => v.id),
      );
      return again.tags;
    },
  );
}

/** When each instance now in Standby was moved there: its newest "moved to standby" activity. */
function standbySince(group: GroupView, activities: Activity[]): Record<string, string> {
  const since: Record<string, string> = {};
  for (const inst of group.instances) {
    if (inst.lifecycleState !== "Standby") continue;
    // AWS's wording for EnterStandby's activity (its API reference and botocore's examples).
    const a = activities.find((x) => x.Description === `Moving EC2 instance to Standby: ${inst.id}`);
    const t = a?.EndTime ?? a?.StartTime;
    if (t) since[inst.id] = t.toISOString();
  }
  return since;
}

/** Just the group (sizes, instances, tags): one call. */
export async function readGroup(ctx: ReadContext, name: string): Promise<GroupView> {
  const res = await awsCall(ctx.log, "autoscaling:DescribeAutoScalingGroups", ctx.signal, (o) =>
    ctx.clients.autoscaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }), o),
  );
  const g = res.AutoScalingGroups?.[0];
  if (!g) throw notManageable(`Auto Scaling group ${name} no longer exists`);
  return groupView(g);
}

/** One pass over everything the decision needs. Calls that do not depend on each other run together. */
export async function readSnapshot(ctx: ReadContext, groupName?: string): Promise<ReadResult> {
  const name = groupName ?? (await findGroup(ctx)).group;
  const [groups, activities, refreshes] = await Promise.all([
    awsCall(ctx.log, "autoscaling:DescribeAutoScalingGroups", ctx.signal, (o) =>
      ctx.clients.autoscaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
        o,
      ),
    ),
    awsCall(ctx.log, "autoscaling:DescribeScalingActivities", ctx.signal, (o) =>
      ctx.clients.autoscaling.send(
        new DescribeScalingActivitiesCommand({ AutoScalingGroupName: name, MaxRecords: ACTIVITY_PAGE }),
        o,
      ),
    ),
    awsCall(ctx.log, "autoscaling:DescribeInstanceRefreshes", ctx.signal, (o) =>
      ctx.clients.autoscaling.send(
        new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: name, MaxRecords: REFRESH_PAGE }),
        o,
      ),
    ),
  ]);
  const g = groups.AutoScalingGroups?.[0];
  if (!g) throw notManageable(`Auto Scaling group ${name} no longer exists`);
  const group = groupView(g);
  if (!group.instances.some((i) => i.id === ctx.identity.instanceId)) {
    throw notManageable(`${ctx.identity.instanceId} is no longer in Auto Scaling group ${name}`);
  }
  const sources = g.TrafficSources ?? [];
  const groupClassic = [
    ...(g.LoadBalancerNames ?? []),
    ...sources.filter((s) => s.Type === "elb").map((s) => s.Identifier!),
  ];
  const groupTgs = [
    ...(g.TargetGroupARNs ?? []),
    ...sources.filter((s) => s.Type === "elbv2").map((s) => s.Identifier!),
  ];
  const groupLbs = new Set([...groupClassic, ...groupTgs]);
  const classicNames = unique([...groupClassic, ...ctx.extraLoadBalancerNames]);
  const tgArns = unique([...groupTgs, ...ctx.extraTargetGroupArns]);
  const ids = group.instances.map((i) => i.id);
  const reads = Promise.all([
    readClassic(ctx, classicNames, groupLbs),
    readTargetGroups(ctx, tgArns, ids, groupLbs),
  ]);
  // The load balancers' tags carry every host's removal record (src/core/standalone.ts), whatever
  // group it is in or none: the budget per load balancer counts them.
  const [[classic, tgs], tags] = await Promise.all([
    reads,
    readTagsOfPresent(ctx, classicNames, tgArns, reads),
  ]);
  for (const lb of [...classic.views, ...tgs.views]) lb.tags = tags.get(lb.id) ?? {};
  return {
    snapshot: {
      instanceId: ctx.identity.instanceId,
      region: ctx.identity.region,
      group,
      loadBalancers: [...classic.views, ...tgs.views],
      gone: [...classic.gone, ...tgs.gone],
      activities: (activities.Activities ?? [])
        .filter((a) => !TERMINAL_ACTIVITY.has(a.StatusCode ?? ""))
        .map((a) => ({
          id: a.ActivityId ?? "",
          statusCode: a.StatusCode ?? "",
          description: a.Description ?? "",
          startTime: a.StartTime?.toISOString(),
        })),
      refreshes: (refreshes.InstanceRefreshes ?? []).map((r) => ({
        id: r.InstanceRefreshId ?? "",
        status: r.Status ?? "",
      })),
      standbySince: standbySince(group, activities.Activities ?? []),
      takenAt: Date.now(),
    },
    selfTargets: tgs.selfTargets,
  };
}

/** The cheap polls a wait makes: this host's lifecycle, and its state in each load balancer. */
export async function readSelfLifecycle(
  ctx: ReadContext,
): Promise<{ lifecycleState: string; health: string }> {
  const res = await awsCall(ctx.log, "autoscaling:DescribeAutoScalingInstances", ctx.signal, (o) =>
    ctx.clients.autoscaling.send(
      new DescribeAutoScalingInstancesCommand({ InstanceIds: [ctx.identity.instanceId] }),
      o,
    ),
  );
  const me = res.AutoScalingInstances?.[0];
  if (!me) throw notManageable(`${ctx.identity.instanceId} is no longer in an Auto Scaling group`);
  return { lifecycleState: me.LifecycleState ?? "Unknown", health: me.HealthStatus ?? "" };
}

/**
 * The descriptions DescribeInstanceHealth gives, as the ELB API reference lists them (InstanceState:
 * "This string can contain one or more of the following messages"); "N/A" says nothing about
 * registration, so it is not among them here.
 */
const DOCUMENTED_CLASSIC_DESCRIPTION =
  /^(A transient error occurred|Instance has failed at least|Instance has not passed|Instance registration is still in progress|Instance is in the EC2 Availability Zone|Instance is not currently registered|Instance deregistration currently in progress|Disable Availability Zone is currently in progress|Instance is in (pending|stopped|terminated) state)/;

/** Asked about a terminated instance, both APIs answer that it is not a valid instance: it is gone from them. */
const isGoneInstance = (err: unknown) =>
  err instanceof AwsCallError &&
  (err.awsCode === "InvalidEndPointException" || err.awsCode === "InvalidTargetException");

export async function readSelfInLoadBalancer(
  ctx: ReadContext,
  lb: LoadBalancerView,
  selfTarget: Pick<SelfTarget, "id" | "ports"> | undefined,
): Promise<MemberHealth> {
  const id = ctx.identity.instanceId;
  if (lb.kind === "classic") {
    let res: DescribeInstanceHealthCommandOutput;
    try {
      res = await awsCall(ctx.log, "elasticloadbalancing:DescribeInstanceHealth", ctx.signal, (o) =>
        ctx.clients.elb.send(
          new DescribeInstanceHealthCommand({ LoadBalancerName: lb.name, Instances: [{ InstanceId: id }] }),
          o,
        ),
      );
    } catch (err) {
      if (isGoneInstance(err)) return { state: "absent", detail: "the instance no longer exists" };
      if (isGoneLoadBalancer(err)) return { state: "absent", detail: "the load balancer no longer exists" };
      throw err;
    }
    const s = res.InstanceStates?.[0];
    // AWS leaves out instances it no longer knows: not listed is not registered.
    if (!s) return { state: "absent", detail: "not registered" };
    const health = classifyClassic(s.State, s.Description);
    if (s.State === "InService" || DOCUMENTED_CLASSIC_DESCRIPTION.test(s.Description ?? "")) return health;
    // An answer in no wording AWS documents (moto's bare "Unknown", say): the load balancer's own
    // instance list says whether this host is still registered.
    const listed = await awsCall(ctx.log, "elasticloadbalancing:DescribeLoadBalancers", ctx.signal, (o) =>
      ctx.clients.elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: [lb.name] }), o),
    );
    const instances = listed.LoadBalancerDescriptions?.[0]?.Instances;
    return instances && !instances.some((i) => i.InstanceId === id)
      ? { state: "absent", detail: "not registered" }
      : health;
  }
  const target = selfTarget ?? { id, ports: lb.port !== undefined ? [lb.port] : [] };
  const targets = target.ports.length
    ? target.ports.map((Port) => ({ Id: target.id, Port }))
    : [{ Id: target.id }];
  let res: DescribeTargetHealthCommandOutput;
  try {
    res = await awsCall(ctx.log, "elasticloadbalancing:DescribeTargetHealth", ctx.signal, (o) =>
      ctx.clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: lb.id, Targets: targets }), o),
    );
  } catch (err) {
    if (isGoneInstance(err)) return { state: "absent", detail: "the instance no longer exists" };
    if (isGoneLoadBalancer(err)) return { state: "absent", detail: "the target group no longer exists" };
    throw err;
  }
  return combineMembers(
    (res.TargetHealthDescriptions ?? []).map((d) =>
      classifyNotInUse(
        classifyTarget(d.TargetHealth?.State, d.TargetHealth?.Reason, d.TargetHealth?.Description),
        lb.routed !== false,
      ),
    ),
  );
}
