/**
 * `edgecore-meta inspect` end to end: the real CLI on copies of the KubeEdge fixture
 * database and on databases built here (WAL with and without companions, a concurrent
 * writer, corrupt files), plus the AGE and cell formatting helpers.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { parse as parseYaml } from "yaml";
import { META_DDL, META_V2_DDL } from "../src/store/db.ts";
import { age, cell, humanDuration, MAX_KEY_CELL } from "../src/inspect/render.ts";

const ROOT = new URL("../", import.meta.url);
const FIXTURE = new URL("../fixtures/edgecore-db/edgecore.db", import.meta.url);
const FIXTURE_DUMP = new URL("../fixtures/edgecore-db/edgecore.db.json", import.meta.url);

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run -A main.ts ARGS` in the project root (or `cwd`, with the root's config). */
async function cli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const main = new URL("main.ts", ROOT).pathname;
  const config = new URL("deno.json", ROOT).pathname;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", config, main, ...args],
    cwd: options.cwd ?? ROOT.pathname,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

/** `inspect --db PATH ARGS`, expected to succeed. */
async function inspect(path: string, ...args: string[]): Promise<string> {
  const r = await cli(["inspect", "--db", path, ...args]);
  assert.equal(r.code, 0, `inspect ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "edgecore-meta-inspect-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Copies the fixture database into `dir` (writable, so that tests can damage it). */
async function fixtureCopy(dir: string, name = "edgecore.db"): Promise<string> {
  const path = `${dir}/${name}`;
  await Deno.copyFile(FIXTURE, path);
  await Deno.chmod(path, 0o644);
  return path;
}

/** Hash, size and mtime of the database and its companions (null when absent). */
async function fingerprint(path: string): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const f of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    try {
      const info = await Deno.stat(f);
      const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(f));
      const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0"))
        .join("");
      out[f] = `${hex} ${info.size} ${info.mtime?.getTime()}`;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      out[f] = null;
    }
  }
  return out;
}

/** Rows of the fixture read directly (rollback-mode file, read-only open writes nothing). */
function readDirect<T>(path: string, sql: string, ...params: string[]): T[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

interface MetaRow {
  key: string;
  type: string;
  value: string;
}

interface V2Row {
  key: string;
  groupversionresource: string;
  namespace: string;
  name: string;
  resourceversion: number;
  value: string;
}

function allMeta(path: string): MetaRow[] {
  return readDirect<MetaRow>(path, "SELECT key, type, value FROM meta")
    .map((r) => ({ ...r }))
    .sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

function allV2(path: string): V2Row[] {
  return readDirect<V2Row>(path, "SELECT * FROM meta_v2")
    .map((r) => ({ ...r }))
    .sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

function countBy<T>(rows: T[], f: (r: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) out[f(r)] = (out[f(r)] ?? 0) + 1;
  return out;
}

function jsonOrText(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

function ndjson(stdout: string): Record<string, unknown>[] {
  return stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

/** A failure: exit 1, one line on stderr naming `path`, no stack trace. */
function assertOneLineFailure(r: CliResult, path: string, pattern: RegExp): void {
  assert.equal(r.code, 1, `expected exit 1, got ${r.code}: ${r.stderr}`);
  assert.equal(r.stdout, "");
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^edgecore-meta: /);
  assert.ok(lines[0].includes(path), `message does not name ${path}: ${lines[0]}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
}

/** Builds a KubeEdge-schema database with the given rows. */
function buildDb(
  path: string,
  meta: [key: string, type: string, value: string | null][],
  v2: [key: string, gvr: string, ns: string, name: string, rv: number, value: string][] = [],
  journalMode = "DELETE",
): void {
  const db = new DatabaseSync(path);
  try {
    db.exec(`PRAGMA journal_mode = ${journalMode}`);
    db.exec(META_DDL);
    db.exec(META_V2_DDL);
    const im = db.prepare("INSERT INTO meta (key, type, value) VALUES (?, ?, ?)");
    for (const r of meta) im.run(...r);
    const iv = db.prepare("INSERT INTO meta_v2 VALUES (?, ?, ?, ?, ?, ?)");
    for (const r of v2) iv.run(...r);
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------
// A writer in another process, for the WAL and concurrency tests.

const WRITER = `
import { DatabaseSync } from "node:sqlite";
const [path, mode] = Deno.args;
const db = new DatabaseSync(path, { timeout: 10000 });
db.exec(mode === "hot" ? "PRAGMA journal_mode = DELETE" : "PRAGMA journal_mode = WAL");
db.exec(${JSON.stringify(META_DDL)});
db.exec(${JSON.stringify(META_V2_DDL)});
const ins = db.prepare("INSERT OR REPLACE INTO meta (key, type, value) VALUES (?, ?, ?)");
const batch = (n) => {
  db.exec("BEGIN IMMEDIATE");
  for (let i = 0; i < 10; i++) {
    // at most 30 batches of keys: the database stays small however long the writer runs
    ins.run("default/pod/p-" + (n % 30) + "-" + i, "pod", JSON.stringify({ n, i, pad: "x".repeat(200) }));
  }
  db.exec("COMMIT");
};
if (mode === "crash") {
  db.exec("PRAGMA wal_autocheckpoint = 0");
  for (let n = 0; n < 5; n++) batch(n);
  Deno.exit(0); // no close: -wal (holding every row) and -shm stay behind
}
if (mode === "hot") {
  for (let n = 0; n < 5; n++) batch(n);
  db.exec("PRAGMA cache_size = 1");
  db.exec("BEGIN IMMEDIATE");
  db.exec("UPDATE meta SET value = 'uncommitted' || value");
  Deno.exit(0); // a hot journal: the database file holds uncommitted pages
}
batch(0);
console.log("READY");
if (mode === "hold") {
  setInterval(() => {}, 1000);
} else {
  let n = 1;
  while (true) {
    batch(n++);
    if (n % 20 === 0) await new Promise((r) => setTimeout(r, 1));
  }
}
`;

/** Starts the writer; resolves once it has committed its first batch. */
async function startWriter(dir: string, path: string, mode: "hold" | "loop") {
  const script = `${dir}/writer.js`;
  await Deno.writeTextFile(script, WRITER);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, path, mode],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("READY")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("writer ended before READY");
    seen += value;
  }
  return {
    async stop() {
      child.kill("SIGKILL");
      await child.status;
      await reader.cancel();
    },
  };
}

/** Runs the writer script to completion (modes crash and hot). */
async function runWriter(dir: string, path: string, mode: "crash" | "hot"): Promise<void> {
  const script = `${dir}/writer.js`;
  await Deno.writeTextFile(script, WRITER);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, path, mode],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).output();
  assert.equal(code, 0);
}

// ---------------------------------------------------------------------------------------
// Dump and summary

Deno.test("inspect -o dump of the KubeEdge fixture equals its reference dump", async () => {
  await withTempDir(async (dir) => {
    const db = await fixtureCopy(dir);
    const before = await fingerprint(db);
    const actual = JSON.parse(await inspect(db, "-o", "dump"));
    const expected = JSON.parse(await Deno.readTextFile(FIXTURE_DUMP));
    for (const table of ["meta", "meta_v2"] as const) {
      assert.equal(actual[table].length, expected[table].length, `${table} row count`);
      assert.deepEqual(
        actual[table].map((r: { key: string }) => r.key),
        expected[table].map((r: { key: string }) => r.key),
        `${table} keys in order`,
      );
      for (let i = 0; i < expected[table].length; i++) {
        const e = expected[table][i], a = actual[table][i];
        assert.deepEqual(Object.keys(a).sort(), Object.keys(e).sort(), `${table} columns`);
        for (const column of Object.keys(e)) {
          if (column === "value") {
            assert.deepEqual(jsonOrText(a.value), jsonOrText(e.value), `${e.key} value`);
          } else {
            assert.equal(a[column], e[column], `${e.key} ${column}`);
          }
        }
      }
    }
    assert.deepEqual(await fingerprint(db), before);
  });
});

Deno.test("inspect without filters prints the summary with correct counts", async () => {
  await withTempDir(async (dir) => {
    const db = await fixtureCopy(dir);
    const meta = allMeta(db);
    const v2 = allV2(db);
    const byType = countBy(meta, (r) => r.type);
    const byGvr = countBy(v2, (r) => r.groupversionresource);
    const tables = readDirect<{ name: string }>(
      db,
      "SELECT name FROM sqlite_master WHERE type = 'table'",
    ).map((r) => r.name).sort();

    const text = await inspect(db);
    assert.match(text, new RegExp(`^File: +${db.replaceAll("/", "\\/")}$`, "m"));
    assert.match(text, /^Size: +184320 bytes \(45 pages of 4096 bytes\)$/m);
    assert.match(text, /^Journal mode: +delete$/m);
    assert.match(text, new RegExp(`^Tables: +${tables.join(", ")}$`, "m"));
    assert.match(text, new RegExp(`^meta: ${meta.length} rows$`, "m"));
    assert.match(text, new RegExp(`^meta_v2: ${v2.length} rows$`, "m"));
    const [metaPart, v2Part] = text.split(/^meta_v2: /m);
    const parse = (part: string, header: string) => {
      const lines = part.split("\n");
      const start = lines.findIndex((l) => l.startsWith(header));
      const out: Record<string, number> = {};
      for (const l of lines.slice(start + 1)) {
        const m = /^(.+?) +(\d+)$/.exec(l);
        if (!m) break;
        out[m[1]] = Number(m[2]);
      }
      return out;
    };
    assert.deepEqual(parse(metaPart, "TYPE "), byType);
    assert.deepEqual(parse(v2Part, "GROUPVERSIONRESOURCE "), byGvr);

    const summary = JSON.parse(await inspect(db, "-o", "json"));
    assert.equal(summary.file, db);
    assert.equal(summary.size, 184320);
    assert.equal(summary.journalMode, "delete");
    assert.deepEqual(summary.tables, tables);
    assert.deepEqual(summary.meta, { rows: meta.length, types: byType });
    assert.deepEqual(summary.meta_v2, { rows: v2.length, groupversionresources: byGvr });
    assert.equal(summary.wal, null);
    assert.equal(summary.shm, null);

    const yaml = parseYaml(await inspect(db, "-o", "yaml"));
    assert.deepEqual(yaml, summary);
    const line = (await inspect(db, "-o", "ndjson")).split("\n");
    assert.equal(line.length, 2);
    assert.deepEqual(JSON.parse(line[0]), summary);
  });
});

Deno.test("inspect summary: a database with only one of the two tables", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/only-meta.db`;
    const db = new DatabaseSync(path);
    db.exec(META_DDL);
    db.prepare("INSERT INTO meta VALUES (?, ?, ?)").run("default/pod/a", "pod", "{}");
    db.close();
    const summary = JSON.parse(await inspect(path, "-o", "json"));
    assert.deepEqual(summary.meta, { rows: 1, types: { pod: 1 } });
    assert.equal(summary.meta_v2, null);
    assert.match(await inspect(path), /^meta_v2: table absent$/m);
    const r = await cli(["inspect", "--db", path, "--table", "meta_v2"]);
    assertOneLineFailure(r, path, /has no table meta_v2/);
  });
});

// ---------------------------------------------------------------------------------------
// Filters

Deno.test("inspect filters select exactly the matching rows", async () => {
  await withTempDir(async (dir) => {
    const db = await fixtureCopy(dir);
    const meta = allMeta(db);
    const v2 = allV2(db);
    const keys = (out: string) => ndjson(out).map((r) => r.key);
    const ns = (key: string) => key.includes("/") ? key.slice(0, key.indexOf("/")) : key;

    // --key
    const one = ndjson(await inspect(db, "--key", "default/configmap/app-config", "-o", "ndjson"));
    const row = meta.find((r) => r.key === "default/configmap/app-config")!;
    assert.deepEqual(one, [{ key: row.key, type: row.type, value: JSON.parse(row.value) }]);

    // --type
    assert.deepEqual(
      keys(await inspect(db, "--type", "podstatus", "-o", "ndjson")),
      meta.filter((r) => r.type === "podstatus").map((r) => r.key),
    );

    // --prefix
    assert.deepEqual(
      keys(await inspect(db, "--prefix", "kube-system/pod", "-o", "ndjson")),
      meta.filter((r) => r.key.startsWith("kube-system/pod")).map((r) => r.key),
    );

    // --namespace on meta: the first segment of the key
    const edgeApps = meta.filter((r) => ns(r.key) === "edge-apps").map((r) => r.key);
    assert.ok(edgeApps.length > 0);
    assert.deepEqual(keys(await inspect(db, "-n", "edge-apps", "-o", "ndjson")), edgeApps);
    assert.deepEqual(keys(await inspect(db, "--namespace", "edge", "-o", "ndjson")), []);

    // combined
    assert.deepEqual(
      keys(await inspect(db, "--type", "pod", "--namespace", "monitoring", "-o", "ndjson")),
      meta.filter((r) => r.type === "pod" && ns(r.key) === "monitoring").map((r) => r.key),
    );

    // --table meta alone lists everything
    assert.deepEqual(
      keys(await inspect(db, "--table", "meta", "-o", "ndjson")),
      meta.map((r) => r.key),
    );

    // meta_v2: --table, --namespace (the column), --gvr (implies meta_v2), --key, --prefix
    assert.deepEqual(
      keys(await inspect(db, "--table", "meta_v2", "-o", "ndjson")),
      v2.map((r) => r.key),
    );
    assert.deepEqual(
      keys(await inspect(db, "--table", "meta_v2", "-n", "kube-system", "-o", "ndjson")),
      v2.filter((r) => r.namespace === "kube-system").map((r) => r.key),
    );
    assert.deepEqual(
      keys(await inspect(db, "--table", "meta_v2", "-n", "", "-o", "ndjson")),
      v2.filter((r) => r.namespace === "").map((r) => r.key),
    );
    assert.deepEqual(
      keys(await inspect(db, "--gvr", "/v1, Resource=pods", "-n", "default", "-o", "ndjson")),
      v2.filter((r) => r.groupversionresource === "/v1, Resource=pods" && r.namespace === "default")
        .map((r) => r.key),
    );
    assert.deepEqual(
      keys(await inspect(db, "--table", "meta_v2", "--prefix", "/core/v1/nodes/", "-o", "ndjson")),
      v2.filter((r) => r.key.startsWith("/core/v1/nodes/")).map((r) => r.key),
    );
    const node = ndjson(
      await inspect(
        db,
        "--table",
        "meta_v2",
        "--key",
        "/core/v1/nodes/null/edge-node-1",
        "-o",
        "ndjson",
      ),
    );
    const v2row = v2.find((r) => r.key === "/core/v1/nodes/null/edge-node-1")!;
    assert.deepEqual(node, [{
      key: v2row.key,
      gvr: v2row.groupversionresource,
      namespace: "",
      name: "edge-node-1",
      resourceversion: v2row.resourceversion,
      value: JSON.parse(v2row.value),
    }]);

    // a filter matching nothing: table output says so on stderr, exit 0
    const none = await cli(["inspect", "--db", db, "--type", "nothing"]);
    assert.equal(none.code, 0);
    assert.equal(none.stdout, "");
    assert.match(none.stderr, /No rows found in table meta/);
    assert.equal(await inspect(db, "--type", "nothing", "-o", "json"), "[]\n");
  });
});

Deno.test("inspect --prefix and --namespace treat % _ and quotes as plain text", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/odd.db`;
    buildDb(path, [
      ["a%b/pod/x", "pod", "{}"],
      ["a_b/pod/y", "pod", "{}"],
      ["axb/pod/z", "pod", "{}"],
      ["A%B/pod/w", "pod", "{}"],
      ["it's/pod/q", "pod", "{}"],
      ["nosep", "", "{}"],
    ]);
    const keys = async (...args: string[]) =>
      ndjson(await inspect(path, ...args, "-o", "ndjson")).map((r) => r.key);
    assert.deepEqual(await keys("--prefix", "a%"), ["a%b/pod/x"]);
    assert.deepEqual(await keys("--prefix", "a_"), ["a_b/pod/y"]);
    assert.deepEqual(await keys("--prefix", "a"), ["a%b/pod/x", "a_b/pod/y", "axb/pod/z"]);
    assert.deepEqual(await keys("--prefix", "it's"), ["it's/pod/q"]);
    assert.deepEqual(await keys("--prefix", "'"), []);
    assert.deepEqual(await keys("--namespace", "a%b"), ["a%b/pod/x"]);
    assert.deepEqual(await keys("--namespace", "a_b"), ["a_b/pod/y"]);
    assert.deepEqual(await keys("--namespace", "%"), []);
    assert.deepEqual(await keys("--namespace", "nosep"), ["nosep"]);
    assert.deepEqual(await keys("--key", "it's/pod/q"), ["it's/pod/q"]);
    assert.deepEqual(await keys("--type", "' OR 1=1 --"), []);
  });
});

// ---------------------------------------------------------------------------------------
// Output formats

Deno.test("inspect -o json, ndjson and yaml show rows with values parsed as JSON", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/values.db`;
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace: "default", creationTimestamp: "2022-02-01T05:34:10Z" },
      spec: { priority: 12345678901234567890n },
    };
    const podText = JSON.stringify(pod, (_k, v) => typeof v === "bigint" ? v.toString() : v)
      .replace('"12345678901234567890"', "12345678901234567890");
    buildDb(path, [
      ["default/pod/p", "pod", podText],
      ["default/pod/raw", "pod", "not json {"],
      ["default/pod/null", "pod", null],
      ["default/pod/num", "pod", "42"],
    ], [
      ["/core/v1/pods/default/p", "/v1, Resource=pods", "default", "p", 7, podText + "\n"],
    ]);

    const json = await inspect(path, "--table", "meta", "-o", "json");
    const rows = JSON.parse(json);
    assert.deepEqual(rows.map((r: { key: string }) => r.key), [
      "default/pod/null",
      "default/pod/num",
      "default/pod/p",
      "default/pod/raw",
    ]);
    assert.deepEqual(rows[0], { key: "default/pod/null", type: "pod", value: null });
    assert.deepEqual(rows[1], { key: "default/pod/num", type: "pod", value: 42 });
    assert.equal(rows[2].value.kind, "Pod");
    assert.deepEqual(rows[3], { key: "default/pod/raw", type: "pod", value: "not json {" });
    // integers beyond 2^53 are written exactly
    assert.match(json, /"priority": 12345678901234567890/);

    const nd = await inspect(path, "--table", "meta", "-o", "ndjson");
    assert.equal(nd.split("\n").filter((l) => l).length, 4);
    assert.match(nd, /"priority":12345678901234567890/);
    assert.deepEqual(
      ndjson(nd).map((r) => r.value),
      rows.map((r: { value: unknown }) => r.value),
    );

    const yamlText = await inspect(path, "--table", "meta", "-o", "yaml");
    const yaml = parseYaml(yamlText, { intAsBigInt: true });
    assert.equal(yaml.length, 4);
    assert.equal(yaml[2].value.spec.priority, 12345678901234567890n);
    assert.equal(yaml[2].value.metadata.creationTimestamp, "2022-02-01T05:34:10Z");
    assert.equal(yaml[3].value, "not json {");
    assert.equal(yaml[0].value, null);

    const v2 = JSON.parse(await inspect(path, "--table", "meta_v2", "-o", "json"));
    assert.equal(v2.length, 1);
    assert.deepEqual(Object.keys(v2[0]), [
      "key",
      "gvr",
      "namespace",
      "name",
      "resourceversion",
      "value",
    ]);
    assert.equal(v2[0].gvr, "/v1, Resource=pods");
    assert.equal(v2[0].resourceversion, 7);
    assert.equal(v2[0].value.metadata.name, "p");
    const v2yaml = parseYaml(await inspect(path, "--gvr", "/v1, Resource=pods", "-o", "yaml"));
    assert.equal(v2yaml[0].namespace, "default");
    assert.equal(v2yaml[0].value.kind, "Pod");
  });
});

/** Start index of each column in a table's header line. */
function columnStarts(header: string): number[] {
  return [...header.matchAll(/\S+/g)].map((m) => m.index!);
}

Deno.test("inspect -o table looks like kubectl get", async () => {
  await withTempDir(async (dir) => {
    const db = await fixtureCopy(dir);
    const meta = allMeta(db);
    const lines = (await inspect(db, "--type", "configmap")).trimEnd().split("\n");
    const header = lines[0];
    assert.deepEqual(header.split(/\s+/), ["KEY", "TYPE", "NAMESPACE", "NAME", "KIND", "AGE"]);
    const starts = columnStarts(header);
    const configmaps = meta.filter((r) => r.type === "configmap");
    assert.equal(lines.length, configmaps.length + 1);
    const now = Date.now();
    for (const [i, line] of lines.slice(1).entries()) {
      const cells = line.split(/\s{3,}/);
      assert.deepEqual(columnStarts(line), starts, `aligned: ${line}`);
      const r = configmaps[i];
      const obj = JSON.parse(r.value);
      assert.equal(cells[0], r.key);
      assert.equal(cells[1], "configmap");
      assert.equal(cells[2], r.key.split("/")[0]);
      assert.equal(cells[3], r.key.split("/")[2]);
      assert.equal(cells[4], "ConfigMap");
      // AGE from metadata.creationTimestamp (allow the clock to tick during the run)
      const ages = [
        age(obj.metadata.creationTimestamp, now - 60_000),
        age(obj.metadata.creationTimestamp, now),
      ];
      assert.ok(ages.includes(cells[5]), `${cells[5]} not in ${ages}`);
      assert.match(cells[5], /^\d+y(\d+d)?$/);
    }
    // no spaces at line ends, 3 spaces between columns
    for (const l of lines) assert.equal(l, l.trimEnd());
    assert.match(lines[1], /^\S+ {3}/);

    // values that are not Kubernetes objects: no KIND/AGE columns
    const status = (await inspect(db, "--type", "podstatus")).split("\n")[0];
    assert.deepEqual(status.split(/\s+/), ["KEY", "TYPE", "NAMESPACE", "NAME"]);

    // meta_v2 table
    const v2 = (await inspect(db, "--gvr", "/v1, Resource=nodes")).trimEnd().split("\n");
    assert.deepEqual(v2[0].split(/\s+/), ["KEY", "TYPE", "NAMESPACE", "NAME", "RV", "KIND", "AGE"]);
    const cells = v2[1].split(/\s{3,}/);
    assert.deepEqual(cells.slice(0, 6), [
      "/core/v1/nodes/null/edge-node-1",
      "/v1, Resource=nodes",
      "<none>",
      "edge-node-1",
      "20096",
      "Node",
    ]);
  });
});

Deno.test("inspect -o table: long cells cut with ..., objects without a timestamp", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/long.db`;
    const longKey = `default/configmap/${"n".repeat(200)}`;
    const noTs = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" } };
    buildDb(path, [
      [longKey, "configmap", JSON.stringify(noTs)],
      ["default/configmap/plain", "configmap", "not an object"],
      ["default/configmap/tab\tkey", "configmap", "{}"],
    ]);
    const lines = (await inspect(path, "--type", "configmap")).trimEnd().split("\n");
    assert.deepEqual(lines[0].split(/\s+/), ["KEY", "TYPE", "NAMESPACE", "NAME", "KIND", "AGE"]);
    const starts = columnStarts(lines[0]);
    for (const l of lines.slice(1)) assert.deepEqual(columnStarts(l), starts, l);
    const byKey = new Map(lines.slice(1).map((l) => [l.split(/\s{3,}/)[0], l.split(/\s{3,}/)]));
    const cut = [...byKey.keys()].find((k) => k.endsWith("..."))!;
    assert.equal(cut.length, MAX_KEY_CELL);
    assert.ok(longKey.startsWith(cut.slice(0, -3)));
    assert.deepEqual(byKey.get(cut)!.slice(4), ["ConfigMap", "<unknown>"]);
    assert.deepEqual(byKey.get("default/configmap/plain")!.slice(4), ["<none>", "<unknown>"]);
    assert.ok(byKey.has("default/configmap/tab\\tkey"), "control characters escaped");
  });
});

Deno.test("AGE is kubectl's HumanDuration", () => {
  const s = 1000, m = 60 * s, h = 60 * m, d = 24 * h, y = 365 * d;
  const cases: [number, string][] = [
    [-5 * s, "<invalid>"],
    [-1500, "0s"],
    [0, "0s"],
    [40 * s, "40s"],
    [119 * s, "119s"],
    [2 * m, "2m"],
    [5 * m + 12 * s, "5m12s"],
    [12 * m + 30 * s, "12m"],
    [179 * m, "179m"],
    [3 * h + 20 * m, "3h20m"],
    [7 * h, "7h"],
    [30 * h + 5 * m, "30h"],
    [5 * d + 3 * h, "5d3h"],
    [6 * d, "6d"],
    [90 * d + 5 * h, "90d"],
    [3 * y + 100 * d, "3y100d"],
    [4 * y, "4y"],
    [10 * y + 20 * d, "10y"],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
  const now = Date.parse("2024-01-01T00:00:00Z");
  assert.equal(age("2023-12-31T23:59:20Z", now), "40s");
  assert.equal(age("2023-12-27T21:00:00Z", now), "4d3h");
  assert.equal(age(undefined, now), "<unknown>");
  assert.equal(age("yesterday", now), "<unknown>");
  assert.equal(cell("x".repeat(10), 8), "xxxxx...");
  assert.equal(cell("a\nb"), "a\\nb");
});

// ---------------------------------------------------------------------------------------
// Read-only guarantee

Deno.test("inspect never writes: rollback-mode file unchanged by every command", async () => {
  await withTempDir(async (dir) => {
    const db = await fixtureCopy(dir);
    const before = await fingerprint(db);
    await new Promise((r) => setTimeout(r, 20)); // a write would get a later mtime
    await inspect(db);
    await inspect(db, "-o", "dump");
    await inspect(db, "--type", "pod", "-o", "yaml");
    await inspect(db, "--table", "meta_v2");
    await cli(["inspect", "--db", db, "--key", "missing"]);
    assert.deepEqual(await fingerprint(db), before);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["edgecore.db"]);
  });
});

Deno.test("inspect never writes: WAL database without -wal/-shm creates none", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/wal.db`;
    buildDb(path, [["default/pod/a", "pod", "{}"], ["default/pod/b", "pod", "{}"]], [], "WAL");
    assert.equal(await fingerprint(path).then((f) => f[`${path}-wal`]), null);
    const before = await fingerprint(path);
    const summary = JSON.parse(await inspect(path, "-o", "json"));
    assert.equal(summary.journalMode, "wal");
    assert.deepEqual(summary.meta, { rows: 2, types: { pod: 2 } });
    assert.equal(ndjson(await inspect(path, "--type", "pod", "-o", "ndjson")).length, 2);
    await inspect(path, "-o", "dump");
    assert.deepEqual(await fingerprint(path), before);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["wal.db"]);
  });
});

Deno.test("inspect never writes: WAL with -wal and -shm left by a crashed writer", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/crashed.db`;
    await runWriter(dir, path, "crash");
    const before = await fingerprint(path);
    assert.notEqual(before[`${path}-wal`], null);
    assert.notEqual(before[`${path}-shm`], null);
    await new Promise((r) => setTimeout(r, 20));
    const summary = JSON.parse(await inspect(path, "-o", "json"));
    assert.deepEqual(summary.meta, { rows: 50, types: { pod: 50 } }); // rows only in the WAL
    assert.equal(
      ndjson(await inspect(path, "--prefix", "default/pod/p-4-", "-o", "ndjson")).length,
      10,
    );
    assert.deepEqual(await fingerprint(path), before);
  });
});

Deno.test("inspect never writes: WAL with -wal but no -shm (read from a private copy)", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/noshm.db`;
    await runWriter(dir, path, "crash");
    await Deno.remove(`${path}-shm`);
    const before = await fingerprint(path);
    const summary = JSON.parse(await inspect(path, "-o", "json"));
    assert.deepEqual(summary.meta, { rows: 50, types: { pod: 50 } });
    assert.match(summary.readMethod, /private copy/);
    assert.deepEqual(await fingerprint(path), before);
    assert.equal(before[`${path}-shm`], null);
  });
});

Deno.test("inspect never writes: a hot rollback journal is rolled back only in a copy", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/hot.db`;
    await runWriter(dir, path, "hot");
    const before = await fingerprint(path);
    assert.notEqual(before[`${path}-journal`], null);
    const rows = ndjson(await inspect(path, "--type", "pod", "-o", "ndjson"));
    assert.equal(rows.length, 50);
    for (const r of rows) assert.equal(typeof r.value, "object", "committed values only");
    assert.deepEqual(await fingerprint(path), before);
  });
});

Deno.test("inspect never writes: WAL database held open by an idle writer", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/held.db`;
    const writer = await startWriter(dir, path, "hold");
    try {
      const before = await fingerprint(path);
      assert.notEqual(before[`${path}-shm`], null);
      await new Promise((r) => setTimeout(r, 20));
      const summary = JSON.parse(await inspect(path, "-o", "json"));
      assert.deepEqual(summary.meta, { rows: 10, types: { pod: 10 } });
      await inspect(path, "-o", "dump");
      assert.deepEqual(await fingerprint(path), before);
    } finally {
      await writer.stop();
    }
  });
});

Deno.test("inspect succeeds while another process keeps writing a WAL database", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/busy.db`;
    const writer = await startWriter(dir, path, "loop");
    try {
      let last = 0;
      for (let i = 0; i < 6; i++) {
        const args = i % 3 === 0
          ? ["-o", "json"]
          : i % 3 === 1
          ? ["--type", "pod", "-o", "ndjson"]
          : ["-o", "dump"];
        const r = await cli(["inspect", "--db", path, ...args]);
        assert.equal(r.code, 0, r.stderr);
        const rows = i % 3 === 0
          ? JSON.parse(r.stdout).meta.rows
          : i % 3 === 1
          ? ndjson(r.stdout).length
          : JSON.parse(r.stdout).meta.length;
        // the writer commits 10 rows per transaction: a snapshot holds whole batches
        assert.equal(rows % 10, 0, `rows ${rows}`);
        assert.ok(rows >= last, `rows went back from ${last} to ${rows}`);
        last = rows;
      }
      assert.ok(last > 10, "the writer made progress meanwhile");
    } finally {
      await writer.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------
// Failures

Deno.test("inspect fails with one line for unusable files", async () => {
  await withTempDir(async (dir) => {
    const missing = `${dir}/missing.db`;
    assertOneLineFailure(await cli(["inspect", "--db", missing]), missing, /no such file/);

    const text = `${dir}/notes.db`;
    await Deno.writeTextFile(text, "these are notes, not a database\n".repeat(10));
    assertOneLineFailure(await cli(["inspect", "--db", text]), text, /not an SQLite database/);

    const empty = `${dir}/empty.db`;
    await Deno.writeFile(empty, new Uint8Array());
    assertOneLineFailure(await cli(["inspect", "--db", empty]), empty, /empty/);

    assertOneLineFailure(await cli(["inspect", "--db", dir]), dir, /directory/);

    const fixture = await Deno.readFile(FIXTURE);
    const truncated = `${dir}/truncated.db`;
    await Deno.writeFile(truncated, fixture.subarray(0, 1000));
    assertOneLineFailure(await cli(["inspect", "--db", truncated]), truncated, /truncated/);
    assertOneLineFailure(
      await cli(["inspect", "--db", truncated, "--key", "default/pod/redis-0"]),
      truncated,
      /truncated/,
    );

    // 64 bytes of garbage in the middle of page 16 (a leaf page of meta) and of page 26
    for (const page of [16, 26]) {
      const corrupt = `${dir}/corrupt-${page}.db`;
      const bytes = fixture.slice();
      bytes.fill(0xff, (page - 1) * 4096 + 2048, (page - 1) * 4096 + 2048 + 64);
      await Deno.writeFile(corrupt, bytes);
      for (const args of [[], ["-o", "dump"], ["--type", "pod"]]) {
        assertOneLineFailure(
          await cli(["inspect", "--db", corrupt, ...args]),
          corrupt,
          /corrupt/,
        );
      }
    }

    const foreign = `${dir}/foreign.db`;
    const db = new DatabaseSync(foreign);
    db.exec("CREATE TABLE sub_topics (topic text NOT NULL PRIMARY KEY)");
    db.close();
    assertOneLineFailure(
      await cli(["inspect", "--db", foreign]),
      foreign,
      /neither table meta nor meta_v2/,
    );

    const wrong = `${dir}/wrong.db`;
    const w = new DatabaseSync(wrong);
    w.exec("CREATE TABLE meta (key text, data text)");
    w.close();
    assertOneLineFailure(
      await cli(["inspect", "--db", wrong]),
      wrong,
      /lacks column\(s\) type, value/,
    );
  });
});

Deno.test("inspect --key without such a row: exit 1, one line", async () => {
  await withTempDir(async (dir) => {
    const db = await fixtureCopy(dir);
    for (
      const args of [["--key", "default/pod/nope"], ["--key", "default/pod/nope", "-o", "json"]]
    ) {
      const r = await cli(["inspect", "--db", db, ...args]);
      assertOneLineFailure(r, db, /No row with key "default\/pod\/nope" in table meta/);
    }
    const other = await cli([
      "inspect",
      "--db",
      db,
      "--key",
      "default/pod/redis-0",
      "--type",
      "secret",
    ]);
    assertOneLineFailure(other, db, /matching the other filters/);
    const v2 = await cli([
      "inspect",
      "--db",
      db,
      "--table",
      "meta_v2",
      "--key",
      "default/pod/redis-0",
    ]);
    assertOneLineFailure(v2, db, /in table meta_v2/);
  });
});

Deno.test("inspect usage errors exit 2", async () => {
  await withTempDir(async (dir) => {
    const db = await fixtureCopy(dir);
    for (
      const args of [
        ["--table", "meta_v2", "--type", "pod"],
        ["--table", "meta", "--gvr", "/v1, Resource=pods"],
        ["--type", "pod", "-o", "dump"],
        ["-o", "xml"],
        ["--table", "other"],
      ]
    ) {
      const r = await cli(["inspect", "--db", db, ...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Where the database comes from, help

Deno.test("inspect finds the database through the configuration", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/data`);
    const db = await fixtureCopy(`${dir}/data`);
    // default path ./data/edgecore.db, relative to the working directory
    const byDefault = await cli(["inspect", "-o", "json"], { cwd: dir });
    assert.equal(byDefault.code, 0, byDefault.stderr);
    assert.equal(JSON.parse(byDefault.stdout).file, "./data/edgecore.db");

    const other = await fixtureCopy(dir, "other.db");
    await Deno.writeTextFile(`${dir}/edgecore.yaml`, `database:\n  dataSource: ${other}\n`);
    const byConfig = await cli(["-c", `${dir}/edgecore.yaml`, "inspect", "-o", "json"]);
    assert.equal(byConfig.code, 0, byConfig.stderr);
    assert.equal(JSON.parse(byConfig.stdout).file, other);

    const byEnv = await cli(["inspect", "-o", "json"], { env: { EDGECORE_META_DB: db } });
    assert.equal(JSON.parse(byEnv.stdout).file, db);

    const globalFlag = await cli(["--db", db, "inspect", "-o", "json"]);
    assert.equal(JSON.parse(globalFlag.stdout).file, db);

    // --db wins over the configuration file
    const both = await cli(["-c", `${dir}/edgecore.yaml`, "inspect", "--db", db, "-o", "json"]);
    assert.equal(JSON.parse(both.stdout).file, db);

    const missing = await cli(["inspect"], { cwd: ROOT.pathname + "fixtures" });
    assertOneLineFailure(missing, "./data/edgecore.db", /no such file/);
  });
});

Deno.test("inspect --help shows options and examples", async () => {
  const r = await cli(["inspect", "--help"]);
  assert.equal(r.code, 0);
  for (
    const word of ["--key", "--type", "--prefix", "--namespace", "--table", "--gvr", "--output"]
  ) {
    assert.ok(r.stdout.includes(word), word);
  }
  assert.match(r.stdout, /Examples:\n {2}edgecore-meta inspect/);
  for (const format of ["table", "json", "ndjson", "yaml", "dump"]) {
    assert.ok(r.stdout.includes(`"${format}"`), format);
  }
});

const V123_DIR = new URL("../fixtures/edgecore-db-v1.23/", import.meta.url);

Deno.test("inspect: v1.23 and migrated databases: summary names the release, dump equals the reference", async () => {
  const files = [
    ["edgecore.db", "1.23", "gorm", /KubeEdge v1\.23 \(gorm schema\)/],
    ["upgraded.db", "1.23", "migrated", /KubeEdge v1\.23 \(beego schema migrated by gorm/],
  ] as const;
  for (const [name, release, shape, line] of files) {
    const path = new URL(name, V123_DIR).pathname;
    const summary = JSON.parse(await inspect(path, "-o", "json"));
    assert.equal(summary.kubeedge, release);
    assert.equal(summary.schema, shape);
    assert.equal(summary.meta_v2.rows, name === "edgecore.db" ? 38 : 37);
    assert.match(await inspect(path), line);
    const dump = await inspect(path, "-o", "dump");
    assert.equal(dump, Deno.readTextFileSync(new URL(name + ".json", V123_DIR)), name);
    // --gvr selects through the v1.23 columns (and a migrated file's old rows through the v1.10 ones).
    const pods = JSON.parse(await inspect(path, "--gvr", "/v1, Resource=pods", "-o", "json"));
    assert.equal(pods.length, name === "edgecore.db" ? 12 : 11, name);
  }
  const v110 = JSON.parse(
    await inspect(
      new URL("../fixtures/edgecore-db/edgecore.db", import.meta.url).pathname,
      "-o",
      "json",
    ),
  );
  assert.equal(v110.kubeedge, "1.10");
  assert.equal(v110.schema, "beego");
});

Deno.test("inspect shows a key holding a NUL whole (node:sqlite alone would cut it there)", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/nul.db`;
    const db = new DatabaseSync(path);
    db.exec(META_DDL);
    db.exec(META_V2_DDL);
    db.prepare("INSERT INTO meta (key, type, value) VALUES (?, 'pod', ?)").run(
      "default/pod/a\u0000b",
      '{"kind":"Pod","metadata":{"name":"a\\u0000b","namespace":"default"}}',
    );
    db.close();
    const rows = JSON.parse(await inspect(path, "--type", "pod", "-o", "json"));
    assert.deepEqual(rows.map((r: { key: string }) => r.key), ["default/pod/a\u0000b"]);
  });
});
