// Keeps the AWS clients that only some runs need out of the code Node parses at every start, while
// the agent stays one file. Half of the bundle was @aws-sdk/client-ec2, used for one call on IP
// target groups, and `node dist/balanced.js --version` peaked at 84 MB of RSS (bare node: 42 MB).
// Each such client is bundled on its own, as CommonJS, and carried in the main bundle as a compressed
// string that is compiled the first time the agent imports the client (src/aws/clients.ts loads
// both with import()). It holds only the client's own code: every module the main bundle already
// has (@smithy/*, @aws-sdk/core, Node's built-ins) it is handed from there, one copy of each.
import { builtinModules } from "node:module";
import { resolve } from "node:path";
import { brotliCompressSync, constants } from "node:zlib";
import { build } from "esbuild";

/** Loaded only when a run needs them: EC2 for IP target groups, DynamoDB for `--lock`. */
export const LAZY_CLIENTS = ["@aws-sdk/client-ec2", "@aws-sdk/client-dynamodb"];
const LAZY_FILTER = new RegExp(`^(${LAZY_CLIENTS.map((name) => name.replace(/[/-]/g, "\\$&")).join("|")})$`);
const NAMESPACE = "balanced-lazy-client";
const RESOLVING = Symbol("resolving");

/**
 * esbuild options for `options` (a bundle of the agent) with the lazy clients carried as strings.
 * Builds three times: the agent without those clients, to learn which files it has; each client
 * with those files left out; then the agent with each client's code and a table of what it shares.
 * Returns those options and, for each lazy client, the size of the code it carries.
 */
export async function withLazyClients(options) {
  const root = options.absWorkingDir ?? process.cwd();
  const without = await build({
    ...options,
    write: false,
    metafile: true,
    logLevel: "silent",
    plugins: [lazyClientsPlugin(root, null)],
  });
  const mainFiles = new Set(Object.keys(without.metafile.inputs).map((input) => resolve(root, input)));
  const clients = new Map();
  for (const name of LAZY_CLIENTS) clients.set(name, await bundleClient(name, root, mainFiles, options));
  return {
    options: { ...options, plugins: [...(options.plugins ?? []), lazyClientsPlugin(root, clients)] },
    carried: new Map([...clients].map(([name, { code }]) => [name, code.length])),
  };
}

/**
 * One client as CommonJS whose require() of a module the main bundle has stays a require(),
 * answered at run time from the main bundle. Returns its code and, for each such specifier, the
 * file it stands for.
 */
async function bundleClient(name, root, mainFiles, options) {
  const shared = new Map();
  const share = (specifier, file) => {
    const before = shared.get(specifier);
    if (before !== undefined && before !== file) {
      throw new Error(`${name}: "${specifier}" is both ${before} and ${file}; cannot hand over one`);
    }
    shared.set(specifier, file);
    return { path: specifier, external: true };
  };
  const result = await build({
    stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: root, loader: "js" },
    absWorkingDir: root,
    bundle: true,
    platform: "node",
    target: options.target,
    format: "cjs",
    minify: true,
    legalComments: "none",
    write: false,
    logLevel: "warning",
    plugins: [
      {
        name: "share-with-main-bundle",
        setup(client) {
          client.onResolve({ filter: /^[^./]/ }, async (args) => {
            if (args.pluginData === RESOLVING) return undefined;
            const bare = args.path.replace(/^node:/, "");
            if (builtinModules.includes(bare)) return share(args.path, args.path);
            const found = await client.resolve(args.path, {
              kind: args.kind,
              importer: args.importer,
              resolveDir: args.resolveDir,
              pluginData: RESOLVING,
            });
            if (found.errors.length > 0 || !mainFiles.has(found.path)) return undefined;
            return share(args.path, found.path);
          });
        },
      },
    ],
  });
  return { code: result.outputFiles[0].text, shared };
}

/**
 * The code, compressed: as a string literal it would cost the parser at every start about its size
 * eight times over in memory (a 1 MB literal, 9.6 MB of peak RSS; measured with the literal emptied).
 * Base64 of Brotli is a quarter of the size, and decompressing it on first use takes milliseconds.
 */
const compressed = (code) =>
  brotliCompressSync(code, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: code.length },
  }).toString("base64");

/**
 * Resolves each lazy client to a module that compiles the client's code when it is first required.
 * `clients` null: an empty module, for the build that finds out what the main bundle has.
 */
function lazyClientsPlugin(root, clients) {
  return {
    name: "lazy-clients",
    setup(main) {
      main.onResolve({ filter: LAZY_FILTER }, (args) => ({ path: args.path, namespace: NAMESPACE }));
      main.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => {
        if (clients === null) return { contents: "", loader: "js", resolveDir: root };
        const { code, shared } = clients.get(args.path);
        // Literal require()s, so that esbuild binds each to the module already in the bundle.
        const table = [...shared].map(
          ([specifier, file]) => `[${JSON.stringify(specifier)}, () => require(${JSON.stringify(file)})]`,
        );
        return {
          loader: "js",
          resolveDir: root,
          contents: [
            `const shared = new Map([\n${table.join(",\n")}\n]);`,
            "const handOver = (specifier) => {",
            "  const load = shared.get(specifier);",
            `  if (load === undefined) throw new Error(${JSON.stringify(`${args.path} asked for `)} + specifier + " which the bundle does not carry");`,
            "  return load();",
            "};",
            `const code = require("node:zlib").brotliDecompressSync(Buffer.from("${compressed(code)}", "base64")).toString();`,
            'new Function("require", "module", "exports", code)(handOver, module, exports);',
          ].join("\n"),
        };
      });
    },
  };
}
