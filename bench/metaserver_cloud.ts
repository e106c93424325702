/**
 * MetaServer latencies through the cloud (issue 18): an in-process serve on a temporary
 * database, a stand-in cloud attached over the WebSocket endpoint that answers every
 * application at once (as dynamiccontroller would, without an apiserver behind it).
 *
 * - offline GET: no cloud attached, fixed mode: the local answer (p50/p99);
 * - connected GET: the round-trip MetaServer -> cloud -> MetaServer (p50/p99);
 * - connected create: a write answered by the cloud (p50/p99).
 *
 * Usage: deno task bench:metaserver [--n N] [--json]. Short by default (the machine is shared).
 *
 * @module
 */

import { defaultConfig } from "../src/config/config.ts";
import { silentLogger } from "../src/logger.ts";
import { EdgeMetaService } from "../src/serve/service.ts";
import { latencySummary, round } from "./stats.ts";

const args = Deno.args;
const n = Number(args[args.indexOf("--n") + 1]) || 1000;
const json = args.includes("--json");

const dir = await Deno.makeTempDir({ prefix: "bench-metaserver-" });
const config = defaultConfig();
config.database.dataSource = `${dir}/e.db`;
config.edgecoreMeta.listen = "127.0.0.1:0";
config.edgecoreMeta.nodeName = "bench-node";
const svc = await EdgeMetaService.start({ config, logger: silentLogger });
const base = `http://${svc.address}`;

const cm = (name: string) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "default", resourceVersion: "1" },
  data: { k: "v".repeat(200) },
});

/** Times `n` sequential requests (ms each). */
async function timed(count: number, req: (i: number) => Promise<Response>): Promise<Float64Array> {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const r = await req(i);
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`request ${i}: HTTP ${r.status}`);
    out[i] = performance.now() - t0;
  }
  return out;
}

try {
  // one object in the store, inserted as the cloud would (then the cloud goes away)
  const seed = new WebSocket(`ws://${svc.address}/v1/modules/websocket?group=hub`);
  await new Promise((r) => seed.onopen = r);
  const acked = new Promise<void>((resolve) => {
    seed.onmessage = (e) => {
      if (JSON.parse(String(e.data)).header?.parent_msg_id === "seed") resolve();
    };
  });
  seed.send(JSON.stringify({
    header: { msg_id: "seed", timestamp: Date.now() },
    route: {
      source: "dynamiccontroller",
      group: "resource",
      operation: "insert",
      resource: "default/configmap/bench",
    },
    content: cm("bench"),
  }));
  await acked;
  seed.close();
  while (svc.cloudConnected) await new Promise((r) => setTimeout(r, 10));

  const path = `${base}/api/v1/namespaces/default/configmaps/bench`;
  await timed(50, () => fetch(path)); // warm-up
  const offline = latencySummary(await timed(n, () => fetch(path)));

  // the cloud: answers every application at once with the object (or the created object)
  const cloud = new WebSocket(`ws://${svc.address}/v1/modules/websocket?group=hub`);
  await new Promise((r) => cloud.onopen = r);
  cloud.onmessage = (e) => {
    const m = JSON.parse(String(e.data));
    if (m.route?.group !== "dynamiccontroller") return;
    const app = m.content;
    const body = app.ReqBody !== null ? atob(app.ReqBody) : JSON.stringify(cm("bench"));
    cloud.send(JSON.stringify({
      header: { msg_id: crypto.randomUUID(), parent_msg_id: m.header.msg_id, timestamp: 0 },
      route: {
        source: "dynamiccontroller",
        group: "resource",
        operation: "applicationResponse",
        resource: "ignore/Application/ignore",
      },
      content: { ...app, Status: "Approved", RespBody: btoa(body) },
    }));
  };
  while (!svc.cloudConnected) await new Promise((r) => setTimeout(r, 10));
  await timed(50, () => fetch(path));
  const connectedGet = latencySummary(await timed(n, () => fetch(path)));
  const created = latencySummary(
    await timed(
      Math.max(1, Math.floor(n / 2)),
      (i) =>
        fetch(`${base}/api/v1/namespaces/default/configmaps`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(cm(`c-${i}`)),
        }),
    ),
  );
  cloud.close();

  const rows = [
    ["offline GET (local)", offline],
    ["connected GET (cloud round-trip)", connectedGet],
    ["connected create (cloud round-trip)", created],
  ] as const;
  if (json) {
    console.log(JSON.stringify({
      n,
      ms: Object.fromEntries(rows.map(([k, v]) => [k, {
        p50: round(v.p50, 3),
        p99: round(v.p99, 3),
        max: round(v.max, 3),
      }])),
    }));
  } else {
    console.log(`MetaServer latency, ${n} sequential requests each (ms)`);
    for (const [k, v] of rows) {
      console.log(
        `${k.padEnd(38)} p50 ${v.p50.toFixed(3).padStart(8)}  p99 ${
          v.p99.toFixed(3).padStart(8)
        }  max ${v.max.toFixed(3).padStart(8)}`,
      );
    }
  }
} finally {
  await svc.shutdown();
  await Deno.remove(dir, { recursive: true });
}
