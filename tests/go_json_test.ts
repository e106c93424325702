/**
 * Go `encoding/json` compatibility of src/beehive/go_json.ts (spec/message.md §1.2):
 * sorted keys at every level, HTML escaping, int64 integers kept exactly, float64 text.
 */
import assert from "node:assert/strict";
import {
  escapeHtml,
  goMarshal,
  goString,
  goSurrogates,
  hasLongInteger,
  parseJsonExact,
  parseJsonFloat64,
  parseJsonGoStrings,
  RawNumber,
} from "../src/beehive/go_json.ts";

/** What Go's json.Marshal prints for `text` decoded the unstructured way. */
function roundTrip(text: string): string {
  return goMarshal(parseJsonExact(text));
}

Deno.test("goMarshal: sorts object keys at every nesting level", () => {
  const value = {
    z: 1,
    a: { y: [{ d: 1, c: 2 }, { b: { q: 1, p: 2 } }], x: null },
    m: [3, 2, 1],
  };
  assert.equal(
    goMarshal(value),
    '{"a":{"x":null,"y":[{"c":2,"d":1},{"b":{"p":2,"q":1}}]},"m":[3,2,1],"z":1}',
  );
});

Deno.test("goMarshal: key order is byte order (upper case before lower, prefix first)", () => {
  assert.equal(
    goMarshal({ b: 1, a_: 2, a: 3, B: 4, "": 5, "1": 6, "é": 7, z: 8 }),
    '{"":5,"1":6,"B":4,"a":3,"a_":2,"b":1,"z":8,"é":7}',
  );
});

Deno.test({
  name: "goMarshal: keys outside the BMP sort by UTF-8 bytes like Go",
  fn() {
    assert.equal(goMarshal({ "\u{1F600}": 2, "\uFF01": 1 }), '{"\uFF01":1,"\u{1F600}":2}');
  },
});

Deno.test("goMarshal: escapes < > & U+2028 U+2029 in strings and in keys", () => {
  assert.equal(
    goMarshal({ "<k>": "a<b>&c\u2028d\u2029e" }),
    '{"\\u003ck\\u003e":"a\\u003cb\\u003e\\u0026c\\u2028d\\u2029e"}',
  );
  assert.equal(goMarshal("<script>"), '"\\u003cscript\\u003e"');
  assert.equal(goMarshal(["&amp;"]), '["\\u0026amp;"]');
});

Deno.test("goMarshal: a backslash before an escaped character stays a backslash", () => {
  const text = goMarshal({ s: "\\<" });
  assert.equal(text, '{"s":"\\\\\\u003c"}');
  assert.deepEqual(JSON.parse(text), { s: "\\<" });
});

Deno.test("goMarshal: quotes, newlines and control characters like Go", () => {
  assert.equal(goMarshal('a"b\\c\nd\te\r\u0001\u001f'), '"a\\"b\\\\c\\nd\\te\\r\\u0001\\u001f"');
  // Non-ASCII text is written as UTF-8, not escaped.
  assert.equal(goMarshal("héllo 世界"), '"héllo 世界"');
});

Deno.test({
  name: "goMarshal: \\b and \\f are written as \\u0008 and \\u000c (Go before 1.22)",
  fn() {
    assert.equal(goMarshal("a\bb\fc"), '"a\\u0008b\\u000cc"');
    assert.equal(goString("\f"), '"\\u000c"');
  },
});

Deno.test("goString and escapeHtml", () => {
  assert.equal(goString("a<b"), '"a\\u003cb"');
  assert.equal(goString("OK"), '"OK"');
  assert.equal(goString(""), '""');
  assert.equal(escapeHtml('{"a":"<&>"}'), '{"a":"\\u003c\\u0026\\u003e"}');
  assert.equal(escapeHtml('{"a":1}'), '{"a":1}');
  // Every character of the printable-ASCII fast path and around it, as JSON.stringify + Go.
  for (let c = 0; c < 0x300; c++) {
    const s = `id-${String.fromCharCode(c)}-x`;
    assert.equal(goString(s), escapeHtml(JSON.stringify(s)), `U+${c.toString(16)}`);
  }
  for (const s of ["\u2028", "\u2029", "\ud800", "é", 'a"b', "a\\b", "~", " "]) {
    assert.equal(goString(s), escapeHtml(JSON.stringify(s)), JSON.stringify(s));
  }
});

Deno.test("goMarshal: scalars, null, empty containers", () => {
  assert.equal(goMarshal(null), "null");
  assert.equal(goMarshal(true), "true");
  assert.equal(goMarshal(false), "false");
  assert.equal(goMarshal(0), "0");
  assert.equal(goMarshal(-42), "-42");
  assert.equal(goMarshal([]), "[]");
  assert.equal(goMarshal({}), "{}");
  assert.equal(goMarshal([null, {}, []]), "[null,{},[]]");
});

Deno.test("parseJsonExact: integers beyond 2^53 that fit in int64 keep every digit", () => {
  const v = parseJsonExact("9007199254740993");
  assert.ok(v instanceof RawNumber);
  assert.equal((v as RawNumber).text, "9007199254740993");
  assert.equal(roundTrip("9007199254740993"), "9007199254740993");
  assert.equal(roundTrip("-9007199254740993"), "-9007199254740993");
  assert.equal(roundTrip("9223372036854775807"), "9223372036854775807");
  assert.equal(roundTrip("-9223372036854775808"), "-9223372036854775808");
  // A plain JSON.parse would have printed 9007199254740992.
  assert.equal(goMarshal(JSON.parse("9007199254740993")), "9007199254740992");
});

Deno.test("parseJsonExact: exact integers inside nested objects and arrays", () => {
  const text = '{"b":[9007199254740993,{"z":1,"a":-9223372036854775808}],"a":1.5,"c":12}';
  const v = parseJsonExact(text) as Record<string, unknown>;
  assert.equal(v.c, 12);
  assert.equal(v.a, 1.5);
  const b = v.b as unknown[];
  assert.ok(b[0] instanceof RawNumber);
  assert.equal(
    goMarshal(v),
    '{"a":1.5,"b":[9007199254740993,{"a":-9223372036854775808,"z":1}],"c":12}',
  );
});

Deno.test("parseJsonExact: safe integers stay numbers, digit strings stay strings", () => {
  assert.deepEqual(parseJsonExact('{"a":1,"b":[2,3]}'), { a: 1, b: [2, 3] });
  assert.deepEqual(parseJsonExact('{"s":"12345678901234567890"}'), {
    s: "12345678901234567890",
  });
  assert.equal(roundTrip('{"s":"12345678901234567890"}'), '{"s":"12345678901234567890"}');
  assert.equal(parseJsonExact("9007199254740991"), 9007199254740991);
});

Deno.test("integers beyond int64 become float64 text like Go", () => {
  assert.equal(roundTrip("12345678901234567890"), "12345678901234567000");
  assert.equal(roundTrip("9223372036854775808"), "9223372036854776000");
  assert.equal(roundTrip("-9223372036854775809"), "-9223372036854776000");
  assert.equal(roundTrip("[18446744073709551616]"), "[18446744073709552000]");
  assert.equal(roundTrip("1000000000000000000000"), "1e+21");
  assert.equal(typeof parseJsonExact("12345678901234567890"), "number");
});

Deno.test("floats are printed in Go's float64 form", () => {
  assert.equal(goMarshal(1e21), "1e+21");
  assert.equal(goMarshal(1.5e21), "1.5e+21");
  assert.equal(goMarshal(1e20), "100000000000000000000");
  assert.equal(goMarshal(1e-7), "1e-7");
  assert.equal(goMarshal(-2.5e-10), "-2.5e-10");
  assert.equal(goMarshal(0.000001), "0.000001");
  assert.equal(goMarshal(0.1), "0.1");
  assert.equal(goMarshal(1.5), "1.5");
  assert.equal(goMarshal(1e100), "1e+100");
  assert.equal(roundTrip("1.0"), "1");
  assert.equal(roundTrip("1E2"), "100");
  assert.equal(roundTrip("2.50"), "2.5");
  assert.equal(roundTrip("0.0000001"), "1e-7");
  assert.equal(roundTrip("123456789012345678.5"), "123456789012345680");
  // A float literal is a float even with 16+ digits (no RawNumber).
  assert.equal(roundTrip("9007199254740993.0"), "9007199254740992");
});

Deno.test("goMarshal: RawNumber is written verbatim", () => {
  assert.equal(goMarshal({ n: new RawNumber("123456789012345678") }), '{"n":123456789012345678}');
});

Deno.test("parseJsonExact: invalid JSON throws", () => {
  assert.throws(() => parseJsonExact("{"), SyntaxError);
  assert.throws(() => parseJsonExact("[12345678901234567890,"), SyntaxError);
});

Deno.test("hasLongInteger: integer literals of 16+ digits, not digit runs inside strings", () => {
  for (const json of ['{"n":12345678901234567}', "[1, -1234567890123456]", "1234567890123456"]) {
    assert.equal(hasLongInteger(json), true, json);
  }
  for (
    const json of [
      '{"containerID":"docker://a8c88857995711064634907da895c8f4"}',
      '{"n":123456789012345}',
      '"1234567890123456"',
    ]
  ) assert.equal(hasLongInteger(json), false, json);
  // Exact decoding still keeps every digit.
  const v = parseJsonExact('{"a":[9007199254740993],"s":"x1234567890123456789"}') as {
    a: RawNumber[];
    s: string;
  };
  assert.equal(v.a[0].text, "9007199254740993");
  assert.equal(v.s, "x1234567890123456789");
});

Deno.test("goMarshal: nesting as deep as Go's decoder accepts (10,000) is written without a stack overflow", () => {
  const depth = 10000;
  let v: unknown = [];
  for (let i = 1; i < depth; i++) v = i % 2 ? [v] : { b: 1, a: v };
  const got = goMarshal(v);
  let want = "[]";
  for (let i = 1; i < depth; i++) want = i % 2 ? `[${want}]` : `{"a":${want},"b":1}`;
  assert.equal(got, want);
  // and through the slow path (a RawNumber at the bottom)
  let w: unknown = [new RawNumber("9007199254740993")];
  for (let i = 1; i < depth; i++) w = [w];
  assert.equal(goMarshal(w), "[".repeat(depth) + "9007199254740993" + "]".repeat(depth));
});

Deno.test("numbers beyond float64 are an error, as Go's decoder makes them (JSON.parse alone gives Infinity)", () => {
  for (const text of ['{"x":1e400}', "[-1E+309]", `{"a":[1,${"9".repeat(400)}]}`]) {
    assert.ok(hasLongInteger(text), text);
    assert.throws(() => parseJsonExact(text), /cannot unmarshal number .* float64/, text);
    assert.throws(() => parseJsonFloat64(text), /cannot unmarshal number .* float64/, text);
  }
  // in range: kept; a digit run inside a string is no number
  assert.deepEqual(parseJsonExact('{"x":1e308,"y":1e-400}'), { x: 1e308, y: 0 });
  assert.deepEqual(parseJsonFloat64('{"x":"1e400","n":9007199254740993}'), {
    x: "1e400",
    n: 9007199254740992,
  });
  assert.equal(hasLongInteger('{"image":"sha256:abe1234"}'), false);
});

Deno.test("goSurrogates: unpaired surrogate escapes become U+FFFD as Go unquotes them, nothing else changes", () => {
  const cases: [string, string][] = [
    [String.raw`"\\ud800"`, "\\ud800"], // an escaped backslash, then text
    [String.raw`"\\\ud800"`, "\\\ufffd"],
    [String.raw`"\uD83D\uDE00"`, "\u{1F600}"], // a pair, upper-case hex
    [String.raw`"\udc00\ud800"`, "\ufffd\ufffd"], // low before high: two
    [String.raw`"\ud800\ud800\udc00"`, "\ufffd\u{10000}"], // the second high pairs
    [String.raw`"\u00e9\ud800x"`, "\u00e9\ufffdx"],
  ];
  for (const [text, want] of cases) assert.equal(parseJsonGoStrings(text), want, text);
  assert.deepEqual(parseJsonGoStrings(String.raw`{"\ud800":"\n\udfff"}`), { "\ufffd": "\n\ufffd" });
  const plain = String.raw`{"a":"\u00e9\n"}`;
  assert.equal(goSurrogates(plain), plain, "text without surrogate escapes is returned as is");
});

Deno.test("needsExactParse: the decoded value says when the exact parse is needed, as the text scan did", async () => {
  const { needsExactParse, hasLongInteger, parseJsonExact, parseJsonGoStrings } = await import(
    "../src/beehive/go_json.ts"
  );
  const texts = [
    '{"a":1,"b":[1.5,-2,"x"],"c":{"d":null}}',
    '{"rv":"9223372036854775808","n":9223372036854775807}',
    '{"n":9007199254740993}',
    '{"n":9007199254740992}',
    '{"n":1234567890123456}',
    '{"n":-0}',
    '{"n":-0.0}',
    '{"n":0}',
    '{"n":1e400}',
    '{"n":-1e400}',
    '{"n":1e20}',
    '{"n":1.5e300,"m":[[[-9223372036854775808]]]}',
    '{"s":"12345678901234567890","t":"-0"}',
    '[1,2,{"x":[{"y":99999999999999999999}]}]',
    '{"__proto__":{"n":18446744073709551615}}',
  ];
  for (const dir of ["journals", "fuzz", "bad"]) {
    for (const e of Deno.readDirSync(new URL(`../fixtures/${dir}/`, import.meta.url))) {
      if (!e.name.endsWith(".ndjson")) continue;
      const text = Deno.readTextFileSync(new URL(`../fixtures/${dir}/${e.name}`, import.meta.url));
      texts.push(...text.split("\n").filter((l) => l.trim()));
    }
  }
  let exact = 0;
  for (const t of texts) {
    let plain: unknown;
    try {
      plain = parseJsonGoStrings(t);
    } catch {
      continue; // invalid JSON: both ways throw the same parse error
    }
    const old = () => hasLongInteger(t) ? parseJsonExact(t) : plain;
    const now = () => needsExactParse(plain) ? parseJsonExact(t) : plain;
    let a: unknown, b: unknown, ea: unknown, eb: unknown;
    try {
      a = old();
    } catch (e) {
      ea = String(e);
    }
    try {
      b = now();
    } catch (e) {
      eb = String(e);
    }
    assert.deepEqual(b, a, t.slice(0, 200));
    assert.equal(eb, ea, t.slice(0, 200));
    if (needsExactParse(plain)) exact++;
  }
  assert.ok(exact >= 8, `texts that take the exact parse: ${exact}`);
  // Nesting as deep as Go accepts does not overflow the walk.
  const deep = "[".repeat(10_000) + "1" + "]".repeat(10_000);
  assert.equal(needsExactParse(JSON.parse(deep)), false);
});

Deno.test("goMarshal's key-order cache: prefixes, other orders, long keys and more shapes than it keeps", async () => {
  const { goMarshal, compareUtf8, escapeHtml } = await import("../src/beehive/go_json.ts");
  const ref = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(ref).join(",")}]`;
    if (v !== null && typeof v === "object") {
      const o = v as Record<string, unknown>;
      return `{${
        Object.keys(o).sort(compareUtf8).map((k) => `${JSON.stringify(k)}:${ref(o[k])}`).join(",")
      }}`;
    }
    return JSON.stringify(v);
  };
  const check = (v: unknown) => assert.equal(goMarshal(v), escapeHtml(ref(v)), JSON.stringify(v));
  // The same keys in other orders, and key lists that are prefixes of one another.
  for (let r = 0; r < 3; r++) {
    check({ b: 1, a: 2 });
    check({ a: 2, b: 1 });
    check({ b: 1, a: 2, c: 3 });
    check({ b: 1 });
    check({ c: { z: 1, y: [{ x: 1, w: 2 }] }, a: null });
  }
  const long = "k".repeat(100);
  check({ [long]: 1, a: 2 });
  check({ [long]: 1, a: 2 });
  // Far more shapes than the cache keeps: every one still in Go's order.
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 8_000; i++) {
    const o: Record<string, unknown> = {};
    const n = 1 + Math.floor(rnd() * 6);
    for (let k = 0; k < n; k++) o[`k${Math.floor(rnd() * 1e6).toString(36)}é\u{1f600}`] = k;
    check(o);
  }
  // An integer-like key (JS enumerates it first) still takes the slow path.
  check({ b: 1, "10": 2, "9": 3, a: 4 });
  check({ b: 1, "10": 2, "9": 3, a: 4 });
});
