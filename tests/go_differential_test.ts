/**
 * The decoder, the encoder and the case mapping against Go's own answers
 * (fixtures/go-encoding-json, written by Go's standard library with KubeEdge v1.10's message
 * structs; its README says how): every line of each corpus must decode, be refused, marshal
 * and lower-case exactly as Go does.
 */

import assert from "node:assert/strict";
import { parseMessage, type Transport } from "../src/beehive/wire.ts";
import { decodeUtf8Go } from "../src/beehive/go_decode.ts";
import { decodeObject, rowForObject } from "../src/store/meta_v2.ts";
import { goToLower } from "../src/store/key.ts";

const DIR = new URL("../fixtures/go-encoding-json/", import.meta.url);

/** Lines of a file split on `\n` only, decoded as Go reads bytes. */
function lines(name: string): string[] {
  const bytes = Deno.readFileSync(new URL(name, DIR));
  const out: string[] = [];
  for (let s = 0; s < bytes.length;) {
    let e = bytes.indexOf(0x0a, s);
    if (e < 0) e = bytes.length;
    out.push(decodeUtf8Go(bytes.subarray(s, e)));
    s = e + 1;
  }
  return out;
}

interface GoResult {
  error?: string;
  header?: Record<string, unknown>;
  route?: Record<string, string>;
  data?: string;
  bytes?: boolean;
}

/** Go's view of what we decoded (its omitempty rules, timestamp as an exact integer text). */
function ours(line: string, transport: Transport): GoResult & { timestamp?: string } {
  let m;
  try {
    m = parseMessage(line, transport);
  } catch (e) {
    return { error: (e as Error).message };
  }
  const header: Record<string, unknown> = { msg_id: m.header.msgId };
  if (m.header.parentMsgId) header.parent_msg_id = m.header.parentMsgId;
  if (m.header.resourceVersion) header.resourceversion = m.header.resourceVersion;
  if (m.header.sync) header.sync = true;
  if (m.header.type) header.type = m.header.type;
  const route: Record<string, string> = {};
  for (const k of ["source", "destination", "group", "operation", "resource"] as const) {
    if (m.route[k]) route[k] = m.route[k];
  }
  return {
    header,
    route,
    data: m.content.data(),
    bytes: m.content.bytes,
    timestamp: String(m.header.timestamp),
  };
}

/** Go's result line, its timestamp kept as the exact integer text. */
function goResult(text: string): GoResult & { timestamp?: string } {
  const timestamp = /"timestamp":(-?\d+)/.exec(text)?.[1];
  const r = JSON.parse(text) as GoResult;
  if (r.error !== undefined) return { error: r.error };
  const header = { ...r.header };
  delete header.timestamp;
  return { header, route: r.route, data: r.data, bytes: r.bytes, timestamp };
}

function compareCorpus(input: string, expected: string, transport: Transport): void {
  const inputs = lines(input), go = lines(expected);
  if (inputs.at(-1) === "") inputs.pop();
  if (go.at(-1) === "") go.pop();
  assert.equal(inputs.length, go.length, `${expected} answers every line of ${input}`);
  const differences: string[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const want = goResult(go[i]), got = ours(inputs[i], transport);
    if ("error" in want || "error" in got) {
      if (("error" in want) !== ("error" in got)) {
        differences.push(
          `line ${i + 1}: Go ${want.error ?? "accepts it"}, we ${got.error ?? "accept it"}`,
        );
      }
      continue;
    }
    try {
      assert.deepEqual(got, want);
    } catch {
      differences.push(
        `line ${i + 1}: ${JSON.stringify(got).slice(0, 300)} vs Go ${go[i].slice(0, 300)}`,
      );
    }
  }
  assert.deepEqual(differences, [], `${differences.length} lines of ${input} differ from Go`);
}

Deno.test("messages decode as KubeEdge v1.10's websocket transport does (Go encoding/json into model.Message, content re-marshalled)", () => {
  compareCorpus("messages.ndjson", "messages.websocket.go.ndjson", "websocket");
});

Deno.test("messages decode as text (--transport raw) as Go's json.Unmarshal of the trimmed line does", () => {
  compareCorpus("messages.ndjson", "messages.raw.go.ndjson", "raw");
});

Deno.test("bytes that are not UTF-8 become one U+FFFD each, as Go reads them", () => {
  compareCorpus("invalid_utf8.ndjson", "invalid_utf8.websocket.go.ndjson", "websocket");
  // a truncated sequence is one replacement per byte, not one per sequence (TextDecoder)
  assert.equal(decodeUtf8Go(new Uint8Array([0x61, 0xe2, 0x82, 0x62])), "a\ufffd\ufffdb");
  assert.equal(decodeUtf8Go(new Uint8Array([0xf0, 0x9f, 0x98])), "\ufffd\ufffd\ufffd");
  assert.equal(decodeUtf8Go(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b])), "\ufeff{", "BOM kept");
});

Deno.test("meta_v2 values are what apimachinery's unstructured codec writes for each content", () => {
  const inputs = lines("metav2_contents.txt"), go = lines("metav2_contents.go.txt");
  if (inputs.at(-1) === "") inputs.pop();
  for (let i = 0; i < inputs.length; i++) {
    const want = JSON.parse(go[i]) as string;
    let got = "ERROR";
    try {
      const v = decodeObject(inputs[i]);
      if (v !== null && typeof v === "object" && !Array.isArray(v)) {
        got = rowForObject(v as Record<string, unknown>).value;
      }
    } catch {
      // ERROR, as Go's decode fails
    }
    assert.equal(got, want, `line ${i + 1}: ${inputs[i].slice(0, 100)}`);
  }
});

Deno.test("kind to resource lowers every code point as Go 1.17's strings.ToLower (Unicode 13.0)", () => {
  const want = new Map(
    lines("to_lower.go.txt").filter((l) => l !== "").map((l) =>
      l.split(" ").map((h) => parseInt(h, 16)) as [number, number]
    ),
  );
  const differences: string[] = [];
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const s = String.fromCodePoint(cp), lower = goToLower(s);
    const expected = want.has(cp) ? String.fromCodePoint(want.get(cp)!) : s;
    if (lower !== expected) differences.push(cp.toString(16));
  }
  assert.deepEqual(differences, []);
  assert.equal(goToLower("A\u03a3"), "a\u03c3", "no final sigma");
  assert.equal(goToLower("\u0130tem"), "item");
  assert.equal(goToLower("\u212aelvin"), "kelvin");
  assert.equal(goToLower("\u2c2fX"), "\u2c2fx", "a Unicode 14 capital stays");
});
