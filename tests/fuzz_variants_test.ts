/**
 * Variants of the oracle's hostile-input cases (fixtures/fuzz-variants, INDEX.md there says
 * what each shows and why upstream does it). Strict replay must give the stored outputs byte
 * for byte (compare.py --exact rules), and the facts that follow from upstream's code are
 * asserted on their own, so that a reviewed output cannot drift unnoticed; fixed replay never
 * crashes and does what docs/compatibility.md says.
 */

import assert from "node:assert/strict";
import { replay } from "../src/replay/replay.ts";
import { parseAnswers } from "../src/replay/stand_ins.ts";
import { type Dump, dumpDatabase, dumpJson } from "../src/store/dump.ts";
import { Store } from "../src/store/store.ts";
import type { CompatMode } from "../src/metamanager/compat.ts";
import { compareDbExact, compareEventsExact } from "../src/replay/compare.ts";

const DIR = new URL("../fixtures/fuzz-variants/", import.meta.url);
const CLOUD = new URL("../fixtures/journals/cloud-fixture.json", import.meta.url);
const read = (name: string) => Deno.readTextFileSync(new URL(name, DIR));

interface Event {
  in: number;
  via?: string;
  to?: string;
  panic?: unknown;
  error?: string;
  message?: { header: Record<string, unknown>; route: Record<string, string>; content: unknown };
}
interface Result {
  text: string;
  events: Event[];
  dump: Dump;
  dumpText: string;
}

/** A variant's own cloud answers (NAME.cloud.json), else the journals' fixture. */
function cloudOf(name: string): URL {
  const own = new URL(`${name}.cloud.json`, DIR);
  try {
    Deno.statSync(own);
    return own;
  } catch {
    return CLOUD;
  }
}

async function run(name: string, mode: CompatMode): Promise<Result> {
  const store = Store.open(":memory:");
  const cloud = cloudOf(name);
  const lines: string[] = [];
  try {
    await replay({
      journal: ReadableStream.from([new TextEncoder().encode(read(`${name}.ndjson`))]),
      store,
      mode,
      answers: {
        cloud: parseAnswers(Deno.readTextFileSync(cloud), cloud.pathname),
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

const panics = (r: Result) => r.events.filter((e) => "panic" in e).map((e) => e.in);
const errors = (r: Result) => r.events.filter((e) => "error" in e && !e.message).map((e) => e.in);
const v2 = (r: Result) =>
  Object.fromEntries(
    r.dump.meta_v2.map((row) => [row.key, [row.groupversionresource, row.namespace, row.name]]),
  );
const v2Keys = (r: Result) => r.dump.meta_v2.map((row) => row.key);
const metaKeys = (r: Result) => r.dump.meta.map((row) => row.key);
const rv = (r: Result, key: string) =>
  r.dump.meta_v2.find((row) => row.key === key)?.resourceversion;
const opsOf = (r: Result, line: number) =>
  r.events.filter((e) => e.in === line).map((e) => `${e.via}:${e.message?.route.operation}`);

/** What upstream's code implies for each variant, asserted apart from the stored outputs. */
const STRICT: Record<string, (r: Result) => void> = {
  "v01-rv-2p63-update-and-delete": (r) => {
    assert.deepEqual(panics(r), [2, 4]);
    assert.deepEqual(opsOf(r, 3), ["send:delete", "group:response"], "the delete goes through");
    assert.deepEqual(v2Keys(r), ["/core/v1/pods/default/max"], "web deleted, big never stored");
    assert.equal(rv(r, "/core/v1/pods/default/max"), "9223372036854775807"); // dumpDatabase: text
  },
  "v02-rv-2p63-list-item-2": (r) => {
    assert.deepEqual(panics(r), [1]);
    assert.deepEqual(v2Keys(r), ["/core/v1/pods/default/a"]);
    assert.deepEqual(metaKeys(r), []);
  },
  "v03-rv-spellings": (r) => {
    assert.deepEqual(panics(r), [8]);
    const want = { p0: 0, p1: 0, p2: 7, p3: 0, p4: 0, p5: 0, p6: 0, num: 0 };
    for (const [name, n] of Object.entries(want)) {
      assert.equal(rv(r, `/core/v1/pods/default/${name}`), n, name);
    }
  },
  "v04-keys-from-list-items": (r) => {
    assert.deepEqual(v2(r), {
      "/core/v1/nodes/null/edge-1": ["/v1, Resource=nodes", "", "edge-1"],
      "/core/v1/pods/default/a/b": ["/v1, Resource=pods", "default", "a"],
      "/core/v1/pods/default/null": ["/v1, Resource=pods", "default", ""],
      "/core/v1/pods/default/s/l/a/sh": ["/v1, Resource=pods", "default", "s"],
      "/core/v1/pods/ns/sub/": ["/v1, Resource=pods", "ns", "sub"],
      "/core/v1/pods/null/n": ["/v1, Resource=pods", "", "n"],
      "/core/v1/pods/null/x": ["/v1, Resource=pods", "", "x"],
      "/core/v1/services/default/svc": ["/v1, Resource=services", "default", "svc"],
    });
  },
  "v05-list-apiversion-two-slashes": (r) => {
    assert.deepEqual(panics(r), [6], "a list that does not decode is no crash");
    assert.ok(metaKeys(r).includes("default/podlist/all"));
    assert.deepEqual(v2(r), {
      "/apps//deployments/default/d": ["apps/, Resource=deployments", "default", "d"],
      "/core//deployments/default/e": ["/, Resource=deployments", "default", "e"],
      "/core/v1/pods/default/ok": ["/v1, Resource=pods", "default", "ok"],
      "/core/v1/pods/default/w": ["/v1, Resource=pods", "default", "w"],
    });
    assert.ok(!metaKeys(r).includes("default/pod/w"), "the delete removed the meta row only");
  },
  "v06-list-nonobject-items": (r) => {
    assert.deepEqual(panics(r), [1, 2, 6]);
    assert.deepEqual(v2Keys(r), ["/core/v1/podlists/default/l4", "/core/v1/podlists/null/"]);
  },
  "v07-list-item-gvk-shapes": (r) => {
    assert.deepEqual(panics(r), [3, 4]);
    assert.deepEqual(v2(r), {
      "/core//pods/default/noapi": ["/, Resource=pods", "default", "noapi"],
      "/core/v1//default/nokind": ["/v1, Resource=", "default", "nokind"],
      "/core/v1/pods/default/first": ["/v1, Resource=pods", "default", "first"],
    });
  },
  "v08-float-overflow-other-places": (r) => {
    assert.deepEqual(panics(r), []);
    assert.deepEqual(errors(r), [3], "only the cloud line is refused");
    assert.deepEqual(v2Keys(r), ["/core/v1/configmaps/default/d"]);
    assert.match(r.dump.meta_v2[0].value, /"k":0,.*"m":5e-324,.*"n":1e\+308\}/);
  },
  "v09-negative-zero-other-places": (r) => {
    const list = r.dump.meta.find((row) => row.key === "default/podlist/all")!;
    assert.match(list.value, /"a":-0,"apiVersion":"v1","b":-0,"c":\[-0\]/);
    const z = r.dump.meta_v2.find((row) => row.key === "/core/v1/pods/default/z")!;
    assert.match(z.value, /^\{"a":0,"apiVersion":"v1","b":0,"c":\[0\]/);
    const y = r.dump.meta_v2.find((row) => row.key === "/core/v1/pods/default/y")!;
    assert.match(y.value, /^\{"a":0,"apiVersion":"v1","b":-0,"c":-0,/);
  },
  "v10-lone-surrogates-keys-names": (r) => {
    assert.deepEqual(metaKeys(r), ["default/pod/s\ufffd", "default/pod/t\ufffd"]);
    assert.deepEqual(v2(r), {
      "/core/v1/pods/default/s\ufffd": ["/v1, Resource=pods", "default", "s\ufffd"],
      "/core/v1/pods/default/t\ufffd": ["/v1, Resource=pods", "default", "t\ufffd"],
    });
    for (const row of r.dump.meta_v2) assert.ok(!/\\ud[89a-f]/i.test(row.value), row.value);
    assert.match(r.dump.meta_v2[1].value, /"\ufffdk":"v\ufffdA"/);
    assert.match(r.dump.meta[1].value, /"\\udc00k":"v\\ud800\\u0041"/, "edged's text as sent");
  },
  "v11-kind-case-mapping": (r) => {
    const resources = r.dump.meta_v2.map((row) => row.key.split("/")[3]).sort();
    assert.deepEqual(
      resources,
      [
        "a\u03c3s",
        "endpoints",
        "ingressses",
        "itemis",
        "kelvins",
        "podstatuses",
        "polic\u00ffs",
        "\u00dfs",
        "\u017fpecs",
        "\u01c6s",
        "\u03c3\u03c3s",
        "\u2c2fxs",
        "\ua7c0s",
        "\u{10570}s",
      ].sort(),
    );
  },
  "v12-sync-response-types": (r) => {
    assert.deepEqual(opsOf(r, 1), ["group:update"], "unixpacket reply dropped");
    assert.deepEqual(opsOf(r, 2), ["group:update", "resp:response"]);
    assert.deepEqual(opsOf(r, 3), [], "Channel is not channel");
    assert.deepEqual(opsOf(r, 4), ["resp:response"]);
  },
  "v13-nul-in-names": (r) => {
    assert.deepEqual(opsOf(r, 4), ["group:update"], "the sync finds the pod");
    assert.deepEqual(metaKeys(r), ["d\u0000s/configmap/c", "default/podstatus/a\u0000b"]);
    assert.deepEqual(v2Keys(r), ["/core/v1/configmaps/d\u0000s/c"]);
  },
  "v14-bom-other-positions": (r) => {
    assert.deepEqual(errors(r), [2, 3, 4, 6]);
    assert.deepEqual(metaKeys(r), ["default/pod/a", "default/pod/c", "default/pod/e"]);
  },
  "v16-nesting-limit-in-pods": (r) => {
    assert.deepEqual(errors(r), [2, 4], "10,001 levels with the message: invalid from both");
    assert.deepEqual(metaKeys(r), ["default/pod/c9998", "default/pod/e9998"]);
    assert.deepEqual(v2Keys(r), ["/core/v1/pods/default/c9998", "/core/v1/pods/default/e9998"]);
  },
  "v17-sync-status-decoding": (r) => {
    const sync = r.events.filter((e) => e.in === 8);
    assert.equal(sync.length, 1);
    assert.ok(
      r.text.includes(
        '"content":[{"h":"\\u003c\\u0026\\u003e","n":12345678901234567000,"s":"\ufffd","z":-0},' +
          '{"phase":"x"}]',
      ),
      "Go's marshal of the decoded statuses",
    );
    assert.deepEqual(metaKeys(r).filter((k) => k.includes("podstatus")), [
      "default/podstatus",
      "default/podstatus/a",
      "default/podstatus/c",
    ], "orphans deleted, the unparsable one kept");
  },
  "v18-remote-answers-decoded": (r) => {
    const n = r.dump.meta.find((row) => row.key === "default/configmap/n")!;
    assert.ok(
      n.value.startsWith(
        '{"apiVersion":"v1","data":{"a":-0,"b":1000,"c":"\ufffd\\u2028","d":1e-7,"e":1e+21,' +
          '"f":1.2345678901234568e+29}',
      ),
      n.value,
    );
    const s = r.dump.meta.find((row) => row.key === "default/secret/s")!;
    assert.match(s.value, /^\{"a":null,"apiVersion":"v1",/, "the later null wins");
    assert.equal(
      r.dump.meta.find((row) => row.key === "default/configmap/str")!.value,
      '"\u{1F600} \\u003cb\\u003e"',
    );
    assert.deepEqual(opsOf(r, 3), ["sync:query", "resp:response", "group:response"]);
    assert.deepEqual(r.events.filter((e) => e.in === 4).map((e) => e.error ?? ""), [
      "timeout to get response",
      "",
    ]);
    assert.deepEqual(opsOf(r, 7), ["send:response"], "cached: answered locally");
    assert.deepEqual(metaKeys(r), [
      "default/configmap/deep",
      "default/configmap/n",
      "default/configmap/str",
      "default/secret/s",
    ]);
  },
  "v19-typed-requests-error-replies": (r) => {
    assert.deepEqual(opsOf(r, 2), ["sync:query", "resp:error"], "untyped error reply delivered");
    assert.equal(r.events.find((e) => e.in === 2 && e.via === "resp")?.to, "");
    assert.deepEqual(opsOf(r, 3), ["sync:query", "send:error"]);
    assert.deepEqual([opsOf(r, 5), opsOf(r, 6)], [[], []], "typed replies dropped");
    assert.deepEqual(opsOf(r, 7), ["group:update"]);
  },
  "v15-dump-rv-extremes": (r) => {
    assert.match(r.dumpText, /"resourceversion": 9223372036854775807,/);
    assert.match(r.dumpText, /"resourceversion": 9007199254740993,/);
    assert.match(r.dumpText, /"resourceversion": 18014398509481985,/);
  },
};

/** Where fixed mode's invalid lines differ from strict's (the text decoding of every line). */
const FIXED_ERRORS: Record<string, number[]> = {
  "v08-float-overflow-other-places": [],
  "v14-bom-other-positions": [2, 3, 4, 5, 6],
};

const NAMES = [...Deno.readDirSync(DIR)].map((e) => e.name)
  .filter((n) => n.endsWith(".ndjson") && !n.endsWith(".out.ndjson"))
  .map((n) => n.slice(0, -".ndjson".length)).sort();

Deno.test("every variant has its outputs and its asserted facts", () => {
  assert.equal(NAMES.length, 19);
  assert.deepEqual(Object.keys(STRICT).sort(), NAMES);
});

for (const name of NAMES) {
  Deno.test(`fuzz variant ${name}: strict replay as upstream, byte for byte`, async () => {
    const got = await run(name, "strict");
    STRICT[name](got);
    const ev = compareEventsExact(read(`${name}.ndjson`), read(`${name}.out.ndjson`), got.text);
    assert.deepEqual(ev.differences, [], ev.summary);
    const db = compareDbExact(read(`${name}.db.json`), got.dumpText);
    assert.deepEqual(db.differences, [], db.summary);
  });

  Deno.test(`fuzz variant ${name}: fixed replay never crashes, answers an error where strict panics`, async () => {
    const [strict, fixed] = [await run(name, "strict"), await run(name, "fixed")];
    assert.deepEqual(panics(fixed), []);
    for (const line of panics(strict)) {
      const replies = fixed.events.filter((e) => e.in === line);
      assert.deepEqual(replies.map((e) => e.message?.route.operation), ["error"], `line ${line}`);
      assert.match(String(replies[0].message?.content), /^Error to inject meta_v2 object: /);
    }
    // fixed mode decodes every line as text (meta keeps what was received): a cloud line
    // with 1e400 is accepted (docs/compatibility.md, a06), one with a BOM after it is not
    const textOnly = FIXED_ERRORS[name];
    assert.deepEqual(errors(fixed), textOnly ?? errors(strict), "invalid lines");
  });
}

Deno.test("fixed mode: a failed list keeps nothing, a typed reply reaches its requester", async () => {
  const list = await run("v02-rv-2p63-list-item-2", "fixed");
  assert.deepEqual([list.dump.meta, list.dump.meta_v2], [[], []]);
  const typed = await run("v12-sync-response-types", "fixed");
  assert.deepEqual(opsOf(typed, 1), ["group:update", "resp:response"]);
  assert.deepEqual(opsOf(typed, 3), ["resp:response"]);
  const surrogate = await run("v10-lone-surrogates-keys-names", "fixed");
  assert.ok(
    surrogate.dump.meta[0].value.includes('"s\\ud800"'),
    "fixed keeps the cloud's meta text as received",
  );
});
