/**
 * The oracle's hostile-input cases (fixtures/fuzz, see INDEX.md there) replayed in
 * `fixed` mode: what docs/compatibility.md ("Hostile inputs in fixed mode") says fixed
 * does with each. Strict mode's byte-for-byte equality is in replay_golden_test.ts.
 */

import assert from "node:assert/strict";
import { replay } from "../src/replay/replay.ts";
import { parseAnswers } from "../src/replay/stand_ins.ts";
import { type Dump, dumpDatabase, dumpJson } from "../src/store/dump.ts";
import { Store } from "../src/store/store.ts";
import { compareDb, compareEvents } from "../src/replay/compare.ts";

const FUZZ = new URL("../fixtures/fuzz/", import.meta.url);
const read = (name: string) => Deno.readTextFileSync(new URL(name, FUZZ));

interface Event {
  in: number;
  via?: string;
  to?: string;
  panic?: unknown;
  error?: string;
  message?: { header: Record<string, unknown>; route: Record<string, string>; content: unknown };
}

async function fixedReplay(
  name: string,
): Promise<{ text: string; events: Event[]; dump: Dump; dumpText: string }> {
  const cloudUrl = new URL(`${name}.cloud.json`, FUZZ);
  const store = Store.open(":memory:");
  const lines: string[] = [];
  try {
    await replay({
      journal: ReadableStream.from([new TextEncoder().encode(read(`${name}.ndjson`))]),
      store,
      mode: "fixed",
      answers: {
        cloud: parseAnswers(Deno.readTextFileSync(cloudUrl), cloudUrl.pathname),
        edged: new Map(),
      },
      write: (line) => lines.push(line),
      remoteQueryTimeout: 1,
    });
    return {
      text: lines.map((l) => l + "\n").join(""),
      events: lines.map((l) => JSON.parse(l)),
      dump: dumpDatabase(store.db),
      dumpText: dumpJson(store.db),
    };
  } finally {
    store.close();
  }
}

/** The cases where fixed mode differs from the real code, and how (the documented table). */
const DIFFERS: Record<string, (r: Awaited<ReturnType<typeof fixedReplay>>) => void> = {
  "a01-rv-ge-2p63-panics": ({ events, dump }) => {
    assert.deepEqual(events.map((e) => e.message?.route.operation), ["error"]);
    assert.match(String(events[0].message?.content), /^Error to inject meta_v2 object: .*2\^63/);
    assert.deepEqual([dump.meta, dump.meta_v2], [[], []]);
  },
  "a04-list-nonobject-item": ({ events, dump }) => {
    assert.deepEqual(events.map((e) => e.message?.content), [
      "Error to inject meta_v2 object: list item 1 is not an object",
    ]);
    assert.deepEqual([dump.meta, dump.meta_v2], [[], []]);
  },
  "a05-list-item-empty-gvk": ({ events, dump }) => {
    assert.deepEqual(events.map((e) => e.message?.content), [
      "Error to inject meta_v2 object: list item 1 has neither apiVersion nor kind",
    ]);
    assert.deepEqual([dump.meta, dump.meta_v2], [[], []], "nothing of the list is written");
  },
  "a06-float-overflow-1e400": ({ events, dump }) => {
    assert.deepEqual(events.filter((e) => "error" in e), [], "the line is accepted");
    assert.ok(dump.meta.some((r) => r.key === "default/pod/web" && r.value.endsWith('"x":1e400}')));
    assert.deepEqual(dump.meta_v2, [], "the object does not decode: no meta_v2 row");
    assert.deepEqual(events.filter((e) => e.in === 3), [], "the sync skips the status");
  },
  "a07-negative-zero": ({ dump }) => {
    assert.equal(
      dump.meta[0].value,
      '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default"},"a":-0.0,"b":-1e-400}',
      "meta keeps the text as received",
    );
    assert.match(dump.meta_v2[0].value, /^\{"a":-0,"apiVersion":"v1","b":-0,/);
  },
  "a08-lone-surrogate": ({ dump }) => {
    const pod = dump.meta.find((r) => r.key === "default/pod/web");
    assert.ok(pod?.value.includes('"s":"\\udc00"'), "meta keeps the escape as received");
    assert.equal(dump.meta.find((r) => r.key === "default/podstatus/web")?.value, '"\ufffd"');
  },
  "a10-sendresp-unregistered-type": ({ events }) => {
    assert.deepEqual(events.map((e) => [e.via, e.to, e.message?.route.operation]), [
      ["resp", "edged", "response"],
    ]);
  },
};

const NAMES = [...Deno.readDirSync(FUZZ)].map((e) => e.name)
  .filter((n) => n.endsWith(".ndjson") && !n.endsWith(".out.ndjson"))
  .map((n) => n.slice(0, -".ndjson".length)).sort();

Deno.test("every fuzz case is here and every documented difference names one", () => {
  assert.equal(NAMES.length, 20);
  for (const name of Object.keys(DIFFERS)) assert.ok(NAMES.includes(name), name);
});

for (const name of NAMES) {
  const differs = Object.hasOwn(DIFFERS, name) ? DIFFERS[name] : undefined;
  Deno.test(
    differs
      ? `fuzz case ${name} in fixed mode: as documented (differs from upstream)`
      : `fuzz case ${name} in fixed mode: equals the real code's output by value`,
    async () => {
      const got = await fixedReplay(name);
      assert.deepEqual(got.events.filter((e) => "panic" in e), [], "fixed mode never crashes");
      if (differs) return differs(got);
      const ev = compareEvents(read(`${name}.ndjson`), read(`${name}.out.ndjson`), got.text);
      assert.deepEqual(ev.differences, [], ev.summary);
      const db = compareDb(read(`${name}.db.json`), got.dumpText);
      assert.deepEqual(db.differences, [], db.summary);
    },
  );
}
