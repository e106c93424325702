/**
 * replay() with lines decoded on the frame decoder's worker: a live stream's lines are
 * processed as they arrive (a batch never waits for more input than one read gives), and
 * the events and database are those of decoding on the main thread.
 */
import assert from "node:assert/strict";
import { replay } from "../src/replay/replay.ts";
import { dumpJson } from "../src/store/dump.ts";
import { Store } from "../src/store/store.ts";
import { cloudWrite } from "./support/crash.ts";

function insert(i: number): string {
  const pod = { type: "pod", namespace: "default", name: `p${i}` } as const;
  return JSON.stringify(cloudWrite(`m${i}`, "insert", pod, 100 + i));
}

Deno.test("replay on the worker: a live stream's lines are processed as they arrive", async () => {
  const events: string[] = [];
  let wrote: (() => void) | undefined;
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      const enc = new TextEncoder();
      for (let round = 0; round < 3; round++) {
        // Eight lines in one read, then nothing more until their events are written.
        const lines = Array.from({ length: 8 }, (_, k) => insert(round * 8 + k)).join("\n");
        const seen = new Promise<void>((r) => wrote = r);
        controller.enqueue(enc.encode(lines + "\n"));
        const t = setTimeout(() => controller.error(new Error("lines not processed")), 20_000);
        await seen;
        clearTimeout(t);
      }
      controller.close();
    },
  });
  const store = Store.open(":memory:");
  const summary = await replay({
    journal: stream,
    store,
    mode: "fixed",
    answers: { cloud: new Map(), edged: new Map() },
    decodeOnWorker: true,
    newId: (() => {
      let n = 0;
      return () => `id-${n++}`;
    })(),
    write: (line) => {
      events.push(line);
      // the last line of a read: its two events (to edged, OK to the cloud) are out
      if (events.length % 16 === 0) wrote?.();
    },
  });
  assert.equal(summary.messages, 24);
  assert.equal(summary.errors, 0);
  assert.equal(events.length, 48);
  store.close();
});

Deno.test("replay on the worker and on the main thread: same events, same database", async () => {
  const lines = Array.from({ length: 300 }, (_, i) => insert(i % 200));
  lines.splice(17, 0, "not json", "", '{"header":{"msg_id":1}}');
  const text = lines.join("\n") + "\n";
  const run = async (decodeOnWorker: boolean) => {
    const events: string[] = [];
    const store = Store.open(":memory:");
    let n = 0;
    const summary = await replay({
      journal: ReadableStream.from([new TextEncoder().encode(text)]),
      store,
      mode: "fixed",
      answers: { cloud: new Map(), edged: new Map() },
      decodeOnWorker,
      newId: () => `id-${n++}`,
      // replies carry the wall clock's time: not what is compared
      write: (l) => events.push(l.replace(/"timestamp":17[5-9]\d{10}/g, '"timestamp":T')),
    });
    const dump = dumpJson(store.db);
    store.close();
    return { events, dump, errors: summary.errors, messages: summary.messages };
  };
  const a = await run(true);
  const b = await run(false);
  assert.equal(a.errors, 2);
  assert.equal(a.messages, 300);
  assert.deepEqual(a.events, b.events);
  assert.equal(a.dump, b.dump);
  assert.ok(a.events.some((e) => e.includes('"line 18: ')), "the bad line's error names it");
});
