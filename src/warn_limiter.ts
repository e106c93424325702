/**
 * Rate-limited warnings: a warning that may repeat thousands of times a second (dropped
 * messages, bad or oversized frames, slow watchers closed) is written at most once per
 * window (10 s) per kind and subject, with the count of events since the last line. The
 * first event of a quiet period is written at once; events within the window are counted
 * and written in one line when the window ends (a timer that does not keep the process
 * alive), so a burst costs two lines, not one per event.
 *
 * @module
 */

import type { Logger } from "./logger.ts";

/** At most one line per kind and subject in this many milliseconds. */
export const WARN_WINDOW_MS = 10_000;

interface Pending {
  /** Events since the last line. */
  count: number;
  /** Fields of the latest event. */
  fields: Record<string, unknown>;
  /** performance.now() of the last line written. */
  lastLine: number;
  timer?: ReturnType<typeof setTimeout>;
}

/** Writes repeated warnings at most once per {@link WARN_WINDOW_MS} per kind and subject. */
export class WarnLimiter {
  readonly #pending = new Map<string, Pending>();
  readonly #message = new Map<string, string>();

  constructor(
    private readonly logger: Logger,
    private readonly windowMs = WARN_WINDOW_MS,
  ) {}

  /**
   * Notes one event of `kind` (the log message, e.g. `bus: dropped messages, queue full`)
   * concerning `subject` (a module or peer name). `fields` of the latest event go into
   * the line, with `count` = events since the previous line of this kind and subject.
   */
  warn(kind: string, subject: string, fields: Record<string, unknown> = {}): void {
    const key = `${kind}\u0000${subject}`;
    const now = performance.now();
    let p = this.#pending.get(key);
    if (!p) {
      p = { count: 0, fields, lastLine: -Infinity };
      this.#pending.set(key, p);
      this.#message.set(key, kind);
    }
    p.count++;
    p.fields = fields;
    if (now - p.lastLine >= this.windowMs) {
      this.#write(key, p, now);
      return;
    }
    if (p.timer === undefined) {
      p.timer = setTimeout(() => {
        p!.timer = undefined;
        if (p!.count > 0) this.#write(key, p!, performance.now());
      }, Math.max(0, p.lastLine + this.windowMs - now));
      Deno.unrefTimer(p.timer);
    }
  }

  /** Writes what is pending now and stops the timers (at shutdown). */
  flush(): void {
    for (const [key, p] of this.#pending) {
      clearTimeout(p.timer);
      p.timer = undefined;
      if (p.count > 0) this.#write(key, p, performance.now());
    }
  }

  #write(key: string, p: Pending, now: number): void {
    this.logger.warn(this.#message.get(key)!, {
      ...p.fields,
      count: p.count,
      window_s: this.windowMs / 1000,
    });
    p.count = 0;
    p.lastLine = now;
  }
}
