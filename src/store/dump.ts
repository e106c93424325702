/**
 * The database dump of ../shared/oracle/README.md: both tables, each sorted by key
 * (bytewise).
 *
 * @module
 */

import { compareUtf8 } from "../beehive/go_json.ts";
import type { Database } from "./db.ts";
import { MetaDao, type MetaRow } from "./meta.ts";
import { MetaV2Dao, type StoredMetaV2Row } from "./meta_v2.ts";
import type { SchemaShape } from "./schema.ts";

/** A dump of tables `meta` and `meta_v2`. */
export interface Dump {
  meta: MetaRow[];
  /**
   * v1.10 field names whatever the shape; the data columns of the release that owns it
   * (a migrated file's v1.23 columns, NULL where v1.23 never wrote the row).
   */
  meta_v2: (Omit<StoredMetaV2Row, "resourceversion"> & {
    resourceversion: number | string | null;
  })[];
}

/** Key order of the dump: bytewise on UTF-8, i.e. code point order. */
function byKey(a: { key: string }, b: { key: string }): number {
  return compareUtf8(a.key, b.key);
}

/** `JSON.rawJSON` (V8 has it; Deno's bundled lib types do not yet). */
const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

type DumpSource = Pick<Database, "tables" | "sqlite"> & { shape?: SchemaShape };

function readTables(db: DumpSource): { meta: MetaRow[]; meta_v2: StoredMetaV2Row[] } {
  const tables = new Set(db.tables());
  const meta = tables.has("meta") ? new MetaDao(db).all() : [];
  const v2 = tables.has("meta_v2") ? new MetaV2Dao(db).storedRows() : [];
  return { meta: meta.sort(byKey), meta_v2: v2.sort(byKey) };
}

/**
 * Reads both tables (a table that does not exist dumps as empty). A resourceversion
 * beyond 2^53 is given as its decimal string (a JS number would round it).
 */
export function dumpDatabase(db: DumpSource): Dump {
  const { meta, meta_v2 } = readTables(db);
  return {
    meta,
    meta_v2: meta_v2.map((r) => ({
      ...r,
      resourceversion: typeof r.resourceversion === "bigint"
        ? r.resourceversion.toString()
        : r.resourceversion,
    })),
  };
}

/**
 * The dump as JSON text (two-space indentation, trailing newline); `resourceversion` is
 * a JSON integer at any size, as the reference dumps write it.
 */
export function dumpJson(db: DumpSource): string {
  return JSON.stringify(
    readTables(db),
    (_k, v) => typeof v === "bigint" ? rawJson(v.toString()) : v,
    2,
  ) + "\n";
}
