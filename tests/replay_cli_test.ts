/**
 * `edgecore-meta replay` as a user runs it: invalid journal lines, stdin, a database file
 * that persists between runs, and the failures that end the command.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run -A main.ts ARGS` in the project root, optionally feeding stdin. */
async function cli(args: string[], stdin?: string): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: ROOT,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "edgecore-meta-cli-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

type Event = {
  in: number;
  seq?: number;
  via?: string;
  to?: string;
  error?: string;
  message?: { header: { parent_msg_id?: string }; route: { operation: string }; content: unknown };
};

function events(stdout: string): Event[] {
  return stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Event);
}

const CONFIGMAP = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "cm1", namespace: "default" },
  data: { k: "v" },
};

function insertLine(id: string): string {
  return JSON.stringify({
    header: { msg_id: id, timestamp: 1700000000000 },
    route: {
      source: "edgecontroller",
      group: "resource",
      operation: "insert",
      resource: "default/configmap/cm1",
    },
    content: CONFIGMAP,
  });
}

function queryLine(id: string): string {
  return JSON.stringify({
    header: { msg_id: id, timestamp: 1700000000001 },
    route: {
      source: "edged",
      group: "meta",
      operation: "query",
      resource: "default/configmap/cm1",
    },
    content: null,
  });
}

/** The rows a local query answered with (the content of the response sent to edged). */
function queryAnswer(evs: Event[], queryId: string): unknown {
  const answer = evs.find((e) => e.message?.header.parent_msg_id === queryId);
  assert.ok(answer, `no answer to ${queryId}`);
  assert.equal(answer.via, "send");
  assert.equal(answer.to, "edged");
  assert.equal(answer.message!.route.operation, "response");
  return answer.message!.content;
}

/** Replays a journal file of an insert, the line `bad`, and a query of the inserted key. */
async function replayInvalidLine(bad: string): Promise<{ result: CliResult; evs: Event[] }> {
  let result: CliResult | undefined;
  await withTempDir(async (dir) => {
    const journal = `${dir}/journal.ndjson`;
    await Deno.writeTextFile(
      journal,
      [insertLine("cli-1"), bad, queryLine("cli-3")].join("\n") + "\n",
    );
    result = await cli(["replay", journal]);
  });
  return { result: result!, evs: events(result!.stdout) };
}

Deno.test("a line that is not JSON becomes an error line naming the line, the rest is replayed, exit 1", async () => {
  const { result, evs } = await replayInvalidLine("{bad json");
  assert.equal(result.code, 1);
  const errors = evs.filter((e) => "error" in e);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].in, 2);
  assert.match(errors[0].error!, /^line 2: message: invalid JSON \(.+\)$/);
  assert.deepEqual(queryAnswer(evs, "cli-3"), [JSON.stringify(CONFIGMAP)]);
  assert.match(result.stderr, /^replay: 3 lines, \d+ events, 1 errors, 0 panics, /m);
  assert.match(result.stderr, /^edgecore-meta: 1 journal line\(s\) were not valid messages$/m);
});

Deno.test("a header.msg_id given as a number is an error line naming the field and the type", async () => {
  const bad = JSON.stringify({
    header: { msg_id: 42, timestamp: 1700000000002 },
    route: { source: "edged", operation: "query", resource: "default/configmap/cm1" },
  });
  const { result, evs } = await replayInvalidLine(bad);
  assert.equal(result.code, 1);
  assert.deepEqual(evs.filter((e) => "error" in e), [{
    in: 2,
    error: "line 2: header.msg_id: expected a string, got number",
  }]);
  assert.ok(evs.some((e) => e.in === 3), "line 3 is still replayed");
});

Deno.test("a top-level array is an error line saying a JSON object was expected", async () => {
  const { result, evs } = await replayInvalidLine("[1,2]");
  assert.equal(result.code, 1);
  assert.deepEqual(evs.filter((e) => "error" in e), [{
    in: 2,
    error: "line 2: message: expected a JSON object, got array",
  }]);
  assert.ok(evs.some((e) => e.in === 1) && evs.some((e) => e.in === 3));
});

Deno.test("replay - reads the journal from stdin and writes events to stdout, exit 0", async () => {
  const result = await cli(["replay", "-", "--compat", "strict"], insertLine("stdin-1") + "\n");
  assert.equal(result.code, 0, result.stderr);
  const evs = events(result.stdout);
  assert.deepEqual(evs.map((e) => [e.in, e.seq, e.via, e.to]), [
    [1, 1, "send", "edged"],
    [1, 2, "group", "websocket"],
  ]);
  assert.equal(evs[1].message!.content, "OK");
  assert.match(result.stderr, /^replay: 1 lines, 2 events, 0 errors, 0 panics, /m);
});

Deno.test("replay --db FILE starts from what an earlier replay left in that file", async () => {
  await withTempDir(async (dir) => {
    const db = `${dir}/edge.db`;
    const first = `${dir}/first.ndjson`, second = `${dir}/second.ndjson`;
    await Deno.writeTextFile(first, insertLine("run1-1") + "\n");
    await Deno.writeTextFile(second, queryLine("run2-1") + "\n");

    const run1 = await cli(["replay", first, "--db", db]);
    assert.equal(run1.code, 0, run1.stderr);
    assert.ok((await Deno.stat(db)).isFile, "the database file was created");

    const dump = `${dir}/dump.json`;
    const run2 = await cli(["replay", second, "--db", db, "--dump-db", dump]);
    assert.equal(run2.code, 0, run2.stderr);
    assert.deepEqual(queryAnswer(events(run2.stdout), "run2-1"), [JSON.stringify(CONFIGMAP)]);
    const rows = JSON.parse(await Deno.readTextFile(dump)) as { meta: { key: string }[] };
    assert.deepEqual(rows.meta.map((r) => r.key), ["default/configmap/cm1"]);
  });
});

Deno.test("without --db every replay starts from an empty database", async () => {
  const result = await cli(["replay", "-"], queryLine("empty-1") + "\n");
  assert.equal(result.code, 0, result.stderr);
  assert.equal(queryAnswer(events(result.stdout), "empty-1"), null);
});

Deno.test("a journal file that does not exist is a one-line error and exit 1", async () => {
  await withTempDir(async (dir) => {
    const missing = `${dir}/no-such-journal.ndjson`;
    const result = await cli(["replay", missing]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    const lines = result.stderr.split("\n").filter((l) => l !== "");
    assert.equal(lines.length, 1, result.stderr);
    assert.ok(lines[0].startsWith(`edgecore-meta: Cannot open journal ${missing}: `), lines[0]);
  });
});

Deno.test("an invalid --compat value is a usage error, exit 2, naming the allowed modes", async () => {
  const result = await cli(["replay", "-", "--compat", "lenient"], insertLine("x-1") + "\n");
  assert.equal(result.code, 2);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /--compat/);
  assert.match(result.stderr, /'lenient' is invalid/);
  assert.match(result.stderr, /strict, fixed/);
});
