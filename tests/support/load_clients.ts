/**
 * Load-test support: clients of a running serve that keep counters instead of every
 * frame, so that a test can push tens of thousands of messages and a million watch events
 * through them without the test process itself becoming the bottleneck or the memory hog.
 *
 * - {@link WatchStream}: one MetaServer watch (`fetch` with a streaming body); counts the
 *   events by type from the first bytes of each line, keeps the last bytes of the stream.
 * - {@link CountingSocket}: a WebSocket bus module that hands each text frame to a
 *   callback and counts them, storing nothing.
 * - {@link RssSampler}: VmRSS of a process from /proc/PID/status at a fixed interval.
 *
 * @module
 */

import { withTimeout } from "./serve_process.ts";

/** Watch event types, as counted by {@link WatchStream}. */
export type EventKind = "ADDED" | "MODIFIED" | "DELETED" | "ERROR" | "BOOKMARK" | "other";

/** Byte 9 of a line `{"type":"X...` tells the type. */
const KIND_BY_BYTE: Record<number, EventKind> = {
  0x41: "ADDED", // A
  0x4d: "MODIFIED", // M
  0x44: "DELETED", // D
  0x45: "ERROR", // E
  0x42: "BOOKMARK", // B
};
const TYPE_PREFIX = new TextEncoder().encode('{"type":"');
const NL = 0x0a;
/** Bytes of the stream's end kept for inspection (an ERROR event is well under this). */
const TAIL_BYTES = 16 * 1024;

/** One open MetaServer watch whose events are counted as they stream in. */
export class WatchStream {
  /** Events by type. */
  readonly counts: Record<EventKind, number> = {
    ADDED: 0,
    MODIFIED: 0,
    DELETED: 0,
    ERROR: 0,
    BOOKMARK: 0,
    other: 0,
  };
  /** Bytes received. */
  bytes = 0;
  /** HTTP status of the response (0 until the headers arrived). */
  status = 0;
  /** True once the server ended the stream (not when we aborted it). */
  endedByServer = false;
  /** An error reading the stream other than our own abort. */
  failure?: Error;
  /** Resolves when reading stopped, for whatever reason. */
  readonly done: Promise<void>;
  readonly #abort = new AbortController();
  /** Position within the current line (bytes), and the prefix bytes seen so far. */
  #pos = 0;
  #prefixOk = true;
  #tail = new Uint8Array(0);
  #listeners = new Set<() => void>();

  private constructor(readonly url: string, opened: Promise<Response>) {
    this.done = this.#read(opened);
  }

  /** Opens `url` (a watch request) and resolves once the response headers arrived. */
  static async open(url: string, timeoutMs = 10_000): Promise<WatchStream> {
    const abort = new AbortController();
    const response = fetch(url, { signal: abort.signal });
    const w = new WatchStream(url, response);
    w.#abort.signal.addEventListener("abort", () => abort.abort());
    await withTimeout(response, timeoutMs, `watch ${url} did not answer`);
    return w;
  }

  async #read(opened: Promise<Response>): Promise<void> {
    try {
      const res = await opened;
      this.status = res.status;
      if (!res.body) return;
      const reader = res.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          this.endedByServer = true;
          break;
        }
        this.#take(value);
      }
    } catch (e) {
      if (!this.#abort.signal.aborted) this.failure = e as Error;
    } finally {
      this.#notify();
    }
  }

  #take(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    let i = 0;
    while (i < chunk.length) {
      // inside the first 10 bytes of a line: check the prefix and read the type letter
      while (this.#pos < 10 && i < chunk.length) {
        const b = chunk[i];
        if (b === NL) break;
        if (this.#pos < 9) {
          if (b !== TYPE_PREFIX[this.#pos]) this.#prefixOk = false;
        } else {
          this.counts[this.#prefixOk ? (KIND_BY_BYTE[b] ?? "other") : "other"]++;
        }
        this.#pos++;
        i++;
      }
      if (i >= chunk.length) break;
      const nl = chunk.indexOf(NL, i);
      if (nl < 0) {
        this.#pos += chunk.length - i;
        break;
      }
      if (this.#pos < 10 && this.#pos > 0) this.counts.other++; // a line shorter than a type
      this.#pos = 0;
      this.#prefixOk = true;
      i = nl + 1;
    }
    // keep the last TAIL_BYTES bytes
    if (chunk.length >= TAIL_BYTES) this.#tail = chunk.slice(chunk.length - TAIL_BYTES);
    else {
      const keep = Math.min(this.#tail.length, TAIL_BYTES - chunk.length);
      const t = new Uint8Array(keep + chunk.length);
      t.set(this.#tail.subarray(this.#tail.length - keep), 0);
      t.set(chunk, keep);
      this.#tail = t;
    }
    this.#notify();
  }

  #notify(): void {
    for (const l of [...this.#listeners]) l();
  }

  /** Events of every type received so far. */
  get events(): number {
    const c = this.counts;
    return c.ADDED + c.MODIFIED + c.DELETED + c.ERROR + c.BOOKMARK + c.other;
  }

  /** The complete lines among the last bytes received. */
  lastLines(): string[] {
    const text = new TextDecoder().decode(this.#tail);
    const lines = text.split("\n");
    lines.pop(); // incomplete (or "" after the final newline)
    if (this.#tail.length === TAIL_BYTES) lines.shift(); // probably cut at the front
    return lines;
  }

  /**
   * Resolves once `predicate` holds (checked on every chunk) or the stream stopped.
   * @throws {Error} after `timeoutMs`
   */
  async until(predicate: (w: WatchStream) => boolean, timeoutMs: number): Promise<void> {
    let check = () => {};
    let stopped = false;
    this.done.then(() => {
      stopped = true;
      check();
    });
    const reached = new Promise<void>((resolve) => {
      check = () => {
        if (stopped || predicate(this)) resolve();
      };
    });
    this.#listeners.add(check);
    check();
    try {
      await withTimeout(reached, timeoutMs, `watch ${this.url}: ${JSON.stringify(this.counts)}`);
    } finally {
      this.#listeners.delete(check);
    }
  }

  /** Aborts the request (if still open) and waits until reading stopped. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.done;
  }
}

/** A WebSocket bus module that counts frames and passes each to `onFrame`. */
export class CountingSocket {
  /** Text frames received. */
  frames = 0;
  /** Bytes (UTF-16 code units) of text frames received. */
  chars = 0;
  /** Resolves when the socket closed. */
  readonly closed: Promise<CloseEvent>;

  private constructor(
    readonly ws: WebSocket,
    closed: Promise<CloseEvent>,
    onFrame: (text: string) => void,
  ) {
    this.closed = closed;
    ws.onmessage = (e: MessageEvent) => {
      const text = typeof e.data === "string" ? e.data : "";
      this.frames++;
      this.chars += text.length;
      onFrame(text);
    };
  }

  /** Attaches as module `name` of `group` to serve at `address` (`127.0.0.1:PORT`). */
  static async connect(
    address: string,
    name: string,
    group: string,
    onFrame: (text: string) => void = () => {},
    timeoutMs = 10_000,
  ): Promise<CountingSocket> {
    const ws = new WebSocket(
      `ws://${address}/v1/modules/${encodeURIComponent(name)}?group=${encodeURIComponent(group)}`,
    );
    const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", resolve));
    const opened = new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve());
      ws.addEventListener("error", () => reject(new Error(`cannot attach ${name}/${group}`)));
      closed.then(() => reject(new Error(`${name}/${group} closed before opening`)));
    });
    const socket = new CountingSocket(ws, closed, onFrame);
    try {
      await withTimeout(opened, timeoutMs, `${name}/${group} did not open`);
    } catch (e) {
      await socket.close();
      throw e;
    }
    return socket;
  }

  send(text: string): void {
    this.ws.send(text);
  }

  /** Bytes handed to the socket and not yet written to the operating system. */
  get buffered(): number {
    return this.ws.bufferedAmount;
  }

  async close(timeoutMs = 10_000): Promise<void> {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) {
      this.ws.close(1000, "test done");
    }
    await withTimeout(this.closed, timeoutMs, "WebSocket did not close");
  }
}

/** VmRSS of a process in bytes (undefined when it is gone or not on Linux). */
export function rssBytes(pid: number): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples the RSS of `pid` every `intervalMs` until stopped. */
export class RssSampler {
  /** [milliseconds since start, bytes] */
  readonly samples: [number, number][] = [];
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #start = performance.now();

  constructor(readonly pid: number, intervalMs = 250) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Takes one sample now; returns it (undefined when the process is gone). */
  sample(): number | undefined {
    const rss = rssBytes(this.pid);
    if (rss !== undefined) this.samples.push([performance.now() - this.#start, rss]);
    return rss;
  }

  /** The largest sample. */
  get peak(): number {
    return this.samples.reduce((m, [, b]) => Math.max(m, b), 0);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
