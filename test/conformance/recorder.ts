import type { Exchange } from "../sim/server";
import { botocoreData, loadModel, MODELLED_SERVICES, type ModelledService } from "./models";
import { Checker } from "./validate";
import { JsonChecker } from "./validate-json";

/**
 * The simulator scales time down: a fleet's durations are simulated seconds, and the tests' fleets
 * check health every simulated second where AWS allows no less than 5 (interval) and 2 (timeout).
 * Those minimums, and only those, are waived for scaled fleets; a test runs a fleet with AWS's
 * minimums under a time scale and waives nothing.
 */
const SCALED_TIMING =
  /answer (elb|elbv2) \w+\.\S*(HealthCheck\.Interval|HealthCheck\.Timeout|HealthCheckIntervalSeconds|HealthCheckTimeoutSeconds): \d+ < min \d+$/;

/** Every exchange a test's simulator saw, checked against botocore's models at the end. */
export class Conformance {
  readonly exchanges: Exchange[] = [];
  readonly checkers: Record<ModelledService, Checker | JsonChecker>;

  constructor(dataDir: string) {
    this.checkers = Object.fromEntries(
      MODELLED_SERVICES.map((s) => {
        const model = loadModel(dataDir, s);
        return [s, model.metadata.protocol === "json" ? new JsonChecker(model) : new Checker(model)];
      }),
    ) as Record<ModelledService, Checker | JsonChecker>;
  }

  /** The simulator's `onExchange`. */
  readonly record = (x: Exchange) => {
    this.exchanges.push(x);
  };

  /** Problems found in these exchanges, each once, with how often it was seen. */
  problemsOf(exchanges: Exchange[], opts: { waiveScaledTimings?: boolean } = {}): string[] {
    const waive = opts.waiveScaledTimings ?? true;
    const counts = new Map<string, number>();
    for (const x of exchanges) {
      if (x.service === "imds") continue;
      const found = this.checkers[x.service]
        .checkExchange(x)
        .map((p) => p.replace(/^(request|answer) /, `$1 ${x.service} `));
      for (const p of found) if (!(waive && SCALED_TIMING.test(p))) counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    return [...counts].map(([p, n]) => (n > 1 ? `${p} (x${n})` : p));
  }

  /** `service:Action` of every exchange answered 200, and of every error code answered. */
  covered(): { ok: Set<string>; errors: Set<string> } {
    const ok = new Set<string>();
    const errors = new Set<string>();
    for (const x of this.exchanges) {
      if (x.status === 200) ok.add(`${x.service}:${x.action}`);
      else errors.add(`${x.service}:${x.action}:${errorCode(x.response) ?? "?"}`);
    }
    return { ok, errors };
  }
}

/** The conformance tests' models, or the reason they skip. */
export const BOTOCORE = botocoreData();

/** An error answer's code: the query protocols' <Code>, or JSON's `__type` after its '#'. */
export const errorCode = (response: string): string | undefined =>
  /<Code>([^<]*)<\/Code>/.exec(response)?.[1] ?? /"__type"\s*:\s*"[^"#]*#([^"]+)"/.exec(response)?.[1];
