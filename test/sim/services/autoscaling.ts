import { bool, num, str, strList, structList } from "../query";
import {
  type Activity,
  SimError,
  type SimGroup,
  type SimInstance,
  TERMINAL_ACTIVITY,
  validation,
  type World,
} from "../world";
import type { XmlObject } from "../xml";
import { type ActionHandler, type CallContext, iso, paginate } from "./common";

export const AUTOSCALING_XMLNS = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

const PROCESSES = [
  "Launch",
  "Terminate",
  "AddToLoadBalancer",
  "AlarmNotification",
  "AZRebalance",
  "HealthCheck",
  "InstanceRefresh",
  "ReplaceUnhealthy",
  "ScheduledActions",
];

const launchTemplate = {
  LaunchTemplateId: "lt-0a1b2c3d4e5f67890",
  LaunchTemplateName: "web",
  Version: "$Default",
};

const activityXml = (world: World, a: Activity): XmlObject => ({
  ActivityId: a.activityId,
  AutoScalingGroupName: a.groupName,
  Description: a.description,
  Cause: a.cause,
  StartTime: iso(a.startTime),
  EndTime: iso(a.endTime),
  StatusCode: a.statusCode,
  StatusMessage: a.statusMessage,
  Progress: a.progress,
  Details: a.details,
  AutoScalingGroupARN: world.groups.get(a.groupName)?.arn,
});

const groupInstanceXml = (i: SimInstance): XmlObject => ({
  InstanceId: i.id,
  InstanceType: i.instanceType,
  AvailabilityZone: i.az,
  LifecycleState: i.lifecycleState,
  HealthStatus: i.health,
  LaunchTemplate: launchTemplate,
  ProtectedFromScaleIn: i.protectedFromScaleIn,
});

const tagXml = (g: SimGroup, key: string, t: { value: string; propagate: boolean }): XmlObject => ({
  ResourceId: g.name,
  ResourceType: "auto-scaling-group",
  Key: key,
  Value: t.value,
  PropagateAtLaunch: t.propagate,
});

const groupXml = (world: World, g: SimGroup): XmlObject => ({
  AutoScalingGroupName: g.name,
  AutoScalingGroupARN: g.arn,
  LaunchTemplate: launchTemplate,
  MinSize: g.min,
  MaxSize: g.max,
  DesiredCapacity: g.desired,
  DefaultCooldown: 300,
  AvailabilityZones: g.availabilityZones,
  LoadBalancerNames: g.loadBalancerNames,
  TargetGroupARNs: g.targetGroupArns,
  HealthCheckType: g.healthCheckType,
  HealthCheckGracePeriod: g.gracePeriod,
  Instances: world.groupInstances(g).map(groupInstanceXml),
  CreatedTime: iso(g.createdTime),
  SuspendedProcesses: [...g.suspended].map(([ProcessName, SuspensionReason]) => ({
    ProcessName,
    SuspensionReason,
  })),
  VPCZoneIdentifier: "subnet-0abc1234,subnet-0def5678",
  EnabledMetrics: [],
  Tags: [...g.tags].map(([k, t]) => tagXml(g, k, t)),
  TerminationPolicies: ["Default"],
  NewInstancesProtectedFromScaleIn: false,
  ServiceLinkedRoleARN: `arn:aws:iam::${world.accountId}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`,
  CapacityRebalance: false,
  InstanceMaintenancePolicy: g.maintenancePolicy
    ? {
        MinHealthyPercentage: g.maintenancePolicy.minHealthyPercentage ?? -1,
        MaxHealthyPercentage: g.maintenancePolicy.maxHealthyPercentage ?? -1,
      }
    : undefined,
  TrafficSources: [
    ...g.loadBalancerNames.map((n) => ({ Identifier: n, Type: "elb" })),
    ...g.targetGroupArns.map((a) => ({ Identifier: a, Type: "elbv2" })),
  ],
});

const groupParam = (ctx: CallContext): SimGroup => {
  const name = str(ctx.params, "AutoScalingGroupName");
  if (!name)
    throw validation(
      "1 validation error detected: Value null at 'autoScalingGroupName' failed to satisfy constraint: Member must not be null",
    );
  return ctx.world.group(name);
};

const matchesTagFilters = (g: SimGroup, filters: { name: string; values: string[] }[]) =>
  filters.every(({ name, values }) => {
    if (name.startsWith("tag:")) {
      const t = g.tags.get(name.slice(4));
      return t !== undefined && values.includes(t.value);
    }
    if (name === "tag-key") return values.some((v) => g.tags.has(v));
    if (name === "tag-value") return [...g.tags.values()].some((t) => values.includes(t.value));
    throw validation(`Filter name ${name} is invalid.`);
  });

const filtersOf = (ctx: CallContext) =>
  structList(ctx.params, "Filters").map((f) => ({
    name: str(f, "Name") ?? "",
    values: strList(f, "Values"),
  }));

/**
 * The instance a lifecycle action call names (by InstanceId or LifecycleActionToken), which must be
 * waiting in that hook: otherwise AWS's ValidationError "No active Lifecycle Action found ...".
 */
function lifecycleActionOf(ctx: CallContext) {
  const group = groupParam(ctx);
  const hookName = str(ctx.params, "LifecycleHookName") ?? "";
  const id = str(ctx.params, "InstanceId");
  const token = str(ctx.params, "LifecycleActionToken");
  const inst = ctx.world
    .groupInstances(group)
    .find((i) => (id ? i.id === id : i.lifecycleAction?.token === token));
  if (!inst?.lifecycleAction || inst.lifecycleAction.hook.name !== hookName)
    throw validation(
      id
        ? `No active Lifecycle Action found with instance ID ${id}`
        : `No active Lifecycle Action found with token ${token ?? "null"}`,
    );
  return { group, inst };
}

export const autoscalingActions: Record<string, ActionHandler> = {
  DescribeAutoScalingInstances(ctx) {
    const ids = strList(ctx.params, "InstanceIds");
    const all = [...ctx.world.instances.values()].filter((i) => i.groupName !== undefined);
    const chosen = ids.length ? all.filter((i) => ids.includes(i.id)) : all;
    const { page, next } = paginate(chosen, ctx, {
      tokenParam: "NextToken",
      sizeParam: "MaxRecords",
      defaultSize: 50,
      maxSize: 50,
    });
    return {
      AutoScalingInstances: page.map((i) => ({
        InstanceId: i.id,
        InstanceType: i.instanceType,
        AutoScalingGroupName: i.groupName,
        AvailabilityZone: i.az,
        LifecycleState: i.lifecycleState,
        // AWS answers this one call in capitals ("HEALTHY"), unlike DescribeAutoScalingGroups.
        HealthStatus: i.health.toUpperCase(),
        LaunchTemplate: launchTemplate,
        ProtectedFromScaleIn: i.protectedFromScaleIn,
      })),
      NextToken: next,
    };
  },

  DescribeAutoScalingGroups(ctx) {
    const names = strList(ctx.params, "AutoScalingGroupNames");
    const filters = filtersOf(ctx);
    const chosen = [...ctx.world.groups.values()].filter(
      (g) => (names.length === 0 || names.includes(g.name)) && matchesTagFilters(g, filters),
    );
    const { page, next } = paginate(chosen, ctx, {
      tokenParam: "NextToken",
      sizeParam: "MaxRecords",
      defaultSize: 50,
      maxSize: 100,
    });
    return { AutoScalingGroups: page.map((g) => groupXml(ctx.world, g)), NextToken: next };
  },

  DescribeScalingActivities(ctx) {
    const name = str(ctx.params, "AutoScalingGroupName");
    const ids = strList(ctx.params, "ActivityIds");
    const groups = name ? [ctx.world.group(name)] : [...ctx.world.groups.values()];
    const activities = groups
      .flatMap((g) => g.activities)
      .filter((a) => ids.length === 0 || ids.includes(a.activityId))
      .sort((a, b) => b.startTime - a.startTime);
    const { page, next } = paginate(activities, ctx, {
      tokenParam: "NextToken",
      sizeParam: "MaxRecords",
      defaultSize: 100,
      maxSize: 100,
    });
    return { Activities: page.map((a) => activityXml(ctx.world, a)), NextToken: next };
  },

  DescribeInstanceRefreshes(ctx) {
    const g = groupParam(ctx);
    const ids = strList(ctx.params, "InstanceRefreshIds");
    const refreshes = g.refreshes
      .filter((r) => ids.length === 0 || ids.includes(r.id))
      .sort((a, b) => b.startTime - a.startTime);
    const { page, next } = paginate(refreshes, ctx, {
      tokenParam: "NextToken",
      sizeParam: "MaxRecords",
      defaultSize: 50,
      maxSize: 100,
    });
    return {
      InstanceRefreshes: page.map((r) => ({
        InstanceRefreshId: r.id,
        AutoScalingGroupName: r.groupName,
        Status: r.status,
        StartTime: iso(r.startTime),
        EndTime: iso(r.endTime),
        PercentageComplete: r.percentageComplete,
        InstancesToUpdate: 0,
      })),
      NextToken: next,
    };
  },

  DescribeTrafficSources(ctx) {
    const g = groupParam(ctx);
    const type = str(ctx.params, "TrafficSourceType");
    const sources = [
      ...g.loadBalancerNames.map((n) => ({ Identifier: n, Type: "elb" })),
      ...g.targetGroupArns.map((a) => ({ Identifier: a, Type: "elbv2" })),
    ].filter((s) => !type || s.Type === type);
    const { page, next } = paginate(sources, ctx, {
      tokenParam: "NextToken",
      sizeParam: "MaxRecords",
      defaultSize: 50,
      maxSize: 50,
    });
    return {
      TrafficSources: page.map((s) => ({
        TrafficSource: s.Identifier,
        State: "InService",
        Identifier: s.Identifier,
        Type: s.Type,
      })),
      NextToken: next,
    };
  },

  DescribeLoadBalancers(ctx) {
    const g = groupParam(ctx);
    const { page, next } = paginate(g.loadBalancerNames, ctx, {
      tokenParam: "NextToken",
      sizeParam: "MaxRecords",
      defaultSize: 100,
      maxSize: 100,
    });
    return { LoadBalancers: page.map((n) => ({ LoadBalancerName: n, State: "InService" })), NextToken: next };
  },

  DescribeLoadBalancerTargetGroups(ctx) {
    const g = groupParam(ctx);
    const { page, next } = paginate(g.targetGroupArns, ctx, {
      tokenParam: "NextToken",
      sizeParam: "MaxRecords",
      defaultSize: 100,
      maxSize: 100,
    });
    return {
      LoadBalancerTargetGroups: page.map((a) => ({ LoadBalancerTargetGroupARN: a, State: "InService" })),
      NextToken: next,
    };
  },

  EnterStandby(ctx) {
    const g = groupParam(ctx);
    const decrement = bool(ctx.params, "ShouldDecrementDesiredCapacity");
    if (decrement === undefined) {
      throw validation(
        "1 validation error detected: Value null at 'shouldDecrementDesiredCapacity' failed to satisfy constraint: Member must not be null",
      );
    }
    const activities = ctx.world.enterStandby(g, strList(ctx.params, "InstanceIds"), decrement);
    return { Activities: activities.map((a) => activityXml(ctx.world, a)) };
  },

  ExitStandby(ctx) {
    const g = groupParam(ctx);
    const activities = ctx.world.exitStandby(g, strList(ctx.params, "InstanceIds"));
    return { Activities: activities.map((a) => activityXml(ctx.world, a)) };
  },

  UpdateAutoScalingGroup(ctx) {
    const g = groupParam(ctx);
    ctx.world.updateGroup(g, {
      min: num(ctx.params, "MinSize"),
      max: num(ctx.params, "MaxSize"),
      desired: num(ctx.params, "DesiredCapacity"),
    });
    return undefined;
  },

  SetInstanceProtection(ctx) {
    const g = groupParam(ctx);
    const protect = bool(ctx.params, "ProtectedFromScaleIn");
    if (protect === undefined)
      throw validation(
        "1 validation error detected: Value null at 'protectedFromScaleIn' failed to satisfy constraint: Member must not be null",
      );
    for (const id of strList(ctx.params, "InstanceIds")) {
      const inst = ctx.world.instances.get(id);
      if (!inst || inst.groupName !== g.name)
        throw validation(`The instance ${id} is not part of Auto Scaling group ${g.name}.`);
      inst.protectedFromScaleIn = protect;
    }
    return {};
  },

  CreateOrUpdateTags(ctx) {
    for (const t of structList(ctx.params, "Tags")) {
      const g = ctx.world.group(str(t, "ResourceId") ?? "");
      const key = str(t, "Key") ?? "";
      const value = str(t, "Value") ?? "";
      if (key.length < 1 || key.length > 128)
        throw validation("Tag key must be between 1 and 128 characters");
      if (value.length > 256) throw validation("Tag value must be at most 256 characters");
      if (key.startsWith("aws:"))
        throw validation("Tag keys starting with 'aws:' are reserved for internal use");
      if (!g.tags.has(key) && g.tags.size >= 50)
        throw new SimError(
          "LimitExceeded",
          "You have exceeded the maximum number of tags (50) for this Auto Scaling group.",
        );
      g.tags.set(key, { value, propagate: bool(t, "PropagateAtLaunch") ?? false });
    }
    return undefined;
  },

  DeleteTags(ctx) {
    for (const t of structList(ctx.params, "Tags")) {
      const g = ctx.world.group(str(t, "ResourceId") ?? "");
      // AWS's guide (autoscaling/ec2/userguide/delete-tag.html): "You must specify the tag key, but
      // you don't have to specify the value. If you specify a value and the value is incorrect, the
      // tag is not deleted." A Value sent empty is a value: it deletes only a tag whose value is "".
      // (moto deletes by key whatever the value; AWS's documentation wins.) The agent's turn still
      // assumes no more than a delete by key: this check is evaluated here, on the current value.
      const key = str(t, "Key") ?? "";
      const value = str(t, "Value");
      if (value !== undefined && g.tags.get(key)?.value !== value) continue;
      g.tags.delete(key);
    }
    return undefined;
  },

  DescribeTags(ctx) {
    const filters = filtersOf(ctx);
    const tags = [...ctx.world.groups.values()]
      .flatMap((g) => [...g.tags].map(([k, t]) => ({ g, k, t })))
      .filter(({ g, k, t }) =>
        filters.every(({ name, values }) => {
          switch (name) {
            case "auto-scaling-group":
              return values.includes(g.name);
            case "key":
              return values.includes(k);
            case "value":
              return values.includes(t.value);
            case "propagate-at-launch":
              return values.includes(String(t.propagate));
            default:
              throw validation(`Filter name ${name} is invalid.`);
          }
        }),
      );
    const { page, next } = paginate(tags, ctx, {
      tokenParam: "NextToken",
      sizeParam: "MaxRecords",
      defaultSize: 100,
      maxSize: 100,
    });
    return { Tags: page.map(({ g, k, t }) => tagXml(g, k, t)), NextToken: next };
  },

  DescribeLifecycleHooks(ctx) {
    const group = groupParam(ctx);
    const names = strList(ctx.params, "LifecycleHookNames");
    return {
      LifecycleHooks: group.lifecycleHooks
        .filter((h) => names.length === 0 || names.includes(h.name))
        .map((h) => ({
          LifecycleHookName: h.name,
          AutoScalingGroupName: group.name,
          LifecycleTransition: h.transition,
          HeartbeatTimeout: h.heartbeatTimeout,
          GlobalTimeout: h.globalTimeout,
          DefaultResult: h.defaultResult,
        })),
    };
  },

  CompleteLifecycleAction(ctx) {
    const { inst } = lifecycleActionOf(ctx);
    const result = str(ctx.params, "LifecycleActionResult");
    if (result !== "CONTINUE" && result !== "ABANDON")
      throw validation(
        `Invalid LifecycleActionResult: ${result ?? "null"}. Valid values are CONTINUE and ABANDON.`,
      );
    inst.lifecycleAction!.finish(result);
    return {};
  },

  RecordLifecycleActionHeartbeat(ctx) {
    const { inst } = lifecycleActionOf(ctx);
    ctx.world.heartbeat(inst);
    return {};
  },

  SuspendProcesses(ctx) {
    const g = groupParam(ctx);
    const names = strList(ctx.params, "ScalingProcesses");
    for (const p of names.length ? names : PROCESSES) {
      if (!PROCESSES.includes(p)) throw validation(`Process name ${p} is not a valid scaling process.`);
      g.suspended.set(p, `User suspended at ${new Date(ctx.world.clock.now()).toISOString()}`);
    }
    return undefined;
  },

  ResumeProcesses(ctx) {
    const g = groupParam(ctx);
    const names = strList(ctx.params, "ScalingProcesses");
    for (const p of names.length ? names : PROCESSES) g.suspended.delete(p);
    if (!g.suspended.has("Launch")) ctx.world.fillCapacity(g);
    return undefined;
  },
};

export const isInProgress = (a: Activity) => !TERMINAL_ACTIVITY.has(a.statusCode);
