/**
 * Replay progress on stderr: lines done of the journal's total, percentage, rate and time
 * left, redrawn in place on a terminal, one line per interval otherwise.
 *
 * @module
 */

/** Lines of a journal file (newlines, plus a last line without one), read in chunks. */
export async function countLines(path: string): Promise<number> {
  using file = await Deno.open(path);
  const buf = new Uint8Array(1 << 20);
  let lines = 0;
  let last = 0x0a;
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    for (let i = 0; i < n; i++) if (buf[i] === 0x0a) lines++;
    last = buf[n - 1];
  }
  return last === 0x0a ? lines : lines + 1;
}

/** `h:mm:ss` or `m:ss`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h > 0 ? String(m).padStart(2, "0") : String(m);
  return `${h > 0 ? `${h}:` : ""}${mm}:${String(r).padStart(2, "0")}`;
}

/** What one progress line shows. */
export interface ProgressState {
  /** Journal line reached. */
  line: number;
  /** Lines in the journal, when known (a file; not stdin). */
  total?: number;
  /** Lines processed by this run per second. */
  rate: number;
}

/**
 * One progress line: `replay: 120000/350000 lines (34.3%), 5200 lines/s, 0:44 left`, or
 * without a total `replay: 120000 lines, 5200 lines/s`.
 */
export function formatProgress({ line, total, rate }: ProgressState): string {
  const r = `${Math.round(rate)} lines/s`;
  if (total === undefined || total <= 0) return `replay: ${line} lines, ${r}`;
  const pct = Math.min(100, (line / total) * 100).toFixed(1);
  const left = rate > 0 ? `, ${formatDuration((total - line) / rate)} left` : "";
  return `replay: ${line}/${total} lines (${pct}%), ${r}${left}`;
}

/** Prints progress at most once per `intervalMs`. */
export class ProgressReporter {
  readonly #started = performance.now();
  #last = this.#started;
  #shown = false;
  #firstLine = -1;

  /**
   * @param write where text goes (stderr)
   * @param terminal redraw one line in place (`\r`, clear to end of line) instead of
   *   printing a line each time
   */
  constructor(
    readonly write: (text: string) => void,
    readonly terminal: boolean,
    readonly total?: number,
    readonly intervalMs = 1000,
  ) {}

  /** Journal line `line` was reached. */
  update(line: number): void {
    if (this.#firstLine < 0) this.#firstLine = line - 1;
    const now = performance.now();
    if (now - this.#last < this.intervalMs) return;
    this.#last = now;
    const rate = (line - this.#firstLine) / ((now - this.#started) / 1000);
    const text = formatProgress({ line, total: this.total, rate });
    this.write(this.terminal ? `\r${text}\x1b[K` : `${text}\n`);
    this.#shown = true;
  }

  /** Ends the progress line (on a terminal, so the summary starts on a clean line). */
  end(): void {
    if (this.#shown && this.terminal) this.write("\r\x1b[K");
  }
}
