/**
 * KubeEdge wire JSON in and out (spec/message.md §1.1, §1.4): parseMessage + toWire on
 * every message of the reference journals and event files, decoding rules, errors, and
 * the response / error constructors.
 */
import assert from "node:assert/strict";
import { parseMessage, WireError } from "../src/beehive/wire.ts";
import { goCompact } from "../src/beehive/go_json.ts";
import {
  buildRouter,
  Content,
  emptyHeader,
  emptyRoute,
  type Identity,
  type Message,
  newErrorMessage,
  newMessage,
  newRespByMessage,
  toWire,
} from "../src/beehive/message.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);

// ---------------------------------------------------------------------------------------
// A tiny independent JSON scanner: the source span of every value, and of every member of
// every object, so that raw content text can be compared byte for byte.

interface Span {
  start: number;
  end: number;
  /** Members of an object (key decoded), null for anything else. */
  members: Map<string, Span> | null;
}

function ws(t: string, i: number): number {
  while (i < t.length && " \t\n\r".includes(t[i])) i++;
  return i;
}

function scan(t: string, from = 0): Span {
  const start = ws(t, from);
  const c = t[start];
  if (c === "{" || c === "[") {
    const members = c === "{" ? new Map<string, Span>() : null;
    const close = c === "{" ? "}" : "]";
    let i = ws(t, start + 1);
    if (t[i] === close) return { start, end: i + 1, members };
    for (;;) {
      if (members) {
        const key = scan(t, i);
        const name = JSON.parse(t.slice(key.start, key.end)) as string;
        i = ws(t, key.end);
        assert.equal(t[i], ":", `scanner: expected ':' at ${i}`);
        const value = scan(t, i + 1);
        members.set(name, value);
        i = ws(t, value.end);
      } else {
        i = ws(t, scan(t, i).end);
      }
      if (t[i] === ",") {
        i = ws(t, i + 1);
        continue;
      }
      assert.equal(t[i], close, `scanner: expected '${close}' at ${i}`);
      return { start, end: i + 1, members };
    }
  }
  if (c === '"') {
    let j = start + 1;
    while (t[j] !== '"') j += t[j] === "\\" ? 2 : 1;
    return { start, end: j + 1, members: null };
  }
  let j = start;
  while (j < t.length && /[-+.0-9a-zA-Z]/.test(t[j])) j++;
  return { start, end: j, members: null };
}

function text(t: string, s: Span | undefined): string | undefined {
  return s === undefined ? undefined : t.slice(s.start, s.end);
}

/** Go's encoding of a string, written independently of src/. */
function goStringRef(s: string): string {
  return JSON.stringify(s).replace(
    /[<>&\u2028\u2029]/g,
    (ch) => "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0"),
  );
}

const HEADER_ORDER = ["msg_id", "parent_msg_id", "timestamp", "resourceversion", "sync", "type"];
const ROUTE_ORDER = ["source", "destination", "group", "operation", "resource"];

type Obj = Record<string, unknown>;

/** The wire JSON Go would emit for a decoded input message (omitempty rules of §1.1). */
function expectedWire(input: Obj): Obj {
  const h = (input.header ?? {}) as Obj;
  const r = (input.route ?? {}) as Obj;
  const header: Obj = { msg_id: h.msg_id ?? "" };
  if (h.parent_msg_id) header.parent_msg_id = h.parent_msg_id;
  header.timestamp = h.timestamp ?? 0;
  if (h.resourceversion) header.resourceversion = h.resourceversion;
  if (h.sync === true) header.sync = true;
  if (h.type) header.type = h.type;
  const route: Obj = {};
  for (const k of ROUTE_ORDER) if (r[k]) route[k] = r[k];
  return { header, route, content: input.content ?? null };
}

interface Checked {
  messages: number;
  strings: number;
  bytes: number;
  nulls: number;
}

/** Round-trips one message given as raw text; returns the content kind. */
function checkRoundTrip(raw: string, where: string): "string" | "bytes" | "null" {
  const msg = parseMessage(raw);
  const wire = toWire(msg);
  const input = JSON.parse(raw) as Obj;
  const output = JSON.parse(wire) as Obj;
  const expected = expectedWire(input);
  assert.deepEqual(output, expected, `${where}: value differs`);
  assert.deepEqual(Object.keys(output), ["header", "route", "content"], where);
  assert.deepEqual(
    Object.keys(output.header as Obj),
    HEADER_ORDER.filter((k) => k in (expected.header as Obj)),
    `${where}: header key order`,
  );
  assert.deepEqual(
    Object.keys(output.route as Obj),
    ROUTE_ORDER.filter((k) => k in (expected.route as Obj)),
    `${where}: route key order`,
  );
  const inContent = text(raw, scan(raw).members!.get("content"));
  const outContent = text(wire, scan(wire).members!.get("content"));
  if (inContent === undefined || inContent === "null") {
    assert.equal(outContent, "null", where);
    return "null";
  }
  if (inContent.startsWith('"')) {
    assert.equal(outContent, goStringRef(JSON.parse(inContent)), `${where}: string content`);
    return "string";
  }
  // Go embeds raw JSON bytes compacted and HTML-escaped (json.Compact in json.Marshal).
  assert.equal(outContent, goCompact(inContent), `${where}: content bytes`);
  assert.equal(msg.content.data(), inContent, `${where}: content data kept as received`);
  assert.equal(msg.content.bytes, true, where);
  return "bytes";
}

function count(c: Checked, kind: "string" | "bytes" | "null"): void {
  c.messages++;
  if (kind === "string") c.strings++;
  else if (kind === "bytes") c.bytes++;
  else c.nulls++;
}

function lines(path: URL): string[] {
  return Deno.readTextFileSync(path).split("\n").filter((l) => l.trim() !== "");
}

function journalFiles(): URL[] {
  const dir = new URL("journals/", FIXTURES);
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
    n.endsWith(".ndjson") && !n.endsWith(".out.ndjson")
  ).sort();
  return [
    ...names.map((n) => new URL(n, dir)),
    new URL("edgecore-db/edgecore-fixture.journal.ndjson", FIXTURES),
  ];
}

function eventFiles(): URL[] {
  const dir = new URL("journals/", FIXTURES);
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".out.ndjson"))
    .sort().map((n) => new URL(n, dir));
}

// ---------------------------------------------------------------------------------------

Deno.test("fixtures: every journal line round-trips through parseMessage/toWire", () => {
  const files = journalFiles();
  assert.equal(files.length, 7);
  const total: Checked = { messages: 0, strings: 0, bytes: 0, nulls: 0 };
  for (const file of files) {
    const ls = lines(file);
    assert.ok(ls.length > 0, file.pathname);
    ls.forEach((line, i) => count(total, checkRoundTrip(line, `${file.pathname}:${i + 1}`)));
  }
  // 30 + 20 + 21 + 300 + 300 + 22 journal lines, 52 in the edgecore-db journal.
  assert.equal(total.messages, 745);
  assert.ok(total.strings > 0 && total.bytes > 0 && total.nulls > 0, JSON.stringify(total));
});

Deno.test("fixtures: every message/reply of every event line round-trips", () => {
  const files = eventFiles();
  assert.equal(files.length, 6);
  const total: Checked = { messages: 0, strings: 0, bytes: 0, nulls: 0 };
  let replies = 0;
  for (const file of files) {
    lines(file).forEach((line, i) => {
      const where = `${file.pathname}:${i + 1}`;
      const members = scan(line).members!;
      assert.ok(members.has("message"), `${where}: event without message`);
      for (const field of ["message", "reply"]) {
        const span = members.get(field);
        if (span === undefined) continue;
        if (field === "reply") replies++;
        count(total, checkRoundTrip(line.slice(span.start, span.end), `${where} ${field}`));
      }
    });
  }
  assert.equal(replies, 50);
  assert.equal(total.messages, 1180 + 50);
  assert.ok(total.strings > 0 && total.bytes > 0 && total.nulls > 0, JSON.stringify(total));
});

Deno.test("fixtures: a sync request header with parent id round-trips in Go key order", () => {
  // remote.ndjson line 17 lists its header keys out of Go order.
  const line = lines(new URL("journals/remote.ndjson", FIXTURES))[16];
  assert.ok(line.includes('"timestamp":1644300017000,"parent_msg_id":"req-parent-xyz"'));
  const wire = toWire(parseMessage(line));
  assert.ok(
    wire.startsWith(
      '{"header":{"msg_id":"remote-0017","parent_msg_id":"req-parent-xyz",' +
        '"timestamp":1644300017000,"sync":true},"route":{"source":"edged","group":"meta",' +
        '"operation":"query","resource":"default/secret/unknown-secret-2"},"content":null}',
    ),
    wire,
  );
});

// ---------------------------------------------------------------------------------------

const FULL =
  '{"header":{"msg_id":"m1","parent_msg_id":"p1","timestamp":1644300000123,"resourceversion":"1001",' +
  '"sync":true,"type":"channel"},"route":{"source":"edgecontroller","destination":"edged",' +
  '"group":"resource","operation":"insert","resource":"default/pod/nginx"},' +
  '"content":{"kind":"Pod","apiVersion":"v1"}}';

Deno.test("parseMessage: every header and route field", () => {
  const m = parseMessage(FULL);
  assert.deepEqual(m.header, {
    msgId: "m1",
    parentMsgId: "p1",
    timestamp: 1644300000123,
    resourceVersion: "1001",
    sync: true,
    type: "channel",
  });
  assert.deepEqual(m.route, {
    source: "edgecontroller",
    destination: "edged",
    group: "resource",
    operation: "insert",
    resource: "default/pod/nginx",
  });
  assert.equal(m.content.json, '{"kind":"Pod","apiVersion":"v1"}');
  assert.deepEqual(m.content.value(), { kind: "Pod", apiVersion: "v1" });
});

Deno.test("toWire: full message in Go field order, content unchanged", () => {
  assert.equal(toWire(parseMessage(FULL)), FULL);
});

Deno.test("toWire: empty fields are omitted as Go's omitempty does", () => {
  const m: Message = { header: emptyHeader(), route: emptyRoute(), content: Content.NULL };
  assert.equal(toWire(m), '{"header":{"msg_id":"","timestamp":0},"route":{},"content":null}');
  const only = {
    ...m,
    header: { ...emptyHeader(), msgId: "x", type: "channel" },
    route: { ...emptyRoute(), resource: "r" },
  };
  assert.equal(
    toWire(only),
    '{"header":{"msg_id":"x","timestamp":0,"type":"channel"},"route":{"resource":"r"},"content":null}',
  );
  const noSync = parseMessage(
    '{"header":{"msg_id":"a","parent_msg_id":"","resourceversion":"","sync":false,"type":""},' +
      '"route":{"source":"","destination":"","group":"g","operation":"","resource":""}}',
  );
  assert.equal(
    toWire(noSync),
    '{"header":{"msg_id":"a","timestamp":0},"route":{"group":"g"},"content":null}',
  );
});

Deno.test("parseMessage: keys match case-insensitively at every level", () => {
  const m = parseMessage(
    '{"Header":{"MSG_ID":"x","Parent_Msg_Id":"p","TimeStamp":7,"ResourceVersion":"9","SYNC":true,' +
      '"Type":"t"},"ROUTE":{"Source":"s","DESTINATION":"d","Group":"g","OPERATION":"o",' +
      '"Resource":"r"},"CONTENT":[1,2]}',
  );
  assert.deepEqual(m.header, {
    msgId: "x",
    parentMsgId: "p",
    timestamp: 7,
    resourceVersion: "9",
    sync: true,
    type: "t",
  });
  assert.deepEqual(m.route, {
    source: "s",
    destination: "d",
    group: "g",
    operation: "o",
    resource: "r",
  });
  assert.equal(m.content.json, "[1,2]");
  assert.equal(
    toWire(m),
    '{"header":{"msg_id":"x","parent_msg_id":"p","timestamp":7,"resourceversion":"9","sync":true,' +
      '"type":"t"},"route":{"source":"s","destination":"d","group":"g","operation":"o",' +
      '"resource":"r"},"content":[1,2]}',
  );
});

Deno.test("parseMessage: unknown keys are ignored, even with odd values", () => {
  const m = parseMessage(
    '{"extra":[1,{"x":"}"}],"header":{"msg_id":"a","timestamp":3,"bogus":{"y":1},"msgid":5},' +
      '"route":{"source":"s","unknown":false},"more":null,"content":"c"}',
  );
  assert.equal(m.header.msgId, "a");
  assert.equal(m.header.timestamp, 3);
  assert.equal(m.route.source, "s");
  assert.equal(
    toWire(m),
    '{"header":{"msg_id":"a","timestamp":3},"route":{"source":"s"},"content":"c"}',
  );
});

Deno.test("parseMessage: null or missing header, route, content and fields give zero values", () => {
  for (
    const input of [
      '{"header":null,"route":null,"content":null}',
      "{}",
      '{"header":{"msg_id":null,"parent_msg_id":null,"timestamp":null,"resourceversion":null,' +
      '"sync":null,"type":null},"route":{"source":null,"destination":null,"group":null,' +
      '"operation":null,"resource":null}}',
    ]
  ) {
    const m = parseMessage(input);
    assert.deepEqual(m.header, emptyHeader(), input);
    assert.deepEqual(m.route, emptyRoute(), input);
    assert.equal(m.content, Content.NULL, input);
    assert.equal(
      toWire(m),
      '{"header":{"msg_id":"","timestamp":0},"route":{},"content":null}',
      input,
    );
  }
});

Deno.test("parseMessage: wrong types are WireErrors naming the field", () => {
  const cases: [string, string][] = [
    ['{"header":{"msg_id":1}}', "header.msg_id"],
    ['{"header":{"msg_id":["a"]}}', "header.msg_id"],
    ['{"header":{"parent_msg_id":true}}', "header.parent_msg_id"],
    ['{"header":{"timestamp":"1644300000123"}}', "header.timestamp"],
    ['{"header":{"timestamp":1.5}}', "header.timestamp"],
    ['{"header":{"timestamp":false}}', "header.timestamp"],
    ['{"header":{"resourceversion":1001}}', "header.resourceversion"],
    ['{"header":{"sync":"true"}}', "header.sync"],
    ['{"header":{"sync":1}}', "header.sync"],
    ['{"header":{"type":{}}}', "header.type"],
    ['{"route":{"source":[]}}', "route.source"],
    ['{"route":{"destination":1}}', "route.destination"],
    ['{"route":{"group":false}}', "route.group"],
    ['{"route":{"operation":{"a":1}}}', "route.operation"],
    ['{"route":{"resource":5}}', "route.resource"],
    ['{"Route":{"Resource":5}}', "route.resource"],
    ['{"header":"abc"}', "header"],
    ['{"header":[1]}', "header"],
    ['{"header":5}', "header"],
    ['{"route":true}', "route"],
    ['{"route":[]}', "route"],
  ];
  for (const [input, field] of cases) {
    assert.throws(
      () => parseMessage(input),
      (e: unknown) => {
        assert.ok(e instanceof WireError, `${input}: ${e}`);
        assert.equal(e.field, field, input);
        assert.equal(e.name, "WireError");
        assert.ok(e.message.startsWith(`${field}: `), e.message);
        assert.ok(e.reason.length > 0);
        return true;
      },
      input,
    );
  }
});

Deno.test("parseMessage: invalid JSON and non-object top level are rejected", () => {
  for (
    const input of [
      "",
      "{",
      "not json",
      '{"header":{}} trailing',
      '{"header":{"msg_id":"a",}}',
      "[]",
      '[{"header":{}}]',
      '"a string"',
      "42",
      "true",
      "null",
    ]
  ) {
    assert.throws(
      () => parseMessage(input),
      (e: unknown) => {
        assert.ok(e instanceof WireError, `${JSON.stringify(input)}: ${e}`);
        assert.equal(e.field, "message", input);
        return true;
      },
      input,
    );
  }
  assert.throws(() => parseMessage("{"), /invalid JSON/);
  assert.throws(() => parseMessage("[]"), /expected a JSON object, got array/);
});

Deno.test("string content is re-encoded Go-style", () => {
  const m = parseMessage('{"header":{"msg_id":"m","timestamp":1},"route":{},"content":"a<b"}');
  assert.equal(m.content.bytes, false);
  assert.equal(m.content.json, '"a\\u003cb"');
  assert.equal(m.content.data(), '"a\\u003cb"');
  assert.ok(m.content.isString("a<b"));
  assert.equal(
    toWire(m),
    '{"header":{"msg_id":"m","timestamp":1},"route":{},"content":"a\\u003cb"}',
  );
  // Escapes in the input are decoded and re-encoded the Go way.
  const e = parseMessage('{"content":"\\u00e9 \\u003e \\/ \\u2028"}');
  assert.equal(e.content.json, '"é \\u003e / \\u2028"');
  assert.equal(parseMessage('{"content":"OK"}').content.json, '"OK"');
});

Deno.test("object, array, number and boolean content is kept as received", () => {
  const cases = [
    '{"b":1,"a":"<x>"}',
    '[1, 2.50 ,{"b":1,"a":2}]',
    "12345678901234567890",
    "42.50",
    "-0",
    "1e3",
    "true",
    "false",
    "{}",
    "[]",
  ];
  for (const c of cases) {
    const m = parseMessage(`{"header":{"msg_id":"m"},"content": ${c} }`);
    assert.equal(m.content.json, c);
    assert.equal(m.content.bytes, true, c);
    assert.equal(m.content.data(), c);
    assert.ok(toWire(m).endsWith(`,"content":${goCompact(c)}}`), c);
  }
  // On the wire Go compacts and HTML-escapes embedded raw JSON; the stored data is as received.
  const m = parseMessage('{"content": {"b":1, "a":"<x>"} }');
  assert.equal(m.content.data(), '{"b":1, "a":"<x>"}');
  assert.ok(toWire(m).endsWith(',"content":{"b":1,"a":"\\u003cx\\u003e"}}'), toWire(m));
});

Deno.test("content scanning survives tricky strings and any member order", () => {
  const raw = String.raw`{"content":{"a":"}\"]","b":"x\\","c":["{",{"d":"\\\""}]},` +
    String.raw`"header":{"msg_id":"q","timestamp":2},"route":{"resource":"r"}}`;
  const content = String.raw`{"a":"}\"]","b":"x\\","c":["{",{"d":"\\\""}]}`;
  const m = parseMessage(raw);
  assert.equal(m.content.json, content);
  assert.deepEqual(m.content.value(), { a: '}"]', b: "x\\", c: ["{", { d: '\\"' }] });
  assert.equal(
    toWire(m),
    `{"header":{"msg_id":"q","timestamp":2},"route":{"resource":"r"},"content":${content}}`,
  );
});

Deno.test("pretty-printed input parses to the same message", () => {
  const pretty = JSON.stringify(JSON.parse(FULL), null, 2);
  assert.ok(pretty.includes("\n"));
  const m = parseMessage(pretty);
  assert.deepEqual(m.header, parseMessage(FULL).header);
  assert.deepEqual(m.route, parseMessage(FULL).route);
  assert.deepEqual(m.content.value(), { kind: "Pod", apiVersion: "v1" });
});

// ---------------------------------------------------------------------------------------

function fixedIds(): Identity {
  let n = 0;
  return { newId: () => `new-${++n}`, now: () => 1_700_000_000_000 };
}

const REQUEST: Message = {
  header: {
    msgId: "req-1",
    parentMsgId: "req-parent",
    timestamp: 1644300000000,
    resourceVersion: "1001",
    sync: true,
    type: "channel",
  },
  route: {
    source: "edged",
    destination: "metaManager",
    group: "meta",
    operation: "query",
    resource: "default/pod/nginx",
  },
  content: Content.of({ a: 1 }),
};

Deno.test("newRespByMessage: fields of spec §1.4", () => {
  const resp = newRespByMessage(REQUEST, Content.of("OK"), fixedIds());
  assert.deepEqual(resp.header, {
    msgId: "new-1",
    parentMsgId: "req-1",
    timestamp: 1_700_000_000_000,
    resourceVersion: "",
    sync: false,
    type: "channel",
  });
  assert.deepEqual(resp.route, {
    source: "edged",
    destination: "",
    group: "meta",
    operation: "response",
    resource: "default/pod/nginx",
  });
  assert.ok(resp.content.isString("OK"));
  assert.equal(
    toWire(resp),
    '{"header":{"msg_id":"new-1","parent_msg_id":"req-1","timestamp":1700000000000,' +
      '"type":"channel"},"route":{"source":"edged","group":"meta","operation":"response",' +
      '"resource":"default/pod/nginx"},"content":"OK"}',
  );
  // The request is not modified.
  assert.equal(REQUEST.route.operation, "query");
  assert.equal(REQUEST.header.sync, true);
});

Deno.test("newErrorMessage: fields of spec §1.4 (parent = the request's parent id)", () => {
  const err = newErrorMessage(REQUEST, "boom <x>", REQUEST.header.parentMsgId, fixedIds());
  assert.deepEqual(err.header, {
    msgId: "new-1",
    parentMsgId: "req-parent",
    timestamp: 1_700_000_000_000,
    resourceVersion: "",
    sync: false,
    type: "",
  });
  assert.deepEqual(err.route, {
    source: "",
    destination: "",
    group: "",
    operation: "error",
    resource: "default/pod/nginx",
  });
  assert.ok(err.content.isString("boom <x>"));
  assert.equal(err.content.bytes, false);
  assert.equal(
    toWire(err),
    '{"header":{"msg_id":"new-1","parent_msg_id":"req-parent","timestamp":1700000000000},' +
      '"route":{"operation":"error","resource":"default/pod/nginx"},' +
      '"content":"boom \\u003cx\\u003e"}',
  );
  // A fixed-mode caller may pass the request's own id instead.
  assert.equal(newErrorMessage(REQUEST, "x", "req-1", fixedIds()).header.parentMsgId, "req-1");
});

Deno.test("newMessage and buildRouter", () => {
  const m = buildRouter(
    newMessage("parent-9", fixedIds()),
    "metaManager",
    "resource",
    "default/podstatus",
    "update",
  );
  assert.equal(
    toWire(m),
    '{"header":{"msg_id":"new-1","parent_msg_id":"parent-9","timestamp":1700000000000},' +
      '"route":{"source":"metaManager","group":"resource","operation":"update",' +
      '"resource":"default/podstatus"},"content":null}',
  );
});

Deno.test("keys match Go struct fields with Unicode folding (ſ is s), any case, on every path", () => {
  const line =
    '{"HEADER":{"MSG_ID":"a","ſync":true,"Type":"t"},"Route":{"ſource":"edged","OPERATION":"insert","resource":"r"},"CONTENT":{"k":1}}';
  for (const transport of ["raw", "websocket"] as const) {
    const m = parseMessage(line, transport);
    assert.equal(m.header.msgId, "a", transport);
    assert.equal(m.header.sync, true, transport);
    assert.equal(m.header.type, "t", transport);
    assert.equal(m.route.source, "edged", transport);
    assert.equal(m.route.operation, "insert", transport);
    assert.equal(m.content.json, '{"k":1}', transport);
  }
  // An ASCII key that is not a field's name in any case is ignored, and K (U+212A) folds to k.
  const other = parseMessage('{"header":{"msg_id":"b","msgid":"x"},"route":{"\u212a":"y"}}');
  assert.equal(other.header.msgId, "b");
});
