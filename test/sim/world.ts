import { randomUUID } from "node:crypto";
import { type Scheduled, SimClock } from "./clock";
import {
  DEFAULT_TIMING,
  type FleetFile,
  type FleetGroup,
  type FleetInstance,
  type FleetTiming,
  generatedInstanceId,
} from "./fleet";
import { copyTables, type SimTable } from "./services/dynamodb";

/** An error the simulated service returns, with AWS's code, message and HTTP status. */
export class SimError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly type: "Sender" | "Receiver" = "Sender",
  ) {
    super(message);
  }
}

export const validation = (message: string) => new SimError("ValidationError", message);

export const TERMINAL_ACTIVITY = new Set(["Successful", "Failed", "Cancelled"]);

export interface SimInstance {
  id: string;
  az: string;
  privateIp: string;
  /** Further private IPv4 addresses on its network interface (the metadata service lists them). */
  secondaryIps: string[];
  groupName: string | undefined;
  lifecycleState: string;
  stateSince: number;
  health: "Healthy" | "Unhealthy";
  /** Whether the application answers health checks; per-LB overrides below. */
  appHealthy: boolean;
  appHealthyIn: Map<string, boolean>;
  imdsTokensRequired: boolean;
  /** The instance profile's role; undefined: none (the metadata service has no credentials). */
  role: string | undefined;
  protectedFromScaleIn: boolean;
  launchTime: number;
  ec2State: "pending" | "running" | "shutting-down" | "terminated";
  instanceType: string;
  tags: Map<string, string>;
  lifecycleAction?: LifecycleAction;
  /** What the metadata service tells this host about AWS taking it away (src: EC2's IMDS docs). */
  notices: HostNotices;
}

export interface HostNotices {
  /** spot/instance-action: what happens to the Spot Instance, and when. */
  spot?: { action: "terminate" | "stop" | "hibernate"; time: number };
  /** events/recommendations/rebalance: when the rebalance recommendation was made. */
  rebalanceAt?: number;
  /** events/maintenance/scheduled. */
  maintenance: {
    code: string;
    description: string;
    eventId: string;
    notBefore: number;
    notAfter: number;
    state: "active" | "completed" | "canceled";
  }[];
}

export interface Activity {
  activityId: string;
  groupName: string;
  description: string;
  cause: string;
  startTime: number;
  endTime?: number;
  statusCode: string;
  statusMessage?: string;
  progress: number;
  details: string;
}

export interface InstanceRefresh {
  id: string;
  groupName: string;
  status: string;
  startTime: number;
  endTime?: number;
  percentageComplete: number;
}

export interface SimGroup {
  name: string;
  arn: string;
  min: number;
  max: number;
  desired: number;
  healthCheckType: "EC2" | "ELB";
  gracePeriod: number;
  suspended: Map<string, string>;
  maintenancePolicy?: { minHealthyPercentage?: number; maxHealthyPercentage?: number };
  /** The warm pool's PoolState, when the group has one. */
  warmPoolState?: "Stopped" | "Running" | "Hibernated";
  loadBalancerNames: string[];
  targetGroupArns: string[];
  tags: Map<string, { value: string; propagate: boolean }>;
  createdTime: number;
  availabilityZones: string[];
  activities: Activity[];
  refreshes: InstanceRefresh[];
  lifecycleHooks: LifecycleHook[];
}

export interface LifecycleHook {
  name: string;
  transition: "autoscaling:EC2_INSTANCE_LAUNCHING" | "autoscaling:EC2_INSTANCE_TERMINATING";
  heartbeatTimeout: number;
  /** AWS: 100 times the heartbeat timeout or 48 hours, whichever is smaller. */
  globalTimeout: number;
  defaultResult: "CONTINUE" | "ABANDON";
}

/** An instance held in Pending:Wait or Terminating:Wait by a hook, until completed or timed out. */
export interface LifecycleAction {
  hook: LifecycleHook;
  token: string;
  startedAt: number;
  heartbeat: Scheduled;
  global: Scheduled;
  finish: (result: "CONTINUE" | "ABANDON") => void;
}

/** Classic ELB view of one instance. `deregistering` is still reported InService, as AWS does. */
export type ClassicState =
  | "registering"
  | "InService"
  | "OutOfService"
  | "deregistering"
  /** Registered, in a zone the load balancer does not route to: no traffic, whatever its health. */
  | "outside-zones";

export interface ClassicLb {
  name: string;
  healthCheck: {
    interval: number;
    healthyThreshold: number;
    unhealthyThreshold: number;
    timeout: number;
    target: string;
  };
  draining: { enabled: boolean; timeout: number };
  availabilityZones: string[];
  createdTime: number;
  registrations: Map<string, { state: ClassicState; pending?: Scheduled }>;
  tags: Map<string, string>;
}

export type TargetState = "initial" | "healthy" | "unhealthy" | "draining" | "unavailable" | "unused";

/** The simulated account's one VPC (every fleet's private IPs are in 10.0.0.0/16). */
export const VPC_CIDR = "10.0.0.0/16";
/** Whether an IPv4 address is in the VPC: an IP target outside it is in a peered VPC or on premises. */
export const inVpc = (ip: string) => ip.startsWith("10.0.");

export interface TgTarget {
  id: string;
  port: number;
  az: string;
  state: TargetState;
  reason: string | undefined;
  pending?: Scheduled;
}

export interface TargetGroup {
  arn: string;
  name: string;
  targetType: "instance" | "ip";
  protocol: string;
  port: number;
  healthCheck: {
    enabled: boolean;
    interval: number;
    healthyThreshold: number;
    unhealthyThreshold: number;
    timeout: number;
    path: string;
  };
  deregistrationDelay: number;
  loadBalancerArns: string[];
  /** The zones its load balancer is enabled in; undefined: every zone. */
  lbZones: string[] | undefined;
  targets: Map<string, TgTarget>;
  tags: Map<string, string>;
}

/**
 * One change of whether an instance serves, in a group's view (`group`) or a load balancer's
 * (`loadBalancer`: `elb/NAME` or `tg/NAME`, whose members are every target it ever had).
 */
export type ServingChange = {
  t: number;
  instanceId: string;
  serving: boolean;
  /** Members of the group (or load balancer) that are not serving right after. */
  outOfService: number;
  serving_count: number;
} & ({ group: string; loadBalancer?: undefined } | { loadBalancer: string; group?: undefined });

const ACTIVITY_CAUSE_TIME = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");

/** Warm pool instances (Warmed:*) sit beside the group: no traffic, and not part of desired capacity. */
export const isWarmed = (state: string) => state.startsWith("Warmed:");

const TRANSITIONAL_FOR_CAPACITY = new Set([
  "Standby",
  "EnteringStandby",
  "Terminating",
  "Terminated",
  "Detaching",
  "Detached",
]);

/**
 * The simulated account: Auto Scaling groups, their instances, classic load balancers and target
 * groups, with AWS's state transitions scheduled on a scaled clock.
 */
export class World {
  readonly region: string;
  readonly accountId: string;
  readonly clock: SimClock;
  readonly timing: FleetTiming;
  readonly groups = new Map<string, SimGroup>();
  readonly instances = new Map<string, SimInstance>();
  readonly classicLbs = new Map<string, ClassicLb>();
  readonly targetGroups = new Map<string, TargetGroup>();
  /** DynamoDB tables (test/sim/services/dynamodb.ts): the lock's store. */
  readonly tables = new Map<string, SimTable>();
  /** Every change of an instance's "serving" status, per group: the out-of-service timeline. */
  readonly history: ServingChange[] = [];
  /** The same per load balancer and target group (`GET /_sim/history?all` merges both). */
  readonly lbHistory: ServingChange[] = [];
  private lastServing = new Map<string, boolean>();
  /** Every target each load balancer has had, by label: leaving one is "not serving" there. */
  private lbMembers = new Map<string, Set<string>>();
  private ipCounter = 10;

  constructor(fleet: FleetFile, timeScale: number) {
    this.region = fleet.region ?? "us-east-1";
    this.accountId = fleet.accountId ?? "123456789012";
    this.timing = { ...DEFAULT_TIMING, ...fleet.timing };
    this.clock = new SimClock(timeScale, () => this.recordServing());
    this.load(fleet);
    this.recordServing();
  }

  // ---- loading -------------------------------------------------------------------------------

  private load(fleet: FleetFile): void {
    const now = this.clock.now();
    for (const lb of fleet.loadBalancers ?? []) {
      this.classicLbs.set(lb.name, {
        name: lb.name,
        healthCheck: {
          interval: lb.healthCheck?.interval ?? 30,
          healthyThreshold: lb.healthCheck?.healthyThreshold ?? 10,
          unhealthyThreshold: lb.healthCheck?.unhealthyThreshold ?? 2,
          timeout: lb.healthCheck?.timeout ?? 5,
          target: lb.healthCheck?.target ?? "HTTP:80/",
        },
        draining: {
          enabled: lb.connectionDraining?.enabled ?? true,
          timeout: lb.connectionDraining?.timeout ?? 300,
        },
        availabilityZones: lb.availabilityZones ?? this.azs(),
        createdTime: now,
        registrations: new Map(),
        tags: new Map(Object.entries(lb.tags ?? {})),
      });
    }
    for (const tg of fleet.targetGroups ?? []) {
      // "If the target type is instance, ip, or alb, health checks are always enabled and can't be
      // disabled" (ELBv2 API reference, ModifyTargetGroup, HealthCheckEnabled): only Lambda targets,
      // which this simulator does not model, may have none.
      if (tg.healthCheck?.enabled === false)
        throw new Error(
          `target group ${tg.name}: health checks cannot be disabled for instance or ip targets (AWS's ModifyTargetGroup)`,
        );
      const arn = this.tgArn(tg.name);
      this.targetGroups.set(arn, {
        arn,
        name: tg.name,
        targetType: tg.targetType ?? "instance",
        protocol: tg.protocol ?? "HTTP",
        port: tg.port ?? 80,
        healthCheck: {
          enabled: tg.healthCheck?.enabled ?? true,
          interval: tg.healthCheck?.interval ?? 30,
          healthyThreshold: tg.healthCheck?.healthyThreshold ?? 5,
          unhealthyThreshold: tg.healthCheck?.unhealthyThreshold ?? 2,
          timeout: tg.healthCheck?.timeout ?? 5,
          path: tg.healthCheck?.path ?? "/",
        },
        deregistrationDelay: tg.deregistrationDelay ?? 300,
        loadBalancerArns: tg.loadBalancer
          ? [
              `arn:aws:elasticloadbalancing:${this.region}:${this.accountId}:loadbalancer/app/${tg.loadBalancer}/50dc6c495c0c9188`,
            ]
          : [],
        lbZones: tg.loadBalancerZones,
        targets: new Map(),
        tags: new Map(Object.entries(tg.tags ?? {})),
      });
    }
    for (const [gi, g] of (fleet.groups ?? []).entries()) this.loadGroup(g, gi + 1, now);
    for (const fi of fleet.instances ?? []) this.registerAtStart(this.addInstance(fi, undefined, now), fi);
  }

  /** A fleet instance's own registrations ("lb-name", "tg-name" or "tg-name:port"), settled. */
  private registerAtStart(inst: SimInstance, fi: FleetInstance): void {
    for (const ref of fi.registeredWith ?? []) {
      const [where, ip] = ref.split("@");
      const [name, port] = where!.split(":");
      if (this.classicLbs.has(name!)) this.classicRegisterSettled(this.classicLbs.get(name!)!, inst);
      else this.tgRegisterSettled(this.tgByName(name!), inst, port ? Number(port) : undefined, ip);
    }
  }

  private loadGroup(g: FleetGroup, groupIndex: number, now: number): void {
    const group: SimGroup = {
      name: g.name,
      arn: `arn:aws:autoscaling:${this.region}:${this.accountId}:autoScalingGroup:${randomUUID()}:autoScalingGroupName/${g.name}`,
      min: g.min,
      max: g.max,
      desired: g.desired ?? g.min,
      healthCheckType: g.healthCheckType ?? "EC2",
      gracePeriod: g.healthCheckGracePeriod ?? 300,
      suspended: new Map(
        (g.suspendedProcesses ?? []).map((p) => [p, "User suspended at " + ACTIVITY_CAUSE_TIME(now)]),
      ),
      maintenancePolicy: g.instanceMaintenancePolicy,
      warmPoolState: g.warmPool ? (g.warmPool.poolState ?? "Stopped") : undefined,
      loadBalancerNames: g.loadBalancerNames ?? [],
      targetGroupArns: (g.targetGroups ?? []).map((name) => this.tgByName(name).arn),
      tags: new Map(Object.entries(g.tags ?? {}).map(([k, v]) => [k, { value: v, propagate: true }])),
      createdTime: now - 86_400_000,
      availabilityZones: g.availabilityZones ?? this.azs(),
      activities: [],
      refreshes: [],
      lifecycleHooks: (g.lifecycleHooks ?? []).map((h) => {
        const heartbeatTimeout = h.heartbeatTimeout ?? 3600;
        return {
          name: h.name,
          transition: h.transition,
          heartbeatTimeout,
          globalTimeout: Math.min(100 * heartbeatTimeout, 172_800),
          defaultResult: h.defaultResult ?? "ABANDON",
        };
      }),
    };
    this.groups.set(group.name, group);
    const listed: FleetInstance[] =
      g.instances ??
      Array.from({ length: g.instanceCount ?? group.desired }, (_, i) => ({
        id: generatedInstanceId(groupIndex, i + 1),
      }));
    listed.forEach((fi, i) => {
      const inst = this.addInstance(
        { az: group.availabilityZones[i % group.availabilityZones.length], ...fi },
        group.name,
        now,
      );
      // An instance listed as Pending:Wait is held by the group's launch hook from the start.
      const launchHook = group.lifecycleHooks.find(
        (h) => h.transition === "autoscaling:EC2_INSTANCE_LAUNCHING",
      );
      if (inst.lifecycleState === "Pending:Wait" && launchHook)
        this.holdLaunch(group, inst, launchHook, undefined);
      // "Lifecycle hooks for a warm pool": a launch hook also holds an instance entering the warm
      // pool, in Warmed:Pending:Wait; CONTINUE moves it to the pool's state (Warmed:Stopped, ...).
      if (inst.lifecycleState === "Warmed:Pending:Wait" && launchHook)
        this.hold(inst, launchHook, "Warmed:Pending:Wait", (result) => {
          if (result === "ABANDON")
            return this.terminate(
              inst,
              "a warm pool instance's launch lifecycle action was abandoned",
              false,
            );
          this.setLifecycle(inst, `Warmed:${group.warmPoolState ?? "Stopped"}`);
        });
      // Instances that were serving before the simulator started are registered and settled.
      if (["InService", "EnteringStandby", "Terminating", "Terminating:Wait"].includes(inst.lifecycleState)) {
        for (const lb of this.groupClassicLbs(group)) this.classicRegisterSettled(lb, inst);
        for (const tg of this.groupTargetGroups(group)) this.tgRegisterSettled(tg, inst);
        this.registerAtStart(inst, fi);
      }
    });
  }

  private addInstance(fi: FleetInstance, groupName: string | undefined, now: number): SimInstance {
    const inst: SimInstance = {
      id: fi.id,
      az: fi.az ?? this.azs()[0]!,
      privateIp: fi.privateIp ?? this.nextIp(),
      secondaryIps: fi.secondaryIps ?? [],
      groupName,
      lifecycleState: fi.lifecycleState ?? "InService",
      stateSince: now - (fi.stateSinceSeconds ?? 3600) * 1000,
      health: fi.health ?? "Healthy",
      appHealthy: fi.appHealthy ?? true,
      appHealthyIn: new Map(),
      imdsTokensRequired: fi.imdsTokens === "required",
      role: fi.role === null ? undefined : (fi.role ?? "balanced-instance-role"),
      protectedFromScaleIn: fi.protectedFromScaleIn ?? false,
      launchTime: now - 86_400_000,
      ec2State: "running",
      instanceType: "t3.micro",
      tags: new Map(groupName ? [["aws:autoscaling:groupName", groupName]] : []),
      notices: { maintenance: [] },
    };
    this.instances.set(inst.id, inst);
    return inst;
  }

  private azs(): string[] {
    return [`${this.region}a`, `${this.region}b`, `${this.region}c`];
  }

  private nextIp(): string {
    const n = this.ipCounter++;
    return `10.0.${Math.floor(n / 250)}.${(n % 250) + 4}`;
  }

  tgArn(name: string): string {
    return `arn:aws:elasticloadbalancing:${this.region}:${this.accountId}:targetgroup/${name}/${Buffer.from(name).toString("hex").padEnd(16, "0").slice(0, 16)}`;
  }

  tgByName(name: string): TargetGroup {
    const tg = this.targetGroups.get(name) ?? this.targetGroups.get(this.tgArn(name));
    if (!tg) throw new SimError("TargetGroupNotFound", `Target groups '${name}' not found`);
    return tg;
  }

  group(name: string): SimGroup {
    const g = this.groups.get(name);
    if (!g) throw validation(`AutoScalingGroup name not found - AutoScalingGroup '${name}' not found`);
    return g;
  }

  groupInstances(group: SimGroup): SimInstance[] {
    return [...this.instances.values()].filter((i) => i.groupName === group.name);
  }

  // ---- health as each load balancer sees it ----------------------------------------------------

  /** Whether the application on `inst` answers the health checks of `lbKey` (LB name or TG arn). */
  appHealthyFor(inst: SimInstance, lbKey: string): boolean {
    return inst.appHealthyIn.get(lbKey) ?? inst.appHealthy;
  }

  private classicRegisterSettled(lb: ClassicLb, inst: SimInstance): void {
    lb.registrations.set(inst.id, { state: this.classicSettledState(lb, inst) });
  }

  /**
   * Where a registered instance settles: an instance in a zone the load balancer is not configured
   * for stays OutOfService however healthy ("Instance is in the EC2 Availability Zone for which
   * LoadBalancer is not configured to route traffic to", the ELB API's InstanceState), until
   * someone enables the zone.
   */
  private classicSettledState(lb: ClassicLb, inst: SimInstance): ClassicState {
    if (!lb.availabilityZones.includes(inst.az)) return "outside-zones";
    return this.appHealthyFor(inst, lb.name) ? "InService" : "OutOfService";
  }

  private tgRegisterSettled(tg: TargetGroup, inst: SimInstance, port?: number, ip?: string): void {
    const id = tg.targetType === "ip" ? (ip ?? inst.privateIp) : inst.id;
    const p = port ?? tg.port;
    const az = tg.targetType === "ip" && !inVpc(id) ? "all" : inst.az;
    const target: TgTarget = { id, port: p, az, state: "healthy", reason: undefined };
    this.settleTarget(tg, target, inst);
    tg.targets.set(`${id}:${p}`, target);
  }

  private settleTarget(tg: TargetGroup, target: TgTarget, inst: SimInstance | undefined): void {
    // Target.NotInUse: "the target group is not used by any load balancer or the target is in an
    // Availability Zone that is not enabled for its load balancer" (ELBv2 API, TargetHealth).
    if (tg.loadBalancerArns.length === 0 || this.outsideZones(tg, target)) {
      target.state = "unused";
      target.reason = "Target.NotInUse";
    } else if (!tg.healthCheck.enabled) {
      target.state = "unavailable";
      target.reason = "Target.HealthCheckDisabled";
    } else if (inst && this.appHealthyFor(inst, tg.arn)) {
      target.state = "healthy";
      target.reason = undefined;
    } else {
      target.state = "unhealthy";
      target.reason = "Target.FailedHealthChecks";
    }
  }

  /** A target its load balancer cannot route to: its zone is not enabled there. */
  outsideZones(tg: TargetGroup, target: TgTarget): boolean {
    return tg.lbZones !== undefined && target.az !== "all" && !tg.lbZones.includes(target.az);
  }

  /** The group's classic ELBs and target groups that still exist (one may be deleted under it). */
  groupClassicLbs(group: SimGroup): ClassicLb[] {
    return group.loadBalancerNames.flatMap((n) => this.classicLbs.get(n) ?? []);
  }

  groupTargetGroups(group: SimGroup): TargetGroup[] {
    return group.targetGroupArns.flatMap((a) => this.targetGroups.get(a) ?? []);
  }

  instanceForTarget(tg: TargetGroup, targetId: string): SimInstance | undefined {
    if (tg.targetType === "instance") return this.instances.get(targetId);
    return [...this.instances.values()].find(
      (i) => i.privateIp === targetId || i.secondaryIps.includes(targetId),
    );
  }

  /** Register with a classic ELB: OutOfService "registration in progress" until HealthyThreshold checks pass. */
  classicRegister(lb: ClassicLb, inst: SimInstance): void {
    const existing = lb.registrations.get(inst.id);
    if (existing && existing.state !== "deregistering") return;
    existing?.pending?.cancel();
    const reg: { state: ClassicState; pending?: Scheduled } = { state: "registering" };
    lb.registrations.set(inst.id, reg);
    const healthy = this.appHealthyFor(inst, lb.name);
    const checks = healthy ? lb.healthCheck.healthyThreshold : lb.healthCheck.unhealthyThreshold;
    reg.pending = this.clock.after(lb.healthCheck.interval * checks, () => {
      reg.state = this.classicSettledState(lb, inst);
      reg.pending = undefined;
      this.afterLbHealthChange(inst);
    });
  }

  /** Deregister from a classic ELB, draining first when connection draining is on. */
  classicDeregister(lb: ClassicLb, inst: SimInstance, done: () => void = () => {}): void {
    const reg = lb.registrations.get(inst.id);
    if (!reg) {
      done();
      return;
    }
    reg.pending?.cancel();
    if (!lb.draining.enabled || reg.state !== "InService") {
      lb.registrations.delete(inst.id);
      done();
      return;
    }
    reg.state = "deregistering";
    reg.pending = this.clock.after(lb.draining.timeout, () => {
      if (lb.registrations.get(inst.id) === reg) lb.registrations.delete(inst.id);
      done();
    });
  }

  tgRegister(tg: TargetGroup, inst: SimInstance | undefined, id: string, port: number): void {
    const key = `${id}:${port}`;
    const existing = tg.targets.get(key);
    if (existing && existing.state !== "draining") return;
    existing?.pending?.cancel();
    const target: TgTarget = {
      id,
      port,
      az: tg.targetType === "ip" && !inVpc(id) ? "all" : (inst?.az ?? "all"),
      state: "initial",
      reason: "Elb.RegistrationInProgress",
    };
    tg.targets.set(key, target);
    if (tg.loadBalancerArns.length === 0 || !tg.healthCheck.enabled) {
      this.settleTarget(tg, target, inst);
      return;
    }
    target.pending = this.clock.after(this.timing.targetRegistrationSeconds, () => {
      target.reason = "Elb.InitialHealthChecking";
      const healthy = inst ? this.appHealthyFor(inst, tg.arn) : false;
      const checks = healthy ? tg.healthCheck.healthyThreshold : tg.healthCheck.unhealthyThreshold;
      target.pending = this.clock.after(tg.healthCheck.interval * checks, () => {
        target.pending = undefined;
        this.settleTarget(tg, target, inst);
        if (inst) this.afterLbHealthChange(inst);
      });
    });
  }

  tgDeregister(tg: TargetGroup, id: string, port: number, done: () => void = () => {}): void {
    const key = `${id}:${port}`;
    const target = tg.targets.get(key);
    if (!target) {
      done();
      return;
    }
    target.pending?.cancel();
    if (tg.loadBalancerArns.length === 0 || target.state === "draining") {
      if (target.state !== "draining") tg.targets.delete(key);
      done();
      return;
    }
    target.state = "draining";
    target.reason = "Target.DeregistrationInProgress";
    target.pending = this.clock.after(tg.deregistrationDelay, () => {
      if (tg.targets.get(key) === target) tg.targets.delete(key);
      done();
    });
  }

  /** Changes whether the application answers one load balancer's checks (or all), after the thresholds. */
  setAppHealth(inst: SimInstance, healthy: boolean, lbKey?: string): void {
    if (lbKey) inst.appHealthyIn.set(lbKey, healthy);
    else {
      inst.appHealthy = healthy;
      inst.appHealthyIn.clear();
    }
    for (const lb of this.classicLbs.values()) {
      if (lbKey && lbKey !== lb.name) continue;
      const reg = lb.registrations.get(inst.id);
      if (!reg || reg.state === "deregistering" || reg.state === "registering") continue;
      if (reg.state === "outside-zones") continue;
      reg.pending?.cancel();
      const checks = healthy ? lb.healthCheck.healthyThreshold : lb.healthCheck.unhealthyThreshold;
      reg.pending = this.clock.after(lb.healthCheck.interval * checks, () => {
        reg.state = this.appHealthyFor(inst, lb.name) ? "InService" : "OutOfService";
        reg.pending = undefined;
        this.afterLbHealthChange(inst);
      });
    }
    for (const tg of this.targetGroups.values()) {
      if (lbKey && lbKey !== tg.arn) continue;
      const id = tg.targetType === "ip" ? inst.privateIp : inst.id;
      for (const target of tg.targets.values()) {
        if (target.id !== id || target.state === "draining" || target.state === "initial") continue;
        if (target.state === "unused" || target.state === "unavailable") continue;
        target.pending?.cancel();
        const checks = healthy ? tg.healthCheck.healthyThreshold : tg.healthCheck.unhealthyThreshold;
        target.pending = this.clock.after(tg.healthCheck.interval * checks, () => {
          target.pending = undefined;
          this.settleTarget(tg, target, inst);
          this.afterLbHealthChange(inst);
        });
      }
    }
  }

  /** Enables exactly these zones on a classic ELB, or on a target group's load balancer. */
  setZones(name: string, zones: string[]): void {
    const lb = this.classicLbs.get(name);
    if (lb) {
      lb.availabilityZones = [...zones];
      for (const [id, reg] of lb.registrations) {
        const inst = this.instances.get(id);
        if (!inst || reg.state === "registering" || reg.state === "deregistering") continue;
        reg.state = this.classicSettledState(lb, inst);
      }
      return;
    }
    const tg = this.tgByName(name);
    tg.lbZones = [...zones];
    for (const t of tg.targets.values()) {
      if (t.state === "initial" || t.state === "draining") continue;
      this.settleTarget(tg, t, this.instanceForTarget(tg, t.id));
    }
  }

  /** With ELB health checks, an instance out of service in a load balancer becomes Unhealthy in its group. */
  private afterLbHealthChange(inst: SimInstance): void {
    const group = inst.groupName ? this.groups.get(inst.groupName) : undefined;
    if (!group) return;
    if (group.healthCheckType !== "ELB" || inst.lifecycleState !== "InService") return;
    if (this.clock.now() - inst.stateSince < this.clock.realMs(group.gracePeriod)) return;
    if (!this.healthyInAllLbs(group, inst)) this.setGroupHealth(inst, "Unhealthy");
  }

  healthyInAllLbs(group: SimGroup, inst: SimInstance): boolean {
    for (const lb of this.groupClassicLbs(group)) {
      if (lb.registrations.get(inst.id)?.state !== "InService") return false;
    }
    for (const tg of this.groupTargetGroups(group)) {
      const id = tg.targetType === "ip" ? inst.privateIp : inst.id;
      const target = [...tg.targets.values()].find((t) => t.id === id);
      if (!target || !this.targetServes(tg, target)) return false;
    }
    return true;
  }

  /** Healthy, or with checks disabled, or in a group with no load balancer; never outside its zones. */
  targetServes(tg: TargetGroup, t: TgTarget): boolean {
    if (this.outsideZones(tg, t)) return false;
    return t.state === "healthy" || t.state === "unavailable" || t.state === "unused";
  }

  // ---- Auto Scaling ----------------------------------------------------------------------------

  private setLifecycle(inst: SimInstance, state: string): void {
    inst.lifecycleState = state;
    inst.stateSince = this.clock.now();
  }

  startActivity(group: SimGroup, a: Partial<Activity> & { description: string; cause: string }): Activity {
    const activity: Activity = {
      activityId: randomUUID(),
      groupName: group.name,
      startTime: this.clock.now(),
      statusCode: "InProgress",
      progress: 0,
      details: JSON.stringify({
        "Subnet ID": "subnet-0abc1234",
        "Availability Zone": group.availabilityZones[0],
      }),
      ...a,
    };
    group.activities.unshift(activity);
    return activity;
  }

  finishActivity(activity: Activity, statusCode = "Successful", statusMessage?: string): void {
    activity.statusCode = statusCode;
    activity.progress = 100;
    activity.endTime = this.clock.now();
    if (statusMessage) activity.statusMessage = statusMessage;
  }

  private sizeMessage(group: SimGroup, what: string, count: number): string {
    return (
      `AutoScalingGroup ${group.name} has min-size=${group.min}, max-size=${group.max}, and desired-size=${group.desired}. ` +
      `To ${what} ${count} instance${count === 1 ? "" : "s"}, please update the AutoScalingGroup sizes appropriately.`
    );
  }

  private memberOf(group: SimGroup, instanceId: string): SimInstance {
    const inst = this.instances.get(instanceId);
    if (!inst || inst.groupName !== group.name) {
      throw validation(`The instance ${instanceId} is not part of Auto Scaling group ${group.name}.`);
    }
    return inst;
  }

  enterStandby(group: SimGroup, instanceIds: string[], decrement: boolean): Activity[] {
    const insts = instanceIds.map((id) => this.memberOf(group, id));
    for (const inst of insts) {
      if (inst.lifecycleState !== "InService")
        throw validation(`The instance ${inst.id} is not in InService.`);
    }
    if (decrement && group.desired - insts.length < group.min) {
      throw validation(this.sizeMessage(group, "place into standby", insts.length));
    }
    const before = group.desired;
    if (decrement) group.desired -= insts.length;
    const activities = insts.map((inst) => {
      this.setLifecycle(inst, "EnteringStandby");
      const activity = this.startActivity(group, {
        // AWS's own wording (botocore's autoscaling examples-1.json, EnterStandby/ExitStandby).
        description: `Moving EC2 instance to Standby: ${inst.id}`,
        cause:
          `At ${ACTIVITY_CAUSE_TIME(this.clock.now())} instance ${inst.id} was moved to standby in response to a user request` +
          (decrement ? `, shrinking the capacity from ${before} to ${group.desired}.` : "."),
        progress: 50,
      });
      const classic = this.groupClassicLbs(group);
      const tgs = this.groupTargetGroups(group);
      let waiting = classic.length + tgs.length + 1;
      const oneDone = () => {
        waiting -= 1;
        if (waiting > 0) return;
        if (inst.lifecycleState !== "EnteringStandby") return;
        this.setLifecycle(inst, "Standby");
        this.finishActivity(activity);
        this.recordServing();
      };
      for (const lb of classic) this.classicDeregister(lb, inst, oneDone);
      for (const tg of tgs)
        this.tgDeregister(tg, tg.targetType === "ip" ? inst.privateIp : inst.id, tg.port, oneDone);
      this.clock.after(this.timing.enterStandbySeconds, oneDone);
      return activity;
    });
    if (!decrement) this.fillCapacity(group);
    return activities;
  }

  exitStandby(group: SimGroup, instanceIds: string[]): Activity[] {
    const insts = instanceIds.map((id) => this.memberOf(group, id));
    for (const inst of insts) {
      if (inst.lifecycleState !== "Standby") throw validation(`The instance ${inst.id} is not in Standby.`);
    }
    if (group.desired + insts.length > group.max) {
      throw validation(this.sizeMessage(group, "move out of standby", insts.length));
    }
    const before = group.desired;
    group.desired += insts.length;
    return insts.map((inst) => {
      this.setLifecycle(inst, "Pending");
      const activity = this.startActivity(group, {
        description: `Moving EC2 instance out of Standby: ${inst.id}`,
        cause:
          `At ${ACTIVITY_CAUSE_TIME(this.clock.now())} instance ${inst.id} was moved out of standby in response to a user request, ` +
          `increasing the capacity from ${before} to ${group.desired}.`,
        statusCode: "PreInService",
        progress: 30,
      });
      this.clock.after(this.timing.exitStandbySeconds, () => {
        if (inst.lifecycleState !== "Pending") return;
        this.registerWithGroupLbs(group, inst);
        this.setLifecycle(inst, "InService");
        this.finishActivity(activity);
      });
      return activity;
    });
  }

  private registerWithGroupLbs(group: SimGroup, inst: SimInstance): void {
    for (const lb of this.groupClassicLbs(group)) this.classicRegister(lb, inst);
    for (const tg of this.groupTargetGroups(group))
      this.tgRegister(tg, inst, tg.targetType === "ip" ? inst.privateIp : inst.id, tg.port);
  }

  /** Instances that count towards desired capacity. */
  capacity(group: SimGroup): SimInstance[] {
    return this.groupInstances(group).filter(
      (i) => !TRANSITIONAL_FOR_CAPACITY.has(i.lifecycleState) && !isWarmed(i.lifecycleState),
    );
  }

  /** Launch or terminate until capacity matches desired (honouring suspended Launch/Terminate). */
  fillCapacity(group: SimGroup): void {
    const current = this.capacity(group);
    if (current.length < group.desired && !group.suspended.has("Launch")) {
      for (let n = current.length; n < group.desired; n++) this.launch(group, current.length, group.desired);
    } else if (current.length > group.desired && !group.suspended.has("Terminate")) {
      const victims = current
        .filter((i) => i.lifecycleState === "InService" && !i.protectedFromScaleIn)
        .sort((a, b) => b.launchTime - a.launchTime)
        .slice(0, current.length - group.desired);
      for (const v of victims)
        this.terminate(
          v,
          "an instance was taken out of service in response to a difference between desired and actual capacity",
        );
    }
  }

  private launch(group: SimGroup, before: number, after: number): SimInstance {
    const id = `i-0${randomUUID().replace(/-/g, "").slice(0, 16)}`;
    const inst = this.addInstance(
      {
        id,
        az: group.availabilityZones[this.ipCounter % group.availabilityZones.length],
        lifecycleState: "Pending",
        stateSinceSeconds: 0,
      },
      group.name,
      this.clock.now(),
    );
    inst.launchTime = this.clock.now();
    inst.ec2State = "pending";
    const activity = this.startActivity(group, {
      description: `Launching a new EC2 instance: ${id}`,
      cause:
        `At ${ACTIVITY_CAUSE_TIME(this.clock.now())} an instance was started in response to a difference between desired and actual capacity, ` +
        `increasing the capacity from ${before} to ${after}.`,
      statusCode: "PreInService",
      progress: 30,
    });
    this.clock.after(this.timing.launchSeconds, () => {
      if (inst.lifecycleState !== "Pending") return;
      inst.ec2State = "running";
      const hook = group.lifecycleHooks.find((h) => h.transition === "autoscaling:EC2_INSTANCE_LAUNCHING");
      if (!hook) return this.enterService(group, inst, activity);
      this.holdLaunch(group, inst, hook, activity);
    });
    return inst;
  }

  private enterService(group: SimGroup, inst: SimInstance, activity: Activity | undefined): void {
    this.registerWithGroupLbs(group, inst);
    this.setLifecycle(inst, "InService");
    if (activity) this.finishActivity(activity);
  }

  /** Registered with the load balancers only once the launch hook lets it go (AWS's lifecycle docs). */
  private holdLaunch(
    group: SimGroup,
    inst: SimInstance,
    hook: LifecycleHook,
    activity: Activity | undefined,
  ): void {
    this.hold(inst, hook, "Pending:Wait", (result) => {
      if (result === "ABANDON") {
        if (activity)
          this.finishActivity(
            activity,
            "Cancelled",
            "Instance failed to complete user's Lifecycle Action: Lifecycle Action with token was abandoned",
          );
        return this.terminate(
          inst,
          "an instance was terminated because its launch lifecycle action was abandoned",
          false,
        );
      }
      this.setLifecycle(inst, "Pending:Proceed");
      this.clock.after(this.timing.enterStandbySeconds, () => {
        if (inst.lifecycleState === "Pending:Proceed") this.enterService(group, inst, activity);
      });
    });
  }

  /**
   * Holds an instance in a hook's wait state until CompleteLifecycleAction, or its heartbeat timeout
   * (restarted by RecordLifecycleActionHeartbeat) or global timeout, whichever comes first, with the
   * hook's default result.
   */
  private hold(
    inst: SimInstance,
    hook: LifecycleHook,
    waitState: string,
    then: (result: "CONTINUE" | "ABANDON") => void,
  ): void {
    this.setLifecycle(inst, waitState);
    const timeout = () => action.finish(hook.defaultResult);
    const action: LifecycleAction = {
      hook,
      token: randomUUID(),
      startedAt: this.clock.now(),
      heartbeat: this.clock.after(hook.heartbeatTimeout, timeout),
      global: this.clock.after(hook.globalTimeout, timeout),
      finish: (result) => {
        if (inst.lifecycleAction !== action) return;
        action.heartbeat.cancel();
        action.global.cancel();
        inst.lifecycleAction = undefined;
        then(result);
        this.recordServing();
      },
    };
    inst.lifecycleAction = action;
  }

  /** RecordLifecycleActionHeartbeat: the heartbeat timeout starts again. */
  heartbeat(inst: SimInstance): void {
    const action = inst.lifecycleAction!;
    action.heartbeat.cancel();
    action.heartbeat = this.clock.after(action.hook.heartbeatTimeout, () =>
      action.finish(action.hook.defaultResult),
    );
  }

  terminate(inst: SimInstance, why: string, hooks = true): void {
    const group = inst.groupName ? this.groups.get(inst.groupName) : undefined;
    const finish = () => {
      this.setLifecycle(inst, "Terminated");
      inst.ec2State = "terminated";
      inst.groupName = undefined;
      for (const lb of this.classicLbs.values()) lb.registrations.delete(inst.id);
      for (const tg of this.targetGroups.values()) {
        for (const [key, t] of tg.targets)
          if (t.id === inst.id || t.id === inst.privateIp || inst.secondaryIps.includes(t.id))
            tg.targets.delete(key);
      }
    };
    if (!group) {
      finish();
      return;
    }
    const activity = this.startActivity(group, {
      description: `Terminating EC2 instance: ${inst.id}`,
      cause: `At ${ACTIVITY_CAUSE_TIME(this.clock.now())} ${why}.`,
      statusCode: "WaitingForELBConnectionDraining",
      progress: 50,
    });
    const wasServing = inst.lifecycleState === "InService";
    this.setLifecycle(inst, "Terminating");
    inst.ec2State = "shutting-down";
    const classic = this.groupClassicLbs(group);
    const tgs = this.groupTargetGroups(group);
    let waiting = 1 + (wasServing ? classic.length + tgs.length : 0);
    const done = () => {
      finish();
      this.finishActivity(activity);
      this.fillCapacity(group);
      this.recordServing();
    };
    const oneDone = () => {
      waiting -= 1;
      if (waiting > 0) return;
      // Deregistered (and drained) first, then the terminating hook holds it (AWS's lifecycle docs).
      const hook = hooks
        ? group.lifecycleHooks.find((h) => h.transition === "autoscaling:EC2_INSTANCE_TERMINATING")
        : undefined;
      if (!hook) return done();
      this.hold(inst, hook, "Terminating:Wait", () => {
        this.setLifecycle(inst, "Terminating:Proceed");
        this.clock.after(1, done);
      });
    };
    if (wasServing) {
      for (const lb of classic) this.classicDeregister(lb, inst, oneDone);
      for (const tg of tgs)
        this.tgDeregister(tg, tg.targetType === "ip" ? inst.privateIp : inst.id, tg.port, oneDone);
    }
    this.clock.after(1, oneDone);
  }

  /**
   * EC2 takes the instance away (a Spot interruption's time, a retirement): it stops serving at once,
   * wherever it is still registered (what was not drained is dropped), and its group replaces it.
   */
  reclaim(inst: SimInstance, why: string): void {
    if (inst.ec2State === "terminated") return;
    inst.ec2State = "shutting-down";
    for (const lb of this.classicLbs.values()) lb.registrations.delete(inst.id);
    for (const tg of this.targetGroups.values())
      for (const [key, t] of tg.targets)
        if (t.id === inst.id || t.id === inst.privateIp) tg.targets.delete(key);
    inst.lifecycleAction?.heartbeat.cancel();
    inst.lifecycleAction?.global.cancel();
    inst.lifecycleAction = undefined;
    const group = inst.groupName ? this.groups.get(inst.groupName) : undefined;
    if (!group) {
      this.setLifecycle(inst, "Terminated");
      inst.ec2State = "terminated";
      return;
    }
    this.terminate(inst, why, false);
  }

  setGroupHealth(inst: SimInstance, health: "Healthy" | "Unhealthy"): void {
    // Health checks are frozen while in Standby, as in AWS.
    if (inst.lifecycleState === "Standby" || inst.health === health) return;
    inst.health = health;
    const group = inst.groupName ? this.groups.get(inst.groupName) : undefined;
    if (health === "Unhealthy" && group && !group.suspended.has("ReplaceUnhealthy")) {
      this.clock.after(this.timing.replaceUnhealthySeconds, () => {
        if (inst.health === "Unhealthy" && inst.lifecycleState === "InService") {
          this.terminate(
            inst,
            `an instance was taken out of service in response to an EC2 health check indicating it has been terminated or stopped`,
          );
        }
      });
    }
  }

  updateGroup(group: SimGroup, sizes: { min?: number; max?: number; desired?: number }): void {
    const min = sizes.min ?? group.min;
    const max = sizes.max ?? group.max;
    let desired = sizes.desired ?? group.desired;
    if (sizes.desired === undefined) {
      // AWS: a new MinSize above the current size raises desired; a new MaxSize below it lowers desired.
      if (sizes.min !== undefined && min > desired) desired = min;
      if (sizes.max !== undefined && max < desired) desired = max;
    }
    if (min > max) throw validation(`Max bound, ${max}, must be greater than or equal to min bound, ${min}`);
    if (desired < min)
      throw validation(
        `Desired capacity:${desired} must be between the specified min size:${min} and max size:${max}`,
      );
    if (desired > max)
      throw validation(
        `Desired capacity:${desired} must be between the specified min size:${min} and max size:${max}`,
      );
    group.min = min;
    group.max = max;
    const changed = desired !== group.desired;
    group.desired = desired;
    if (changed) this.fillCapacity(group);
  }

  // ---- the out-of-service timeline ---------------------------------------------------------------

  /**
   * Which targets each load balancer sends traffic to now, by "lbKey target-id": classic ELBs' InService
   * instances, target groups' healthy targets (and, as healthyInAllLbs, those with checks disabled or no
   * load balancer). Built once per recordServing, so it costs O(targets), not O(instances × targets).
   */
  private servingIndex(): Set<string> {
    const ok = new Set<string>();
    for (const lb of this.classicLbs.values())
      for (const [id, r] of lb.registrations) if (r.state === "InService") ok.add(`${lb.name} ${id}`);
    for (const tg of this.targetGroups.values())
      for (const t of tg.targets.values()) if (this.targetServes(tg, t)) ok.add(`${tg.arn} ${t.id}`);
    return ok;
  }

  private servingWith(index: Set<string>, group: SimGroup, inst: SimInstance): boolean {
    if (inst.lifecycleState !== "InService" || inst.health !== "Healthy") return false;
    for (const lb of this.groupClassicLbs(group)) if (!index.has(`${lb.name} ${inst.id}`)) return false;
    for (const tg of this.groupTargetGroups(group))
      if (!index.has(`${tg.arn} ${tg.targetType === "ip" ? inst.privateIp : inst.id}`)) return false;
    return true;
  }

  /**
   * Appends to the timeline every change of who serves: per group (InService, Healthy, healthy in all
   * its load balancers) and per load balancer (the targets it routes to, whoever registered them).
   * Called after every change of the world: acting calls, scheduled transitions, control events.
   */
  recordServing(): void {
    const t = this.clock.now();
    const index = this.servingIndex();
    const byGroup = new Map<string, SimInstance[]>();
    for (const i of this.instances.values()) {
      if (!i.groupName) continue;
      const list = byGroup.get(i.groupName) ?? [];
      list.push(i);
      byGroup.set(i.groupName, list);
    }
    for (const group of this.groups.values()) {
      const members = byGroup.get(group.name) ?? [];
      const gone = [...this.lastServing.keys()]
        .filter((k) => k.startsWith(`${group.name}/`))
        .map((k) => k.slice(group.name.length + 1))
        .filter((id) => this.instances.get(id)?.groupName !== group.name);
      const states: [string, boolean][] = [
        ...members.map((i) => [i.id, this.servingWith(index, group, i)] as [string, boolean]),
        ...gone.map((id) => [id, false] as [string, boolean]),
      ];
      const servingCount = states.filter(([, s]) => s).length;
      for (const [id, isServing] of states) {
        const key = `${group.name}/${id}`;
        const last = this.lastServing.get(key);
        if (last === isServing) continue;
        this.lastServing.set(key, isServing);
        if (last === undefined && isServing) continue;
        this.history.push({
          t,
          group: group.name,
          instanceId: id,
          serving: isServing,
          outOfService: members.length - servingCount,
          serving_count: servingCount,
        });
      }
    }
    this.recordLbServing(t, index);
    if (this.keepPastMs > 0) this.rememberView(t);
  }

  /** Per load balancer: each target that ever served there, and whether it serves now. */
  private recordLbServing(t: number, index: Set<string>): void {
    const lbs: [string, string, string[]][] = [
      ...[...this.classicLbs.values()].map(
        (lb) => [`elb/${lb.name}`, lb.name, [...lb.registrations.keys()]] as [string, string, string[]],
      ),
      ...[...this.targetGroups.values()].map(
        (tg) =>
          [`tg/${tg.name}`, tg.arn, [...new Set([...tg.targets.values()].map((x) => x.id))]] as [
            string,
            string,
            string[],
          ],
      ),
    ];
    for (const [label, key, registered] of lbs) {
      const known = this.lbMembers.get(label) ?? new Set<string>();
      this.lbMembers.set(label, known);
      for (const id of registered) known.add(id);
      const states = [...known].map((id) => [id, index.has(`${key} ${id}`)] as const);
      const servingCount = states.filter(([, s]) => s).length;
      for (const [id, isServing] of states) {
        const k = `${label}/${id}`;
        const last = this.lastServing.get(k);
        if (last === isServing) continue;
        this.lastServing.set(k, isServing);
        if (last === undefined && isServing) continue;
        this.lbHistory.push({
          t,
          loadBalancer: label,
          instanceId: id,
          serving: isServing,
          outOfService: known.size - servingCount,
          serving_count: servingCount,
        });
      }
    }
  }

  // ---- the past, for stale reads -------------------------------------------------------------------

  /** How far back stale reads may look (the largest `stale-reads` fault in force); 0 keeps nothing. */
  keepPastMs = 0;
  private past: { t: number; view: World }[] = [];

  private rememberView(t: number): void {
    this.past.push({ t, view: this.view() });
    const horizon = t - this.keepPastMs;
    // Keep the newest view at or before the horizon: it is the world as it was at the horizon.
    while (this.past.length > 1 && this.past[1]!.t <= horizon) this.past.shift();
  }

  /**
   * The world as it was `ageMs` ago (the newest remembered view no later than then), for a stale
   * read; the present when nothing that old is remembered (the fault was added later).
   */
  viewAt(ageMs: number): World {
    if (ageMs <= 0 || this.past.length === 0) return this;
    const when = this.clock.now() - ageMs;
    let found: World | undefined;
    for (const p of this.past) {
      if (p.t <= when) found = p.view;
      else break;
    }
    return found ?? this.past[0]!.view;
  }

  /** A frozen copy of what the describe calls read; scheduled transitions are not copied. */
  view(): World {
    const v = Object.create(World.prototype) as World;
    const groups = new Map(
      [...this.groups].map(([k, g]) => [
        k,
        {
          ...g,
          suspended: new Map(g.suspended),
          loadBalancerNames: [...g.loadBalancerNames],
          targetGroupArns: [...g.targetGroupArns],
          tags: new Map([...g.tags].map(([tk, tv]) => [tk, { ...tv }])),
          availabilityZones: [...g.availabilityZones],
          activities: g.activities.map((a) => ({ ...a })),
          refreshes: g.refreshes.map((r) => ({ ...r })),
          lifecycleHooks: [...g.lifecycleHooks],
        },
      ]),
    );
    const instances = new Map(
      [...this.instances].map(([k, i]) => [
        k,
        {
          ...i,
          appHealthyIn: new Map(i.appHealthyIn),
          tags: new Map(i.tags),
          lifecycleAction: undefined,
          notices: { ...i.notices, maintenance: [...i.notices.maintenance] },
        },
      ]),
    );
    const classicLbs = new Map(
      [...this.classicLbs].map(([k, lb]) => [
        k,
        {
          ...lb,
          availabilityZones: [...lb.availabilityZones],
          registrations: new Map([...lb.registrations].map(([id, r]) => [id, { state: r.state }])),
          tags: new Map(lb.tags),
        },
      ]),
    );
    const targetGroups = new Map(
      [...this.targetGroups].map(([k, tg]) => [
        k,
        {
          ...tg,
          loadBalancerArns: [...tg.loadBalancerArns],
          targets: new Map([...tg.targets].map(([id, t]) => [id, { ...t, pending: undefined }])),
          tags: new Map(tg.tags),
        },
      ]),
    );
    Object.assign(v, {
      region: this.region,
      accountId: this.accountId,
      clock: this.clock,
      timing: this.timing,
      groups,
      instances,
      classicLbs,
      targetGroups,
      tables: copyTables(this.tables),
      history: [],
      lbHistory: [],
      lastServing: new Map(),
      lbMembers: new Map(),
      keepPastMs: 0,
      past: [],
      ipCounter: this.ipCounter,
    });
    return v;
  }

  stop(): void {
    this.clock.stop();
  }
}
