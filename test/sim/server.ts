import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { applyEvent, type SimEvent } from "./events";
import {
  FaultBook,
  type FaultBook as FaultBookType,
  type FaultSpec,
  isRead,
  type Service,
  seededRandom,
} from "./faults";
import type { FleetFile } from "./fleet";
import { ImdsServer } from "./imds";
import { overLimit } from "./limits";
import { parseQuery, type QueryTree, str, structList } from "./query";
import { AUTOSCALING_XMLNS, autoscalingActions } from "./services/autoscaling";
import type { ActionHandler } from "./services/common";
import { DYNAMODB_TARGET_PREFIX, dynamodbActions } from "./services/dynamodb";
import { EC2_XMLNS, ec2Actions } from "./services/ec2";
import { ELB_XMLNS, elbActions } from "./services/elb";
import { ELBV2_XMLNS, elbv2Actions } from "./services/elbv2";
import { SimError, World } from "./world";
import { ec2Error, ec2Response, queryError, queryResponse } from "./xml";

export interface SimOptions {
  timeScale?: number;
  port?: number;
  /** Seeds the faults' random draws (probability, jitter, staleness), so a chaos trial replays. */
  seed?: number;
  /**
   * Where hosts get credentials: "instance-profile" (default, as on EC2: from the metadata service,
   * temporary, with a session token) or "static" (access keys in each host's environment).
   */
  credentials?: "instance-profile" | "static";
  /**
   * Called with every AWS API exchange that got an answer (the conformance test checks each against
   * AWS's models); lost and dropped answers have none.
   */
  onExchange?: (exchange: Exchange) => void;
  /**
   * An Auto Scaling write keeps its group "pending" while in flight, and this long after its answer
   * (default 0): another write to the group meanwhile is answered ResourceContention.
   */
  contentionMs?: number;
}

/** One API call as it crossed the wire: the form body sent, and the status and XML answered. */
export interface Exchange {
  service: Service;
  action: string;
  request: string;
  status: number;
  response: string;
}

export interface HostInfo {
  imds: string;
  /** What a process on this host has in its environment: region, endpoints, metadata address. */
  env: Record<string, string>;
  /** The host's credentials, for tests that call AWS as this host through the SDK directly. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export interface CallRecord {
  t: number;
  service: Service;
  action: string;
  host: string | undefined;
  status: number;
  outcome: string;
}

export interface Sim {
  endpoint: string;
  control: string;
  hosts: Record<string, HostInfo>;
  /** The live world, for in-process tests. */
  world(): World;
  faults: FaultBookType;
  calls: CallRecord[];
  stop(): Promise<void>;
}

interface ServiceDef {
  service: Service;
  signingName: string;
  xmlns: string;
  actions: Record<string, ActionHandler>;
  ec2Dialect: boolean;
}

/** DynamoDB speaks JSON 1.0: the action is in X-Amz-Target, errors are `{"__type","message"}`. */
const DYNAMODB: ServiceDef = {
  service: "dynamodb",
  signingName: "dynamodb",
  xmlns: "",
  actions: {},
  ec2Dialect: false,
};

/**
 * The query protocol's shared error codes as DynamoDB names them (API Reference, "Common Errors";
 * botocore's dynamodb model for the service's own).
 */
const JSON_CODES: Record<string, string> = {
  InvalidAction: "UnknownOperationException",
  MissingAuthenticationToken: "MissingAuthenticationTokenException",
  SignatureDoesNotMatch: "InvalidSignatureException",
  InvalidClientTokenId: "UnrecognizedClientException",
  AccessDenied: "AccessDeniedException",
  Throttling: "ThrottlingException",
  InternalFailure: "InternalServerError",
};

/** The query protocol's Version parameter says which API a request is for. */
const BY_VERSION: Record<string, ServiceDef> = {
  "2011-01-01": {
    service: "autoscaling",
    signingName: "autoscaling",
    xmlns: AUTOSCALING_XMLNS,
    actions: autoscalingActions,
    ec2Dialect: false,
  },
  "2012-06-01": {
    service: "elb",
    signingName: "elasticloadbalancing",
    xmlns: ELB_XMLNS,
    actions: elbActions,
    ec2Dialect: false,
  },
  "2015-12-01": {
    service: "elbv2",
    signingName: "elasticloadbalancing",
    xmlns: ELBV2_XMLNS,
    actions: elbv2Actions,
    ec2Dialect: false,
  },
  "2016-11-15": {
    service: "ec2",
    signingName: "ec2",
    xmlns: EC2_XMLNS,
    actions: ec2Actions,
    ec2Dialect: true,
  },
};

const CREDENTIAL_SCOPE = /Credential=([^/,\s]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/;

/** The dummy access key the simulator hands each host, so it can tell which host called. */
export const accessKeyFor = (instanceId: string) =>
  `AKIA${instanceId.replace(/^i-/, "").toUpperCase().padEnd(16, "0")}`;

/** Temporary credentials from an instance profile start with ASIA, as AWS's do. */
const temporaryKeyFor = (instanceId: string) => accessKeyFor(instanceId).replace(/^AKIA/, "ASIA");

/**
 * SigV4 refuses a request signed more than 5 minutes from the service's clock, in either direction
 * (AWS General Reference, "Signature Version 4": the request date must be within 5 minutes); the SDKs
 * read the answer's Date header and correct their clock offset (clock skew correction).
 */
const MAX_SKEW_MS = 5 * 60_000;

const amzDate = (t: number) => new Date(t).toISOString().replace(/[-:]|\.\d{3}/g, "");

function skewError(signedAt: number, now: number): string | undefined {
  if (signedAt < now - MAX_SKEW_MS)
    return `Signature expired: ${amzDate(signedAt)} is now earlier than ${amzDate(now - MAX_SKEW_MS)} (${amzDate(now)} - 5 min.)`;
  if (signedAt > now + MAX_SKEW_MS)
    return `Signature not yet current: ${amzDate(signedAt)} is still later than ${amzDate(now + MAX_SKEW_MS)} (${amzDate(now)} + 5 min.)`;
  return undefined;
}

const parseAmzDate = (v: string | undefined) => {
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(v ?? "");
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : undefined;
};

/** A request's whole body, as text. */
export const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startSim(fleet: FleetFile, options: SimOptions = {}): Promise<Sim> {
  const timeScale = options.timeScale ?? 1;
  let world = new World(fleet, timeScale);
  const faults = new FaultBook(options.seed === undefined ? Math.random : seededRandom(options.seed));
  const calls: CallRecord[] = [];
  /**
   * When updates to one Auto Scaling group overlap, AWS answers the later ones ResourceContention.
   * AWS does not say how long an update stays pending; here, from the call's arrival at AWS (after
   * any injected latency) until it is answered (a slow apply widens it), plus `contentionMs` after.
   */
  const contentionMs = options.contentionMs ?? 0;
  const inFlight = new Map<string, number>();
  const pendingUntil = new Map<string, number>();
  const groupsOf = (params: QueryTree) => [
    ...new Set(
      [
        str(params, "AutoScalingGroupName"),
        ...structList(params, "Tags").map((t) => str(t, "ResourceId")),
      ].filter((g): g is string => g !== undefined),
    ),
  ];
  const contended = (groups: string[]) =>
    groups.some((g) => (inFlight.get(g) ?? 0) > 0 || (pendingUntil.get(g) ?? 0) > Date.now());
  /** Marks the groups' update pending until `res` is answered or its connection dropped. */
  const pendingWhile = (groups: string[], res: ServerResponse) => {
    for (const g of groups) inFlight.set(g, (inFlight.get(g) ?? 0) + 1);
    const done = () => {
      for (const g of groups) {
        inFlight.set(g, (inFlight.get(g) ?? 1) - 1);
        pendingUntil.set(g, Math.max(pendingUntil.get(g) ?? 0, Date.now() + contentionMs));
      }
    };
    // A caller that already gave up (its connection closed while the call was on its way) gets no
    // answer: the update is pending only while it is applied, now.
    if (res.socket === null || res.socket.destroyed) setImmediate(done);
    else res.once("close", done);
  };
  const keyToHost = new Map<string, string>();
  /** Session tokens of temporary credentials, by access key: a request must carry the right one. */
  const tokenOfKey = new Map<string, string>();
  const imdsServers: ImdsServer[] = [];

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(err));
    });
  });

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body, null, 2));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://sim");
    if (url.pathname.startsWith("/_sim/")) return control(req, res, url);
    const body = await readBody(req);
    world.clock.flush();
    const requestId = randomUUID();
    const target = req.headers["x-amz-target"];
    const jsonAction =
      typeof target === "string" && target.startsWith(DYNAMODB_TARGET_PREFIX)
        ? target.slice(DYNAMODB_TARGET_PREFIX.length)
        : undefined;
    const params = jsonAction === undefined ? parseQuery(body) : {};
    const action = jsonAction ?? str(params, "Action") ?? "";
    const def = jsonAction === undefined ? BY_VERSION[str(params, "Version") ?? ""] : DYNAMODB;
    const auth = req.headers.authorization ?? "";
    const scope = CREDENTIAL_SCOPE.exec(auth);
    const host = scope ? keyToHost.get(scope[1]!) : undefined;
    const service: Service = def?.service ?? "autoscaling";
    const record = (status: number, outcome: string) =>
      calls.push({ t: Date.now(), service, action, host, status, outcome });
    const answer = (status: number, xml: string) => {
      res.writeHead(status, { "content-type": "text/xml", "x-amzn-requestid": requestId }).end(xml);
      options.onExchange?.({ service, action, request: body, status, response: xml });
    };

    const answerJsonBody = (status: number, value: unknown) => {
      const text = JSON.stringify(value);
      res
        .writeHead(status, { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": requestId })
        .end(text);
      options.onExchange?.({ service, action, request: body, status, response: text });
    };

    const fail = (status: number, code: string, message: string, type: "Sender" | "Receiver" = "Sender") => {
      if (def === DYNAMODB) {
        const jsonCode = JSON_CODES[code] ?? code;
        // DynamoDB answers its authentication and authorisation refusals with 400, where the query
        // APIs use 403 ("Error handling with DynamoDB", HTTP status code 400).
        const jsonStatus = status === 403 ? 400 : status;
        record(jsonStatus, jsonCode);
        answerJsonBody(jsonStatus, { __type: `com.amazonaws.dynamodb.v20120810#${jsonCode}`, message });
        return;
      }
      record(status, code);
      const xml = def?.ec2Dialect
        ? ec2Error(code, message, requestId)
        : queryError(def?.xmlns ?? AUTOSCALING_XMLNS, type, code, message, requestId);
      answer(status, xml);
    };

    // Auto Scaling's writes document ResourceContention: "You already have a pending update to an
    // Amazon EC2 Auto Scaling resource (for example, an Auto Scaling group, instance, or load
    // balancer)", HTTP 500, the sender's fault (botocore's model, ResourceContentionFault). Not applied.
    const contention = () =>
      fail(
        500,
        "ResourceContention",
        "You already have a pending update to an Amazon EC2 Auto Scaling resource (for example, an Auto Scaling group, instance, or load balancer).",
      );

    if (req.method !== "POST")
      return fail(400, "InvalidAction", "Only POST query requests are supported by this simulator.");
    if (!def)
      return fail(
        400,
        "InvalidAction",
        `Could not find operation ${action} for version ${str(params, "Version") ?? "(none)"}`,
      );
    if (!scope) return fail(403, "MissingAuthenticationToken", "Request is missing Authentication Token");
    if (scope[2] !== world.region) {
      return fail(
        403,
        "SignatureDoesNotMatch",
        `Credential should be scoped to a valid region, not '${scope[2]}'.`,
      );
    }
    if (scope[3] !== def.signingName) {
      return fail(
        403,
        "SignatureDoesNotMatch",
        `Credential should be scoped to correct service: '${def.signingName}'.`,
      );
    }

    if (!keyToHost.has(scope[1]!) || tokenOfKey.get(scope[1]!) !== req.headers["x-amz-security-token"])
      return service === "ec2"
        ? fail(401, "AuthFailure", "AWS was not able to validate the provided access credentials")
        : fail(403, "InvalidClientTokenId", "The security token included in the request is invalid.");
    const signedAt = parseAmzDate(req.headers["x-amz-date"] as string | undefined);
    const skewed = signedAt === undefined ? "Missing X-Amz-Date" : skewError(signedAt, Date.now());
    if (skewed)
      return service === "ec2"
        ? fail(400, "RequestExpired", "Request has expired.")
        : fail(403, "SignatureDoesNotMatch", skewed);

    const outcome = faults.evaluate(service, action, host, Date.now());
    if (outcome.delayMs > 0) await sleep(outcome.delayMs);
    // Pending at AWS from the call's arrival there (after the network's latency) to its answer.
    if (service === "autoscaling" && !isRead(action)) {
      const groups = groupsOf(params);
      if (contended(groups)) return contention();
      pendingWhile(groups, res);
    }
    if (outcome.kind === "drop") {
      record(0, "dropped");
      req.socket.destroy();
      return;
    }
    if (outcome.kind === "throttle") {
      return service === "ec2"
        ? fail(503, "RequestLimitExceeded", "Request limit exceeded.")
        : fail(400, "Throttling", "Rate exceeded");
    }
    if (outcome.kind === "resource-contention") {
      return contention();
    }
    if (outcome.kind === "error") {
      const status = outcome.fault.status ?? 500;
      return status === 503
        ? fail(503, "ServiceUnavailable", "Service is unavailable. Please try again later.", "Receiver")
        : fail(status, "InternalFailure", "An internal error occurred. Please try again.", "Receiver");
    }
    if (def === DYNAMODB) return answerJson(action, body, outcome, fail, record, answerJsonBody, res);
    const handler = def.actions[action];
    if (outcome.kind === "deny") {
      const iamAction = `${def.signingName}:${action}`;
      const who = `arn:aws:sts::${world.accountId}:assumed-role/balanced-instance-role/${host ?? "unknown"}`;
      return service === "ec2"
        ? fail(
            403,
            "UnauthorizedOperation",
            `You are not authorized to perform this operation. User: ${who} is not authorized to perform: ${iamAction} because no identity-based policy allows the ${iamAction} action`,
          )
        : fail(
            403,
            "AccessDenied",
            `User: ${who} is not authorized to perform: ${iamAction} because no identity-based policy allows the ${iamAction} action`,
          );
    }
    if (!handler)
      return fail(400, "InvalidAction", `The action ${action} is not valid for this web service.`);
    const tooMany = overLimit(service, action, params);
    if (tooMany) return fail(400, tooMany.code, tooMany.message);

    const read = isRead(action);
    const slow = outcome.slow;
    if (slow?.applyAt === "end") await sleep(slow.ms);
    try {
      // A stale read answers from the world as it was; what a call changes is seen by later reads.
      const view = read && outcome.staleMs > 0 ? world.viewAt(outcome.staleMs) : world;
      const result = handler({ world: view, params, host, faults });
      if (!read) world.recordServing();
      if (slow?.applyAt === "start") await sleep(slow.ms);
      if (outcome.lost) {
        // Applied, but the answer never arrives: the client sees a dropped connection and retries.
        record(0, "lost-response");
        req.socket.destroy();
        return;
      }
      record(200, "ok");
      const xml = def.ec2Dialect
        ? ec2Response(action, def.xmlns, result ?? {}, requestId)
        : queryResponse(action, def.xmlns, result, requestId);
      answer(200, xml);
    } catch (err) {
      if (err instanceof SimError) {
        if (outcome.lost) {
          record(0, `lost-response ${err.code}`);
          req.socket.destroy();
          return;
        }
        return fail(err.status, err.code, err.message, err.type);
      }
      throw err;
    }
  }

  /** A DynamoDB call past authentication and the faults that refuse it unprocessed. */
  async function answerJson(
    action: string,
    body: string,
    outcome: ReturnType<FaultBookType["evaluate"]>,
    fail: (status: number, code: string, message: string) => void,
    record: (status: number, outcome: string) => void,
    answerJsonBody: (status: number, value: unknown) => void,
    res: ServerResponse,
  ): Promise<void> {
    if (outcome.kind === "deny")
      return fail(
        400,
        "AccessDenied",
        `User: arn:aws:sts::${world.accountId}:assumed-role/balanced-instance-role is not authorized to perform: dynamodb:${action}`,
      );
    const handler = dynamodbActions[action];
    if (!handler) return fail(400, "InvalidAction", "");
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body) as Record<string, unknown>;
    } catch {
      return fail(400, "SerializationException", "Start of structure or map found where not expected");
    }
    const slow = outcome.slow;
    if (slow?.applyAt === "end") await sleep(slow.ms);
    const lose = () => {
      record(0, "lost-response");
      res.socket?.destroy();
    };
    try {
      const staleWorld = outcome.staleMs > 0 ? world.viewAt(outcome.staleMs) : world;
      const result = handler({ world, input, staleWorld });
      if (slow?.applyAt === "start") await sleep(slow.ms);
      if (outcome.lost) return lose();
      record(200, "ok");
      answerJsonBody(200, result);
    } catch (err) {
      if (!(err instanceof SimError)) throw err;
      if (outcome.lost) return lose();
      const extra = (err as SimError & { extra?: Record<string, unknown> }).extra;
      record(err.status, err.code);
      answerJsonBody(err.status, {
        __type: `com.amazonaws.dynamodb.v20120810#${err.code}`,
        message: err.message,
        ...extra,
      });
    }
  }

  /** The world keeps as much past as the stalest read may ask for, starting with the present. */
  function keepPast(): void {
    world.keepPastMs = faults.maxStaleMs();
    world.recordServing();
  }

  async function control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    world.clock.flush();
    const route = `${req.method} ${url.pathname}`;
    const input = req.method === "POST" ? await readBody(req) : "";
    const payload = input ? (JSON.parse(input) as unknown) : {};
    try {
      switch (route) {
        case "GET /_sim/state":
          return json(res, 200, snapshotState(world));
        case "GET /_sim/calls":
          return json(res, 200, calls);
        case "GET /_sim/history":
          // Per group; with ?all, per load balancer too, in time order (a stable sort keeps each
          // instant's changes in the order they were recorded).
          return json(
            res,
            200,
            url.searchParams.has("all")
              ? [...world.history, ...world.lbHistory].sort((a, b) => a.t - b.t)
              : world.history,
          );
        case "GET /_sim/faults":
          return json(res, 200, faults.list());
        case "POST /_sim/faults": {
          const specs = Array.isArray(payload) ? (payload as FaultSpec[]) : [payload as FaultSpec];
          const added = specs.map((s) => faults.add(s));
          keepPast();
          return json(res, 200, added);
        }
        case "DELETE /_sim/faults":
          faults.clear();
          keepPast();
          return json(res, 200, { ok: true });
        case "POST /_sim/events": {
          const events = Array.isArray(payload) ? (payload as SimEvent[]) : [payload as SimEvent];
          return json(
            res,
            200,
            events.map((e) => {
              const applied = applyEvent(world, e);
              world.recordServing();
              return applied;
            }),
          );
        }
        case "POST /_sim/reset":
          world.stop();
          world = new World(fleet, timeScale);
          faults.clear();
          calls.length = 0;
          return json(res, 200, { ok: true });
        default:
          return json(res, 404, { error: `no control route ${route}` });
      }
    } catch (err) {
      return json(res, 400, { error: err instanceof Error ? err.message : String(err) });
    }
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const hosts: Record<string, HostInfo> = {};
  const fromProfile = (options.credentials ?? "instance-profile") === "instance-profile";
  for (const inst of world.instances.values()) {
    const credentials = fromProfile
      ? {
          accessKeyId: temporaryKeyFor(inst.id),
          secretAccessKey: `sim-secret-${inst.id}`,
          sessionToken: `sim-session-token-${inst.id}`,
        }
      : { accessKeyId: accessKeyFor(inst.id), secretAccessKey: `sim-secret-${inst.id}` };
    keyToHost.set(credentials.accessKeyId, inst.id);
    if (credentials.sessionToken) tokenOfKey.set(credentials.accessKeyId, credentials.sessionToken);
    const imds = new ImdsServer(
      inst.id,
      () => world,
      faults,
      credentials,
      (path, status) =>
        calls.push({
          t: Date.now(),
          service: "imds",
          action: path,
          host: inst.id,
          status,
          outcome: status === 200 ? "ok" : String(status),
        }),
    );
    imdsServers.push(imds);
    const imdsUrl = await imds.listen();
    hosts[inst.id] = {
      imds: imdsUrl,
      credentials,
      env: {
        AWS_REGION: world.region,
        ...(fromProfile
          ? {}
          : {
              AWS_ACCESS_KEY_ID: credentials.accessKeyId,
              AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
            }),
        AWS_ENDPOINT_URL_AUTO_SCALING: endpoint,
        AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING: endpoint,
        AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: endpoint,
        AWS_ENDPOINT_URL_EC2: endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: endpoint,
        AWS_EC2_METADATA_SERVICE_ENDPOINT: imdsUrl,
      },
    };
  }

  return {
    endpoint,
    control: `${endpoint}/_sim`,
    hosts,
    world: () => world,
    faults,
    calls,
    async stop() {
      world.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all(imdsServers.map((s) => s.close()));
    },
  };
}

/** The whole fleet as plain JSON, for `GET /_sim/state` and for tests' assertions. */
export function snapshotState(world: World) {
  return {
    now: new Date(world.clock.now()).toISOString(),
    timeScale: world.clock.timeScale,
    groups: [...world.groups.values()].map((g) => ({
      name: g.name,
      min: g.min,
      max: g.max,
      desired: g.desired,
      suspended: [...g.suspended.keys()],
      tags: Object.fromEntries([...g.tags].map(([k, t]) => [k, t.value])),
      loadBalancerNames: g.loadBalancerNames,
      targetGroupArns: g.targetGroupArns,
      activities: g.activities.map((a) => ({
        id: a.activityId,
        description: a.description,
        statusCode: a.statusCode,
        progress: a.progress,
        startTime: a.startTime,
        endTime: a.endTime ?? null,
      })),
      refreshes: g.refreshes.map((r) => ({ id: r.id, status: r.status })),
    })),
    instances: [...world.instances.values()].map((i) => ({
      id: i.id,
      group: i.groupName ?? null,
      lifecycleState: i.lifecycleState,
      health: i.health,
      privateIp: i.privateIp,
      ec2State: i.ec2State,
    })),
    loadBalancers: [...world.classicLbs.values()].map((lb) => ({
      name: lb.name,
      instances: Object.fromEntries([...lb.registrations].map(([id, r]) => [id, r.state])),
      tags: Object.fromEntries(lb.tags),
    })),
    targetGroups: [...world.targetGroups.values()].map((tg) => ({
      name: tg.name,
      arn: tg.arn,
      targets: [...tg.targets.values()].map((t) => ({
        id: t.id,
        port: t.port,
        state: t.state,
        reason: t.reason ?? null,
      })),
      tags: Object.fromEntries(tg.tags),
    })),
    tables: [...world.tables.values()].map((t) => ({
      name: t.name,
      status: t.status,
      items: [...t.items.values()].map((i) => ({
        key: i[t.keyName]?.S ?? "",
        turn: i.turn?.S ?? null,
        expiresAt: i.expiresAt?.N === undefined ? null : Number(i.expiresAt.N),
      })),
    })),
  };
}

export type SimState = ReturnType<typeof snapshotState>;
