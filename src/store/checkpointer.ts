/**
 * Background checkpoints: a Worker with its own connection to the database file copies
 * committed WAL pages into the database file (PASSIVE checkpoints), so that this copy and
 * its two fsyncs do not stall the thread that commits and acknowledges. A checkpoint is
 * requested after every commit and runs at most every 25 ms, so the WAL is also moved
 * into the database file shortly after the writes stop. SQLite's own autocheckpoint stays
 * on as a backstop: under sustained writes the WAL is never fully copied when a write
 * begins, so only the autocheckpoint (which then finds little left to copy) lets SQLite
 * reuse it.
 *
 * @module
 */

import type { Logger } from "../logger.ts";
import type { Database } from "./db.ts";
import type { CheckpointReply, CheckpointRequest } from "./checkpoint_worker.ts";

/**
 * Least time between two checkpoints while writes keep coming. Small, frequent checkpoints
 * spread the writes to the database file and their fsyncs evenly; rarer, larger ones
 * stall the WAL fsyncs that acknowledgements wait for (serve's p99 time to ack here at
 * window 96: 35–43 ms at 25 ms, 50–56 ms at 100 ms, 71–83 ms at 500–2000 ms).
 */
const MIN_INTERVAL_MS = 25;
/** Without the worker: the fallback runs once no request came for this long. */
const FALLBACK_IDLE_MS = 250;
/** How long {@link Checkpointer.close} waits for a running checkpoint. */
const CLOSE_WAIT_MS = 10_000;

type State = "unstarted" | "opening" | "idle" | "running" | "closed" | "failed";

/** Options of a {@link Checkpointer}. */
export interface CheckpointerOptions {
  /** Least time between the starts of two checkpoints (default 25 ms). */
  minIntervalMs?: number;
  /**
   * Used when the worker cannot run: a checkpoint on the calling thread, made once the
   * requests have paused (default 250 ms), i.e. when the service is idle.
   */
  fallback?: () => void;
  fallbackIdleMs?: number;
}

/** Runs checkpoints of one database file on a background thread. */
export class Checkpointer {
  #worker?: Worker;
  #state: State = "unstarted";
  #wanted = false;
  #lastStart = -Infinity;
  #timer?: ReturnType<typeof setTimeout>;
  #closed?: PromiseWithResolvers<void>;
  /** Checkpoints completed, and how many of them found the WAL busy. */
  readonly stats = { checkpoints: 0, busy: 0 };

  readonly #minIntervalMs: number;

  /**
   * @param path the database file (WAL mode)
   * @param log where a failure is reported
   */
  constructor(
    readonly path: string,
    private readonly log: Logger,
    private readonly options: CheckpointerOptions = {},
  ) {
    this.#minIntervalMs = options.minIntervalMs ?? MIN_INTERVAL_MS;
  }

  /**
   * The checkpointer of an open read-write database file, falling back to PASSIVE
   * checkpoints on its own connection; undefined for `:memory:` (no WAL to copy).
   */
  static forDatabase(db: Database, log: Logger): Checkpointer | undefined {
    if (db.path === ":memory:" || db.readOnly) return undefined;
    return new Checkpointer(db.path, log, { fallback: () => db.checkpoint() });
  }

  /** True once the worker has failed (SQLite's autocheckpoint carries on alone). */
  get failed(): boolean {
    return this.#state === "failed";
  }

  /**
   * Asks for a checkpoint soon (after a commit). The worker starts on the first request;
   * requests made while one runs or within the minimum interval are merged into one.
   */
  request(): void {
    if (this.#state === "closed") return;
    if (this.#state === "failed") return this.#requestFallback();
    this.#wanted = true;
    if (this.#state === "unstarted") this.#start();
    else this.#maybeRun();
  }

  #start(): void {
    this.#state = "opening";
    try {
      this.#worker = new Worker(new URL("./checkpoint_worker.ts", import.meta.url).href, {
        type: "module",
      });
    } catch (e) {
      this.#fail(`cannot start the worker: ${(e as Error).message}`);
      return;
    }
    this.#worker.onmessage = (e: MessageEvent<CheckpointReply>) => this.#onReply(e.data);
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault(); // a broken worker must not take the service down
      this.#fail(e.message);
    };
    this.#post({ op: "open", path: this.path });
  }

  #requestFallback(): void {
    const fallback = this.options.fallback;
    if (fallback === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      try {
        fallback();
        this.stats.checkpoints++;
      } catch (e) {
        this.log.warn("checkpoint failed", { db: this.path, error: String(e) });
      }
    }, this.options.fallbackIdleMs ?? FALLBACK_IDLE_MS);
  }

  #post(req: CheckpointRequest): void {
    this.#worker?.postMessage(req);
  }

  #maybeRun(): void {
    if (this.#state !== "idle" || !this.#wanted || this.#timer !== undefined) return;
    const wait = this.#lastStart + this.#minIntervalMs - performance.now();
    if (wait > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#maybeRun();
      }, wait);
      return;
    }
    this.#wanted = false;
    this.#state = "running";
    this.#lastStart = performance.now();
    this.#post({ op: "checkpoint" });
  }

  #onReply(reply: CheckpointReply): void {
    switch (reply.op) {
      case "opened":
      case "done":
        if (reply.op === "done") {
          this.stats.checkpoints++;
          if (reply.busy) this.stats.busy++;
        }
        if (this.#state === "opening" || this.#state === "running") this.#state = "idle";
        this.#maybeRun();
        return;
      case "closed":
        this.#closed?.resolve();
        return;
      case "error":
        if (this.#state === "opening") this.#fail(reply.message);
        else {
          this.log.warn("background checkpoint failed", { db: this.path, error: reply.message });
          if (this.#state === "running") this.#state = "idle";
        }
        return;
    }
  }

  #fail(message: string): void {
    if (this.#state === "closed") return;
    this.log.warn("background checkpoints unavailable; checkpoints run on the main thread", {
      db: this.path,
      error: message,
    });
    this.#state = "failed";
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#closed?.resolve();
    if (this.#wanted) this.#requestFallback();
  }

  /** Stops the worker once a running checkpoint has ended. Idempotent. */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const worker = this.#worker;
    this.#state = "closed";
    if (worker === undefined) return;
    this.#worker = undefined;
    this.#closed = Promise.withResolvers<void>();
    worker.postMessage({ op: "close" } satisfies CheckpointRequest);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#closed.promise,
      new Promise((r) => (timer = setTimeout(r, CLOSE_WAIT_MS))),
    ]);
    clearTimeout(timer);
    worker.terminate();
  }
}
