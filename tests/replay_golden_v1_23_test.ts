/**
 * Golden tests of KubeEdge v1.23.1: every reference journal of the v1.23 oracle (the six
 * v1.10 journals as v1.23 runs them, and the two random v1.23 journals) replayed in strict
 * mode as v1.23 must give the events and the database the real v1.23.1 MetaManager gave,
 * byte for byte (compare.py --exact) and by value; fixtures/transport-raw-v1.23 holds the
 * outputs for the same inputs replayed with `--transport raw`. Inputs the two oracles share
 * are read from fixtures/journals.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { replay } from "../src/replay/replay.ts";
import { parseAnswers } from "../src/replay/stand_ins.ts";
import { Store } from "../src/store/store.ts";
import { dumpJson } from "../src/store/dump.ts";
import type { Transport } from "../src/beehive/wire.ts";
import {
  compareDb,
  compareDbExact,
  compareEvents,
  compareEventsExact,
} from "../src/replay/compare.ts";

const ROOT = new URL("../", import.meta.url);
const V110 = new URL("fixtures/journals/", ROOT);
const REFS = new URL("fixtures/journals-v1.23/", ROOT);
const REFS_RAW = new URL("fixtures/transport-raw-v1.23/", ROOT);

const NAMES = ["crud", "lists", "misc", "remote", "rand-1", "rand-2", "rand123-1", "rand123-2"];

function exists(url: URL): boolean {
  try {
    return Deno.statSync(url).isFile;
  } catch {
    return false;
  }
}

/** A journal's input file: the v1.23 fixture directory's own, else the shared v1.10 one. */
function input(file: string): URL {
  const own = new URL(file, REFS);
  return exists(own) ? own : new URL(file, V110);
}

function read(url: URL): string {
  return Deno.readTextFileSync(url);
}

/** The cloud stand-in answers of a journal: NAME.cloud.json, else cloud-fixture.json. */
function cloudFixture(name: string): URL {
  const own = input(`${name}.cloud.json`);
  return exists(own) ? own : input("cloud-fixture.json");
}

/** Replays a reference journal as KubeEdge v1.23 in strict mode, in memory. */
async function replayV123(
  name: string,
  transport: Transport,
): Promise<{ events: string; dump: string }> {
  const cloudUrl = cloudFixture(name);
  const store = Store.open(":memory:", { release: "1.23" });
  const lines: string[] = [];
  try {
    await replay({
      journal: ReadableStream.from([new TextEncoder().encode(read(input(`${name}.ndjson`)))]),
      store,
      mode: "strict",
      transport,
      answers: {
        cloud: parseAnswers(read(cloudUrl), cloudUrl.pathname),
        edged: new Map(),
      },
      write: (line) => lines.push(line),
      remoteQueryTimeout: 1,
    });
    return { events: lines.map((l) => l + "\n").join(""), dump: dumpJson(store.db) };
  } finally {
    store.close();
  }
}

for (const name of NAMES) {
  Deno.test(`v1.23 strict replay of ${name}.ndjson equals the v1.23.1 reference, byte for byte and by value`, async () => {
    const journal = read(input(`${name}.ndjson`));
    const got = await replayV123(name, "websocket");
    const events = read(new URL(`${name}.out.ndjson`, REFS));
    const dump = read(new URL(`${name}.db.json`, REFS));
    const ev = compareEventsExact(journal, events, got.events);
    assert.deepEqual(ev.differences, [], ev.summary);
    const db = compareDbExact(dump, got.dump);
    assert.deepEqual(db.differences, [], db.summary);
    const evv = compareEvents(journal, events, got.events);
    assert.deepEqual(evv.differences, [], evv.summary);
    const dbv = compareDb(dump, got.dump);
    assert.deepEqual(dbv.differences, [], dbv.summary);
  });

  Deno.test(`v1.23 strict replay of ${name}.ndjson with --transport raw equals the transport-raw reference, byte for byte`, async () => {
    const journal = read(input(`${name}.ndjson`));
    const got = await replayV123(name, "raw");
    const ev = compareEventsExact(
      journal,
      read(new URL(`${name}.out.ndjson`, REFS_RAW)),
      got.events,
    );
    assert.deepEqual(ev.differences, [], ev.summary);
    const db = compareDbExact(read(new URL(`${name}.db.json`, REFS_RAW)), got.dump);
    assert.deepEqual(db.differences, [], db.summary);
  });
}

Deno.test("v1.23 replays differ from v1.10's where the releases differ (the references are not the same)", () => {
  // crud line 8 inserts an existing key: v1.10 keeps the old value, v1.23 upserts.
  assert.notEqual(read(new URL("crud.db.json", REFS)), read(new URL("crud.db.json", V110)));
  assert.notEqual(
    read(new URL("remote.out.ndjson", REFS)),
    read(new URL("remote.out.ndjson", V110)),
  );
});

Deno.test("the replay CLI with --kubeedge 1.23 --compat strict reproduces rand123-1 (events and database)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgecore-meta-golden-v123-" });
  try {
    const out = `${dir}/out.ndjson`, dumpFile = `${dir}/db.json`;
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "main.ts",
        "replay",
        "fixtures/journals-v1.23/rand123-1.ndjson",
        "--kubeedge",
        "1.23",
        "--compat",
        "strict",
        "--cloud",
        "fixtures/journals-v1.23/rand123-1.cloud.json",
        "--remote-query-timeout",
        "1",
        "--out",
        out,
        "--dump-db",
        dumpFile,
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, stderr);
    const journal = read(new URL("rand123-1.ndjson", REFS));
    const ev = compareEvents(
      journal,
      read(new URL("rand123-1.out.ndjson", REFS)),
      await Deno.readTextFile(out),
    );
    assert.deepEqual(ev.differences, [], ev.summary);
    const db = compareDb(
      read(new URL("rand123-1.db.json", REFS)),
      await Deno.readTextFile(dumpFile),
    );
    assert.deepEqual(db.differences, [], db.summary);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const DB_V110 = new URL("fixtures/edgecore-db/", ROOT);
const DB_V123 = new URL("fixtures/edgecore-db-v1.23/", ROOT);

Deno.test("v1.23 strict replay of the edgecore-db fixture journal into a new file gives the real v1.23 edgecore.db (events and rows, byte for byte)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgecore-meta-v123-fixture-" });
  const store = Store.open(`${dir}/edgecore.db`, { release: "1.23" });
  const lines: string[] = [];
  try {
    const journal = read(new URL("edgecore-fixture.journal.ndjson", DB_V110));
    await replay({
      journal: ReadableStream.from([new TextEncoder().encode(journal)]),
      store,
      mode: "strict",
      answers: { cloud: new Map(), edged: new Map() },
      write: (line) => lines.push(line),
      remoteQueryTimeout: 1,
    });
    const events = lines.map((l) => l + "\n").join("");
    const ev = compareEventsExact(
      journal,
      read(new URL("edgecore-fixture.out.ndjson", DB_V123)),
      events,
    );
    assert.deepEqual(ev.differences, [], ev.summary);
    const db = compareDbExact(read(new URL("edgecore.db.json", DB_V123)), dumpJson(store.db));
    assert.deepEqual(db.differences, [], db.summary);
    assert.equal(store.db.shape, "gorm");
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Every column of both tables under its real name, as upgraded.columns.json lists them. */
function columnsDump(path: string): unknown {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const out: Record<string, unknown> = {};
    for (const t of ["meta", "meta_v2"]) {
      const cols = db.prepare(`SELECT name FROM pragma_table_info('${t}')`).all().map((r) =>
        String(r.name)
      );
      out[t] = db.prepare(`SELECT * FROM \`${t}\` ORDER BY CAST(key AS BLOB)`).all()
        .map((r) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => a < b ? -1 : 1)));
      out[`${t}_columns`] = cols;
    }
    return out;
  } finally {
    db.close();
  }
}

function tableSql(path: string): string[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare(
      "SELECT sql FROM sqlite_master WHERE type = 'table' AND name IN ('meta', 'meta_v2') ORDER BY name",
    ).all() as { sql: string }[]).map((r) => r.sql);
  } finally {
    db.close();
  }
}

Deno.test("v1.23 strict replay of upgrade.journal.ndjson on a copy of the v1.10 edgecore.db migrates it as v1.23 does and equals upgraded.db (events, dump, schema, every column)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgecore-meta-v123-upgrade-" });
  const path = `${dir}/edgecore.db`;
  Deno.copyFileSync(new URL("edgecore.db", DB_V110), path);
  Deno.chmodSync(path, 0o644);
  const store = Store.open(path, { release: "1.23" });
  const lines: string[] = [];
  try {
    assert.equal(store.db.shape, "migrated");
    const journal = read(new URL("upgrade.journal.ndjson", DB_V123));
    await replay({
      journal: ReadableStream.from([new TextEncoder().encode(journal)]),
      store,
      mode: "strict",
      answers: { cloud: new Map(), edged: new Map() },
      write: (line) => lines.push(line),
      remoteQueryTimeout: 1,
    });
    const ev = compareEventsExact(
      journal,
      read(new URL("upgrade.out.ndjson", DB_V123)),
      lines.map((l) => l + "\n").join(""),
    );
    assert.deepEqual(ev.differences, [], ev.summary);
    const db = compareDbExact(read(new URL("upgraded.db.json", DB_V123)), dumpJson(store.db));
    assert.deepEqual(db.differences, [], db.summary);
  } finally {
    store.close();
  }
  try {
    // The schema text v1.23's AutoMigrate leaves, and which columns hold what (spec §5.4).
    assert.deepEqual(tableSql(path), tableSql(new URL("upgraded.db", DB_V123).pathname));
    assert.deepEqual(
      columnsDump(path),
      JSON.parse(read(new URL("upgraded.columns.json", DB_V123))),
    );
    // Opening it again as v1.23 changes nothing (the migration is idempotent).
    Store.open(path, { release: "1.23" }).close();
    assert.deepEqual(tableSql(path), tableSql(new URL("upgraded.db", DB_V123).pathname));
    assert.deepEqual(
      columnsDump(path),
      JSON.parse(read(new URL("upgraded.columns.json", DB_V123))),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a v1.10 file opened as v1.10 (asked for or detected) is never migrated: no gorm column", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/edgecore.db`;
    Deno.copyFileSync(new URL("edgecore.db", DB_V110), path);
    Deno.chmodSync(path, 0o644);
    const sql = tableSql(path);
    for (const release of [undefined, "1.10"] as const) {
      const s = Store.open(path, { release });
      assert.equal(s.release, "1.10");
      assert.equal(s.db.shape, "beego");
      s.close();
      assert.deepEqual(tableSql(path), sql);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
