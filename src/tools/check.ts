/**
 * `check`: what is wrong with an edge database, read without writing: SQLite's integrity
 * check, the KubeEdge schema, podstatus rows whose pod is gone, and `meta` rows of the
 * types MetaManager also writes to `meta_v2` without their twin there, and the reverse.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { listTables } from "../inspect/query.ts";
import { detectShape, metaV2Statements } from "../store/schema.ts";

/** One problem found. */
export interface Problem {
  check:
    | "integrity"
    | "schema"
    | "orphaned-podstatus"
    | "meta-without-meta_v2"
    | "meta_v2-without-meta";
  detail: string;
}

/** meta types with a meta_v2 twin: the core/v1 resource MetaManager stores them as. */
const TWINS: Record<string, string> = {
  pod: "pods",
  configmap: "configmaps",
  secret: "secrets",
  service: "services",
  endpoints: "endpoints",
  node: "nodes",
};

const REQUIRED: Record<string, string[]> = {
  meta: ["key", "type", "value"],
  meta_v2: ["key", "namespace", "name", "value"],
};

function text(v: unknown): string {
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  return v === null || v === undefined ? "" : String(v);
}

/** Runs every check (inside the read transaction of `sqlite`). */
export function checkDatabase(sqlite: DatabaseSync): Problem[] {
  const problems: Problem[] = [];
  const integrity = sqlite.prepare("PRAGMA integrity_check(100)").all() as {
    integrity_check: string;
  }[];
  for (const r of integrity) {
    if (r.integrity_check !== "ok") {
      problems.push({ check: "integrity", detail: r.integrity_check });
    }
  }
  const tables = listTables(sqlite);
  for (const [t, cols] of Object.entries(REQUIRED)) {
    if (!tables.includes(t)) {
      problems.push({ check: "schema", detail: `table ${t} is missing` });
      continue;
    }
    const have = new Set(
      (sqlite.prepare("SELECT name FROM pragma_table_info(?)").all(t) as { name: string }[])
        .map((c) => c.name),
    );
    const missing = cols.filter((c) => !have.has(c));
    if (missing.length) {
      problems.push({
        check: "schema",
        detail: `table ${t} lacks column(s) ${missing.join(", ")}`,
      });
    }
  }
  if (problems.some((p) => p.check === "schema" || p.check === "integrity")) return problems;

  const meta = (sqlite.prepare("SELECT `key`, `type` FROM `meta` ORDER BY `key`").all() as {
    key: unknown;
    type: unknown;
  }[]).map((r) => ({ key: text(r.key), type: text(r.type) }));
  const keys = new Set(meta.map((r) => r.key));
  for (const r of meta) {
    if (r.type !== "podstatus") continue;
    const parts = r.key.split("/");
    const pod = parts.length === 3 ? `${parts[0]}/pod/${parts[2]}` : null;
    if (pod === null || !keys.has(pod)) {
      problems.push({
        check: "orphaned-podstatus",
        detail: `${r.key}: no pod row ${pod ?? "(key is not namespace/podstatus/name)"}`,
      });
    }
  }

  const st = metaV2Statements(detectShape(sqlite) ?? "beego");
  const v2 =
    (sqlite.prepare(st.select + " ORDER BY `meta_v2`.`key`").all() as Record<string, unknown>[])
      .map((r) => ({
        key: text(r.key),
        gvr: text(r.gvr),
        namespace: text(r.namespace),
        name: text(r.name),
      }));
  const twinId = (resource: string, namespace: string, name: string) =>
    resource === "nodes" ? `nodes//${name}` : `${resource}/${namespace}/${name}`;
  const v2Ids = new Map<string, string>();
  for (const r of v2) {
    const m = /^\/v1, Resource=(.+)$/.exec(r.gvr);
    if (m && Object.values(TWINS).includes(m[1])) {
      v2Ids.set(twinId(m[1], r.namespace, r.name), r.key);
    }
  }
  const metaIds = new Set<string>();
  for (const r of meta) {
    const resource = TWINS[r.type];
    const parts = r.key.split("/");
    if (resource === undefined || parts.length !== 3) continue;
    const id = twinId(resource, parts[0], parts[2]);
    metaIds.add(id);
    if (!v2Ids.has(id)) {
      problems.push({
        check: "meta-without-meta_v2",
        detail: `${r.key}: no meta_v2 row of "/v1, Resource=${resource}" ${parts[0]}/${parts[2]}`,
      });
    }
  }
  for (const [id, key] of v2Ids) {
    if (!metaIds.has(id)) {
      problems.push({ check: "meta_v2-without-meta", detail: `${key}: no meta row` });
    }
  }
  return problems;
}
