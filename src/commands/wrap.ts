import { spawn } from "node:child_process";
import { BalancedError, ExitCode, type ExitCodeValue, InterruptedError } from "../errors";
import { in_, out } from "./modes";
import { recordReturnAtBoot } from "./move";
import type { MoveResult } from "./results";
import type { Run } from "./run";

export interface WrapResult {
  outcome: "done";
  message: string;
  commandExitCode: number;
}

/** Exit code 8: the wrapped command failed; its own code is in the message and in --json. */
export class CommandFailedError extends BalancedError {
  constructor(
    readonly commandExitCode: number,
    reason: string,
  ) {
    super(ExitCode.CommandFailed, "command-failed", reason);
  }
}

/** Runs the command with this process's stdio; SIGINT/SIGTERM reach it too. */
function runCommand(
  argv: string[],
  signal: AbortSignal | undefined,
): Promise<{ code: number; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: "inherit" });
    const forward = () => child.kill((signal?.reason as NodeJS.Signals | undefined) ?? "SIGTERM");
    signal?.addEventListener("abort", forward, { once: true });
    child.on("error", (err) => {
      process.stderr.write(`balanced: could not start ${argv[0]}: ${err.message}\n`);
      resolve({ code: 127, signal: null });
    });
    child.on("close", (code, sig) => {
      signal?.removeEventListener("abort", forward);
      resolve({ code: code ?? (sig ? 128 : 1), signal: sig });
    });
  });
}

/**
 * The command asked for a reboot (Chef's 35 and 37, Systems Manager's 194 "reboot, then run
 * again"): the host stays out, recorded to come back at boot, and `run` exits with the command's own
 * code, which the caller (SSM, a Chef wrapper) needs to see. A host in no group has no group to
 * carry that record: it stays out, and says to run `balanced in` after the reboot.
 */
async function rebootPending(run: Run, argv: string[], code: number): Promise<BalancedError> {
  const asked = `${shown(argv)} exited ${code}, which asks for a reboot (--reboot-exit-codes)`;
  if (!run.snapshot || run.standalone)
    return new RebootPendingError(
      code,
      `${asked}: this host stays out; it is in no Auto Scaling group to record its return on, so run \`balanced in\` after the reboot`,
    );
  const key = await recordReturnAtBoot(run);
  return new RebootPendingError(
    code,
    `${asked}: this host stays out, recorded as ${key}, and the boot's \`balanced in --after-shutdown\` returns it`,
  );
}

/** Exits with the command's own code: "reboot, then carry on". */
export class RebootPendingError extends BalancedError {
  constructor(
    readonly commandExitCode: number,
    reason: string,
  ) {
    super(commandExitCode as ExitCodeValue, "reboot-pending", reason);
  }
}

const shown = (argv: string[]) =>
  argv.map((a) => (/^[\w./:=@%+-]+$/.test(a) ? a : JSON.stringify(a))).join(" ");

/**
 * `balanced run -- <command>`: out, the command, then in only if it succeeded — a broken deploy
 * never takes traffic — unless --on-failure in.
 */
export async function wrap(run: Run): Promise<WrapResult> {
  const argv = run.options.command;
  if (!argv?.length) throw new Error("run without a command");
  const left: MoveResult = await out(run);
  run.reporter.step(`${left.message}; running: ${shown(argv)}`);
  const result = await run.timed("command", () => runCommand(argv, run.signal));
  if (run.signal?.aborted) {
    const sig = run.signal.reason === "SIGTERM" ? "SIGTERM" : "SIGINT";
    throw new InterruptedError(
      sig,
      `interrupted by ${sig} while running ${shown(argv)}: this host is out; run \`balanced in\` to return it`,
    );
  }
  if (run.options.rebootExitCodes?.includes(result.code)) throw await rebootPending(run, argv, result.code);
  if (result.code !== 0) {
    const failed = `${shown(argv)} failed with exit code ${result.code}`;
    if (run.options.onFailure !== "in") {
      throw new CommandFailedError(
        result.code,
        `${failed}; this host stays out of the load balancers (run \`balanced in\` once fixed)`,
      );
    }
    run.reporter.step(`${failed}; returning this host anyway (--on-failure in)`);
    const back = await in_(run);
    throw new CommandFailedError(result.code, `${failed}; ${back.message}`);
  }
  const back = await in_(run);
  return { outcome: "done", message: `${shown(argv)} succeeded; ${back.message}`, commandExitCode: 0 };
}
