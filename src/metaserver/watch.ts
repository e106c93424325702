/**
 * The WatchHub: committed meta_v2 changes (from MetaManager's `onChanges`, called only
 * after the transaction commits) fanned out to watch streams.
 *
 * - **Revision**: the highest resourceversion seen (stored at start, then of every
 *   committed change); lists report it as `metadata.resourceVersion`.
 * - **History**: a bounded list of recent changes (default the last 1,000 or 4 MiB of stored
 *   JSON, whichever is less; kube-apiserver's watch cache keeps 100 per resource), each
 *   tagged with the revision after it. A watch from resourceVersion R replays the changes
 *   after R, so a client that listed at R (`kubectl get -w`) sees every later change
 *   exactly once; an R older than the history gets an ERROR event with a 410 Expired
 *   Status, like kube-apiserver, and the client relists. The bound is small on purpose:
 *   every entry holds a stored object, kept alive in the heap (with 10,000 entries serve's
 *   peak RSS under a stream of 20,000 inserts was 162 MB, with 1,000 it is ~112 MB, and
 *   garbage collection costs less CPU).
 * - **Selectors** with Kubernetes semantics: the hub keeps each stored object's labels and
 *   selectable fields, so an update is judged against the object before and after it: an
 *   object entering a watch's selection is sent as ADDED, one leaving it as DELETED, an
 *   update of a matching object as MODIFIED.
 * - **Back-pressure**: every watcher has a bounded buffer (default 8192 events); a watcher
 *   that falls behind is closed with an ERROR event (410 Expired: relist) instead of ever
 *   blocking the MetaManager. Watchers are released when the client goes away, on
 *   `timeoutSeconds`, and on {@link WatchHub.close}.
 *
 * Changes whose resourceversion does not advance the revision (a DELETE carrying the
 * object's old version, say) are replayed to every watch starting at the revision they
 * share, so they can be seen twice but are never missed.
 *
 * @module
 */

import type { StoreChange, WatchEventType } from "../metamanager/inject.ts";
import type { MetaV2Row } from "../store/meta_v2.ts";
import type { Logger } from "../logger.ts";
import { WarnLimiter } from "../warn_limiter.ts";
import { fieldLabels, resourceForStoredGvr } from "./resources.ts";
import { type Selectable, selectableOf, type Selection, selects } from "./selectors.ts";
import { expired, internalError, type Status } from "./status.ts";
import type { StoredObject } from "./representation.ts";
import { compareKeys } from "../store/key.ts";

/** Default number of changes kept for resuming watches. */
export const DEFAULT_HISTORY_ENTRIES = 1_000;
/** Default bound on the stored JSON kept in the history (characters). */
export const DEFAULT_HISTORY_CHARS = 4 * 1024 * 1024;
/** Default per-watcher buffer (events not yet taken by the client). */
export const DEFAULT_WATCHER_BUFFER = 8192;

/** Options of a {@link WatchHub}. */
export interface WatchHubOptions {
  /** The rows stored when the hub starts (indexed for selector semantics). */
  rows?: Iterable<MetaV2Row>;
  /** The revision when the hub starts (max resourceversion stored). */
  revision?: number | bigint;
  historyEntries?: number;
  historyChars?: number;
  watcherBuffer?: number;
  logger?: Logger;
}

/** An event type on the wire. */
export type EventType = WatchEventType | "ERROR" | "BOOKMARK";

/** The resourceversion of a row as an unsigned integer. */
export function rowRevision(row: MetaV2Row): bigint {
  return BigInt.asUintN(64, BigInt(row.resourceversion));
}

/** One committed change in the history. */
interface Entry {
  row: MetaV2Row;
  /** Labels and fields before the change (undefined: the key did not exist). */
  prev?: Selectable;
  /** After the change (undefined: deleted). */
  cur?: Selectable;
  /** Hub revision after this change. */
  revAfter: bigint;
  /** Whether this change raised the revision. */
  advanced: boolean;
  /** Encoded event lines by type (shared by all watchers). */
  lines: Partial<Record<EventType, string>>;
}

/** A watch event line: `{"type":T,"object":{...}}\n`. */
export function eventLine(type: EventType, objectJson: string): string {
  return `{"type":"${type}","object":${objectJson}}\n`;
}

/** The ERROR event line for a Status. */
export function errorLine(s: Status): string {
  return eventLine("ERROR", JSON.stringify(s));
}

function lineOf(entry: Entry, type: EventType): string {
  let line = entry.lines[type];
  if (line === undefined) {
    const v = entry.row.value;
    line = eventLine(type, v.endsWith("\n") ? v.slice(0, -1) : v);
    entry.lines[type] = line;
  }
  return line;
}

/** Labels and selectable fields of a stored row; `decoded` is its object when at hand. */
function selectableOfRow(row: MetaV2Row, decoded?: unknown): Selectable {
  let obj: unknown = decoded;
  if (obj === undefined) {
    try {
      obj = JSON.parse(row.value);
    } catch { /* an undecodable value selects as an empty object */ }
  }
  return selectableOf(obj, fieldLabels(resourceForStoredGvr(row.groupversionresource)));
}

/** What a watch is about. */
export interface WatchSpec {
  /** Stored `groupversionresource` of the watched resource. */
  gvr: string;
  /** "" for all namespaces / cluster-scoped. */
  namespace: string;
  /** "" for every object. */
  name: string;
  selection: Selection;
  /**
   * Replay the changes after this revision; undefined: start now (after `initial`).
   */
  since?: bigint;
  /**
   * Reads the objects to send first as ADDED (the current state for resourceVersion "" or
   * 0), one page at a time in key order from after key `after` (see {@link InitialPage}).
   */
  initial?: (after: string) => InitialPage;
  /**
   * The line to send after the initial events (a BOOKMARK marking their end), given the
   * hub's revision once the last page is read.
   */
  afterInitial?: (revision: bigint) => string;
  /** Seconds until the stream ends (default: random 1800–3600, like kube-apiserver). */
  timeoutSeconds?: number;
}

/**
 * One page of a watch's initial events: objects in key order, and the last key read when
 * more follow. Pages are read from the store as the client takes the events, so a watch
 * over any database holds one page at a time; a change committed meanwhile to a key not
 * read yet is not sent as an event, since its page shows the object as it is when read
 * (a deleted object is not listed); a change to a key already sent is sent as usual.
 */
export interface InitialPage {
  items: StoredObject[];
  lastKey?: string;
}

const encoder = new TextEncoder();
/** Largest chunk written at once (events are joined up to this many characters). */
const CHUNK_CHARS = 256 * 1024;

/** One open watch: a queue of event lines and the byte stream that drains it. */
export class Watcher {
  /** The response body: one JSON event per line. */
  readonly stream: ReadableStream<Uint8Array>;
  /** Why the watch ended (undefined while open). */
  endReason?: string;
  #pending: string[] = [];
  #live = 0;
  #ended = false;
  #wake?: () => void;
  #timer?: ReturnType<typeof setTimeout>;
  #onEnd: (w: Watcher) => void;
  /** The last key of the initial pages read so far; undefined once all are read. */
  #cursor?: string;
  #revision: () => bigint;

  /** @internal created by {@link WatchHub.watch} */
  constructor(
    readonly spec: WatchSpec,
    readonly bufferLimit: number,
    first: string[],
    onEnd: (w: Watcher) => void,
    revision: () => bigint,
  ) {
    this.#pending = first;
    this.#onEnd = onEnd;
    this.#revision = revision;
    if (spec.since === undefined && spec.initial !== undefined) this.#cursor = "";
    this.stream = new ReadableStream<Uint8Array>({
      pull: (controller) => this.#pull(controller),
      cancel: () => this.end("client went away"),
    }, { highWaterMark: 0 });
    const seconds = spec.timeoutSeconds ?? 1800 * (1 + Math.random());
    // timers cannot exceed 2^31-1 ms (about 24.8 days)
    this.#timer = setTimeout(() => this.end("timeout"), Math.min(seconds * 1000, 2 ** 31 - 1));
  }

  /** Events queued and not yet taken by the client. */
  get queued(): number {
    return this.#pending.length;
  }

  /** True once the watch has ended (nothing more will be queued). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Queues the next page of initial events (and the closing line after the last page). */
  #readInitial(): void {
    let page: InitialPage;
    try {
      page = this.spec.initial!(this.#cursor!);
    } catch (e) {
      this.#cursor = undefined;
      this.fail(internalError(`reading the initial events failed: ${(e as Error).message}`));
      return;
    }
    for (const item of page.items) this.#pending.push(eventLine("ADDED", item.json));
    this.#cursor = page.lastKey;
    if (this.#cursor === undefined && this.spec.afterInitial !== undefined) {
      this.#pending.push(this.spec.afterInitial(this.#revision()));
    }
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    for (;;) {
      if (this.#pending.length === 0 && this.#cursor !== undefined && !this.#ended) {
        this.#readInitial();
      }
      if (this.#pending.length > 0) {
        let n = 0, size = 0;
        while (n < this.#pending.length && (n === 0 || size < CHUNK_CHARS)) {
          size += this.#pending[n++].length;
        }
        const chunk = this.#pending.splice(0, n).join("");
        this.#live = Math.min(this.#live, this.#pending.length);
        controller.enqueue(encoder.encode(chunk));
        return;
      }
      if (this.#ended) {
        try {
          controller.close();
        } catch { /* cancelled meanwhile */ }
        return;
      }
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }

  #notify(): void {
    this.#wake?.();
  }

  /**
   * Queues a live event line about the object stored under `key`; a watcher whose buffer
   * is full is failed instead. While initial pages are read, a change to a key after the
   * last one read is left out: its page, read later, shows it.
   */
  offer(line: string, key?: string): void {
    if (this.#ended) return;
    if (this.#cursor !== undefined && key !== undefined && compareKeys(key, this.#cursor) > 0) {
      return;
    }
    if (this.#live >= this.bufferLimit) {
      this.fail(
        expired(
          `watch closed: the client fell more than ${this.bufferLimit} events behind; ` +
            `list and watch again`,
        ),
        "client too slow",
      );
      return;
    }
    this.#pending.push(line);
    this.#live++;
    this.#notify();
  }

  /** Drops what is queued, sends an ERROR event with `s`, then ends the stream. */
  fail(s: Status, reason: string = s.message): void {
    if (this.#ended) return;
    this.#pending = [errorLine(s)];
    this.#live = 0;
    this.end(reason, true);
  }

  /**
   * Ends the stream (idempotent) and releases the watcher. Events still queued are dropped
   * unless `drain` (the client resumes from the last resourceVersion it saw).
   */
  end(reason: string, drain = false): void {
    if (this.#ended) return;
    this.#ended = true;
    this.endReason = reason;
    clearTimeout(this.#timer);
    if (!drain) {
      this.#pending = [];
      this.#live = 0;
    }
    this.#onEnd(this);
    this.#notify();
  }
}

/** Committed changes, their recent history, and the open watches. */
export class WatchHub {
  #revision: bigint;
  /** The smallest resourceVersion a watch can resume from. */
  #minResumable: bigint;
  #history: Entry[] = [];
  #head = 0;
  #historyChars = 0;
  /** Selectables computed by {@link prepare}, until their change is published. */
  #prepared = new WeakMap<MetaV2Row, Selectable>();
  #present = new Map<string, Selectable>();
  #watchers = new Set<Watcher>();
  #closed = false;
  readonly #maxEntries: number;
  readonly #maxChars: number;
  readonly #buffer: number;
  readonly #log?: Logger;
  /** Slow watchers closed: logged at most once per 10 s per resource, with the count. */
  readonly #slowWarnings?: WarnLimiter;
  /** Watchers closed because they fell too far behind (`/metrics`). */
  slowClosed = 0;

  constructor(options: WatchHubOptions = {}) {
    this.#revision = BigInt(options.revision ?? 0);
    this.#minResumable = this.#revision;
    this.#maxEntries = options.historyEntries ?? DEFAULT_HISTORY_ENTRIES;
    this.#maxChars = options.historyChars ?? DEFAULT_HISTORY_CHARS;
    this.#buffer = options.watcherBuffer ?? DEFAULT_WATCHER_BUFFER;
    this.#log = options.logger;
    if (options.logger) this.#slowWarnings = new WarnLimiter(options.logger);
    for (const row of options.rows ?? []) {
      this.#present.set(row.key, selectableOfRow(row));
      const rv = rowRevision(row);
      if (rv > this.#revision) this.#revision = rv;
    }
    this.#minResumable = this.#revision;
  }

  /** The current revision (lists report it as their resourceVersion). */
  get revision(): bigint {
    return this.#revision;
  }

  /** The oldest resourceVersion a watch can resume from. */
  get minResumable(): bigint {
    return this.#minResumable;
  }

  /** Changes held in the history. */
  get historySize(): number {
    return this.#history.length - this.#head;
  }

  /** Open watches. */
  get watcherCount(): number {
    return this.#watchers.size;
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Keeps the labels and selectable fields of a change being made, while its decoded
   * object is at hand (MetaManager's `onChanges`); {@link publish} uses them.
   */
  prepare(change: StoreChange): void {
    if (change.type === "DELETED") return;
    try {
      this.#prepared.set(change.row, selectableOfRow(change.row, change.object));
    } catch { /* publish computes it again, and reports */ }
  }

  /**
   * Takes committed changes in commit order (MetaManager's `onChanges`). Never throws and
   * never blocks: slow watchers are failed, not waited for.
   */
  publish(changes: readonly StoreChange[]): void {
    for (const change of changes) {
      try {
        this.#publishOne(change);
      } catch (e) {
        this.#log?.error("metaserver: watch event dropped", {
          key: change.row.key,
          error: String(e),
        });
      }
    }
  }

  #publishOne(change: StoreChange): void {
    const { row } = change;
    const prev = this.#present.get(row.key);
    let cur: Selectable | undefined;
    if (change.type === "DELETED") {
      this.#present.delete(row.key);
    } else {
      cur = this.#prepared.get(row) ?? selectableOfRow(row, change.object);
      this.#present.set(row.key, cur);
    }
    const rv = rowRevision(row);
    const advanced = rv > this.#revision;
    if (advanced) this.#revision = rv;
    const entry: Entry = { row, prev, cur, revAfter: this.#revision, advanced, lines: {} };
    this.#history.push(entry);
    this.#historyChars += row.value.length;
    this.#trim();
    for (const w of this.#watchers) {
      const line = this.#lineFor(w.spec, entry);
      if (line !== undefined) w.offer(line, row.key);
    }
  }

  #trim(): void {
    while (
      this.historySize > this.#maxEntries ||
      (this.#historyChars > this.#maxChars && this.historySize > 1)
    ) {
      const e = this.#history[this.#head++];
      this.#historyChars -= e.row.value.length;
      const min = e.advanced ? e.revAfter : e.revAfter + 1n;
      if (min > this.#minResumable) this.#minResumable = min;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#history.length) {
      this.#history.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** The event line `spec` gets for `entry`, or undefined when none (Kubernetes semantics). */
  #lineFor(spec: WatchSpec, entry: Entry): string | undefined {
    const { row } = entry;
    if (row.groupversionresource !== spec.gvr) return undefined;
    if (spec.namespace !== "" && row.namespace !== spec.namespace) return undefined;
    if (spec.name !== "" && row.name !== spec.name) return undefined;
    const now = entry.cur !== undefined && selects(spec.selection, entry.cur);
    const before = entry.prev !== undefined && selects(spec.selection, entry.prev);
    if (now && before) return lineOf(entry, "MODIFIED");
    if (now) return lineOf(entry, "ADDED");
    if (before) return lineOf(entry, "DELETED");
    return undefined;
  }

  /**
   * Opens a watch; its initial events (`spec.initial`) are read page by page as the client
   * takes them (see {@link InitialPage}). A `since` older than the history
   * gives a watcher that sends one ERROR event (410 Expired) and ends.
   */
  watch(spec: WatchSpec): Watcher {
    const first: string[] = [];
    let tooOld: Status | undefined;
    if (spec.since !== undefined) {
      if (spec.since < this.#minResumable) {
        tooOld = expired(`too old resource version: ${spec.since} (${this.#minResumable})`);
      } else {
        let i = this.#history.length;
        while (i > this.#head) {
          const e = this.#history[i - 1];
          if (!(e.revAfter > spec.since || (e.revAfter === spec.since && !e.advanced))) break;
          i--;
        }
        for (; i < this.#history.length; i++) {
          const line = this.#lineFor(spec, this.#history[i]);
          if (line !== undefined) first.push(line);
        }
      }
    } else if (spec.initial === undefined && spec.afterInitial !== undefined) {
      first.push(spec.afterInitial(this.#revision));
    }
    const w = new Watcher(spec, this.#buffer, first, (x) => {
      this.#watchers.delete(x);
      if (x.endReason === "client too slow") {
        this.slowClosed++;
        this.#slowWarnings?.warn("metaserver: slow watchers closed", x.spec.gvr, {
          gvr: x.spec.gvr,
          buffer: this.#buffer,
        });
      }
      this.#log?.debug("metaserver watch closed", {
        gvr: x.spec.gvr,
        reason: x.endReason,
        watches: this.#watchers.size,
      });
    }, () => this.#revision);
    if (tooOld) w.fail(tooOld, "too old");
    else if (this.#closed) w.end("shutting down");
    else {
      this.#watchers.add(w);
      this.#log?.debug("metaserver watch opened", {
        gvr: spec.gvr,
        namespace: spec.namespace,
        since: spec.since?.toString() ?? "now",
        replayed: first.length,
        watches: this.#watchers.size,
      });
    }
    return w;
  }

  /** Ends every watch and refuses new ones (service shutdown). */
  close(): void {
    this.#closed = true;
    for (const w of [...this.#watchers]) w.end("shutting down");
  }
}
