/**
 * The `--journal` file: every message the MetaManager receives, appended as one line of
 * wire JSON (the replay input format), so a production session can be replayed later.
 *
 * @module
 */

import { type Message, toWire } from "../beehive/message.ts";

/** Appends messages to an NDJSON journal; lines are written when {@link flush} is called. */
export class JournalWriter {
  #file: Deno.FsFile;
  #pending: string[] = [];
  #encoder = new TextEncoder();

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /**
   * Opens (creating or appending to) `path`.
   * @throws {Error} naming the path and the OS cause
   */
  static open(path: string): JournalWriter {
    try {
      return new JournalWriter(Deno.openSync(path, { append: true, create: true }));
    } catch (e) {
      throw new Error(`Cannot open journal ${path}: ${(e as Error).message}`);
    }
  }

  /** Queues one message. */
  append(msg: Message): void {
    this.#pending.push(toWire(msg), "\n");
  }

  /** Writes queued lines. */
  flush(): void {
    if (this.#pending.length === 0) return;
    const data = this.#encoder.encode(this.#pending.join(""));
    this.#pending = [];
    let off = 0;
    while (off < data.length) off += this.#file.writeSync(data.subarray(off));
  }

  /** Flushes, syncs and closes. */
  close(): void {
    this.flush();
    try {
      this.#file.syncSync();
    } finally {
      this.#file.close();
    }
  }
}
