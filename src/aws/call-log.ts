/**
 * Counts calls by IAM action, for --json and the benchmark. A module of its own, without the SDK:
 * every run has one, and `watch` runs for days without AWS clients until a notice needs them.
 */
export class CallLog {
  readonly byAction: Record<string, number> = {};
  total = 0;
  note(iamAction: string): void {
    this.byAction[iamAction] = (this.byAction[iamAction] ?? 0) + 1;
    this.total++;
  }
}
