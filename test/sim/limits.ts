import type { Service } from "./faults";
import type { QueryTree } from "./query";

/**
 * How many values AWS takes in one request's list, per action and member, as its API references
 * state them (botocore's service-2.json carries each: a `max` on the list shape, or the member's
 * documentation: "You can specify up to 20 instances", "Maximum number of 50 items"). AWS checks
 * these before anything else; the conformance test (test/conformance) probes every one it finds in
 * the models against this table. Page sizes are checked where each action pages (paginate).
 */
const COUNT_LIMITS: Partial<Record<Service, Record<string, Record<string, number>>>> = {
  autoscaling: {
    DescribeAutoScalingInstances: { InstanceIds: 50 },
    // "By default, you can only specify up to 50 names. You can optionally increase this limit
    // using the MaxRecords property."
    DescribeAutoScalingGroups: { AutoScalingGroupNames: 50 },
    DescribeScalingActivities: { ActivityIds: 50 },
    EnterStandby: { InstanceIds: 20 },
    ExitStandby: { InstanceIds: 20 },
    SetInstanceProtection: { InstanceIds: 50 },
    DescribeLifecycleHooks: { LifecycleHookNames: 50 },
  },
  elb: {
    DescribeTags: { LoadBalancerNames: 20 },
    // "You can specify a maximum of one load balancer name."
    RemoveTags: { LoadBalancerNames: 1 },
  },
  elbv2: {
    DescribeTags: { ResourceArns: 20 },
  },
  ec2: {
    // "Constraints: Maximum 100 explicitly specified instance IDs."
    DescribeInstanceStatus: { InstanceId: 100 },
  },
};

/** The query protocol's validation message names a member in lowerCamel, as AWS's do. */
const lowerCamel = (s: string) => s[0]!.toLowerCase() + s.slice(1);

/** Why AWS would refuse this request's list sizes before looking at it, or undefined. */
export function overLimit(
  service: Service,
  action: string,
  params: QueryTree,
): { code: string; message: string } | undefined {
  for (const [member, limit] of Object.entries(COUNT_LIMITS[service]?.[action] ?? {})) {
    const list = params[member];
    if (!Array.isArray(list)) continue;
    const max =
      action === "DescribeAutoScalingGroups" ? Math.max(limit, Number(params.MaxRecords ?? 0)) : limit;
    if (list.length <= max) continue;
    if (service === "ec2")
      // EC2 documents the limit but not its answer: the code it documents for a value out of range.
      return { code: "InvalidParameterValue", message: `The maximum number of ${member} values is ${max}.` };
    return {
      code: "ValidationError",
      message: `1 validation error detected: Value '[${list.join(", ")}]' at '${lowerCamel(member)}' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
    };
  }
  return undefined;
}
