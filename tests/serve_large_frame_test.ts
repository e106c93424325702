/**
 * Large messages through a real serve under the shipped V8 flags (128 MB old space):
 * a cloud insert whose frame is just under `maxMessageBytes` (16 MiB by default) is
 * processed, stored, acknowledged and served back by the MetaServer whole; one byte over
 * the limit gets the error frame naming its size and the limit, is not stored, counts in
 * `edgecore_meta_oversized_frames_total`, and the connection and the service stay up.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ServeProcess } from "./support/serve_process.ts";
import { type WireFrame, WsModule } from "./support/ws_module.ts";

const LIMIT = 16 * 1024 * 1024;
const WAIT_MS = 60_000;

function insertConfigMap(id: string, data: Record<string, string>): string {
  return JSON.stringify({
    header: { msg_id: id, timestamp: 1_700_000_000_000 },
    route: {
      source: "edgecontroller",
      group: "resource",
      operation: "insert",
      resource: `default/configmap/${id}`,
    },
    content: {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: id, namespace: "default" },
      data,
    },
  });
}

/** An insert of `id` padded to exactly `length` bytes (ASCII). */
function sized(id: string, length: number): string {
  const frame = insertConfigMap(id, {
    k: "x".repeat(length - insertConfigMap(id, { k: "" }).length),
  });
  assert.equal(frame.length, length);
  return frame;
}

function isAck(f: WireFrame, id: string): boolean {
  return f.route?.operation === "response" && (f.header?.parent_msg_id ?? "") === id &&
    f.content === "OK";
}

Deno.test({
  name:
    "serve: a 16 MiB frame (just under the limit) is stored and acked; one byte over is refused",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "serve-large-frame-" });
    const serve = await ServeProcess.start({ db: `${dir}/e.db`, productFlags: true });
    let cloud: WsModule | undefined;
    try {
      cloud = await WsModule.connect(serve.address, "websocket", "hub", WAIT_MS);
      cloud.send(sized("under", LIMIT - 1));
      await cloud.waitFor((f) => isAck(f, "under"), WAIT_MS, "ack of the frame under the limit");

      cloud.send(sized("over", LIMIT + 1));
      const refused = await cloud.waitFor((f) => f.error !== undefined, WAIT_MS, "error frame");
      assert.equal(
        refused.error,
        `frame of ${LIMIT + 1} bytes exceeds the limit of ${LIMIT} bytes`,
      );
      cloud.send(insertConfigMap("after", { k: "v" }));
      await cloud.waitFor((f) => isAck(f, "after"), WAIT_MS, "ack after the refusal");
      assert.ok(!cloud.frames.some((f) => isAck(f, "over")), "the oversized frame was acked");

      const base = `http://${serve.address}/api/v1/namespaces/default/configmaps`;
      const under = await fetch(`${base}/under`);
      assert.equal(under.status, 200);
      const cm = await under.json();
      assert.equal(cm.data.k.length, LIMIT - 1 - insertConfigMap("under", { k: "" }).length);
      const over = await fetch(`${base}/over`);
      await over.body?.cancel();
      assert.equal(over.status, 404, "the refused insert was not stored");
      const metrics = await (await fetch(`http://${serve.address}/metrics`)).text();
      assert.match(metrics, /^edgecore_meta_oversized_frames_total 1$/m);
      assert.ok(!serve.exited, `serve exited:\n${serve.stderr}`);
      const hwm = /^VmHWM:\s+(\d+)\s+kB$/m.exec(Deno.readTextFileSync(`/proc/${serve.pid}/status`));
      const peak = Number(hwm?.[1] ?? 0) * 1024;
      console.log(`serve peak RSS after a 16 MiB message: ${(peak / 2 ** 20).toFixed(0)} MB`);
      assert.ok(peak > 0 && peak < 400 * 2 ** 20, `serve peak RSS ${peak} bytes`);
    } finally {
      await cloud?.close().catch(() => {});
      await serve.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
