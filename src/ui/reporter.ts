/**
 * Progress on stderr. On a terminal, one live line that updates in place; in logs (knife, Jenkins,
 * journald), a timestamped line whenever something changes, and at least every few seconds during a
 * wait so nobody wonders whether it hung. Nothing in --quiet mode but errors.
 */
export interface Reporter {
  /** A step starts or ends: always its own line. */
  step(message: string): void;
  /** The state of an ongoing wait; `key` names what changes (so logs print it when it changes). */
  progress(line: string, key: string): void;
  /** The wait is over: finish the live line. */
  endProgress(): void;
}

/** How often a log (not a terminal) hears from a wait whose state has not changed. */
export const LOG_PROGRESS_EVERY_MS = 5000;

export interface ReporterOptions {
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  quiet: boolean;
  color: boolean;
  now: () => number;
}

const stamp = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");

export function createReporter(opts: ReporterOptions): Reporter {
  if (opts.quiet) return { step() {}, progress() {}, endProgress() {} };
  const tty = opts.stream.isTTY === true;
  const dim = (s: string) => (opts.color ? `\x1b[2m${s}\x1b[22m` : s);
  let live = false;
  let lastKey = "";
  let lastLogAt = 0;
  const clearLive = () => {
    if (live) opts.stream.write("\r\x1b[K");
    live = false;
  };
  return {
    step(message) {
      clearLive();
      opts.stream.write(`${dim(stamp(opts.now()))} ${message}\n`);
    },
    progress(line, key) {
      if (tty) {
        opts.stream.write(`\r\x1b[K${dim("…")} ${line}`);
        live = true;
        return;
      }
      const now = opts.now();
      if (key === lastKey && now - lastLogAt < LOG_PROGRESS_EVERY_MS) return;
      lastKey = key;
      lastLogAt = now;
      opts.stream.write(`${stamp(now)}   ${line}\n`);
    },
    endProgress() {
      clearLive();
      lastKey = "";
    },
  };
}
