// Bundles the agent into ONE executable file, dist/balanced.js, with every runtime dependency inlined,
// so a host needs only Node.js and this file.
import { chmodSync, readFileSync, statSync } from "node:fs";
import { build } from "esbuild";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const outfile = "dist/balanced.js";

await build({
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
chmodSync(outfile, 0o755);
console.log(`built ${outfile} (${(statSync(outfile).size / 1024).toFixed(0)} KiB)`);
