/**
 * Background checkpoints (src/store/checkpointer.ts) on real database files: the worker
 * moves committed WAL pages into the database file; without a worker the fallback runs
 * on the main thread once writes pause.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { createLogger } from "../src/logger.ts";
import { Checkpointer } from "../src/store/checkpointer.ts";
import { rowForObject } from "../src/store/meta_v2.ts";
import { Store } from "../src/store/store.ts";

function capturingLogger(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger("info", (l) => lines.push(l)) };
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function writePods(store: Store, from: number, n: number): void {
  store.transaction(() => {
    for (let i = from; i < from + n; i++) {
      store.metaV2.insertOrReplace(rowForObject({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `pod-${i}`, namespace: "default", resourceVersion: String(i + 1) },
        spec: { padding: "x".repeat(2000) },
      }));
    }
  });
}

/** Rows of meta_v2 in the database file alone, as if the WAL were lost. */
function rowsWithoutWal(path: string, dir: string): number {
  const copy = `${dir}/main-file-only.db`;
  Deno.copyFileSync(path, copy);
  const db = new DatabaseSync(copy, { readOnly: true });
  try {
    const table = db.prepare("SELECT name FROM sqlite_master WHERE name = 'meta_v2'").get();
    if (table === undefined) return 0;
    return (db.prepare("SELECT count(*) AS n FROM meta_v2").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

Deno.test("checkpointer: the worker moves committed pages into the database file", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "checkpointer_test_" });
  const path = `${dir}/edgecore.db`;
  const store = Store.open(path, { syncOffThread: true });
  const { lines, logger } = capturingLogger();
  const cp = new Checkpointer(path, logger, { minIntervalMs: 10 });
  try {
    writePods(store, 0, 500);
    assert.equal(rowsWithoutWal(path, dir), 0, "before: every row is only in the WAL");
    cp.request();
    await until("a background checkpoint", () => cp.stats.checkpoints >= 1);
    assert.equal(rowsWithoutWal(path, dir), 500, "after: the database file has every row");

    // Requests while writes go on are merged, and the last one still runs.
    for (let k = 1; k <= 5; k++) {
      writePods(store, k * 100, 100);
      cp.request();
    }
    // A copy taken while a checkpoint writes the file can be torn: that copy does not count.
    await until("the WAL fully copied", () => {
      try {
        return rowsWithoutWal(path, dir) === 600;
      } catch (e) {
        if (/malformed/.test(String(e))) return false;
        throw e;
      }
    });
    assert.ok(cp.stats.checkpoints <= 6, `merged requests (${cp.stats.checkpoints} checkpoints)`);
    assert.equal(cp.failed, false);
    assert.deepEqual(lines, []);
  } finally {
    await cp.close();
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("checkpointer: when the worker cannot open the file, the fallback runs once writes pause", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "checkpointer_test_" });
  const { lines, logger } = capturingLogger();
  let fallbacks = 0;
  const cp = new Checkpointer(`${dir}/no/such/dir/edgecore.db`, logger, {
    fallback: () => fallbacks++,
    fallbackIdleMs: 30,
  });
  try {
    cp.request();
    await until("the worker to fail", () => cp.failed);
    assert.ok(
      lines.some((l) => / WARN background checkpoints unavailable/.test(l)),
      lines.join("\n"),
    );
    await until("the fallback", () => fallbacks === 1);
    for (let k = 0; k < 5; k++) cp.request(); // a burst: one fallback after it
    await until("the fallback after the burst", () => fallbacks >= 2);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(fallbacks, 2);
  } finally {
    await cp.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("checkpointer: close() before any request and twice is harmless", async () => {
  const { logger } = capturingLogger();
  const cp = new Checkpointer("/nonexistent/edgecore.db", logger);
  await cp.close();
  await cp.close();
  cp.request(); // after close: ignored, no worker started
  assert.equal(cp.stats.checkpoints, 0);
});
