/**
 * The store on real database files (spec/storage.md): DDL byte-identical to KubeEdge's,
 * the Meta and MetaV2 DAOs, keys of meta_v2, transactions, open modes, read-only use of a
 * real edgecore.db, the dump, and open errors.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Database, DatabaseError } from "../src/store/db.ts";
import {
  decodeObject,
  kindToResource,
  type MetaV2Row,
  parseApiVersion,
  parseKey,
  parseResourceVersion,
  rowForObject,
} from "../src/store/meta_v2.ts";
import { Store } from "../src/store/store.ts";
import { dumpDatabase, dumpJson, dumpRows } from "../src/store/dump.ts";

const FIXTURE_DIR = new URL("../fixtures/edgecore-db/", import.meta.url);
const FIXTURE_DB = new URL("edgecore.db", FIXTURE_DIR);
const SCHEMA_SQL = Deno.readTextFileSync(new URL("schema.sql", FIXTURE_DIR));

/** The CREATE TABLE statements of schema.sql (as sqlite_master holds them, no `;`). */
function schemaStatements(): string[] {
  return SCHEMA_SQL.split(";\n").map((s) => s.trim()).filter((s) => s !== "").map((s) =>
    s.replace(/;$/, "")
  );
}

function schemaOf(table: string): string {
  const found = schemaStatements().filter((s) => s.startsWith(`CREATE TABLE \`${table}\` (`));
  assert.equal(found.length, 1, `schema.sql has one CREATE TABLE for ${table}`);
  return found[0];
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function inTempDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "store_test_" });
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** A writable copy of the real KubeEdge database. */
function copyFixture(dir: string, name = "edgecore.db"): string {
  const path = `${dir}/${name}`;
  Deno.copyFileSync(FIXTURE_DB, path);
  Deno.chmodSync(path, 0o644);
  return path;
}

function masterRows(sqlite: DatabaseSync): { type: string; name: string; sql: string | null }[] {
  return sqlite.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid")
    .all() as unknown as { type: string; name: string; sql: string | null }[];
}

function rawMaster(path: string): { type: string; name: string; sql: string | null }[] {
  const s = new DatabaseSync(path, { readOnly: true });
  try {
    return masterRows(s);
  } finally {
    s.close();
  }
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", Deno.readFileSync(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function pragma(db: Database, name: string): unknown {
  const row = db.sqlite.prepare(`PRAGMA ${name}`).get() as Record<string, unknown>;
  return row[name];
}

function v2(
  key: string,
  gvr: string,
  namespace: string,
  name: string,
  rv: number,
  value = `{"k":"${key}"}\n`,
): MetaV2Row {
  return { key, groupversionresource: gvr, namespace, name, resourceversion: rv, value };
}

/** Asserts a DatabaseError whose message is one sentence about `path` matching `re`. */
function assertDbError(fn: () => unknown, path: string, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DatabaseError, `expected a DatabaseError, got ${e}`);
    assert.equal(e.name, "DatabaseError");
    assert.equal(e.path, path);
    assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
    assert.ok(e.message.includes(path), `names the file: ${e.message}`);
    assert.match(e.message, /^Cannot (open|use) database /);
    assert.match(e.message, re);
    return true;
  });
}

// ---------------------------------------------------------------------------------------
// Schema

Deno.test("schema: sqlite_master text of meta and meta_v2 is byte-identical to KubeEdge's", async () => {
  await inTempDir((dir) => {
    const path = `${dir}/new.db`;
    Store.open(path).close();
    const rows = rawMaster(path);
    assert.deepEqual(rows.map((r) => `${r.type} ${r.name}`), [
      "table meta",
      "index sqlite_autoindex_meta_1",
      "table meta_v2",
      "index sqlite_autoindex_meta_v2_1",
    ]);
    assert.equal(rows[0].sql, schemaOf("meta"));
    assert.equal(rows[2].sql, schemaOf("meta_v2"));
    // Spelled out too, so that a damaged schema.sql cannot hide a change.
    assert.equal(
      rows[0].sql,
      "CREATE TABLE `meta` (\n    `key` varchar(256) NOT NULL PRIMARY KEY,\n" +
        "    `type` varchar(32) NOT NULL DEFAULT '' ,\n    `value` text\n)",
    );
    assert.equal(rows[1].sql, null);
  });
});

Deno.test("schema: in-memory store has the same tables; reopening changes no DDL", async () => {
  const mem = Store.open(":memory:");
  const sqls = masterRows(mem.db.sqlite).map((r) => r.sql);
  assert.deepEqual(sqls, [schemaOf("meta"), null, schemaOf("meta_v2"), null]);
  assert.deepEqual(mem.db.tables(), ["meta", "meta_v2"]);
  mem.close();
  await inTempDir((dir) => {
    const path = `${dir}/x.db`;
    Store.open(path).close();
    const before = rawMaster(path);
    Store.open(path).close();
    Store.open(path, { readOnly: true }).close();
    assert.deepEqual(rawMaster(path), before);
  });
});

// ---------------------------------------------------------------------------------------
// Meta DAO

function metaStore(): Store {
  const s = Store.open(":memory:");
  s.meta.saveMeta({ key: "default/pod/a", type: "pod", value: '{"n":"a"}' });
  s.meta.saveMeta({ key: "default/pod/b", type: "pod", value: '{"n":"b"}' });
  s.meta.saveMeta({ key: "default/configmap/c", type: "configmap", value: '{"n":"c"}' });
  s.meta.saveMeta({ key: "default/pod/d", type: "pod", value: '{"n":"d"}' });
  return s;
}

Deno.test("meta: saveMeta inserts; a duplicate key succeeds and keeps the old row", () => {
  const s = metaStore();
  s.meta.saveMeta({ key: "default/pod/a", type: "other", value: "new" });
  assert.deepEqual(s.meta.queryAllMeta("key", "default/pod/a"), [
    { key: "default/pod/a", type: "pod", value: '{"n":"a"}' },
  ]);
  assert.equal(s.meta.all().length, 4);
  assert.deepEqual(s.meta.all().map((r) => r.key), [
    "default/pod/a",
    "default/pod/b",
    "default/configmap/c",
    "default/pod/d",
  ]);
  s.close();
});

Deno.test("meta: insertOrUpdate replaces all columns and moves the row to the end", () => {
  const s = metaStore();
  s.meta.insertOrUpdate({ key: "default/pod/a", type: "pod", value: '{"n":"a2"}' });
  assert.deepEqual(s.meta.queryMeta("type", "pod"), ['{"n":"b"}', '{"n":"d"}', '{"n":"a2"}']);
  s.meta.insertOrUpdate({ key: "default/pod/b", type: "podstatus", value: "s" });
  assert.deepEqual(s.meta.queryMeta("type", "pod"), ['{"n":"d"}', '{"n":"a2"}']);
  assert.deepEqual(s.meta.queryAllMeta("type", "podstatus"), [
    { key: "default/pod/b", type: "podstatus", value: "s" },
  ]);
  s.meta.insertOrUpdate({ key: "new/pod/e", type: "pod", value: "e" });
  assert.deepEqual(s.meta.queryMeta("type", "pod"), ['{"n":"d"}', '{"n":"a2"}', "e"]);
  s.close();
});

Deno.test("meta: deleteMetaByKey, including a missing key", () => {
  const s = metaStore();
  s.meta.deleteMetaByKey("default/pod/b");
  assert.deepEqual(s.meta.queryMeta("key", "default/pod/b"), []);
  s.meta.deleteMetaByKey("default/pod/missing");
  s.meta.deleteMetaByKey("");
  assert.deepEqual(s.meta.all().map((r) => r.key), [
    "default/pod/a",
    "default/configmap/c",
    "default/pod/d",
  ]);
  s.close();
});

Deno.test("meta: updateMeta rewrites an existing row in place; a missing row is no error", () => {
  const s = metaStore();
  s.meta.updateMeta({ key: "default/pod/a", type: "podx", value: "v2" });
  assert.deepEqual(s.meta.all()[0], { key: "default/pod/a", type: "podx", value: "v2" });
  s.meta.updateMeta({ key: "default/pod/zzz", type: "pod", value: "v" });
  assert.deepEqual(s.meta.queryAllMeta("key", "default/pod/zzz"), []);
  assert.equal(s.meta.all().length, 4);
  s.close();
});

Deno.test("meta: updateMetaField and updateMetaFields", () => {
  const s = metaStore();
  s.meta.updateMetaField("default/pod/b", "value", "B");
  assert.deepEqual(s.meta.queryAllMeta("key", "default/pod/b"), [
    { key: "default/pod/b", type: "pod", value: "B" },
  ]);
  s.meta.updateMetaFields("default/pod/d", { type: "secret", value: "D" });
  assert.deepEqual(s.meta.queryAllMeta("key", "default/pod/d"), [
    { key: "default/pod/d", type: "secret", value: "D" },
  ]);
  s.meta.updateMetaField("default/pod/d", "key", "default/secret/d");
  assert.deepEqual(s.meta.queryMeta("key", "default/pod/d"), []);
  assert.deepEqual(s.meta.queryMeta("key", "default/secret/d"), ["D"]);
  // Missing row: nothing happens; no fields: nothing happens.
  s.meta.updateMetaField("nope", "value", "x");
  s.meta.updateMetaFields("default/pod/a", {});
  assert.deepEqual(s.meta.queryMeta("key", "nope"), []);
  assert.deepEqual(s.meta.queryMeta("key", "default/pod/a"), ['{"n":"a"}']);
  // Only the three columns may be named.
  assert.throws(
    () => s.meta.updateMetaFields("default/pod/a", { bogus: "x" } as never),
    /Unknown meta column "bogus"/,
  );
  assert.throws(
    () => s.meta.queryMeta("key; DROP TABLE meta" as never, "x"),
    /Unknown meta column/,
  );
  s.close();
});

Deno.test("meta: queryMeta / queryAllMeta by key, type and value (exact, case-sensitive)", () => {
  const s = metaStore();
  assert.deepEqual(s.meta.queryMeta("key", "default/pod/b"), ['{"n":"b"}']);
  assert.deepEqual(s.meta.queryMeta("type", "pod"), ['{"n":"a"}', '{"n":"b"}', '{"n":"d"}']);
  assert.deepEqual(s.meta.queryMeta("type", "configmap"), ['{"n":"c"}']);
  assert.deepEqual(s.meta.queryMeta("type", "Pod"), []);
  assert.deepEqual(s.meta.queryMeta("key", "default/pod/B"), []);
  assert.deepEqual(s.meta.queryMeta("key", "default/pod/%"), []);
  assert.deepEqual(s.meta.queryAllMeta("value", '{"n":"c"}'), [
    { key: "default/configmap/c", type: "configmap", value: '{"n":"c"}' },
  ]);
  assert.deepEqual(s.meta.queryAllMeta("type", "pod").map((r) => r.key), [
    "default/pod/a",
    "default/pod/b",
    "default/pod/d",
  ]);
  assert.deepEqual(s.meta.queryMeta("type", "missing"), []);
  s.close();
});

Deno.test("meta: a NULL value reads as an empty string", () => {
  const s = metaStore();
  s.db.sqlite.exec("INSERT INTO meta (key, type, value) VALUES ('k/null', 'node', NULL)");
  assert.deepEqual(s.meta.queryMeta("type", "node"), [""]);
  assert.deepEqual(s.meta.queryAllMeta("key", "k/null"), [{
    key: "k/null",
    type: "node",
    value: "",
  }]);
  s.close();
});

// ---------------------------------------------------------------------------------------
// MetaV2 DAO

const PODS = "/v1, Resource=pods";

function v2Store(): Store {
  const s = Store.open(":memory:");
  s.metaV2.insertOrReplace(v2("/core/v1/pods/default/a", PODS, "default", "a", 9));
  s.metaV2.insertOrReplace(v2("/core/v1/pods/default/b", PODS, "default", "b", 10));
  s.metaV2.insertOrReplace(v2("/core/v1/pods/kube-system/a", PODS, "kube-system", "a", 2));
  s.metaV2.insertOrReplace(v2("/core/v1/nodes/null/a", "/v1, Resource=nodes", "", "a", 3));
  s.metaV2.insertOrReplace(
    v2("/apps/v1/deployments/default/a", "apps/v1, Resource=deployments", "default", "a", 4),
  );
  return s;
}

const keysOf = (rows: MetaV2Row[]) => rows.map((r) => r.key);

Deno.test("meta_v2: insertOrReplace stores every column; replacing moves to the end", () => {
  const s = v2Store();
  assert.deepEqual(s.metaV2.select(PODS, "default", "a"), [
    {
      key: "/core/v1/pods/default/a",
      groupversionresource: PODS,
      namespace: "default",
      name: "a",
      resourceversion: 9,
      value: '{"k":"/core/v1/pods/default/a"}\n',
    },
  ]);
  s.metaV2.insertOrReplace(v2("/core/v1/pods/default/a", PODS, "default", "a", 11, "new\n"));
  assert.deepEqual(keysOf(s.metaV2.select(PODS, "", "")), [
    "/core/v1/pods/default/b",
    "/core/v1/pods/kube-system/a",
    "/core/v1/pods/default/a",
  ]);
  assert.equal(s.metaV2.select(PODS, "default", "a")[0].value, "new\n");
  assert.equal(s.metaV2.select(PODS, "default", "a")[0].resourceversion, 11);
  assert.equal(s.metaV2.all().length, 5);
  s.close();
});

Deno.test("meta_v2: deleteByKey, including a missing key", () => {
  const s = v2Store();
  s.metaV2.deleteByKey("/core/v1/pods/default/b");
  s.metaV2.deleteByKey("/core/v1/pods/default/missing");
  assert.deepEqual(keysOf(s.metaV2.all()), [
    "/core/v1/pods/default/a",
    "/core/v1/pods/kube-system/a",
    "/core/v1/nodes/null/a",
    "/apps/v1/deployments/default/a",
  ]);
  s.close();
});

Deno.test("meta_v2: maxResourceVersion is numeric; 0 when empty", () => {
  const empty = Store.open(":memory:");
  assert.equal(empty.metaV2.maxResourceVersion(), 0);
  empty.close();
  const s = v2Store();
  assert.equal(s.metaV2.maxResourceVersion(), 10); // not "9" (text order)
  s.metaV2.deleteByKey("/core/v1/pods/default/b");
  assert.equal(s.metaV2.maxResourceVersion(), 9);
  s.close();
});

Deno.test("meta_v2: select with each WHERE combination of storage.md §6", () => {
  const s = v2Store();
  const all = [
    "/core/v1/pods/default/a",
    "/core/v1/pods/default/b",
    "/core/v1/pods/kube-system/a",
    "/core/v1/nodes/null/a",
    "/apps/v1/deployments/default/a",
  ];
  // gvr empty: no WHERE at all, namespace and name are not conditions.
  assert.deepEqual(keysOf(s.metaV2.select("", "", "")), all);
  assert.deepEqual(keysOf(s.metaV2.select("", "default", "a")), all);
  // gvr only.
  assert.deepEqual(keysOf(s.metaV2.select(PODS, "", "")), all.slice(0, 3));
  // gvr + name.
  assert.deepEqual(keysOf(s.metaV2.select(PODS, "", "a")), [
    "/core/v1/pods/default/a",
    "/core/v1/pods/kube-system/a",
  ]);
  // gvr + namespace.
  assert.deepEqual(keysOf(s.metaV2.select(PODS, "default", "")), all.slice(0, 2));
  // gvr + namespace + name.
  assert.deepEqual(keysOf(s.metaV2.select(PODS, "kube-system", "a")), [
    "/core/v1/pods/kube-system/a",
  ]);
  assert.deepEqual(keysOf(s.metaV2.select("/v1, Resource=nodes", "", "a")), [
    "/core/v1/nodes/null/a",
  ]);
  assert.deepEqual(s.metaV2.select(PODS, "default", "zzz"), []);
  assert.deepEqual(s.metaV2.select("/v1, Resource=secrets", "", ""), []);
  assert.deepEqual(s.metaV2.select("/V1, Resource=pods", "", ""), []);
  s.close();
});

Deno.test("meta_v2: selectByKey parses the key (null segments, trailing slash)", () => {
  const s = v2Store();
  const sel = (k: string) => keysOf(s.metaV2.selectByKey(k));
  assert.equal(sel("").length, 5);
  assert.deepEqual(sel("/core/v1/pods/null/null"), [
    "/core/v1/pods/default/a",
    "/core/v1/pods/default/b",
    "/core/v1/pods/kube-system/a",
  ]);
  assert.deepEqual(sel("/core/v1/pods"), sel("/core/v1/pods/null/null"));
  assert.deepEqual(sel("/core/v1/pods/default/null"), [
    "/core/v1/pods/default/a",
    "/core/v1/pods/default/b",
  ]);
  assert.deepEqual(sel("/core/v1/pods/null/a"), [
    "/core/v1/pods/default/a",
    "/core/v1/pods/kube-system/a",
  ]);
  assert.deepEqual(sel("/core/v1/pods/default/a"), ["/core/v1/pods/default/a"]);
  assert.deepEqual(sel("/core/v1/pods/default/a/"), ["/core/v1/pods/default/a"]);
  assert.deepEqual(sel("/core/v1/nodes/null/a"), ["/core/v1/nodes/null/a"]);
  assert.deepEqual(sel("/apps/v1/deployments/default/a"), ["/apps/v1/deployments/default/a"]);
  assert.deepEqual(sel("/apps/v1/deployments/kube-system/null"), []);
  s.close();
});

Deno.test("parseKey: segments, core group, null namespace and name", () => {
  assert.deepEqual(parseKey("/core/v1/pods/default/nginx"), {
    gvr: "/v1, Resource=pods",
    namespace: "default",
    name: "nginx",
  });
  assert.deepEqual(parseKey("/apps/v1/deployments/kube-system/coredns"), {
    gvr: "apps/v1, Resource=deployments",
    namespace: "kube-system",
    name: "coredns",
  });
  assert.deepEqual(parseKey("/core/v1/nodes/null/edge-1"), {
    gvr: "/v1, Resource=nodes",
    namespace: "",
    name: "edge-1",
  });
  assert.deepEqual(parseKey("/core/v1/pods/null/null"), {
    gvr: "/v1, Resource=pods",
    namespace: "",
    name: "",
  });
  assert.deepEqual(parseKey("/networking.k8s.io/v1/ingresses/default/ing///"), {
    gvr: "networking.k8s.io/v1, Resource=ingresses",
    namespace: "default",
    name: "ing",
  });
  assert.deepEqual(parseKey("/core/v1/configmaps"), {
    gvr: "/v1, Resource=configmaps",
    namespace: "",
    name: "",
  });
  assert.deepEqual(parseKey(""), { gvr: "", namespace: "", name: "" });
  assert.deepEqual(parseKey("/"), { gvr: "", namespace: "", name: "" });
  assert.deepEqual(parseKey("core/v1/pods/default/x"), { gvr: "", namespace: "", name: "" });
});

// ---------------------------------------------------------------------------------------
// Keys and values of objects (storage.md §5)

function obj(apiVersion: string, kind: string, namespace: string | undefined, name: string) {
  const metadata: Record<string, unknown> = { name, resourceVersion: "1001" };
  if (namespace !== undefined) metadata.namespace = namespace;
  return { kind, apiVersion, metadata };
}

Deno.test("rowForObject: key, gvr and namespace for every example of storage.md §5", () => {
  const cases: [ReturnType<typeof obj>, string, string, string][] = [
    [obj("v1", "Pod", "default", "nginx"), "/core/v1/pods/default/nginx", PODS, "default"],
    [
      obj("v1", "ConfigMap", "default", "app-cfg"),
      "/core/v1/configmaps/default/app-cfg",
      "/v1, Resource=configmaps",
      "default",
    ],
    [
      obj("v1", "Node", undefined, "edge-1"),
      "/core/v1/nodes/null/edge-1",
      "/v1, Resource=nodes",
      "",
    ],
    [
      obj("v1", "Endpoints", "default", "kubernetes"),
      "/core/v1/endpoints/default/kubernetes",
      "/v1, Resource=endpoints",
      "default",
    ],
    [
      obj("v1", "Service", "default", "web"),
      "/core/v1/services/default/web",
      "/v1, Resource=services",
      "default",
    ],
    [
      obj("apps/v1", "Deployment", "kube-system", "coredns"),
      "/apps/v1/deployments/kube-system/coredns",
      "apps/v1, Resource=deployments",
      "kube-system",
    ],
    [
      obj("networking.k8s.io/v1", "Ingress", "default", "ing"),
      "/networking.k8s.io/v1/ingresses/default/ing",
      "networking.k8s.io/v1, Resource=ingresses",
      "default",
    ],
    [
      obj("networking.k8s.io/v1", "NetworkPolicy", "ns", "p"),
      "/networking.k8s.io/v1/networkpolicies/ns/p",
      "networking.k8s.io/v1, Resource=networkpolicies",
      "ns",
    ],
    [
      obj("storage.k8s.io/v1", "CSIDriver", undefined, "drv"),
      "/storage.k8s.io/v1/csidrivers/null/drv",
      "storage.k8s.io/v1, Resource=csidrivers",
      "",
    ],
    [obj("v1", "Node", "", "edge-2"), "/core/v1/nodes/null/edge-2", "/v1, Resource=nodes", ""],
  ];
  for (const [o, key, gvr, namespace] of cases) {
    const row = rowForObject(o);
    assert.equal(row.key, key);
    assert.equal(row.groupversionresource, gvr, key);
    assert.equal(row.namespace, namespace, key);
    assert.equal(row.name, o.metadata.name, key);
    assert.equal(row.resourceversion, 1001, key);
    // The key parses back to the same selection columns.
    assert.deepEqual(parseKey(key), { gvr, namespace, name: o.metadata.name });
  }
});

Deno.test("rowForObject: value is Go JSON (sorted, escaped) plus a trailing newline", () => {
  const o = decodeObject(
    '{"spec":{"z":1,"a":[{"y":"<b>","x":true}]},"metadata":{"resourceVersion":"77",' +
      '"namespace":"default","name":"web","uid":"u&1"},"kind":"Service","apiVersion":"v1",' +
      '"status":{"big":9007199254740993,"f":1.50}}',
  ) as Record<string, unknown>;
  const row = rowForObject(o);
  assert.deepEqual({ ...row, value: undefined }, {
    key: "/core/v1/services/default/web",
    groupversionresource: "/v1, Resource=services",
    namespace: "default",
    name: "web",
    resourceversion: 77,
    value: undefined,
  });
  assert.equal(
    row.value,
    '{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"default",' +
      '"resourceVersion":"77","uid":"u\\u00261"},"spec":{"a":[{"x":true,"y":"\\u003cb\\u003e"}],' +
      '"z":1},"status":{"big":9007199254740993,"f":1.5}}\n',
  );
});

Deno.test("rowForObject: missing parts give empty columns", () => {
  // KeyFuncObj keeps the trailing "/" an empty name leaves (upstream's Sprintf).
  const row = rowForObject({ apiVersion: "v1", kind: "Pod", metadata: null });
  assert.equal(row.key, "/core/v1/pods/null/");
  assert.equal(row.name, "");
  assert.equal(row.resourceversion, 0);
  assert.equal(rowForObject({}).key, "/core///null/");
  assert.equal(rowForObject({}).groupversionresource, "/, Resource=");
  // Kinds ending in "s" get "es" (UnsafeKindToResource), DeleteOptions included.
  assert.equal(rowForObject({ kind: "DeleteOptions" }).key, "/core//deleteoptionses/null/");
});

Deno.test("kindToResource, parseApiVersion, parseResourceVersion", () => {
  const plurals: Record<string, string> = {
    Pod: "pods",
    Endpoints: "endpoints",
    PodStatus: "podstatus",
    NodeStatus: "nodestatus",
    CustomResourceDefinition: "customresourcedefinitions",
    CustomResourceDefinitionList: "customresourcedefinitionlist",
    Ingress: "ingresses",
    NetworkPolicy: "networkpolicies",
    Gateway: "gatewaies",
    CSIDriver: "csidrivers",
    Status: "statuses",
    "": "",
  };
  for (const [kind, resource] of Object.entries(plurals)) {
    assert.equal(kindToResource(kind), resource, kind);
  }
  assert.deepEqual(parseApiVersion("v1"), { group: "", version: "v1" });
  assert.deepEqual(parseApiVersion("apps/v1"), { group: "apps", version: "v1" });
  assert.deepEqual(parseApiVersion("a/b/c"), { group: "", version: "" });
  assert.deepEqual(parseApiVersion(""), { group: "", version: "" });
  assert.equal(parseResourceVersion("1001"), 1001);
  assert.equal(parseResourceVersion(""), 0);
  assert.equal(parseResourceVersion("abc"), 0);
  assert.equal(parseResourceVersion("-5"), 0);
  assert.equal(parseResourceVersion("1.5"), 0);
  // ParseUint's value on a range error is 2^64-1, which the driver refuses (as int64: -1)
  assert.equal(parseResourceVersion("18446744073709551616"), -1n);
  assert.equal(parseResourceVersion("99999999999999999999999"), -1n);
  assert.equal(parseResourceVersion("+5"), 0);
  assert.equal(parseResourceVersion("9223372036854775807"), 9223372036854775807n);
  assert.equal(parseResourceVersion("9223372036854775808"), -9223372036854775808n);
  assert.equal(parseResourceVersion("9007199254740993"), 9007199254740993n);
});

Deno.test("rowForObject reproduces every meta_v2 row of the real KubeEdge database", async () => {
  await inTempDir((dir) => {
    const db = Database.open(copyFixture(dir), { readOnly: true });
    try {
      const rows = dumpDatabase(db).meta_v2;
      assert.equal(rows.length, 38);
      for (const r of rows) {
        const mine = rowForObject(decodeObject(r.value) as Record<string, unknown>);
        assert.deepEqual({ ...mine }, { ...r }, r.key);
      }
    } finally {
      db.close();
    }
  });
});

Deno.test({
  name: "meta_v2: a resourceversion beyond 2^53 can be read back",
  fn() {
    const s = Store.open(":memory:");
    const row = rowForObject({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace: "d", resourceVersion: "9007199254740993" },
    });
    assert.equal(row.resourceversion, 9007199254740993n);
    s.metaV2.insertOrReplace(row);
    assert.equal(BigInt(s.metaV2.all()[0].resourceversion), 9007199254740993n);
    assert.equal(s.metaV2.select(PODS, "d", "p").length, 1);
    assert.equal(dumpDatabase(s.db).meta_v2[0].resourceversion, "9007199254740993");
    assert.match(dumpJson(s.db), /"resourceversion": 9007199254740993,/);
    s.close();
  },
});

// ---------------------------------------------------------------------------------------
// Transactions

Deno.test("transactions: a failing nested savepoint rolls back only its own writes", async () => {
  await inTempDir((dir) => {
    const path = `${dir}/tx.db`;
    const s = Store.open(path);
    const result = s.transaction(() => {
      s.meta.saveMeta({ key: "outer/1", type: "t", value: "1" });
      assert.ok(s.db.inTransaction);
      assert.throws(
        () =>
          s.transaction(() => {
            s.meta.saveMeta({ key: "inner/x", type: "t", value: "x" });
            s.meta.insertOrUpdate({ key: "outer/1", type: "t", value: "changed" });
            throw new Error("inner fails");
          }),
        /inner fails/,
      );
      const ok = s.transaction(() => {
        s.meta.saveMeta({ key: "inner/ok", type: "t", value: "ok" });
        return 7;
      });
      s.meta.saveMeta({ key: "outer/2", type: "t", value: "2" });
      return ok * 6;
    });
    assert.equal(result, 42);
    assert.equal(s.db.inTransaction, false);
    s.close();
    const again = Store.open(path, { readOnly: true });
    assert.deepEqual(again.meta.all(), [
      { key: "outer/1", type: "t", value: "1" },
      { key: "inner/ok", type: "t", value: "ok" },
      { key: "outer/2", type: "t", value: "2" },
    ]);
    again.close();
  });
});

Deno.test("transactions: a failing outer transaction rolls back everything", () => {
  const s = Store.open(":memory:");
  s.meta.saveMeta({ key: "before", type: "t", value: "b" });
  assert.throws(
    () =>
      s.transaction(() => {
        s.meta.saveMeta({ key: "a", type: "t", value: "a" });
        s.transaction(() => s.metaV2.insertOrReplace(v2("/k", "g", "", "n", 1)));
        s.meta.deleteMetaByKey("before");
        throw new RangeError("outer fails");
      }),
    RangeError,
  );
  assert.deepEqual(s.meta.all().map((r) => r.key), ["before"]);
  assert.deepEqual(s.metaV2.all(), []);
  assert.equal(s.db.inTransaction, false);
  // The store is usable afterwards.
  s.transaction(() => s.meta.saveMeta({ key: "after", type: "t", value: "x" }));
  assert.deepEqual(s.meta.all().map((r) => r.key), ["before", "after"]);
  s.close();
});

Deno.test("transactions: begin/commit/rollback; transaction() inside begin() is a savepoint", async () => {
  await inTempDir((dir) => {
    const path = `${dir}/b.db`;
    const s = Store.open(path);
    s.db.begin();
    assert.throws(() => s.db.begin(), /already open/);
    s.meta.saveMeta({ key: "k1", type: "t", value: "1" });
    assert.throws(() =>
      s.transaction(() => {
        s.meta.saveMeta({ key: "k2", type: "t", value: "2" });
        throw new Error("x");
      })
    );
    s.transaction(() => s.meta.saveMeta({ key: "k3", type: "t", value: "3" }));
    assert.ok(s.db.inTransaction);
    s.db.commit();
    assert.throws(() => s.db.commit(), /no transaction/);
    s.db.begin();
    s.meta.saveMeta({ key: "k4", type: "t", value: "4" });
    s.db.rollback();
    assert.equal(s.db.inTransaction, false);
    s.db.begin();
    s.meta.saveMeta({ key: "k5", type: "t", value: "5" });
    s.close(); // closing with an open transaction discards it
    const again = Store.open(path);
    assert.deepEqual(again.meta.all().map((r) => r.key), ["k1", "k3"]);
    again.close();
  });
});

Deno.test("values survive close and reopen (read-write and read-only)", async () => {
  await inTempDir((dir) => {
    const path = `${dir}/persist.db`;
    const s = Store.open(path);
    s.meta.saveMeta({ key: "default/pod/a", type: "pod", value: '{"a":"é<&>"}' });
    s.metaV2.insertOrReplace(v2("/core/v1/pods/default/a", PODS, "default", "a", 5, "x\n"));
    s.close();
    for (const readOnly of [false, true]) {
      const r = Store.open(path, { readOnly });
      assert.deepEqual(r.meta.all(), [
        { key: "default/pod/a", type: "pod", value: '{"a":"é<&>"}' },
      ]);
      assert.deepEqual(r.metaV2.all(), [
        v2("/core/v1/pods/default/a", PODS, "default", "a", 5, "x\n"),
      ]);
      assert.equal(r.metaV2.maxResourceVersion(), 5);
      r.close();
    }
  });
});

// ---------------------------------------------------------------------------------------
// Open modes

Deno.test("open read-write: WAL and synchronous FULL by default, both configurable", async () => {
  await inTempDir((dir) => {
    const db = Database.open(`${dir}/rw.db`);
    assert.equal(db.readOnly, false);
    assert.equal(db.journalMode(), "wal");
    assert.equal(pragma(db, "synchronous"), 2);
    db.close();
    const levels: [("OFF" | "NORMAL" | "FULL" | "EXTRA"), number][] = [
      ["OFF", 0],
      ["NORMAL", 1],
      ["FULL", 2],
      ["EXTRA", 3],
    ];
    for (const [level, n] of levels) {
      const d = Database.open(`${dir}/rw.db`, { synchronous: level });
      assert.equal(pragma(d, "synchronous"), n, level);
      d.close();
    }
    const del = Database.open(`${dir}/del.db`, { journalMode: "DELETE" });
    assert.equal(del.journalMode(), "delete");
    del.close();
    // WAL is persistent in the file.
    const raw = new DatabaseSync(`${dir}/rw.db`, { readOnly: true });
    assert.equal(
      (raw.prepare("PRAGMA journal_mode").get() as { journal_mode: string })
        .journal_mode,
      "wal",
    );
    raw.close();
  });
});

Deno.test("open read-only: a copy of the real database is read and left untouched", async () => {
  await inTempDir(async (dir) => {
    const path = copyFixture(dir);
    const hash = await sha256(path);
    const mtime = Deno.statSync(path).mtime!.getTime();
    const size = Deno.statSync(path).size;
    await new Promise((r) => setTimeout(r, 20));
    const s = Store.open(path, { readOnly: true });
    assert.equal(s.db.readOnly, true);
    assert.equal(s.meta.all().length, 52);
    assert.equal(s.metaV2.all().length, 38);
    assert.equal(s.meta.queryMeta("type", "pod").length, 12);
    assert.equal(s.meta.queryMeta("type", "podstatus").length, 12);
    assert.equal(s.metaV2.select(PODS, "", "").length > 0, true);
    assert.equal(s.metaV2.selectByKey("/core/v1/configmaps/default/app-config").length, 1);
    assert.equal(s.db.journalMode(), "delete");
    assert.deepEqual(s.db.tables(), [
      "device",
      "device_attr",
      "device_twin",
      "meta",
      "meta_v2",
      "sqlite_sequence",
      "sub_topics",
    ]);
    // Writes are refused.
    assert.throws(
      () => s.meta.saveMeta({ key: "x", type: "t", value: "v" }),
      /readonly|read-only/i,
    );
    assert.throws(() => s.meta.insertOrUpdate({ key: "x", type: "t", value: "v" }), /readonly/i);
    s.close();
    assert.equal(await sha256(path), hash);
    assert.equal(Deno.statSync(path).mtime!.getTime(), mtime);
    assert.equal(Deno.statSync(path).size, size);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["edgecore.db"]);
  });
});

Deno.test("dumpDatabase of the real database equals edgecore.db.json", async () => {
  await inTempDir((dir) => {
    const path = copyFixture(dir);
    const expected = JSON.parse(Deno.readTextFileSync(new URL("edgecore.db.json", FIXTURE_DIR)));
    const db = Database.open(path, { readOnly: true });
    const dump = dumpDatabase(db);
    db.close();
    assert.deepEqual(Object.keys(dump), ["meta", "meta_v2"]);
    assert.equal(dump.meta.length, 52);
    assert.equal(dump.meta_v2.length, 38);
    for (const table of ["meta", "meta_v2"] as const) {
      assert.equal(dump[table].length, expected[table].length, table);
      const rows = dump[table] as unknown as Record<string, unknown>[];
      rows.forEach((row, i) => {
        const want = expected[table][i] as Record<string, unknown>;
        assert.deepEqual(Object.keys(row).sort(), Object.keys(want).sort(), `${table}[${i}]`);
        for (const [col, v] of Object.entries(want)) {
          const where = `${table}[${i}].${col} (${want.key})`;
          if (col === "value" && typeof v === "string" && /^[{[]/.test(v)) {
            assert.deepEqual(JSON.parse(row[col] as string), JSON.parse(v), where);
          } else {
            assert.equal(row[col], v, where);
          }
        }
      });
    }
  });
});

Deno.test("dumpDatabase: rows sorted by key bytewise; missing tables dump as empty", async () => {
  const s = Store.open(":memory:");
  for (const key of ["b", "a", "é", "B", "z", "\u{1F600}", "\uFF01"]) {
    s.meta.saveMeta({ key, type: "t", value: "" });
  }
  assert.deepEqual(dumpDatabase(s.db).meta.map((r) => r.key), [
    "B",
    "a",
    "b",
    "z",
    "é",
    "\uFF01",
    "\u{1F600}",
  ]);
  assert.ok(dumpJson(s.db).startsWith('{\n  "meta": [\n    {\n      "key": "B",'));
  assert.ok(dumpJson(s.db).endsWith('\n  ],\n  "meta_v2": []\n}\n'));
  s.close();
  await inTempDir((dir) => {
    const path = `${dir}/other.db`;
    const raw = new DatabaseSync(path);
    raw.exec("CREATE TABLE sub_topics (topic text NOT NULL PRIMARY KEY)");
    raw.close();
    const db = Database.open(path, { readOnly: true });
    assert.deepEqual(dumpDatabase(db), { meta: [], meta_v2: [] });
    db.close();
  });
});

// ---------------------------------------------------------------------------------------
// Open errors

Deno.test("open errors: missing file (read-only)", async () => {
  await inTempDir((dir) => {
    const path = `${dir}/missing.db`;
    assertDbError(() => Database.open(path, { readOnly: true }), path, /no such file/);
    assertDbError(() => Store.open(path, { readOnly: true }), path, /no such file/);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    // A directory is not a database either.
    assertDbError(() => Store.open(dir, { readOnly: true }), dir, /not a file/);
    // Read-write into a missing directory.
    const deep = `${dir}/no/such/dir/x.db`;
    assertDbError(() => Store.open(deep), deep, /unable to open/);
  });
});

Deno.test("open errors: a text file that is not SQLite (left unchanged)", async () => {
  await inTempDir((dir) => {
    const path = `${dir}/notes.db`;
    const text = "this is a text file, not a database\n".repeat(50);
    Deno.writeTextFileSync(path, text);
    for (const readOnly of [true, false]) {
      assertDbError(
        () => Store.open(path, { readOnly }),
        path,
        /the file is not an SQLite database$/,
      );
    }
    assert.equal(Deno.readTextFileSync(path), text);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["notes.db"]);
  });
});

Deno.test("open errors: a truncated copy of the real database", async () => {
  await inTempDir((dir) => {
    const bytes = Deno.readFileSync(FIXTURE_DB);
    for (const size of [100, 4096, 8192, bytes.length / 2, bytes.length - 4096]) {
      for (const readOnly of [true, false]) {
        const path = `${dir}/trunc-${size}-${readOnly}.db`;
        Deno.writeFileSync(path, bytes.slice(0, size));
        assertDbError(() => Store.open(path, { readOnly }), path, /corrupt|malformed/);
      }
    }
  });
});

Deno.test("open errors: a table meta with incompatible columns", async () => {
  await inTempDir((dir) => {
    const path = `${dir}/foreign.db`;
    const raw = new DatabaseSync(path);
    raw.exec("CREATE TABLE meta(k, v)");
    raw.close();
    for (const readOnly of [true, false]) {
      assertDbError(
        () => Store.open(path, { readOnly }),
        path,
        /table meta lacks column\(s\) key, type, value/,
      );
    }
    // meta_v2 with a missing column is rejected the same way.
    const p2 = `${dir}/foreign2.db`;
    const raw2 = new DatabaseSync(p2);
    raw2.exec("CREATE TABLE meta_v2(key text primary key, value text)");
    raw2.close();
    assertDbError(
      () => Store.open(p2, { readOnly: true }),
      p2,
      /table meta_v2 lacks column\(s\) namespace, name, groupversionresource and resourceversion \(v1\.10-v1\.22\) or group_version_resource and resource_version \(v1\.23\)/,
    );
  });
});

Deno.test({
  name: "open errors: a rejected read-write open leaves the file's tables unchanged",
  async fn() {
    await inTempDir((dir) => {
      const path = `${dir}/foreign.db`;
      const raw = new DatabaseSync(path);
      raw.exec("CREATE TABLE meta(k, v)");
      raw.close();
      const before = rawMaster(path);
      assert.throws(() => Store.open(path), DatabaseError);
      assert.deepEqual(rawMaster(path), before);
    });
  },
});

Deno.test({
  name: "open errors: read-only open of an SQLite file without our tables is a DatabaseError",
  async fn() {
    await inTempDir((dir) => {
      const path = `${dir}/devices-only.db`;
      const raw = new DatabaseSync(path);
      raw.exec("CREATE TABLE sub_topics (topic text NOT NULL PRIMARY KEY)");
      raw.close();
      assertDbError(() => Store.open(path, { readOnly: true }), path, /meta/);
    });
  },
});

// ---------------------------------------------------------------------------------------
// Other tables in the same file

Deno.test("a database holding edgecore's other tables opens read-write without altering them", async () => {
  await inTempDir((dir) => {
    const path = `${dir}/devices.db`;
    const raw = new DatabaseSync(path);
    for (const stmt of schemaStatements()) {
      if (stmt.startsWith("CREATE TABLE sqlite_sequence")) continue; // created by SQLite
      if (/^CREATE TABLE `meta(_v2)?` /.test(stmt)) continue;
      raw.exec(stmt);
    }
    raw.exec("INSERT INTO device (id, name, state) VALUES ('dev-1', 'thermometer', 'online')");
    raw.exec(
      "INSERT INTO device_attr (deviceid, name, value, optional) VALUES ('dev-1', 'temp', '21', 1)",
    );
    raw.exec("INSERT INTO sub_topics (topic) VALUES ('$hw/events/device/+/state/update')");
    const contents = (s: DatabaseSync) => ({
      device: s.prepare("SELECT * FROM device").all(),
      device_attr: s.prepare("SELECT * FROM device_attr").all(),
      device_twin: s.prepare("SELECT * FROM device_twin").all(),
      sub_topics: s.prepare("SELECT * FROM sub_topics").all(),
      sqlite_sequence: s.prepare("SELECT * FROM sqlite_sequence").all(),
    });
    const before = masterRows(raw);
    const data = contents(raw);
    raw.close();
    assert.deepEqual(before.filter((r) => r.type === "table").map((r) => r.name), [
      "device",
      "device_attr",
      "sqlite_sequence",
      "device_twin",
      "sub_topics",
    ]);

    const s = Store.open(path);
    s.meta.saveMeta({ key: "default/pod/a", type: "pod", value: "{}" });
    s.close();

    const after = rawMaster(path);
    assert.deepEqual(after.slice(0, before.length), before);
    assert.deepEqual(after.slice(before.length).map((r) => `${r.type} ${r.name}`), [
      "table meta",
      "index sqlite_autoindex_meta_1",
      "table meta_v2",
      "index sqlite_autoindex_meta_v2_1",
    ]);
    assert.equal(after.find((r) => r.name === "meta")!.sql, schemaOf("meta"));
    const check = new DatabaseSync(path, { readOnly: true });
    assert.deepEqual(contents(check), data);
    check.close();
  });
});

Deno.test("the real database opens read-write with no table altered and all rows intact", async () => {
  await inTempDir((dir) => {
    const path = copyFixture(dir);
    const before = rawMaster(path);
    const ro = Database.open(path, { readOnly: true });
    const dumpBefore = dumpJson(ro);
    ro.close();
    const s = Store.open(path);
    assert.equal(s.meta.all().length, 52);
    assert.equal(s.metaV2.maxResourceVersion() > 0, true);
    s.close();
    assert.deepEqual(rawMaster(path), before);
    const again = Database.open(path, { readOnly: true });
    assert.equal(dumpJson(again), dumpBefore);
    again.close();
    // Every CREATE TABLE of the fixture's schema.sql is what the file holds.
    const tables = before.filter((r) => r.type === "table").map((r) => r.sql);
    assert.deepEqual(tables, schemaStatements());
  });
});

Deno.test("a NUL inside a key, type or value is read back whole from meta and meta_v2 (node:sqlite alone stops at it)", () => {
  const s = Store.open(":memory:");
  try {
    s.meta.saveMeta({ key: "default/pod/a\u0000b", type: "pod\u0000x", value: "v\u0000w" });
    s.meta.saveMeta({ key: "default/pod/a", type: "pod", value: "plain" });
    assert.deepEqual(s.meta.queryMeta("key", "default/pod/a\u0000b"), ["v\u0000w"]);
    assert.deepEqual(s.meta.queryAllMeta("type", "pod\u0000x"), [
      { key: "default/pod/a\u0000b", type: "pod\u0000x", value: "v\u0000w" },
    ]);
    assert.deepEqual(s.meta.queryMeta("key", "default/pod/a"), ["plain"]);
    assert.deepEqual(s.meta.all().map((r) => r.key).sort(), [
      "default/pod/a",
      "default/pod/a\u0000b",
    ]);
    s.metaV2.insertOrReplace(
      v2("/core/v1/pods/d\u0000e/n\u0000m", PODS, "d\u0000e", "n\u0000m", 1),
    );
    const [row] = s.metaV2.select(PODS, "d\u0000e", "n\u0000m");
    assert.equal(row.key, "/core/v1/pods/d\u0000e/n\u0000m");
    assert.equal(row.namespace, "d\u0000e");
    assert.equal(row.name, "n\u0000m");
    const dump = dumpDatabase(s.db);
    assert.ok(dump.meta.some((r) => r.key === "default/pod/a\u0000b" && r.value === "v\u0000w"));
    assert.equal(dump.meta_v2[0].name, "n\u0000m");
    // invalid UTF-8 around a NUL reads as U+FFFD, as a plain TEXT read does
    s.db.sqlite.exec(
      "INSERT INTO meta (key, type, value) VALUES (CAST(x'6b00ff' AS TEXT), 't', 'v')",
    );
    assert.deepEqual(s.meta.queryAllMeta("type", "t").map((r) => r.key), ["k\u0000\ufffd"]);
  } finally {
    s.close();
  }
});

Deno.test("meta_v2 listing in key order walks the primary key's index (no sort of whole rows)", () => {
  const s = Store.open(":memory:");
  try {
    // the statement selectAfter prepares (its columns are expressions, see whole_text.ts)
    const sqlite = s.db.sqlite;
    const prepare = sqlite.prepare.bind(sqlite);
    const seen: string[] = [];
    sqlite.prepare = (sql: string) => (seen.push(sql), prepare(sql));
    [...s.metaV2.selectAfter("/v1, Resource=pods", "", "", "")];
    sqlite.prepare = prepare;
    const sql = seen.find((q) => q.includes("ORDER BY"));
    assert.ok(sql, "selectAfter prepared no ordered select");
    const plan = prepare("EXPLAIN QUERY PLAN " + sql).all("", "") as { detail: string }[];
    assert.ok(plan.some((p) => p.detail.includes("USING INDEX")), JSON.stringify(plan));
    assert.ok(!plan.some((p) => p.detail.includes("TEMP B-TREE")), JSON.stringify(plan));
  } finally {
    s.close();
  }
});

Deno.test("the dump's rows are read in key order through each primary key's index (no sort of whole rows)", () => {
  const s = Store.open(":memory:");
  try {
    const sqlite = s.db.sqlite;
    const prepare = sqlite.prepare.bind(sqlite);
    const seen: string[] = [];
    sqlite.prepare = (sql: string) => (seen.push(sql), prepare(sql));
    const rows = dumpRows(s.db);
    [...rows.meta, ...rows.meta_v2];
    sqlite.prepare = prepare;
    const ordered = seen.filter((q) => /ORDER BY `meta(_v2)?`\.`key`$/.test(q));
    assert.equal(ordered.length, 2, JSON.stringify(seen));
    for (const sql of ordered) {
      const plan = prepare("EXPLAIN QUERY PLAN " + sql).all() as { detail: string }[];
      assert.ok(plan.some((p) => p.detail.includes("USING INDEX")), sql + JSON.stringify(plan));
      assert.ok(!plan.some((p) => p.detail.includes("TEMP B-TREE")), sql + JSON.stringify(plan));
    }
  } finally {
    s.close();
  }
});
