/**
 * `inspect` for an operator's everyday questions, as a subprocess on real files: the pod
 * view with the podstatus phase, --name, kubectl's spellings and suggestions, the
 * database as a positional argument, the DeviceTwin tables, and --watch on a live file.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { PROJECT_DIR, runCli } from "./support/serve_process.ts";

const FIXTURE = new URL("../fixtures/edgecore-db/edgecore.db", import.meta.url).pathname;

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "edgecore-meta-inspect-op-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("inspect --pods shows the podstatus phase where the cloud's copy says Pending", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/edgecore.db`;
    await Deno.copyFile(FIXTURE, path);
    const db = new DatabaseSync(path);
    const key = "default/pod/nginx-7d9c8b5f6d-x2k4p";
    const pod = JSON.parse(
      (db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: string }).value,
    );
    pod.status = { phase: "Pending" }; // the cloud's copy, as kubectl shows it
    db.prepare("UPDATE meta SET value = ? WHERE key = ?").run(JSON.stringify(pod), key);
    db.close();

    const r = await runCli(["inspect", path, "--pods", "-n", "default"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.match(lines[0], /^NAMESPACE\s+NAME\s+PHASE\s+READY\s+RESTARTS\s+AGE\s+NODE\s+NEWER$/);
    assert.equal(lines.length, 5);
    const row = lines.find((l) => l.includes("nginx-7d9c8b5f6d-x2k4p"))!;
    assert.match(row, /\sRunning\s+1\/1\s+0\s+\S+\s+edge-node-1\s+podstatus$/);

    const json = await runCli([
      "inspect",
      "--db",
      path,
      "--pods",
      "--name",
      "redis-0",
      "-o",
      "json",
    ]);
    const views = JSON.parse(json.stdout);
    assert.equal(views.length, 1);
    assert.equal(views[0].phase, "Running");
    assert.equal(views[0].phaseSource, "podstatus");
    assert.equal(views[0].statusKey, "default/podstatus/redis-0");
  });
});

Deno.test("inspect --name, kubectl spellings, suggestions, positional database", async () => {
  const byName = await runCli([
    "inspect",
    FIXTURE,
    "--type",
    "pods",
    "--name",
    "redis-0",
    "-o",
    "ndjson",
  ]);
  assert.equal(byName.code, 0, byName.stderr);
  const rows = byName.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => r.key), ["default/pod/redis-0"]);

  for (const spelling of ["po", "Pod", "pods", "pod"]) {
    const r = await runCli(["inspect", FIXTURE, "--type", spelling, "-o", "ndjson"]);
    assert.equal(r.stdout.trim().split("\n").length, 12, spelling);
  }
  for (const spelling of ["pods", "Resource=pods", "v1/pods", "/v1,Resource=pods"]) {
    const r = await runCli(["inspect", FIXTURE, "--gvr", spelling, "-o", "ndjson"]);
    assert.equal(r.stdout.trim().split("\n").length, 12, spelling);
  }
  const typo = await runCli(["inspect", FIXTURE, "--type", "podz"]);
  assert.equal(typo.stdout, "");
  assert.match(typo.stderr, /No rows found in table meta of .*Did you mean --type "pod"/);
  const gvrAsType = await runCli(["inspect", FIXTURE, "--type", "/v1, Resource=secrets"]);
  assert.match(gvrAsType.stderr, /Did you mean --gvr "\/v1, Resource=secrets"\?/);

  const two = await runCli(["inspect", FIXTURE, "--db", "/elsewhere.db"]);
  assert.equal(two.code, 2);
  assert.match(two.stderr, /Two databases given/);
});

Deno.test("inspect reads the device, device_attr and device_twin tables", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/edgecore.db`;
    await Deno.copyFile(FIXTURE, path);
    const db = new DatabaseSync(path);
    db.prepare("INSERT INTO device (id, name, description, state, last_online) VALUES (?,?,?,?,?)")
      .run("dev-1", "thermometer", "room 1", "online", "2024-01-01T00:00:00Z");
    db.prepare(
      "INSERT INTO device_twin (deviceid, name, expected, actual, optional) VALUES (?,?,?,?,?)",
    ).run("dev-1", "temperature", '{"value":"20"}', '{"value":"21.5"}', 1);
    db.close();
    const twin = await runCli(["inspect", path, "--table", "device_twin"]);
    assert.equal(twin.code, 0, twin.stderr);
    assert.match(twin.stdout, /^ID\s+DEVICEID\s+NAME\s+DESCRIPTION\s+EXPECTED\s+ACTUAL/);
    assert.match(
      twin.stdout,
      /\n1\s+dev-1\s+temperature\s+<null>\s+\{"value":"20"\}\s+\{"value":"21\.5"\}/,
    );
    const dev = await runCli(["inspect", path, "--table", "device", "-o", "json"]);
    assert.deepEqual(JSON.parse(dev.stdout)[0].name, "thermometer");
    const twinJson = await runCli(["inspect", path, "--table", "device_twin", "-o", "ndjson"]);
    assert.deepEqual(JSON.parse(twinJson.stdout).actual, { value: "21.5" });
  });
});

Deno.test("inspect --watch prints ADDED, MODIFIED, DELETED as a writer commits, writing nothing", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/edgecore.db`;
    await Deno.copyFile(FIXTURE, path);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "inspect", path, "--type", "configmap", "-o", "ndjson", "-w"],
      cwd: PROJECT_DIR,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    const until = async (re: RegExp) => {
      const deadline = Date.now() + 15_000;
      while (!re.test(out)) {
        assert.ok(Date.now() < deadline, `timed out waiting for ${re}: ${out}`);
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
    };
    try {
      await until(/(.*\n){8}/); // the 8 configmaps
      const db = new DatabaseSync(path);
      db.prepare("INSERT INTO meta (key, type, value) VALUES (?, 'configmap', ?)")
        .run("default/configmap/new-one", '{"kind":"ConfigMap","metadata":{"name":"new-one"}}');
      await until(/"type":"ADDED".*new-one/);
      db.prepare("UPDATE meta SET value = ? WHERE key = ?")
        .run(
          '{"kind":"ConfigMap","metadata":{"name":"new-one"},"data":{"a":"b"}}',
          "default/configmap/new-one",
        );
      await until(/"type":"MODIFIED".*"data":\{"a":"b"\}/);
      db.prepare("DELETE FROM meta WHERE key = ?").run("default/configmap/new-one");
      await until(/"type":"DELETED".*new-one/);
      db.close();
    } finally {
      child.kill("SIGTERM");
      await reader.cancel();
      await child.stderr.cancel();
      await child.status;
    }
  });
});
