import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ALL_OPTIONS,
  COMMAND_OPTIONS,
  commandOf,
  envName,
  FLAG_ONLY,
  GLOBAL_OPTIONS,
  SHUTDOWN_OPTIONS,
  settingsFor,
} from "../../src/cli";

const COMMANDS = Object.keys(COMMAND_OPTIONS) as (keyof typeof COMMAND_OPTIONS)[];
const SETTINGS = Object.keys(ALL_OPTIONS).filter((flag) => !FLAG_ONLY.has(flag));

describe("settingsFor: every setting against every command", () => {
  for (const command of COMMANDS) {
    for (const flag of SETTINGS) {
      const takes = flag in GLOBAL_OPTIONS || flag in COMMAND_OPTIONS[command];
      it(`${command} ${takes ? "takes" : "ignores"} ${envName(flag)}`, () => {
        const value = ALL_OPTIONS[flag as keyof typeof ALL_OPTIONS].type === "boolean" ? "true" : "2";
        const settings = settingsFor(command, { [envName(flag)]: value, PATH: "/bin" });
        assert.deepEqual(settings, takes ? { [flag]: value === "true" ? true : value } : {});
      });
    }
  }

  it("refuses the systemd unit's mode switches as settings, for every command", () => {
    for (const command of COMMANDS)
      for (const flag of Object.keys(SHUTDOWN_OPTIONS))
        assert.throws(() => settingsFor(command, { [envName(flag)]: "true" }), /is not a setting: pass --/);
  });

  it("refuses --force as a setting: left in /etc/default it would override every in", () => {
    for (const command of COMMANDS)
      assert.throws(
        () => settingsFor(command, { BALANCED_FORCE: "true" }),
        /BALANCED_FORCE is not a setting: pass --force on the command line$/,
      );
  });

  it("names an unknown setting, whatever the command", () => {
    for (const command of [...COMMANDS, undefined, "otu"])
      assert.throws(
        () => settingsFor(command, { BALANCED_TIMEOUTS: "5m" }),
        /unknown setting BALANCED_TIMEOUTS .*did you mean BALANCED_TIMEOUT\?/,
      );
  });
});

describe("commandOf: the command word, past global flags and their values", () => {
  const cases: [string[], string | undefined][] = [
    [["out"], "out"],
    [["--json", "in"], "in"],
    [["--load-balancer", "out", "in"], "in"],
    [["--target-group=arn", "status", "--min-healthy", "2"], "status"],
    [["-q", "--", "out"], undefined],
    [[], undefined],
  ];
  for (const [argv, command] of cases)
    it(`${JSON.stringify(argv)} -> ${command}`, () => assert.equal(commandOf(argv), command));
});
