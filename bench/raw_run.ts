/**
 * Child process of the benchmark: the physical limit. The very rows the MetaManager
 * writes for the insert and update journals (table `meta`: key, type, value = content;
 * table `meta_v2`: the row of the decoded object, value = its Go JSON) are computed
 * first, untimed, then written with node:sqlite directly: WAL, same statements (INSERT
 * OR REPLACE), same batch size, no savepoints, no parsing. Each batch is durable before
 * the next is written (synchronous FULL: COMMIT fsyncs), the baseline of the issue.
 * A second pass ("overlapped") uses serve's own durability scheme: synchronous NORMAL
 * and an fdatasync of the -wal per batch on another thread, the next batch written
 * meanwhile (at most one batch waiting) - SQLite's limit for that scheme. Prints one
 * JSON object on stdout.
 *
 * Usage: deno run -A bench/raw_run.ts '<json spec>'
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { parseMessage } from "../src/beehive/wire.ts";
import { META_DDL, META_V2_DDL } from "../src/store/db.ts";
import { decodeObject, type KubeObject, rowForObject } from "../src/store/meta_v2.ts";
import { parseResource } from "../src/metamanager/resource.ts";
import { round } from "./stats.ts";

interface RawSpec {
  db: string;
  batch: number;
  phases: { name: string; journal: string }[];
}

type Row = [string, string, string, string, string, string, number | bigint, string, string];

function rowsOf(journal: string): Row[] {
  const rows: Row[] = [];
  for (const text of Deno.readTextFileSync(journal).split("\n")) {
    if (text === "") continue;
    const msg = parseMessage(text);
    const data = msg.content.data();
    const { key, type } = parseResource(msg.route.resource);
    const v2 = rowForObject(decodeObject(data) as KubeObject);
    rows.push([
      key,
      type,
      data,
      v2.key,
      v2.groupversionresource,
      v2.namespace,
      v2.resourceversion,
      v2.name,
      v2.value,
    ]);
  }
  return rows;
}

function fresh(path: string): DatabaseSync {
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      Deno.removeSync(path + suffix);
    } catch { /* absent */ }
  }
  const db = new DatabaseSync(path, { timeout: 5000 });
  db.exec("PRAGMA journal_mode = WAL");
  db.exec(META_DDL);
  db.exec(META_V2_DDL);
  return db;
}

async function fdatasync(path: string): Promise<void> {
  const f = await Deno.open(path, { read: true });
  try {
    await f.syncData();
  } finally {
    f.close();
  }
}

/** Writes every row in batches; returns the seconds taken. */
async function writeAll(
  db: DatabaseSync,
  walPath: string,
  rows: Row[],
  batch: number,
  overlapped: boolean,
): Promise<number> {
  const meta = db.prepare("INSERT OR REPLACE INTO meta (key, type, value) VALUES (?,?,?)");
  const metaV2 = db.prepare(
    "INSERT OR REPLACE INTO meta_v2 (key, groupversionresource, namespace,name,resourceversion,value) VALUES (?,?,?,?,?,?)",
  );
  let pending: Promise<void> = Promise.resolve();
  const started = performance.now();
  for (let i = 0; i < rows.length; i += batch) {
    db.exec("BEGIN IMMEDIATE");
    const end = Math.min(rows.length, i + batch);
    for (let k = i; k < end; k++) {
      const r = rows[k];
      meta.run(r[0], r[1], r[2]);
      metaV2.run(r[3], r[4], r[5], r[7], r[6], r[8]);
    }
    db.exec("COMMIT");
    if (overlapped) {
      const synced = fdatasync(walPath);
      await pending;
      pending = synced;
    }
  }
  await pending;
  return (performance.now() - started) / 1000;
}

if (import.meta.main) {
  const spec = JSON.parse(Deno.args[0]) as RawSpec;
  const out: Record<string, unknown>[] = [];
  for (const overlapped of [false, true]) {
    const db = fresh(spec.db);
    db.exec(`PRAGMA synchronous = ${overlapped ? "NORMAL" : "FULL"}`);
    for (const phase of spec.phases) {
      const rows = rowsOf(phase.journal);
      const seconds = await writeAll(db, `${spec.db}-wal`, rows, spec.batch, overlapped);
      const name = overlapped ? `${phase.name}_overlapped` : phase.name;
      out.push({
        name,
        rows: rows.length,
        seconds: round(seconds, 3),
        rows_per_s: round(rows.length / seconds),
      });
      console.error(`  raw ${name}: ${round(rows.length / seconds)} row pairs/s`);
    }
    db.close();
  }
  console.log(JSON.stringify({ phases: out }));
}
