/**
 * parseMessage's fast path for text messages (content decoded once, by its extent and a
 * native parse) gives what the full Go decoder gives, on ordinary and hostile lines.
 */

import assert from "node:assert/strict";
import {
  decodeFrame,
  decodeFrameFull,
  decodeTextFast,
  decodeTextFull,
  parseMessage,
} from "../src/beehive/wire.ts";
import type { Message } from "../src/beehive/message.ts";

/** A decoded value as comparable text (deep values: their nesting depth; RawNumbers kept). */
function text(v: unknown): string {
  let depth = 0;
  for (let x = v; Array.isArray(x) && x.length === 1; x = x[0]) depth++;
  if (depth > 100) return `nested ${depth}`;
  return JSON.stringify(v, (_k, x) => typeof x === "bigint" ? `${x}n` : x) +
    (Object.is(v, -0) ? " -0" : "");
}

function outcome(f: () => Message): unknown {
  try {
    const m = f();
    return {
      header: m.header,
      route: m.route,
      json: m.content.json,
      bytes: m.content.bytes,
      value: text(m.content.value()),
      exact: text(m.content.exactValue()),
    };
  } catch (e) {
    return { error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

const pod = JSON.stringify({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "p", namespace: "default", resourceVersion: "12", labels: { a: "b\\" } },
  spec: { containers: [{ name: "c", image: "nginx", args: ['a"b', "\\", 'x\\"y'] }] },
  status: { phase: "Running" },
});
const header = '{"msg_id":"m1","parent_msg_id":"","timestamp":1700000000000,"sync":false}';
const route =
  '{"source":"edgecontroller","group":"resource","operation":"insert","resource":"default/pod/p"}';
const deep = (n: number) => "[".repeat(n) + "]".repeat(n);

const lines: string[] = [
  `{"header":${header},"route":${route},"content":${pod}}`,
  `  {"header":${header},"route":${route},"content":${pod}}\n`,
  `{"content":${pod},"header":${header},"route":${route}}`,
  `{"header":${header},"route":${route},"content":${pod},"extra":[1,{"x":null}]}`,
  `{"header":${header},"route":${route},"content":${pod},"content":null}`,
  `{"header":${header},"route":${route},"content":null,"content":${pod}}`,
  `{"header":${header},"route":${route},"Content":${pod}}`,
  `{"header":${header},"route":${route},"\u017fontent":${pod}}`,
  `{"header":${header},"route":${route},"conten\u212at":${pod}}`,
  `{"header":${header},"ROUTE":${route},"content":"a string"}`,
  `{"header":${header},"route":${route},"content":[1,2,"]",{"a":"}"}]}`,
  `{"header":${header},"route":${route},"content":{"s":"\\ud800 lone","t":"\ud800"}}`,
  `{"header":${header},"route":${route},"content":{"n":1e400,"b":12345678901234567890}}`,
  `{"header":${header},"route":${route},"content":{"n":-0,"m":9007199254740993}}`,
  `{"header":${header},"route":${route},"content":{"a":01}}`,
  `{"header":${header},"route":${route},"content":{"a":"\\x"}}`,
  `{"header":${header},"route":${route},"content":{"a":"tab\there"}}`,
  `{"header":${header},"route":${route},"content":{"a":1,}}`,
  `{"header":${header},"route":${route},"content":{"a":1}`,
  `{"header":${header},"route":${route},"content":{"a":1}}}`,
  `{"header":${header},"route":${route},"content":{"a":1}} x`,
  `\ufeff{"header":${header},"route":${route},"content":{"a":1}}`,
  `{"header":${header},"route":${route},"content":${deep(9999)}}`,
  `{"header":${header},"route":${route},"content":${deep(10000)}}`,
  `{"header":${header},"route":${route},"content":{"a":${deep(9998)}}}`,
  `{"header":${header},"route":${route},"content":{"a":${deep(9999)}}}`,
  `{"header":{"msg_id":5},"route":${route},"content":{"a":1}}`,
  `{"header":{"msg_id":5},"route":${route},"content":{"a":1,}}`,
  `{"header":{"timestamp":1e3},"route":${route},"content":{"a":1}}`,
  `{"header":${header},"header":null,"route":${route},"content":[]}`,
  `{"header":${header},"route":${route},"content":{}}`,
  `{"header":${header},"route":${route},"content":[ ]}`,
  `{"header":${header},"route":${route},"content": { "a" : [ 1 , 2 ] } }`,
  `{"header":${header},"route":${route},"content":true}`,
  `{"header":${header},"route":${route},"content":12.5e3}`,
  `{"header":${header},"route":${route},"content":{"a":"\\\\"}}`,
  `{"header":${header},"route":${route},"content":{"a":"\\\\\\""}}`,
  `{"header":${header},"route":${route},"content":{"a":"<&>\u2028"}}`,
  `{"header":${header},"route":${route},"content":{"__proto__":{"x":1}}}`,
  `{"route":{"source":5},"header":{"msg_id":"a",},"content":{}}`,
  `{"route":{"source":5},"header":{"msg_id":"a"},"content":{"a":1,}}`,
  `{"header":{"msg_id":"a","x":${deep(9997)}},"route":${route},"content":{}}`,
  `{"header":{"msg_id":"a","x":${deep(9998)}},"route":${route},"content":{}}`,
  `{"Header":{"msg_id":"a"},"header":{"sync":true},"route":${route},"content":{}}`,
  `{"header":["x"],"route":${route},"content":{}}`,
  `{"header":"x","route":${route},"content":{}}`,
  `{"header":{"msg_id":"a\"}"},"route":${route},"content":{}}`,
  `{"header":{"msg_id":"a"}},"route":${route},"content":{}}`,
  `{"header":{"msg_id":"a","route":${route},"content":{}}`,
  `{}`,
  `[]`,
  `{"header":${header}`,
  `{"header":${header},"route":${route},"content":{"a":"unterminated}}`,
  `{"header":${header},"route":${route},"content":${
    JSON.stringify({ kind: "ConfigMap", data: { x: "y".repeat(40_000) } })
  }}`,
];

Deno.test("the fast path of text messages decodes every line as the full decoder does", () => {
  for (const line of lines) {
    assert.deepEqual(
      outcome(() => parseMessage(line)),
      outcome(() => decodeTextFull(line)),
      `line ${JSON.stringify(line.slice(0, 120))}`,
    );
  }
});

Deno.test("ordinary lines take the fast path", () => {
  const quoted = `{"header":${header},"route":${route},"content":{"a":"\\"}\\\\","b":"{"}}`;
  for (const line of [...lines.slice(0, 6), quoted]) {
    const fast = decodeTextFast(line.trim());
    assert.ok(fast, `line ${JSON.stringify(line.slice(0, 120))}`);
    assert.deepEqual(outcome(() => fast), outcome(() => decodeTextFull(line)));
  }
});

/** Lines where JSON.parse and Go's decoder into interface{} could part (websocket frames). */
const frameLines: string[] = [
  `{"header":${header},"route":${route},"content":{"b":1,"a":2,"b":3}}`,
  `{"header":${header},"route":${route},"content":{"n":-0,"m":1E+2,"s":1e-400}}`,
  `{"header":${header},"route":${route},"content":{"n":1e400}}`,
  `{"header":${header},"route":${route},"content":{"n":${"9".repeat(250)}e99}}`,
  `{"header":${header},"route":${route},"content":{"n":${"9".repeat(310)}}}`,
  `{"header":${header},"route":${route},"content":{"s":"\\ud800x","t":"\\udc00"}}`,
  `{"header":${header},"route":${route},"content":{"s":"\ud83d\ude00 \u00e9"}}`,
  `{"header":${header},"route":${route},"content":{"constructor":1,"toString":{"a":[]}}}`,
  `{"header":${header},"route":${route},"content":{"\\u005f_proto__":{"x":1}}}`,
  `{"header":${header},"route":${route},"content":{"a":1},"x":1e400}`,
  `{"header":${header},"route":${route},"content":{"a":1}}{"trailing":`,
  `\t {"header":${header},"route":${route},"content":{"a":1}}`,
  // the content as the last member: its end found from the object's closing brace
  `{"header":${header},"route":${route},"content":{"a":1} \n\t}`,
  `{"header":${header},"route":${route},"content":[1,{"b":"}"}] } trailing }`,
  `{"header":${header},"route":${route},"content":{"a":1}} }`,
  `{"header":${header},"route":${route},"content":{"a":1},"b":{"c":2}}`,
  `{"header":${header},"route":${route},"content":{"a":1}, "b":[]}`,
  // `e` and three digits inside strings are not exponents; in numbers they are
  `{"header":${header},"route":${route},"content":{"uid":"4032789a-7931-5e6b","d":"sha256:2e123"}}`,
  `{"header":${header},"route":${route},"content":{"a":[1, 2e300, -1.5E-300],"b":1e308}}`,
  `{"header":${header},"route":${route},"content":{"a":[1,\n 2e309]}}`,
  `{"header":${header},"route":${route},"content":{"a":[${"1".repeat(320)}]}}`,
];

Deno.test("the fast path of websocket frames decodes every frame as the full decoder does", () => {
  for (const line of [...lines, ...frameLines]) {
    assert.deepEqual(
      outcome(() => decodeFrame(line)),
      outcome(() => decodeFrameFull(line)),
      `line ${JSON.stringify(line.slice(0, 120))}`,
    );
  }
});
