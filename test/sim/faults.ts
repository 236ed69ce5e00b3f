/**
 * Fault injection, as the control API describes it: a fault matches calls by service, action and
 * calling host, and either delays, throttles, fails, drops or denies them. IMDS faults make one
 * host's metadata service unreachable or require tokens.
 */
export type Service = "autoscaling" | "elb" | "elbv2" | "ec2" | "imds";

export interface FaultSpec {
  service?: Service | "*";
  action?: string;
  host?: string;
  kind: "throttle" | "error" | "latency" | "drop" | "deny" | "unreachable" | "tokens-required";
  /** throttle: requests per second allowed before `Throttling`. */
  rps?: number;
  /** error: HTTP status (500 InternalFailure or 503 ServiceUnavailable). */
  status?: number;
  /** latency: milliseconds added, plus up to jitterMs more at random. */
  ms?: number;
  jitterMs?: number;
  /** unreachable: "hang" (never answers, like a blackholed address) or "refuse". */
  mode?: "hang" | "refuse";
  /** Apply this many times, then expire. */
  count?: number;
}

export interface Fault extends FaultSpec {
  id: string;
  hits: number;
  window: number[];
}

export type FaultOutcome =
  | { kind: "pass"; delayMs: number }
  | { kind: "throttle" | "error" | "drop" | "deny"; delayMs: number; fault: Fault };

export class FaultBook {
  private faults: Fault[] = [];
  private next = 1;

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
    let delayMs = 0;
    for (const f of this.matching(service, action, host)) {
      if (f.kind === "latency") {
        delayMs += (f.ms ?? 0) + Math.random() * (f.jitterMs ?? 0);
        f.hits++;
        continue;
      }
      if (f.kind === "throttle") {
        f.window = f.window.filter((t) => now - t < 1000);
        f.window.push(now);
        if (f.window.length > (f.rps ?? 0)) {
          f.hits++;
          return { kind: "throttle", delayMs, fault: f };
        }
        continue;
      }
      if (f.kind === "error" || f.kind === "drop" || f.kind === "deny") {
        f.hits++;
        return { kind: f.kind, delayMs, fault: f };
      }
    }
    return { kind: "pass", delayMs };
  }

  /** The IMDS fault in force for a host, if any (latency: answers, but late). */
  imds(host: string, kind: "unreachable" | "tokens-required" | "latency"): Fault | undefined {
    return this.matching("imds", undefined, host).find((f) => f.kind === kind);
  }
}
