/**
 * Buffered line output to a file or stdout.
 *
 * @module
 */

import { writeStdoutSync } from "./stdout.ts";

/** Something lines can be written to. */
export interface LineWriter {
  /** Queues one line (a newline is added). */
  write(line: string): void;
  /** Writes what is queued and closes the file (stdout stays open). */
  close(): void;
}

function writeAll(file: { writeSync(p: Uint8Array): number }, data: Uint8Array): void {
  if (file === Deno.stdout) return writeStdoutSync(data); // a closed pipe exits 0
  let off = 0;
  while (off < data.length) off += file.writeSync(data.subarray(off));
}

/**
 * Lines to `path` (created or truncated; appended to with `append`), or to stdout when
 * `path` is undefined or `-`.
 */
export function openLineWriter(path?: string, append = false): LineWriter {
  const file = path === undefined || path === "-"
    ? Deno.stdout
    : Deno.openSync(path, { write: true, create: true, truncate: !append, append });
  const encoder = new TextEncoder();
  let parts: string[] = [];
  let size = 0;
  const flush = () => {
    if (parts.length === 0) return;
    writeAll(file, encoder.encode(parts.join("")));
    parts = [];
    size = 0;
  };
  return {
    write(line: string) {
      parts.push(line, "\n");
      size += line.length + 1;
      if (size > 1 << 16) flush();
    },
    close() {
      flush();
      if (file !== Deno.stdout) (file as Deno.FsFile).close();
    },
  };
}
