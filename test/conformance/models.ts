import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { Service } from "../sim/faults";

/**
 * AWS's machine-readable service models, as botocore ships them (`data/<service>/<version>/
 * service-2.json.gz`): the shapes, limits and documented errors the simulator is checked against.
 */
export interface Member {
  shape: string;
  locationName?: string;
  queryName?: string;
  flattened?: boolean;
  documentation?: string;
}

export interface Shape {
  type: string;
  members?: Record<string, Member>;
  member?: Member;
  required?: string[];
  enum?: string[];
  min?: number;
  max?: number;
  pattern?: string;
  flattened?: boolean;
  exception?: boolean;
  /** A server-side error (JSON models say so here, and carry no `error` block). */
  fault?: boolean;
  error?: { code?: string; httpStatusCode?: number; senderFault?: boolean };
  documentation?: string;
}

export interface Operation {
  name: string;
  input?: { shape: string };
  output?: { shape: string; resultWrapper?: string };
  errors?: { shape: string }[];
}

export interface Model {
  service: Service;
  metadata: { apiVersion: string; protocol: string; xmlNamespace: string; endpointPrefix: string };
  operations: Record<string, Operation>;
  shapes: Record<string, Shape>;
  paginators: Record<string, { input_token?: string; output_token?: string; limit_key?: string }>;
}

/** The model of each simulated API, by the directory botocore keeps it in. */
const MODEL_DIRS: Record<Exclude<Service, "imds">, string> = {
  autoscaling: "autoscaling/2011-01-01",
  elb: "elb/2012-06-01",
  elbv2: "elbv2/2015-12-01",
  ec2: "ec2/2016-11-15",
  dynamodb: "dynamodb/2012-08-10",
};

export type ModelledService = keyof typeof MODEL_DIRS;
export const MODELLED_SERVICES = Object.keys(MODEL_DIRS) as ModelledService[];

/** botocore's data directory, from the pyenv Python every machine of this kind has; or why not. */
export function botocoreData(): { dir: string } | { missing: string } {
  try {
    const dir = execFileSync(
      "python3",
      ["-c", "import botocore, os; print(os.path.join(os.path.dirname(botocore.__file__), 'data'))"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 20_000 },
    ).trim();
    if (existsSync(join(dir, MODEL_DIRS.autoscaling, "service-2.json.gz"))) return { dir };
    return { missing: `botocore at ${dir} has no service models` };
  } catch {
    return { missing: "needs python3 with botocore (pip install botocore)" };
  }
}

export function loadModel(dataDir: string, service: ModelledService): Model {
  const dir = join(dataDir, MODEL_DIRS[service]);
  const raw = JSON.parse(gunzipSync(readFileSync(join(dir, "service-2.json.gz"))).toString("utf8")) as Omit<
    Model,
    "service" | "paginators"
  >;
  const pagFile = join(dir, "paginators-1.json");
  const paginators = existsSync(pagFile)
    ? (JSON.parse(readFileSync(pagFile, "utf8")) as { pagination: Model["paginators"] }).pagination
    : {};
  return { ...raw, service, paginators };
}

/** A shape of the model, by name; a name the model lacks is a bug in the checker. */
export function shapeOf(model: Model, name: string): Shape {
  const s = model.shapes[name];
  if (!s) throw new Error(`model ${model.service} has no shape ${name}`);
  return s;
}

/**
 * The error codes the model lists for an operation, with their HTTP status: the query models state
 * it (`error.httpStatusCode`); DynamoDB's mark only a server fault (`fault`: 500), the rest are 400.
 */
export function documentedErrors(model: Model, action: string): Map<string, number> {
  return new Map([...documentedErrorShapes(model, action)].map(([code, e]) => [code, e.status]));
}

/** The same, with whether the model marks each the sender's fault (`senderFault`, even on a 500). */
export function documentedErrorShapes(
  model: Model,
  action: string,
): Map<string, { status: number; senderFault: boolean }> {
  const out = new Map<string, { status: number; senderFault: boolean }>();
  for (const e of model.operations[action]?.errors ?? []) {
    const s = shapeOf(model, e.shape);
    out.set(s.error?.code ?? e.shape, {
      status: s.error?.httpStatusCode ?? (s.fault ? 500 : 400),
      senderFault: s.error?.senderFault === true,
    });
  }
  return out;
}
