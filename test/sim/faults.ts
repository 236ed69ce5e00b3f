/**
 * Fault injection, as the control API describes it: a fault matches calls by service, action and
 * calling host, and either delays, throttles, fails, drops or denies them. IMDS faults make one
 * host's metadata service unreachable or require tokens.
 */
export type Service = "autoscaling" | "elb" | "elbv2" | "ec2" | "dynamodb" | "imds";

export interface FaultSpec {
  service?: Service | "*";
  action?: string;
  host?: string;
  kind:
    | "throttle"
    | "error"
    | "latency"
    | "drop"
    | "deny"
    | "unreachable"
    | "tokens-required"
    | "hop-limit"
    | "stale-reads"
    | "lost-response"
    | "slow-apply"
    | "resource-contention"
    | "unavailable-health";
  /** throttle: requests per second allowed before `Throttling`. */
  rps?: number;
  /** error: HTTP status (500 InternalFailure or 503 ServiceUnavailable). */
  status?: number;
  /**
   * latency: milliseconds added, plus up to jitterMs more at random. stale-reads: a describe call is
   * answered from the world as it was a random 0..ms milliseconds ago, drawn per call (with `fixed`,
   * exactly ms ago, for tests that need one stale answer for certain). slow-apply: an acting call is
   * answered ms late.
   */
  ms?: number;
  fixed?: boolean;
  /** slow-apply: whether the world changes at the start of those ms (the answer is late) or the end. */
  applyAt?: "start" | "end";
  /** Apply to this fraction of matching calls (0..1, default all), drawn from the simulator's seed. */
  probability?: number;
  jitterMs?: number;
  /** unreachable: "hang" (never answers, like a blackholed address) or "refuse". */
  mode?: "hang" | "refuse";
  /** Apply this many times, then expire. */
  count?: number;
  /** unavailable-health: the instance whose target health AWS cannot tell (optionally in one target group). */
  instance?: string;
  targetGroup?: string;
}

export interface Fault extends FaultSpec {
  id: string;
  hits: number;
  window: number[];
}

/** What happens to one call besides its fate: how late, how stale, whether its answer is lost. */
export interface CallShape {
  delayMs: number;
  /** Answer a read from the world as it was this long ago. */
  staleMs: number;
  /** Apply the call, then drop the connection without an answer. */
  lost: boolean;
  /** Hold an acting call this long, changing the world before (start) or after (end) the wait. */
  slow?: { ms: number; applyAt: "start" | "end" };
}

export type FaultOutcome =
  | ({ kind: "pass" } & CallShape)
  | ({ kind: "throttle" | "error" | "drop" | "deny" | "resource-contention"; fault: Fault } & CallShape);

/** Describe* calls read; every other action of the simulated APIs changes the world. */
/** Calls a stale-reads fault may answer from the past (GetItem only when not ConsistentRead). */
export const isRead = (action: string) => action.startsWith("Describe") || action === "GetItem";

/** A small seeded generator (mulberry32): a chaos trial's faults replay from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultBook {
  private faults: Fault[] = [];
  private next = 1;

  constructor(private readonly random: () => number = Math.random) {}

  /** The longest staleness any stale-reads fault asks for: how much past the world must keep. */
  maxStaleMs(): number {
    return Math.max(0, ...this.faults.filter((f) => f.kind === "stale-reads").map((f) => f.ms ?? 0));
  }

  add(spec: FaultSpec): Fault {
    const fault: Fault = { ...spec, id: `fault-${this.next++}`, hits: 0, window: [] };
    this.faults.push(fault);
    return fault;
  }

  list(): Fault[] {
    return this.faults;
  }

  clear(): void {
    this.faults = [];
  }

  private matching(service: Service, action: string | undefined, host: string | undefined): Fault[] {
    return this.faults.filter(
      (f) =>
        (f.service === undefined || f.service === "*" || f.service === service) &&
        (f.action === undefined || f.action === action) &&
        (f.host === undefined || f.host === host) &&
        (f.count === undefined || f.hits < f.count),
    );
  }

  /** Decides what happens to one API call. */
  evaluate(service: Service, action: string, host: string | undefined, now: number): FaultOutcome {
    const shape: CallShape = { delayMs: 0, staleMs: 0, lost: false };
    const read = isRead(action);
    for (const f of this.matching(service, action, host)) {
      if (f.probability !== undefined && this.random() >= f.probability) continue;
      if (f.kind === "latency") {
        shape.delayMs += (f.ms ?? 0) + this.random() * (f.jitterMs ?? 0);
        f.hits++;
        continue;
      }
      if (f.kind === "stale-reads") {
        if (read) {
          shape.staleMs = Math.max(shape.staleMs, (f.fixed ? 1 : this.random()) * (f.ms ?? 0));
          f.hits++;
        }
        continue;
      }
      if (f.kind === "slow-apply") {
        if (!read) {
          shape.slow = { ms: f.ms ?? 0, applyAt: f.applyAt ?? "start" };
          f.hits++;
        }
        continue;
      }
      if (f.kind === "lost-response") {
        shape.lost = true;
        f.hits++;
        continue;
      }
      if (f.kind === "throttle") {
        f.window = f.window.filter((t) => now - t < 1000);
        f.window.push(now);
        if (f.window.length > (f.rps ?? 0)) {
          f.hits++;
          return { kind: "throttle", ...shape, fault: f };
        }
        continue;
      }
      if (f.kind === "error" || f.kind === "drop" || f.kind === "deny" || f.kind === "resource-contention") {
        f.hits++;
        return { kind: f.kind, ...shape, fault: f };
      }
    }
    return { kind: "pass", ...shape };
  }

  /**
   * Whether DescribeTargetHealth cannot tell this instance's health in this target group: AWS then
   * answers `unavailable` with `Elb.InternalError` ("Target health is unavailable due to an internal
   * error", ELBv2 API reference, TargetHealth). Unlike call faults, this is a state of the world.
   */
  healthUnavailable(targetGroup: string, instanceId: string | undefined): boolean {
    return this.faults.some(
      (f) =>
        f.kind === "unavailable-health" &&
        f.instance === instanceId &&
        (f.targetGroup === undefined || f.targetGroup === targetGroup),
    );
  }

  /** The IMDS fault in force for a host, if any (latency: answers, but late). */
  imds(host: string, kind: "unreachable" | "tokens-required" | "latency" | "hop-limit"): Fault | undefined {
    return this.matching("imds", undefined, host).find((f) => f.kind === kind);
  }
}
