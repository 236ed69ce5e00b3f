/**
 * AWS calls for a host in no Auto Scaling group: read its load balancers and their tags, find them
 * (--discover), deregister and register it, record what was removed, and keep the turn on the load
 * balancers' own tags (the same protocol as src/aws/turn.ts, on several resources at once).
 */
import {
  AddTagsCommand as ClassicAddTagsCommand,
  RemoveTagsCommand as ClassicRemoveTagsCommand,
  DeregisterInstancesFromLoadBalancerCommand,
  DescribeLoadBalancersCommand,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import {
  AddTagsCommand,
  DeregisterTargetsCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  RegisterTargetsCommand,
  RemoveTagsCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";
import { classifyTarget, goneFrom } from "../core/health";
import { outKey, type StandaloneLb, type StandaloneSnapshot } from "../core/standalone";
import { isMine, parseTurn, TURN_TAG } from "../core/turn";
import type { LoadBalancerView } from "../core/types";
import { allAnswered, awsCall } from "./clients";
import {
  batches,
  type ReadContext,
  type ReadResult,
  readClassic,
  readTags,
  readTagsOfPresent,
  readTargetGroups,
} from "./read";
import {
  attemptTurn,
  canAct,
  orphanIn,
  orphansToGiveBack,
  RELEASE_DEADLINE_MS,
  type TurnLock,
  TurnLostError,
  type TurnStore,
  tagTiming,
  worstView,
} from "./turn";

/** The largest page both APIs allow (DescribeLoadBalancers, DescribeTargetGroups). */
const PAGE = 400;

export interface StandaloneRead {
  snapshot: StandaloneSnapshot;
  selfTargets: ReadResult["selfTargets"];
}

/** One pass over the named load balancers: members, health, settings and tags. */
export async function readStandalone(
  ctx: ReadContext,
  names: string[],
  arns: string[],
): Promise<StandaloneRead> {
  const reads = Promise.all([
    readClassic(ctx, names, new Set()),
    readTargetGroups(ctx, arns, undefined, new Set()),
  ]);
  const [[classic, tgs], tagged] = await Promise.all([reads, readTagsOfPresent(ctx, names, arns, reads)]);
  const views = [...classic.views, ...tgs.views];
  return {
    snapshot: {
      instanceId: ctx.identity.instanceId,
      region: ctx.identity.region,
      gone: [...classic.gone, ...tgs.gone],
      loadBalancers: views.map((lb) => ({
        lb,
        tags: tagged.get(lb.id) ?? {},
        selfPorts: registeredPorts(lb, tgs.selfTargets[lb.id]?.servingPorts ?? [], ctx),
        selfZone: tgs.selfTargets[lb.id]?.availabilityZone,
        selfIp: lb.targetType === "ip" ? tgs.selfTargets[lb.id]?.id : undefined,
      })),
      takenAt: Date.now(),
    },
    selfTargets: tgs.selfTargets,
  };
}

/** The ports this host serves on now (a target group lists them; absent or draining: none). */
const registeredPorts = (lb: LoadBalancerView, ports: number[], ctx: ReadContext) =>
  lb.kind === "classic" || goneFrom(lb.members[ctx.identity.instanceId] ?? { state: "absent", detail: "" })
    ? []
    : ports;

/**
 * --discover: every classic ELB that lists this host, every target group that has it registered,
 * and every one of either that carries this host's removal record (it was taken out of them).
 * Paginated; one DescribeTargetHealth per target group, under the SDK's adaptive retry.
 */
export async function discover(ctx: ReadContext): Promise<{ names: string[]; arns: string[] }> {
  const id = ctx.identity.instanceId;
  const allNames: string[] = [];
  const names = new Set<string>();
  let marker: string | undefined;
  do {
    const page = await awsCall(ctx.log, "elasticloadbalancing:DescribeLoadBalancers", ctx.signal, (o) =>
      ctx.clients.elb.send(new DescribeLoadBalancersCommand({ PageSize: PAGE, Marker: marker }), o),
    );
    for (const lb of page.LoadBalancerDescriptions ?? []) {
      allNames.push(lb.LoadBalancerName!);
      if (lb.Instances?.some((i) => i.InstanceId === id)) names.add(lb.LoadBalancerName!);
    }
    marker = page.NextMarker;
  } while (marker);
  const allArns: string[] = [];
  const arns = new Set<string>();
  const targetGroups: { arn: string; ip: boolean }[] = [];
  do {
    const page = await awsCall(ctx.log, "elasticloadbalancing:DescribeTargetGroups", ctx.signal, (o) =>
      ctx.clients.elbv2.send(new DescribeTargetGroupsCommand({ PageSize: PAGE, Marker: marker }), o),
    );
    for (const tg of page.TargetGroups ?? []) {
      if (tg.TargetType !== "instance" && tg.TargetType !== "ip") continue;
      allArns.push(tg.TargetGroupArn!);
      targetGroups.push({ arn: tg.TargetGroupArn!, ip: tg.TargetType === "ip" });
    }
    marker = page.NextMarker;
  } while (marker);
  await Promise.all(
    targetGroups.map(async ({ arn, ip }) => {
      const res = await awsCall(ctx.log, "elasticloadbalancing:DescribeTargetHealth", ctx.signal, (o) =>
        ctx.clients.elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }), o),
      );
      const selfId = ip ? ctx.identity.privateIp : id;
      const registered = (res.TargetHealthDescriptions ?? []).some(
        (d) =>
          d.Target?.Id === selfId &&
          classifyTarget(d.TargetHealth?.State, d.TargetHealth?.Reason).state !== "absent",
      );
      if (registered) arns.add(arn);
    }),
  );
  const { tags } = await readTags(ctx, allNames, allArns);
  for (const [resource, t] of tags) {
    if (!(outKey(id) in t)) continue;
    if (resource.startsWith("arn:")) arns.add(resource);
    else names.add(resource);
  }
  return { names: [...names].sort(), arns: [...arns].sort() };
}

const classicNames = (lbs: StandaloneLb[]) => lbs.filter((l) => l.lb.kind === "classic").map((l) => l.lb.id);
const targetGroupArns = (lbs: StandaloneLb[]) =>
  lbs.filter((l) => l.lb.kind === "target-group").map((l) => l.lb.id);

/**
 * Sets one tag on each of these load balancers, both APIs at once: a classic ELB a call (its AddTags
 * takes one name), target groups with the same value together, up to 20 a call. `once`: no SDK
 * retries (the turn's writes: a throttled write is refused unapplied, and the protocol retries it
 * itself rather than let it land late).
 */
async function addTags(
  ctx: ReadContext,
  lbs: StandaloneLb[],
  key: string,
  value: (l: StandaloneLb) => string,
  once = false,
) {
  const elb = once ? ctx.clients.elbOnce : ctx.clients.elb;
  const elbv2 = once ? ctx.clients.elbv2Once : ctx.clients.elbv2;
  const byValue = new Map<string, string[]>();
  for (const l of lbs.filter((x) => x.lb.kind === "target-group"))
    byValue.set(value(l), [...(byValue.get(value(l)) ?? []), l.lb.id]);
  await allAnswered([
    ...lbs
      .filter((l) => l.lb.kind === "classic")
      .map((l) =>
        awsCall(ctx.log, "elasticloadbalancing:AddTags", ctx.signal, (o) =>
          elb.send(
            new ClassicAddTagsCommand({
              LoadBalancerNames: [l.lb.id],
              Tags: [{ Key: key, Value: value(l) }],
            }),
            o,
          ),
        ),
      ),
    ...[...byValue].flatMap(([v, arns]) =>
      batches(arns).map((batch) =>
        awsCall(ctx.log, "elasticloadbalancing:AddTags", ctx.signal, (o) =>
          elbv2.send(new AddTagsCommand({ ResourceArns: batch, Tags: [{ Key: key, Value: v }] }), o),
        ),
      ),
    ),
  ]);
}

async function removeTags(ctx: ReadContext, lbs: StandaloneLb[], key: string, signal = ctx.signal) {
  const names = classicNames(lbs);
  const arns = targetGroupArns(lbs);
  await Promise.all([
    ...batches(names).map((batch) =>
      awsCall(ctx.log, "elasticloadbalancing:RemoveTags", signal, (o) =>
        ctx.clients.elb.send(
          new ClassicRemoveTagsCommand({ LoadBalancerNames: batch, Tags: [{ Key: key }] }),
          o,
        ),
      ),
    ),
    ...batches(arns).map((batch) =>
      awsCall(ctx.log, "elasticloadbalancing:RemoveTags", signal, (o) =>
        ctx.clients.elbv2.send(new RemoveTagsCommand({ ResourceArns: batch, TagKeys: [key] }), o),
      ),
    ),
  ]);
}

/** The turn kept as `balanced:turn` on every one of these load balancers (see attemptTurn). */
export function lbTurnStore(lbs: StandaloneLb[]): TurnStore {
  return {
    async read(ctx) {
      const { tags, sentAt } = await readTags(ctx, classicNames(lbs), targetGroupArns(lbs));
      return { values: lbs.map((l) => tags.get(l.lb.id)?.[TURN_TAG]), attemptSentAt: sentAt };
    },
    write: (ctx, value) => addTags(ctx, lbs, TURN_TAG, () => value, true),
  };
}

/**
 * Gives the turn back on these load balancers, where the caller has seen it is ours (and no contender
 * writes over a live turn); its own short deadline, as for groups.
 */
export function releaseLbTurn(ctx: ReadContext, lbs: StandaloneLb[]): Promise<void> {
  return removeTags(ctx, lbs, TURN_TAG, AbortSignal.timeout(RELEASE_DEADLINE_MS));
}

/**
 * The turn on these load balancers' tags as a TurnLock. `confirm` takes the fresh values in the
 * order of `lbs` (then any load balancer found since): it is given back only where it was seen ours.
 */
export function lbTagLock(lbs: StandaloneLb[], stalenessMs: number): TurnLock {
  let heldOn: StandaloneLb[] = [];
  return {
    what: "the turn",
    view: async (ctx, values) => worstView(values, ctx.identity.instanceId),
    orphan: async (ctx, values) => orphanIn(values, ctx.identity.instanceId),
    take: (ctx) => attemptTurn(ctx, lbTurnStore(lbs), stalenessMs),
    confirm(turn, values) {
      heldOn = lbs.filter((_, i) => isMine(values[i], turn));
      const other = values.find((v) => !isMine(v, turn));
      if (other === undefined && values.length >= lbs.length) return { ok: true };
      return { ok: false, holder: parseTurn(other)?.holder ?? "another host" };
    },
    async fence(_ctx, turn) {
      if (canAct(turn)) return;
      heldOn = [];
      throw new TurnLostError("refusing: the turn ran out before this host could act; try again");
    },
    async release(ctx) {
      const on = heldOn;
      heldOn = [];
      if (on.length) await releaseLbTurn(ctx, on);
    },
    // Read again: the snapshot's tags may predate the orphan's write on some load balancers.
    async releaseOrphaned(ctx, turn) {
      const { values } = await lbTurnStore(lbs).read(ctx);
      const giveBack = orphansToGiveBack(values, ctx.identity.instanceId, turn, stalenessMs);
      await releaseLbTurn(
        ctx,
        lbs.filter((_, i) => giveBack[i]),
      );
    },
    ...tagTiming(lbTurnStore(lbs), stalenessMs),
  };
}

export const recordRemoval = (ctx: ReadContext, lbs: StandaloneLb[], value: (l: StandaloneLb) => string) =>
  addTags(ctx, lbs, outKey(ctx.identity.instanceId), value);

export const forgetRemoval = (ctx: ReadContext, lbs: StandaloneLb[]) =>
  removeTags(ctx, lbs, outKey(ctx.identity.instanceId));

/** One tag off one load balancer (`repair`: another host's record it will not remove itself). */
export const removeLbTag = (ctx: ReadContext, l: StandaloneLb, key: string) => removeTags(ctx, [l], key);

/**
 * The id this host has in a target group: its instance id, or for IP targets the private IP it is
 * registered under there (its primary one unless the target group lists a secondary one).
 */
const targetId = (ctx: ReadContext, l: StandaloneLb) =>
  l.lb.targetType === "ip"
    ? (l.selfIp ?? ctx.identity.privateIp ?? ctx.identity.instanceId)
    : ctx.identity.instanceId;

/**
 * This host as a target of `l`: once per port, or without one (the target group's own port); in
 * zone "all" when registering an IP outside the target group's VPC, which AWS requires.
 */
const targetsOf = (ctx: ReadContext, l: StandaloneLb, ports: number[], zone?: "all") =>
  (ports.length ? ports : [undefined]).map((Port) => ({
    Id: targetId(ctx, l),
    ...(Port !== undefined ? { Port } : {}),
    ...(zone ? { AvailabilityZone: zone } : {}),
  }));

export async function deregister(ctx: ReadContext, l: StandaloneLb, ports: number[]): Promise<void> {
  const id = ctx.identity.instanceId;
  if (l.lb.kind === "classic") {
    await awsCall(ctx.log, "elasticloadbalancing:DeregisterInstancesFromLoadBalancer", ctx.signal, (o) =>
      ctx.clients.elb.send(
        new DeregisterInstancesFromLoadBalancerCommand({
          LoadBalancerName: l.lb.id,
          Instances: [{ InstanceId: id }],
        }),
        o,
      ),
    );
    return;
  }
  // As AWS requires: a target registered with a port is deregistered with that port.
  await awsCall(ctx.log, "elasticloadbalancing:DeregisterTargets", ctx.signal, (o) =>
    ctx.clients.elbv2.send(
      new DeregisterTargetsCommand({
        TargetGroupArn: l.lb.id,
        Targets: targetsOf(ctx, l, ports),
      }),
      o,
    ),
  );
}

export async function register(
  ctx: ReadContext,
  l: StandaloneLb,
  ports: number[],
  zone?: "all",
): Promise<void> {
  const id = ctx.identity.instanceId;
  if (l.lb.kind === "classic") {
    await awsCall(ctx.log, "elasticloadbalancing:RegisterInstancesWithLoadBalancer", ctx.signal, (o) =>
      ctx.clients.elb.send(
        new RegisterInstancesWithLoadBalancerCommand({
          LoadBalancerName: l.lb.id,
          Instances: [{ InstanceId: id }],
        }),
        o,
      ),
    );
    return;
  }
  await awsCall(ctx.log, "elasticloadbalancing:RegisterTargets", ctx.signal, (o) =>
    ctx.clients.elbv2.send(
      new RegisterTargetsCommand({
        TargetGroupArn: l.lb.id,
        Targets: targetsOf(ctx, l, ports, zone),
      }),
      o,
    ),
  );
}
