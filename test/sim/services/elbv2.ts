import { num, str, strList, structList } from "../query";
import { inVpc, SimError, type TargetGroup, type TgTarget, VPC_CIDR } from "../world";
import type { XmlObject } from "../xml";
import { type ActionHandler, addLoadBalancerTags, type CallContext, MAX_TAGS, paginate } from "./common";

export const ELBV2_XMLNS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

const DESCRIPTIONS: Record<string, string> = {
  "Elb.RegistrationInProgress": "Target registration is in progress",
  "Elb.InitialHealthChecking": "Initial health checks in progress",
  "Target.FailedHealthChecks": "Health checks failed",
  "Target.DeregistrationInProgress": "Target deregistration is in progress",
  "Target.NotInUse": "Target group is not configured to receive traffic from the load balancer",
  "Target.HealthCheckDisabled": "Health checks disabled",
  "Elb.InternalError": "Target health is unavailable due to an internal error",
  "Target.NotRegistered": "Target is not registered to the target group",
};

const tgParam = (ctx: CallContext): TargetGroup => {
  const arn = str(ctx.params, "TargetGroupArn") ?? "";
  const tg = ctx.world.targetGroups.get(arn);
  if (!tg) throw new SimError("TargetGroupNotFound", `Target groups '${arn}' not found`);
  return tg;
};

const targetsParam = (ctx: CallContext, tg: TargetGroup, registering = false) =>
  structList(ctx.params, "Targets").map((t) => {
    const id = str(t, "Id") ?? "";
    if (tg.targetType === "instance") {
      const inst = ctx.world.instances.get(id);
      if (!inst || inst.ec2State === "terminated") {
        throw new SimError("InvalidTarget", `The following targets are not valid instances: '${id}'`);
      }
    }
    // TargetDescription.AvailabilityZone (ELBv2 API reference): "If the IP address is outside the
    // VPC, this parameter is required", and with an Application Load Balancer it can only be "all".
    if (registering && tg.targetType === "ip" && !inVpc(id) && str(t, "AvailabilityZone") !== "all")
      throw new SimError(
        "ValidationError",
        `The IP address '${id}' is outside the VPC ${VPC_CIDR}: its Availability Zone must be 'all'`,
      );
    return { id, port: num(t, "Port") };
  });

const healthXml = (
  tg: TargetGroup,
  t: Pick<TgTarget, "id" | "port" | "state" | "reason"> & { az?: string },
): XmlObject => ({
  Target: { Id: t.id, Port: t.port, AvailabilityZone: tg.targetType === "ip" ? t.az : undefined },
  HealthCheckPort: String(tg.port),
  TargetHealth: {
    State: t.state,
    Reason: t.reason,
    Description: t.reason ? DESCRIPTIONS[t.reason] : undefined,
  },
});

const tgXml = (tg: TargetGroup): XmlObject => ({
  TargetGroupArn: tg.arn,
  TargetGroupName: tg.name,
  Protocol: tg.protocol,
  Port: tg.port,
  VpcId: "vpc-0abc1234",
  HealthCheckProtocol: tg.protocol,
  HealthCheckPort: "traffic-port",
  HealthCheckEnabled: tg.healthCheck.enabled,
  HealthCheckIntervalSeconds: tg.healthCheck.interval,
  HealthCheckTimeoutSeconds: tg.healthCheck.timeout,
  HealthyThresholdCount: tg.healthCheck.healthyThreshold,
  UnhealthyThresholdCount: tg.healthCheck.unhealthyThreshold,
  HealthCheckPath: tg.healthCheck.path,
  Matcher: { HttpCode: "200" },
  LoadBalancerArns: tg.loadBalancerArns,
  TargetType: tg.targetType,
  ProtocolVersion: "HTTP1",
  IpAddressType: "ipv4",
});

export const elbv2Actions: Record<string, ActionHandler> = {
  DescribeTargetHealth(ctx) {
    const tg = tgParam(ctx);
    const asked = targetsParam(ctx, tg);
    // The fault `unavailable-health`: AWS cannot tell this target's health (TargetHealth, reason
    // Elb.InternalError). Health checks themselves cannot be disabled for instance or ip targets.
    const seen = (t: TgTarget): TgTarget =>
      t.state !== "unused" &&
      ctx.faults?.healthUnavailable(tg.name, ctx.world.instanceForTarget(tg, t.id)?.id)
        ? { ...t, state: "unavailable", reason: "Elb.InternalError" }
        : t;
    const rows = asked.length
      ? asked.flatMap(({ id, port }) => {
          const registered = [...tg.targets.values()].filter(
            (t) => t.id === id && (port === undefined || t.port === port),
          );
          if (registered.length) return registered.map((t) => healthXml(tg, seen(t)));
          return [
            healthXml(tg, { id, port: port ?? tg.port, state: "unused", reason: "Target.NotRegistered" }),
          ];
        })
      : [...tg.targets.values()].map((t) => healthXml(tg, seen(t)));
    return { TargetHealthDescriptions: rows };
  },

  DescribeTargetGroups(ctx) {
    const arns = strList(ctx.params, "TargetGroupArns");
    const names = strList(ctx.params, "Names");
    const lbArn = str(ctx.params, "LoadBalancerArn");
    for (const a of arns) {
      if (!ctx.world.targetGroups.has(a))
        throw new SimError("TargetGroupNotFound", `Target groups '${a}' not found`);
    }
    const chosen = [...ctx.world.targetGroups.values()].filter(
      (tg) =>
        (arns.length === 0 || arns.includes(tg.arn)) &&
        (names.length === 0 || names.includes(tg.name)) &&
        (!lbArn || tg.loadBalancerArns.includes(lbArn)),
    );
    if (names.length && chosen.length < names.length) {
      throw new SimError("TargetGroupNotFound", `One or more target groups not found`);
    }
    const { page, next } = paginate(chosen, ctx, {
      tokenParam: "Marker",
      sizeParam: "PageSize",
      defaultSize: 400,
      maxSize: 400,
    });
    return { TargetGroups: page.map(tgXml), NextMarker: next };
  },

  DescribeTargetGroupAttributes(ctx) {
    const tg = tgParam(ctx);
    return {
      Attributes: [
        { Key: "deregistration_delay.timeout_seconds", Value: String(tg.deregistrationDelay) },
        { Key: "stickiness.enabled", Value: "false" },
        { Key: "deregistration_delay.connection_termination.enabled", Value: "false" },
        { Key: "load_balancing.algorithm.type", Value: "round_robin" },
        { Key: "slow_start.duration_seconds", Value: "0" },
      ],
    };
  },

  RegisterTargets(ctx) {
    const tg = tgParam(ctx);
    for (const { id, port } of targetsParam(ctx, tg, true)) {
      ctx.world.tgRegister(tg, ctx.world.instanceForTarget(tg, id), id, port ?? tg.port);
    }
    return {};
  },

  DeregisterTargets(ctx) {
    const tg = tgParam(ctx);
    for (const { id, port } of targetsParam(ctx, tg)) {
      const p = port ?? tg.port;
      // As AWS: a target registered with a port must be deregistered with that port.
      if (!tg.targets.has(`${id}:${p}`)) {
        throw new SimError(
          "InvalidTarget",
          `The following targets are not registered in target group: '${id}:${p}'`,
        );
      }
      ctx.world.tgDeregister(tg, id, p);
    }
    return {};
  },

  DescribeTags(ctx) {
    const arns = strList(ctx.params, "ResourceArns");
    return {
      TagDescriptions: arns.map((arn) => {
        const tg = ctx.world.targetGroups.get(arn);
        if (!tg) throw new SimError("TargetGroupNotFound", `Target groups '${arn}' not found`);
        return { ResourceArn: arn, Tags: [...tg.tags].map(([Key, Value]) => ({ Key, Value })) };
      }),
    };
  },

  AddTags(ctx) {
    for (const arn of strList(ctx.params, "ResourceArns")) {
      const tg = ctx.world.targetGroups.get(arn);
      if (!tg) throw new SimError("TargetGroupNotFound", `Target groups '${arn}' not found`);
      addLoadBalancerTags(
        tg.tags,
        structList(ctx.params, "Tags").map((t) => ({
          Key: str(t, "Key") ?? "",
          Value: str(t, "Value") ?? "",
        })),
        MAX_TAGS.elbv2,
      );
    }
    return {};
  },

  RemoveTags(ctx) {
    for (const arn of strList(ctx.params, "ResourceArns")) {
      const tg = ctx.world.targetGroups.get(arn);
      if (!tg) throw new SimError("TargetGroupNotFound", `Target groups '${arn}' not found`);
      for (const k of strList(ctx.params, "TagKeys")) tg.tags.delete(k);
    }
    return {};
  },
};
