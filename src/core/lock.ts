/** The lock's settings and keys, pure: the protocol is in src/aws/lock.ts. */

/** `dynamodb:TABLE`, from --lock / BALANCED_LOCK. */
export interface LockSpec {
  kind: "dynamodb";
  table: string;
}

/** The lock's keys for a group host or a host in no group: the group, then each load balancer. */
export const lockKeys = (group: string | undefined, lbs: { kind: string; id: string }[]) =>
  [
    ...(group === undefined ? [] : [`group:${group}`]),
    ...lbs.map((lb) => `${lb.kind === "classic" ? "elb" : "tg"}:${lb.id}`),
  ].sort();

/** `dynamodb:TABLE` -> the spec; anything else is a usage error's reason. */
export function parseLockSpec(text: string): LockSpec | string {
  const m = /^dynamodb:([a-zA-Z0-9_.-]{3,255})$/.exec(text.trim());
  if (m) return { kind: "dynamodb", table: m[1]! };
  return `--lock takes dynamodb:TABLE (a DynamoDB table name: 3-255 of a-z A-Z 0-9 _ . -), not "${text}"`;
}
