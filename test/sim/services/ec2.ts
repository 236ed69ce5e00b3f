import { str, strList, structList } from "../query";
import { SimError, type SimInstance } from "../world";
import type { XmlObject } from "../xml";
import { type ActionHandler, type CallContext, iso, paginate } from "./common";

export const EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/";

const STATE_CODES: Record<SimInstance["ec2State"], number> = {
  pending: 0,
  running: 16,
  "shutting-down": 32,
  terminated: 48,
};

const stateXml = (i: SimInstance) => ({ code: STATE_CODES[i.ec2State], name: i.ec2State });

const chooseInstances = (ctx: CallContext): SimInstance[] => {
  const ids = strList(ctx.params, "InstanceId");
  for (const id of ids) {
    if (!ctx.world.instances.has(id))
      throw new SimError("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
  }
  const filters = structList(ctx.params, "Filter").map((f) => ({
    name: str(f, "Name") ?? "",
    values: strList(f, "Value"),
  }));
  // EC2 refuses more than 200 filter values in one call (EC2 API reference, Filter; the error it
  // answers is FilterLimitExceeded).
  const values = filters.reduce((n, f) => n + f.values.length, 0);
  if (values > 200)
    throw new SimError(
      "FilterLimitExceeded",
      "The maximum number of filter values specified on a single call is 200",
    );
  return [...ctx.world.instances.values()].filter(
    (i) =>
      (ids.length === 0 || ids.includes(i.id)) &&
      filters.every(({ name, values }) => {
        if (name === "instance-id") return values.includes(i.id);
        if (name === "instance-state-name") return values.includes(i.ec2State);
        if (name === "private-ip-address") return values.includes(i.privateIp);
        if (name.startsWith("tag:")) return values.includes(i.tags.get(name.slice(4)) ?? "\u0000");
        throw new SimError("InvalidParameterValue", `The filter '${name}' is invalid`);
      }),
  );
};

const instanceXml = (i: SimInstance): XmlObject => ({
  instanceId: i.id,
  imageId: "ami-0abcdef1234567890",
  instanceState: stateXml(i),
  privateDnsName: `ip-${i.privateIp.replace(/\./g, "-")}.ec2.internal`,
  dnsName: "",
  instanceType: i.instanceType,
  launchTime: iso(i.launchTime),
  placement: { availabilityZone: i.az, tenancy: "default" },
  privateIpAddress: i.privateIp,
  subnetId: "subnet-0abc1234",
  vpcId: "vpc-0abc1234",
  architecture: "x86_64",
  metadataOptions: {
    state: "applied",
    httpTokens: i.imdsTokensRequired ? "required" : "optional",
    httpEndpoint: "enabled",
  },
  tagSet: [...i.tags].map(([key, value]) => ({ key, value })),
});

export const ec2Actions: Record<string, ActionHandler> = {
  DescribeInstances(ctx) {
    const chosen = chooseInstances(ctx);
    const { page, next } = paginate(chosen, ctx, {
      tokenParam: "NextToken",
      sizeParam: "MaxResults",
      defaultSize: 1000,
      maxSize: 1000,
    });
    return {
      reservationSet: page.map((i) => ({
        reservationId: `r-0${i.id.slice(3, 19)}`,
        ownerId: ctx.world.accountId,
        groupSet: [],
        instancesSet: [instanceXml(i)],
      })),
      nextToken: next,
    };
  },

  DescribeInstanceStatus(ctx) {
    const includeAll = str(ctx.params, "IncludeAllInstances") === "true";
    const chosen = chooseInstances(ctx).filter((i) => includeAll || i.ec2State === "running");
    const { page, next } = paginate(chosen, ctx, {
      tokenParam: "NextToken",
      sizeParam: "MaxResults",
      defaultSize: 1000,
      maxSize: 1000,
    });
    const ok = { status: "ok", details: [{ name: "reachability", status: "passed" }] };
    return {
      instanceStatusSet: page.map((i) => ({
        instanceId: i.id,
        availabilityZone: i.az,
        instanceState: stateXml(i),
        systemStatus: i.ec2State === "running" ? ok : { status: "not-applicable" },
        instanceStatus: i.ec2State === "running" ? ok : { status: "not-applicable" },
      })),
      nextToken: next,
    };
  },
};
