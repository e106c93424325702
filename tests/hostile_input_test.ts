/**
 * Hostile input through replay: every file of fixtures/bad in both modes, plus a 10 MB
 * content generated here. Never a crash: line-numbered errors for what is not a message,
 * KubeEdge behaviour for what is, and SQL-looking keys stored literally.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { runCli } from "./support/serve_process.ts";

const BAD = new URL("../fixtures/bad/", import.meta.url);

interface Run {
  code: number;
  events: Record<string, unknown>[];
  stderr: string;
}

async function replay(args: string[], stdin?: string): Promise<Run> {
  const out = await runCli(["replay", ...args], 60_000, stdin);
  return {
    code: out.code,
    events: out.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l)),
    stderr: out.stderr,
  };
}

function assertNoCrash(run: Run, file: string): void {
  assert.ok(run.code === 0 || run.code === 1, `${file}: exit code ${run.code}\n${run.stderr}`);
  assert.doesNotMatch(run.stderr, /\n\s+at /, `${file}: stack trace on stderr`);
  assert.match(run.stderr, /replay: \d+ lines/, `${file}: no summary line`);
}

const files = [...Deno.readDirSync(BAD)].map((e) => e.name).filter((n) => n.endsWith(".ndjson"))
  .sort();

Deno.test("the hostile corpus has every case the issue names", () => {
  for (
    const name of [
      "invalid_json",
      "wrong_types",
      "missing_fields",
      "resource_segments",
      "unknown_operations",
      "deep_nesting",
      "invalid_utf8",
      "nul_bytes",
      "sql_looking_keys",
      "duplicate_msg_ids",
      "huge_numbers",
      "list_items",
    ]
  ) assert.ok(files.includes(`${name}.ndjson`), name);
});

for (const file of files) {
  for (const mode of ["strict", "fixed"]) {
    Deno.test(`replay --compat ${mode} survives ${file}`, async () => {
      const run = await replay([new URL(file, BAD).pathname, "--compat", mode]);
      assertNoCrash(run, file);
      const errors = run.events.filter((e) => "error" in e);
      assert.equal(run.code, errors.length > 0 ? 1 : 0);
      for (const e of errors) {
        assert.match(String(e.error), new RegExp(`^line ${e.in}: `), JSON.stringify(e));
      }
    });
  }
}

Deno.test("invalid JSON and wrong types give one error per line naming the field", async () => {
  const bad = await replay([new URL("invalid_json.ndjson", BAD).pathname]);
  assert.deepEqual(bad.events.map((e) => e.in), [1, 2, 3, 4, 5, 6]);
  const typed = await replay([new URL("wrong_types.ndjson", BAD).pathname]);
  const texts = typed.events.map((e) => String(e.error));
  assert.match(texts[0], /header\.msg_id: expected a string, got number/);
  assert.match(texts[1], /header\.timestamp: expected an integer, got string/);
  assert.match(texts[2], /header\.sync: expected a boolean/);
  assert.match(texts[3], /header: expected an object/);
  assert.match(texts[4], /route: expected an object, got array/);
  assert.match(texts[5], /route\.operation: expected a string/);
});

Deno.test("a malformed list item: strict records KubeEdge's crash, fixed answers with an error", async () => {
  const path = new URL("list_items.ndjson", BAD).pathname;
  const strict = await replay([path, "--compat", "strict"]);
  assert.deepEqual(strict.events.filter((e) => "panic" in e).map((e) => e.in), [1, 2]);
  const fixed = await replay([path, "--compat", "fixed"]);
  assert.equal(fixed.events.filter((e) => "panic" in e).length, 0);
  const replies = fixed.events.filter((e) =>
    (e.message as { route: { operation: string } } | undefined)?.route.operation === "error"
  );
  assert.deepEqual(replies.map((e) => e.in), [1, 2]);
});

Deno.test("SQL-looking keys and NUL bytes are stored literally", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = `${dir}/e.db`;
    for (const f of ["sql_looking_keys.ndjson", "nul_bytes.ndjson"]) {
      const run = await replay([new URL(f, BAD).pathname, "--db", db]);
      assert.equal(run.code, 0, run.stderr);
    }
    const sqlite = new DatabaseSync(db, { readOnly: true });
    const keys = (sqlite.prepare("SELECT key FROM meta ORDER BY key").all() as { key: string }[])
      .map((r) => r.key);
    const tables = sqlite.prepare("SELECT name FROM sqlite_master WHERE type='table'").all();
    // node:sqlite reads TEXT up to the first NUL, so check the stored bytes with hex().
    const nul = sqlite.prepare("SELECT count(*) AS n FROM meta WHERE hex(key) = ?").get(
      Array.from(new TextEncoder().encode("default/pod/nul\u0000byte"))
        .map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase(),
    ) as { n: number };
    sqlite.close();
    assert.ok(keys.includes("default/pod/x'; DROP TABLE meta; --"));
    assert.ok(keys.includes("default/pod/%"));
    assert.equal(nul.n, 1);
    assert.equal(tables.length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a 10 MB content is stored whole and echoed", async () => {
  const big = "x".repeat(10 * 1024 * 1024);
  const line = JSON.stringify({
    header: { msg_id: "big-1", timestamp: 1 },
    route: {
      source: "edgecontroller",
      group: "resource",
      operation: "insert",
      resource: "default/configmap/big",
    },
    content: {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "big", namespace: "default" },
      data: { big },
    },
  });
  const dir = await Deno.makeTempDir();
  try {
    const run = await replay(["-", "--db", `${dir}/e.db`, "--compat", "fixed"], line + "\n");
    assertNoCrash(run, "10 MB content");
    assert.equal(run.code, 0);
    assert.equal(run.events.length, 2);
    const sqlite = new DatabaseSync(`${dir}/e.db`, { readOnly: true });
    const row = sqlite.prepare("SELECT length(value) AS n FROM meta WHERE key = ?").get(
      "default/configmap/big",
    ) as { n: number };
    sqlite.close();
    assert.ok(row.n > 10 * 1024 * 1024);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Two lines nested 10,000 (Go's limit) and 10,001 levels deep, from `source`. */
function deepJournal(source: string): string {
  return [10000, 10001].map((total) => {
    const n = total - 2; // the message and the content are the first two levels
    return JSON.stringify({
      header: { msg_id: `m${total}`, timestamp: 1644500001000 },
      route: { source, group: "resource", operation: "update", resource: `default/pod/w${total}` },
      content: {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `w${total}`, namespace: "default" },
      },
    }).replace(/}}$/, `,"x":${"[".repeat(n)}${"]".repeat(n)}}}`);
  }).join("\n") + "\n";
}

Deno.test("content nested to Go's depth limit is stored whole in both modes; one level deeper is an invalid line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const source of ["twin", "edgecontroller"]) { // in-edgecore, and through the websocket
      const journal = `${dir}/deep-${source}.ndjson`;
      await Deno.writeTextFile(journal, deepJournal(source));
      for (const mode of ["strict", "fixed"]) {
        const db = `${dir}/${source}-${mode}.db`;
        const run = await replay([journal, "--compat", mode, "--db", db]);
        assertNoCrash(run, `${source} ${mode}`);
        assert.equal(run.code, 1, "the line beyond the limit is an error");
        assert.deepEqual(run.events.filter((e) => "panic" in e), []);
        const errors = run.events.filter((e) => "error" in e);
        assert.deepEqual(errors.map((e) => e.in), [2]);
        assert.match(String(errors[0].error), /^line 2: .*exceeded max depth/);
        const sqlite = new DatabaseSync(db, { readOnly: true });
        const rows = sqlite.prepare("SELECT key, value FROM meta").all() as {
          key: string;
          value: string;
        }[];
        const v2 = sqlite.prepare("SELECT count(*) AS n FROM meta_v2").get() as { n: number };
        sqlite.close();
        assert.deepEqual(rows.map((r) => r.key), ["default/pod/w10000"], `${source} ${mode}`);
        assert.ok(rows[0].value.includes(`"x":${"[".repeat(9998)}]`), `${source} ${mode}`);
        assert.equal(v2.n, 1, `${source} ${mode}: the meta_v2 row`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a number beyond float64 in a raw line: meta keeps the text, no meta_v2 row, the pod-status sync skips the status (strict --transport raw and fixed)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const journal = `${dir}/overflow.ndjson`;
    await Deno.writeTextFile(
      journal,
      [
        '{"header":{"msg_id":"m1","timestamp":1644500001000},"route":{"source":"edgecontroller","group":"resource","operation":"insert","resource":"default/pod/web"},"content":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default"},"x":1e400}}',
        '{"header":{"msg_id":"m2","timestamp":1644500002000},"route":{"source":"edged","group":"meta","operation":"update","resource":"default/podstatus/web"},"content":{"phase":1e400}}',
        '{"header":{"msg_id":"m3","timestamp":1644500003000},"route":{"source":"metaManager","group":"resource","operation":"meta-internal-sync","resource":"podstatus"},"content":null}',
      ].join("\n") + "\n",
    );
    for (const args of [["--compat", "strict", "--transport", "raw"], ["--compat", "fixed"]]) {
      const db = `${dir}/${args.join("")}.db`;
      const run = await replay([journal, ...args, "--db", db]);
      assertNoCrash(run, args.join(" "));
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(run.events.filter((e) => e.in === 3), [], "no status to send");
      const sqlite = new DatabaseSync(db, { readOnly: true });
      const meta = sqlite.prepare("SELECT key, value FROM meta ORDER BY key").all();
      const v2 = sqlite.prepare("SELECT count(*) AS n FROM meta_v2").get() as { n: number };
      sqlite.close();
      assert.deepEqual(meta.map((r) => r.value), [
        '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default"},"x":1e400}',
        '{"phase":1e400}',
      ]);
      assert.equal(v2.n, 0, `${args.join(" ")}: the object does not decode, no meta_v2 row`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
