/**
 * The frame decoder's worker (src/metamanager/frame_decoder.ts) at a real node's sizes:
 * tens of thousands of objects into a database file, and values of a megabyte and more
 * with hostile bytes in them, give the same database file contents and the same outbound
 * messages as decoding on the main thread.
 */
import assert from "node:assert/strict";
import { CLOUD_SOURCES } from "../src/beehive/wire.ts";
import { type Decoded, FrameDecoder } from "../src/metamanager/frame_decoder.ts";
import { MetaManager } from "../src/metamanager/process.ts";
import { dumpJson } from "../src/store/dump.ts";
import { Store } from "../src/store/store.ts";
import { cloudWrite } from "./support/crash.ts";
import { countingIdentity, WireBus } from "./support/fixture_journals.ts";

const PODS = 12_000;
const BATCH = 64; // serve's bridge hands the decoder batches of 64 frames

/**
 * A ConfigMap of about `mib` MiB: HTML characters, lone and paired surrogate escapes,
 * control characters, a NUL, non-ASCII text and an integer beyond 2^53 (which takes the
 * exact parse).
 */
function bigConfigMap(i: number, mib: number): string {
  const chunk = '<tag a="&amp;">é€😀\u2028\u0001\u0000 line\n';
  const data: Record<string, string> = {};
  data.blob = chunk.repeat(Math.ceil((mib * 1024 * 1024) / chunk.length));
  data.lone = "\ud800 and \udfff";
  const msg = cloudWrite(`big-${i}`, "insert", {
    type: "configmap",
    namespace: "default",
    name: `big-${i}`,
  }, 100_000 + i);
  Object.assign(msg.content as Record<string, unknown>, { data });
  const text = JSON.stringify(msg);
  // An integer literal JSON.stringify cannot write: 2^63 - 1.
  return text.replace('"data":{', '"count":9223372036854775807,"data":{');
}

/** The frames: pods in batches, with the big values among them. */
function frames(): string[][] {
  const texts: string[] = [];
  for (let i = 0; i < PODS; i++) {
    texts.push(JSON.stringify(cloudWrite(`m${i}`, i % 5 === 4 ? "update" : "insert", {
      type: "pod",
      namespace: `ns-${i % 7}`,
      name: `p${i % (PODS - 2000)}`,
    }, i)));
    if (i % 4000 === 1000) texts.push(bigConfigMap(i, i === 1000 ? 4 : 1));
  }
  const batches: string[][] = [];
  for (let i = 0; i < texts.length; i += BATCH) batches.push(texts.slice(i, i + BATCH));
  return batches;
}

/** Decodes every batch with `decoder` and processes it into a database file. */
async function run(
  decoder: FrameDecoder,
  batches: string[][],
  path: string,
): Promise<{ dump: string; sent: string[]; bigRows: number; bigV2: string }> {
  const store = Store.open(path, { release: "1.10" });
  const bus = new WireBus();
  const mm = new MetaManager({
    store,
    bus,
    mode: "fixed",
    identity: countingIdentity(),
    onPanic: () => {},
  });
  try {
    // Two batches decoding ahead, as the bridge keeps some in flight.
    const ahead: Promise<Decoded[]>[] = batches.slice(0, 2).map((b) => decoder.decode(b));
    for (let b = 0; b < batches.length; b++) {
      if (b + 2 < batches.length) ahead.push(decoder.decode(batches[b + 2]));
      const decoded = await ahead.shift()!;
      store.db.begin();
      const msgs = decoded.map((d) => {
        assert.ok(!(d instanceof Error), `batch ${b}: ${d}`);
        return d;
      });
      // As serve's loop: a run of cloud writes shares one savepoint (MetaManager.handleRun).
      for (let i = 0; i < msgs.length;) i = mm.handleRun(msgs, i);
      store.db.commit();
      mm.outbox.flush();
    }
    const bigRows = Number(
      (store.db.sqlite.prepare("SELECT count(*) AS n FROM meta WHERE length(value) > 1000000")
        .get() as { n: number }).n,
    );
    const bigV2 = (store.db.sqlite.prepare("SELECT value FROM meta_v2 WHERE name = 'big-1000'")
      .get() as { value: string }).value;
    return { dump: dumpJson(store.db), sent: bus.sent, bigRows, bigV2 };
  } finally {
    store.close();
  }
}

Deno.test("frame decoder: 12,000 objects and values of 1-4 MiB into a database file, the same on the worker as on the main thread", async () => {
  const dir = await Deno.makeTempDir({ prefix: "frame-decoder-big-" });
  const batches = frames();
  const worker = new FrameDecoder({ transport: "raw", cloudSources: CLOUD_SOURCES, worker: true });
  const inline = new FrameDecoder({ transport: "raw", cloudSources: CLOUD_SOURCES, worker: false });
  try {
    const a = await run(worker, batches, `${dir}/worker.db`);
    const b = await run(inline, batches, `${dir}/inline.db`);
    assert.equal(worker.stats.workerBatches, batches.length, "every batch went to the worker");
    assert.equal(inline.stats.workerBatches, 0);
    assert.equal(a.bigRows, 3, "the three big ConfigMaps are stored whole");
    assert.equal(a.bigRows, b.bigRows);
    // meta_v2 holds Go's marshal: the integer exact, HTML escaped, lone surrogates U+FFFD.
    assert.ok(a.bigV2.length > 4_000_000, `meta_v2 value of ${a.bigV2.length} characters`);
    assert.ok(a.bigV2.includes('"count":9223372036854775807'), "the int64 kept every digit");
    assert.ok(a.bigV2.includes('\\u003ctag a=\\"\\u0026amp;\\"\\u003e'), "HTML escaped");
    assert.ok(a.bigV2.includes('"lone":"\ufffd and \ufffd"'), "lone surrogates as U+FFFD");
    assert.ok(a.bigV2 === b.bigV2);
    // Compared without assert's diff of two multi-megabyte strings.
    assert.ok(a.dump === b.dump, "the two database files hold the same rows");
    assert.ok(a.dump.length > 6_000_000, `dump of ${a.dump.length} characters`);
    assert.equal(a.sent.length, b.sent.length);
    for (let i = 0; i < a.sent.length; i++) {
      assert.ok(a.sent[i] === b.sent[i], `outbound message ${i} differs`);
    }
    assert.ok(a.sent.length >= PODS, `${a.sent.length} outbound messages`);
  } finally {
    worker.close();
    await Deno.remove(dir, { recursive: true });
  }
});
