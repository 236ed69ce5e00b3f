import { str, strList, structList } from "../query";
import { type ClassicLb, SimError, type World } from "../world";
import type { XmlObject } from "../xml";
import { type ActionHandler, addLoadBalancerTags, type CallContext, iso, MAX_TAGS, paginate } from "./common";

export const ELB_XMLNS = "http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/";

const lbParam = (ctx: CallContext): ClassicLb => {
  const name = str(ctx.params, "LoadBalancerName") ?? "";
  const lb = ctx.world.classicLbs.get(name);
  if (!lb) throw new SimError("LoadBalancerNotFound", `There is no ACTIVE Load Balancer named '${name}'`);
  return lb;
};

const instanceIds = (ctx: CallContext) =>
  structList(ctx.params, "Instances").map((i) => str(i, "InstanceId") ?? "");

const checkInstancesExist = (world: World, ids: string[]) => {
  for (const id of ids) {
    const inst = world.instances.get(id);
    if (!inst || inst.ec2State === "terminated")
      throw new SimError("InvalidInstance", `Could not find EC2 instance ${id}.`);
  }
};

/** What DescribeInstanceHealth says of one instance, in AWS's words. */
function instanceState(world: World, lb: ClassicLb, id: string): XmlObject {
  const reg = lb.registrations.get(id);
  const row = (State: string, ReasonCode: string, Description: string) => ({
    InstanceId: id,
    State,
    ReasonCode,
    Description,
  });
  if (!reg) return row("OutOfService", "ELB", "Instance is not currently registered with the LoadBalancer.");
  switch (reg.state) {
    case "registering":
      return row("OutOfService", "ELB", "Instance registration is still in progress.");
    case "deregistering":
      return row("InService", "N/A", "Instance deregistration currently in progress.");
    case "InService":
      return row("InService", "N/A", "N/A");
    case "OutOfService":
      return row(
        "OutOfService",
        "Instance",
        "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.",
      );
    case "outside-zones":
      // The ELB API reference's InstanceState lists this wording.
      return row(
        "OutOfService",
        "ELB",
        "Instance is in the EC2 Availability Zone for which LoadBalancer is not configured to route traffic to.",
      );
  }
  void world;
}

const lbDescription = (world: World, lb: ClassicLb): XmlObject => ({
  LoadBalancerName: lb.name,
  DNSName: `${lb.name}-1234567890.${world.region}.elb.amazonaws.com`,
  CanonicalHostedZoneNameID: "Z35SXDOTRQ7X7K",
  ListenerDescriptions: [
    {
      Listener: { Protocol: "HTTP", LoadBalancerPort: 80, InstanceProtocol: "HTTP", InstancePort: 80 },
      PolicyNames: [],
    },
  ],
  Policies: { AppCookieStickinessPolicies: [], LBCookieStickinessPolicies: [], OtherPolicies: [] },
  BackendServerDescriptions: [],
  AvailabilityZones: lb.availabilityZones,
  Subnets: [],
  VPCId: "vpc-0abc1234",
  Instances: [...lb.registrations.keys()].map((InstanceId) => ({ InstanceId })),
  HealthCheck: {
    Target: lb.healthCheck.target,
    Interval: lb.healthCheck.interval,
    Timeout: lb.healthCheck.timeout,
    UnhealthyThreshold: lb.healthCheck.unhealthyThreshold,
    HealthyThreshold: lb.healthCheck.healthyThreshold,
  },
  SourceSecurityGroup: { OwnerAlias: world.accountId, GroupName: "default" },
  SecurityGroups: ["sg-0abc1234"],
  CreatedTime: iso(lb.createdTime),
  Scheme: "internet-facing",
});

const tagsOf = (lb: ClassicLb) => [...lb.tags].map(([Key, Value]) => ({ Key, Value }));

export const elbActions: Record<string, ActionHandler> = {
  DescribeLoadBalancers(ctx) {
    const names = strList(ctx.params, "LoadBalancerNames");
    for (const n of names) {
      if (!ctx.world.classicLbs.has(n))
        throw new SimError("LoadBalancerNotFound", `There is no ACTIVE Load Balancer named '${n}'`);
    }
    const chosen = [...ctx.world.classicLbs.values()].filter(
      (lb) => names.length === 0 || names.includes(lb.name),
    );
    const { page, next } = paginate(chosen, ctx, {
      tokenParam: "Marker",
      sizeParam: "PageSize",
      defaultSize: 400,
      maxSize: 400,
    });
    return { LoadBalancerDescriptions: page.map((lb) => lbDescription(ctx.world, lb)), NextMarker: next };
  },

  DescribeInstanceHealth(ctx) {
    const lb = lbParam(ctx);
    const ids = instanceIds(ctx);
    checkInstancesExist(ctx.world, ids);
    const chosen = ids.length ? ids : [...lb.registrations.keys()];
    return { InstanceStates: chosen.map((id) => instanceState(ctx.world, lb, id)) };
  },

  DescribeLoadBalancerAttributes(ctx) {
    const lb = lbParam(ctx);
    return {
      LoadBalancerAttributes: {
        CrossZoneLoadBalancing: { Enabled: true },
        AccessLog: { Enabled: false },
        ConnectionDraining: { Enabled: lb.draining.enabled, Timeout: lb.draining.timeout },
        ConnectionSettings: { IdleTimeout: 60 },
        AdditionalAttributes: [],
      },
    };
  },

  RegisterInstancesWithLoadBalancer(ctx) {
    const lb = lbParam(ctx);
    const ids = instanceIds(ctx);
    checkInstancesExist(ctx.world, ids);
    for (const id of ids) ctx.world.classicRegister(lb, ctx.world.instances.get(id)!);
    return { Instances: [...lb.registrations.keys()].map((InstanceId) => ({ InstanceId })) };
  },

  DeregisterInstancesFromLoadBalancer(ctx) {
    const lb = lbParam(ctx);
    const ids = instanceIds(ctx);
    checkInstancesExist(ctx.world, ids);
    for (const id of ids) ctx.world.classicDeregister(lb, ctx.world.instances.get(id)!);
    const remaining = [...lb.registrations]
      .filter(([, r]) => r.state !== "deregistering")
      .map(([InstanceId]) => ({ InstanceId }));
    return { Instances: remaining };
  },

  DescribeTags(ctx) {
    const names = strList(ctx.params, "LoadBalancerNames");
    return {
      TagDescriptions: names.map((n) => {
        const lb = ctx.world.classicLbs.get(n);
        if (!lb) throw new SimError("LoadBalancerNotFound", `There is no ACTIVE Load Balancer named '${n}'`);
        return { LoadBalancerName: n, Tags: tagsOf(lb) };
      }),
    };
  },

  AddTags(ctx) {
    for (const n of strList(ctx.params, "LoadBalancerNames")) {
      const lb = ctx.world.classicLbs.get(n);
      if (!lb) throw new SimError("LoadBalancerNotFound", `There is no ACTIVE Load Balancer named '${n}'`);
      addLoadBalancerTags(
        lb.tags,
        structList(ctx.params, "Tags").map((t) => ({
          Key: str(t, "Key") ?? "",
          Value: str(t, "Value") ?? "",
        })),
        MAX_TAGS.classic,
      );
    }
    return {};
  },

  RemoveTags(ctx) {
    for (const n of strList(ctx.params, "LoadBalancerNames")) {
      const lb = ctx.world.classicLbs.get(n);
      if (!lb) throw new SimError("LoadBalancerNotFound", `There is no ACTIVE Load Balancer named '${n}'`);
      for (const t of structList(ctx.params, "Tags")) lb.tags.delete(str(t, "Key") ?? "");
    }
    return {};
  },
};
