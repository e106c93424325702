/**
 * Logs that a small disk survives, through a real serve process: a cloud peer that sends
 * hundreds of bad frames (not JSON) and oversized frames (over
 * `edgecoreMeta.maxMessageBytes`) gets an error frame for each, every one is counted in
 * `/metrics`, and serve writes at most a few WARN lines per kind (one per 10 s per kind
 * and peer), each naming the peer's module and carrying the count since the last line;
 * the counts add up to the frames sent. The connection and the service stay up.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ServeProcess } from "./support/serve_process.ts";
import { type WireFrame, WsModule } from "./support/ws_module.ts";

const WAIT_MS = 20_000;
const LIMIT = 1024;
const BAD = 300;
const OVERSIZED = 200;

function insert(id: string): string {
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
      data: { k: "v" },
    },
  });
}

function isAck(f: WireFrame, id: string): boolean {
  return f.route?.operation === "response" && f.header?.parent_msg_id === id &&
    f.content === "OK";
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  assert.ok(m, `metric ${name} in:\n${text}`);
  return Number(m[1]);
}

Deno.test({
  name: `serve: ${BAD} bad and ${OVERSIZED} oversized frames are counted and logged rate-limited`,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "serve-warnings-" });
    await Deno.writeTextFile(
      `${dir}/edgecore.yaml`,
      `edgecoreMeta:\n  maxMessageBytes: ${LIMIT}\n`,
    );
    const serve = await ServeProcess.start({
      db: `${dir}/e.db`,
      args: ["--config", `${dir}/edgecore.yaml`],
    });
    let cloud: WsModule | undefined;
    try {
      cloud = await WsModule.connect(serve.address, "websocket", "hub", WAIT_MS);
      const big = insert("big-" + "x".repeat(LIMIT));
      for (let i = 0; i < Math.max(BAD, OVERSIZED); i++) {
        if (i < BAD) cloud.send(`not json ${i}`);
        if (i < OVERSIZED) cloud.send(big);
      }
      cloud.send(insert("after"));
      await cloud.waitFor((f) => isAck(f, "after"), WAIT_MS, "ack after the refused frames");
      const errors = cloud.frames.filter((f) => (f as { error?: string }).error !== undefined);
      assert.equal(errors.length, BAD + OVERSIZED, "an error frame for every refused frame");
      assert.ok(cloud.open, "the connection stays up");

      const metrics = await (await fetch(`http://${serve.address}/metrics`)).text();
      assert.equal(metric(metrics, "edgecore_meta_oversized_frames_total"), OVERSIZED);
      assert.equal(metric(metrics, "edgecore_meta_bad_frames_total"), BAD + OVERSIZED);

      await cloud.close();
      cloud = undefined;
      const exit = await serve.stop();
      assert.equal(exit.code, 0, exit.stderr.slice(-2000));
      const lines = exit.stderr.split("\n");
      for (
        const [kind, sent] of [
          ["bad frames refused", BAD],
          ["oversized frames refused", OVERSIZED],
        ] as const
      ) {
        const warned = lines.filter((l) => l.includes(`WARN ${kind}`));
        // the first at once, the rest of the 10 s window in one line (flushed at stop)
        assert.ok(warned.length >= 2 && warned.length <= 3, `${kind}:\n${warned.join("\n")}`);
        for (const l of warned) assert.match(l, /\bmodule=websocket\b/, l);
        const counts = warned.map((l) => Number(/\bcount=(\d+)\b/.exec(l)?.[1]));
        assert.equal(counts[0], 1, warned[0]);
        assert.equal(counts.reduce((a, b) => a + b, 0), sent, `${kind}: counts ${counts}`);
      }
      assert.match(
        lines.find((l) => l.includes("WARN oversized frames refused"))!,
        new RegExp(`exceeds the limit of ${LIMIT} bytes`),
      );
      assert.ok(lines.length < 60, `serve's log stays small: ${lines.length} lines`);
    } finally {
      await cloud?.close().catch(() => {});
      if (!serve.exited) await serve.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
