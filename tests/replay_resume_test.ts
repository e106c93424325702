/**
 * `replay` for long journals, as an operator runs it: `--expect`/`--expect-db` against the
 * reference outputs (pass on the fixtures, fail with line numbers on a changed one),
 * progress with total, percentage and time left, Ctrl-C (SIGINT) printing the summary and
 * writing `--dump-db` with exit 130, `--from-line` resuming to the same final database as
 * an uninterrupted run, and every bad option value refused before the database is touched.
 */

import assert from "node:assert/strict";
import { PROJECT_DIR, runCli, withTimeout } from "./support/serve_process.ts";
import { scaled } from "./support/time_scale.ts";
import { countLines, formatDuration, formatProgress } from "../src/replay/progress.ts";

const JOURNALS = `${PROJECT_DIR}fixtures/journals/`;

/** The reference journals: NAME.ndjson beside NAME.out.ndjson and NAME.db.json. */
const NAMES = [...Deno.readDirSync(JOURNALS)].map((e) => e.name)
  .filter((n) => n.endsWith(".ndjson") && !n.endsWith(".out.ndjson"))
  .map((n) => n.slice(0, -".ndjson".length)).sort();

function cloudOf(name: string): string {
  try {
    Deno.statSync(`${JOURNALS}${name}.cloud.json`);
    return `${JOURNALS}${name}.cloud.json`;
  } catch {
    return `${JOURNALS}cloud-fixture.json`;
  }
}

/** `replay NAME --compat strict` with the fixture's cloud answers and `more` options. */
function replayFixture(name: string, more: string[]) {
  return runCli([
    "replay",
    `${JOURNALS}${name}.ndjson`,
    "--compat",
    "strict",
    "--cloud",
    cloudOf(name),
    ...more,
  ]);
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "edgecore-meta-resume-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("replay --expect and --expect-db pass on every fixture's reference output", async () => {
  assert.ok(NAMES.length >= 6, `fixtures: ${NAMES}`);
  for (const name of NAMES) {
    const r = await replayFixture(name, [
      "--expect",
      `${JOURNALS}${name}.out.ndjson`,
      "--expect-db",
      `${JOURNALS}${name}.db.json`,
    ]);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.match(r.stderr, /--expect \S+: events: (\d+) expected, \1 actual, 0 differ/, name);
    assert.match(r.stderr, /--expect-db \S+: db: \d+ rows, 0 differ/, name);
  }
});

Deno.test("replay --expect fails on a changed reference and names the lines", async () => {
  await withTempDir(async (dir) => {
    const out = Deno.readTextFileSync(`${JOURNALS}crud.out.ndjson`).split("\n");
    assert.match(out[1], /"content":"OK"/);
    out[1] = out[1].replace('"content":"OK"', '"content":"KO"');
    Deno.writeTextFileSync(`${dir}/changed.out.ndjson`, out.join("\n"));
    const r = await replayFixture("crud", ["--expect", `${dir}/changed.out.ndjson`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /events: 47 expected, 47 actual, 1 differ/);
    assert.match(
      r.stderr,
      /event 2 differs \(journal line 1; \S+changed\.out\.ndjson line 2, output line 2\):/,
    );
    assert.match(r.stderr, /expected: .*"content":"KO"/);
    assert.match(r.stderr, /edgecore-meta: the events differ from \S+changed\.out\.ndjson/);
    // The events still went to stdout: --expect compares, it does not replace the output.
    assert.equal(r.stdout.trim().split("\n").length, 47);

    const dump = JSON.parse(Deno.readTextFileSync(`${JOURNALS}crud.db.json`));
    dump.meta_v2 = dump.meta_v2.slice(1);
    Deno.writeTextFileSync(`${dir}/changed.db.json`, JSON.stringify(dump));
    const d = await replayFixture("crud", ["--expect-db", `${dir}/changed.db.json`]);
    assert.equal(d.code, 1, d.stderr);
    assert.match(d.stderr, /db: 16 rows, 1 differ/);
    assert.match(d.stderr, /meta_v2\[\S+\]:\n {4}expected: null/);
    assert.match(d.stderr, /the database differs from \S+changed\.db\.json/);
  });
});

Deno.test("replay refuses bad --expect, --expect-db and --from-line before touching --db", async () => {
  await withTempDir(async (dir) => {
    const db = `${dir}/replayed.db`;
    Deno.writeTextFileSync(`${dir}/notjson.out.ndjson`, '{"in":1}\nnot json\n');
    Deno.writeTextFileSync(`${dir}/array.db.json`, "[]");
    const cases: [string[], number, RegExp][] = [
      [["--expect", `${dir}/missing.out.ndjson`], 1, /Cannot read --expect file \S+missing/],
      [
        ["--expect", `${dir}/notjson.out.ndjson`],
        1,
        /--expect file \S+notjson\S*: line 2: not JSON/,
      ],
      [["--expect-db", `${dir}/missing.db.json`], 1, /Cannot read --expect-db file \S+missing/],
      [["--expect-db", `${dir}/array.db.json`], 1, /--expect-db file \S+array\S*: expected a/],
      [["--from-line", "0"], 2, /Invalid --from-line "0": expected a line number ≥ 1/],
      [["--from-line", "x"], 2, /Invalid --from-line "x"/],
    ];
    for (const [args, code, message] of cases) {
      const r = await replayFixture("crud", ["--db", db, ...args]);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.throws(() => Deno.statSync(db), Deno.errors.NotFound, "no database created");
    }
    const past = await replayFixture("crud", ["--from-line", "31"]);
    assert.equal(past.code, 1, past.stderr);
    assert.match(
      past.stderr,
      /--from-line 31 is past the end of journal \S+crud\.ndjson \(30 lines\)/,
    );
  });
});

/** A journal of `n` ConfigMap writes over 5,000 names (inserts, then updates). */
function bigJournal(n: number): string {
  const lines: string[] = [];
  for (let i = 1; i <= n; i++) {
    const name = `cm${i % 5000}`;
    lines.push(JSON.stringify({
      header: { msg_id: `m${i}`, timestamp: 1700000000000 + i },
      route: {
        source: "edgecontroller",
        group: "resource",
        operation: i <= 5000 ? "insert" : "update",
        resource: `default/configmap/${name}`,
      },
      content: {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name, namespace: "default" },
        data: { k: String(i) },
      },
    }));
  }
  return lines.join("\n") + "\n";
}

/** Spawns `deno run -A main.ts ARGS` with piped stdio. */
function spawnCli(args: string[], stdin: "null" | "piped" = "null") {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: PROJECT_DIR,
    stdin,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Reads `stream` as text until `pattern` matches what was read; returns it all. */
async function readUntil(stream: ReadableStream<Uint8Array>, pattern: RegExp) {
  const reader = stream.getReader();
  const dec = new TextDecoder();
  let text = "";
  let open = true;
  while (!pattern.test(text)) {
    const { value, done } = await reader.read();
    if (done) {
      open = false;
      break;
    }
    text += dec.decode(value, { stream: true });
  }
  const rest = (async () => {
    while (open) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
    return text;
  })();
  return { text, rest };
}

Deno.test("replay: progress, SIGINT prints the summary and dumps (exit 130), --from-line resumes to the same database", async () => {
  await withTempDir(async (dir) => {
    const total = 24_000;
    const journal = `${dir}/long.ndjson`;
    Deno.writeTextFileSync(journal, bigJournal(total));

    const child = spawnCli([
      "replay",
      journal,
      "--db",
      `${dir}/resumed.db`,
      "--progress",
      "--out",
      `${dir}/resumed.out.ndjson`,
      "--dump-db",
      `${dir}/interrupted.json`,
    ]);
    const stdout = child.stdout.cancel();
    const progress = /replay: (\d+)\/24000 lines \((\d+\.\d)%\), \d+ lines\/s, \d+:\d\d left\n/;
    const seen = await withTimeout(
      readUntil(child.stderr, progress),
      60_000,
      "no progress line",
    );
    child.kill("SIGINT");
    const status = await withTimeout(child.status, 30_000, "replay did not stop on SIGINT");
    const stderr = await seen.rest;
    await stdout;
    assert.equal(status.code, 130, stderr);
    const m = /replay: interrupted after line (\d+) of 24000: /.exec(stderr);
    assert.ok(m, stderr);
    const last = Number(m[1]);
    assert.ok(last > 0 && last < total, `stopped at ${last}`);
    assert.match(stderr, new RegExp(`resume with --from-line ${last + 1}\\b`));
    assert.match(stderr, /database dumped to \S+interrupted\.json/);
    // The dump is the database as committed at the interruption: lines 1..last applied.
    const partial = JSON.parse(Deno.readTextFileSync(`${dir}/interrupted.json`));
    const values = new Map<string, string>(
      partial.meta.map((r: { key: string; value: string }) => [r.key, r.value]),
    );
    const lastName = `default/configmap/cm${last % 5000}`;
    assert.equal(JSON.parse(values.get(lastName)!).data.k, String(last));
    // Every event of lines 1..last was written (2 per line: the edged send and the cloud OK).
    const firstOut = Deno.readTextFileSync(`${dir}/resumed.out.ndjson`).trim().split("\n");
    assert.equal(firstOut.length, 2 * last);

    const resume = await runCli([
      "replay",
      journal,
      "--db",
      `${dir}/resumed.db`,
      "--from-line",
      String(last + 1),
      "--out",
      `${dir}/resumed.out.ndjson`,
      "--dump-db",
      `${dir}/resumed.json`,
    ], 120_000);
    assert.equal(resume.code, 0, resume.stderr);
    assert.match(resume.stderr, new RegExp(`${last} skipped \\(--from-line\\)`));
    const whole = await runCli([
      "replay",
      journal,
      "--db",
      `${dir}/whole.db`,
      "--out",
      `${dir}/whole.out.ndjson`,
      "--dump-db",
      `${dir}/whole.json`,
    ], 120_000);
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal(
      Deno.readTextFileSync(`${dir}/resumed.json`),
      Deno.readTextFileSync(`${dir}/whole.json`),
      "the resumed database equals the uninterrupted one",
    );
    // --out was appended to: the two runs' events are the uninterrupted run's.
    const inOf = (l: string) => JSON.parse(l).in;
    const resumedOut = Deno.readTextFileSync(`${dir}/resumed.out.ndjson`).trim().split("\n");
    const wholeOut = Deno.readTextFileSync(`${dir}/whole.out.ndjson`).trim().split("\n");
    assert.equal(resumedOut.length, wholeOut.length);
    assert.deepEqual(resumedOut.map(inOf), wholeOut.map(inOf));
  });
});

Deno.test("replay: SIGINT while waiting on a stdin journal stops at once with the summary", async () => {
  const child = spawnCli(["replay", "-", "--compat", "strict"], "piped");
  const stdout = new Response(child.stdout).text();
  const lines = Deno.readTextFileSync(`${JOURNALS}crud.ndjson`).split("\n").slice(0, 3);
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(lines.join("\n") + "\n"));
  // stdin stays open: replay waits for line 4. Give it time to start and process 1-3.
  await new Promise((r) => setTimeout(r, scaled(4000)));
  child.kill("SIGINT");
  const out = await withTimeout(
    new Response(child.stderr).text(),
    30_000,
    "replay did not stop on SIGINT",
  );
  const status = await child.status;
  assert.equal((await stdout).trim().split("\n").length, 6, "the events of lines 1-3");
  await w.close().catch(() => {});
  assert.equal(status.code, 130, out);
  assert.match(out, /replay: interrupted after line 3: \d+ events/);
  assert.match(out, /resume with --from-line 4 and a --db/);
});

Deno.test("progress lines: total, percentage, rate and time left; lines counted as read", async () => {
  assert.equal(
    formatProgress({ line: 120_000, total: 350_000, rate: 5_000 }),
    "replay: 120000/350000 lines (34.3%), 5000 lines/s, 0:46 left",
  );
  assert.equal(
    formatProgress({ line: 10, total: 100_000, rate: 2 }),
    "replay: 10/100000 lines (0.0%), 2 lines/s, 13:53:15 left",
  );
  assert.equal(formatProgress({ line: 7, rate: 3.4 }), "replay: 7 lines, 3 lines/s");
  assert.equal(formatDuration(59.6), "1:00");
  await withTempDir(async (dir) => {
    Deno.writeTextFileSync(`${dir}/a`, "x\ny\n");
    Deno.writeTextFileSync(`${dir}/b`, "x\ny");
    Deno.writeTextFileSync(`${dir}/c`, "");
    assert.deepEqual(
      await Promise.all(["a", "b", "c"].map((f) => countLines(`${dir}/${f}`))),
      [2, 2, 0],
    );
  });
});
