import type { CommandName } from "../cli";
import { lock } from "./lock";
import { in_, out, repair, status } from "./modes";
import type { Run } from "./run";
import { watch } from "./watch";
import { wrap } from "./wrap";

export { Run } from "./run";

/** The commands, behind one dynamic import so that `--help` and `--version` load no AWS SDK. */
export function runCommand(command: Exclude<CommandName, "iam-policy">, run: Run) {
  const commands = { status, out, in: in_, run: wrap, repair, watch, lock } as const;
  return commands[command](run);
}
