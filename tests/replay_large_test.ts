/**
 * Large journal lines through a real `replay` process with the shipped heap cap (the
 * `cli` task's V8 flags): a 16 MB line is processed; a 50 MB line, over maxMessageBytes,
 * gets its `{"in":N,"error":...}` line naming its size and the limit, replay goes on with
 * the next line and exits 1.
 *
 * @module
 */

import assert from "node:assert/strict";
import { productRunFlags, PROJECT_DIR } from "./support/serve_process.ts";

const MB = 1024 * 1024;

function line(id: string, bytes: number): string {
  const frame = (pad: string) =>
    JSON.stringify({
      header: { msg_id: id, timestamp: 1 },
      route: {
        source: "edgecontroller",
        group: "resource",
        operation: "insert",
        resource: `default/configmap/${id}`,
      },
      content: {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: id, namespace: "default" },
        data: { big: pad },
      },
    });
  return frame("x".repeat(Math.max(0, bytes - frame("").length)));
}

async function replay(journal: string, db: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...productRunFlags(), "main.ts", "replay", journal, "--db", db],
    cwd: PROJECT_DIR,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("replay: a 16 MB line is processed, a 50 MB line gets its error line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "replay-large-" });
  try {
    const j16 = `${dir}/16.ndjson`;
    await Deno.writeTextFile(j16, line("big", 16 * MB - 100) + "\n" + line("small", 10) + "\n");
    let t = performance.now();
    const ok = await replay(j16, `${dir}/16.db`);
    const okSeconds = (performance.now() - t) / 1000;
    assert.equal(ok.code, 0, ok.stderr.slice(-2000));
    const events = ok.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => [e.in, e.error]), [
      [1, undefined],
      [1, undefined],
      [2, undefined],
      [2, undefined],
    ]);

    const j50 = `${dir}/50.ndjson`;
    const big = line("huge", 50 * MB);
    await Deno.writeTextFile(j50, big + "\n" + line("small", 10) + "\n");
    t = performance.now();
    const bad = await replay(j50, `${dir}/50.db`);
    const badSeconds = (performance.now() - t) / 1000;
    assert.equal(bad.code, 1, bad.stderr.slice(-2000));
    const lines = bad.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], {
      in: 1,
      error: `line 1: message of ${big.length} bytes exceeds the limit of ${16 * MB} bytes ` +
        `(maxMessageBytes)`,
    });
    assert.ok(lines.slice(1).every((e) => e.in === 2 && e.error === undefined), bad.stdout);
    assert.equal(lines.length, 3, "the next line is processed");
    console.log(
      `replay: a 16 MB line processed in ${okSeconds.toFixed(1)} s, ` +
        `a 50 MB line refused (and the next processed) in ${badSeconds.toFixed(1)} s`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
