/**
 * Bounded memory for any list, with a real kubectl against a real serve process (the
 * shipped V8 flags: 128 MB old space): `kubectl get pods -A` and `-o json` over a
 * generated 40,000-pod database, and `kubectl get cm -A` over ConfigMaps of 1 MB totalling
 * 1 GB. kubectl asks for pages (`limit=500`, then `continue`); serve reads each page from
 * SQLite and ends a page early at its byte bound. Checked: every row arrives, serve stays
 * up, its peak RSS (VmHWM) stays under 200 MB; a list without `limit` over the hard limit
 * gets a 413 Status naming it; `limit`/`continue` as kube-apiserver, and a malformed
 * continue token gets its 400 Status; a watch's initial events over every pod (read in
 * pages as the client takes them) arrive whole, one ADDED each, then the bookmark. The databases are generated into a temp dir (one
 * prepared statement in one transaction) and removed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { META_DDL, META_V2_DDL } from "../src/store/db.ts";
import { rowForObject } from "../src/store/meta_v2.ts";
import { ServeProcess, withTimeout } from "./support/serve_process.ts";
import { KUBECTL } from "./support/kubectl.ts";

const MB = 1024 * 1024;
const RSS_LIMIT = 200 * MB;
const PODS = Number(Deno.env.get("BIG_LIST_PODS") ?? 40_000);
const CONFIGMAPS = Number(Deno.env.get("BIG_LIST_CONFIGMAPS") ?? 1_000);
/** Pods of ~3 KB whose list (~31 MB) stays just under the 32 MiB limit of one answer. */
const WHOLE_PODS = 9_000;

/** Writes `count` objects made by `make` into a new database at `path`. */
function generate(path: string, count: number, make: (i: number) => Record<string, unknown>) {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode=WAL");
  db.exec(META_DDL);
  db.exec(META_V2_DDL);
  const insert = db.prepare(
    "INSERT INTO meta_v2 (key, groupversionresource, namespace, name, resourceversion, value) VALUES (?,?,?,?,?,?)",
  );
  db.exec("BEGIN");
  for (let i = 0; i < count; i++) {
    const r = rowForObject(make(i));
    insert.run(r.key, r.groupversionresource, r.namespace, r.name, r.resourceversion, r.value);
  }
  db.exec("COMMIT");
  db.close();
}

const POD_PADDING = "p".repeat(3000);

function pod(i: number): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `pod-${String(i).padStart(6, "0")}`,
      namespace: `ns-${i % 20}`,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      resourceVersion: String(i + 1),
      creationTimestamp: "2024-01-01T00:00:00Z",
      labels: { app: `app-${i % 10}` },
      annotations: { "big.test/padding": POD_PADDING },
    },
    spec: { nodeName: "edge-big-1", containers: [{ name: "main", image: "example/app:1" }] },
    status: { phase: "Running", podIP: `10.1.${(i >> 8) & 255}.${i & 255}` },
  };
}

const CM_VALUE = "c".repeat(MB - 512);

function configMap(i: number): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: `cm-${String(i).padStart(5, "0")}`,
      namespace: `ns-${i % 7}`,
      resourceVersion: String(i + 1),
      creationTimestamp: "2024-01-01T00:00:00Z",
    },
    data: { big: CM_VALUE },
  };
}

/**
 * Runs kubectl against `server`; stdout is counted, not kept: its lines, bytes, the lines
 * matching `match` and its first 4 KiB.
 */
async function kubectl(
  server: string,
  home: string,
  args: string[],
  match?: RegExp,
): Promise<
  { code: number; lines: number; matched: number; bytes: number; stderr: string; head: string }
> {
  const child = new Deno.Command(KUBECTL!, {
    args: ["--server", server, "--request-timeout=120s", ...args],
    env: { HOME: home, KUBECONFIG: "/dev/null", PATH: Deno.env.get("PATH") ?? "" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let lines = 0, bytes = 0, matched = 0;
  let head = "", partial = "";
  const decoder = new TextDecoder();
  const counting = (async () => {
    for await (const chunk of child.stdout) {
      bytes += chunk.length;
      if (head.length < 4096) head += new TextDecoder().decode(chunk.subarray(0, 4096));
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
      if (match) {
        const text = partial + decoder.decode(chunk, { stream: true });
        const cut = text.lastIndexOf("\n");
        for (const line of text.slice(0, cut + 1).split("\n")) if (match.test(line)) matched++;
        partial = text.slice(cut + 1);
      }
    }
  })();
  const stderr = new Response(child.stderr).text();
  const status = await withTimeout(child.status, 300_000, `kubectl ${args.join(" ")} hung`);
  await counting;
  return { code: status.code, lines, matched, bytes, stderr: await stderr, head };
}

/**
 * Opens a watch at `url` and reads its events until the one matching `last`: the count
 * of events before it, by type (the body is scanned, not kept).
 */
async function watchUntil(url: string, last: RegExp): Promise<Map<string, number>> {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal });
  assert.equal(res.status, 200, url);
  const types = new Map<string, number>();
  const decoder = new TextDecoder();
  let partial = "";
  try {
    for await (const chunk of res.body!) {
      const text = partial + decoder.decode(chunk, { stream: true });
      let start = 0;
      for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
        const line = text.slice(start, nl);
        start = nl + 1;
        if (last.test(line)) return types;
        const type = /^\{"type":"([A-Z]+)"/.exec(line)?.[1] ?? "?";
        types.set(type, (types.get(type) ?? 0) + 1);
      }
      partial = text.slice(start);
    }
    throw new Error(`the watch ended before ${last}: ${JSON.stringify([...types])}`);
  } finally {
    controller.abort();
  }
}

function peakRss(pid: number): number {
  const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return m ? Number(m[1]) * 1024 : 0;
}

Deno.test({
  name: `big lists: kubectl get pods -A (table, -o json) over ${PODS} pods; paging by the API`,
  ignore: KUBECTL === undefined,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "big-list-" });
    const db = `${dir}/e.db`;
    await Deno.mkdir(`${dir}/home`);
    generate(db, PODS, pod);
    const serve = await ServeProcess.start({ db, productFlags: true });
    try {
      let t = performance.now();
      const table = await kubectl(serve.baseUrl, `${dir}/home`, ["get", "pods", "-A"]);
      const tableSeconds = (performance.now() - t) / 1000;
      assert.equal(table.code, 0, table.stderr);
      assert.equal(table.lines, PODS + 1, "a header and one row per pod");
      assert.match(table.head, /^NAMESPACE\s+NAME\s+READY\s+STATUS/);
      t = performance.now();
      const json = await kubectl(
        serve.baseUrl,
        `${dir}/home`,
        ["get", "pods", "-A", "-o", "json"],
        /^\s+"name": "pod-\d{6}",$/,
      );
      const jsonSeconds = (performance.now() - t) / 1000;
      assert.equal(json.code, 0, json.stderr);
      assert.equal(json.matched, PODS, "every pod's metadata.name in the JSON list");
      assert.ok(json.bytes > PODS * 3000, `${json.bytes} bytes of JSON`);

      // The API itself: limit/continue, a malformed token, a list over the hard limit.
      const base = `${serve.baseUrl}/api/v1/pods`;
      const first = await (await fetch(`${base}?limit=2`)).json();
      assert.equal(first.items.length, 2);
      assert.equal(typeof first.metadata.continue, "string");
      const second = await (await fetch(
        `${base}?limit=2&continue=${encodeURIComponent(first.metadata.continue)}`,
      )).json();
      assert.equal(second.items.length, 2);
      assert.notEqual(second.items[0].metadata.name, first.items[1].metadata.name);
      assert.equal(second.metadata.resourceVersion, first.metadata.resourceVersion);
      const bad = await fetch(`${base}?limit=2&continue=not-a-token!`);
      assert.equal(bad.status, 400);
      assert.match(
        (await bad.json()).message,
        /^invalid continue token: continue key is not valid/,
      );
      const whole = await fetch(base);
      assert.equal(whole.status, 413);
      const s = await whole.json();
      assert.equal(s.reason, "RequestEntityTooLarge");
      assert.match(s.message, /exceeds the limit of \d+ bytes/);

      // A watch's initial events over every pod (client-go's watch-list), read in pages.
      t = performance.now();
      const initial = await withTimeout(
        watchUntil(
          `${base}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true` +
            `&resourceVersionMatch=NotOlderThan`,
          /^\{"type":"BOOKMARK".*"k8s.io\/initial-events-end":"true"/,
        ),
        300_000,
        "the initial events of the watch",
      );
      const watchSeconds = (performance.now() - t) / 1000;
      assert.deepEqual([...initial], [["ADDED", PODS]], "one ADDED per pod, then the bookmark");

      const peak = peakRss(serve.pid);
      const exit = await serve.stop();
      assert.equal(exit.code, 0, exit.stderr.slice(-2000));
      console.log(
        `big list: get pods -A over ${PODS} pods ${tableSeconds.toFixed(1)} s, -o json ` +
          `${jsonSeconds.toFixed(1)} s, watch initial events ${watchSeconds.toFixed(1)} s, ` +
          `serve peak RSS ${(peak / MB).toFixed(0)} MB`,
      );
      assert.ok(peak < RSS_LIMIT, `serve peak RSS ${(peak / MB).toFixed(0)} MB`);
    } finally {
      if (!serve.exited) await serve.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: `big lists: kubectl get cm -A over ${CONFIGMAPS} ConfigMaps of 1 MB`,
  ignore: KUBECTL === undefined,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "big-cm-" });
    const db = `${dir}/e.db`;
    await Deno.mkdir(`${dir}/home`);
    generate(db, CONFIGMAPS, configMap);
    const serve = await ServeProcess.start({ db, productFlags: true });
    try {
      const t = performance.now();
      const r = await kubectl(serve.baseUrl, `${dir}/home`, ["get", "cm", "-A"]);
      const seconds = (performance.now() - t) / 1000;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.lines, CONFIGMAPS + 1, "a header and one row per ConfigMap");
      const peak = peakRss(serve.pid);
      const exit = await serve.stop();
      assert.equal(exit.code, 0, exit.stderr.slice(-2000));
      console.log(
        `big list: get cm -A over ${CONFIGMAPS} ConfigMaps of 1 MB ${seconds.toFixed(1)} s, ` +
          `serve peak RSS ${(peak / MB).toFixed(0)} MB`,
      );
      assert.ok(peak < RSS_LIMIT, `serve peak RSS ${(peak / MB).toFixed(0)} MB`);
    } finally {
      if (!serve.exited) await serve.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    `big lists: one answer without limit just under the hard limit (${WHOLE_PODS} pods, ~31 MB of JSON) ` +
    `as JSON, Table (kubectl --chunk-size=0) and YAML, written as it goes`,
  ignore: KUBECTL === undefined,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "big-whole-" });
    const db = `${dir}/e.db`;
    await Deno.mkdir(`${dir}/home`);
    generate(db, WHOLE_PODS, pod);
    const serve = await ServeProcess.start({ db, productFlags: true });
    try {
      const table = await kubectl(serve.baseUrl, `${dir}/home`, [
        "get",
        "pods",
        "-A",
        "--chunk-size=0",
      ]);
      assert.equal(table.code, 0, table.stderr);
      assert.equal(table.lines, WHOLE_PODS + 1, "a header and one row per pod");
      const figures: string[] = [];
      for (
        const [accept, item] of [
          ["application/json", /"kind":"Pod"/g],
          ["application/yaml", /^ {6}name: pod-\d{6}$/gm],
        ] as const
      ) {
        const t = performance.now();
        const r = await fetch(`${serve.baseUrl}/api/v1/pods`, { headers: { accept } });
        assert.equal(r.status, 200, accept);
        assert.equal(r.headers.get("content-type"), accept);
        const body = await r.text();
        assert.equal(body.match(item)?.length, WHOLE_PODS, `${accept}: every pod`);
        if (accept === "application/json") assert.equal(JSON.parse(body).items.length, WHOLE_PODS);
        figures.push(`${accept} ${((performance.now() - t) / 1000).toFixed(1)} s`);
      }
      const peak = peakRss(serve.pid);
      const exit = await serve.stop();
      assert.equal(exit.code, 0, exit.stderr.slice(-2000));
      console.log(
        `big list without limit over ${WHOLE_PODS} pods: ${figures.join(", ")}, ` +
          `serve peak RSS ${(peak / MB).toFixed(0)} MB`,
      );
      assert.ok(peak < RSS_LIMIT, `serve peak RSS ${(peak / MB).toFixed(0)} MB`);
    } finally {
      if (!serve.exited) await serve.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
