/**
 * `edgecore-meta sync --db`: the pod-status sync run directly on database files, spawned as
 * the real CLI on fixture databases.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { runCli } from "./support/serve_process.ts";

const MISC = new URL("../fixtures/journals/misc.ndjson", import.meta.url).pathname;
const EDGECORE_DB = new URL("../fixtures/edgecore-db/edgecore.db", import.meta.url).pathname;

interface Event {
  via: string;
  group: string;
  message: { route: { resource: string; operation: string; source: string }; content: unknown };
}

function events(stdout: string): Event[] {
  return stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function podstatusKeys(path: string): string[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare("SELECT key FROM meta WHERE type = 'podstatus' ORDER BY key").all() as {
      key: string;
    }[]).map((r) => r.key);
  } finally {
    db.close();
  }
}

/** A database with the first 7 lines of misc.ndjson: 3 pods with statuses, 1 orphan status. */
async function seeded(dir: string): Promise<string> {
  const path = `${dir}/e.db`;
  const seed = (await Deno.readTextFile(MISC)).split("\n").slice(0, 7).join("\n") + "\n";
  const r = await runCli(["replay", "-", "--db", path, "--compat", "fixed"], 30_000, seed);
  assert.equal(r.code, 0, r.stderr);
  return path;
}

Deno.test("sync --db --dry-run prints one update per namespace and changes nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await seeded(dir);
    const before = await sha256(path);
    const keysBefore = podstatusKeys(path);
    const r = await runCli(["sync", "--db", path, "--dry-run"]);
    assert.equal(r.code, 0, r.stderr);
    const evs = events(r.stdout);
    assert.deepEqual(
      evs.map((e) => e.message.route.resource).sort(),
      ["default/podstatus", "monitoring/podstatus"],
    );
    for (const e of evs) {
      assert.equal(e.via, "group");
      assert.equal(e.group, "hub");
      assert.equal(e.message.route.operation, "update");
      assert.equal(e.message.route.source, "metaManager");
      assert.ok(Array.isArray(e.message.content));
    }
    const def = evs.find((e) => e.message.route.resource === "default/podstatus")!;
    assert.equal((def.message.content as unknown[]).length, 2);
    assert.match(
      r.stderr,
      /would delete 1 orphaned podstatus row\(s\): default\/podstatus\/orphan/,
    );
    assert.equal(await sha256(path), before, "dry run changed the database file");
    assert.deepEqual(podstatusKeys(path), keysBefore);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sync --db on a missing file is an error naming it and creates nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/missing.db`;
    const r = await runCli(["sync", "--db", path]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`Cannot sync database ${path}: no such file`));
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing created");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sync --db deletes orphaned podstatus rows and keeps the others", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = await seeded(dir);
    const r = await runCli(["sync", "--db", path]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(events(r.stdout).length, 2);
    assert.match(r.stderr, /deleted 1 orphaned podstatus row/);
    const keys = podstatusKeys(path);
    assert.equal(keys.length, 3);
    assert.ok(!keys.some((k) => k.includes("orphan")));
    const again = await runCli(["sync", "--db", path]);
    assert.match(again.stderr, /deleted 0 orphaned/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sync --db --dry-run works on a real edgecore.db without touching it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/edgecore.db`;
    await Deno.copyFile(EDGECORE_DB, path);
    const before = await sha256(path);
    const r = await runCli(["sync", "--db", path, "--dry-run"]);
    assert.equal(r.code, 0, r.stderr);
    for (const e of events(r.stdout)) assert.match(e.message.route.resource, /^[^/]+\/podstatus$/);
    assert.match(r.stderr, /namespace message\(s\)/);
    assert.equal(await sha256(path), before);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["edgecore.db"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sync errors: --dry-run without --db is a usage error; bad files are one line", async () => {
  const usage = await runCli(["sync", "--dry-run"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--dry-run needs --db/);
  const dir = await Deno.makeTempDir();
  try {
    const missing = await runCli(["sync", "--db", `${dir}/nope.db`, "--dry-run"]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim().split("\n").length, 1, missing.stderr);
    assert.match(missing.stderr, /nope\.db/);
    await Deno.writeTextFile(`${dir}/text.db`, "this is not a database ".repeat(100));
    const notDb = await runCli(["sync", "--db", `${dir}/text.db`]);
    assert.equal(notDb.code, 1);
    assert.match(notDb.stderr, /not an SQLite database/);
    assert.doesNotMatch(notDb.stderr, /\n\s+at /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
