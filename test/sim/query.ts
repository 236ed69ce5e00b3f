/**
 * Parses an AWS query-protocol form body into a tree. `Filters.member.2.Values.member.1=x` (query) and
 * `Filter.2.Value.1=x` (EC2) both become `{ Filters|Filter: [ , { Values|Value: [x] } ] }`:
 * a numeric path segment is a 1-based list index, and `member` is the query protocol's list marker.
 */
export type QueryNode = string | QueryNode[] | { [key: string]: QueryNode };
export type QueryTree = { [key: string]: QueryNode };

export function parseQuery(body: string): QueryTree {
  const root: QueryTree = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const path = key.split(".").filter((segment) => segment !== "member");
    let node: QueryTree | QueryNode[] = root;
    path.forEach((segment, i) => {
      const last = i === path.length - 1;
      const nextIsIndex = !last && /^\d+$/.test(path[i + 1]!);
      const slot: string | number = /^\d+$/.test(segment) ? Number(segment) - 1 : segment;
      const container = node as Record<string | number, QueryNode>;
      if (last) {
        container[slot] = value;
        return;
      }
      container[slot] ??= nextIsIndex ? [] : {};
      node = container[slot] as QueryTree | QueryNode[];
    });
  }
  return root;
}

export const str = (tree: QueryTree, key: string): string | undefined => {
  const v = tree[key];
  return typeof v === "string" ? v : undefined;
};

export const num = (tree: QueryTree, key: string): number | undefined => {
  const v = str(tree, key);
  return v === undefined ? undefined : Number(v);
};

export const bool = (tree: QueryTree, key: string): boolean | undefined => {
  const v = str(tree, key);
  return v === undefined ? undefined : v === "true";
};

/** A list of scalars, e.g. `InstanceIds.member.N` or EC2's `InstanceId.N`. */
export const strList = (tree: QueryTree, key: string): string[] => {
  const v = tree[key];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
};

/** A list of structures, e.g. `Tags.member.N.Key`. */
export const structList = (tree: QueryTree, key: string): QueryTree[] => {
  const v = tree[key];
  return Array.isArray(v)
    ? v.filter((x): x is QueryTree => typeof x === "object" && x !== null && !Array.isArray(x))
    : [];
};
