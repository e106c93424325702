/**
 * replay() into a database opened as the replay command opens it (syncOffThread: each
 * commit's fsync on another thread while the next lines are processed; a background
 * checkpointer): the rows of every line are stored when it returns, the WAL is copied into
 * the database file as the replay goes, and a commit that cannot be made durable fails the
 * replay with the reason, instead of a summary that reports its lines as done.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { replay, type ReplayOptions, type ReplaySummary } from "../src/replay/replay.ts";
import { Store } from "../src/store/store.ts";
import { Checkpointer } from "../src/store/checkpointer.ts";
import { silentLogger } from "../src/logger.ts";
import { cloudWrite } from "./support/crash.ts";

function journal(n: number): ReadableStream<Uint8Array> {
  const lines = Array.from({ length: n }, (_, i) => {
    const pod = { type: "pod", namespace: "default", name: `p${i}` } as const;
    return JSON.stringify(cloudWrite(`m${i}`, "insert", pod, 100 + i)) + "\n";
  });
  return ReadableStream.from([new TextEncoder().encode(lines.join(""))]);
}

/** 2,500 pod inserts replayed into `store` in commits of 1,000 lines, with `extra` options. */
function replayInserts(store: Store, extra: Partial<ReplayOptions> = {}): Promise<ReplaySummary> {
  return replay({
    journal: journal(2500),
    store,
    mode: "fixed",
    answers: { cloud: new Map(), edged: new Map() },
    batchSize: 1000,
    write: () => {},
    ...extra,
  });
}

Deno.test("replay with off-thread fsyncs and checkpoints: every line's rows are stored when it returns, the WAL copied into the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/e.db`;
    const store = Store.open(path, { syncOffThread: true });
    assert.ok(store.db.syncsOffThread);
    const checkpointer = Checkpointer.forDatabase(store.db, silentLogger)!;
    const summary = await replayInserts(store, { checkpointer });
    assert.equal(summary.messages, 2500);
    // Asked after each commit: the WAL went into the database file before the close.
    await new Promise((r) => setTimeout(r, 200));
    await checkpointer.close();
    assert.ok(checkpointer.stats.checkpoints > 0, "checkpoints during the replay");
    assert.ok(
      Deno.statSync(path).size > 1024 * 1024,
      `database file ${Deno.statSync(path).size} B`,
    );
    // Read by another connection before this one closes (and checkpoints).
    const other = new DatabaseSync(path, { readOnly: true });
    const n = other.prepare("SELECT count(*) AS n FROM meta").get() as { n: number };
    other.close();
    store.close();
    assert.equal(Number(n.n), 2500);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("replay with off-thread fsyncs: a commit that cannot be synced fails the replay, naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/e.db`;
    const store = Store.open(path, { syncOffThread: true });
    let moved = false;
    const run = replayInserts(store, {
      onProgress: (line) => {
        // After the first commit: the -wal SQLite writes is not the file on disk any more.
        if (line === 1500 && !moved) {
          Deno.renameSync(`${path}-wal`, `${dir}/moved-wal`);
          moved = true;
        }
      },
    });
    await assert.rejects(
      run,
      (e: Error) =>
        e.message.includes(`Cannot make commits to ${path} durable`) &&
        /No such file|replaced or removed/.test(e.message),
    );
    store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
