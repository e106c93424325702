/**
 * The big-list figure of `deno task bench` (issue #15): a database of `pods` generated
 * pods (~3 KB each, 20 namespaces, written with node:sqlite directly), `main.ts serve` on
 * it, and a real `kubectl get pods -A` (kubectl pages with limit=500 and continue) timed
 * from start to exit; serve's peak RSS is its kernel high-water mark (VmHWM) once kubectl
 * is done. The output is counted, not kept; the run fails unless kubectl printed a header
 * and one row per pod.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { META_DDL, META_V2_DDL } from "../src/store/db.ts";
import { rowForObject } from "../src/store/meta_v2.ts";
import { startServe, stopServe } from "./serve_run.ts";
import { mb, procStatus, round } from "./stats.ts";

/** What the big-list phase measured. */
export interface BigListResult {
  pods: number;
  /** Size of the generated database file. */
  db_mb: number;
  /** Wall time of `kubectl get pods -A`. */
  seconds: number;
  /** serve's VmHWM after the list (start-up included). */
  serve_peak_rss_mb: number;
  /** Lines kubectl printed (a header and one per pod). */
  rows: number;
}

const PADDING = "p".repeat(3000);

/** Writes `count` pods into a new database at `path` (one transaction). */
export function generatePods(path: string, count: number): void {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode=WAL");
  db.exec(META_DDL);
  db.exec(META_V2_DDL);
  const insert = db.prepare(
    "INSERT INTO meta_v2 (key, groupversionresource, namespace, name, resourceversion, value) VALUES (?,?,?,?,?,?)",
  );
  db.exec("BEGIN");
  for (let i = 0; i < count; i++) {
    const r = rowForObject({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: `pod-${String(i).padStart(6, "0")}`,
        namespace: `ns-${i % 20}`,
        uid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
        resourceVersion: String(i + 1),
        creationTimestamp: "2024-01-01T00:00:00Z",
        labels: { app: `app-${i % 10}` },
        annotations: { "big.bench/padding": PADDING },
      },
      spec: { nodeName: "edge-big-1", containers: [{ name: "main", image: "example/app:1" }] },
      status: { phase: "Running", podIP: `10.1.${(i >> 8) & 255}.${i & 255}` },
    });
    insert.run(r.key, r.groupversionresource, r.namespace, r.name, r.resourceversion, r.value);
  }
  db.exec("COMMIT");
  db.close();
}

/** `kubectl` on PATH, else /usr/bin/kubectl; undefined when there is none. */
export function findKubectl(): string | undefined {
  for (const dir of [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/bin"]) {
    if (dir === "") continue;
    try {
      if (Deno.statSync(`${dir}/kubectl`).isFile) return `${dir}/kubectl`;
    } catch { /* not here */ }
  }
  return undefined;
}

/** Generates the database in `dir`, serves it and times `kubectl get pods -A`. */
export async function runBigListBench(o: {
  dir: string;
  pods: number;
  kubectl: string;
  denoFlags: string[];
}): Promise<BigListResult> {
  const db = `${o.dir}/big-list.db`;
  generatePods(db, o.pods);
  const dbBytes = Deno.statSync(db).size;
  const home = await Deno.makeTempDir({ dir: o.dir, prefix: "kubectl-home-" });
  const serve = await startServe(db, o.denoFlags);
  try {
    const t = performance.now();
    const child = new Deno.Command(o.kubectl, {
      args: ["--server", `http://${serve.addr}`, "--request-timeout=600s", "get", "pods", "-A"],
      env: { HOME: home, KUBECONFIG: "/dev/null", PATH: Deno.env.get("PATH") ?? "" },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let rows = 0;
    const counting = (async () => {
      for await (const chunk of child.stdout) {
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) rows++;
      }
    })();
    const stderr = new Response(child.stderr).text();
    const status = await child.status;
    await counting;
    const seconds = (performance.now() - t) / 1000;
    const peak = procStatus(serve.child.pid)?.hwm ?? NaN;
    if (status.code !== 0 || rows !== o.pods + 1) {
      throw new Error(
        `big list: kubectl get pods -A exited ${status.code} with ${rows} lines ` +
          `(expected ${o.pods + 1}): ${(await stderr).slice(0, 500)}`,
      );
    }
    return {
      pods: o.pods,
      db_mb: mb(dbBytes),
      seconds: round(seconds, 2),
      serve_peak_rss_mb: mb(peak),
      rows,
    };
  } finally {
    await stopServe(serve.child);
    await Deno.remove(db).catch(() => {});
    await Deno.remove(`${db}-wal`).catch(() => {});
    await Deno.remove(`${db}-shm`).catch(() => {});
  }
}
