/**
 * The CLI as Unix tools behave: a closed pipe ends output with exit 0 and nothing on
 * stderr, help lists the global options, no command is a usage error, `sync` prints the
 * same in both modes, and serve's /readyz?verbose and /metrics details.
 */

import assert from "node:assert/strict";
import { PROJECT_DIR, runCli, ServeProcess } from "./support/serve_process.ts";

const FIXTURE_DB = new URL("../fixtures/edgecore-db/edgecore.db", import.meta.url).pathname;
const JOURNAL = new URL("../fixtures/journals/rand-1.ndjson", import.meta.url).pathname;

/** Runs the CLI, reads `bytes` of its stdout, then closes the pipe (as `| head -c` does). */
async function readThenClose(args: string[], bytes: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts", ...args],
    cwd: PROJECT_DIR,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  let got = 0;
  while (got < bytes) {
    const { value, done } = await reader.read();
    if (done) break;
    got += value.length;
  }
  await reader.cancel();
  const stderr = new TextDecoder().decode(
    await new Response(child.stderr).arrayBuffer(),
  );
  const { code } = await child.status;
  return { code, stderr, got };
}

Deno.test("a closed stdout pipe (| head) ends replay and inspect with exit 0, no warning", async () => {
  const replay = await readThenClose(["replay", JOURNAL, "--compat", "strict"], 1000);
  assert.ok(replay.got >= 1000);
  assert.equal(replay.code, 0, replay.stderr);
  assert.doesNotMatch(replay.stderr, /Broken pipe|WARN|error/i);

  const inspect = await readThenClose(["inspect", "--db", FIXTURE_DB, "-o", "json"], 100);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.doesNotMatch(inspect.stderr, /Broken pipe|error/i);

  // The same through a real shell pipeline with pipefail.
  const sh = await new Deno.Command("bash", {
    args: [
      "-o",
      "pipefail",
      "-c",
      `"${Deno.execPath()}" run -A main.ts inspect --db "${FIXTURE_DB}" -o ndjson | head -1`,
    ],
    cwd: PROJECT_DIR,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(sh.code, 0, new TextDecoder().decode(sh.stderr));
  assert.equal(new TextDecoder().decode(sh.stdout).split("\n").length, 2);
});

Deno.test("help: subcommands list the global options, top level has examples, bare exits 2", async () => {
  for (const command of ["serve", "inspect", "replay", "sync"]) {
    const r = await runCli([command, "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Global Options:[\s\S]*--config <file>[\s\S]*--db <path>/, command);
    // Descriptions wrap at words: no line holds a lone short word left by a hard break.
    for (const line of r.stdout.split("\n")) assert.ok(line.length <= 100, line);
  }
  const top = await runCli(["--help"]);
  assert.match(top.stdout, /Examples:\n {2}edgecore-meta serve/);
  const bare = await runCli([]);
  assert.equal(bare.code, 2);
  assert.equal(bare.stdout, "");
  assert.match(bare.stderr, /Usage: edgecore-meta/);
});

Deno.test("sync prints the same in server mode and with --db; readyz?verbose; /metrics", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edgecore-meta-cli-test-" });
  try {
    const db = `${dir}/edgecore.db`;
    await Deno.copyFile(FIXTURE_DB, db);
    const direct = await runCli(["sync", "--db", db, "--dry-run"]);
    assert.equal(direct.code, 0, direct.stderr);
    assert.match(direct.stderr, /^sync: 4 namespace message\(s\); would delete 0 orphaned/m);

    const serve = await ServeProcess.start({ db });
    try {
      const served = await runCli(["sync", "--server", serve.address]);
      assert.equal(served.code, 0, served.stderr);
      assert.match(served.stderr, /^sync: 4 namespace message\(s\); deleted 0 orphaned/m);
      assert.equal(
        served.stdout.trim().split("\n").length,
        direct.stdout.trim().split("\n").length,
      );

      const ready = await fetch(`http://${serve.address}/readyz?verbose`);
      const readyText = await ready.text();
      assert.equal(ready.status, 200);
      assert.match(readyText, /^\[\+\]loop ok/m);
      assert.match(readyText, /^\[\+\]database ok: .*edgecore\.db open$/m);
      assert.match(readyText, /readyz check passed\n$/);

      const metrics = await (await fetch(`http://${serve.address}/metrics`)).text();
      const size = Number(/^edgecore_meta_db_file_bytes (\d+)$/m.exec(metrics)?.[1]);
      assert.ok(size >= 184320, metrics);
      assert.match(metrics, /^edgecore_meta_rows\{table="meta",resource="pod"\} \d+$/m);
      assert.match(
        metrics,
        /^edgecore_meta_rows\{table="meta_v2",resource="\/v1, Resource=pods"\} \d+$/m,
      );
      assert.match(metrics, /^edgecore_meta_watchers 0$/m);
      assert.match(metrics, /^edgecore_meta_uptime_seconds \d+\.\d+$/m);
    } finally {
      await serve.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
