import { MetadataService } from "@aws-sdk/ec2-metadata-service";
import { notManageable } from "../errors";

/** Who this host is, from the instance metadata service (IMDSv2, falling back to v1 where allowed). */
export interface Identity {
  instanceId: string;
  region: string;
  availabilityZone: string;
  privateIp: string | undefined;
  /**
   * Every private IPv4 address of its network interfaces, the primary first: an IP target group may
   * list this host under a secondary one.
   */
  privateIps: string[];
  /** Something about the metadata service worth a line (IMDSv1 used because the token timed out). */
  note?: string;
}

/**
 * Off EC2 the metadata address is a black hole: a connection never completes. A quick try of one
 * second, then a patient one (below): the agent says "not on EC2" within about five seconds.
 */
const METADATA_TIMEOUT_MS = 1000;
/**
 * A metadata service that accepted the connection but answers slowly is there, just busy (a host
 * pegged by its own deploy): one more try, with patience, before giving up. So is one whose
 * connection seemed not to complete within the quick try when this process was starved of CPU: the
 * connect timeout is a timer, and a process that runs a second late sees that timer before the
 * connection that completed meanwhile (100 agents starting at once on 2 cores did: `npm run bench --
 * --only storm`).
 */
const METADATA_PATIENT_TIMEOUT_MS = 4000;

const connectedButSlow = (err: unknown) =>
  /requestTimeout|socket hang up/i.test((err as Error)?.message ?? "");
/** The SDK's HTTP handler's connection timeout (@smithy/node-http-handler, setConnectionTimeout). */
const connectTimedOut = (err: unknown) =>
  /did not establish a connection/i.test((err as Error)?.message ?? "");
/** Worth the patient try: the service is there but slow, or the quick try's timer may have lied. */
export const worthAPatientTry = (err: unknown) => connectedButSlow(err) || connectTimedOut(err);

type Metadata = Pick<MetadataService, "fetchMetadataToken" | "request"> & {
  /** One quick try only: after a token request that timed out, IMDS has had its patient chance. */
  quickRequest: MetadataService["request"];
};

/** Quick first, patient second, unless the first one was refused or answered. */
function metadataClient(): Metadata {
  const make = (timeout: number) =>
    new MetadataService({ httpOptions: { timeout }, retries: 0, disableFetchToken: true });
  const quick = make(METADATA_TIMEOUT_MS);
  const patient = make(METADATA_PATIENT_TIMEOUT_MS);
  const retrySlow = <T>(first: () => Promise<T>, second: () => Promise<T>) =>
    first().catch((err: unknown) => (worthAPatientTry(err) ? second() : Promise.reject(err)));
  return {
    quickRequest: (path, options) => quick.request(path, options),
    fetchMetadataToken: () =>
      retrySlow(
        () => quick.fetchMetadataToken(),
        () => patient.fetchMetadataToken(),
      ),
    request: (path, options) =>
      retrySlow(
        () => quick.request(path, options),
        () => patient.request(path, options),
      ),
  };
}

const endpointShown = () => process.env.AWS_EC2_METADATA_SERVICE_ENDPOINT ?? "http://169.254.169.254";

/** The HTTP status of a metadata service error, however the SDK reports it. */
export const statusOf = (err: unknown) => {
  const e = err as { statusCode?: number; $metadata?: { httpStatusCode?: number }; message?: string };
  return (
    e.statusCode ??
    e.$metadata?.httpStatusCode ??
    Number(/status code (\d+)/.exec(e.message ?? "")?.[1] ?? Number.NaN)
  );
};

export async function readIdentity(): Promise<Identity> {
  if (process.env.AWS_EC2_METADATA_DISABLED === "true") {
    throw notManageable(
      "instance metadata is disabled (AWS_EC2_METADATA_DISABLED=true), so this host cannot tell which instance it is",
    );
  }
  const md = metadataClient();
  const unreachable = (err: unknown) =>
    notManageable(
      `instance metadata unreachable at ${endpointShown()} (${(err as Error).message?.replace(/^Error making request to the metadata service: /, "") ?? String(err)}); is this an EC2 instance?`,
    );

  let token: string | undefined;
  let tokenTimedOut = false;
  try {
    token = await md.fetchMetadataToken();
  } catch (err) {
    // 403/404/405: IMDSv2 is off or blocked here; IMDSv1 may still answer. Connected but never
    // answered: the PUT's answer died on the way, as it does in a container when the instance's hop
    // limit is 1; IMDSv1 GETs may still answer. Anything else: no IMDS.
    if (connectedButSlow(err)) tokenTimedOut = true;
    else if (![403, 404, 405].includes(statusOf(err))) throw unreachable(err);
  }
  const HOP_LIMIT =
    "the IMDSv2 token request got no answer: the instance's metadata hop limit is likely 1 while this runs in a container (raise HttpPutResponseHopLimit to 2)";
  const headers: Record<string, string> = token ? { "x-aws-ec2-metadata-token": token } : {};
  const get = async (path: string): Promise<string | undefined> => {
    try {
      const request = tokenTimedOut ? md.quickRequest : md.request;
      return (await request(path, { headers: { ...headers } })).trim();
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) return undefined;
      if (status === 401) {
        throw notManageable(
          tokenTimedOut
            ? `instance metadata refused ${path} (401): this host requires IMDSv2 tokens, and ${HOP_LIMIT}`
            : `instance metadata refused ${path} (401): this host requires IMDSv2 tokens, and no token could be had`,
        );
      }
      throw unreachable(err);
    }
  };
  const [instanceId, region, availabilityZone, privateIp] = await Promise.all([
    get("/latest/meta-data/instance-id"),
    process.env.AWS_REGION
      ? Promise.resolve(process.env.AWS_REGION)
      : get("/latest/meta-data/placement/region"),
    get("/latest/meta-data/placement/availability-zone"),
    get("/latest/meta-data/local-ipv4"),
  ]);
  if (!instanceId) throw notManageable(`instance metadata at ${endpointShown()} has no instance id`);
  const macs = (await get("/latest/meta-data/network/interfaces/macs/"))?.split("\n") ?? [];
  const onInterfaces = await Promise.all(
    macs
      .map((m) => m.trim().replace(/\/$/, ""))
      .filter(Boolean)
      .map((mac) => get(`/latest/meta-data/network/interfaces/macs/${mac}/local-ipv4s`)),
  );
  const privateIps = [
    ...new Set([privateIp, ...onInterfaces.flatMap((ips) => ips?.split("\n") ?? [])].filter(Boolean)),
  ].map((ip) => ip!.trim());
  if (!region) throw notManageable("no region: instance metadata has none and AWS_REGION is not set");
  return {
    instanceId,
    region,
    availabilityZone: availabilityZone ?? "",
    privateIp,
    privateIps,
    ...(tokenTimedOut ? { note: `${HOP_LIMIT}; using IMDSv1` } : {}),
  };
}
