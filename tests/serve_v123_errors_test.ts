/**
 * What a client sees when the cloud does not answer, through a real serve with a cloud peer
 * that never replies: beehive's SendSync texts are the release's (v1.23.1 quotes the
 * request's id: `timeout to get response for message <id>`, spec/v1.23.md §6-§7; v1.10 does
 * not), in the MetaServer's cloud applications (`failed to access cloud Application center:
 * …`, upstream `agent.go: doApply`) and in v1.23's remote requests
 * (`failed to process remote: …`). The parent of a failed remote request's error reply is
 * the fresh id in strict v1.23 (quirk remoteErrorParentIsFreshId) and the request's own id in
 * fixed mode.
 */

import assert from "node:assert/strict";
import { ServeProcess } from "./support/serve_process.ts";
import { isMessage, type WireFrame, WsModule } from "./support/ws_module.ts";

const V123 = new URL("../fixtures/edgecore-db-v1.23/", import.meta.url);
/** Longer than upstream's 10 s application timeout. */
const WAIT_MS = 30_000;

function copyFixture(dir: string): string {
  const path = `${dir}/edgecore.db`;
  Deno.copyFileSync(new URL("edgecore.db", V123), path);
  Deno.chmodSync(path, 0o644);
  return path;
}

const isApplication = (verb: string) => (f: WireFrame) =>
  f.route?.source === "metaserver" && f.route?.group === "dynamiccontroller" &&
  typeof f.content === "object" && (f.content as { Verb?: string })?.Verb === verb;

for (
  const [release, timeoutText] of [
    ["1.23", (id: string) => `timeout to get response for message ${id}`],
    ["1.10", (_id: string) => "timeout to get response"],
  ] as const
) {
  Deno.test(`strict serve as v${release}, the cloud silent: a MetaServer write fails and a read falls back with upstream's reason in v${release}'s words`, async () => {
    const dir = Deno.makeTempDirSync({ prefix: "v123-errors-" });
    const path = copyFixture(dir);
    const serve = await ServeProcess.start({
      db: path,
      args: ["--kubeedge", release, "--compat", "strict"],
    });
    try {
      const cloud = await WsModule.connect(serve.address, "websocket", "hub", WAIT_MS);
      try {
        const base = `http://${serve.address}/api/v1/namespaces/default/configmaps`;
        const [write, read] = await Promise.all([
          fetch(base, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              apiVersion: "v1",
              kind: "ConfigMap",
              metadata: { name: "asked-of-the-cloud", namespace: "default" },
            }),
          }),
          fetch(`${base}/app-config`),
        ]);
        const created = await cloud.waitFor(isApplication("create"), WAIT_MS, "the create");
        const got = await cloud.waitFor(isApplication("get"), WAIT_MS, "the get");
        // The write: upstream's 500 with the application's reason.
        assert.equal(write.status, 500);
        const body = await write.json();
        assert.equal(
          body.message,
          `Internal error occurred: failed to access cloud Application center: ${
            timeoutText(created.header!.msg_id!)
          }`,
        );
        // The read: answered from the store; the reason is logged.
        assert.equal(read.status, 200);
        assert.equal((await read.json()).metadata.name, "app-config");
        const reason = `failed to access cloud Application center: ${
          timeoutText(got.header!.msg_id!)
        }`;
        await serve.waitForLog(new RegExp(reason.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")), 5_000);
        if (release === "1.10") assert.doesNotMatch(serve.stderr, /for message/);
      } finally {
        await cloud.close().catch(() => {});
      }
    } finally {
      await serve.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

for (const compat of ["strict", "fixed"] as const) {
  Deno.test(
    `serve --kubeedge 1.23 --compat ${compat}: a remote query the cloud leaves unanswered gets v1.23's error text naming the fresh id; its parent is ${
      compat === "strict" ? "the fresh id" : "the request's id"
    }`,
    async () => {
      const dir = Deno.makeTempDirSync({ prefix: "v123-remote-error-" });
      const path = copyFixture(dir);
      const config = `${dir}/edgecore.yaml`;
      Deno.writeTextFileSync(
        config,
        "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\n" +
          "modules:\n  metaManager:\n    remoteQueryTimeout: 1\n",
      );
      const serve = await ServeProcess.start({
        db: path,
        args: ["--kubeedge", "1.23", "--compat", compat, "--config", config],
      });
      const modules: WsModule[] = [];
      try {
        const cloud = await WsModule.connect(serve.address, "websocket", "hub", WAIT_MS);
        modules.push(cloud);
        const edged = await WsModule.connect(serve.address, "edged", "edged", WAIT_MS);
        modules.push(edged);
        // A configmap is a remote type in v1.23: asked of the cloud every time while connected,
        // even though the row is stored (spec/v1.23.md §3.5).
        edged.send({
          header: { msg_id: "q-remote-1", timestamp: 1790000000000 },
          route: {
            source: "edged",
            group: "meta",
            operation: "query",
            resource: "default/configmap/app-config",
          },
          content: null,
        });
        const asked = await cloud.waitFor(
          isMessage("query", { resource: "default/configmap/app-config" }),
          WAIT_MS,
          "the remote query",
        );
        const fresh = asked.header!.msg_id!;
        assert.notEqual(fresh, "q-remote-1", "re-sent with a fresh id");
        const error = await edged.waitFor(isMessage("error"), WAIT_MS, "the error reply");
        assert.equal(
          error.content,
          `failed to process remote: timeout to get response for message ${fresh}`,
        );
        assert.equal(error.route?.source, "metamanager");
        assert.equal(error.header?.parent_msg_id, compat === "strict" ? fresh : "q-remote-1");
      } finally {
        for (const m of modules) await m.close().catch(() => {});
        await serve.stop();
        Deno.removeSync(dir, { recursive: true });
      }
    },
  );
}
