import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";

/**
 * The shape the code keeps: AWS calls only in src/aws/, and no import circle anywhere in src/ (a
 * circle means two modules that can only be understood together).
 */
const SRC = resolve(import.meta.dirname, "../../src");

const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );

/** Each module's relative imports, static and dynamic, type-only included. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files(SRC)) {
    const text = readFileSync(f, "utf8");
    const deps = [...text.matchAll(/(?:from |import\()"(\.{1,2}\/[^"]+)"/g)].map(
      (m) => `${resolve(dirname(f), m[1]!)}.ts`,
    );
    graph.set(f, deps);
  }
  return graph;
}

/** An import that loads its module with the importer's (not `import type`, not `import()`). */
const STATIC_IMPORT = /^(?:import|export) (?!type )[^;]*?from "([^"]+)";/gms;

/** Every module of src/ that loading `file` loads, itself included. */
function staticClosure(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const m of readFileSync(file, "utf8").matchAll(STATIC_IMPORT))
    if (m[1]!.startsWith(".")) staticClosure(`${resolve(dirname(file), m[1]!)}.ts`, seen);
  return seen;
}

/** Every import circle, each as the path that closes it. */
export function circles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const visit = (node: string, path: string[]) => {
    if (path.includes(node)) {
      found.push([...path.slice(path.indexOf(node)), node]);
      return;
    }
    if (done.has(node)) return;
    for (const d of graph.get(node) ?? []) visit(d, [...path, node]);
    done.add(node);
  };
  for (const f of graph.keys()) visit(f, []);
  return found;
}

describe("the code's layout", () => {
  it("has no import circle in src/", () => {
    const found = circles(importGraph()).map((c) => c.map((f) => relative(SRC, f)).join(" -> "));
    assert.deepEqual(found, []);
  });

  it("the circle check finds one", () => {
    const g = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a"]],
      ["d", ["a"]],
    ]);
    assert.deepEqual(circles(g), [["a", "b", "c", "a"]]);
  });

  it("loads no AWS service client for `--version`, `--help` or an idle `watch`", () => {
    // The modules each of these loads at once, following static imports only: an import() is a
    // chunk of the bundle loaded when the run reaches it (scripts/build.mjs).
    for (const entry of ["main.ts", "commands/dispatch.ts", "commands/watch.ts"]) {
      const clients = [...staticClosure(join(SRC, entry))].flatMap((f) =>
        [...readFileSync(f, "utf8").matchAll(STATIC_IMPORT)]
          .map((m) => m[1]!)
          .filter((spec) => /^@aws-sdk\/(client-|credential-providers)/.test(spec))
          .map((spec) => `${relative(SRC, f)} imports ${spec}`),
      );
      assert.deepEqual(clients, [], entry);
    }
  });

  it("sends AWS calls only from src/aws/", () => {
    const outside = files(SRC)
      .filter((f) => !relative(SRC, f).startsWith("aws/"))
      .flatMap((f) =>
        [...readFileSync(f, "utf8").matchAll(/new (\w+Command)\(/g)].map(
          (m) => `${relative(SRC, f)}: ${m[1]}`,
        ),
      );
    assert.deepEqual(outside, []);
  });
});
