/**
 * DynamoDB, the parts a lock uses: tables (CreateTable, DescribeTable, time to live) and single
 * items (GetItem, PutItem, UpdateItem, DeleteItem) with condition expressions. JSON 1.0 protocol:
 * POST /, `X-Amz-Target: DynamoDB_20120810.<Action>`, errors as `{"__type", "message"}`
 * (botocore's dynamodb/2012-08-10 model gives the shapes and the errors each action may return).
 *
 * AWS's behaviour kept, because a lock depends on it:
 * - CreateTable is asynchronous: the table is CREATING, then ACTIVE; "You can perform read and
 *   write operations only on an ACTIVE table" (API Reference, CreateTable). Item calls on a table
 *   that is not ACTIVE (or absent) fail with ResourceNotFoundException.
 * - GetItem is eventually consistent unless ConsistentRead is true ("DynamoDB uses eventually
 *   consistent reads, unless you specify otherwise", API Reference, GetItem): the stale-reads fault
 *   answers those from the past; conditions and strongly consistent reads see the present.
 * - Time to live deletes expired items in the background, "typically within a few days" (Developer
 *   Guide, "Using time to live"): an expired item stays readable, so the simulator never deletes one
 *   and a lock must judge expiry itself.
 */
import { SimError, type World } from "../world";

export const DYNAMODB_TARGET_PREFIX = "DynamoDB_20120810.";

export interface AttributeValue {
  S?: string;
  N?: string;
  BOOL?: boolean;
  NULL?: boolean;
}
export type Item = Record<string, AttributeValue>;

export interface SimTable {
  name: string;
  arn: string;
  keyName: string;
  status: "CREATING" | "ACTIVE";
  createdAt: number;
  billingMode: "PAY_PER_REQUEST" | "PROVISIONED";
  ttl: { attribute: string; status: "ENABLING" | "ENABLED" } | undefined;
  /** Items by key value; an item is replaced whole on every write, never changed in place. */
  items: Map<string, Item>;
}

export interface JsonCallContext {
  world: World;
  input: Record<string, unknown>;
  /** A stale world for eventually consistent reads (the present when none is due). */
  staleWorld: World;
}

export type JsonHandler = (ctx: JsonCallContext) => Record<string, unknown>;

/** How long a new table stays CREATING, in simulated seconds (AWS: seconds to a minute). */
const CREATE_SECONDS = 20;

const notFound = () => new SimError("ResourceNotFoundException", "Requested resource not found", 400);
const validation = (message: string) => new SimError("ValidationException", message, 400);

function tableOf(world: World, input: Record<string, unknown>, mustBeActive = true): SimTable {
  const name = input.TableName;
  if (typeof name !== "string" || name.length < 1)
    throw validation(
      "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null",
    );
  const table = world.tables.get(name);
  if (!table || (mustBeActive && table.status !== "ACTIVE")) throw notFound();
  return table;
}

function keyOf(table: SimTable, key: unknown): string {
  const attrs = (key ?? {}) as Item;
  const names = Object.keys(attrs);
  const v = attrs[table.keyName];
  if (names.length !== 1 || v?.S === undefined)
    throw validation("The provided key element does not match the schema");
  return v.S;
}

function describeTable(t: SimTable) {
  return {
    TableName: t.name,
    TableArn: t.arn,
    TableStatus: t.status,
    CreationDateTime: t.createdAt / 1000,
    KeySchema: [{ AttributeName: t.keyName, KeyType: "HASH" }],
    AttributeDefinitions: [{ AttributeName: t.keyName, AttributeType: "S" }],
    BillingModeSummary: { BillingMode: t.billingMode },
    ItemCount: t.items.size,
    TableSizeBytes: 0,
  };
}

// ---- expressions ---------------------------------------------------------------------------------

type Token = { kind: "name" | "value" | "ident" | "op" | "paren" | "comma"; text: string };

function tokenize(expression: string, which: string): Token[] {
  const tokens: Token[] = [];
  const re =
    /\s*(?:(#[A-Za-z0-9_]+)|(:[A-Za-z0-9_]+)|([A-Za-z_][A-Za-z0-9_]*)|(<>|<=|>=|=|<|>|\+|-)|([()])|(,))/y;
  let i = 0;
  while (i < expression.length) {
    if (/^\s*$/.test(expression.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(expression);
    if (!m)
      throw validation(
        `Invalid ${which}: Syntax error; token: "${expression.slice(i).trim()[0]}", near: "${expression.slice(i, i + 10).trim()}"`,
      );
    i = re.lastIndex;
    if (m[1]) tokens.push({ kind: "name", text: m[1] });
    else if (m[2]) tokens.push({ kind: "value", text: m[2] });
    else if (m[3]) tokens.push({ kind: "ident", text: m[3] });
    else if (m[4]) tokens.push({ kind: "op", text: m[4] });
    else if (m[5]) tokens.push({ kind: "paren", text: m[5] });
    else tokens.push({ kind: "comma", text: "," });
  }
  return tokens;
}

interface Scope {
  names: Record<string, string>;
  values: Record<string, AttributeValue>;
  used: Set<string>;
  which: string;
}

function scopeOf(input: Record<string, unknown>, which: string): Scope {
  return {
    names: (input.ExpressionAttributeNames ?? {}) as Record<string, string>,
    values: (input.ExpressionAttributeValues ?? {}) as Record<string, AttributeValue>,
    used: new Set(),
    which,
  };
}

function resolveName(scope: Scope, t: Token): string {
  if (t.kind === "ident") return t.text;
  const name = scope.names[t.text];
  scope.used.add(t.text);
  if (name === undefined)
    throw validation(
      `Invalid ${scope.which}: An expression attribute name used in the document path is not defined; attribute name: ${t.text}`,
    );
  return name;
}

function resolveValue(scope: Scope, t: Token): AttributeValue {
  const v = scope.values[t.text];
  scope.used.add(t.text);
  if (v === undefined)
    throw validation(
      `Invalid ${scope.which}: An expression attribute value used in expression is not defined; attribute value: ${t.text}`,
    );
  return v;
}

type Operand = (item: Item | undefined) => AttributeValue | undefined;

/** A recursive-descent reader of the condition grammar: OR, AND, NOT, comparisons, two functions. */
class ConditionParser {
  private at = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly scope: Scope,
  ) {}

  parse(): (item: Item | undefined) => boolean {
    const cond = this.or();
    if (this.at < this.tokens.length) this.fail();
    return cond;
  }

  private peek = () => this.tokens[this.at];
  private fail(): never {
    const t = this.peek();
    throw validation(`Invalid ${this.scope.which}: Syntax error; token: "${t?.text ?? "<EOF>"}"`);
  }
  private keyword(word: string) {
    const t = this.peek();
    if (t?.kind === "ident" && t.text.toUpperCase() === word) {
      this.at++;
      return true;
    }
    return false;
  }

  private or(): (item: Item | undefined) => boolean {
    let left = this.and();
    while (this.keyword("OR")) {
      const a = left;
      const b = this.and();
      left = (item) => a(item) || b(item);
    }
    return left;
  }

  private and(): (item: Item | undefined) => boolean {
    let left = this.not();
    while (this.keyword("AND")) {
      const a = left;
      const b = this.not();
      left = (item) => a(item) && b(item);
    }
    return left;
  }

  private not(): (item: Item | undefined) => boolean {
    if (this.keyword("NOT")) {
      const inner = this.not();
      return (item) => !inner(item);
    }
    return this.primary();
  }

  private primary(): (item: Item | undefined) => boolean {
    const t = this.peek();
    if (t?.kind === "paren" && t.text === "(") {
      this.at++;
      const inner = this.or();
      if (this.peek()?.text !== ")") this.fail();
      this.at++;
      return inner;
    }
    if (t?.kind === "ident" && /^attribute_(not_)?exists$/.test(t.text)) {
      this.at++;
      if (this.peek()?.text !== "(") this.fail();
      this.at++;
      const path = this.tokens[this.at++];
      if (!path || (path.kind !== "name" && path.kind !== "ident")) this.fail();
      const name = resolveName(this.scope, path);
      if (this.peek()?.text !== ")") this.fail();
      this.at++;
      const wanted = t.text === "attribute_exists";
      return (item) => (item?.[name] !== undefined) === wanted;
    }
    const left = this.operand();
    const op = this.tokens[this.at++];
    if (op?.kind !== "op" || op.text === "+" || op.text === "-") this.fail();
    const right = this.operand();
    return (item) => compare(left(item), op.text, right(item));
  }

  private operand(): Operand {
    const t = this.tokens[this.at++];
    if (t?.kind === "value") {
      const v = resolveValue(this.scope, t);
      return () => v;
    }
    if (t?.kind === "name" || t?.kind === "ident") {
      const name = resolveName(this.scope, t);
      return (item) => item?.[name];
    }
    this.at--;
    this.fail();
  }
}

/** A comparison with a missing attribute, or between different types, is false (as in DynamoDB). */
function compare(a: AttributeValue | undefined, op: string, b: AttributeValue | undefined): boolean {
  if (!a || !b) return op === "<>" && (a !== undefined) !== (b !== undefined);
  let order: number;
  if (a.N !== undefined && b.N !== undefined) order = Math.sign(Number(a.N) - Number(b.N));
  else if (a.S !== undefined && b.S !== undefined) order = a.S < b.S ? -1 : a.S > b.S ? 1 : 0;
  else if (a.BOOL !== undefined && b.BOOL !== undefined && (op === "=" || op === "<>"))
    order = a.BOOL === b.BOOL ? 0 : 1;
  else return op === "<>";
  switch (op) {
    case "=":
      return order === 0;
    case "<>":
      return order !== 0;
    case "<":
      return order < 0;
    case "<=":
      return order <= 0;
    case ">":
      return order > 0;
    default:
      return order >= 0;
  }
}

/** `SET a = :v, #b = #b + :one` and `REMOVE c`: what a lock's UpdateItem needs. */
function applyUpdate(expression: string, scope: Scope, item: Item): Item {
  const tokens = tokenize(expression, "UpdateExpression");
  const next: Item = { ...item };
  let at = 0;
  const fail = (): never => {
    throw validation(`Invalid UpdateExpression: Syntax error; token: "${tokens[at]?.text ?? "<EOF>"}"`);
  };
  const value = (t: Token | undefined): AttributeValue | undefined => {
    if (t?.kind === "value") return resolveValue(scope, t);
    if (t?.kind === "name" || t?.kind === "ident") return item[resolveName(scope, t)];
    return fail();
  };
  while (at < tokens.length) {
    const clause = tokens[at++];
    if (clause?.kind !== "ident") fail();
    const word = clause!.text.toUpperCase();
    do {
      const path = tokens[at++];
      if (!path || (path.kind !== "name" && path.kind !== "ident")) fail();
      const name = resolveName(scope, path!);
      if (word === "REMOVE") {
        delete next[name];
      } else if (word === "SET") {
        if (tokens[at++]?.text !== "=") fail();
        let v = value(tokens[at++]);
        const op = tokens[at];
        if (op?.kind === "op" && (op.text === "+" || op.text === "-")) {
          at++;
          const w = value(tokens[at++]);
          if (v?.N === undefined || w?.N === undefined)
            throw validation("An operand in the update expression has an incorrect data type");
          v = { N: String(Number(v.N) + (op.text === "+" ? 1 : -1) * Number(w.N)) };
        }
        if (!v)
          throw validation("The provided expression refers to an attribute that does not exist in the item");
        next[name] = v;
      } else fail();
    } while (tokens[at]?.kind === "comma" && ++at);
  }
  return next;
}

function checkCondition(
  table: SimTable,
  input: Record<string, unknown>,
  current: Item | undefined,
  scope: Scope,
) {
  const expression = input.ConditionExpression;
  if (expression === undefined) return;
  if (typeof expression !== "string" || expression.trim() === "")
    throw validation("Invalid ConditionExpression: The expression can not be empty;");
  const holds = new ConditionParser(tokenize(expression, "ConditionExpression"), scope).parse();
  if (holds(current)) return;
  const err = new SimError("ConditionalCheckFailedException", "The conditional request failed", 400);
  if (input.ReturnValuesOnConditionCheckFailure === "ALL_OLD" && current)
    (err as SimError & { extra?: Record<string, unknown> }).extra = { Item: current };
  void table;
  throw err;
}

/** Every name and value given must be used, as DynamoDB insists. */
function checkAllUsed(input: Record<string, unknown>, scope: Scope) {
  for (const key of [
    ...Object.keys((input.ExpressionAttributeNames ?? {}) as object),
    ...Object.keys((input.ExpressionAttributeValues ?? {}) as object),
  ]) {
    if (!scope.used.has(key))
      throw validation(
        `Value provided in Expression${key.startsWith("#") ? "AttributeNames" : "AttributeValues"} unused in expressions: keys: {${key}}`,
      );
  }
}

function validItem(table: SimTable, item: unknown): Item {
  if (!item || typeof item !== "object")
    throw validation("One or more parameter values were invalid: Missing the key");
  const it = item as Item;
  if (it[table.keyName]?.S === undefined)
    throw validation(
      `One or more parameter values were invalid: Missing the key ${table.keyName} in the item`,
    );
  return it;
}

const oldValues = (input: Record<string, unknown>, old: Item | undefined) =>
  input.ReturnValues === "ALL_OLD" && old ? { Attributes: old } : {};

export const dynamodbActions: Record<string, JsonHandler> = {
  CreateTable({ world, input }) {
    const name = String(input.TableName ?? "");
    if (!/^[a-zA-Z0-9_.-]{3,255}$/.test(name))
      throw validation(
        `1 validation error detected: Value '${name}' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+`,
      );
    if (world.tables.has(name))
      throw new SimError("ResourceInUseException", `Table already exists: ${name}`, 400);
    const keys = (input.KeySchema ?? []) as { AttributeName: string; KeyType: string }[];
    const defs = (input.AttributeDefinitions ?? []) as { AttributeName: string; AttributeType: string }[];
    const hash = keys.find((k) => k.KeyType === "HASH");
    if (keys.length !== 1 || !hash)
      throw validation("balanced's simulator models tables with one HASH key only");
    if (!defs.some((d) => d.AttributeName === hash.AttributeName && d.AttributeType === "S"))
      throw validation(
        "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions",
      );
    const table: SimTable = {
      name,
      arn: `arn:aws:dynamodb:${world.region}:${world.accountId}:table/${name}`,
      keyName: hash.AttributeName,
      status: "CREATING",
      createdAt: world.clock.now(),
      billingMode: input.BillingMode === "PAY_PER_REQUEST" ? "PAY_PER_REQUEST" : "PROVISIONED",
      ttl: undefined,
      items: new Map(),
    };
    world.tables.set(name, table);
    world.clock.after(CREATE_SECONDS, () => {
      table.status = "ACTIVE";
    });
    return { TableDescription: describeTable(table) };
  },

  DescribeTable({ staleWorld, input }) {
    return { Table: describeTable(tableOf(staleWorld, input, false)) };
  },

  UpdateTimeToLive({ world, input }) {
    const table = tableOf(world, input, false);
    const spec = (input.TimeToLiveSpecification ?? {}) as { Enabled?: boolean; AttributeName?: string };
    if (spec.Enabled !== true || !spec.AttributeName)
      throw validation("balanced's simulator models enabling time to live only");
    if (table.ttl) throw validation("TimeToLive is already enabled");
    const ttl = { attribute: spec.AttributeName, status: "ENABLING" as "ENABLING" | "ENABLED" };
    table.ttl = ttl;
    world.clock.after(CREATE_SECONDS, () => {
      ttl.status = "ENABLED";
    });
    return { TimeToLiveSpecification: { Enabled: true, AttributeName: spec.AttributeName } };
  },

  DescribeTimeToLive({ world, input }) {
    const table = tableOf(world, input, false);
    return {
      TimeToLiveDescription: table.ttl
        ? { TimeToLiveStatus: table.ttl.status, AttributeName: table.ttl.attribute }
        : { TimeToLiveStatus: "DISABLED" },
    };
  },

  GetItem({ world, staleWorld, input }) {
    const source = input.ConsistentRead === true ? world : staleWorld;
    const table = tableOf(world, input);
    const key = keyOf(table, input.Key);
    const item = source.tables.get(table.name)?.items.get(key);
    return item ? { Item: item } : {};
  },

  PutItem({ world, input }) {
    const table = tableOf(world, input);
    const item = validItem(table, input.Item);
    const key = item[table.keyName]!.S!;
    const scope = scopeOf(input, "ConditionExpression");
    const old = table.items.get(key);
    checkCondition(table, input, old, scope);
    checkAllUsed(input, scope);
    table.items.set(key, item);
    return oldValues(input, old);
  },

  UpdateItem({ world, input }) {
    const table = tableOf(world, input);
    const key = keyOf(table, input.Key);
    const scope = scopeOf(input, "ConditionExpression");
    const old = table.items.get(key);
    checkCondition(table, input, old, scope);
    if (typeof input.UpdateExpression !== "string") throw validation("UpdateExpression is required here");
    const base: Item = old ?? { [table.keyName]: { S: key } };
    const next = applyUpdate(input.UpdateExpression, { ...scope, which: "UpdateExpression" }, base);
    checkAllUsed(input, scope);
    table.items.set(key, next);
    return input.ReturnValues === "ALL_NEW" ? { Attributes: next } : oldValues(input, old);
  },

  DeleteItem({ world, input }) {
    const table = tableOf(world, input);
    const key = keyOf(table, input.Key);
    const scope = scopeOf(input, "ConditionExpression");
    const old = table.items.get(key);
    checkCondition(table, input, old, scope);
    checkAllUsed(input, scope);
    table.items.delete(key);
    return oldValues(input, old);
  },
};

/** Reads that the stale-reads fault may answer from the past. */
export const DYNAMODB_READS = new Set(["GetItem", "DescribeTable"]);

/** The table copies a frozen view of the world keeps (items are replaced whole, never mutated). */
export const copyTables = (tables: Map<string, SimTable>) =>
  new Map([...tables].map(([k, t]) => [k, { ...t, items: new Map(t.items) }]));
