/**
 * The serve batch loop (runMetaManagerLoop) on real database files: group commit with the
 * fsync off the JavaScript thread (syncOffThread), acknowledgements only after the fsync
 * and in commit order, and nothing sent when the fsync fails.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { MessageBus } from "../src/beehive/bus.ts";
import type { Message } from "../src/beehive/message.ts";
import { parseMessage } from "../src/beehive/wire.ts";
import { silentLogger } from "../src/logger.ts";
import { type MetaManagerLoopOptions, runMetaManagerLoop } from "../src/metamanager/module.ts";
import type { Bus } from "../src/metamanager/outbox.ts";
import { META_MANAGER_MODULE, MetaManager } from "../src/metamanager/process.ts";
import { Store } from "../src/store/store.ts";

/** Records what the MetaManager sends. */
class RecordingBus implements Bus {
  readonly sent: Message[] = [];
  send(_module: string, msg: Message): void {
    this.sent.push(msg);
  }
  sendToGroup(_group: string, msg: Message): void {
    this.sent.push(msg);
  }
  sendResp(msg: Message): void {
    this.sent.push(msg);
  }
  sendSync(): Promise<Message> {
    return Promise.reject(new Error("timeout to get response"));
  }
}

function insert(i: number): Message {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: `pod-${i}`, namespace: "default", resourceVersion: String(1000 + i) },
    spec: { nodeName: "edge-1" },
  };
  return parseMessage(JSON.stringify({
    header: { msg_id: `ins-${i}`, parent_msg_id: "", timestamp: 1700000000000 + i, sync: false },
    route: {
      source: "edgecontroller",
      group: "resource",
      operation: "insert",
      resource: `default/pod/pod-${i}`,
    },
    content: pod,
  }));
}

function tempDb(): { dir: string; path: string } {
  const dir = Deno.makeTempDirSync({ prefix: "loop_test_" });
  return { dir, path: `${dir}/edgecore.db` };
}

/** The serve loop fed from a bus queue, as serve runs it; `stop()` ends it and waits. */
function startLoop(
  mm: MetaManager,
  store: Store,
  options: Partial<MetaManagerLoopOptions>,
): { send: (msg: Message) => Promise<void>; stop: () => Promise<void> } {
  const queue = new MessageBus();
  queue.addModule(META_MANAGER_MODULE, "meta");
  const abort = new AbortController();
  const loop = runMetaManagerLoop({
    mm,
    store,
    logger: silentLogger,
    receive: (signal) => queue.receive(META_MANAGER_MODULE, signal),
    tryReceive: () => queue.tryReceive(META_MANAGER_MODULE),
    ...options,
  }, abort.signal);
  return {
    send: (msg) => queue.send(META_MANAGER_MODULE, msg),
    stop: async () => {
      abort.abort();
      await loop;
    },
  };
}

function synchronousOf(store: Store): number {
  const row = store.db.sqlite.prepare("PRAGMA synchronous").get() as { synchronous: number };
  return row.synchronous;
}

Deno.test("syncOffThread: SQLite runs at NORMAL and durable() syncs; ignored unless FULL on WAL", () => {
  const { dir, path } = tempDb();
  try {
    const off = Store.open(path, { syncOffThread: true });
    assert.equal(off.db.syncsOffThread, true);
    assert.equal(synchronousOf(off), 1, "NORMAL: COMMIT does not fsync, durable() does");
    off.close();
    const full = Store.open(path);
    assert.equal(full.db.syncsOffThread, false);
    assert.equal(synchronousOf(full), 2, "FULL by default");
    full.close();
    for (
      const options of [{ synchronous: "NORMAL" as const }, { journalMode: "DELETE" as const }]
    ) {
      const s = Store.open(path, { ...options, syncOffThread: true });
      assert.equal(s.db.syncsOffThread, false, JSON.stringify(options));
      s.close();
    }
    const mem = Store.open(":memory:", { syncOffThread: true });
    assert.equal(mem.db.syncsOffThread, false);
    mem.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("loop with syncOffThread: every insert acknowledged once, in order, after its rows are stored", async () => {
  const { dir, path } = tempDb();
  const store = Store.open(path, { syncOffThread: true });
  const sent = new RecordingBus();
  const mm = new MetaManager({ store, bus: sent, mode: "fixed", connected: true });
  const processed: string[] = [];
  const stored: number[] = [];
  const reader = new DatabaseSync(path, { readOnly: true });
  const count = reader.prepare("SELECT count(*) AS n FROM meta_v2");
  const loop = startLoop(mm, store, {
    maxBatch: 64,
    onProcessed: (m) => {
      processed.push(m.header.msgId);
      // When a message counts as processed (acknowledged), its row is committed.
      stored.push((count.get() as { n: number }).n);
    },
  });
  const n = 1000;
  for (let i = 0; i < n; i++) {
    await loop.send(insert(i));
    if (i % 97 === 0) await new Promise((r) => setTimeout(r, 1)); // batches of many sizes
  }
  while (processed.length < n) await new Promise((r) => setTimeout(r, 5));
  await loop.stop();
  try {
    const expected = Array.from({ length: n }, (_, i) => `ins-${i}`);
    assert.deepEqual(processed, expected);
    for (let i = 0; i < n; i++) assert.ok(stored[i] >= i + 1, `row of ins-${i} committed`);
    const acks = sent.sent.filter((m) => m.route.operation === "response");
    assert.deepEqual(acks.map((m) => m.header.parentMsgId), expected, "one OK each, in order");
    assert.equal((count.get() as { n: number }).n, n);
  } finally {
    reader.close();
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("deliverWhenDurable: after a failed fsync nothing is sent, for that commit or any later one", async () => {
  const { dir, path } = tempDb();
  const store = Store.open(path, { syncOffThread: true });
  const sent = new RecordingBus();
  const mm = new MetaManager({ store, bus: sent, mode: "fixed", connected: true });
  try {
    store.db.begin();
    mm.handle(insert(1));
    store.db.commit();
    assert.ok((await mm.deliverWhenDurable(mm.outbox.take()))!.length > 0);
    const afterFirst = sent.sent.length;
    assert.ok(sent.sent.some((m) => m.header.parentMsgId === "ins-1"), "the OK of ins-1");

    store.db.begin();
    mm.handle(insert(2));
    store.db.commit();
    // The -wal file cannot be opened: the fsync cannot happen.
    Deno.renameSync(`${path}-wal`, `${path}-wal.away`);
    const failed = await mm.deliverWhenDurable(mm.outbox.take());
    Deno.renameSync(`${path}-wal.away`, `${path}-wal`);
    assert.equal(failed, undefined);
    assert.match(String(store.db.syncError), /Cannot make commits to .* durable: fsync/);

    // A later fsync could succeed without the lost pages: later commits are not reported.
    store.db.begin();
    mm.handle(insert(3));
    store.db.commit();
    assert.equal(await mm.deliverWhenDurable(mm.outbox.take()), undefined);
    assert.equal(sent.sent.length, afterFirst, "nothing for ins-2 and ins-3");
  } finally {
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("loop: a checkpoint is asked for after batches that wrote, not after batches of queries", async () => {
  const { dir, path } = tempDb();
  const store = Store.open(path, { syncOffThread: true });
  const mm = new MetaManager({ store, bus: new RecordingBus(), mode: "fixed" });
  let requests = 0, processed = 0;
  const loop = startLoop(mm, store, {
    onProcessed: () => processed++,
    checkpointer: { request: () => requests++ },
  });
  const settle = async (n: number) => {
    while (processed < n) await new Promise((r) => setTimeout(r, 5));
  };
  const query = (i: number) =>
    parseMessage(JSON.stringify({
      header: { msg_id: `q-${i}` },
      route: { source: "edged", group: "meta", operation: "query", resource: "default/pod/pod-1" },
      content: null,
    }));
  try {
    await loop.send(insert(1));
    await settle(1);
    assert.equal(requests, 1, "after the insert");
    for (let i = 0; i < 50; i++) await loop.send(query(i));
    await settle(51);
    assert.equal(requests, 1, "queries wrote nothing: no checkpoint");
  } finally {
    await loop.stop();
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
