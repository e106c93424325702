/**
 * End to end: the real `kubectl` against the MetaServer of a real `serve` process, filled
 * by a WebSocket client acting as the cloud (`websocket`/`hub`) with the insert, update
 * and delete messages of fixtures/journals/crud.ndjson and rand-1.ndjson. Assertions are
 * on kubectl's own output, checked against `meta_v2` (read-only) and against what the
 * journals say. Skipped when `kubectl` is not on PATH.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { parse as parseYaml } from "yaml";
import {
  cloudMessages,
  feed,
  type JournalMessage,
  KUBECTL,
  Kubectl,
  WAIT_MS,
} from "./support/kubectl.ts";
import { ServeProcess, withTimeout } from "./support/serve_process.ts";
import { WsModule } from "./support/ws_module.ts";
import { scaled } from "./support/time_scale.ts";

/** Decoded JSON in assertions. */
// deno-lint-ignore no-explicit-any
type Json = any;

// ------------------------------------------------------------------ journal messages

/** A pod message of our own (watch scenario). */
function podMessage(
  id: string,
  operation: string,
  namespace: string,
  name: string,
  rv: number,
  content = true,
): JournalMessage {
  const obj = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace,
      resourceVersion: String(rv),
      creationTimestamp: "2024-01-01T00:00:00Z",
      labels: { app: name },
    },
    spec: { nodeName: "edge-node-1", containers: [{ name: "c", image: "busybox" }] },
    status: { phase: "Running" },
  };
  const msg = {
    header: { msg_id: id, timestamp: 1700000000000 + rv },
    route: {
      source: "edgecontroller",
      group: "resource",
      operation,
      resource: `${namespace}/pod/${name}`,
    },
    content: content ? obj : null,
  };
  return { line: JSON.stringify(msg), id, operation, content: msg.content };
}

/**
 * The pod watch events the messages should cause, with Kubernetes semantics: a write of a
 * pod that exists is MODIFIED, else ADDED; a delete of one that exists is DELETED, else
 * nothing; a delete without an object changes nothing; lists act per item.
 */
function expectedPodEvents(existing: Set<string>, messages: JournalMessage[]): string[] {
  const events: string[] = [];
  for (const m of messages) {
    const c = m.content as Record<string, unknown> | null;
    if (c === null || typeof c !== "object" || typeof c.kind !== "string") continue;
    const objects = Array.isArray(c.items) ? c.items : [c];
    for (const o of objects as Record<string, Json>[]) {
      if (o?.kind !== "Pod" || o.apiVersion !== "v1") continue;
      const key = `${o.metadata?.namespace ?? ""} ${o.metadata?.name ?? ""}`;
      if (m.operation === "delete") {
        if (existing.delete(key)) events.push(`DELETED ${key}`);
      } else {
        events.push(`${existing.has(key) ? "MODIFIED" : "ADDED"} ${key}`);
        existing.add(key);
      }
    }
  }
  return events;
}

// ------------------------------------------------------------------ store oracle

interface StoredObject {
  namespace: string;
  name: string;
  object: Record<string, Json>;
}

/** The objects stored under `gvr`, read from the database file (read-only). */
function stored(db: string, gvr: string): StoredObject[] {
  const conn = new DatabaseSync(db, { readOnly: true });
  try {
    const rows = conn.prepare(
      "SELECT namespace, name, value FROM meta_v2 WHERE groupversionresource = ?",
    ).all(gvr) as { namespace: string; name: string; value: string }[];
    return rows.map((r) => ({ namespace: r.namespace, name: r.name, object: JSON.parse(r.value) }))
      .sort((a, b) => `${a.namespace} ${a.name}`.localeCompare(`${b.namespace} ${b.name}`));
  } finally {
    conn.close();
  }
}

function keys(objects: StoredObject[]): string[] {
  return objects.map((o) => `${o.namespace} ${o.name}`).sort();
}

// ------------------------------------------------------------------ kubectl

/** Rows of kubectl's table output (header dropped), split on whitespace. */
function tableRows(stdout: string): string[][] {
  return stdout.split("\n").filter((l) => l.trim() !== "").slice(1).map((l) =>
    l.trim().split(/\s+/)
  );
}

// ------------------------------------------------------------------ the test

Deno.test({
  name: "kubectl against the MetaServer of a running serve",
  ignore: KUBECTL === undefined,
  sanitizeResources: false, // child processes' pipes are awaited explicitly
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "metaserver-kubectl-" });
    const db = `${dir}/e.db`;
    await Deno.mkdir(`${dir}/home`);
    const serve = await ServeProcess.start({ db, args: ["--log-level", "debug"] });
    let hub: WsModule | undefined;
    try {
      hub = await WsModule.connect(serve.address, "websocket", "hub", WAIT_MS);
      const kubectl = new Kubectl(serve.baseUrl, `${dir}/home`);
      await feed(hub, cloudMessages("crud.ndjson"));

      await t.step(
        "get pods -w shows live inserts, updates and deletes in commit order",
        async () => {
          const existing = new Set(keys(stored(db, "/v1, Resource=pods")));
          const watch = kubectl.spawn("get", "pods", "-A", "-w", "--output-watch-events");
          try {
            // header + one ADDED line per existing pod, then the watch is running
            const initial = await watch.waitForLines(1 + existing.size);
            assert.deepEqual(
              initial.slice(1).map((l) => l.split(/\s+/).slice(0, 3).join(" ")).sort(),
              [...existing].map((k) => `ADDED ${k}`).sort(),
            );
            const live: JournalMessage[] = [
              ...cloudMessages("rand-1.ndjson"),
              podMessage("w-1", "insert", "watch-demo", "w-1", 20001),
              podMessage("w-2", "insert", "watch-demo", "w-2", 20002),
              podMessage("w-3", "update", "watch-demo", "w-1", 20003),
              podMessage("w-4", "delete", "default", "nginx-deploy-7d9c8b5f6d-abcde", 20004),
              podMessage("w-5", "delete", "watch-demo", "w-2", 20005),
              podMessage("w-6", "delete", "watch-demo", "w-1", 20006, false), // no object: no event
              podMessage("w-7", "update", "kube-system", "redis-6d07ef7b7-4k7sm", 20007),
              podMessage("w-8", "insert", "watch-demo", "w-1", 20008), // existing key: MODIFIED
              podMessage("w-9", "delete", "watch-demo", "gone", 20009), // never existed: nothing
            ];
            const expected = expectedPodEvents(new Set(existing), live);
            assert.ok(expected.length > 40, `rand-1 changes many pods (${expected.length})`);
            await feed(hub!, live);
            const lines = await watch.waitForLines(1 + existing.size + expected.length);
            await new Promise((r) => setTimeout(r, 500)); // nothing more may follow
            const events = watch.lines.slice(1 + existing.size)
              .map((l) => l.split(/\s+/).slice(0, 3).join(" "));
            assert.deepEqual(events, expected, `kubectl printed:\n${lines.join("\n")}`);
            assert.deepEqual(events.slice(-7), [
              "ADDED watch-demo w-1",
              "ADDED watch-demo w-2",
              "MODIFIED watch-demo w-1",
              "DELETED default nginx-deploy-7d9c8b5f6d-abcde",
              "DELETED watch-demo w-2",
              "MODIFIED kube-system redis-6d07ef7b7-4k7sm",
              "MODIFIED watch-demo w-1",
            ]);
          } finally {
            await watch.stop();
          }
          await serve.waitForLog(/metaserver watch closed .*reason="client went away" watches=0/);
        },
      );

      await t.step("get pods -A lists every stored pod", async () => {
        const out = await kubectl.ok("get", "pods", "-A");
        assert.match(out.split("\n")[0], /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE/);
        const rows = tableRows(out).map((r) => `${r[0]} ${r[1]}`).sort();
        assert.deepEqual(rows, keys(stored(db, "/v1, Resource=pods")));
        assert.ok(rows.includes("watch-demo w-1"));
        assert.ok(rows.includes("edge-apps api-d0e873a00-b2wbq"));
        assert.ok(!rows.includes("kube-system coredns-6d8c4cb4d-xk2lp"), "deleted by crud #28");
        assert.ok(!rows.includes("default nginx-deploy-7d9c8b5f6d-abcde"), "deleted live");
        const labelled = tableRows(await kubectl.ok("get", "pods", "-A", "-l", "app=w-1"));
        assert.deepEqual(labelled.map((r) => `${r[0]} ${r[1]}`), ["watch-demo w-1"]);
        const onNode = tableRows(
          await kubectl.ok(
            "get",
            "pods",
            "-n",
            "watch-demo",
            "--field-selector",
            "spec.nodeName=edge-node-1",
          ),
        );
        assert.deepEqual(onNode.map((r) => r[0]), ["w-1"]);
      });

      await t.step("get configmaps -n default -o json returns the stored objects", async () => {
        const list = JSON.parse(
          await kubectl.ok("get", "configmaps", "-n", "default", "-o", "json"),
        );
        assert.equal(list.kind, "List"); // kubectl's own wrapper for -o json
        const want = stored(db, "/v1, Resource=configmaps").filter((o) =>
          o.namespace === "default"
        );
        assert.deepEqual(
          list.items.map((i: Json) => i.metadata.name),
          ["app-config", "mqtt-config", "new-config", "sensor-map"],
        );
        assert.deepEqual(list.items, want.map((o) => o.object));
        assert.equal(list.items[0].metadata.resourceVersion, "10425", "rand-1 #185");
      });

      await t.step("get pod NAME -n NS -o yaml returns the stored object", async () => {
        const pod = parseYaml(
          await kubectl.ok(
            "get",
            "pod",
            "redis-6d07ef7b7-4k7sm",
            "-n",
            "kube-system",
            "-o",
            "yaml",
          ),
        );
        const want = stored(db, "/v1, Resource=pods")
          .find((o) => o.namespace === "kube-system" && o.name === "redis-6d07ef7b7-4k7sm")!;
        assert.deepEqual(pod, want.object);
        assert.equal(pod.metadata.resourceVersion, "20007");
        const missing = await kubectl.run("get", "pod", "nope", "-n", "default");
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /Error from server \(NotFound\): pods "nope" not found/);
      });

      await t.step("get nodes and get services -A", async () => {
        const nodes = tableRows(await kubectl.ok("get", "nodes"));
        assert.deepEqual(nodes.map((r) => r[0]), ["edge-node-1"]);
        assert.deepEqual(nodes.map((r) => ` ${r[0]}`), keys(stored(db, "/v1, Resource=nodes")));
        const services = tableRows(await kubectl.ok("get", "services", "-A"))
          .map((r) => `${r[0]} ${r[1]}`);
        assert.deepEqual(services, [
          "default api",
          "default nginx",
          "edge-apps nginx",
          "edge-apps redis",
          "kube-system api",
          "kube-system mqtt",
          "kube-system redis",
        ]);
        assert.deepEqual(services, keys(stored(db, "/v1, Resource=services")));
        const ep = tableRows(await kubectl.ok("get", "ep", "-n", "default"));
        assert.deepEqual(
          ep.map((r) => ` default ${r[0]}`.trim()),
          keys(stored(db, "/v1, Resource=endpoints")).filter((k) => k.startsWith("default ")),
        );
      });

      await t.step(
        "discovery: api-resources, short names, get all; writes need a cloud that answers",
        async () => {
          const resources = await kubectl.ok("api-resources", "--no-headers");
          assert.match(resources, /^pods\s+po\s+v1\s+true\s+Pod$/m);
          assert.match(resources, /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
          const all = await kubectl.ok("get", "all", "-n", "kube-system");
          assert.match(all, /^pod\/redis-6d07ef7b7-4k7sm\s/m);
          assert.match(all, /^service\/mqtt\s/m);
          // this cloud never answers applications: after its first unanswered read the write
          // fails at once (fixed mode) instead of waiting 10 s for the cloud
          const started = performance.now();
          const del = await kubectl.run("delete", "pod", "w-1", "-n", "watch-demo");
          assert.notEqual(del.code, 0);
          assert.match(del.stderr, /ServiceUnavailable|dynamicController/, del.stderr);
          assert.ok(performance.now() - started < 5000, "not held for the 10 s timeout");
          assert.equal(
            stored(db, "/v1, Resource=pods").filter((o) => o.name === "w-1").length,
            1,
            "nothing deleted",
          );
        },
      );

      await t.step("shutdown ends open watches: serve exits 0, kubectl -w exits", async () => {
        const opened = () =>
          serve.stderr.split("\n").filter((l) =>
            /metaserver watch opened .*namespace=watch-demo/.test(l)
          ).length;
        const before = opened();
        const watch = kubectl.spawn("get", "pods", "-n", "watch-demo", "-w");
        await watch.waitForLines(2);
        // kubectl prints the list, then opens its watch: shut down once the watch is open
        // (else serve may stop before it arrives, and there is no watch to end).
        const deadline = Date.now() + scaled(10_000);
        while (opened() === before && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.ok(opened() > before, "kubectl's watch reached serve");
        await hub!.close();
        hub = undefined;
        const started = Date.now();
        const exit = await serve.stop("SIGTERM", 15_000);
        assert.equal(exit.code, 0, exit.stderr);
        assert.ok(
          Date.now() - started < scaled(10_000),
          "the open watch does not hold up shutdown",
        );
        assert.match(exit.stderr, /metaserver watch closed .*reason="shutting down"/);
        const status = await withTimeout(watch.done, 10_000, "kubectl -w did not exit");
        assert.equal(status.code, 0);
      });
    } finally {
      await hub?.close().catch(() => {});
      await serve.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
