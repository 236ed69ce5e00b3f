/**
 * The snapshot: everything the decision needs, read from AWS in one pass and then treated as plain
 * data. Nothing in src/core does I/O.
 */

/** How one load balancer sees one instance, normalised across classic ELBs and target groups. */
export type MemberState =
  | "healthy"
  | "registering"
  | "unhealthy"
  | "draining"
  /** Not registered: the end state of a deregistration. */
  | "absent"
  /** Registered in a target group that no load balancer uses (Target.NotInUse). */
  | "not-in-use"
  /** Registered in a target group with health checks disabled. */
  | "unavailable";

export interface MemberHealth {
  state: MemberState;
  /** AWS's own words (reason code and description), for humans. */
  detail: string;
  /**
   * A state no wait will change, only a change to the load balancer (a zone it does not route to):
   * `in` fails at once, naming it, instead of waiting for a deadline and blaming the application.
   */
  stuck?: string;
}

export interface LoadBalancerView {
  kind: "classic" | "target-group";
  /** Classic ELB name, or target group name. */
  name: string;
  /** Target group ARN; the classic ELB's name again. */
  id: string;
  /** The group's own (from the group), or named on the command line (--target-group/--load-balancer). */
  source: "group" | "named";
  /** Seconds a deregistration can take: connection draining timeout (0 when off) or deregistration delay. */
  drainSeconds: number;
  healthCheckIntervalSeconds: number;
  healthyThreshold: number;
  healthChecksEnabled: boolean;
  /** Some load balancer routes to it (classic ELBs always; a target group only once attached to one). */
  routed?: boolean;
  /** Target groups: the id the group registers this host under (instance id, or private IP for ip targets). */
  targetType: "instance" | "ip";
  port: number | undefined;
  /** Each instance's state in this load balancer, by instance id. */
  members: Record<string, MemberHealth>;
  /**
   * A load balancer named on the command line that the group does not manage: the ports balanced
   * took this host out of it on (its `balanced:out:<instance>` record there), so `in` puts it back.
   */
  removedPorts?: number[];
  /**
   * Its tags, as read with the snapshot: the removal records of every host out of it
   * (`balanced:out:<instance>`, any group or none) and the turn (`balanced:turn`).
   */
  tags?: Record<string, string>;
}

export interface InstanceView {
  id: string;
  lifecycleState: string;
  health: "Healthy" | "Unhealthy";
  availabilityZone: string;
}

export interface ActivityView {
  id: string;
  statusCode: string;
  description: string;
  startTime: string | undefined;
}

export interface RefreshView {
  id: string;
  status: string;
}

export interface GroupView {
  name: string;
  minSize: number;
  maxSize: number;
  desiredCapacity: number;
  instances: InstanceView[];
  suspendedProcesses: string[];
  /** The group's instance maintenance policy MinHealthyPercentage, when it has one. */
  minHealthyPercentage: number | undefined;
  tags: Record<string, string>;
}

export interface Snapshot {
  instanceId: string;
  region: string;
  group: GroupView;
  loadBalancers: LoadBalancerView[];
  /** Scaling activities still in progress (not Successful, Failed or Cancelled). */
  activities: ActivityView[];
  /** Instance refreshes that are pending or running. */
  refreshes: RefreshView[];
  /** When it was read (epoch ms). */
  takenAt: number;
  /** For instances in Standby: when they were moved there, if the recent activities say. */
  standbySince: Record<string, string>;
  /**
   * Load balancers and target groups the group (or the command line) names that no longer exist
   * (`elb/NAME`, `tg/NAME`): deleted, they serve no traffic, so they are left out of the decision.
   */
  gone?: string[];
}

/** A count or a percentage of desired capacity, as `--min-healthy 2` or `--min-healthy 50%`. */
export type Quantity = { kind: "count"; value: number } | { kind: "percent"; value: number };

export interface Policy {
  /** Healthy instances that must remain once this host is out; undefined: the default. */
  minHealthy: Quantity | undefined;
  /** Instances that may be out of service or unhealthy at once, this host included. */
  maxUnavailable: Quantity;
  /** When the group is at its MinSize: lower it for the time this host is out, or refuse. */
  minSize: "lower" | "refuse";
}
