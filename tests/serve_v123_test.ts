/**
 * serve on copies of the real v1.23 databases (the gorm one and the v1.10 file v1.23
 * migrated): the MetaServer answers every object the dump holds (a migrated file's old rows
 * included), and a cloud insert written through serve lands in the columns v1.23 itself
 * writes, leaving the schema as it was. Both modes run v1.23's process(): the bus module is
 * `metamanager` (local answers carry that source) and the insert is acknowledged.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { runCli, ServeProcess } from "./support/serve_process.ts";
import { isMessage, WsModule } from "./support/ws_module.ts";

const V123 = new URL("../fixtures/edgecore-db-v1.23/", import.meta.url);
const WAIT_MS = 15_000;

function schemaOf(path: string): string[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all() as {
        sql: string;
      }[]).map((r) => r.sql);
  } finally {
    db.close();
  }
}

function row(path: string, key: string): Record<string, unknown> | undefined {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const cols = db.prepare("SELECT name FROM pragma_table_info('meta_v2')").all().map((r) =>
      String(r.name)
    );
    const r = db.prepare(
      `SELECT ${cols.map((c) => `\`${c}\``).join(", ")} FROM meta_v2 WHERE key = ?`,
    )
      .get(key);
    return r === undefined ? undefined : { ...r };
  } finally {
    db.close();
  }
}

for (
  const [name, compat] of [
    ["edgecore.db", "fixed"],
    ["upgraded.db", "fixed"],
    ["edgecore.db", "strict"],
  ]
) {
  Deno.test(`serve --compat ${compat} on a copy of the v1.23 ${name}: MetaServer lists the dump's objects; v1.23's process(); writes keep v1.23's columns`, async () => {
    const dir = Deno.makeTempDirSync();
    const path = `${dir}/${name}`;
    Deno.copyFileSync(new URL(name, V123), path);
    Deno.chmodSync(path, 0o644);
    const before = schemaOf(path);
    const dump = JSON.parse(Deno.readTextFileSync(new URL(`${name}.json`, V123)));
    const dumpPods = (dump.meta_v2 as { key: string }[]).filter((r) =>
      r.key.startsWith("/core/v1/pods/")
    )
      .map((r) => r.key.split("/").slice(-2).join("/")).sort();
    const serve = await ServeProcess.start({ db: path, args: ["--compat", compat] });
    const modules: WsModule[] = [];
    try {
      const list = async () => {
        const res = await fetch(`http://${serve.address}/api/v1/pods`);
        assert.equal(res.status, 200);
        const body = await res.json();
        return (body.items as { metadata: { namespace: string; name: string } }[])
          .map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort();
      };
      assert.deepEqual(await list(), dumpPods, "every pod of the dump, old rows included");
      const cloud = await WsModule.connect(serve.address, "websocket", "hub", WAIT_MS);
      modules.push(cloud);
      const edged = await WsModule.connect(serve.address, "edged", "edged", WAIT_MS);
      modules.push(edged);
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: "round-trip",
          namespace: "default",
          resourceVersion: "99002",
          uid: "u-rt",
        },
      };
      cloud.send({
        header: { msg_id: "rt-1", timestamp: 1644300000000, resourceversion: "99002" },
        route: {
          source: "edgecontroller",
          group: "resource",
          operation: "insert",
          resource: "default/pod/round-trip",
        },
        content: pod,
      });
      await cloud.waitFor(isMessage("response", { parent: "rt-1" }), WAIT_MS, "OK ack");
      assert.deepEqual(await list(), [...dumpPods, "default/round-trip"].sort());
      // A local query from edged is answered by module `metamanager` (v1.10: metaManager).
      edged.send({
        header: { msg_id: "q-1", timestamp: 1644300000001 },
        route: {
          source: "edged",
          group: "meta",
          operation: "query",
          resource: "default/pod/round-trip",
        },
        content: null,
      });
      const answer = await edged.waitFor(
        isMessage("response", { parent: "q-1" }),
        WAIT_MS,
        "answer",
      );
      assert.equal(answer.route?.source, "metamanager");
      assert.equal(JSON.parse((answer.content as string[])[0]).metadata.uid, "u-rt");
    } finally {
      for (const m of modules) await m.close().catch(() => {});
      await serve.stop();
    }
    try {
      assert.deepEqual(schemaOf(path), before, "no table or column added or changed");
      const r = row(path, "/core/v1/pods/default/round-trip")!;
      assert.ok(r, "the object is in meta_v2");
      assert.equal(r.group_version_resource, "/v1, Resource=pods");
      assert.equal(r.resource_version, 99002);
      if (name === "upgraded.db") {
        // A row v1.23 inserts into a migrated file: the old columns keep their defaults.
        assert.equal(r.groupversionresource, "");
        assert.equal(r.resourceversion, 0);
      } else {
        assert.ok(!("groupversionresource" in r));
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

Deno.test("sync on a serve running as v1.23: strict refuses (v1.23 has no meta-internal-sync), fixed runs our forced sync from module metamanager", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/edgecore.db`;
  Deno.copyFileSync(new URL("edgecore.db", V123), path);
  Deno.chmodSync(path, 0o644);
  try {
    const strict = await ServeProcess.start({ db: path, args: ["--compat", "strict"] });
    try {
      const r = await runCli(["sync", "--server", `http://${strict.address}`]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        /answered 409 to POST \/v1\/sync\S*: Cannot sync \S+edgecore\.db as KubeEdge v1\.23 in strict mode: v1\.23 has no meta-internal-sync/,
      );
    } finally {
      await strict.stop();
    }
    // An orphaned podstatus row (its pod is gone) for the fixed sync to delete.
    const db = new DatabaseSync(path);
    db.prepare("INSERT INTO meta (key, type, value) VALUES (?, 'podstatus', ?)")
      .run("default/podstatus/gone", '{"phase":"Running"}');
    db.close();
    const fixed = await ServeProcess.start({ db: path, args: ["--compat", "fixed"] });
    try {
      const cloud = await WsModule.connect(fixed.address, "websocket", "hub", WAIT_MS);
      try {
        const r = await runCli(["sync", "--server", `http://${fixed.address}`]);
        assert.equal(r.code, 0, r.stderr);
        const events = r.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
        assert.ok(events.length > 0);
        for (const e of events) {
          assert.equal(e.message.route.source, "metamanager");
          assert.equal(e.message.route.operation, "update");
          assert.match(e.message.route.resource, /^[^/]+\/podstatus$/);
        }
        assert.match(r.stderr, /deleted 1 orphaned podstatus row\(s\): default\/podstatus\/gone/);
        const sent = await cloud.waitFor(isMessage("update"), WAIT_MS, "a sync update");
        assert.equal(sent.route?.source, "metamanager");
      } finally {
        await cloud.close();
      }
    } finally {
      await fixed.stop();
    }
    const after = new DatabaseSync(path, { readOnly: true });
    try {
      assert.equal(
        after.prepare("SELECT count(*) AS n FROM meta WHERE key = 'default/podstatus/gone'")
          .get()!.n,
        0,
      );
    } finally {
      after.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
