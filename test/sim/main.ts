import { parseArgs } from "node:util";
import { loadFleet } from "./fleet";
import { startSim } from "./server";

/**
 * `npm run sim -- --fleet three-hosts [--time-scale N] [--port P]`: starts the simulator and prints
 * ONE JSON line (endpoint, control, hosts with their environment) once it is ready.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      fleet: { type: "string" },
      "time-scale": { type: "string", default: "1" },
      port: { type: "string", default: "0" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || !values.fleet) {
    process.stderr.write(
      "usage: npm run sim -- --fleet <name|path.json> [--time-scale N] [--port P]\n" +
        "fleets: single-host, three-hosts, min-equals-desired, two-groups, large, standalone-pair, or a JSON file\n",
    );
    process.exit(values.help ? 0 : 2);
  }
  const timeScale = Number(values["time-scale"]);
  const port = Number(values.port);
  if (!(timeScale > 0))
    throw new Error(`--time-scale must be a positive number, not ${values["time-scale"]}`);
  const sim = await startSim(loadFleet(values.fleet), { timeScale, port });
  process.stdout.write(
    `${JSON.stringify({ endpoint: sim.endpoint, control: sim.control, hosts: sim.hosts })}\n`,
  );
  const stop = () => {
    sim.stop().then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`sim: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
