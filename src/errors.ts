/**
 * The exit-code contract. Deploy chains (knife, Jenkins, SSM, CodeDeploy) branch on these numbers,
 * so they never change meaning. README.md carries the same table; a test keeps the two in step.
 */
export const ExitCode = {
  Done: 0,
  Internal: 1,
  Usage: 2,
  Unsafe: 3,
  Busy: 4,
  TimedOut: 5,
  NotManageable: 6,
  AwsRefused: 7,
  CommandFailed: 8,
  Interrupted: 130,
  Terminated: 143,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODE_MEANINGS: ReadonlyArray<readonly [ExitCodeValue, string]> = [
  [ExitCode.Done, "done, or nothing to do"],
  [ExitCode.Internal, "unexpected internal error (a bug: please report it)"],
  [ExitCode.Usage, "usage error: bad flag or value"],
  [ExitCode.Unsafe, "refused, unsafe: the disruption budget or MinSize forbids it"],
  [
    ExitCode.Busy,
    "refused, busy: scaling activity, instance refresh, transitional state, another host's turn",
  ],
  [ExitCode.TimedOut, "timed out waiting; the message says what state things were left in"],
  [ExitCode.NotManageable, "not manageable here: metadata unreachable, or not in an Auto Scaling group"],
  [ExitCode.AwsRefused, "AWS refused: access denied (names the IAM action) or another non-retryable error"],
  [
    ExitCode.CommandFailed,
    "`balanced run`: the command failed (its exit code is in the message and in --json)",
  ],
  [ExitCode.Interrupted, "interrupted by SIGINT"],
  [ExitCode.Terminated, "interrupted by SIGTERM"],
];

/**
 * An expected failure: it carries its exit code and a one-line reason for a human. The entry point
 * prints `reason` and exits with `exitCode`; it never prints a stack trace for these.
 */
export class BalancedError extends Error {
  readonly exitCode: ExitCodeValue;
  /** Machine-readable short name, for --json consumers. */
  readonly kind: string;

  constructor(exitCode: ExitCodeValue, kind: string, reason: string) {
    super(reason);
    this.name = "BalancedError";
    this.exitCode = exitCode;
    this.kind = kind;
  }
}

export const usageError = (reason: string) => new BalancedError(ExitCode.Usage, "usage", reason);
export const unsafe = (reason: string) => new BalancedError(ExitCode.Unsafe, "unsafe", reason);
export const busy = (reason: string) => new BalancedError(ExitCode.Busy, "busy", reason);
export const timedOut = (reason: string) => new BalancedError(ExitCode.TimedOut, "timeout", reason);
export const notManageable = (reason: string) =>
  new BalancedError(ExitCode.NotManageable, "not-manageable", reason);
/** Not in an Auto Scaling group: exit 6, unless load balancers are named (standalone mode takes over). */
export const noGroup = (reason: string) => new BalancedError(ExitCode.NotManageable, "no-group", reason);
export const awsRefused = (reason: string) => new BalancedError(ExitCode.AwsRefused, "aws-refused", reason);

export class InterruptedError extends BalancedError {
  readonly signal: "SIGINT" | "SIGTERM";
  constructor(signal: "SIGINT" | "SIGTERM", reason: string) {
    super(signal === "SIGINT" ? ExitCode.Interrupted : ExitCode.Terminated, "interrupted", reason);
    this.signal = signal;
  }
}

/** AWS answered with an error; `awsCode` lets a command handle the few it expects (ValidationError). */
export class AwsCallError extends BalancedError {
  readonly awsCode: string;
  readonly iamAction: string;
  /** AWS's own message, unprefixed. */
  readonly awsMessage: string;
  constructor(
    exitCode: ExitCodeValue,
    kind: string,
    reason: string,
    aws: { code: string; message: string; iamAction: string },
  ) {
    super(exitCode, kind, reason);
    this.awsCode = aws.code;
    this.awsMessage = aws.message;
    this.iamAction = aws.iamAction;
  }
}

/** An operation cut by an AbortSignal (SIGINT/SIGTERM, or a deadline), as Node and the SDK throw it. */
export const isAbort = (err: unknown) => (err as { name?: string } | undefined)?.name === "AbortError";
