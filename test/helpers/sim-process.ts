import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { FleetFile } from "../sim/fleet";
import type { Sim } from "../sim/server";
import { tempDir } from "./system";

export type SimProcess = Pick<Sim, "endpoint" | "control" | "hosts" | "stop"> & { pid: number };

const MAIN = join(import.meta.dirname, "..", "sim", "main.ts");

/**
 * The simulator in a process of its own: where many agents run at once, a simulator sharing the
 * test's event loop is starved with it, and its slowness would be blamed on the agents.
 */
export async function startSimProcess(
  fleet: FleetFile | string,
  options: { timeScale?: number; seed?: number; contentionMs?: number } = {},
): Promise<SimProcess> {
  let fleetArg = typeof fleet === "string" ? fleet : "";
  if (typeof fleet !== "string") {
    fleetArg = join(tempDir("fleet"), "fleet.json");
    writeFileSync(fleetArg, JSON.stringify(fleet));
  }
  const args = ["--import", "tsx", MAIN, "--fleet", fleetArg, "--time-scale", String(options.timeScale ?? 1)];
  if (options.seed !== undefined) args.push("--seed", String(options.seed));
  if (options.contentionMs !== undefined) args.push("--contention-ms", String(options.contentionMs));
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`simulator exited with ${code} before it was ready`)));
    createInterface({ input: child.stdout }).once("line", resolve);
  });
  child.removeAllListeners("exit");
  const ready = JSON.parse(line) as Pick<Sim, "endpoint" | "control" | "hosts"> & { pid: number };
  return {
    ...ready,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
