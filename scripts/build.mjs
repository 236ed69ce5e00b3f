// Bundles the agent into ONE executable file, dist/balanced.js, with every runtime dependency inlined,
// so a host needs only Node.js and this file.
import { chmodSync, readFileSync, statSync } from "node:fs";
import { build } from "esbuild";
import { withLazyClients } from "./lazy-clients.mjs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const outfile = "dist/balanced.js";

const { options, carried } = await withLazyClients({
  entryPoints: ["src/main.ts"],
  outfile,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  minify: true,
  sourcemap: false,
  legalComments: "none",
  // The SDK's CommonJS parts call require() for Node built-ins; give ESM output a real require.
  banner: {
    js: '#!/usr/bin/env node\nimport { createRequire as __balancedCreateRequire } from "node:module";\nconst require = __balancedCreateRequire(import.meta.url);',
  },
  define: { __BALANCED_VERSION__: JSON.stringify(pkg.version) },
  logLevel: "warning",
});
await build(options);
chmodSync(outfile, 0o755);
const kib = (bytes) => `${(bytes / 1024).toFixed(0)} KiB`;
const lazy = [...carried].map(([name, bytes]) => `${kib(bytes)} ${name.replace("@aws-sdk/client-", "")}`);
console.log(
  `built ${outfile} (${kib(statSync(outfile).size)}, carrying, compressed, to compile on first use: ${lazy.join(", ")})`,
);
