import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { FaultBook } from "./faults";
import type { World } from "./world";

/**
 * One host's instance metadata service, IMDSv2 semantics: a session token from PUT /latest/api/token
 * (TTL 1-21600 s, refused when forwarded), required on every GET when the host requires tokens.
 */
export interface HostCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials (from the instance profile) carry a session token. */
  sessionToken?: string;
}

const TARGET_LIFECYCLE: Record<string, string> = {
  Pending: "InService",
  "Pending:Wait": "InService",
  "Pending:Proceed": "InService",
  InService: "InService",
  EnteringStandby: "Standby",
  Standby: "Standby",
  Terminating: "Terminated",
  "Terminating:Wait": "Terminated",
  "Terminating:Proceed": "Terminated",
  Terminated: "Terminated",
  Detaching: "Detached",
  Detached: "Detached",
};

/**
 * A warm pool instance's target: "Warmed:Stopped", "Warmed:Running", "Warmed:Hibernated" or
 * "Warmed:Terminated" (EC2 Auto Scaling user guide, "Retrieve the target lifecycle state through
 * instance metadata"); entering the pool, the pool's own state.
 */
function targetLifecycle(state: string, poolState = "Stopped"): string | undefined {
  if (!state.startsWith("Warmed:")) return TARGET_LIFECYCLE[state];
  if (state.startsWith("Warmed:Terminat")) return "Warmed:Terminated";
  if (state.startsWith("Warmed:Pending")) return `Warmed:${poolState}`;
  return state;
}

/** A stable, locally administered MAC address for an instance's one network interface. */
const macOf = (instanceId: string) =>
  `0e:${(instanceId.replace(/^i-/, "").padStart(10, "0").slice(-10).match(/../g) ?? []).join(":")}`;

export class ImdsServer {
  private server: Server;
  private tokens = new Map<string, number>();
  private hanging = new Set<ServerResponse>();

  constructor(
    private readonly instanceId: string,
    private readonly world: () => World,
    private readonly faults: FaultBook,
    private readonly credentials: HostCredentials,
    private readonly onCall: (path: string, status: number) => void,
  ) {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  async listen(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(port, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse) {
    const unreachable = this.faults.imds(this.instanceId, "unreachable");
    if (unreachable) {
      unreachable.hits++;
      if (unreachable.mode === "refuse") {
        req.socket.destroy();
      } else {
        this.hanging.add(res);
        res.on("close", () => this.hanging.delete(res));
      }
      return;
    }
    const slow = this.faults.imds(this.instanceId, "latency");
    const send = (status: number, body: string, type = "text/plain") => {
      this.onCall(req.url ?? "", status);
      const answer = () => res.writeHead(status, { "content-type": type, server: "EC2ws" }).end(body);
      if (slow) {
        slow.hits++;
        setTimeout(answer, slow.ms ?? 0);
      } else answer();
    };
    // The SDK joins the endpoint's "/" and the path into "//latest/...", which IMDS accepts.
    const path = new URL((req.url ?? "/").replace(/\/{2,}/g, "/"), "http://imds").pathname;

    if (path === "/latest/api/token") {
      if (req.method !== "PUT") return send(405, "");
      // A hop limit of 1 seen from a container: the answer dies one hop short, so the PUT never
      // gets one (AWS: "the response ... is discarded"); IMDSv1 GETs are not limited so.
      const hopLimit = this.faults.imds(this.instanceId, "hop-limit");
      if (hopLimit) {
        hopLimit.hits++;
        this.hanging.add(res);
        res.on("close", () => this.hanging.delete(res));
        return;
      }
      if (req.headers["x-forwarded-for"] !== undefined) return send(403, "");
      const ttl = Number(req.headers["x-aws-ec2-metadata-token-ttl-seconds"]);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return send(400, "");
      const token = randomBytes(40).toString("base64");
      this.tokens.set(token, Date.now() + ttl * 1000);
      res.setHeader("x-aws-ec2-metadata-token-ttl-seconds", String(ttl));
      return send(200, token);
    }
    if (req.method !== "GET") return send(405, "");

    const token = req.headers["x-aws-ec2-metadata-token"];
    const inst = this.world().instances.get(this.instanceId);
    const tokensRequired =
      (inst?.imdsTokensRequired ?? false) ||
      this.faults.imds(this.instanceId, "tokens-required") !== undefined;
    if (typeof token === "string") {
      const expiry = this.tokens.get(token);
      if (expiry === undefined || expiry < Date.now()) return send(401, "");
    } else if (tokensRequired) {
      return send(401, "");
    }
    if (!inst) return send(404, "");

    const world = this.world();
    const now = new Date();
    const creds = JSON.stringify({
      Code: "Success",
      LastUpdated: now.toISOString(),
      Type: "AWS-HMAC",
      AccessKeyId: this.credentials.accessKeyId,
      SecretAccessKey: this.credentials.secretAccessKey,
      Token: this.credentials.sessionToken,
      Expiration: new Date(now.getTime() + 6 * 3600_000).toISOString(),
    });
    const notices = inst.notices;
    const stateOf = (e: (typeof notices.maintenance)[number]) =>
      e.state === "active" && world.clock.now() >= e.notAfter ? "completed" : e.state;
    const isoSeconds = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
    // Scheduled events give their times as "21 Jan 2019 09:00:43 GMT" (EC2's IMDS docs).
    const gmt = (t: number) => new Date(t).toUTCString().replace(/^\w+, 0?/, "");
    const routes: Record<string, () => string | undefined> = {
      // 404 until there is a notice (EC2 user guide, "Spot Instance interruption notices").
      "/latest/meta-data/spot/instance-action": () =>
        notices.spot
          ? JSON.stringify({ action: notices.spot.action, time: isoSeconds(notices.spot.time) })
          : undefined,
      "/latest/meta-data/events/recommendations/rebalance": () =>
        notices.rebalanceAt !== undefined
          ? JSON.stringify({ noticeTime: isoSeconds(notices.rebalanceAt) })
          : undefined,
      // EC2's user guide (scheduled events, "View scheduled events"): `scheduled` lists upcoming
      // events; a canceled or completed one is listed under `history` instead, its description
      // starting "[Canceled]" or "[Completed]". An event past its NotAfter has completed.
      "/latest/meta-data/events/maintenance/scheduled": () =>
        JSON.stringify(
          notices.maintenance
            .filter((e) => stateOf(e) === "active")
            .map((e) => ({
              NotBefore: gmt(e.notBefore),
              Code: e.code,
              Description: e.description,
              EventId: e.eventId,
              NotAfter: gmt(e.notAfter),
              State: e.state,
            })),
        ),
      "/latest/meta-data/events/maintenance/history": () =>
        JSON.stringify(
          notices.maintenance
            .filter((e) => stateOf(e) !== "active")
            .map((e) => ({
              NotBefore: gmt(e.notBefore),
              Code: e.code,
              Description: `[${stateOf(e) === "canceled" ? "Canceled" : "Completed"}] ${e.description}`,
              EventId: e.eventId,
              NotAfter: gmt(e.notAfter),
              State: stateOf(e),
            })),
        ),
      "/latest/meta-data/instance-id": () => inst.id,
      "/latest/meta-data/placement/region": () => world.region,
      "/latest/meta-data/placement/availability-zone": () => inst.az,
      "/latest/meta-data/local-ipv4": () => inst.privateIp,
      // One network interface, its primary private IPv4 first (EC2 user guide, "Instance metadata
      // categories": network/interfaces/macs/mac/local-ipv4s).
      "/latest/meta-data/network/interfaces/macs/": () => `${macOf(inst.id)}/`,
      [`/latest/meta-data/network/interfaces/macs/${macOf(inst.id)}/local-ipv4s`]: () =>
        [inst.privateIp, ...(inst.secondaryIps ?? [])].join("\n"),
      "/latest/meta-data/instance-type": () => inst.instanceType,
      "/latest/meta-data/autoscaling/target-lifecycle-state": () =>
        inst.groupName
          ? targetLifecycle(inst.lifecycleState, world.groups.get(inst.groupName)?.warmPoolState)
          : undefined,
      // An instance without an instance profile has no iam/ category at all: 404 (AWS's IMDS docs).
      ...(inst.role
        ? {
            "/latest/meta-data/iam/security-credentials/": () => inst.role,
            [`/latest/meta-data/iam/security-credentials/${inst.role}`]: () => creds,
            "/latest/meta-data/iam/security-credentials-extended/": () => inst.role,
            [`/latest/meta-data/iam/security-credentials-extended/${inst.role}`]: () => creds,
          }
        : {}),
      "/latest/dynamic/instance-identity/document": () =>
        JSON.stringify(
          {
            accountId: world.accountId,
            architecture: "x86_64",
            availabilityZone: inst.az,
            imageId: "ami-0abcdef1234567890",
            instanceId: inst.id,
            instanceType: inst.instanceType,
            pendingTime: new Date(inst.launchTime).toISOString(),
            privateIp: inst.privateIp,
            region: world.region,
            version: "2017-09-30",
          },
          null,
          2,
        ),
    };
    const body = routes[path]?.();
    if (body === undefined) return send(404, "");
    return send(
      200,
      body,
      path.endsWith("document") || path.includes("security-credentials") ? "application/json" : "text/plain",
    );
  }
}
