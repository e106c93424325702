/**
 * Choosing the KubeEdge release of a run (--kubeedge, edgecoreMeta.kubeedge,
 * EDGECORE_META_KUBEEDGE, else the database's schema, else 1.10) through the real commands.
 */

import assert from "node:assert/strict";
import { Store } from "../src/store/store.ts";
import { compareDb } from "../src/replay/compare.ts";

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

Deno.test("release: replay runs v1.23's process() when asked or detected, refuses bad release names", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    // The database each release leaves after crud.ndjson (its references differ).
    const dumpAfter = async (args: string[], env: Record<string, string> = {}) => {
      const dump = `${dir}/dump-${crypto.randomUUID()}.json`;
      const r = await cli(
        ["replay", CRUD, "--compat", "strict", "--out", "/dev/null", "--dump-db", dump, ...args],
        env,
      );
      assert.equal(r.code, 0, r.stderr);
      return Deno.readTextFileSync(dump);
    };
    const ref = (dir: string) =>
      Deno.readTextFileSync(new URL(`../fixtures/${dir}/crud.db.json`, import.meta.url));
    const same = (expected: string, actual: string) =>
      assert.deepEqual(compareDb(expected, actual).differences, []);
    same(ref("journals"), await dumpAfter([]));
    same(ref("journals-v1.23"), await dumpAfter(["--kubeedge", "1.23"]));
    same(ref("journals-v1.23"), await dumpAfter([], { EDGECORE_META_KUBEEDGE: "v1.23.1" }));
    const bad = await cli(["replay", CRUD, "--kubeedge", "1.22", "--out", "/dev/null"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Unsupported KubeEdge release "1\.22": expected 1\.10 or 1\.23/);
    // Detected from a v1.23 file: v1.23's process() (module metamanager), gorm columns kept.
    const v23 = copy(dir, V123, "edgecore.db");
    const out = `${dir}/det.out.ndjson`;
    const det = await cli([
      "replay",
      new URL("../fixtures/journals/remote.ndjson", import.meta.url).pathname,
      "--db",
      v23,
      "--out",
      out,
    ]);
    assert.equal(det.code, 0, det.stderr);
    assert.match(Deno.readTextFileSync(out), /"source":"metamanager"/);
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
