/**
 * Round trips through a real `serve` (cloud and edged peers over WebSocket) into copies of
 * the real KubeEdge databases, checked against what KubeEdge itself writes (spec/v1.23.md
 * §5.4, the reference files in fixtures/edgecore-db-v1.23): the whole `sqlite_master` and
 * every column of every `meta` and `meta_v2` row, under their real names.
 *
 * - the v1.23 (gorm) `edgecore.db` and `upgraded.db` (a v1.10 file v1.23 migrated): an old
 *   v1.10 row rewritten, a new row inserted, an old row deleted; nothing else changes;
 * - `serve --kubeedge 1.23` on the v1.10 `edgecore.db`: migrated at start as v1.23 does,
 *   then `upgrade.journal.ndjson` through serve leaves exactly `upgraded.columns.json`;
 * - serve as v1.10 on a v1.10 file adds no gorm column, and as v1.10 on a v1.23 file no
 *   beego column.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { ServeProcess } from "./support/serve_process.ts";
import { isMessage, WsModule } from "./support/ws_module.ts";
import { KUBECTL, Kubectl } from "./support/kubectl.ts";

const V123 = new URL("../fixtures/edgecore-db-v1.23/", import.meta.url);
const V110 = new URL("../fixtures/edgecore-db/", import.meta.url);
const WAIT_MS = 15_000;

type Row = Record<string, string | number | null>;
interface ColumnsDump {
  meta: Row[];
  meta_columns: string[];
  meta_v2: Row[];
  meta_v2_columns: string[];
}

const byKey = (a: Row, b: Row) => (String(a.key) < String(b.key) ? -1 : 1);
const sortedRow = (r: Record<string, unknown>): Row =>
  Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1))) as Row;

/** Every column of both tables under its real name, as upgraded.columns.json lists them. */
function columnsDump(path: string): ColumnsDump {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const out: Record<string, unknown> = {};
    for (const t of ["meta", "meta_v2"]) {
      out[`${t}_columns`] = db.prepare(`SELECT name FROM pragma_table_info('${t}')`).all()
        .map((r) => String(r.name));
      out[t] = db.prepare(`SELECT * FROM \`${t}\` ORDER BY CAST(key AS BLOB)`).all()
        .map((r) => sortedRow(r));
    }
    return out as unknown as ColumnsDump;
  } finally {
    db.close();
  }
}

/** The whole sqlite_master (tables and indexes), by name. */
function masterOf(path: string, tables?: string[]): string[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare(
      "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name",
    ).all() as { type: string; name: string; tbl_name: string; sql: string | null }[])
      .filter((r) => tables === undefined || tables.includes(r.tbl_name))
      .map((r) => `${r.type} ${r.name} ${r.tbl_name}: ${r.sql}`);
  } finally {
    db.close();
  }
}

/**
 * Go's `json.Marshal` of the generic value the websocket transport decodes (map keys sorted,
 * `<`, `>`, `&`, U+2028 and U+2029 escaped), written here independently of the product.
 */
function goMarshal(v: unknown): string {
  const sort = (x: unknown): unknown =>
    Array.isArray(x) ? x.map(sort) : x !== null && typeof x === "object"
      ? Object.fromEntries(
        Object.keys(x).sort().map((k) => [k, sort((x as Record<string, unknown>)[k])]),
      )
      : x;
  return JSON.stringify(sort(v)).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** `actual` equals `expected` (columns and rows), each row compared on its own, named by key. */
function assertSameColumns(actual: ColumnsDump, expected: ColumnsDump): void {
  for (const t of ["meta", "meta_v2"] as const) {
    assert.deepEqual(actual[`${t}_columns`], expected[`${t}_columns`], `${t}'s columns`);
    assert.deepEqual(actual[t].map((r) => r.key), expected[t].map((r) => r.key), `${t}'s keys`);
    actual[t].forEach((r, i) => assert.deepEqual(r, expected[t][i], `${t} row ${r.key}`));
  }
}

function copyFixture(dir: string, from: URL, name: string): string {
  const path = `${dir}/${name}`;
  Deno.copyFileSync(new URL(name, from), path);
  Deno.chmodSync(path, 0o644);
  return path;
}

/**
 * A cloud message as EdgeHub hands it on: serve's bridge takes a frame's content as its
 * bytes (as v1.23's QUIC transport does, spec/v1.23.md §6), so the peer playing EdgeHub sends
 * the content as edgecore's default websocket transport delivers it, re-marshalled by Go.
 */
function edgeHubFrame(m: { header: unknown; route: unknown; content: unknown }): string {
  return `{"header":${JSON.stringify(m.header)},"route":${JSON.stringify(m.route)},"content":${
    goMarshal(m.content)
  }}`;
}

/** A cloud message from edgecontroller, sent and acknowledged (OK with parent = its id). */
async function cloudSend(
  cloud: WsModule,
  id: string,
  operation: string,
  resource: string,
  content: unknown,
): Promise<void> {
  cloud.send(edgeHubFrame({
    header: { msg_id: id, timestamp: 1790000000000 },
    route: { source: "edgecontroller", group: "resource", operation, resource },
    content,
  }));
  const ack = await cloud.waitFor(isMessage("response", { parent: id }), WAIT_MS, `ack of ${id}`);
  assert.equal(ack.content, "OK", `${id} acknowledged`);
}

/** meta's key for a meta_v2 key `/core/v1/<resource>s/<ns>/<name>` of a core object. */
const metaValueOf = (dump: ColumnsDump, key: string) =>
  JSON.parse(String(dump.meta.find((r) => r.key === key)!.value));

for (const name of ["upgraded.db", "edgecore.db"]) {
  for (const compat of ["strict", "fixed"]) {
    Deno.test(`round trip through serve --compat ${compat} into a copy of the v1.23 ${name}: a v1.10 row rewritten, a row inserted and one deleted land in v1.23's columns; schema unchanged`, async () => {
      const dir = Deno.makeTempDirSync({ prefix: "v123-roundtrip-" });
      const path = copyFixture(dir, V123, name);
      const masterBefore = masterOf(path);
      const before = columnsDump(path);
      const migrated = name === "upgraded.db";
      if (migrated) {
        // The copy is what v1.23 left (the reference), before we write to it.
        assert.deepEqual(
          before,
          JSON.parse(Deno.readTextFileSync(new URL("upgraded.columns.json", V123))),
        );
      }
      // An old row: in upgraded.db one v1.10 wrote and v1.23 never rewrote (NULL in the
      // v1.23 columns); a secret to delete; a new pod.
      const cmKey = "/core/v1/configmaps/default/kube-root-ca.crt";
      const oldV2 = before.meta_v2.find((r) => r.key === cmKey)!;
      assert.ok(oldV2, cmKey);
      if (migrated) {
        assert.equal(oldV2.group_version_resource, null, "not rewritten by v1.23 yet");
        assert.equal(oldV2.resource_version, null);
        assert.equal(oldV2.groupversionresource, "/v1, Resource=configmaps");
      }
      const cm = metaValueOf(before, "default/configmap/kube-root-ca.crt");
      cm.metadata.resourceVersion = "30100";
      cm.data["ca.crt"] = "-----BEGIN CERTIFICATE-----\n<rotated & renewed>\n";
      const secret = metaValueOf(before, "default/secret/registry-auth");
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: "roundtrip-0",
          namespace: "default",
          resourceVersion: "30101",
          uid: "8e1f3c2a-0d4b-4f6e-9a7c-5b2d1e0f3a4c",
        },
        spec: { nodeName: "edge-node-1" },
        status: { phase: "Pending" },
      };
      const serve = await ServeProcess.start({ db: path, args: ["--compat", compat] });
      const cloud = await WsModule.connect(serve.address, "websocket", "hub", WAIT_MS);
      try {
        await cloudSend(cloud, "rt-1", "update", "default/configmap/kube-root-ca.crt", cm);
        await cloudSend(cloud, "rt-2", "insert", "default/pod/roundtrip-0", pod);
        await cloudSend(cloud, "rt-3", "delete", "default/secret/registry-auth", secret);
        if (compat === "fixed") {
          // The MetaServer serves the rewritten object from its v1.23 columns.
          const res = await fetch(
            `http://${serve.address}/api/v1/namespaces/default/configmaps/kube-root-ca.crt`,
          );
          assert.equal(res.status, 200);
          assert.deepEqual(await res.json(), JSON.parse(goMarshal(cm)));
        }
      } finally {
        await cloud.close().catch(() => {});
        await serve.stop();
      }
      try {
        assert.deepEqual(masterOf(path), masterBefore, "sqlite_master unchanged");
        // What v1.23 writes (spec §5.4; upgraded.columns.json shows each case): meta upserted;
        // meta_v2 upserted in the five v1.23 columns only, the v1.10 ones left stale on a
        // rewritten row and at their defaults '' and 0 on a new one; deletes remove both rows.
        const cmText = goMarshal(cm);
        const expected: ColumnsDump = structuredClone(before);
        expected.meta = expected.meta.filter((r) => r.key !== "default/secret/registry-auth")
          .map((r) => r.key === "default/configmap/kube-root-ca.crt" ? { ...r, value: cmText } : r);
        expected.meta.push(
          sortedRow({ key: "default/pod/roundtrip-0", type: "pod", value: goMarshal(pod) }),
        );
        expected.meta.sort(byKey);
        const v123 = (gvr: string, rv: number) => ({
          group_version_resource: gvr,
          resource_version: rv,
        });
        expected.meta_v2 = expected.meta_v2
          .filter((r) => r.key !== "/core/v1/secrets/default/registry-auth")
          .map((r) =>
            r.key === cmKey
              ? sortedRow({
                ...r,
                ...v123("/v1, Resource=configmaps", 30100),
                value: cmText + "\n",
              })
              : r
          );
        expected.meta_v2.push(sortedRow({
          key: "/core/v1/pods/default/roundtrip-0",
          namespace: "default",
          name: "roundtrip-0",
          value: goMarshal(pod) + "\n",
          ...v123("/v1, Resource=pods", 30101),
          ...(migrated ? { groupversionresource: "", resourceversion: 0 } : {}),
        }));
        expected.meta_v2.sort(byKey);
        const after = columnsDump(path);
        assert.deepEqual(after.meta_columns, before.meta_columns);
        assert.deepEqual(
          after.meta_v2_columns,
          migrated
            ? [
              "key",
              "groupversionresource",
              "namespace",
              "name",
              "resourceversion",
              "value",
              "group_version_resource",
              "resource_version",
            ]
            : ["key", "group_version_resource", "namespace", "name", "resource_version", "value"],
        );
        assertSameColumns(after, expected);
        if (migrated) {
          // The rewritten row now has both column sets filled, as v1.23's rewritten rows in
          // upgraded.columns.json (e.g. mqtt-config): v1.10's stale, v1.23's current.
          const r = after.meta_v2.find((x) => x.key === cmKey)!;
          assert.equal(r.resourceversion, 20054);
          assert.equal(r.resource_version, 30100);
        }
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    });
  }
}

for (const compat of ["strict", "fixed"]) {
  Deno.test(`serve --kubeedge 1.23 --compat ${compat} on a copy of the v1.10 edgecore.db migrates it at start; upgrade.journal through serve leaves exactly upgraded.db's schema text and every column of upgraded.columns.json`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "v123-upgrade-serve-" });
    const path = copyFixture(dir, V110, "edgecore.db");
    const others = masterOf(path).filter((l) => !/ (meta|meta_v2): /.test(l));
    const journal = Deno.readTextFileSync(new URL("upgrade.journal.ndjson", V123)).split("\n")
      .filter((l) => l !== "").map((l) => JSON.parse(l));
    const serve = await ServeProcess.start({
      db: path,
      args: ["--kubeedge", "1.23", "--compat", compat],
    });
    const modules: WsModule[] = [];
    try {
      const cloud = await WsModule.connect(serve.address, "websocket", "hub", WAIT_MS);
      modules.push(cloud);
      const edged = await WsModule.connect(serve.address, "edged", "edged", WAIT_MS);
      modules.push(edged);
      // Lines 1-8 from edgecontroller (each OK-acked to the cloud), line 9 edged's podstatus
      // update (forwarded to the cloud, OK to edged); the queries of lines 10-11 write nothing.
      for (const m of journal.slice(0, 9)) {
        const id = m.header.msg_id;
        if (m.route.source === "edged") {
          edged.send(m);
          await edged.waitFor(isMessage("response", { parent: id }), WAIT_MS, `OK of ${id}`);
          await cloud.waitFor((f) => f.header?.msg_id === id, WAIT_MS, `${id} forwarded`);
        } else {
          cloud.send(edgeHubFrame(m));
          await cloud.waitFor(isMessage("response", { parent: id }), WAIT_MS, `ack of ${id}`);
        }
      }
    } finally {
      for (const m of modules) await m.close().catch(() => {});
      await serve.stop();
    }
    try {
      assert.deepEqual(
        masterOf(path, ["meta", "meta_v2"]),
        masterOf(new URL("upgraded.db", V123).pathname, ["meta", "meta_v2"]),
        "meta and meta_v2 as v1.23's AutoMigrate leaves them",
      );
      assert.deepEqual(
        masterOf(path).filter((l) => !/ (meta|meta_v2): /.test(l)),
        others,
        "the device tables (DeviceTwin's, not run here) are left alone",
      );
      assertSameColumns(
        columnsDump(path),
        JSON.parse(Deno.readTextFileSync(new URL("upgraded.columns.json", V123))),
      );
      if (compat === "fixed" && KUBECTL !== undefined) {
        // Served again (now detected as v1.23): kubectl lists the old rows (read through the
        // v1.10 columns), the rewritten and the new ones, each with its current value.
        const again = await ServeProcess.start({ db: path, args: ["--compat", "fixed"] });
        try {
          const kubectl = new Kubectl(`http://${again.address}`, `${dir}/home`);
          const list = JSON.parse(await kubectl.ok("get", "pods", "-A", "-o", "json"));
          const ref = JSON.parse(Deno.readTextFileSync(new URL("upgraded.columns.json", V123)))
            .meta_v2 as Row[];
          const pods = ref.filter((r) => String(r.key).startsWith("/core/v1/pods/"));
          assert.deepEqual(
            (list.items as { metadata: { namespace: string; name: string } }[])
              .map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort(),
            pods.map((r) => `${r.namespace}/${r.name}`).sort(),
          );
          for (const item of list.items as { metadata: { name: string } }[]) {
            const r = pods.find((p) => p.name === item.metadata.name)!;
            assert.deepEqual(item, JSON.parse(String(r.value)), String(r.key));
          }
        } finally {
          await again.stop();
        }
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

for (
  const [label, from, name, args, columns] of [
    [
      "serve as v1.10 (detected) on a copy of the v1.10 edgecore.db",
      V110,
      "edgecore.db",
      [],
      ["key", "groupversionresource", "namespace", "name", "resourceversion", "value"],
    ],
    [
      "serve --kubeedge 1.10 on a copy of the v1.23 edgecore.db",
      V123,
      "edgecore.db",
      ["--kubeedge", "1.10"],
      ["key", "group_version_resource", "namespace", "name", "resource_version", "value"],
    ],
  ] as const
) {
  Deno.test(`${label}: writes through serve add no column of the other release, land in the file's own columns`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "release-columns-" });
    const path = copyFixture(dir, from, name);
    const masterBefore = masterOf(path);
    const before = columnsDump(path);
    assert.deepEqual(before.meta_v2_columns, columns);
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "keep-shape", namespace: "default", resourceVersion: "40001", uid: "ks" },
    };
    const cm = metaValueOf(before, "default/configmap/kube-root-ca.crt");
    cm.metadata.resourceVersion = "40002";
    const serve = await ServeProcess.start({ db: path, args: ["--compat", "fixed", ...args] });
    const cloud = await WsModule.connect(serve.address, "websocket", "hub", WAIT_MS);
    try {
      await cloudSend(cloud, "ks-1", "insert", "default/pod/keep-shape", pod);
      await cloudSend(cloud, "ks-2", "update", "default/configmap/kube-root-ca.crt", cm);
      await cloudSend(
        cloud,
        "ks-3",
        "delete",
        "default/secret/registry-auth",
        metaValueOf(before, "default/secret/registry-auth"),
      );
    } finally {
      await cloud.close().catch(() => {});
      await serve.stop();
    }
    try {
      assert.deepEqual(masterOf(path), masterBefore, "sqlite_master unchanged");
      const after = columnsDump(path);
      assert.deepEqual(after.meta_v2_columns, columns);
      const [gvr, rv] = [columns[1], columns[4]];
      const row = (key: string) => after.meta_v2.find((r) => r.key === key);
      assert.deepEqual(row("/core/v1/pods/default/keep-shape"), {
        key: "/core/v1/pods/default/keep-shape",
        [gvr]: "/v1, Resource=pods",
        namespace: "default",
        name: "keep-shape",
        [rv]: 40001,
        value: goMarshal(pod) + "\n",
      });
      assert.equal(row("/core/v1/configmaps/default/kube-root-ca.crt")![rv], 40002);
      assert.equal(row("/core/v1/secrets/default/registry-auth"), undefined);
      assert.equal(after.meta.length, before.meta.length, "one row in, one out");
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}
