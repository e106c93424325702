/**
 * Replay: every journal line through the MetaManager's process(), in order, with
 * stand-in peers and virtual time, writing the event lines of each.
 *
 * @module
 */

import { CLOUD_SOURCES, CLOUD_SOURCES_V1_23, type Transport } from "../beehive/wire.ts";
import type { CompatMode } from "../metamanager/compat.ts";
import { MetaManager } from "../metamanager/process.ts";
import { FrameDecoder } from "../metamanager/frame_decoder.ts";
import type { Store } from "../store/store.ts";
import type { Logger } from "../logger.ts";
import { readJournal } from "./journal.ts";
import { EventRecorder } from "./recorder.ts";
import { type StandInAnswers, VirtualClock } from "./stand_ins.ts";

/** Options of {@link replay}. */
export interface ReplayOptions {
  journal: ReadableStream<Uint8Array>;
  store: Store;
  mode: CompatMode;
  answers: StandInAnswers;
  /** Receives each event line (without newline). */
  write: (line: string) => void;
  connected?: boolean;
  /** Seconds (default 60). */
  remoteQueryTimeout?: number;
  logger?: Logger;
  /** Lines per committed transaction (default 1000). */
  batchSize?: number;
  /** Called after each line with the number of lines read. */
  onProgress?: (lines: number) => void;
  /** Fresh ids (default random UUIDs). */
  newId?: () => string;
  /**
   * How cloud-originated lines reach the MetaManager in strict mode (default `websocket`,
   * edgecore's default transport; see Transport). fixed mode always takes content as
   * written (`raw`): meta values exactly as received, no number rounded.
   */
  transport?: Transport;
  /**
   * Resume: journal lines before this one are read but not processed (only their
   * `connect` messages set the cloud connection state, the one state process() keeps
   * between messages), so a replay interrupted after line N continues with N + 1 into
   * the same database. Default 1.
   */
  fromLine?: number;
  /**
   * Stops the replay after the line being processed (its writes and the batch so far are
   * committed); the summary then has `interrupted` set.
   */
  signal?: AbortSignal;
  /**
   * Whether lines are decoded (and their meta_v2 rows prepared) on a worker thread, the
   * next read's while this one's are processed (default false; taken on a machine with two
   * cores or more; see src/metamanager/frame_decoder.ts). The output is the same either
   * way; on the bench machine it was 6% faster for 30% more CPU.
   */
  decodeOnWorker?: boolean;
  /**
   * Asked for a checkpoint after each commit: the replay command passes a background
   * Checkpointer (src/store/checkpointer.ts), as serve does, so that the WAL stays small
   * and the statements do not slow down as it grows.
   */
  checkpointer?: { request(): void };
}

/** What a replay did. */
export interface ReplaySummary {
  /** The last journal line read (processed, reported as an error, or skipped). */
  lines: number;
  /** The last journal line processed or reported (0 when none): resume after it. */
  lastLine: number;
  /** Lines before `fromLine`, not processed. */
  skipped: number;
  /** Whether the replay stopped early on {@link ReplayOptions.signal}. */
  interrupted: boolean;
  messages: number;
  events: number;
  errors: number;
  panics: number;
  elapsedMs: number;
}

/**
 * Replays a journal. Database writes are committed every `batchSize` lines and at the end;
 * it resolves once they are on disk.
 * @throws the failed fsync's error when a commit could not be made durable
 */
export async function replay(options: ReplayOptions): Promise<ReplaySummary> {
  const started = performance.now();
  const clock = new VirtualClock(options.newId);
  const transport: Transport = options.mode === "strict" ? options.transport ?? "websocket" : "raw";
  const recorder = new EventRecorder(
    options.write,
    options.answers,
    clock,
    transport,
    "websocket",
    options.store.release,
  );
  const pending: Promise<void>[] = [];
  let currentLine = 0;
  const summary: ReplaySummary = {
    lines: 0,
    lastLine: 0,
    skipped: 0,
    interrupted: false,
    messages: 0,
    events: 0,
    errors: 0,
    panics: 0,
    elapsedMs: 0,
  };
  const mm = new MetaManager({
    store: options.store,
    bus: recorder,
    mode: options.mode,
    identity: clock,
    logger: options.logger,
    connected: options.connected ?? false,
    remoteQueryTimeout: options.remoteQueryTimeout,
    spawn: (task) => pending.push(task),
    onPanic: (reason) => {
      summary.panics++;
      recorder.panic(currentLine, reason);
    },
  });
  const db = options.store.db;
  const batchSize = options.batchSize ?? 1000;
  const fromLine = options.fromLine ?? 1;
  const signal = options.signal;
  // A journal read (stdin) may block: an abort must not wait for the next line.
  const aborted = new Promise<"aborted">((resolve) => {
    if (signal?.aborted) resolve("aborted");
    signal?.addEventListener("abort", () => resolve("aborted"), { once: true });
  });
  const cloudSources = options.store.release === "1.23" ? CLOUD_SOURCES_V1_23 : CLOUD_SOURCES;
  const decoder = new FrameDecoder({
    transport,
    cloudSources,
    worker: options.decodeOnWorker,
    logger: options.logger,
  });
  const entries = readJournal(
    options.journal,
    transport,
    cloudSources,
    decoder.prefersBatches ? decoder : undefined,
  );
  let inBatch = 0;
  // With a store opened with syncOffThread (the replay command's), each commit's fsync
  // runs on another thread while the next lines are processed; at most one waits, and
  // the replay returns only once every commit is on disk.
  let syncing: Promise<void> = Promise.resolve();
  const commit = async () => {
    db.commit();
    inBatch = 0;
    options.checkpointer?.request();
    const earlier = syncing;
    syncing = db.durable();
    syncing.catch(() => {}); // awaited at the next commit or at the end
    await earlier;
  };
  try {
    for (;;) {
      if (signal?.aborted) {
        summary.interrupted = true;
        break;
      }
      const next = signal ? await Promise.race([entries.next(), aborted]) : await entries.next();
      if (next === "aborted") {
        summary.interrupted = true;
        break;
      }
      if (next.done) break;
      const entry = next.value;
      summary.lines = entry.line;
      if (entry.line < fromLine) {
        summary.skipped++;
        if ("message" in entry && entry.message.route.operation === "connect") {
          mm.processNodeConnection(entry.message);
        }
        continue;
      }
      summary.lastLine = entry.line;
      if ("error" in entry) {
        summary.errors++;
        recorder.error(entry.line, entry.error);
        continue;
      }
      if (inBatch === 0) db.begin();
      currentLine = entry.line;
      recorder.begin(entry.line, entry.message);
      summary.messages++;
      mm.setConnectionFromEdgeHub(entry.message); // v1.23: EdgeHub sets the flag first
      const r = mm.handle(entry.message);
      if (r) await r;
      while (pending.length > 0) await pending.shift();
      mm.outbox.flush();
      if (++inBatch >= batchSize) await commit();
      options.onProgress?.(entry.line);
    }
    if (inBatch > 0) await commit();
    await syncing;
  } catch (e) {
    db.rollback();
    throw e;
  } finally {
    if (summary.interrupted) void entries.return(undefined).catch(() => {});
    decoder.close();
  }
  summary.events = recorder.events;
  summary.elapsedMs = performance.now() - started;
  return summary;
}
