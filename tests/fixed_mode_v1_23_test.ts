/**
 * `--compat fixed` as KubeEdge v1.23 (spec/v1.23.md; src/metamanager/compat.ts): v1.23.1
 * without its data bugs, each shown beside strict mode on real files, a real serve and the
 * real bus.
 *
 * - atomic meta/meta_v2 writes: a failed `meta` write leaves `meta_v2` as it was (strict
 *   v1.23 keeps what Inject wrote: quirk nonAtomicWrites, §3.1 step 2 / §10 quirk 8);
 * - acknowledgement only after commit: when the cloud receives an OK, both rows are in the
 *   file;
 * - quirk remoteErrorParentIsFreshId: the error reply of a failed remote request reaches the
 *   requester waiting with SendSync on its own id (strict: parent = the fresh id, dropped).
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { MessageBus, SYNC_ERRORS_V1_23 } from "../src/beehive/bus.ts";
import { parseMessage } from "../src/beehive/wire.ts";
import type { CompatMode } from "../src/metamanager/compat.ts";
import { MetaManager } from "../src/metamanager/process.ts";
import { Store } from "../src/store/store.ts";
import { ServeProcess } from "./support/serve_process.ts";
import { isMessage, type WireFrame, WsModule } from "./support/ws_module.ts";

const V123 = new URL("../fixtures/edgecore-db-v1.23/", import.meta.url);
const WAIT_MS = 20_000;

function copyFixture(dir: string): string {
  const path = `${dir}/edgecore.db`;
  Deno.copyFileSync(new URL("edgecore.db", V123), path);
  Deno.chmodSync(path, 0o644);
  return path;
}

function pod(name: string, resourceVersion: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", resourceVersion, uid: `uid-${name}` },
    spec: { nodeName: "edge-node-1" },
  };
}

function cloudMessage(id: string, operation: string, name: string, rv: string): unknown {
  return {
    header: { msg_id: id, timestamp: 1790000000000 },
    route: {
      source: "edgecontroller",
      group: "resource",
      operation,
      resource: `default/pod/${name}`,
    },
    content: pod(name, rv),
  };
}

function metaV2Revision(path: string, name: string): number | undefined {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const r = db.prepare("SELECT resource_version AS rv FROM meta_v2 WHERE key = ?")
      .get(`/core/v1/pods/default/${name}`) as { rv: number } | undefined;
    return r?.rv;
  } finally {
    db.close();
  }
}

const EXISTING = "nginx-7d9c8b5f6d-x2k4p";

for (const compat of ["strict", "fixed"] as const) {
  Deno.test(
    `serve --compat ${compat} as v1.23, a meta write fails: ${
      compat === "fixed" ? "meta_v2 is left as it was" : "meta_v2 keeps what Inject wrote"
    }; the cloud gets v1.23's error reply`,
    async () => {
      const dir = Deno.makeTempDirSync({ prefix: "v123-atomic-" });
      const path = copyFixture(dir);
      const before = metaV2Revision(path, EXISTING);
      assert.equal(typeof before, "number");
      // The disk refuses these two rows of meta (an insert and a rewrite of a stored pod).
      const db = new DatabaseSync(path);
      db.exec(
        `CREATE TRIGGER boom BEFORE INSERT ON meta WHEN NEW.key IN ('default/pod/boom', 'default/pod/${EXISTING}') BEGIN SELECT RAISE(ABORT, 'disk I/O error simulated'); END;`,
      );
      db.close();
      const serve = await ServeProcess.start({ db: path, args: ["--compat", compat] });
      const cloud = await WsModule.connect(serve.address, "websocket", "hub", WAIT_MS);
      try {
        cloud.send(cloudMessage("boom-1", "insert", "boom", "50001"));
        cloud.send(cloudMessage("boom-2", "update", EXISTING, "50002"));
        cloud.send(cloudMessage("fine-3", "insert", "fine", "50003"));
        for (const id of ["boom-1", "boom-2"]) {
          const e = await cloud.waitFor(
            isMessage("error", { parent: id }),
            WAIT_MS,
            `error of ${id}`,
          );
          assert.match(
            String(e.content),
            /^insert or update meta failed, .*disk I\/O error simulated/,
            "v1.23's text (§7)",
          );
          assert.equal(e.route?.source, "metamanager");
        }
        const ok = await cloud.waitFor(isMessage("response", { parent: "fine-3" }), WAIT_MS, "OK");
        assert.equal(ok.content, "OK");
        assert.equal(
          cloud.frames.filter((f) => f.route?.operation === "response").length,
          1,
          "no OK for the failed writes",
        );
      } finally {
        await cloud.close().catch(() => {});
        await serve.stop();
      }
      try {
        assert.equal(metaV2Revision(path, "fine"), 50003);
        if (compat === "fixed") {
          assert.equal(
            metaV2Revision(path, "boom"),
            undefined,
            "no meta_v2 row without its meta row",
          );
          assert.equal(metaV2Revision(path, EXISTING), before, "the stored object unchanged");
        } else {
          assert.equal(metaV2Revision(path, "boom"), 50001, "upstream: Inject is not undone");
          assert.equal(metaV2Revision(path, EXISTING), 50002);
        }
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    },
  );
}

Deno.test("serve --compat fixed as v1.23: a burst of 400 cloud inserts without waiting, each OK arrives only once its meta and meta_v2 rows are in the file", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "v123-ack-" });
  const path = copyFixture(dir);
  const serve = await ServeProcess.start({ db: path, args: ["--compat", "fixed"] });
  const cloud = await WsModule.connect(serve.address, "websocket", "hub", WAIT_MS);
  const reader = new DatabaseSync(path, { readOnly: true });
  const meta = reader.prepare("SELECT count(*) AS n FROM meta WHERE key = ?");
  const metaV2 = reader.prepare("SELECT count(*) AS n FROM meta_v2 WHERE key = ?");
  const early: string[] = [];
  const acked = new Set<string>();
  const n = 400;
  try {
    cloud.onFrame((f: WireFrame) => {
      if (f.route?.operation !== "response") return;
      // Checked the moment the OK arrives, before anything else runs in this process.
      const name = `burst-${String(f.header?.parent_msg_id).slice("b-".length)}`;
      const inMeta = (meta.get(`default/pod/${name}`) as { n: number }).n;
      const inV2 = (metaV2.get(`/core/v1/pods/default/${name}`) as { n: number }).n;
      if (inMeta !== 1 || inV2 !== 1) early.push(`${name}: meta ${inMeta}, meta_v2 ${inV2}`);
      acked.add(name);
    });
    for (let i = 0; i < n; i++) {
      cloud.send(cloudMessage(`b-${i}`, "insert", `burst-${i}`, `${60000 + i}`));
    }
    const deadline = Date.now() + 60_000;
    while (acked.size < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(acked.size, n, "every insert acknowledged");
    assert.deepEqual(early, [], "no OK before its rows were committed");
  } finally {
    reader.close();
    await cloud.close().catch(() => {});
    await serve.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});

for (const compat of ["strict", "fixed"] as const) {
  Deno.test(
    `v1.23 ${compat} on the real bus: a remote query the cloud leaves unanswered ${
      compat === "fixed"
        ? "answers edged's SendSync waiter with the error (parent = the request's id)"
        : "leaves edged's SendSync waiter to time out (the error's parent is the fresh id)"
    }`,
    async () => {
      const store = Store.open(":memory:", { release: "1.23" });
      const bus = new MessageBus({ syncErrors: SYNC_ERRORS_V1_23 });
      bus.addModule("metamanager", "meta");
      bus.addModule("edged", "edged");
      bus.addModule("websocket", "hub");
      const tasks: Promise<void>[] = [];
      const mm = new MetaManager({
        store,
        bus,
        mode: compat as CompatMode,
        connected: true,
        remoteQueryTimeout: 1,
        spawn: (t) => tasks.push(t),
      });
      try {
        const query = parseMessage(JSON.stringify({
          header: { msg_id: "edged-q-1", timestamp: 1790000000000 },
          route: {
            source: "edged",
            group: "meta",
            operation: "query",
            resource: "default/configmap/app-config",
          },
          content: null,
        }));
        // edged asks as upstream's metaclient does: SendSync, waiting on its own id.
        const waiting = bus.sendSync("metamanager", query, 3_000);
        waiting.catch(() => {});
        const received = await bus.receive("metamanager");
        const r = mm.handle(received);
        if (r) await r;
        const asked = await bus.receive("websocket");
        assert.equal(asked.route.operation, "query");
        assert.notEqual(asked.header.msgId, "edged-q-1");
        await Promise.all(tasks);
        const text =
          `failed to process remote: timeout to get response for message ${asked.header.msgId}`;
        if (compat === "fixed") {
          const reply = await waiting;
          assert.equal(reply.header.parentMsgId, "edged-q-1");
          assert.equal(reply.route.operation, "error");
          assert.equal(reply.route.source, "metamanager");
          assert.equal(reply.content.value(), text);
        } else {
          await assert.rejects(waiting, {
            message: "timeout to get response for message edged-q-1",
          });
          // Its parent is the fresh id, whose SendSync (the MetaManager's own) already ended.
          const stats = bus.stats();
          assert.equal(stats.lateReplies, 1, "the error reply went to the fresh id's ended wait");
          assert.equal(stats.replies, 0, "nobody received it");
        }
      } finally {
        store.close();
      }
    },
  );
}
