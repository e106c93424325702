/**
 * diff, check and backup as subprocesses on real database files: the KubeEdge fixture
 * and copies changed here, and a backup taken while another process commits or while a
 * running serve is being written to.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { PROJECT_DIR, runCli, ServeProcess } from "./support/serve_process.ts";
import { isMessage, WsModule } from "./support/ws_module.ts";

const FIXTURE = new URL("../fixtures/edgecore-db/edgecore.db", import.meta.url).pathname;
const FIXTURE_DUMP = new URL("../fixtures/edgecore-db/edgecore.db.json", import.meta.url).pathname;

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "edgecore-meta-tools-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("diff finds an added, a removed and a changed row with the changed field", async () => {
  await withTempDir(async (dir) => {
    const b = `${dir}/b.db`;
    await Deno.copyFile(FIXTURE, b);
    const db = new DatabaseSync(b);
    const key = "default/pod/redis-0";
    const pod = JSON.parse(
      (db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string }).value,
    );
    pod.metadata.labels = { ...pod.metadata.labels, tier: "db-changed" };
    db.prepare("UPDATE meta SET value = ? WHERE key = ?").run(JSON.stringify(pod), key);
    db.prepare("DELETE FROM meta WHERE key = ?").run("default/configmap/app-config");
    db.prepare("INSERT INTO meta (key, type, value) VALUES (?, 'configmap', '{}')")
      .run("default/configmap/added-one");
    db.close();

    const same = await runCli(["diff", FIXTURE, FIXTURE_DUMP]);
    assert.equal(same.code, 0, same.stderr);
    assert.equal(same.stdout, "");

    const r = await runCli(["diff", FIXTURE, b]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^meta: 1 added, 1 removed, 1 changed$/m);
    assert.match(r.stdout, /^\+ default\/configmap\/added-one$/m);
    assert.match(r.stdout, /^- default\/configmap\/app-config$/m);
    assert.match(
      r.stdout,
      /^~ default\/pod\/redis-0\n {4}\.metadata\.labels\.tier: "\S+" -> "db-changed"$/m,
    );
    assert.doesNotMatch(r.stdout, /^meta_v2:/m);

    const json = await runCli(["diff", FIXTURE_DUMP, b, "-o", "json"]);
    assert.equal(json.code, 1);
    const d = JSON.parse(json.stdout);
    assert.deepEqual(d.meta.added, ["default/configmap/added-one"]);
    assert.deepEqual(d.meta.changed[0].fields[0].path, ".metadata.labels.tier");
    assert.equal(d.meta.changed[0].fields[0].after, "db-changed");

    const bad = await runCli(["diff", FIXTURE, `${dir}/missing.json`]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /missing\.json/);
  });
});

Deno.test("check is clean on the fixture and reports a planted orphan and a missing twin", async () => {
  const clean = await runCli(["check", "--db", FIXTURE]);
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  await withTempDir(async (dir) => {
    const path = `${dir}/edgecore.db`;
    await Deno.copyFile(FIXTURE, path);
    const db = new DatabaseSync(path);
    db.prepare("INSERT INTO meta (key, type, value) VALUES (?, 'podstatus', '{}')")
      .run("default/podstatus/ghost");
    db.prepare("DELETE FROM meta_v2 WHERE key = ?").run("/core/v1/pods/default/redis-0");
    db.close();
    const r = await runCli(["check", path]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /^orphaned-podstatus: default\/podstatus\/ghost: no pod row default\/pod\/ghost$/m,
    );
    assert.match(r.stdout, /^meta-without-meta_v2: default\/pod\/redis-0: /m);
    assert.equal(r.stdout.trim().split("\n").length, 2);
    assert.match(r.stderr, /2 problem\(s\) found/);
  });
});

Deno.test("backup taken while another process commits is consistent and has every committed row", async () => {
  await withTempDir(async (dir) => {
    const src = `${dir}/live.db`;
    await Deno.copyFile(FIXTURE, src);
    const setup = new DatabaseSync(src);
    setup.exec("PRAGMA journal_mode = WAL");
    setup.close();
    // The writer commits one row per transaction and says so after each commit.
    const writer = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { DatabaseSync } from "node:sqlite";
         const db = new DatabaseSync(${JSON.stringify(src)});
         db.exec("PRAGMA journal_mode = WAL");
         const ins = db.prepare("INSERT INTO meta (key, type, value) VALUES (?, 'loadtest', ?)");
         for (let i = 0; i < 100000; i++) {
           ins.run("load/loadtest/cm-" + String(i).padStart(6, "0"), JSON.stringify({ i, pad: "x".repeat(500) }));
           if (i % 50 === 0) console.log(i);
         }`,
      ],
      cwd: PROJECT_DIR,
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = writer.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let acked = -1;
    let out = "";
    while (acked < 2000) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
      const lines = out.trim().split("\n");
      acked = Number(lines[lines.length - 1]);
    }
    try {
      const r = await runCli(["backup", "--db", src, `${dir}/copy.db`]);
      assert.equal(r.code, 0, r.stderr);
      const copy = new DatabaseSync(`${dir}/copy.db`, { readOnly: true });
      assert.equal(
        (copy.prepare("PRAGMA integrity_check").get() as { integrity_check: string })
          .integrity_check,
        "ok",
      );
      const rows = copy.prepare(
        "SELECT key FROM meta WHERE type = 'loadtest' ORDER BY key",
      )
        .all() as { key: string }[];
      copy.close();
      assert.ok(rows.length > acked, `${rows.length} rows, ${acked} committed before the backup`);
      // One snapshot: rows 0..n-1 with no gap.
      rows.forEach((r, i) => assert.equal(r.key, "load/loadtest/cm-" + String(i).padStart(6, "0")));
      const check = await runCli(["check", `${dir}/copy.db`]);
      assert.equal(check.code, 0, check.stdout);
      const again = await runCli(["backup", "--db", src, `${dir}/copy.db`]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /copy\.db: the file exists/);
    } finally {
      writer.kill("SIGKILL");
      await reader.cancel();
      await writer.status;
    }
  });
});

Deno.test("backup beside a running serve that is being written to: consistent, every acknowledged row", async () => {
  await withTempDir(async (dir) => {
    const src = `${dir}/edgecore.db`;
    await Deno.copyFile(FIXTURE, src);
    const serve = await ServeProcess.start({ db: src, create: false });
    const cloud = await WsModule.connect(serve.address, "websocket", "hub");
    const insert = (i: number) => {
      const name = `load-${String(i).padStart(6, "0")}`;
      return {
        header: { msg_id: name, timestamp: 1700000000000 + i },
        route: {
          source: "edgecontroller",
          group: "resource",
          operation: "insert",
          resource: `default/pod/${name}`,
        },
        content: {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name, namespace: "default", resourceVersion: String(i + 1), uid: name },
          spec: { nodeName: "edge-1", pad: "x".repeat(2000) },
        },
      };
    };
    // The cloud writes in windows of 20 until told to stop; `acked` counts acknowledgements.
    let acked = 0, sent = 0, writing = true;
    const writer = (async () => {
      while (writing) {
        for (let k = 0; k < 20; k++) cloud.send(insert(sent++));
        const last = `load-${String(sent - 1).padStart(6, "0")}`;
        await cloud.waitFor(isMessage("response", { parent: last }), 30_000, `ack of ${last}`);
        acked = sent;
      }
    })();
    try {
      while (acked < 400) await new Promise((r) => setTimeout(r, 20));
      const ackedBefore = acked;
      const r = await runCli(["backup", "--db", src, `${dir}/copy.db`]);
      const ackedAfter = acked;
      assert.equal(r.code, 0, r.stderr);
      assert.ok(ackedAfter > ackedBefore, "serve kept committing during the backup");
      const copy = new DatabaseSync(`${dir}/copy.db`, { readOnly: true });
      const integrity = copy.prepare("PRAGMA integrity_check").get() as {
        integrity_check: string;
      };
      const keys = (copy.prepare(
        "SELECT key FROM meta WHERE key LIKE 'default/pod/load-%' ORDER BY key",
      ).all() as { key: string }[]).map((k) => k.key);
      const twins = (copy.prepare(
        "SELECT count(*) AS n FROM meta_v2 WHERE key LIKE '/core/v1/pods/default/load-%'",
      ).get() as { n: number }).n;
      copy.close();
      assert.equal(integrity.integrity_check, "ok");
      // Every row acknowledged before the backup started is in it; the rows are a prefix
      // of what was sent (one snapshot, in commit order), each with its meta_v2 twin.
      assert.ok(keys.length >= ackedBefore, `${keys.length} rows, ${ackedBefore} acked before`);
      keys.forEach((k, i) => assert.equal(k, `default/pod/load-${String(i).padStart(6, "0")}`));
      assert.equal(twins, keys.length);
      const check = await runCli(["check", `${dir}/copy.db`]);
      assert.equal(check.code, 0, check.stdout + check.stderr);
    } finally {
      writing = false;
      await writer.catch(() => {});
      await cloud.close();
      const exit = await serve.stop();
      assert.equal(exit.code, 0, exit.stderr);
    }
  });
});
