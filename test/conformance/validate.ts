import {
  documentedErrorShapes,
  documentedErrors,
  type Member,
  type Model,
  type Shape,
  shapeOf,
} from "./models";
import { readXml, type XmlElement } from "./xml-read";

/**
 * Checks one exchange against AWS's model of the operation: the request as the SDK serialised it
 * (the query protocol's `A.member.1.B=v`, EC2's `A.1.B=v`) and the answer as the simulator wrote it
 * (element names, nesting, list wrappers, required members, enums, lengths, numbers, timestamps),
 * or its error (a code the operation documents, or one every action of the API may return).
 * Each problem is one line naming where it is; none means the exchange conforms.
 */

/** Errors any action of a query API may return, with their HTTP status. */
const QUERY_COMMON_ERRORS: Record<string, number> = {
  // "Common Errors", in each API reference (docs.aws.amazon.com/autoscaling/ec2/APIReference/
  // CommonErrors.html; the ELB and ELBv2 references have the same page).
  AccessDeniedException: 400,
  IncompleteSignature: 400,
  InternalFailure: 500,
  InvalidAction: 400,
  InvalidClientTokenId: 403,
  NotAuthorized: 400,
  OptInRequired: 403,
  RequestExpired: 400,
  ServiceUnavailable: 503,
  ThrottlingException: 400,
  ValidationError: 400,
  // Older editions of the same page, and what these APIs answer on the wire: "Throttling" (which the
  // SDK's retry strategy lists beside ThrottlingException), "AccessDenied" for an IAM denial (IAM
  // User Guide, "Troubleshoot access denied error messages"), SigV4's own refusals.
  Throttling: 400,
  AccessDenied: 403,
  MissingAuthenticationToken: 403,
  SignatureDoesNotMatch: 403,
  InvalidParameterValue: 400,
  MissingParameter: 400,
};

/**
 * EC2's model documents no errors per operation; "Error codes for the Amazon EC2 API"
 * (docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html) lists the common client
 * codes, the action-specific ones the simulator's two actions can give, and the server codes.
 */
const EC2_ERRORS: Record<string, number> = {
  AuthFailure: 401,
  IncompleteSignature: 400,
  InvalidAction: 400,
  InvalidClientTokenId: 401,
  InvalidParameterValue: 400,
  MissingAuthenticationToken: 401,
  RequestExpired: 400,
  UnauthorizedOperation: 403,
  ValidationError: 400,
  FilterLimitExceeded: 400,
  "InvalidInstanceID.Malformed": 400,
  "InvalidInstanceID.NotFound": 400,
  RequestLimitExceeded: 503,
  InternalError: 500,
  Unavailable: 503,
};

type Tree = string | Tree[] | { [k: string]: Tree };

const cap = (s: string) => s[0]!.toUpperCase() + s.slice(1);

export class Checker {
  constructor(readonly model: Model) {}

  private shape(name: string): Shape {
    return shapeOf(this.model, name);
  }

  private get ec2() {
    return this.model.metadata.protocol === "ec2";
  }

  /** A member's name in a request. */
  private queryName(name: string, m: Member): string {
    if (this.ec2) return m.queryName ?? (m.locationName ? cap(m.locationName) : name);
    return m.locationName ?? name;
  }

  /** A member's element name in an answer. */
  private xmlName(name: string, m: Member): string {
    return m.locationName ?? name;
  }

  /** The exchange's problems, each prefixed "request" or "answer". */
  checkExchange(x: { action: string; request: string; status: number; response: string }): string[] {
    return [
      ...this.checkRequest(x.request).problems.map((p) => `request ${p}`),
      ...this.checkResponse(x.action, x.status, x.response).map((p) => `answer ${p}`),
    ];
  }

  // ---- requests -------------------------------------------------------------------------------

  checkRequest(body: string): { action: string; problems: string[] } {
    const params = new URLSearchParams(body);
    const action = params.get("Action") ?? "";
    const problems: string[] = [];
    const op = this.model.operations[action];
    if (!op) return { action, problems: [`${action}: not an operation of ${this.model.service}`] };
    if (params.get("Version") !== this.model.metadata.apiVersion)
      problems.push(`${action}: Version ${params.get("Version")} is not ${this.model.metadata.apiVersion}`);
    const tree: { [k: string]: Tree } = {};
    for (const [key, value] of params) {
      if (key === "Action" || key === "Version") continue;
      if (!op.input) {
        problems.push(`${action}: takes no input, got ${key}`);
        continue;
      }
      const p = this.placeParam(tree, op.input.shape, key.split("."), value);
      if (p) problems.push(`${action}: ${key}: ${p}`);
    }
    if (op.input) this.checkValue(tree, op.input.shape, action, problems, "request");
    return { action, problems };
  }

  /** Puts one form parameter where its path says in `tree`; a message when the path is not the model's. */
  private placeParam(tree: { [k: string]: Tree }, shapeName: string, path: string[], value: string) {
    let node: Tree = tree;
    let shape = this.shape(shapeName);
    let i = 0;
    while (i < path.length) {
      const seg = path[i]!;
      if (shape.type === "structure") {
        const entry = Object.entries(shape.members ?? {}).find(([n, m]) => this.queryName(n, m) === seg);
        if (!entry) return `no member "${seg}" in ${shapeName}`;
        const [memberName, member] = entry;
        const obj = node as { [k: string]: Tree };
        const childShape = this.shape(member.shape);
        i++;
        if (i === path.length) {
          if (childShape.type === "list" && value === "") obj[memberName] = [];
          else if (childShape.type === "structure" || childShape.type === "list")
            return `${memberName} is a ${childShape.type}, given a scalar`;
          else obj[memberName] = value;
          return undefined;
        }
        obj[memberName] ??= childShape.type === "list" ? [] : {};
        node = obj[memberName]!;
        shapeName = member.shape;
        shape = childShape;
      } else if (shape.type === "list") {
        const flattened = this.ec2 || shape.flattened;
        if (!flattened) {
          const wrapper = shape.member!.locationName ?? "member";
          if (seg !== wrapper) return `list ${shapeName} wants ".${wrapper}.N", got ".${seg}"`;
          i++;
        }
        const idx = path[i];
        if (idx === undefined || !/^[1-9]\d*$/.test(idx)) return `list ${shapeName} wants an index from 1`;
        i++;
        const arr = node as Tree[];
        const memberShape = this.shape(shape.member!.shape);
        const at = Number(idx) - 1;
        if (i === path.length) {
          if (memberShape.type === "structure" || memberShape.type === "list")
            return `element of ${shapeName} is a ${memberShape.type}, given a scalar`;
          arr[at] = value;
          return undefined;
        }
        arr[at] ??= memberShape.type === "list" ? [] : {};
        node = arr[at]!;
        shapeName = shape.member!.shape;
        shape = memberShape;
      } else {
        return `${shapeName} is a ${shape.type} and has no part "${seg}"`;
      }
    }
    return undefined;
  }

  // ---- answers --------------------------------------------------------------------------------

  checkResponse(action: string, status: number, xml: string): string[] {
    const problems: string[] = [];
    let root: XmlElement;
    try {
      root = readXml(xml);
    } catch (err) {
      return [`${action}: ${(err as Error).message}`];
    }
    if (status !== 200) return this.checkError(action, status, root);
    const op = this.model.operations[action];
    if (!op) return [`${action}: not an operation of ${this.model.service}`];
    if (root.name !== `${action}Response`) problems.push(`${action}: root is <${root.name}>`);
    const ns = this.model.metadata.xmlNamespace.replace(/\/$/, "");
    if ((root.attrs.xmlns ?? "").replace(/\/$/, "") !== ns)
      problems.push(`${action}: xmlns "${root.attrs.xmlns}" is not "${this.model.metadata.xmlNamespace}"`);
    if (this.ec2) {
      const [first, ...rest] = root.children;
      if (first?.name !== "requestId") problems.push(`${action}: EC2 answers begin with <requestId>`);
      if (op.output) this.checkStructure({ ...root, children: rest }, op.output.shape, action, problems);
      else if (rest.length) problems.push(`${action}: has no output, answered <${rest[0]!.name}>`);
      return problems;
    }
    const meta = root.children.find((c) => c.name === "ResponseMetadata");
    if (!meta?.children.some((c) => c.name === "RequestId" && c.text))
      problems.push(`${action}: no ResponseMetadata/RequestId`);
    const others = root.children.filter((c) => c.name !== "ResponseMetadata");
    const wrapper = op.output?.resultWrapper;
    if (!wrapper) {
      if (others.length) problems.push(`${action}: has no output, answered <${others[0]!.name}>`);
      return problems;
    }
    const result = others.find((c) => c.name === wrapper);
    if (others.some((c) => c.name !== wrapper))
      problems.push(`${action}: unexpected <${others.find((c) => c.name !== wrapper)!.name}>`);
    const outShape = this.shape(op.output!.shape);
    if (!result) {
      // AWS always writes the result element; the SDK would accept its absence only for no members.
      if (Object.keys(outShape.members ?? {}).length)
        problems.push(`${action}: no <${wrapper}> although ${op.output!.shape} has members`);
      return problems;
    }
    this.checkStructure(result, op.output!.shape, action, problems);
    return problems;
  }

  private checkError(action: string, status: number, root: XmlElement): string[] {
    let code: string | undefined;
    const problems: string[] = [];
    if (this.ec2) {
      if (root.name !== "Response") problems.push(`${action} error: root is <${root.name}>, not <Response>`);
      const err = root.children.find((c) => c.name === "Errors")?.children.find((c) => c.name === "Error");
      code = err?.children.find((c) => c.name === "Code")?.text;
      if (!err?.children.some((c) => c.name === "Message"))
        problems.push(`${action} error: no Errors/Error/Message`);
      if (!root.children.some((c) => c.name === "RequestID")) problems.push(`${action} error: no RequestID`);
      const expected = code === undefined ? undefined : EC2_ERRORS[code];
      if (expected === undefined) problems.push(`${action}: error ${code} is not one EC2 documents`);
      else if (expected !== status)
        problems.push(`${action}: ${code} with HTTP ${status}, AWS uses ${expected}`);
      return problems;
    }
    if (root.name !== "ErrorResponse") problems.push(`${action} error: root is <${root.name}>`);
    const err = root.children.find((c) => c.name === "Error");
    code = err?.children.find((c) => c.name === "Code")?.text;
    const type = err?.children.find((c) => c.name === "Type")?.text;
    if (type !== "Sender" && type !== "Receiver") problems.push(`${action} error: Type "${type}"`);
    if (!err?.children.some((c) => c.name === "Message")) problems.push(`${action} error: no Message`);
    if (!root.children.some((c) => c.name === "RequestId")) problems.push(`${action} error: no RequestId`);
    const documented = documentedErrors(this.model, action);
    const expected = code === undefined ? undefined : (documented.get(code) ?? QUERY_COMMON_ERRORS[code]);
    if (expected === undefined)
      problems.push(
        `${action}: error ${code} is neither documented for it (${[...documented.keys()].join(", ") || "none"}) nor common`,
      );
    else if (expected !== status)
      problems.push(`${action}: ${code} with HTTP ${status}, the model says ${expected}`);
    // A 5xx is the Receiver's, unless the model marks the error the sender's (ResourceContention: 500).
    const senderFault =
      code !== undefined && documentedErrorShapes(this.model, action).get(code)?.senderFault;
    if (status >= 500 && !senderFault && type !== "Receiver")
      problems.push(`${action}: a ${status} is the Receiver's fault`);
    if (senderFault && type !== "Sender")
      problems.push(`${action}: the model says ${code} is the Sender's fault`);
    return problems;
  }

  private checkStructure(el: XmlElement, shapeName: string, where: string, problems: string[]): void {
    const shape = this.shape(shapeName);
    const members = Object.entries(shape.members ?? {});
    const seen = new Set<string>();
    for (const child of el.children) {
      const entry = members.find(([n, m]) => this.xmlName(n, m) === child.name);
      if (!entry) {
        problems.push(`${where}: <${child.name}> is no member of ${shapeName}`);
        continue;
      }
      const [name, member] = entry;
      const flattened = this.shape(member.shape).flattened;
      if (seen.has(name) && !flattened) problems.push(`${where}.${name}: given twice`);
      seen.add(name);
      this.checkElement(child, member.shape, `${where}.${name}`, problems);
    }
    for (const r of shape.required ?? [])
      if (!seen.has(r)) problems.push(`${where}: required ${r} missing from ${shapeName}`);
  }

  private checkElement(el: XmlElement, shapeName: string, where: string, problems: string[]): void {
    const shape = this.shape(shapeName);
    switch (shape.type) {
      case "structure":
        this.checkStructure(el, shapeName, where, problems);
        return;
      case "list": {
        const item = shape.member!.locationName ?? (this.ec2 ? "item" : "member");
        for (const [i, c] of el.children.entries()) {
          if (c.name !== item) problems.push(`${where}: list element <${c.name}>, not <${item}>`);
          else this.checkElement(c, shape.member!.shape, `${where}[${i}]`, problems);
        }
        // A list's min in the models constrains what callers send (AddTags takes at least one tag);
        // AWS answers an untagged resource with an empty <Tags/>, so answers keep only the max.
        checkCount(el.children.length, { ...shape, min: undefined }, where, problems);
        return;
      }
      default:
        if (el.children.length) problems.push(`${where}: ${shape.type} has child <${el.children[0]!.name}>`);
        checkScalar(el.text, shape, where, problems);
    }
  }

  // ---- values, both ways ----------------------------------------------------------------------

  private checkValue(value: Tree, shapeName: string, where: string, problems: string[], side: string): void {
    const shape = this.shape(shapeName);
    if (shape.type === "structure") {
      const obj = value as { [k: string]: Tree };
      for (const r of shape.required ?? [])
        if (obj[r] === undefined) problems.push(`${where}: required ${r} missing from the ${side}`);
      for (const [k, v] of Object.entries(obj))
        this.checkValue(v, shape.members![k]!.shape, `${where}.${k}`, problems, side);
    } else if (shape.type === "list") {
      const arr = value as Tree[];
      if (arr.some((v, i) => v === undefined && i < arr.length))
        problems.push(`${where}: list indexes are not 1..${arr.length}`);
      checkCount(arr.length, shape, where, problems);
      arr.forEach((v, i) => {
        if (v !== undefined) this.checkValue(v, shape.member!.shape, `${where}[${i}]`, problems, side);
      });
    } else {
      checkScalar(value as string, shape, where, problems);
    }
  }
}

/** A list's (or map's) number of elements against the model's min and max. */
export function checkCount(n: number, shape: Shape, where: string, problems: string[]): void {
  if (shape.max !== undefined && n > shape.max)
    problems.push(`${where}: ${n} elements, at most ${shape.max}`);
  if (shape.min !== undefined && n < shape.min)
    problems.push(`${where}: ${n} elements, at least ${shape.min}`);
}

/** A scalar, as text, against its shape: numbers, booleans, ISO timestamps, enums, lengths, patterns. */
export function checkScalar(text: string, shape: Shape, where: string, problems: string[]): void {
  switch (shape.type) {
    case "integer":
    case "long": {
      if (!/^-?\d+$/.test(text)) {
        problems.push(`${where}: "${text}" is not an ${shape.type}`);
        return;
      }
      const n = Number(text);
      if (shape.min !== undefined && n < shape.min) problems.push(`${where}: ${n} < min ${shape.min}`);
      if (shape.max !== undefined && n > shape.max) problems.push(`${where}: ${n} > max ${shape.max}`);
      return;
    }
    case "double":
    case "float":
      if (!Number.isFinite(Number(text)) || text.trim() === "")
        problems.push(`${where}: "${text}" is not a number`);
      return;
    case "boolean":
      if (text !== "true" && text !== "false") problems.push(`${where}: "${text}" is not true or false`);
      return;
    case "timestamp":
      if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(text))
        problems.push(`${where}: "${text}" is not an ISO 8601 timestamp`);
      return;
    case "string": {
      if (shape.enum && !shape.enum.includes(text))
        problems.push(`${where}: "${text}" is not one of ${shape.enum.join(", ")}`);
      const len = [...text].length;
      if (shape.min !== undefined && len < shape.min)
        problems.push(`${where}: length ${len} < min ${shape.min}`);
      if (shape.max !== undefined && len > shape.max)
        problems.push(`${where}: length ${len} > max ${shape.max}`);
      const re = patternOf(shape.pattern);
      if (re && !re.test(text)) problems.push(`${where}: "${text}" does not match ${shape.pattern}`);
      return;
    }
    default:
      return;
  }
}

const patterns = new Map<string, RegExp | undefined>();
/** AWS matches a pattern against the whole value (Java's matches()); one JavaScript cannot read is skipped. */
function patternOf(p: string | undefined): RegExp | undefined {
  if (p === undefined) return undefined;
  if (!patterns.has(p)) {
    let re: RegExp | undefined;
    try {
      re = new RegExp(`^(?:${p})$`, "u");
    } catch {
      re = undefined;
    }
    patterns.set(p, re);
  }
  return patterns.get(p);
}
