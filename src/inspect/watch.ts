/**
 * `inspect --watch`: follow a live database without writing to it. The file and its
 * `-wal` are polled (size, modification time, inode); when either changed, the selection
 * is read again as a consistent snapshot and the rows that appeared, changed or went
 * away are printed as `kubectl get -w --output-watch-events` does (an EVENT column, or
 * `{"type": "MODIFIED", "object": ...}` lines).
 *
 * @module
 */

import { toJson } from "./render.ts";

/** How a watch prints. */
export interface WatchOptions<T> {
  format: "table" | "ndjson";
  /** Table lines (header first) of rows. */
  tableLines: (rows: T[]) => Iterable<string>;
  /** The object written for a row in ndjson (default: the row itself). */
  json?: (row: T) => unknown;
  write: (text: string) => void;
  /** Poll interval in milliseconds (default 500). */
  intervalMs?: number;
  /** Stops the watch when aborted (default: runs until the process ends). */
  signal?: AbortSignal;
  /**
   * The rows already printed and the {@link watchStamp} taken before they were read
   * (default: read now). Changes committed after the stamp are then never missed.
   */
  baseline?: { stamp: string; rows: Map<string, T> };
}

/** The state of the file and its `-wal`, to take before reading the rows printed first. */
export function watchStamp(path: string): string {
  return fileStamp(path) + fileStamp(`${path}-wal`);
}

function fileStamp(path: string): string {
  try {
    const i = Deno.statSync(path);
    return `${i.size}:${i.mtime?.getTime()}:${i.ino}`;
  } catch {
    return "absent";
  }
}

/**
 * Polls `path` and prints each change of `read()` (rows by key) until `signal` aborts.
 * The first read is the baseline (its rows were printed by the caller).
 */
export async function watchRows<T>(
  path: string,
  read: () => Map<string, T>,
  options: WatchOptions<T>,
): Promise<void> {
  const json = options.json ?? ((r: T) => r);
  const signature = (r: T) => toJson(json(r));
  let stamp = options.baseline?.stamp ?? watchStamp(path);
  let rows = new Map(
    [...(options.baseline?.rows ?? read())].map(([k, r]) => [k, { r, sig: signature(r) }]),
  );
  const interval = options.intervalMs ?? 500;
  while (!options.signal?.aborted) {
    await new Promise((resolve) => setTimeout(resolve, interval));
    const now = watchStamp(path);
    if (now === stamp) continue;
    stamp = now;
    let next: Map<string, { r: T; sig: string }>;
    try {
      next = new Map([...read()].map(([k, r]) => [k, { r, sig: signature(r) }]));
    } catch (e) {
      console.error(`inspect --watch: ${(e as Error).message}; retrying`);
      continue;
    }
    const events: { type: string; r: T }[] = [];
    for (const [k, v] of next) {
      const old = rows.get(k);
      if (old === undefined) events.push({ type: "ADDED", r: v.r });
      else if (old.sig !== v.sig) events.push({ type: "MODIFIED", r: v.r });
    }
    for (const [k, v] of rows) if (!next.has(k)) events.push({ type: "DELETED", r: v.r });
    rows = next;
    for (const e of events) {
      if (options.format === "ndjson") {
        options.write(toJson({ type: e.type, object: json(e.r) }) + "\n");
      } else {
        const lines = [...options.tableLines([e.r])];
        options.write(`${e.type.padEnd(10)}${lines[lines.length - 1]}`);
      }
    }
  }
}
