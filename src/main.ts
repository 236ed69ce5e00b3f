import yargs from "yargs";
import { hideBin } from "yargs/helpers";

declare const __BALANCED_VERSION__: string;

await yargs(hideBin(process.argv))
  .scriptName("balanced")
  .usage("$0 <command>\n\nTake this EC2 host out of its load balancers safely, and put it back.")
  .version(typeof __BALANCED_VERSION__ === "string" ? __BALANCED_VERSION__ : "dev")
  .strict()
  .help()
  .parseAsync();
