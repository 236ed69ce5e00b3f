import { execFile } from "node:child_process";
import type { SystemdReport } from "./core/shutdown";

/** systemctl answers at once; one that does not within this long tells nothing. */
const SYSTEMCTL_TIMEOUT_MS = 3000;

const systemctl = (args: string[]) =>
  new Promise<string | undefined>((resolve) => {
    // is-system-running exits non-zero for every state but "running": its output is what counts.
    execFile("systemctl", args, { timeout: SYSTEMCTL_TIMEOUT_MS }, (err, stdout) => {
      const out = stdout?.toString().trim();
      resolve(out || (err ? undefined : ""));
    });
  });

/** What systemd reports about the system's state and its queued jobs (see classifyStop). */
export async function readSystemd(): Promise<SystemdReport> {
  const [state, jobs] = await Promise.all([
    systemctl(["is-system-running"]),
    systemctl(["list-jobs", "--no-legend", "--plain", "--no-pager"]),
  ]);
  return {
    systemState: state?.split("\n")[0] || undefined,
    // "ID UNIT TYPE STATE" a line: keep "UNIT TYPE".
    jobs: (jobs ?? "")
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length >= 3)
      .map((f) => `${f[1]} ${f[2]}`),
  };
}
