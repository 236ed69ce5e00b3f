import { fstatSync } from "node:fs";

/**
 * Whether stderr is systemd's journal: systemd sets JOURNAL_STREAM to the "device:inode" of the
 * stream it connected (systemd.exec(5)), and a program compares it with its own stderr. There, a
 * line that starts with `<3>` is logged at priority err (SyslogLevelPrefix=, on by default), so a
 * failed drain or return shows as an error in `journalctl -p err` and `systemctl status`, not as
 * ordinary output.
 */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const stream = env.JOURNAL_STREAM;
  if (!stream) return false;
  try {
    const st = fstatSync(2);
    return stream === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** The prefix for an error line: syslog's err priority in the journal, nothing elsewhere. */
export const errorPrefix = (journal: boolean) => (journal ? "<3>" : "");
