import type { CommandName } from "../cli";
import type { Run } from "./run";

export { Run } from "./run";

/**
 * Each command's module, imported when it runs: `--help` and `--version` load no AWS SDK, and
 * `watch` loads only what it idles on (src/commands/watch.ts).
 */
export async function runCommand(command: Exclude<CommandName, "iam-policy">, run: Run) {
  switch (command) {
    case "status":
      return (await import("./modes")).status(run);
    case "out":
      return (await import("./modes")).out(run);
    case "in":
      return (await import("./modes")).in_(run);
    case "repair":
      return (await import("./modes")).repair(run);
    case "run":
      return (await import("./wrap")).wrap(run);
    case "watch":
      return (await import("./watch")).watch(run);
    case "lock":
      return (await import("./lock")).lock(run);
  }
}
