/**
 * Replay: every journal line through the MetaManager's process(), in order, with
 * stand-in peers and virtual time, writing the event lines of each.
 *
 * @module
 */

import type { Transport } from "../beehive/wire.ts";
import type { CompatMode } from "../metamanager/compat.ts";
import { MetaManager } from "../metamanager/process.ts";
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
}

/** What a replay did. */
export interface ReplaySummary {
  lines: number;
  messages: number;
  events: number;
  errors: number;
  panics: number;
  elapsedMs: number;
}

/** Replays a journal. Database writes are committed every `batchSize` lines and at the end. */
export async function replay(options: ReplayOptions): Promise<ReplaySummary> {
  const started = performance.now();
  const clock = new VirtualClock(options.newId);
  const transport: Transport = options.mode === "strict" ? options.transport ?? "websocket" : "raw";
  const recorder = new EventRecorder(options.write, options.answers, clock, transport);
  const pending: Promise<void>[] = [];
  let currentLine = 0;
  const summary: ReplaySummary = {
    lines: 0,
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
  let inBatch = 0;
  try {
    for await (const entry of readJournal(options.journal, transport)) {
      summary.lines = entry.line;
      if ("error" in entry) {
        summary.errors++;
        recorder.error(entry.line, entry.error);
        continue;
      }
      if (inBatch === 0) db.begin();
      currentLine = entry.line;
      recorder.begin(entry.line, entry.message);
      summary.messages++;
      const r = mm.handle(entry.message);
      if (r) await r;
      while (pending.length > 0) await pending.shift();
      mm.outbox.flush();
      if (++inBatch >= batchSize) {
        db.commit();
        inBatch = 0;
      }
      options.onProgress?.(entry.line);
    }
    if (inBatch > 0) db.commit();
  } catch (e) {
    db.rollback();
    throw e;
  }
  summary.events = recorder.events;
  summary.elapsedMs = performance.now() - started;
  return summary;
}
