/**
 * The database dump of ../shared/oracle/README.md: both tables, each sorted by key
 * (bytewise).
 *
 * @module
 */

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

/** `JSON.rawJSON` (V8 has it; Deno's bundled lib types do not yet). */
const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

type DumpSource = Pick<Database, "tables" | "sqlite"> & { shape?: SchemaShape };

/**
 * The dump's two tables as rows read one at a time (see {@link dumpRows}); a
 * resourceversion is the stored integer (a bigint: write it with an exact JSON writer).
 */
export interface DumpRows {
  meta: Iterable<MetaRow>;
  meta_v2: Iterable<StoredMetaV2Row>;
}

/**
 * Both tables as lazy row sequences, each in key order: SQLite's BINARY collation
 * compares the UTF-8 bytes (NULs included), i.e. code point order, the dump's order.
 * Only the row being written is in memory, whatever the database's size (a table that
 * does not exist yields nothing). Iterate inside the read transaction that opened `db`.
 */
export function dumpRows(db: DumpSource): DumpRows {
  const tables = new Set(db.tables());
  return {
    meta: tables.has("meta") ? new MetaDao(db).rowsByKey() : [],
    meta_v2: tables.has("meta_v2") ? new MetaV2Dao(db).storedRows() : [],
  };
}

/**
 * Reads both tables (a table that does not exist dumps as empty). A resourceversion
 * beyond 2^53 is given as its decimal string (a JS number would round it).
 */
export function dumpDatabase(db: DumpSource): Dump {
  const rows = dumpRows(db);
  return {
    meta: [...rows.meta],
    meta_v2: Array.from(rows.meta_v2, (r) => ({
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
  const rows = dumpRows(db);
  return JSON.stringify(
    { meta: [...rows.meta], meta_v2: [...rows.meta_v2] },
    (_k, v) => typeof v === "bigint" ? rawJson(v.toString()) : v,
    2,
  ) + "\n";
}
