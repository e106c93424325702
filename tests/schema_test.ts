/**
 * The three shapes of a node's edgecore.db (src/store/schema.ts): detection, the schema a
 * new database gets per release, the dump of real v1.23 files, and writes that keep each
 * file as its KubeEdge release writes it.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Database, DatabaseError } from "../src/store/db.ts";
import { dumpJson } from "../src/store/dump.ts";
import { rowForObject } from "../src/store/meta_v2.ts";
import { detectShape, META_V2_DDL_GORM, SchemaError } from "../src/store/schema.ts";
import { Store } from "../src/store/store.ts";

const V123 = new URL("../fixtures/edgecore-db-v1.23/", import.meta.url);
const V110 = new URL("../fixtures/edgecore-db/", import.meta.url);

function copy(dir: string, from: URL, name: string): string {
  const path = `${dir}/${name}`;
  Deno.copyFileSync(new URL(name, from), path);
  Deno.chmodSync(path, 0o644);
  return path;
}

function tableSql(path: string, table: string): string {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const row = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?")
      .get(table) as { sql: string };
    return row.sql;
  } finally {
    db.close();
  }
}

/** `CREATE TABLE` lines of a `sqlite3 .schema` file, for one table. */
function schemaLine(file: URL, table: string): string {
  const text = Deno.readTextFileSync(file);
  const statements = text.split(/;\n/).map((s) => s.trim().replace(/;$/, ""));
  const found = statements.find((s) =>
    new RegExp('^CREATE TABLE[^(]*[`"]' + table + '[`"]').test(s)
  );
  assert.ok(found, `no ${table} in ${file}`);
  return found;
}

function rawRows(path: string, sql: string): Record<string, unknown>[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare(sql).all() as Record<string, unknown>[]).map((r) => ({ ...r }));
  } finally {
    db.close();
  }
}

const POD = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "round-trip", namespace: "default", resourceVersion: "99001" },
};

Deno.test("schema: the three shapes are told apart, each naming its release", () => {
  const shapes = [
    [new URL("edgecore.db", V110), "beego"],
    [new URL("edgecore.db", V123), "gorm"],
    [new URL("upgraded.db", V123), "migrated"],
  ] as const;
  for (const [file, shape] of shapes) {
    const db = Database.open(file.pathname, { readOnly: true });
    try {
      assert.equal(db.shape, shape, file.pathname);
      assert.equal(detectShape(db.sqlite), shape);
    } finally {
      db.close();
    }
  }
});

Deno.test("schema: a meta_v2 with neither column set is refused, naming what it lacks", () => {
  const db = new DatabaseSync(":memory:");
  db.exec("CREATE TABLE meta_v2 (key text, namespace text, name text, value text, gvr text)");
  assert.throws(
    () => detectShape(db),
    (e: Error) =>
      e instanceof SchemaError &&
      /meta_v2 lacks column\(s\) groupversionresource and resourceversion \(v1\.10-v1\.22\) or group_version_resource and resource_version \(v1\.23\)/
        .test(e.message) &&
      /found key, namespace, name, value, gvr/.test(e.message),
  );
  db.close();
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/bad.db`;
    const raw = new DatabaseSync(path);
    raw.exec("CREATE TABLE meta_v2 (key text, value text)");
    raw.close();
    const before = Deno.readFileSync(path);
    assert.throws(
      () => Store.open(path),
      (e: Error) =>
        e instanceof DatabaseError &&
        e.message.startsWith(`Cannot use database ${path}: table meta_v2 lacks`),
    );
    assert.deepEqual(Deno.readFileSync(path), before, "a refused file is left as it was");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("schema: a new database gets the chosen release's exact DDL", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const s23 = Store.open(`${dir}/new23.db`, { release: "1.23" });
    assert.equal(s23.metaV2.shape, "gorm");
    s23.close();
    for (const t of ["meta", "meta_v2"]) {
      assert.equal(tableSql(`${dir}/new23.db`, t), schemaLine(new URL("schema.sql", V123), t));
    }
    assert.equal(tableSql(`${dir}/new23.db`, "meta_v2"), META_V2_DDL_GORM);
    const s10 = Store.open(`${dir}/new10.db`);
    assert.equal(s10.metaV2.shape, "beego");
    s10.close();
    assert.equal(
      tableSql(`${dir}/new10.db`, "meta_v2"),
      tableSql(new URL("edgecore.db", V110).pathname, "meta_v2"),
    );
    assert.equal(
      tableSql(`${dir}/new10.db`, "meta"),
      tableSql(new URL("edgecore.db", V110).pathname, "meta"),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("schema: the dump of the real v1.23 edgecore.db and of upgraded.db equals the reference", () => {
  for (const name of ["edgecore", "upgraded"]) {
    const db = Database.open(new URL(`${name}.db`, V123).pathname, { readOnly: true });
    try {
      assert.equal(dumpJson(db), Deno.readTextFileSync(new URL(`${name}.db.json`, V123)), name);
    } finally {
      db.close();
    }
  }
});

Deno.test("schema: writing to a v1.23 file uses its columns only and upserts in place", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = copy(dir, V123, "edgecore.db");
    const before = tableSql(path, "meta_v2");
    const existing = rawRows(path, "SELECT key, rowid FROM meta_v2 ORDER BY key LIMIT 1")[0];
    const store = Store.open(path);
    const row = rowForObject(POD);
    store.metaV2.insertOrReplace(row);
    const old = store.metaV2.all().find((r) => r.key === existing.key)!;
    store.metaV2.insertOrReplace({ ...old, resourceversion: 424242 });
    assert.deepEqual(store.metaV2.selectByKey(row.key).map((r) => r.resourceversion), [99001]);
    assert.equal(store.metaV2.maxResourceVersion(), 424242);
    store.close();
    assert.equal(tableSql(path, "meta_v2"), before, "no beego column added");
    const got = rawRows(
      path,
      "SELECT key, group_version_resource, resource_version, rowid FROM meta_v2 WHERE key IN (?, ?) ORDER BY key"
        .replace("?, ?", `'${row.key}', '${existing.key}'`),
    );
    const byKey = Object.fromEntries(got.map((r) => [r.key as string, r]));
    assert.equal(byKey[row.key].group_version_resource, "/v1, Resource=pods");
    assert.equal(byKey[row.key].resource_version, 99001);
    assert.equal(byKey[existing.key as string].resource_version, 424242);
    // ON CONFLICT DO UPDATE keeps the row (its rowid), unlike INSERT OR REPLACE.
    assert.equal(byKey[existing.key as string].rowid, existing.rowid);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("schema: writing to a migrated file writes the v1.23 columns as v1.23 does, old rows stay readable", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = copy(dir, V123, "upgraded.db");
    const before = tableSql(path, "meta_v2");
    const [untouched] = rawRows(
      path,
      "SELECT key, groupversionresource, resourceversion FROM meta_v2 WHERE group_version_resource IS NULL ORDER BY key LIMIT 1",
    );
    const store = Store.open(path);
    // A row v1.10 wrote and v1.23 never rewrote is read through the v1.10 columns.
    const seen = store.metaV2.selectByKey(untouched.key as string);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].groupversionresource, untouched.groupversionresource);
    assert.equal(seen[0].resourceversion, untouched.resourceversion);
    const all = store.metaV2.all();
    assert.equal(all.length, 37);
    assert.ok(all.every((r) => r.groupversionresource !== ""), "every row has its GVR");
    // Rewrite the old row and insert a new one.
    store.metaV2.insertOrReplace({ ...seen[0], resourceversion: 777 });
    const row = rowForObject(POD);
    store.metaV2.insertOrReplace(row);
    store.close();
    assert.equal(tableSql(path, "meta_v2"), before, "no column added or changed");
    const cols =
      "SELECT groupversionresource AS old_gvr, resourceversion AS old_rv, group_version_resource AS gvr, resource_version AS rv FROM meta_v2 WHERE key = ";
    const [rewritten] = rawRows(path, cols + `'${untouched.key}'`);
    assert.deepEqual(rewritten, {
      old_gvr: untouched.groupversionresource,
      old_rv: untouched.resourceversion,
      gvr: untouched.groupversionresource,
      rv: 777,
    }, "rewritten: v1.10 columns stale, v1.23 columns written");
    const [inserted] = rawRows(path, cols + `'${row.key}'`);
    assert.deepEqual(inserted, { old_gvr: "", old_rv: 0, gvr: "/v1, Resource=pods", rv: 99001 });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("schema: writing to a v1.10 file as v1.10 (asked for or detected) adds no gorm column", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = copy(dir, V110, "edgecore.db");
    const before = ["meta", "meta_v2"].map((t) => tableSql(path, t));
    // As v1.23 the file is migrated first (replay_golden_v1_23_test.ts: equal to upgraded.db).
    for (const release of ["1.10", undefined] as const) {
      const store = Store.open(path, { release });
      assert.equal(store.metaV2.shape, "beego");
      store.metaV2.insertOrReplace(rowForObject(POD));
      store.close();
    }
    assert.deepEqual(["meta", "meta_v2"].map((t) => tableSql(path, t)), before);
    const [r] = rawRows(
      path,
      "SELECT groupversionresource, resourceversion FROM meta_v2 WHERE name = 'round-trip'",
    );
    assert.deepEqual(r, { groupversionresource: "/v1, Resource=pods", resourceversion: 99001 });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
