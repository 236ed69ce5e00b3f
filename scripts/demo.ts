/**
 * `npm run demo`: a rolling deploy over the simulated `three-hosts` fleet. Each host in turn runs the
 * operators' chain, `balanced out && <deploy> && balanced in`; while the first host is out, a second
 * host tries to leave too and is refused. Everything runs the built dist/balanced.js against the
 * bundled simulator.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadFleet } from "../test/sim/fleet";
import { type HostInfo, startSim } from "../test/sim/server";

const bundle = resolve(import.meta.dirname, "..", "dist", "balanced.js");
const bin = mkdtempSync(join(tmpdir(), "balanced-demo-"));
process.on("exit", () => rmSync(bin, { recursive: true, force: true }));
writeFileSync(join(bin, "balanced"), `#!/bin/sh\nexec "${process.execPath}" "${bundle}" "$@"\n`);
chmodSync(join(bin, "balanced"), 0o755);

const bold = (s: string) => (process.stdout.isTTY && !process.env.NO_COLOR ? `\x1b[1m${s}\x1b[22m` : s);

function sh(host: string, info: HostInfo, script: string, onLine?: (line: string) => void): Promise<number> {
  return new Promise((done) => {
    const child = spawn("bash", ["-c", script], {
      env: { PATH: `${bin}:${process.env.PATH}`, HOME: bin, HOST: host, ...info.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const prefix = `  ${host.slice(-4)} | `;
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = "";
      stream.on("data", (d: Buffer) => {
        buffered += d.toString();
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const line of lines) {
          process.stdout.write(`${prefix}${line}\n`);
          onLine?.(line);
        }
      });
    }
    child.on("close", (code) => done(code ?? 1));
  });
}

// Long enough that the mistaken second deploy decides while the first host is still out.
// The second host's out takes the turn's settle (8.5 s at the default staleness bound) before it decides.
const DEPLOY = 'echo "[deploy] installing release 42 on $HOST" && sleep 15 && echo "[deploy] done"';

async function main(): Promise<void> {
  const sim = await startSim(loadFleet("three-hosts"));
  const hosts = Object.entries(sim.hosts);
  console.log(
    bold(`Simulated fleet three-hosts: group web (min 1, desired 3, max 4), elb/web-classic and tg/web-tg`),
  );
  console.log(bold("\n$ balanced status   (on the first host)"));
  await sh(hosts[0]![0], hosts[0]![1], "balanced status");

  for (const [i, [id, info]] of hosts.entries()) {
    console.log(bold(`\n$ balanced out && <deploy> && balanced in   (on ${id})`));
    let tried = false;
    const concurrent: Promise<number>[] = [];
    const code = await sh(id, info, `balanced out && ${DEPLOY} && balanced in`, (line) => {
      // While the first host is out, a second deploy starts on another host: it must be refused.
      if (i === 0 && !tried && line.startsWith("[deploy] installing")) {
        tried = true;
        const [otherId, otherInfo] = hosts[1]!;
        console.log(
          bold(`\n$ balanced out   (meanwhile, on ${otherId}: a second deploy started by mistake)`),
        );
        concurrent.push(
          sh(otherId, otherInfo, "balanced out").then((c) => {
            if (c === 0) {
              console.log(bold("  ^ went ahead: the first host was back by the time it decided\n"));
              return c;
            }
            const why =
              c === 3
                ? "the disruption budget allows one host out at a time"
                : "the group is busy with the first host";
            console.log(bold(`  ^ refused with exit ${c}: ${why}; the chain on that host would stop here\n`));
            return c;
          }),
        );
      }
    });
    await Promise.all(concurrent);
    if (code !== 0) {
      console.log(`deploy chain failed on ${id} with exit ${code}; stopping the rollout`);
      await sim.stop();
      process.exit(code);
    }
  }

  console.log(bold("\n$ balanced status   (after the rollout)"));
  await sh(hosts[2]![0], hosts[2]![1], "balanced status");
  const state = sim.world();
  const group = state.groups.get("web")!;
  const inService = [...state.instances.values()].filter((x) => x.lifecycleState === "InService").length;
  // Read from the simulator's own timeline, not worked out: how many hosts were ever out at once.
  const mostOut = Math.max(0, ...state.history.filter((h) => h.group === "web").map((h) => h.outOfService));
  console.log(
    bold(
      `\nRollout complete: ${inService} of ${hosts.length} hosts InService, desired capacity ${group.desired}; ` +
        `the simulator's history shows at most ${mostOut} host${mostOut === 1 ? "" : "s"} out of service at any moment.`,
    ),
  );
  await sim.stop();
}

await main();
