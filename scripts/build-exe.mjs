// Builds self-contained executables that need no Node.js on the host: Node's single executable
// application (SEA) support, dist/balanced-linux-<arch>. The agent is bundled once more as CommonJS
// (SEA runs a CommonJS script), turned into a SEA blob, and injected into a copy of a Node binary of
// the same version: this Node for its own architecture, the registry's node-linux-<arch> package for
// another. Usage: node scripts/build-exe.mjs [--arch x64,arm64]
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const ROOT = resolve(import.meta.dirname, "..");
const WORK = join(ROOT, "dist", "sea");
const CACHE = join(ROOT, "node_modules", ".cache", "balanced-sea");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const { values } = parseArgs({ options: { arch: { type: "string", default: process.arch } } });
const arches = values.arch.split(",").map((a) => a.trim());

if (process.platform !== "linux") throw new Error("build:exe builds Linux executables on Linux");

mkdirSync(WORK, { recursive: true });
const script = join(WORK, "balanced.cjs");
// One script with every client inlined: SEA runs a single CommonJS script, so the Node build's
// chunks cannot be used here. esbuild defers each import()ed module's top-level code until the
// import() runs, and the blob's V8 code cache spares the compiling; `npm run bench` measures what the
// EC2 and DynamoDB clients still cost at start (docs/performance.md).
await build({
  entryPoints: [join(ROOT, "src", "main.ts")],
  outfile: script,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  minify: true,
  legalComments: "none",
  // yargs' ESM shim asks import.meta.url for its own location; in the executable that is the binary.
  define: { __BALANCED_VERSION__: JSON.stringify(pkg.version), "import.meta.url": "__balancedSelfUrl" },
  banner: { js: 'const __balancedSelfUrl = require("node:url").pathToFileURL(process.execPath).href;' },
  logLevel: "warning",
});

/** Runs a tool whose chatter (LIEF's section warnings) matters only when it fails. */
function quietly(command, args) {
  try {
    execFileSync(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    process.stderr.write(`${err.stdout ?? ""}${err.stderr ?? ""}`);
    throw err;
  }
}

/**
 * The SEA blob for `arch`. For this machine's own architecture it carries V8's code cache of the
 * script (the executable then starts without compiling 2 MB of JavaScript: about 70 ms less per
 * start, `npm run bench` measures it); the cache is made by this Node for this CPU, so another
 * architecture's blob goes without.
 */
function seaBlob(arch) {
  const native = arch === process.arch;
  const blob = join(WORK, native ? "balanced.blob" : "balanced-nocache.blob");
  const config = join(WORK, native ? "sea-config.json" : "sea-config-nocache.json");
  writeFileSync(
    config,
    JSON.stringify({ main: script, output: blob, disableExperimentalSEAWarning: true, useCodeCache: native }),
  );
  quietly(process.execPath, ["--experimental-sea-config", config]);
  return blob;
}

/** A Node binary of exactly this version for `arch`: this one, or the registry's package for another. */
function nodeBinary(arch) {
  if (arch === process.arch) return process.execPath;
  const version = process.versions.node;
  const dir = join(CACHE, `node-linux-${arch}-${version}`);
  const binary = join(dir, "package", "bin", "node");
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    const tarball = execFileSync("npm", ["pack", `node-linux-${arch}@${version}`, "--silent"], {
      cwd: dir,
      encoding: "utf8",
    }).trim();
    execFileSync("tar", ["-xzf", tarball], { cwd: dir });
    rmSync(join(dir, tarball));
  }
  return binary;
}

const postject = join(ROOT, "node_modules", "postject", "dist", "cli.js");
for (const arch of arches) {
  const out = join(ROOT, "dist", `balanced-linux-${arch}`);
  rmSync(out, { force: true });
  let node;
  try {
    node = nodeBinary(arch);
  } catch (err) {
    // Another architecture's Node comes from the registry; without it, say so and build the rest.
    console.warn(
      `not built: dist/balanced-linux-${arch} (no Node ${process.versions.node} for ${arch}: ${err.message.split("\n")[0]})`,
    );
    continue;
  }
  copyFileSync(node, out);
  chmodSync(out, 0o755);
  quietly(process.execPath, [
    postject,
    out,
    "NODE_SEA_BLOB",
    seaBlob(arch),
    "--sentinel-fuse",
    "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2",
  ]);
  console.log(
    `built dist/balanced-linux-${arch} (${(statSync(out).size / 1024 / 1024).toFixed(1)} MiB, Node ${process.versions.node} inside)`,
  );
}
