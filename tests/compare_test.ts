/**
 * The comparator of src/replay/compare.ts can fail: real differences in the events or
 * the database are reported, while what the reference format leaves open (fresh ids,
 * fresh timestamps, the order of one pod-status sync, JSON spelling, panic and error
 * texts) is not.
 */

import assert from "node:assert/strict";
import { compareDb, compareEvents } from "../src/replay/compare.ts";

const JOURNALS = new URL("../fixtures/journals/", import.meta.url);

function read(name: string): string {
  return Deno.readTextFileSync(new URL(name, JOURNALS));
}

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "");
}

function unlines(ls: string[]): string {
  return ls.map((l) => l + "\n").join("");
}

const ID_FIELD = /"(msg_id|parent_msg_id)":"([^"]*)"/g;

/** The fresh (UUID) message ids of an event file, in order of first appearance. */
function freshIds(text: string): string[] {
  const ids = [...text.matchAll(ID_FIELD)].map((m) => m[2]);
  return [...new Set(ids.filter((id) => /^[0-9a-f]{8}-[0-9a-f-]{27}$/.test(id)))];
}

/** Replaces message ids (in `msg_id` and `parent_msg_id` only) as `rename` says. */
function renameIds(text: string, rename: (id: string) => string): string {
  return text.replace(ID_FIELD, (_, field, id) => `"${field}":"${rename(id)}"`);
}

/** The OK answer of crud.out.ndjson to journal line `n` as compare.py normalises it. */
function normalisedOk(n: number, resource: string, id: string): string {
  return `{"group":"hub","in":${n},"message":{"content":"OK","header":{"msg_id":"${id}","parent_msg_id":"J${n}","timestamp":"NOW"},"route":{"group":"resource","operation":"response","resource":"${resource}","source":"edgecontroller"}},"seq":2,"to":"websocket","via":"group"}`;
}

const crudJournal = read("crud.ndjson");
const crudOut = read("crud.out.ndjson");
const miscJournal = read("misc.ndjson");
const miscOut = read("misc.out.ndjson");

Deno.test("a reference output compared with itself is equal", () => {
  const r = compareEvents(crudJournal, crudOut, crudOut);
  assert.deepEqual(r.differences, []);
  assert.equal(r.summary, "events: 47 expected, 47 actual, 0 differ");
});

Deno.test("an event whose content changed is reported with both normalised forms", () => {
  const out = lines(crudOut);
  assert.match(out[1], /"content":"OK"/);
  out[1] = out[1].replace('"content":"OK"', '"content":"KO"');
  const r = compareEvents(crudJournal, crudOut, unlines(out));
  assert.equal(r.differences.length, 1);
  assert.match(
    r.differences[0],
    /^event 2 differs:\n {2}expected: .*"content":"OK".*\n {2}actual: {3}.*"content":"KO"/,
  );
  assert.equal(r.summary, "events: 47 expected, 47 actual, 1 differ");
});

Deno.test("each difference names its lines: expected file, actual file, journal", () => {
  const out = lines(crudOut);
  out[1] = out[1].replace('"content":"OK"', '"content":"KO"');
  const r = compareEvents(crudJournal, crudOut, ["", ...out].map((l) => l + "\n").join(""));
  assert.deepEqual(r.locations, [{ expectedLine: 2, actualLine: 3, journalLine: 1 }]);
  const extra = lines(crudOut);
  extra.push(extra[1].replace('"in":1,', '"in":31,'));
  assert.deepEqual(compareEvents(crudJournal, crudOut, unlines(extra)).locations, [
    { expectedLine: undefined, actualLine: 48, journalLine: 31 },
  ]);
});

Deno.test("fromLine compares only the events of journal lines from that one on", () => {
  const out = lines(crudOut);
  const tail = out.filter((l) => JSON.parse(l).in >= 20);
  assert.ok(tail.length > 0 && tail.length < out.length);
  const r = compareEvents(crudJournal, crudOut, unlines(tail), { fromLine: 20 });
  assert.deepEqual(r.differences, []);
  assert.equal(r.summary, `events: ${tail.length} expected, ${tail.length} actual, 0 differ`);
  // Without fromLine the missing head is a difference; a changed tail event still is one.
  assert.ok(compareEvents(crudJournal, crudOut, unlines(tail)).differences.length > 0);
  const changed = tail.map((l, i) => i === 0 ? l.replace('"via":', '"via":"x","v":') : l);
  assert.equal(
    compareEvents(crudJournal, crudOut, unlines(changed), { fromLine: 20 }).differences.length,
    1,
  );
});

Deno.test("a dropped event is reported", () => {
  const out = lines(crudOut);
  out.splice(10, 1);
  const r = compareEvents(crudJournal, crudOut, unlines(out));
  assert.ok(r.differences.length > 0);
  assert.match(r.summary, /^events: 47 expected, 46 actual, [1-9]\d* differ$/);
  assert.match(r.differences.at(-1)!, /actual: {3}<missing>$/);
});

Deno.test("an extra event is reported", () => {
  const out = lines(crudOut);
  out.push(out[1].replace('"in":1,', '"in":31,'));
  const r = compareEvents(crudJournal, crudOut, unlines(out));
  assert.equal(r.differences.length, 1);
  assert.match(r.differences[0], /^event 48 differs:\n {2}expected: <missing>\n/);
});

Deno.test("an event sent to another module is reported", () => {
  const out = lines(crudOut);
  assert.match(out[0], /"to":"edged"/);
  out[0] = out[0].replace('"to":"edged"', '"to":"edgefunction"');
  assert.equal(compareEvents(crudJournal, crudOut, unlines(out)).differences.length, 1);
});

Deno.test("swapping two events of one ordinary journal line is reported", () => {
  const out = lines(crudOut);
  [out[0], out[1]] = [out[1].replace('"seq":2', '"seq":1'), out[0].replace('"seq":1', '"seq":2')];
  assert.equal(compareEvents(crudJournal, crudOut, unlines(out)).differences.length, 2);
});

Deno.test("reordering the messages of one meta-internal-sync line is still equal", () => {
  const out = lines(miscOut);
  const i = out.findIndex((l) => l.startsWith('{"in":8,"seq":1,'));
  assert.ok(
    i >= 0 && out[i + 1].startsWith('{"in":8,"seq":2,'),
    "misc line 8 syncs two namespaces",
  );
  const first = out[i], second = out[i + 1];
  out[i] = second.replace('"seq":2', '"seq":1');
  out[i + 1] = first.replace('"seq":1', '"seq":2');
  const r = compareEvents(miscJournal, miscOut, unlines(out));
  assert.deepEqual(r.differences, []);
});

Deno.test("a sync message with other content is reported even after sorting", () => {
  const out = lines(miscOut);
  const i = out.findIndex((l) => l.startsWith('{"in":8,"seq":2,'));
  assert.match(out[i], /"resource":"monitoring\/podstatus"/);
  out[i] = out[i].replace(
    '"resource":"monitoring/podstatus"',
    '"resource":"kube-system/podstatus"',
  );
  assert.ok(compareEvents(miscJournal, miscOut, unlines(out)).differences.length > 0);
});

Deno.test("fresh ids renamed consistently are still equal", () => {
  const ids = freshIds(crudOut);
  assert.ok(ids.length > 10);
  const renamed = new Map(ids.map((id) => [id, crypto.randomUUID()]));
  const actual = renameIds(crudOut, (id) => renamed.get(id) ?? id);
  assert.notEqual(actual, crudOut);
  assert.deepEqual(compareEvents(crudJournal, crudOut, actual).differences, []);
});

Deno.test("one fresh id reused where the reference has a new one is reported", () => {
  const [a, b] = freshIds(crudOut);
  const out = lines(crudOut);
  assert.ok(out[3].includes(`"msg_id":"${b}"`), "the second fresh id is event 4's");
  const r = compareEvents(crudJournal, crudOut, renameIds(crudOut, (id) => id === b ? a : id));
  assert.equal(
    r.differences[0],
    [
      "event 4 differs:",
      `  expected: ${normalisedOk(2, "default/configmap/app-config", "N2")}`,
      `  actual:   ${normalisedOk(2, "default/configmap/app-config", "N1")}`,
    ].join("\n"),
  );
});

Deno.test("a journal id replaced by a fresh one is reported", () => {
  const out = lines(crudOut);
  assert.match(out[1], /"parent_msg_id":"crud-0001"/);
  out[1] = out[1].replace(
    '"parent_msg_id":"crud-0001"',
    `"parent_msg_id":"${crypto.randomUUID()}"`,
  );
  const r = compareEvents(crudJournal, crudOut, unlines(out));
  assert.ok(r.differences.length > 0);
  assert.match(r.differences[0], /^event 2 differs:\n {2}expected: .*"parent_msg_id":"J1"/);
});

Deno.test("a fresh timestamp is NOW whatever its value, a journal timestamp is not", () => {
  const out = lines(crudOut);
  const fresh = out[1].match(/"timestamp":(\d+)/)![1];
  const changedFresh = [...out];
  changedFresh[1] = out[1].replace(`"timestamp":${fresh}`, '"timestamp":42');
  assert.deepEqual(compareEvents(crudJournal, crudOut, unlines(changedFresh)).differences, []);

  const changedOwn = [...out];
  const i = out.findIndex((l) => l.startsWith('{"in":17,"seq":1,'));
  assert.match(out[i], /"timestamp":1644300017000/);
  changedOwn[i] = out[i].replace('"timestamp":1644300017000', '"timestamp":1644300018000');
  const r = compareEvents(crudJournal, crudOut, unlines(changedOwn));
  assert.equal(r.differences.length, 1);
  assert.match(r.differences[0], /expected: .*"timestamp":"J17".*\n.*actual: .*"timestamp":"J18"/);
});

// A small journal and outputs written for the rules on JSON values and special lines.
const tinyJournal = unlines([
  '{"header":{"msg_id":"t-1","timestamp":1000},"route":{"source":"edgecontroller","operation":"insert","resource":"d/pod/a"},"content":{}}',
  "{not json",
]);

function tinyEvent(content: string, extraHeader = ""): string {
  return `{"in":1,"seq":1,"via":"send","to":"edged","message":{"header":{"msg_id":"t-1","timestamp":1000${extraHeader}},"route":{"source":"edgecontroller","operation":"insert","resource":"d/pod/a"},"content":${content}}}`;
}

Deno.test("content is compared by JSON value: key order, spacing, escaping and number spelling", () => {
  const expected = tinyEvent('{"a":1,"b":"<x>","n":[1.5,2],"s":"{\\"x\\": 1}"}');
  const actual = tinyEvent(
    '{ "s":"{\\"x\\":1.0}", "n":[1.50,2.0e0], "b":"\\u003cx\\u003e", "a":1e0 }',
  );
  assert.deepEqual(compareEvents(tinyJournal, expected, actual).differences, []);
  const other = tinyEvent('{"a":1,"b":"<x>","n":[1.5,2],"s":"{\\"x\\": 2}"}');
  assert.equal(compareEvents(tinyJournal, expected, other).differences.length, 1);
});

Deno.test("empty header fields, an empty destination and content_bytes are ignored", () => {
  const expected = tinyEvent('"OK"');
  const actual = tinyEvent(
    '"OK"',
    ',"parent_msg_id":"","resourceversion":"","type":"","sync":false',
  )
    .replace('"route":{', '"route":{"destination":"",')
    .replace('"seq":1,', '"seq":1,"content_bytes":2,');
  assert.deepEqual(compareEvents(tinyJournal, expected, actual).differences, []);
  const synced = tinyEvent('"OK"', ',"sync":true');
  assert.equal(compareEvents(tinyJournal, expected, synced).differences.length, 1);
});

Deno.test("panic lines compare by presence only", () => {
  const expected = unlines([
    '{"in":1,"panic":"Inject: list item 1 has neither apiVersion nor kind"}',
  ]);
  const otherText = unlines(['{"in":1,"panic":"runtime error: invalid memory address"}']);
  assert.deepEqual(compareEvents(tinyJournal, expected, otherText).differences, []);
  const none = compareEvents(tinyJournal, expected, "");
  assert.equal(none.summary, "events: 1 expected, 0 actual, 1 differ");
});

Deno.test("error lines compare by presence only", () => {
  const expected = unlines(['{"in":2,"error":"line 2: message: invalid JSON"}']);
  const otherText = unlines(['{"in":2,"error":"something else entirely"}']);
  assert.deepEqual(compareEvents(tinyJournal, expected, otherText).differences, []);
  const elsewhere = unlines(['{"in":1,"error":"line 2: message: invalid JSON"}']);
  assert.equal(compareEvents(tinyJournal, expected, elsewhere).differences.length, 1);
});

Deno.test("an event file that is not NDJSON makes the comparison throw", () => {
  assert.throws(() => compareEvents(tinyJournal, tinyEvent("null"), "{oops\n"), SyntaxError);
});

// ---- database dumps --------------------------------------------------------------------

interface DumpRow {
  key: string;
  value: string;
  type?: string;
  resourceversion?: number | string;
}

interface TestDump {
  meta: DumpRow[];
  meta_v2: DumpRow[];
}

const crudDb = read("crud.db.json");

function crudDump(): TestDump {
  return JSON.parse(crudDb) as TestDump;
}

Deno.test("a reference dump compared with itself (re-serialised) is equal", () => {
  const r = compareDb(crudDb, JSON.stringify(crudDump()));
  assert.deepEqual(r.differences, []);
  assert.equal(r.summary, "db: 16 rows, 0 differ");
});

Deno.test("a changed meta value is reported under its table and key", () => {
  const dump = crudDump();
  const row = dump.meta.find((r) => r.key === "default/configmap/app-config")!;
  row.value = row.value.replace("setting.0=value-1018", "setting.0=value-9999");
  const r = compareDb(crudDb, JSON.stringify(dump));
  assert.equal(r.differences.length, 1);
  assert.match(
    r.differences[0],
    /^meta\[default\/configmap\/app-config\]:\n {2}expected: .*\n {2}actual: {3}.*value-9999/,
  );
  assert.equal(r.summary, "db: 16 rows, 1 differ");
});

Deno.test("a missing row and an extra row are reported", () => {
  const dump = crudDump();
  const removed = dump.meta_v2.shift()!;
  dump.meta.push({ key: "zz/extra", type: "extra", value: "null" });
  const r = compareDb(crudDb, JSON.stringify(dump));
  assert.equal(r.differences.length, 2);
  assert.ok(
    r.differences.some((d) =>
      d.startsWith(`meta_v2[${removed.key}]`) && d.endsWith("actual:   null")
    ),
  );
  assert.ok(r.differences.some((d) => d.startsWith("meta[zz/extra]:\n  expected: null")));
  assert.equal(r.summary, "db: 17 rows, 2 differ");
});

Deno.test("a value holding the same JSON spelled differently is equal, other columns are exact", () => {
  const dump = crudDump();
  for (const row of [...dump.meta, ...dump.meta_v2]) {
    if (row.value.startsWith("{")) row.value = JSON.stringify(JSON.parse(row.value), null, 2);
  }
  assert.deepEqual(compareDb(crudDb, JSON.stringify(dump)).differences, []);

  const retyped = crudDump();
  retyped.meta[0].type = retyped.meta[0].type!.toUpperCase();
  retyped.meta_v2[0].resourceversion = String(retyped.meta_v2[0].resourceversion);
  assert.equal(compareDb(crudDb, JSON.stringify(retyped)).differences.length, 2);
});
