import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The fleet file: what the simulated account holds at start. Durations are in simulated seconds
 * (scaled by the simulator's time scale); defaults are AWS's own defaults.
 */
export interface FleetFile {
  region?: string;
  accountId?: string;
  groups?: FleetGroup[];
  /** Instances in no Auto Scaling group. */
  instances?: FleetInstance[];
  loadBalancers?: FleetClassicLb[];
  targetGroups?: FleetTargetGroup[];
  timing?: Partial<FleetTiming>;
}

export interface FleetTiming {
  /** Standby -> Pending -> InService. */
  exitStandbySeconds: number;
  /** A replacement instance from Pending to InService. */
  launchSeconds: number;
  /** Least time EnterStandby takes, even with nothing to drain. */
  enterStandbySeconds: number;
  /** How long before Auto Scaling replaces an instance marked Unhealthy. */
  replaceUnhealthySeconds: number;
  /** How long an ELBv2 target stays in `initial` / Elb.RegistrationInProgress. */
  targetRegistrationSeconds: number;
}

export const DEFAULT_TIMING: FleetTiming = {
  exitStandbySeconds: 2,
  launchSeconds: 30,
  enterStandbySeconds: 1,
  replaceUnhealthySeconds: 10,
  targetRegistrationSeconds: 1,
};

export interface FleetGroup {
  name: string;
  min: number;
  max: number;
  desired?: number;
  healthCheckType?: "EC2" | "ELB";
  healthCheckGracePeriod?: number;
  suspendedProcesses?: string[];
  instanceMaintenancePolicy?: { minHealthyPercentage?: number; maxHealthyPercentage?: number };
  loadBalancerNames?: string[];
  /** Target group names (resolved to ARNs). */
  targetGroups?: string[];
  tags?: Record<string, string>;
  instances?: FleetInstance[];
  /** Generate this many InService, Healthy instances instead of listing them. */
  instanceCount?: number;
  availabilityZones?: string[];
  lifecycleHooks?: FleetLifecycleHook[];
  /**
   * A warm pool (PutWarmPool): instances kept pre-initialized beside the group, in `Warmed:*` states;
   * they serve no traffic and do not count toward desired capacity. List them in `instances` with a
   * `Warmed:...` lifecycle state (`Warmed:Pending:Wait` is held by the launch hook, which fires on
   * entry to the warm pool).
   */
  warmPool?: { poolState?: "Stopped" | "Running" | "Hibernated" };
}

/** PutLifecycleHook's parameters, as botocore's autoscaling model names them. */
export interface FleetLifecycleHook {
  name: string;
  transition: "autoscaling:EC2_INSTANCE_LAUNCHING" | "autoscaling:EC2_INSTANCE_TERMINATING";
  /** Seconds in the wait state without a heartbeat before the default result (AWS: 30-7200, 3600). */
  heartbeatTimeout?: number;
  defaultResult?: "CONTINUE" | "ABANDON";
}

export interface FleetInstance {
  id: string;
  az?: string;
  privateIp?: string;
  /** Secondary private IPv4 addresses on its network interface. */
  secondaryIps?: string[];
  lifecycleState?: string;
  health?: "Healthy" | "Unhealthy";
  /** Whether the application answers health checks. */
  appHealthy?: boolean;
  imdsTokens?: "optional" | "required";
  /**
   * The instance profile's role, whose credentials the metadata service hands out (default
   * balanced-instance-role); null: launched without an instance profile.
   */
  role?: string | null;
  protectedFromScaleIn?: boolean;
  /** Seconds before the simulator starts that this instance entered its lifecycle state. */
  stateSinceSeconds?: number;
  /**
   * Registrations at start besides the group's own ("lb-name", "tg-name", "tg-name:port", and for an
   * IP target group "tg-name:port@ip" to register one of its secondary IPs): a
   * host in no group's load balancers, or a target group a group's instance is in that the group
   * does not manage.
   */
  registeredWith?: string[];
}

export interface FleetClassicLb {
  name: string;
  healthCheck?: {
    interval?: number;
    healthyThreshold?: number;
    unhealthyThreshold?: number;
    timeout?: number;
    target?: string;
  };
  connectionDraining?: { enabled?: boolean; timeout?: number };
  availabilityZones?: string[];
  /** Tags it carries at start (an operator's own: Name, team, cost centre...). */
  tags?: Record<string, string>;
}

export interface FleetTargetGroup {
  name: string;
  targetType?: "instance" | "ip";
  protocol?: string;
  port?: number;
  healthCheck?: {
    enabled?: boolean;
    interval?: number;
    healthyThreshold?: number;
    unhealthyThreshold?: number;
    timeout?: number;
    path?: string;
  };
  deregistrationDelay?: number;
  /** Name of the load balancer it is attached to; null or absent: attached to none. */
  loadBalancer?: string | null;
  /** The zones that load balancer is enabled in (default: every zone); a target elsewhere is unused. */
  loadBalancerZones?: string[];
  tags?: Record<string, string>;
}

/** An IP-type target group behind a load balancer, with the fleets' quick settings. */
export const ipTargetGroup = (name: string, loadBalancer: string): FleetTargetGroup => ({
  name,
  targetType: "ip",
  port: 80,
  deregistrationDelay: 2,
  healthCheck: { interval: 1, healthyThreshold: 2 },
  loadBalancer,
});

const FLEETS_DIR = join(dirname(fileURLToPath(import.meta.url)), "fleets");

/** A named fleet (`three-hosts`) from test/sim/fleets, or a path to a JSON file. */
export function loadFleet(nameOrPath: string): FleetFile {
  const path = nameOrPath.endsWith(".json") ? nameOrPath : join(FLEETS_DIR, `${nameOrPath}.json`);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new Error(`no fleet named ${nameOrPath} (looked for ${path})`);
  }
  return JSON.parse(text) as FleetFile;
}

/** A deterministic, realistic-looking instance id for generated instances. */
export const generatedInstanceId = (groupIndex: number, index: number) =>
  `i-0${groupIndex.toString(16).padStart(4, "0")}${index.toString(16).padStart(12, "0")}`;
