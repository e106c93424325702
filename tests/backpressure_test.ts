/**
 * Backpressure instead of drops, through a real serve process and real sockets: the cloud
 * peer (`websocket`/`hub`) sends 20,000 pod inserts without waiting for a single
 * acknowledgement (what cloudcore does when a node reconnects), with (a) an edged that
 * reads everything, (b) no edged, (c) an edged that reads 100 messages a second.
 *
 * Checked: every insert is acknowledged OK exactly once and stored; serve drops none of
 * the cloud's frames; what piles up for an absent or slow edged stays in its bounded queue
 * (the overflow dropped and counted, with a few log lines, not one per message); serve's
 * peak RSS stays under a generous bound. Prints one figure line per case.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { ServeProcess, withTimeout } from "./support/serve_process.ts";
import { CountingSocket, RssSampler } from "./support/load_clients.ts";
import { SlowWsReader } from "./support/slow_ws_reader.ts";

const INSERTS = Number(Deno.env.get("BURST_INSERTS") ?? 20_000);
const MB = 1024 * 1024;
/** Peak RSS allowed for serve during the burst (generous; see the printed figures). */
const RSS_LIMIT = 300 * MB;
const PADDING = "x".repeat(700);
/** Most frames the cloud's inbox in serve may hold (pause at 256, plus one read chunk). */
const HELD_LIMIT = 1024;

/** Insert `i` in wire JSON (~1.5 KB). */
function insert(i: number): string {
  const namespace = `burst-${i % 4}`;
  const name = `pod-${i}`;
  return JSON.stringify({
    header: { msg_id: `m-${i}`, timestamp: 1_700_000_000_000 + i, resourceversion: String(i + 1) },
    route: {
      source: "edgecontroller",
      group: "resource",
      operation: "insert",
      resource: `${namespace}/pod/${name}`,
    },
    content: {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace,
        uid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
        resourceVersion: String(i + 1),
        labels: { app: `app-${i % 10}` },
        annotations: { "burst.test/padding": PADDING },
      },
      spec: {
        nodeName: "edge-burst-1",
        containers: [{ name: "main", image: "registry.example.com/edge/app:1.2.3" }],
      },
      status: { phase: "Running" },
    },
  });
}

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return line ? Number(line.slice(name.length + 1)) : NaN;
}

async function burst(edged: "reading" | "absent" | "slow", decodeOnWorker = false): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "burst-" });
  const db = `${dir}/e.db`;
  const serve = await ServeProcess.start({
    db,
    productFlags: true,
    env: decodeOnWorker ? { EDGECORE_META_DECODE_ON_WORKER: "true" } : {},
  });
  const rss = new RssSampler(serve.pid, 100);
  let fast: CountingSocket | undefined;
  let slow: SlowWsReader | undefined;
  let cloud: CountingSocket | undefined;
  try {
    if (edged === "reading") fast = await CountingSocket.connect(serve.address, "edged", "edged");
    if (edged === "slow") slow = await SlowWsReader.connect(serve.address, "edged", "edged", 10);
    const acked = new Uint8Array(INSERTS);
    let acks = 0;
    const odd: string[] = [];
    let allAcked = () => {};
    const done = new Promise<void>((r) => allAcked = r);
    cloud = await CountingSocket.connect(serve.address, "websocket", "hub", (text) => {
      const f = JSON.parse(text);
      const parent: string = f.header?.parent_msg_id ?? "";
      if (f.route?.operation === "response" && parent.startsWith("m-")) {
        const i = Number(parent.slice(2));
        if (f.content !== "OK" || acked[i]) odd.push(text.slice(0, 200));
        else {
          acked[i] = 1;
          if (++acks === INSERTS) allAcked();
        }
      } else if (f.error !== undefined) odd.push(text.slice(0, 200));
    });
    const start = performance.now();
    for (let i = 0; i < INSERTS; i++) cloud.send(insert(i)); // no window at all
    await withTimeout(done, 240_000, "the burst was not acknowledged").catch((e: Error) => {
      throw new Error(`${e.message}: ${acks} of ${INSERTS} acked; ${odd.slice(0, 3)}`);
    });
    const seconds = (performance.now() - start) / 1000;
    assert.deepEqual(odd.slice(0, 3), []);
    assert.equal(acks, INSERTS, "every insert acknowledged OK exactly once");

    const metrics = await (await fetch(`${serve.baseUrl}/metrics`)).text();
    const edgedDepth = metric(metrics, 'edgecore_meta_queue_depth{module="edged"}');
    const droppedFull = metric(metrics, 'edgecore_meta_bus_dropped_total{reason="queue_full"}');
    assert.ok(edgedDepth <= 1024, `edged queue bounded: ${edgedDepth}`);
    if (edged === "reading") assert.equal(droppedFull, 0, "nothing dropped with edged reading");
    else assert.ok(droppedFull > 0, "an absent or slow edged's overflow is dropped and counted");
    assert.equal(metric(metrics, "edgecore_meta_held_frames"), 0);
    // The burst waited in the cloud's TCP connection, not in serve: reading its socket was
    // paused, and its inbox never held much more than the pause threshold (256 frames; a
    // read chunk already taken from the socket is still parsed after the pause).
    const pauses = metric(metrics, "edgecore_meta_peer_read_pauses_total");
    const heldPeak = metric(metrics, "edgecore_meta_held_frames_peak");
    assert.ok(pauses > 0, "serve stopped reading the cloud's socket at least once");
    assert.ok(heldPeak <= HELD_LIMIT, `inbox peak ${heldPeak} frames (limit ${HELD_LIMIT})`);
    // With decodeOnWorker (on two cores or more) the backlog went to the frame decoder's
    // worker; by default every frame is decoded on the main thread.
    const workerBatches = metric(
      metrics,
      'edgecore_meta_decoded_frame_batches_total{thread="worker"}',
    );
    if (decodeOnWorker && (navigator.hardwareConcurrency ?? 1) >= 2) {
      assert.ok(workerBatches > 0, `batches decoded on the worker: ${workerBatches}`);
    } else assert.equal(workerBatches, 0, "nothing decoded on a worker by default");

    const peak = Math.max(...rss.samples.map(([, b]) => b));
    rss.stop();
    await cloud.close();
    await fast?.close();
    await slow?.close();
    const exit = await serve.stop();
    const drops = exit.stderr.split("\n").filter((l) => /dropped message/.test(l));
    assert.ok(drops.length <= 6, `drop warnings rate-limited: ${drops.length} lines`);

    const sqlite = new DatabaseSync(db, { readOnly: true });
    const stored = sqlite.prepare("SELECT count(*) AS n FROM meta WHERE type = 'pod'").get() as {
      n: number;
    };
    sqlite.close();
    assert.equal(Number(stored.n), INSERTS, "every insert stored");
    console.log(
      `burst (${edged} edged): ${INSERTS} inserts acked in ${seconds.toFixed(1)} s ` +
        `(${Math.round(INSERTS / seconds)}/s), serve peak RSS ${(peak / MB).toFixed(0)} MB, ` +
        `edged overflow dropped ${droppedFull}, slow edged read ${slow?.frames ?? "-"}, ` +
        `read pauses ${pauses}, inbox peak ${heldPeak} frames`,
    );
    assert.ok(peak < RSS_LIMIT, `serve peak RSS ${(peak / MB).toFixed(0)} MB`);
  } finally {
    rss.stop();
    if (!serve.exited) await serve.kill();
    await Deno.remove(dir, { recursive: true });
  }
}

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: `burst: ${INSERTS} unwindowed inserts with edged reading: all acked, none dropped`,
  ...opts,
  fn: () => burst("reading"),
});

Deno.test({
  name: `burst: ${INSERTS} unwindowed inserts with no edged: all acked, edged queue bounded`,
  ...opts,
  fn: () => burst("absent"),
});

Deno.test({
  name: `burst: ${INSERTS} unwindowed inserts with edged reading 100 msg/s: all acked`,
  ...opts,
  fn: () => burst("slow"),
});

Deno.test({
  name:
    `burst: ${INSERTS} unwindowed inserts, edgecoreMeta.decodeOnWorker: all acked, decoded on the worker`,
  ...opts,
  fn: () => burst("reading", true),
});
