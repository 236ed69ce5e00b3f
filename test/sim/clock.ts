/**
 * Simulated time. Timestamps the simulator reports are wall-clock (so an agent comparing them with its
 * own clock sees sensible ages); durations are simulated seconds divided by the time scale, so with
 * scale 100 a 300 s connection drain takes 3 s.
 */
export interface Scheduled {
  cancel(): void;
}

interface Entry {
  due: number;
  seq: number;
  run: () => void;
  cancelled: boolean;
}

export class SimClock {
  private queue: Entry[] = [];
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private stopped = false;

  constructor(
    readonly timeScale: number,
    private readonly onAfterRun: () => void = () => {},
  ) {}

  now(): number {
    return Date.now();
  }

  /** Wall-clock milliseconds that `simSeconds` of simulated time take. */
  realMs(simSeconds: number): number {
    return (simSeconds * 1000) / this.timeScale;
  }

  after(simSeconds: number, run: () => void): Scheduled {
    return this.at(this.now() + this.realMs(simSeconds), run);
  }

  at(dueMs: number, run: () => void): Scheduled {
    const entry: Entry = { due: dueMs, seq: this.seq++, run, cancelled: false };
    this.queue.push(entry);
    this.queue.sort((a, b) => a.due - b.due || a.seq - b.seq);
    this.arm();
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  /** Runs everything that is due. Called by the timer and before every request is answered. */
  flush(): void {
    const now = this.now();
    let ran = false;
    while (this.queue.length > 0 && this.queue[0]!.due <= now) {
      const entry = this.queue.shift()!;
      if (entry.cancelled) continue;
      entry.run();
      ran = true;
    }
    if (ran) this.onAfterRun();
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.queue = [];
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.queue.find((e) => !e.cancelled);
    if (!next || this.stopped) return;
    this.timer = setTimeout(() => this.flush(), Math.max(0, next.due - this.now()));
  }
}
