/**
 * Bounded memory in `inspect -o json|ndjson|yaml|dump` over a large database: rows are
 * read from SQLite and written one at a time, so a real `inspect` process under the
 * shipped V8 flags (128 MB old space) writes every row of ConfigMaps of 1 MB (hundreds of
 * MB in all, more than its heap) with a peak RSS (VmHWM, polled) far below the data's
 * size. The database is generated into a temp dir and removed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { META_DDL, META_V2_DDL } from "../src/store/db.ts";
import { rowForObject } from "../src/store/meta_v2.ts";
import { productRunFlags, PROJECT_DIR, withTimeout } from "./support/serve_process.ts";

const MB = 1024 * 1024;
const RSS_LIMIT = 200 * MB;
const ROWS = Number(Deno.env.get("INSPECT_LARGE_ROWS") ?? 250);
const VALUE = "c".repeat(MB - 512);

function configMap(i: number): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: `cm-${String(i).padStart(5, "0")}`, namespace: `ns-${i % 7}` },
    data: { big: VALUE },
  };
}

/** `ROWS` ConfigMaps of 1 MB in each of meta and meta_v2. */
function generate(path: string): void {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode=WAL");
  db.exec(META_DDL);
  db.exec(META_V2_DDL);
  const v2 = db.prepare(
    "INSERT INTO meta_v2 (key, groupversionresource, namespace, name, resourceversion, value) VALUES (?,?,?,?,?,?)",
  );
  const meta = db.prepare("INSERT INTO meta (key, type, value) VALUES (?,?,?)");
  db.exec("BEGIN");
  for (let i = 0; i < ROWS; i++) {
    const o = configMap(i);
    const r = rowForObject(o);
    v2.run(r.key, r.groupversionresource, r.namespace, r.name, r.resourceversion, r.value);
    meta.run(`ns-${i % 7}/configmap/cm-${String(i).padStart(5, "0")}`, "configmap", r.value);
  }
  db.exec("COMMIT");
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
}

function peakRss(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // exited
  }
}

/** Runs inspect with the shipped flags; counts stdout's bytes and occurrences of `marker`. */
async function inspect(args: string[], marker: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...productRunFlags(), "main.ts", "inspect", ...args],
    cwd: PROJECT_DIR,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let peak = 0;
  const poll = setInterval(() => peak = Math.max(peak, peakRss(child.pid)), 20);
  const needle = new TextEncoder().encode(marker);
  let bytes = 0;
  let hits = 0;
  let tail = new Uint8Array(0);
  const counting = (async () => {
    for await (const chunk of child.stdout) {
      bytes += chunk.length;
      // Count the marker across chunk boundaries (keep the last needle-1 bytes).
      const buf = new Uint8Array(tail.length + chunk.length);
      buf.set(tail);
      buf.set(chunk, tail.length);
      for (let i = buf.indexOf(needle[0]); i >= 0; i = buf.indexOf(needle[0], i + 1)) {
        if (i + needle.length > buf.length) break;
        let j = 1;
        while (j < needle.length && buf[i + j] === needle[j]) j++;
        if (j === needle.length) hits++;
      }
      tail = buf.slice(Math.max(0, buf.length - needle.length + 1));
      peak = Math.max(peak, peakRss(child.pid));
    }
  })();
  const stderr = new Response(child.stderr).text();
  try {
    const status = await withTimeout(child.status, 300_000, `inspect ${args.join(" ")} hung`);
    await counting;
    return { code: status.code, bytes, hits, peak, stderr: await stderr };
  } finally {
    clearInterval(poll);
  }
}

Deno.test({
  name: `inspect -o json/ndjson/yaml/dump over ${ROWS} + ${ROWS} values of 1 MB: bounded RSS`,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "inspect-large-" });
    try {
      const db = `${dir}/edgecore.db`;
      generate(db);
      const runs: [string[], string, number][] = [
        [["--db", db, "--gvr", "configmaps", "-o", "json"], '\n    "key": ', ROWS],
        [["--db", db, "--type", "configmap", "-o", "ndjson"], '{"key":', ROWS],
        [["--db", db, "--type", "configmap", "-o", "yaml"], "\n  type: configmap", ROWS],
        [["--db", db, "-o", "dump"], '\n      "key": ', 2 * ROWS],
      ];
      for (const [args, marker, rows] of runs) {
        const r = await inspect(args, marker);
        const what = `inspect ${args.slice(2).join(" ")}`;
        assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr.slice(-2000)}`);
        assert.equal(r.hits, rows, `${what}: every row is written`);
        assert.ok(r.bytes > rows * (MB - 1024), `${what}: ${r.bytes} bytes`);
        console.log(
          `${what}: ${rows} rows, ${(r.bytes / MB).toFixed(0)} MB out, peak RSS ${
            (r.peak / MB).toFixed(0)
          } MB`,
        );
        assert.ok(r.peak > 0 && r.peak < RSS_LIMIT, `${what}: peak RSS ${r.peak} bytes`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("inspect whose stdout is not read holds no lock: a rollback-journal writer commits meanwhile", async () => {
  const dir = await Deno.makeTempDir({ prefix: "inspect-lock-" });
  const path = `${dir}/edgecore.db`;
  const setup = new DatabaseSync(path); // rollback journal (DELETE), as beego leaves it
  setup.exec(META_DDL);
  const insert = setup.prepare("INSERT INTO meta (key, type, value) VALUES (?,?,?)");
  for (let i = 0; i < 40; i++) {
    insert.run(`default/configmap/cm-${i}`, "configmap", "v".repeat(100_000));
  }
  setup.close();
  // 4 MB of output into a pipe read no further than its first chunk: inspect blocks on
  // stdout (the pipe holds 64 KiB)
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", "inspect", path, "--type", "configmap", "-o", "ndjson"],
    cwd: PROJECT_DIR,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const reader = child.stdout.getReader();
    const first = await withTimeout(reader.read(), 30_000, "inspect's first output");
    assert.ok(!first.done);
    await new Promise((r) => setTimeout(r, 300)); // inspect blocked on the full pipe
    const writer = new DatabaseSync(path, { timeout: 0 }); // no waiting on a lock
    writer.prepare("INSERT INTO meta (key, type, value) VALUES (?,?,?)")
      .run("default/configmap/written-meanwhile", "configmap", "{}");
    writer.close();
    const chunks = [first.value!];
    const drain = async () => {
      for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
    };
    await withTimeout(drain(), 30_000, "inspect output");
    const out = new TextDecoder().decode(await new Blob(chunks).arrayBuffer());
    assert.equal(out.split("\n").filter((l) => l !== "").length, 40, "the rows read, once");
    assert.equal((await child.status).code, 0);
  } finally {
    try {
      child.kill();
    } catch { /* exited */ }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});
