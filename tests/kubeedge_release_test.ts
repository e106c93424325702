/**
 * Choosing the KubeEdge release of a run (--kubeedge, edgecoreMeta.kubeedge,
 * EDGECORE_META_KUBEEDGE, else the database's schema, else 1.10) through the real commands.
 */

import assert from "node:assert/strict";
import { Store } from "../src/store/store.ts";

const ROOT = new URL("../", import.meta.url);
const V123 = new URL("../fixtures/edgecore-db-v1.23/", import.meta.url);
const V110 = new URL("../fixtures/edgecore-db/", import.meta.url);
const CRUD = new URL("../fixtures/journals/crud.ndjson", import.meta.url).pathname;

async function cli(args: string[], env: Record<string, string> = {}) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      new URL("deno.json", ROOT).pathname,
      new URL("main.ts", ROOT).pathname,
      ...args,
    ],
    cwd: ROOT.pathname,
    clearEnv: true,
    env: {
      ...Object.fromEntries(
        Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("EDGECORE_META_")),
      ),
      ...env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

function copy(dir: string, from: URL, name: string): string {
  const path = `${dir}/${name}`;
  Deno.copyFileSync(new URL(name, from), path);
  Deno.chmodSync(path, 0o644);
  return path;
}

Deno.test("release: detected from the database, configured wins, 1.10 for a new file", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const v23 = copy(dir, V123, "edgecore.db");
    const up = copy(dir, V123, "upgraded.db");
    assert.equal(Store.releaseOf(v23), "1.23");
    assert.equal(Store.releaseOf(up), "1.23");
    assert.equal(Store.releaseOf(`${dir}/absent.db`), undefined);
    const s = Store.open(up);
    assert.equal(s.release, "1.23");
    s.close();
    const forced = Store.open(v23, { release: "1.10" });
    assert.equal(forced.release, "1.10");
    assert.equal(forced.metaV2.shape, "gorm", "the file keeps its shape");
    forced.close();
    const fresh = Store.open(`${dir}/new.db`);
    assert.equal(fresh.release, "1.10");
    fresh.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("release: replay refuses v1.23 (process() not reproduced) and bad release names", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const r = await cli(["replay", CRUD, "--kubeedge", "1.23", "--out", "/dev/null"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /Cannot replay as KubeEdge v1\.23: its MetaManager process\(\) is not reproduced yet/,
    );
    const bad = await cli(["replay", CRUD, "--kubeedge", "1.22", "--out", "/dev/null"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Unsupported KubeEdge release "1\.22": expected 1\.10 or 1\.23/);
    const env = await cli(["replay", CRUD, "--out", "/dev/null"], {
      EDGECORE_META_KUBEEDGE: "1.23",
    });
    assert.equal(env.code, 1);
    // Detected from a v1.23 file, which is left as it was.
    const v23 = copy(dir, V123, "edgecore.db");
    const before = Deno.readFileSync(v23);
    const det = await cli(["replay", CRUD, "--db", v23, "--out", "/dev/null"]);
    assert.equal(det.code, 1);
    assert.deepEqual(Deno.readFileSync(v23), before);
    // --kubeedge 1.10 runs v1.10's process() on it, writing its gorm columns.
    const ok = await cli(["replay", CRUD, "--db", v23, "--kubeedge", "1.10", "--out", "/dev/null"]);
    assert.equal(ok.code, 0, ok.stderr);
    const s = Store.open(v23, { readOnly: true });
    assert.equal(s.metaV2.shape, "gorm");
    s.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("release: sync on a v1.23 database: refused in strict mode, our forced sync in fixed", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const v23 = copy(dir, V123, "edgecore.db");
    const strict = await cli(["sync", "--db", v23, "--dry-run"], {
      EDGECORE_META_COMPAT: "strict",
    });
    assert.equal(strict.code, 1);
    assert.match(
      strict.stderr,
      /as KubeEdge v1\.23 in strict mode: v1\.23 has no meta-internal-sync/,
    );
    const fixed = await cli(["sync", "--db", v23, "--dry-run"]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(fixed.stderr, /sync: 4 namespace message\(s\)/);
    // A v1.10 database in strict mode syncs as v1.10 does.
    Deno.mkdirSync(`${dir}/v10`);
    const v10 = copy(`${dir}/v10`, V110, "edgecore.db");
    const v10strict = await cli(["sync", "--db", v10, "--dry-run"], {
      EDGECORE_META_COMPAT: "strict",
    });
    assert.equal(v10strict.code, 0, v10strict.stderr);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("release: serve refuses strict v1.23 before touching the file", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const v23 = copy(dir, V123, "edgecore.db");
    const before = Deno.readFileSync(v23);
    const r = await cli(["serve", "--db", v23, "--listen", "127.0.0.1:0", "--compat", "strict"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Cannot serve in strict mode as KubeEdge v1\.23/);
    assert.deepEqual(Deno.readFileSync(v23), before);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["edgecore.db"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
