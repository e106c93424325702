/**
 * The database dump of ../shared/oracle/README.md: both tables, each sorted by key
 * (bytewise).
 *
 * @module
 */

import type { Database } from "./db.ts";
import type { MetaRow } from "./meta.ts";
import { fromStoredVersion, type MetaV2Row } from "./meta_v2.ts";

/** A dump of tables `meta` and `meta_v2`. */
export interface Dump {
  meta: MetaRow[];
  meta_v2: (Omit<MetaV2Row, "resourceversion"> & { resourceversion: number | string })[];
}

function bytewise(a: { key: string }, b: { key: string }): number {
  const x = new TextEncoder().encode(a.key), y = new TextEncoder().encode(b.key);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** Reads both tables (a table that does not exist dumps as empty). */
export function dumpDatabase(db: Pick<Database, "tables" | "sqlite">): Dump {
  const tables = new Set(db.tables());
  const meta = tables.has("meta")
    ? (db.sqlite.prepare("SELECT `key`, `type`, `value` FROM `meta`").all() as unknown as MetaRow[])
      .map((r) => ({ key: r.key, type: r.type, value: r.value ?? "" }))
    : [];
  let v2: MetaV2Row[] = [];
  if (tables.has("meta_v2")) {
    const st = db.sqlite.prepare(
      "SELECT `key`, `groupversionresource`, `namespace`, `name`, `resourceversion`, `value` FROM `meta_v2`",
    );
    st.setReadBigInts(true);
    v2 = st.all() as unknown as MetaV2Row[];
  }
  return {
    meta: meta.sort(bytewise),
    meta_v2: v2.map((r) => ({
      key: r.key,
      groupversionresource: r.groupversionresource,
      namespace: r.namespace,
      name: r.name,
      resourceversion: typeof fromStoredVersion(r.resourceversion) === "bigint"
        ? r.resourceversion.toString()
        : Number(r.resourceversion),
      value: r.value ?? "",
    })).sort(bytewise),
  };
}

/** The dump as JSON text (two-space indentation, trailing newline). */
export function dumpJson(db: Pick<Database, "tables" | "sqlite">): string {
  return JSON.stringify(dumpDatabase(db), null, 2) + "\n";
}
