/**
 * `edgecore-meta edit` as an operator uses it on real database files: delete or repair one
 * row with --db under the writer lock (refused beside a running serve), through a running
 * serve (committed by it, seen by MetaServer and its watchers), --dry-run changing nothing,
 * and every bad input refused with a message naming it and the file left as it was.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { runCli, ServeProcess, withTimeout } from "./support/serve_process.ts";

const FIXTURE = new URL("../fixtures/edgecore-db/edgecore.db", import.meta.url).pathname;

async function withCopy(fn: (db: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "edgecore-meta-edit-" });
  try {
    await Deno.copyFile(FIXTURE, `${dir}/edgecore.db`);
    await fn(`${dir}/edgecore.db`, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function rows(path: string): Map<string, string> {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const out = new Map<string, string>();
    for (const t of ["meta", "meta_v2"]) {
      for (
        const r of db.prepare(`SELECT key, value FROM ${t}`).all() as {
          key: string;
          value: string;
        }[]
      ) {
        out.set(`${t}:${r.key}`, r.value);
      }
    }
    return out;
  } finally {
    db.close();
  }
}

/** The rows of `after` that differ from `before` (added, removed or changed), by name. */
function changedRows(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k)).sort();
}

const sha = async (path: string) =>
  Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", Deno.readFileSync(path))))
    .map((b) => b.toString(16).padStart(2, "0")).join("");

Deno.test("edit --db deletes one meta or meta_v2 row and says what it deleted; nothing else changes", async () => {
  await withCopy(async (db) => {
    const before = rows(db);
    const dup = "default/pod/nginx-7d9c8b5f6d-q9w7z";
    const r = await runCli(["edit", "delete", dup, "--db", db]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `deleted meta row ${dup} (type pod)\n`);
    const v2 = "/core/v1/pods/default/nginx-7d9c8b5f6d-q9w7z";
    const r2 = await runCli(["--db", db, "edit", "delete", v2]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(r2.stdout, `deleted meta_v2 row ${v2} (resource /v1, Resource=pods)\n`);
    assert.deepEqual(changedRows(before, rows(db)), [`meta:${dup}`, `meta_v2:${v2}`]);
    // The file keeps its journal mode (header byte 18: 1 rollback journal, 2 WAL).
    assert.equal(Deno.readFileSync(db)[18], Deno.readFileSync(FIXTURE)[18]);
    const check = await runCli(["check", db]);
    assert.match(check.stdout, /orphaned-podstatus: default\/podstatus\/nginx-7d9c8b5f6d-q9w7z/);
  });
});

Deno.test("edit set repairs a value and lists the changed fields; meta_v2 columns follow the object", async () => {
  await withCopy(async (db, dir) => {
    const before = rows(db);
    const key = "default/podstatus/redis-0";
    const status = JSON.parse(before.get(`meta:${key}`)!);
    status.Status.phase = "Failed";
    Deno.writeTextFileSync(`${dir}/status.json`, JSON.stringify(status, null, 2) + "\n");
    const dry = await runCli(["edit", "set", key, `${dir}/status.json`, "--db", db, "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(
      dry.stdout,
      `would set meta row ${key} (type podstatus): 1 field(s) changed\n` +
        `    .Status.phase: "Running" -> "Failed"\n`,
    );
    assert.deepEqual(changedRows(before, rows(db)), [], "--dry-run changes nothing");
    const r = await runCli(["edit", "set", key, `${dir}/status.json`, "--db", db]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^set meta row default\/podstatus\/redis-0 \(type podstatus\): 1 field/);
    assert.deepEqual(changedRows(before, rows(db)), [`meta:${key}`]);
    assert.equal(JSON.parse(rows(db).get(`meta:${key}`)!).Status.phase, "Failed");

    const v2 = "/core/v1/pods/default/redis-0";
    const pod = JSON.parse(before.get(`meta_v2:${v2}`)!);
    pod.metadata.resourceVersion = "987654";
    pod.metadata.labels = { ...pod.metadata.labels, repaired: "yes" };
    Deno.writeTextFileSync(`${dir}/pod.json`, JSON.stringify(pod));
    const s = await runCli(["edit", "set", v2, "-", "--db", db], 30_000, JSON.stringify(pod));
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /\.metadata\.labels\.repaired: \(absent\) -> "yes"/);
    assert.match(s.stdout, /\.metadata\.resourceVersion: "\d+" -> "987654"/);
    const sq = new DatabaseSync(db, { readOnly: true });
    const row = sq.prepare("SELECT resourceversion AS rv FROM meta_v2 WHERE key = ?").get(v2) as {
      rv: number;
    };
    sq.close();
    assert.equal(row.rv, 987654, "resourceversion column recomputed from the object");
  });
});

Deno.test("edit refuses bad input with a message naming it, and leaves the file as it was", async () => {
  await withCopy(async (db, dir) => {
    const hash = await sha(db);
    Deno.writeTextFileSync(`${dir}/bad.json`, "{not json");
    const other = JSON.parse(rows(db).get("meta_v2:/core/v1/pods/default/redis-0")!);
    other.metadata.name = "someone-else";
    Deno.writeTextFileSync(`${dir}/other.json`, JSON.stringify(other));
    const cases: [string[], number, RegExp][] = [
      [
        ["edit", "delete", "default/pod/nope", "--db", db],
        1,
        /No meta row with key "default\/pod\/nope" in \S+edgecore\.db/,
      ],
      [["edit", "delete", "/core/v1/pods/default/nope", "--db", db], 1, /No meta_v2 row with key/],
      [
        ["edit", "set", "default/podstatus/redis-0", `${dir}/bad.json`, "--db", db],
        1,
        /Cannot set default\/podstatus\/redis-0: the new value is not JSON/,
      ],
      [
        ["edit", "set", "default/podstatus/redis-0", `${dir}/missing.json`, "--db", db],
        1,
        /Cannot read the new value from \S+missing\.json/,
      ],
      [
        ["edit", "set", "/core/v1/pods/default/redis-0", `${dir}/other.json`, "--db", db],
        1,
        /give key \/core\/v1\/pods\/default\/someone-else/,
      ],
      [["edit", "set", "default/podstatus/redis-0", "--db", db], 2, /edit set needs FILE/],
      [
        ["edit", "delete", "default/pod/redis-0", "extra", "--db", db],
        2,
        /edit delete takes no FILE/,
      ],
      [
        ["edit", "remove", "default/pod/redis-0", "--db", db],
        2,
        /'remove' is invalid for argument 'action'. Allowed choices are delete, set/,
      ],
      [
        ["edit", "delete", "default/pod/redis-0", "--db", `${dir}/absent.db`],
        1,
        /Cannot edit database \S+absent\.db: no such file/,
      ],
    ];
    for (const [args, code, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(" "));
      assert.equal(r.stdout, "");
    }
    assert.equal(await sha(db), hash, "the database file is unchanged");
    assert.throws(() => Deno.statSync(`${dir}/absent.db`), Deno.errors.NotFound);
  });
});

Deno.test("edit beside a running serve: --db refuses (one writer); without --db serve makes the change, watchers see it", async () => {
  await withCopy(async (db) => {
    const serve = await ServeProcess.start({ db, create: false });
    const base = `http://${serve.address}`;
    const watch = await fetch(`${base}/api/v1/namespaces/default/pods?watch=true`);
    assert.equal(watch.status, 200);
    const reader = watch.body!.pipeThrough(new TextDecoderStream()).getReader();
    try {
      const key = "/core/v1/pods/default/nginx-7d9c8b5f6d-q9w7z";
      const locked = await runCli(["edit", "delete", key, "--db", db]);
      assert.equal(locked.code, 1, locked.stderr);
      assert.match(
        locked.stderr,
        /in use by edgecore-meta serve \(pid \d+\): run edit without --db/,
      );

      const dry = await runCli(["edit", "delete", key, "--server", serve.address, "--dry-run"]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.equal(dry.stdout, `would delete meta_v2 row ${key} (resource /v1, Resource=pods)\n`);
      const get = `${base}/api/v1/namespaces/default/pods/nginx-7d9c8b5f6d-q9w7z`;
      assert.equal((await fetch(get).then(async (r) => (await r.body?.cancel(), r))).status, 200);

      const r = await runCli(["edit", "delete", key, "--server", serve.address]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `deleted meta_v2 row ${key} (resource /v1, Resource=pods)\n`);
      assert.equal((await fetch(get).then(async (r) => (await r.body?.cancel(), r))).status, 404);
      let seen = "";
      await withTimeout(
        (async () => {
          while (!/"type":"DELETED".*nginx-7d9c8b5f6d-q9w7z/.test(seen)) {
            const { value, done } = await reader.read();
            if (done) break;
            seen += value;
          }
        })(),
        10_000,
        "no DELETED watch event",
      );
      assert.match(seen, /"type":"DELETED"/);

      const missing = await runCli(["edit", "delete", key, "--server", serve.address]);
      assert.equal(missing.code, 1);
      assert.match(
        missing.stderr,
        /No meta_v2 row with key "\/core\/v1\/pods\/default\/nginx-7d9c8b5f6d-q9w7z"/,
      );
    } finally {
      await reader.cancel().catch(() => {});
      const exit = await serve.stop();
      assert.equal(exit.code, 0, exit.stderr);
    }
    const after = rows(db);
    assert.ok(!after.has("meta_v2:/core/v1/pods/default/nginx-7d9c8b5f6d-q9w7z"), "committed");
    assert.ok(after.has("meta:default/pod/nginx-7d9c8b5f6d-q9w7z"));
  });
});

Deno.test("edit without --db and no serve running names the address and the alternatives", async () => {
  const r = await runCli(["edit", "delete", "default/pod/x", "--server", "127.0.0.1:1"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Cannot reach a running serve at 127\.0\.0\.1:1 .*--db PATH/);
});

Deno.test("edit set through a serve on a unix socket: the request body arrives, the change is made", async () => {
  await withCopy(async (db, dir) => {
    const sock = `${dir}/meta.sock`;
    const serve = await ServeProcess.start({ db, create: false, listen: `unix:${sock}` });
    try {
      const key = "default/podstatus/redis-0";
      const status = JSON.parse(rows(db).get(`meta:${key}`)!);
      status.Status.phase = "Unknown";
      Deno.writeTextFileSync(`${dir}/status.json`, JSON.stringify(status));
      const r = await runCli([
        "edit",
        "set",
        key,
        `${dir}/status.json`,
        "--server",
        `unix:${sock}`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout,
        `set meta row ${key} (type podstatus): 1 field(s) changed\n` +
          `    .Status.phase: "Running" -> "Unknown"\n`,
      );
      const bad = await runCli([
        "edit",
        "set",
        "default/pod/none",
        `${dir}/status.json`,
        "--server",
        `unix:${sock}`,
      ]);
      assert.equal(bad.code, 1);
      assert.match(
        bad.stderr,
        /answered 404 to POST \/v1\/rows: No meta row with key "default\/pod\/none"/,
      );
    } finally {
      const exit = await serve.stop();
      assert.equal(exit.code, 0, exit.stderr);
    }
    assert.equal(
      JSON.parse(rows(db).get("meta:default/podstatus/redis-0")!).Status.phase,
      "Unknown",
    );
  });
});
