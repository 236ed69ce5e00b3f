// Bundles the agent for Node.js: dist/balanced.js, the entry point, and dist/lib/, the chunks it
// imports on demand, with every runtime dependency inlined, so a host needs only Node.js and these
// files (scripts/install.sh ships them together).
//
// esbuild's code splitting turns each import() in src/ into a chunk loaded only when a run reaches
// it: `--help` and `--version` load no AWS client, `watch` loads one only when a notice needs it, and
// only IP target groups load EC2's client, only `--lock` DynamoDB's. Loading EC2's client alone costs
// a bare Node start about 190 ms and 70 MB (measured with `node -e`).
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const outdir = "dist";
const entry = join(outdir, "balanced.js");
const chunks = join(outdir, "lib");

// A chunk's name carries its content's hash: the previous build's would linger beside the new ones.
rmSync(chunks, { recursive: true, force: true });
await build({
  entryPoints: { balanced: "src/main.ts" },
  outdir,
  chunkNames: "lib/[name]-[hash]",
  bundle: true,
  splitting: true,
  platform: "node",
  // The SDK's ES modules, not its CommonJS: an import() of CommonJS code gives its chunk only a
  // default export (esbuild cannot see the names it assigns), so `(await import(...)).EC2Client`
  // would be undefined; ES modules also let esbuild leave out what is never used.
  mainFields: ["module", "main"],
  target: "node20",
  format: "esm",
  minify: true,
  sourcemap: false,
  legalComments: "none",
  // The SDK's CommonJS parts call require() for Node built-ins; give ESM output a real require. Every
  // chunk needs its own: a banner is written at the top of each output file.
  banner: {
    js: 'import { createRequire as __balancedCreateRequire } from "node:module";\nconst require = __balancedCreateRequire(import.meta.url);',
  },
  define: { __BALANCED_VERSION__: JSON.stringify(pkg.version) },
  logLevel: "warning",
});
// The shebang only on the entry point (a banner would put it on every chunk).
const code = readFileSync(entry, "utf8");
writeFileSync(entry, `#!/usr/bin/env node\n${code}`);
chmodSync(entry, 0o755);

const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;
const chunkBytes = readdirSync(chunks).reduce((sum, name) => sum + statSync(join(chunks, name)).size, 0);
console.log(
  `built ${entry} (${kib(statSync(entry).size)}) and ${readdirSync(chunks).length} chunks in ${chunks}/ (${kib(chunkBytes)}), loaded when a run needs them`,
);
