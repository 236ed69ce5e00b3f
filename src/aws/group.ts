import {
  CompleteLifecycleActionCommand,
  CreateOrUpdateTagsCommand,
  DeleteTagsCommand,
  DescribeLifecycleHooksCommand,
  EnterStandbyCommand,
  ExitStandbyCommand,
  type LifecycleHook,
  RecordLifecycleActionHeartbeatCommand,
  UpdateAutoScalingGroupCommand,
} from "@aws-sdk/client-auto-scaling";
import { awsCall } from "./clients";
import type { ReadContext } from "./read";

/**
 * The Auto Scaling group's writes, for this host: Standby and back, its tags, MinSize, and its
 * lifecycle hooks. Each is one call; what to write, when, and under which turn is the caller's.
 */

/** Sent once (the no-retry client): the caller re-reads on an error or a lost answer. */
export const enterStandby = (ctx: ReadContext, group: string, decrement: boolean, signal = ctx.signal) =>
  awsCall(ctx.log, "autoscaling:EnterStandby", signal, (o) =>
    ctx.clients.autoscalingOnce.send(
      new EnterStandbyCommand({
        AutoScalingGroupName: group,
        InstanceIds: [ctx.identity.instanceId],
        ShouldDecrementDesiredCapacity: decrement,
      }),
      o,
    ),
  );

/** Sent once, as EnterStandby. */
export const exitStandby = (ctx: ReadContext, group: string, signal = ctx.signal) =>
  awsCall(ctx.log, "autoscaling:ExitStandby", signal, (o) =>
    ctx.clients.autoscalingOnce.send(
      new ExitStandbyCommand({ AutoScalingGroupName: group, InstanceIds: [ctx.identity.instanceId] }),
      o,
    ),
  );

export async function setGroupTag(
  ctx: ReadContext,
  group: string,
  key: string,
  value: string,
  signal = ctx.signal,
): Promise<void> {
  await awsCall(ctx.log, "autoscaling:CreateOrUpdateTags", signal, (o) =>
    ctx.clients.autoscaling.send(new CreateOrUpdateTagsCommand({ Tags: [tagOf(group, key, value)] }), o),
  );
}

/**
 * DeleteTags. With no `value` the tag goes whatever its value; with one, AWS deletes it only if that
 * is still its value ("If you specify a value and the value is incorrect, the tag is not deleted",
 * Auto Scaling user guide, delete-tag.html). So a record is deleted with no Value at all: an empty
 * one would match nothing and leave the record behind. The turn passes its own value, but does not
 * rely on the comparison for safety (turn.ts assumes a delete by key, the weaker promise).
 */
export async function deleteGroupTag(
  ctx: ReadContext,
  group: string,
  key: string,
  signal = ctx.signal,
  value?: string,
): Promise<void> {
  const tag = { ResourceId: group, ResourceType: "auto-scaling-group", Key: key, Value: value };
  await awsCall(ctx.log, "autoscaling:DeleteTags", signal, (o) =>
    ctx.clients.autoscaling.send(new DeleteTagsCommand({ Tags: [tag] }), o),
  );
}

const tagOf = (group: string, Key: string, Value: string) => ({
  ResourceId: group,
  ResourceType: "auto-scaling-group",
  Key,
  Value,
  PropagateAtLaunch: false,
});

export async function setMinSize(ctx: ReadContext, group: string, minSize: number): Promise<void> {
  await awsCall(ctx.log, "autoscaling:UpdateAutoScalingGroup", ctx.signal, (o) =>
    ctx.clients.autoscaling.send(
      new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: group, MinSize: minSize }),
      o,
    ),
  );
}

/** The group's hook for a transition, if it has one. */
export async function hookFor(
  ctx: ReadContext,
  group: string,
  transition: "autoscaling:EC2_INSTANCE_LAUNCHING" | "autoscaling:EC2_INSTANCE_TERMINATING",
): Promise<LifecycleHook | undefined> {
  const res = await awsCall(ctx.log, "autoscaling:DescribeLifecycleHooks", ctx.signal, (o) =>
    ctx.clients.autoscaling.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: group }), o),
  );
  return res.LifecycleHooks?.find((h) => h.LifecycleTransition === transition);
}

export const completeLifecycleAction = (
  ctx: ReadContext,
  group: string,
  hook: string,
  result: "CONTINUE" | "ABANDON",
) =>
  awsCall(ctx.log, "autoscaling:CompleteLifecycleAction", ctx.signal, (o) =>
    ctx.clients.autoscaling.send(
      new CompleteLifecycleActionCommand({
        AutoScalingGroupName: group,
        LifecycleHookName: hook,
        InstanceId: ctx.identity.instanceId,
        LifecycleActionResult: result,
      }),
      o,
    ),
  );

export const recordLifecycleActionHeartbeat = (ctx: ReadContext, group: string, hook: string) =>
  awsCall(ctx.log, "autoscaling:RecordLifecycleActionHeartbeat", ctx.signal, (o) =>
    ctx.clients.autoscaling.send(
      new RecordLifecycleActionHeartbeatCommand({
        AutoScalingGroupName: group,
        LifecycleHookName: hook,
        InstanceId: ctx.identity.instanceId,
      }),
      o,
    ),
  );
