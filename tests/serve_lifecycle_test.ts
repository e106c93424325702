/**
 * serve's start and stop on a real node (issue 16): a second Ctrl-C never cuts the shutdown
 * short, the database belongs to whoever named it, one writer at a time, and start-up
 * failures name what failed without touching the file. Real processes and files throughout.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Store } from "../src/store/store.ts";
import { runCli, ServeProcess, withTimeout } from "./support/serve_process.ts";
import { onPath } from "./support/on_path.ts";
import { isMessage, WsModule } from "./support/ws_module.ts";
import { cloudWrite } from "./support/crash.ts";
import { OPCODE, RawWebSocket } from "./support/raw_http.ts";

function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "edgecore-meta-lifecycle-" });
}

/** A database as KubeEdge leaves it: edgecore's tables, rollback-journal mode. */
function rollbackJournalDb(path: string): void {
  const store = Store.open(path, { journalMode: "DELETE" });
  store.close();
  assert.equal(new Uint8Array(Deno.readFileSync(path))[18], 1, "fixture in rollback mode");
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("serve: SIGINT twice in a row stops cleanly, exit 0, the database file alone complete", async () => {
  const dir = tempDir();
  const db = `${dir}/edgecore.db`;
  const serve = await ServeProcess.start({ db });
  const res = await fetch(`http://${serve.address}/readyz`);
  await res.body?.cancel();
  serve.signal("SIGINT");
  await serve.waitForLog(/shutting down signal=SIGINT/);
  serve.signal("SIGINT"); // the second Ctrl-C, while the shutdown runs
  const exit = await serve.stop("SIGINT");
  assert.equal(exit.code, 0, exit.stderr);
  // Unless serve had already finished (it stops in milliseconds), the signal was logged.
  if (!/INFO stopped[^\n]*\n[^]*$/.test(exit.stderr.split("shutting down")[0])) {
    assert.ok(exit.stderr.split("\n").filter((l) => /shutting down signal/.test(l)).length === 1);
  }
  assert.match(exit.stderr, /\bINFO stopped\b/);
  // The -wal is folded into the file: a copy of edgecore.db alone has every table.
  assert.ok(!exists(`${db}-wal`) || Deno.statSync(`${db}-wal`).size === 0, "no WAL left");
  Deno.copyFileSync(db, `${dir}/copy.db`);
  const copy = new DatabaseSync(`${dir}/copy.db`, { readOnly: true });
  const tables = copy.prepare("SELECT name FROM sqlite_master WHERE type='table'").all()
    .map((r) => String(r.name));
  copy.close();
  assert.ok(tables.includes("meta") && tables.includes("meta_v2"), tables.join(","));
  Deno.removeSync(dir, { recursive: true });
});

/** The `meta` keys in a copy of the database file alone (no -wal, no -shm beside it). */
function keysOfFileAlone(db: string, dir: string): Set<string> {
  const copy = `${dir}/alone/edgecore.db`;
  Deno.mkdirSync(`${dir}/alone`, { recursive: true });
  Deno.copyFileSync(db, copy);
  const sqlite = new DatabaseSync(copy, { readOnly: true });
  try {
    const check = sqlite.prepare("PRAGMA integrity_check").get() as Record<string, unknown>;
    assert.equal(Object.values(check)[0], "ok", "integrity of the file alone");
    return new Set(
      sqlite.prepare("SELECT key FROM meta").all().map((r) => String(r.key)),
    );
  } finally {
    sqlite.close();
  }
}

/**
 * A terminal's Ctrl-C, twice, to serve started by `how` (deno task start, or the README's
 * `npx -y deno@2.9.6 task start`) after 100 acknowledged inserts: exit 0, `stopped` logged,
 * no -wal/-shm left, every acknowledged row in the database file alone.
 */
async function ctrlCTwice(how: true | "npx"): Promise<void> {
  const dir = tempDir();
  const db = `${dir}/edgecore.db`;
  const serve = await ServeProcess.start({ db, taskStart: how, startTimeoutMs: 60_000 });
  let cloud: WsModule | undefined;
  try {
    cloud = await WsModule.connect(serve.address, "websocket", "hub", 10_000);
    const n = 100;
    for (let i = 0; i < n; i++) {
      cloud.send(
        cloudWrite(
          `g-${i}`,
          "insert",
          { type: "pod", namespace: "default", name: `g-${i}` },
          i + 1,
        ),
      );
    }
    await cloud.waitFor(isMessage("response", { parent: `g-${n - 1}` }), 10_000, "acks");
    const acked = cloud.frames.filter((f) => /^g-/.test(f.header?.parent_msg_id ?? ""))
      .map((f) => f.header!.parent_msg_id!);
    assert.equal(acked.length, n);
    // A terminal's Ctrl-C: deno task and serve both get SIGINT (and deno task passes it on).
    serve.signalGroup("SIGINT");
    await serve.waitForLog(/shutting down signal=SIGINT/);
    serve.signalGroup("SIGINT"); // Ctrl-C again, while the shutdown runs
    const exit = await withTimeout(
      (async () => {
        while (!serve.exited) await new Promise((r) => setTimeout(r, 20));
        return await serve.kill(); // already exited: resolves with its status
      })(),
      20_000,
      `${how === "npx" ? "npx ... task start" : "deno task start"} did not exit after SIGINT`,
    );
    assert.equal(exit.code, 0, exit.stderr);
    assert.equal(exit.signal, null, exit.stderr);
    assert.match(exit.stderr, /\bINFO stopped\b/);
    assert.equal(exit.stderr.match(/INFO shutting down signal=/g)?.length, 1, exit.stderr);
    assert.match(exit.stderr, /signal ignored, shutdown in progress signal=SIGINT/);
    for (const suffix of ["-wal", "-shm"]) {
      const size = exists(`${db}${suffix}`) ? Deno.statSync(`${db}${suffix}`).size : 0;
      assert.equal(size, 0, `${db}${suffix} is empty or gone`);
    }
    const keys = keysOfFileAlone(db, dir);
    for (const id of acked) assert.ok(keys.has(`default/pod/${id}`), `${id} in the file alone`);
  } finally {
    await cloud?.close().catch(() => {});
    await serve.kill();
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("serve: Ctrl-C of `deno task start` (SIGINT to the process group, twice): exit 0, every acked row in the file alone", async () => {
  await ctrlCTwice(true);
});

// The README's quick start word for word: npx, the npm package's launcher, deno task and serve
// all get the terminal's SIGINT (the original report: exit 130 and a 4 KB file through npx).
Deno.test({
  name:
    "serve: Ctrl-C of the README's `npx -y deno@2.9.6 task start`, twice: exit 0, every acked row in the file alone",
  ignore: onPath("npx") === undefined,
  fn: () => ctrlCTwice("npx"),
});

Deno.test("serve: a missing directory is an error naming it, and nothing is created", async () => {
  const dir = tempDir();
  const db = `${dir}/no/such/dir/edgecore.db`;
  const r = await runCli(["serve", "--db", db, "--listen", "127.0.0.1:0"]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`directory ${dir}/no/such/dir does not exist`));
  assert.ok(!exists(`${dir}/no`), "no directory created");
  const missing = await runCli(["serve", "--db", `${dir}/x.db`, "--listen", "127.0.0.1:0"]);
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /does not exist \(pass --create/);
  assert.ok(!exists(`${dir}/x.db`));
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("serve: port in use names the address and leaves the database file as it was", async () => {
  const dir = tempDir();
  const db = `${dir}/edgecore.db`;
  rollbackJournalDb(db);
  const before = Deno.readFileSync(db);
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  try {
    const r = await runCli(["serve", "--db", db, "--listen", `127.0.0.1:${port}`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${port}: .*in use`, "i"));
  } finally {
    taken.close();
  }
  assert.deepEqual(Deno.readFileSync(db), before, "file bytes unchanged");
  assert.ok(!exists(`${db}-wal`) && !exists(`${db}-shm`));
  // A unix socket path that is a regular file, and a journal that is a directory.
  Deno.writeTextFileSync(`${dir}/plain`, "x");
  const sock = await runCli(["serve", "--db", db, "--listen", `unix:${dir}/plain`]);
  assert.equal(sock.code, 1, sock.stderr);
  assert.match(sock.stderr, new RegExp(`Cannot listen on unix:${dir}/plain: .*not a socket`));
  assert.deepEqual(Deno.readFileSync(db), before, "file bytes unchanged (socket path)");
  const journal = await runCli([
    "serve",
    "--db",
    db,
    "--listen",
    "127.0.0.1:0",
    "--journal",
    dir,
  ]);
  assert.equal(journal.code, 1, journal.stderr);
  assert.match(journal.stderr, new RegExp(`Cannot open journal ${dir}: .*directory`, "i"));
  assert.deepEqual(Deno.readFileSync(db), before, "file bytes unchanged (journal)");
  assert.ok(!exists(`${db}-wal`) && !exists(`${db}-shm`));
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("serve: a rollback-journal database is WAL only while serve runs, restored on stop", async () => {
  const dir = tempDir();
  const db = `${dir}/edgecore.db`;
  rollbackJournalDb(db);
  const serve = await ServeProcess.start({ db, create: false });
  assert.equal(new Uint8Array(Deno.readFileSync(db))[18], 2, "WAL while serving");
  const exit = await serve.stop("SIGTERM");
  assert.equal(exit.code, 0, exit.stderr);
  assert.match(exit.stderr, /rollback-journal mode restored on stop/);
  assert.equal(new Uint8Array(Deno.readFileSync(db))[18], 1, "rollback journal again");
  assert.ok(!exists(`${db}-wal`));
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("serve: one writer: a second serve and sync --db refuse at once, readers go on", async () => {
  const dir = tempDir();
  const db = `${dir}/edgecore.db`;
  const serve = await ServeProcess.start({ db });
  try {
    const pid = serve.pid;
    const second = await runCli(["serve", "--db", db, "--listen", "127.0.0.1:0"]);
    assert.equal(second.code, 1, second.stderr);
    assert.match(
      second.stderr,
      /Database .*edgecore\.db is in use by edgecore-meta serve \(pid \d+\)/,
    );
    assert.match(second.stderr, new RegExp(`pid ${pid}\\)`));
    const sync = await runCli(["sync", "--db", db]);
    assert.equal(sync.code, 1, sync.stderr);
    assert.match(sync.stderr, /is in use by edgecore-meta serve \(pid \d+\)/);
    const dry = await runCli(["sync", "--db", db, "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    const inspect = await runCli(["inspect", "--db", db]);
    assert.equal(inspect.code, 0, inspect.stderr);
  } finally {
    await serve.stop();
  }
  // Once serve stopped, sync --db writes again.
  const after = await runCli(["sync", "--db", db]);
  assert.equal(after.code, 0, after.stderr);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("sync --db on a missing file is an error and creates nothing", async () => {
  const dir = tempDir();
  const r = await runCli(["sync", "--db", `${dir}/missing.db`]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Cannot sync database .*missing\.db: /);
  assert.ok(!exists(`${dir}/missing.db`));
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("serve: past --shutdown-timeout serve exits 1 naming what was still pending, acked rows kept", async () => {
  const dir = tempDir();
  const db = `${dir}/edgecore.db`;
  const serve = await ServeProcess.start({ db, args: ["--shutdown-timeout", "1"] });
  let cloud: RawWebSocket | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  try {
    // A raw client: it never answers serve's Close frame (a browser-like WebSocket would).
    const port = Number(serve.address.slice(serve.address.lastIndexOf(":") + 1));
    cloud = await RawWebSocket.connect(port, "/v1/modules/websocket?group=hub");
    const peer = cloud;
    const isAck = (id: string) => (f: { text: string }) =>
      f.text.includes(`"parent_msg_id":"${id}"`);
    await peer.send(
      OPCODE.text,
      JSON.stringify(
        cloudWrite("first", "insert", { type: "pod", namespace: "default", name: "first" }, 1),
      ),
    );
    await peer.waitFor(isAck("first"), 0, 10_000, "ack first");
    // A peer that never stops sending and never answers a close: the shutdown cannot finish.
    let seq = 1;
    timer = setInterval(() => {
      seq++;
      peer.send(
        OPCODE.text,
        JSON.stringify(cloudWrite(
          `k-${seq}`,
          "insert",
          { type: "pod", namespace: "default", name: `k-${seq}` },
          seq,
        )),
      ).catch(() => {/* cut by serve */});
    }, 20);
    await new Promise((r) => setTimeout(r, 200));
    const started = performance.now();
    const exit = await serve.stop("SIGTERM", 20_000);
    const tookMs = performance.now() - started;
    assert.equal(exit.code, 1, exit.stderr);
    assert.match(
      exit.stderr,
      /ERROR shutdown did not finish in time; exiting deadline_s=1 pending="?closing handshake with websocket/,
    );
    assert.doesNotMatch(exit.stderr, /INFO stopped\b/);
    assert.ok(tookMs < 8_000, `exited at the 1 s deadline, not later (${Math.round(tookMs)} ms)`);
    clearInterval(timer);
    assert.ok(
      peer.frames.some((f) => f.opcode === OPCODE.close),
      "serve sent the peer a Close frame",
    );
    const acked = peer.frames.map((f) => /"parent_msg_id":"((?:first|k-)[^"]*)"/.exec(f.text)?.[1])
      .filter((id) => id !== undefined);
    const sqlite = new DatabaseSync(db, { readOnly: true });
    const keys = new Set(
      sqlite.prepare("SELECT key FROM meta").all().map((r) => String(r.key)),
    );
    sqlite.close();
    assert.ok(acked.length > 1, `acked ${acked.length}`);
    for (const id of acked) assert.ok(keys.has(`default/pod/${id}`), `acked ${id} committed`);
  } finally {
    clearInterval(timer);
    await cloud?.close().catch(() => {});
    await serve.kill();
    Deno.removeSync(dir, { recursive: true });
  }
});

/**
 * Another process (a real edgecore, here a node:sqlite connection in its own process) holds
 * an exclusive SQLite lock on `db` until the returned function is called.
 */
async function holdSqliteLock(db: string): Promise<() => Promise<void>> {
  const holder = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { DatabaseSync } from "node:sqlite";
      const d = new DatabaseSync(${JSON.stringify(db)});
      d.exec("BEGIN EXCLUSIVE");
      console.log("locked");
      for await (const _ of Deno.stdin.readable) { /* until stdin closes */ }
      d.exec("ROLLBACK");`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = holder.stdout.getReader();
  const first = await reader.read();
  assert.match(new TextDecoder().decode(first.value), /locked/);
  reader.releaseLock();
  return async () => {
    await holder.stdin.close();
    await holder.stdout.cancel();
    await holder.status;
  };
}

Deno.test("another process's SQLite lock: serve and sync --db wait the busy timeout, then say who", async () => {
  const dir = tempDir();
  const db = `${dir}/edgecore.db`;
  rollbackJournalDb(db);
  const config = `${dir}/config.yaml`;
  Deno.writeTextFileSync(config, "edgecoreMeta:\n  busyTimeoutMs: 800\n");
  const before = Deno.readFileSync(db);
  const release = await holdSqliteLock(db);
  try {
    const busy = new RegExp(
      `another process is writing ${db.replace(/[.]/g, "\\.")} \\(is edgecore running\\?\\)`,
    );
    for (const args of [["serve", "--listen", "127.0.0.1:0"], ["sync"]]) {
      const started = performance.now();
      const r = await runCli(["--config", config, ...args, "--db", db]);
      const tookMs = performance.now() - started;
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, busy, args[0]);
      assert.doesNotMatch(r.stderr, /database is locked/);
      assert.ok(tookMs >= 800, `${args[0]} waited the busy timeout (${Math.round(tookMs)} ms)`);
    }
  } finally {
    await release();
  }
  assert.deepEqual(Deno.readFileSync(db), before, "file bytes unchanged");
  // Once the lock is gone sync --db writes, and leaves the file in rollback-journal mode.
  const after = await runCli(["sync", "--db", db]);
  assert.equal(after.code, 0, after.stderr);
  assert.equal(new Uint8Array(Deno.readFileSync(db))[18], 1, "still rollback journal");
  assert.ok(!exists(`${db}-wal`));
  Deno.removeSync(dir, { recursive: true });
});
