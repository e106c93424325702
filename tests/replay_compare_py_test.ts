/**
 * The golden references judged by the oracle's own comparison: every journal of
 * fixtures/journals (websocket and `--transport raw`), fixtures/fuzz and fixtures/fuzz-variants
 * replayed in strict mode and compared by `python3 fixtures/oracle/compare.py --exact` (a copy
 * of ../shared/oracle/compare.py), events and database, as ../shared/oracle/check.sh does.
 * replay_golden_test.ts compares the same with the TypeScript port (src/replay/compare.ts);
 * this keeps the port honest. Needs python3 (ignored without it, saying so).
 */

import assert from "node:assert/strict";
import { replay } from "../src/replay/replay.ts";
import { parseAnswers } from "../src/replay/stand_ins.ts";
import { Store } from "../src/store/store.ts";
import { dumpJson } from "../src/store/dump.ts";
import type { Transport } from "../src/beehive/wire.ts";

const ROOT = new URL("../", import.meta.url);
const COMPARE = new URL("fixtures/oracle/compare.py", ROOT).pathname;

function hasPython(): boolean {
  try {
    return new Deno.Command("python3", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
const PYTHON = hasPython();
if (!PYTHON) console.warn("replay_compare_py_test: python3 not found, compare.py tests ignored");

function exists(url: URL): boolean {
  try {
    return Deno.statSync(url).isFile;
  } catch {
    return false;
  }
}

function names(dir: URL): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name)
    .filter((n) => n.endsWith(".ndjson") && !n.endsWith(".out.ndjson"))
    .map((n) => n.slice(0, -".ndjson".length)).sort();
}

interface Case {
  set: string;
  name: string;
  inputs: URL;
  refs: URL;
  transport: Transport;
}

const JOURNALS = new URL("fixtures/journals/", ROOT);
const CASES: Case[] = [
  ...names(JOURNALS).map((name) => ({
    set: "journals",
    name,
    inputs: JOURNALS,
    refs: JOURNALS,
    transport: "websocket" as const,
  })),
  ...names(JOURNALS).map((name) => ({
    set: "transport-raw",
    name,
    inputs: JOURNALS,
    refs: new URL("fixtures/transport-raw/", ROOT),
    transport: "raw" as const,
  })),
  ...["fuzz", "fuzz-variants"].flatMap((set) => {
    const dir = new URL(`fixtures/${set}/`, ROOT);
    return names(dir).map((name) => ({
      set,
      name,
      inputs: dir,
      refs: dir,
      transport: "websocket" as const,
    }));
  }),
];

async function comparePy(kind: "events" | "db", args: string[]): Promise<string> {
  const out = await new Deno.Command("python3", {
    args: [COMPARE, "--exact", kind, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return out.code === 0 ? "" : text.trim() || `compare.py exited ${out.code}`;
}

Deno.test("the oracle's compare.py is here, and every reference set has its journals", () => {
  assert.ok(exists(new URL(COMPARE, "file:")), COMPARE);
  const count = (set: string) => CASES.filter((c) => c.set === set).length;
  assert.deepEqual(
    [count("journals"), count("transport-raw"), count("fuzz"), count("fuzz-variants")],
    [6, 6, 20, 19],
  );
});

Deno.test({
  name:
    "every reference and variant equals its outputs under compare.py --exact (events and database)",
  ignore: !PYTHON,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "edgecore-meta-compare-py-" });
    const failures: string[] = [];
    try {
      for (const c of CASES) {
        const own = new URL(`${c.name}.cloud.json`, c.inputs);
        const cloud = exists(own) ? own : new URL("cloud-fixture.json", JOURNALS);
        const journal = new URL(`${c.name}.ndjson`, c.inputs);
        const store = Store.open(":memory:");
        const lines: string[] = [];
        try {
          await replay({
            journal: ReadableStream.from([Deno.readFileSync(journal)]),
            store,
            mode: "strict",
            transport: c.transport,
            answers: {
              cloud: parseAnswers(Deno.readTextFileSync(cloud), cloud.pathname),
              edged: new Map(),
            },
            write: (line) => lines.push(line),
            remoteQueryTimeout: 1,
          });
          const events = `${dir}/${c.set}.${c.name}.out.ndjson`;
          const dump = `${dir}/${c.set}.${c.name}.db.json`;
          Deno.writeTextFileSync(events, lines.map((l) => l + "\n").join(""));
          Deno.writeTextFileSync(dump, dumpJson(store.db));
          const ev = await comparePy("events", [
            journal.pathname,
            new URL(`${c.name}.out.ndjson`, c.refs).pathname,
            events,
          ]);
          const db = await comparePy("db", [new URL(`${c.name}.db.json`, c.refs).pathname, dump]);
          if (ev || db) failures.push(`${c.set}/${c.name}:\n${ev}\n${db}`.slice(0, 1500));
        } finally {
          store.close();
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    assert.deepEqual(failures, [], `${failures.length} of ${CASES.length} differ`);
  },
});
