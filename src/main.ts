import { setMaxListeners } from "node:events";
import { parseInvocation } from "./cli";
import type { Run } from "./commands/run";
import { iamPolicy } from "./core/iam";
import { loadDefaultsFile } from "./defaults-file";
import { BalancedError, ExitCode, InterruptedError, timedOut } from "./errors";
import { errorPrefix, stderrIsJournal } from "./ui/journal";
import { jsonReport, outcomeOf } from "./ui/render";
import { createReporter } from "./ui/reporter";

// The bundle pins its SDK version; the SDK's notice about future Node.js support is for people who
// update dependencies, not for an operator running a deploy.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const controller = new AbortController();
// Every call in flight listens on this one signal: ten target groups read at once are 20 listeners,
// past Node's warning threshold of 10, which is for leaks, not for this.
setMaxListeners(200, controller.signal);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    // A second signal means "now": leave without the report.
    if (controller.signal.aborted)
      process.exit(signal === "SIGINT" ? ExitCode.Interrupted : ExitCode.Terminated);
    controller.abort(signal);
  });
}

function exit(code: number): never {
  process.exitCode = code;
  // Let stdout drain (it may be a pipe) before leaving.
  process.stdout.write("", () => process.exit(code));
  return undefined as never;
}

async function main(): Promise<void> {
  let run: Run | undefined;
  let json = process.argv.includes("--json") || process.env.BALANCED_JSON === "true";
  let command = process.argv[2] ?? "";
  try {
    loadDefaultsFile(process.argv.slice(2), process.env);
    json = json || process.env.BALANCED_JSON === "true";
    const invocation = await parseInvocation(process.argv.slice(2));
    if (!invocation) return exit(ExitCode.Done);
    ({ command } = invocation);
    json = invocation.options.json;
    const reporter = createReporter({
      stream: process.stderr,
      quiet: invocation.options.quiet,
      color: process.stderr.isTTY === true && !process.env.NO_COLOR,
      now: Date.now,
    });
    if (invocation.command === "iam-policy") {
      const o = invocation.options;
      const policy = iamPolicy({
        groups: o.groups,
        standalone: o.standaloneIam,
        loadBalancerNames: o.loadBalancerNames,
        targetGroupArns: o.targetGroupArns,
        lockTable: o.lock?.table,
      });
      process.stdout.write(`${JSON.stringify(policy, null, 2)}\n`);
      return exit(ExitCode.Done);
    }
    // Loaded on demand: `--help` and `--version` need none of the AWS SDK.
    const { Run, runCommand } = await import("./commands/dispatch");
    run = new Run(command, invocation.options, controller.signal, reporter);

    const result = await runCommand(invocation.command, run);
    if (json) {
      const extra =
        result.outcome === "status"
          ? { out: result.out, in: result.in, leftovers: result.leftovers, notices: result.notices }
          : "commandExitCode" in result
            ? { commandExitCode: result.commandExitCode }
            : {};
      process.stdout.write(
        `${JSON.stringify(jsonReport(run, command, result.outcome, 0, result.message, extra), null, 2)}\n`,
      );
    } else {
      process.stdout.write(`${result.message}\n`);
    }
    return exit(ExitCode.Done);
  } catch (caught) {
    let err = caught;
    if (!(err instanceof BalancedError) && run?.abortedByTimeout) {
      err = timedOut(`timed out after ${run.options.timeoutSeconds} s (--timeout): ${run.standing()}`);
    } else if (!(err instanceof BalancedError) && controller.signal.aborted) {
      const signal = controller.signal.reason === "SIGTERM" ? "SIGTERM" : "SIGINT";
      err = new InterruptedError(
        signal,
        `interrupted by ${signal}: ${run ? run.standing() : "run `balanced status` to see where things stand"}`,
      );
    }
    if (err instanceof BalancedError) {
      if (json) {
        process.stdout.write(
          `${JSON.stringify(
            jsonReport(run, command, outcomeOf(err), err.exitCode, err.message, {
              kind: err.kind,
              ...("commandExitCode" in err ? { commandExitCode: err.commandExitCode } : {}),
            }),
            null,
            2,
          )}\n`,
        );
      } else {
        process.stderr.write(`${errorPrefix(stderrIsJournal())}balanced: ${err.message}\n`);
      }
      return exit(err.exitCode);
    }
    const e = err as Error;
    process.stderr.write(
      `${errorPrefix(stderrIsJournal())}balanced: internal error: ${e?.message ?? String(err)}\n${e?.stack ?? ""}\n` +
        "This is a bug in balanced; please report it with this output and `balanced --version`.\n",
    );
    if (json) {
      process.stdout.write(
        `${JSON.stringify(jsonReport(run, command, "error", ExitCode.Internal, `internal error: ${e?.message}`), null, 2)}\n`,
      );
    }
    return exit(ExitCode.Internal);
  }
}

// main() reports every failure itself; no top-level await, so the same file also bundles as CommonJS
// for the single executable (scripts/build.mjs).
void main();
