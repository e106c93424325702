/**
 * The metaManager bus module's main loop: receive, process in batches, commit, then
 * deliver. Messages that arrive together share one transaction, and a run of a cloud
 * module's writes in it one savepoint (MetaManager.handleRun): a failing message makes the
 * run be handled again one savepoint per message, so it rolls back alone; one fsync serves
 * the whole batch; acknowledgements leave only after the commit.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import type { Message } from "../beehive/message.ts";
import type { Logger } from "../logger.ts";
import type { Store } from "../store/store.ts";
import { busyText, isBusyError } from "../store/db.ts";
import { type MetaManager, VOLUME_OPERATIONS } from "./process.ts";

/** Where the loop gets messages from and reports to. */
export interface MetaManagerLoopOptions {
  mm: MetaManager;
  store: Store;
  /** Waits for the next message of the metaManager queue. */
  receive: (signal: AbortSignal) => Promise<Message>;
  /** The next waiting message, if any, without waiting. */
  tryReceive: () => Message | undefined;
  /** Largest batch (default 512 messages). */
  maxBatch?: number;
  /** A batch stops growing once its contents reach this many characters (default 512 Ki). */
  maxBatchBytes?: number;
  logger: Logger;
  /** Sees each batch before it is processed (journal). */
  onReceived?: (batch: Message[]) => void;
  /** Sees each processed message and each commit's latency (metrics). */
  onProcessed?: (msg: Message) => void;
  onCommit?: (seconds: number, messages: number) => void;
  /**
   * Asked after each delivered commit that wrote rows: a background checkpointer, which
   * keeps the WAL short so that commits on the acknowledgement path rarely checkpoint
   * themselves.
   */
  checkpointer?: { request(): void };
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/**
 * Processes messages until `signal` aborts. Then it stops waiting for new messages but
 * still processes every message already queued (a pending CSI relay to edged is abandoned:
 * the cloud did not get its answer and will resend), so nothing received is left behind.
 */
export async function runMetaManagerLoop(
  options: MetaManagerLoopOptions,
  signal: AbortSignal,
): Promise<void> {
  const { mm, store, logger } = options;
  const maxBatch = options.maxBatch ?? 512;
  const maxBatchBytes = options.maxBatchBytes ?? 512 * 1024;
  const stop = aborted(signal);
  // The previous batch, committed but waiting for its fsync before its messages leave
  // (only with syncOffThread): the next batch is processed meanwhile.
  let pending: Promise<unknown> = Promise.resolve();
  for (;;) {
    const batch: Message[] = [];
    if (!signal.aborted) {
      try {
        batch.push(await options.receive(signal));
      } catch (e) {
        if (!signal.aborted) {
          logger.warn("metaManager receive failed", { error: String(e) });
          await new Promise((r) => setTimeout(r, 10));
        }
        continue;
      }
    }
    // The first message wakes this loop as a microtask, before the event loop has
    // delivered the other frames already read from the sockets; give it one turn so
    // that they join this batch (one commit and one fsync for all of them). An immediate
    // costs ~10 µs; setTimeout(0) would sleep ~2 ms here (timer granularity).
    if (batch.length === 1 && !signal.aborted) await new Promise((r) => setImmediate(r));
    let bytes = batch.length ? batch[0].content.json.length : 0;
    while (batch.length < maxBatch && bytes < maxBatchBytes) {
      const m = options.tryReceive();
      if (m === undefined) break;
      batch.push(m);
      bytes += m.content.json.length;
    }
    if (batch.length === 0) break; // stopped and drained
    options.onReceived?.(batch);
    let i = 0;
    while (i < batch.length) {
      if (VOLUME_OPERATIONS.has(batch[i].route.operation)) {
        const msg = batch[i++];
        if (signal.aborted) {
          logger.warn("volume operation not relayed: shutting down", { msg_id: msg.header.msgId });
          continue;
        }
        await pending; // what came before leaves first
        // Relays to edged and waits (up to 60 s, as upstream), unless shutdown comes first.
        const relay = Promise.resolve(mm.handle(msg)).catch((e) =>
          logger.error("volume operation failed", { error: String(e) })
        );
        await Promise.race([relay, stop]);
        options.onProcessed?.(msg);
        continue;
      }
      const started = performance.now();
      const from = i;
      const changesBefore = store.db.totalChanges();
      store.db.begin();
      try {
        while (i < batch.length && !VOLUME_OPERATIONS.has(batch[i].route.operation)) {
          i = mm.handleRun(batch, i);
        }
        store.db.commit();
      } catch (e) {
        store.db.rollback();
        mm.outbox.discard();
        logger.error("batch not committed; its messages were not acknowledged", {
          messages: i - from,
          error: isBusyError(e) ? busyText(store.db.path) : String(e),
        });
        i = Math.max(i, from + 1);
        continue;
      }
      // Nothing leaves before the commit is on disk. With syncOffThread the fsync runs on
      // another thread while this loop goes on with the next batch; at most one batch
      // waits for it, so the one before must be out before this one is handed over.
      const committed = batch.slice(from, i);
      const wrote = store.db.totalChanges() !== changesBefore; // not a batch of queries
      const delivered = mm.deliverWhenDurable(mm.outbox.take()).then((deliveries) => {
        if (deliveries === undefined) return;
        options.onCommit?.((performance.now() - started) / 1000, committed.length);
        if (wrote) options.checkpointer?.request();
        for (const m of committed) options.onProcessed?.(m);
      });
      await pending;
      pending = delivered;
    }
  }
  await pending;
}
