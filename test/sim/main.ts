import { renameSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadFleet } from "./fleet";
import { startSim } from "./server";

const USAGE =
  "usage: npm run -s sim -- --fleet <name|path.json> [--time-scale N] [--port P] [--seed N] [--contention-ms N] [--ready-file PATH]\n" +
  "fleets: single-host, three-hosts, min-equals-desired, two-groups, large, standalone-pair, or a JSON file\n" +
  "stop it with Ctrl-C, or kill (SIGTERM) the npm process or this one; it also stops when its parent dies\n";

/**
 * `npm run -s sim -- --fleet three-hosts [--time-scale N] [--port P] [--ready-file PATH]`: starts the
 * simulator and prints ONE JSON line (pid, endpoint, control, hosts with their environment) once it is
 * ready; `--ready-file` also writes it to a file (whole, or not at all), for scripts that cannot read
 * a stream. `-s` keeps npm's own banner off stdout.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      fleet: { type: "string" },
      "time-scale": { type: "string", default: "1" },
      port: { type: "string", default: "0" },
      "ready-file": { type: "string" },
      seed: { type: "string" },
      "contention-ms": { type: "string", default: "0" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || !values.fleet) {
    process.stderr.write(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const timeScale = Number(values["time-scale"]);
  const port = Number(values.port);
  if (!(timeScale > 0))
    throw new Error(`--time-scale must be a positive number, not ${values["time-scale"]}`);
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  const contentionMs = Number(values["contention-ms"]);
  if (!(contentionMs >= 0))
    throw new Error(`--contention-ms must be a number of milliseconds, not ${values["contention-ms"]}`);
  const sim = await startSim(loadFleet(values.fleet), { timeScale, port, seed, contentionMs });
  const stop = () => {
    sim.stop().then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("SIGHUP", stop);
  // npm forwards SIGTERM, but a SIGKILLed npm (or shell) forwards nothing: a simulator whose parent
  // is gone has nobody left to stop it, so it stops by itself.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop();
  }, 500).unref();
  const ready = `${JSON.stringify({ pid: process.pid, endpoint: sim.endpoint, control: sim.control, hosts: sim.hosts })}\n`;
  if (values["ready-file"]) {
    writeFileSync(`${values["ready-file"]}.tmp`, ready);
    renameSync(`${values["ready-file"]}.tmp`, values["ready-file"]);
  }
  process.stdout.write(ready);
}

main().catch((err: unknown) => {
  process.stderr.write(`sim: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
