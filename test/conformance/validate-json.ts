import { documentedErrors, type Model, type Shape, shapeOf } from "./models";
import { checkCount, checkScalar } from "./validate";

/**
 * Checks one exchange of a JSON 1.0 API (DynamoDB) against AWS's model of the operation: the
 * request body the SDK sent and the body the simulator answered (member names, nesting, JSON types,
 * required members, enums, lengths, patterns), or its error (`{"__type": "<namespace>#<code>",
 * "message"}` with a code the operation documents or one every action may return, and its status).
 * Each problem is one line naming where it is; none means the exchange conforms.
 */

/**
 * Errors any DynamoDB action may return, with their HTTP status: "Error handling with DynamoDB",
 * Error messages and codes (docs.aws.amazon.com/amazondynamodb/latest/developerguide/
 * Programming.Errors.html), HTTP 400 and 5xx. The last four are what its front end answers on the
 * wire for a request it cannot route or read (com.amazon.coral.service#...; the SDK maps them by
 * name alone).
 */
const JSON_COMMON_ERRORS: Record<string, number> = {
  AccessDeniedException: 400,
  ConditionalCheckFailedException: 400,
  IncompleteSignatureException: 400,
  ItemCollectionSizeLimitExceededException: 400,
  LimitExceededException: 400,
  MissingAuthenticationTokenException: 400,
  ProvisionedThroughputExceededException: 400,
  RequestLimitExceeded: 400,
  ResourceInUseException: 400,
  ResourceNotFoundException: 400,
  ThrottlingException: 400,
  UnrecognizedClientException: 400,
  ValidationException: 400,
  InternalServerError: 500,
  ServiceUnavailable: 503,
  InvalidSignatureException: 400,
  SerializationException: 400,
  UnknownOperationException: 400,
};

export class JsonChecker {
  constructor(readonly model: Model) {}

  private shape(name: string): Shape {
    return shapeOf(this.model, name);
  }

  /** The exchange's problems, each prefixed "request" or "answer". */
  checkExchange(x: { action: string; request: string; status: number; response: string }): string[] {
    return [
      ...this.checkRequest(x.action, x.request).map((p) => `request ${p}`),
      ...this.checkResponse(x.action, x.status, x.response).map((p) => `answer ${p}`),
    ];
  }

  checkRequest(action: string, body: string): string[] {
    const op = this.model.operations[action];
    if (!op) return [`${action}: not an operation of ${this.model.service}`];
    const problems: string[] = [];
    const value = parse(body, `${action} request`, problems);
    if (value === undefined) return problems;
    if (op.input) this.checkValue(value, op.input.shape, action, problems);
    else if (!isObject(value) || Object.keys(value).length) problems.push(`${action}: takes no input`);
    return problems;
  }

  checkResponse(action: string, status: number, body: string): string[] {
    const problems: string[] = [];
    const value = parse(body, `${action} answer`, problems);
    if (value === undefined) return problems;
    if (status !== 200) return this.checkError(action, status, value);
    const op = this.model.operations[action];
    if (!op) return [`${action}: not an operation of ${this.model.service}`];
    if (op.output) this.checkValue(value, op.output.shape, action, problems);
    return problems;
  }

  private checkError(action: string, status: number, value: unknown): string[] {
    if (!isObject(value)) return [`${action} error: not a JSON object`];
    const problems: string[] = [];
    const type = value.__type;
    const namespace = `com.amazonaws.${this.model.metadata.endpointPrefix}.v${this.model.metadata.apiVersion.replaceAll("-", "")}#`;
    const code = typeof type === "string" ? type.slice(type.indexOf("#") + 1) : undefined;
    if (typeof type !== "string" || !type.startsWith(namespace))
      problems.push(`${action} error: __type "${String(type)}" is not "${namespace}<code>"`);
    if (typeof value.message !== "string" && typeof value.Message !== "string")
      problems.push(`${action} error: no message`);
    const documented = documentedErrors(this.model, action);
    const expected = code === undefined ? undefined : (documented.get(code) ?? JSON_COMMON_ERRORS[code]);
    if (expected === undefined)
      problems.push(
        `${action}: error ${code} is neither documented for it (${[...documented.keys()].join(", ") || "none"}) nor common`,
      );
    else if (expected !== status)
      problems.push(`${action}: ${code} with HTTP ${status}, AWS uses ${expected}`);
    // The error's own members (ConditionalCheckFailedException's Item), as its shape has them.
    const shapeName = code && this.model.shapes[code]?.exception ? code : undefined;
    if (shapeName) {
      const { __type: _type, message: _message, ...rest } = value;
      this.checkValue(rest, shapeName, `${action} error`, problems);
    }
    return problems;
  }

  private checkValue(value: unknown, shapeName: string, where: string, problems: string[]): void {
    const shape = this.shape(shapeName);
    switch (shape.type) {
      case "structure": {
        if (!isObject(value)) {
          problems.push(`${where}: ${shapeName} is an object, given ${typeOf(value)}`);
          return;
        }
        const members = shape.members ?? {};
        for (const r of shape.required ?? [])
          if (value[r] === undefined) problems.push(`${where}: required ${r} missing from ${shapeName}`);
        for (const [k, v] of Object.entries(value)) {
          const m = members[k];
          if (!m) problems.push(`${where}: "${k}" is no member of ${shapeName}`);
          else this.checkValue(v, m.shape, `${where}.${k}`, problems);
        }
        // AttributeValue and its kind are unions in all but name: exactly one member is set.
        if (shapeName === "AttributeValue" && Object.keys(value).length !== 1)
          problems.push(
            `${where}: an AttributeValue has exactly one member, given ${Object.keys(value).length}`,
          );
        return;
      }
      case "list":
        if (!Array.isArray(value)) {
          problems.push(`${where}: ${shapeName} is an array, given ${typeOf(value)}`);
          return;
        }
        checkCount(value.length, shape, where, problems);
        for (const [i, v] of value.entries())
          this.checkValue(v, shape.member!.shape, `${where}[${i}]`, problems);
        return;
      case "map": {
        if (!isObject(value)) {
          problems.push(`${where}: ${shapeName} is an object, given ${typeOf(value)}`);
          return;
        }
        const { key, value: valueShape } = shape as Shape & {
          key: { shape: string };
          value: { shape: string };
        };
        checkCount(Object.keys(value).length, shape, where, problems);
        for (const [k, v] of Object.entries(value)) {
          checkScalar(k, this.shape(key.shape), `${where} key "${k}"`, problems);
          this.checkValue(v, valueShape.shape, `${where}.${k}`, problems);
        }
        return;
      }
      case "string":
        if (typeof value !== "string") problems.push(`${where}: a string, given ${typeOf(value)}`);
        else checkScalar(value, shape, where, problems);
        return;
      case "integer":
      case "long":
        if (typeof value !== "number" || !Number.isInteger(value))
          problems.push(`${where}: an ${shape.type}, given ${typeOf(value)}`);
        else checkScalar(String(value), shape, where, problems);
        return;
      case "double":
      case "float":
        if (typeof value !== "number") problems.push(`${where}: a number, given ${typeOf(value)}`);
        return;
      case "boolean":
        if (typeof value !== "boolean") problems.push(`${where}: a boolean, given ${typeOf(value)}`);
        return;
      case "timestamp":
        // The JSON protocols' default timestamp format: epoch seconds, a number.
        if (typeof value !== "number") problems.push(`${where}: epoch seconds, given ${typeOf(value)}`);
        return;
      case "blob":
        if (typeof value !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(value))
          problems.push(`${where}: base64 text, given ${typeOf(value)}`);
        return;
      default:
        return;
    }
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const typeOf = (v: unknown) =>
  Array.isArray(v)
    ? "an array"
    : v === null
      ? "null"
      : typeof v === "object"
        ? "an object"
        : `${typeof v} ${JSON.stringify(v)}`;

function parse(body: string, where: string, problems: string[]): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    problems.push(`${where}: not JSON`);
    return undefined;
  }
}
