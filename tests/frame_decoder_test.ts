/**
 * The frame decoder (src/metamanager/frame_decoder.ts): frames decoded on its worker thread,
 * with their meta_v2 rows prepared there, give exactly what decoding on the main thread
 * gives: the same messages and errors, the same database rows and the same outbound
 * messages, for every fixture journal and hostile case, in every release, mode and
 * transport; in order; and nothing is lost when the worker stops with batches in flight.
 */
import assert from "node:assert/strict";
import type { Message } from "../src/beehive/message.ts";
import { CLOUD_SOURCES, CLOUD_SOURCES_V1_23 } from "../src/beehive/wire.ts";
import type { CompatMode } from "../src/metamanager/compat.ts";
import { type Decoded, FrameDecoder } from "../src/metamanager/frame_decoder.ts";
import { MetaManager } from "../src/metamanager/process.ts";
import { dumpJson } from "../src/store/dump.ts";
import type { KubeEdgeRelease } from "../src/store/schema.ts";
import { Store } from "../src/store/store.ts";
import { cloudWrite } from "./support/crash.ts";
import { countingIdentity, fixtureLines, VARIANTS, WireBus } from "./support/fixture_journals.ts";

function describe(d: Decoded): string {
  if (d instanceof Error) return `${d.name}: ${d.message}`;
  return JSON.stringify({
    header: { ...d.header, timestamp: String(d.header.timestamp) },
    route: d.route,
    json: d.content.json,
    bytes: d.content.bytes,
  });
}

/** Processes decoded lines through a fresh store; its dump and what it sent. */
async function run(
  decoded: Decoded[],
  release: KubeEdgeRelease,
  mode: CompatMode,
): Promise<{ dump: string; sent: string[] }> {
  const store = Store.open(":memory:", { release });
  const bus = new WireBus();
  const mm = new MetaManager({
    store,
    bus,
    mode,
    identity: countingIdentity(),
    onPanic: () => {},
  });
  for (const d of decoded) {
    if (d instanceof Error) continue;
    await mm.handle(d);
  }
  const dump = dumpJson(store.db);
  store.close();
  return { dump, sent: bus.sent };
}

Deno.test("frame decoder: the worker's messages, rows and replies equal the main thread's, for every fixture", async (t) => {
  const files = fixtureLines();
  assert.ok(files.length >= 40, `fixtures found: ${files.length}`);
  for (const v of VARIANTS) {
    await t.step(`v${v.release} ${v.mode}/${v.transport}`, async () => {
      const cloudSources = v.release === "1.23" ? CLOUD_SOURCES_V1_23 : CLOUD_SOURCES;
      const worker = new FrameDecoder({
        transport: v.transport,
        cloudSources,
        worker: true,
        minWorkerBatch: 1,
      });
      const inline = new FrameDecoder({ transport: v.transport, cloudSources, worker: false });
      try {
        for (const { file, lines } of files) {
          const a = await worker.decode(lines);
          const b = inline.decodeInline(lines);
          assert.deepEqual(a.map(describe), b.map(describe), file);
          const ra = await run(a, v.release, v.mode);
          const rb = await run(b, v.release, v.mode);
          assert.equal(ra.dump, rb.dump, `${file}: database`);
          assert.deepEqual(ra.sent, rb.sent, `${file}: outbound messages`);
        }
        assert.equal(worker.stats.workerBatches, files.length, "every batch went to the worker");
        assert.equal(worker.stats.inlineBatches, 0);
      } finally {
        worker.close();
      }
    });
  }
});

Deno.test("frame decoder: batches come back in the order asked; a stop with batches in flight loses none", async () => {
  const line = (i: number) =>
    JSON.stringify(
      cloudWrite(`m${i}`, "insert", { type: "pod", namespace: "default", name: `p${i}` }, i),
    );
  const decoder = new FrameDecoder({ worker: true, minWorkerBatch: 2 });
  const batches = Array.from(
    { length: 50 },
    (_, b) => Array.from({ length: 1 + (b % 7) }, (_, k) => line(b * 10 + k)),
  );
  const results = batches.map((texts) => decoder.decode(texts));
  // Stops the worker while most batches are still in flight: they are decoded here.
  await results[0];
  decoder.close();
  const all = await Promise.all(results);
  for (let b = 0; b < batches.length; b++) {
    assert.deepEqual(
      all[b].map((d) => (d as Message).header.msgId),
      batches[b].map((_, k) => `m${b * 10 + k}`),
    );
  }
  assert.ok(decoder.stats.workerBatches > 0, "the worker decoded some batches");
  assert.ok(decoder.stats.inlineBatches > 0, "batches of one frame and those held at the stop");
  // After the stop everything is decoded here, at once.
  const after = await decoder.decode([line(1), line(2), line(3), line(4)]);
  assert.equal(after.length, 4);
});

Deno.test("frame decoder: a malformed frame is the same WireError on either thread", async () => {
  const decoder = new FrameDecoder({ worker: true, minWorkerBatch: 1 });
  try {
    const texts = ['{"header":{"msg_id":5}}', "not json", "[]", '{"content":{"a":1}'];
    const a = await decoder.decode(texts);
    const b = decoder.decodeInline(texts);
    assert.deepEqual(a.map(describe), b.map(describe));
    for (const d of a) assert.ok(d instanceof Error);
    assert.match(describe(a[0]), /^WireError: header\.msg_id: expected a string, got number/);
  } finally {
    decoder.close();
  }
});
