/**
 * What `inspect` reads: the summary of a database file, rows of `meta` or `meta_v2`
 * selected by filters, and the dump. Every statement is parameterised; filter values
 * never become SQL text or LIKE patterns.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { DatabaseError } from "../store/db.ts";
import type { Database } from "../store/db.ts";
import { type Dump, dumpDatabase, type DumpRows, dumpRows } from "../store/dump.ts";
import { fromStoredVersion } from "../store/meta_v2.ts";
import {
  describeShape,
  detectShape,
  type KubeEdgeRelease,
  metaV2Statements,
  releaseOfShape,
  SchemaError,
  type SchemaShape,
} from "../store/schema.ts";
import { namespaceOf, parseResource } from "../metamanager/resource.ts";
import type { FileFacts, ReadMethod, ReadOnlyDb } from "./open.ts";
import { wholeColumn } from "../store/whole_text.ts";

/** The columns of `meta`, read whole (a NUL inside does not cut them). */
const wholeColumns = ["key", "type", "value"].map((c) => wholeColumn(`\`${c}\``, c)).join(", ");

/** The two tables inspect reads. */
export type TableName = "meta" | "meta_v2";

/** Row filters (all given ones must match). */
export interface Filters {
  /** Exact key. */
  key?: string;
  /** `meta.type` (meta only). */
  type?: string;
  /** Key prefix (plain text, no wildcards). */
  prefix?: string;
  /** meta: first `/` segment of the key; meta_v2: the `namespace` column. */
  namespace?: string;
  /** `meta_v2.groupversionresource` (meta_v2 only). */
  gvr?: string;
}

/** A row of `meta` as inspect shows it. */
export interface MetaRecord {
  table: "meta";
  key: string;
  type: string;
  /** meta has no namespace column: the key's first `/` segment. */
  namespace: string;
  /** The key's id segment (third of three), else "". */
  name: string;
  /** The stored text; null for SQL NULL. */
  value: string | null;
}

/** A row of `meta_v2` as inspect shows it. */
export interface MetaV2Record {
  table: "meta_v2";
  key: string;
  gvr: string;
  namespace: string;
  name: string;
  /** Exact: a bigint when beyond the safe integer range. */
  resourceversion: number | bigint;
  value: string | null;
}

/** A selected row. */
export type InspectRecord = MetaRecord | MetaV2Record;

/** Names of the tables in the file, sorted. */
export function listTables(sqlite: DatabaseSync): string[] {
  const rows = sqlite.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
  ).all() as { name: string }[];
  return rows.map((r) => r.name);
}

/**
 * Checks the tables inspect needs: at least one of `meta` and `meta_v2` (or `table`
 * when given), each present one with its KubeEdge columns.
 * @returns the shape of `meta_v2` (undefined without it)
 * @throws {DatabaseError} naming the path and what is missing
 */
export function checkTables(
  db: ReadOnlyDb,
  tables: string[],
  table?: TableName,
): SchemaShape | undefined {
  const present = (["meta", "meta_v2"] as TableName[]).filter((t) => tables.includes(t));
  const found = tables.length ? `tables: ${tables.join(", ")}` : "no tables at all";
  if (present.length === 0) {
    throw new DatabaseError(
      db.path,
      `Cannot use database ${db.path}: it has neither table meta nor meta_v2 (${found})`,
    );
  }
  if (table !== undefined && !present.includes(table)) {
    throw new DatabaseError(
      db.path,
      `Cannot use database ${db.path}: it has no table ${table} (${found})`,
    );
  }
  return shapeOf(db);
}

/**
 * The shape of the file's `meta_v2` (src/store/schema.ts), undefined without that table.
 * @throws {DatabaseError} when a table lacks its KubeEdge columns
 */
export function shapeOf(db: Pick<ReadOnlyDb, "path" | "sqlite">): SchemaShape | undefined {
  try {
    return detectShape(db.sqlite);
  } catch (e) {
    if (!(e instanceof SchemaError)) throw e;
    throw new DatabaseError(db.path, `Cannot use database ${db.path}: ${e.message}`);
  }
}

/** Text of a TEXT or BLOB cell; SQL NULL stays null. */
function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  return String(v);
}

function integer(v: unknown): number | bigint {
  if (typeof v === "bigint" || typeof v === "number") return fromStoredVersion(v);
  return Number(v ?? 0);
}

/** SQL expression of a meta key's namespace: the text before the first `/`, else the key. */
const META_NAMESPACE_SQL =
  "(CASE WHEN instr(`key`, '/') > 0 THEN substr(`key`, 1, instr(`key`, '/') - 1) ELSE `key` END)";

/**
 * The WHERE clause and its parameters for `filters` on `table`.
 * @throws {Error} when a filter does not apply to the table (callers check first)
 */
export function whereClause(
  table: TableName,
  filters: Filters,
  shape: SchemaShape = "beego",
): { sql: string; params: string[] } {
  const where: string[] = [];
  const params: string[] = [];
  if (filters.key !== undefined) {
    where.push("`key` = ?");
    params.push(filters.key);
  }
  if (filters.type !== undefined) {
    if (table !== "meta") throw new Error("--type applies to table meta only");
    where.push("`type` = ?");
    params.push(filters.type);
  }
  if (filters.gvr !== undefined) {
    if (table !== "meta_v2") throw new Error("--gvr applies to table meta_v2 only");
    where.push(`${metaV2Statements(shape).gvrExpr} = ?`);
    params.push(filters.gvr);
  }
  if (filters.prefix !== undefined) {
    // substr/length count characters on both sides; no LIKE, so % and _ are plain text.
    where.push("substr(`key`, 1, length(?)) = ?");
    params.push(filters.prefix, filters.prefix);
  }
  if (filters.namespace !== undefined) {
    where.push(table === "meta" ? `${META_NAMESPACE_SQL} = ?` : "`namespace` = ?");
    params.push(filters.namespace);
  }
  return { sql: where.length ? ` WHERE ${where.join(" AND ")}` : "", params };
}

/** Rows of `table` matching `filters`, ordered by key (bytewise, SQLite's BINARY order). */
export function selectRows(
  sqlite: DatabaseSync,
  table: TableName,
  filters: Filters,
): InspectRecord[] {
  return [...iterateRows(sqlite, table, filters)];
}

/**
 * The rows of {@link selectRows}, read from SQLite one at a time (only the current row in
 * memory); iterate inside the read transaction.
 */
export function* iterateRows(
  sqlite: DatabaseSync,
  table: TableName,
  filters: Filters,
): Generator<InspectRecord> {
  const shape = table === "meta_v2" ? detectShape(sqlite) ?? "beego" : "beego";
  const { sql, params } = whereClause(table, filters, shape);
  if (table === "meta") {
    const st = sqlite.prepare(
      `SELECT ${wholeColumns} FROM \`meta\`` + sql + " ORDER BY `meta`.`key`",
    );
    for (const raw of st.iterate(...params)) {
      const r = raw as Record<string, unknown>;
      const key = text(r.key) ?? "";
      yield {
        table: "meta",
        key,
        type: text(r.type) ?? "",
        namespace: namespaceOf(key),
        name: parseResource(key).id,
        value: text(r.value),
      };
    }
    return;
  }
  const st = sqlite.prepare(metaV2Statements(shape).select + sql + " ORDER BY `meta_v2`.`key`");
  st.setReadBigInts(true);
  for (const raw of st.iterate(...params)) {
    const r = raw as Record<string, unknown>;
    yield {
      table: "meta_v2",
      key: text(r.key) ?? "",
      gvr: text(r.gvr) ?? "",
      namespace: text(r.namespace) ?? "",
      name: text(r.name) ?? "",
      resourceversion: integer(r.rv),
      value: text(r.value),
    };
  }
}

/** Row count of one table and per group (type or groupversionresource). */
export interface TableCounts {
  rows: number;
  /** Sorted by group. */
  groups: { group: string; rows: number }[];
}

/** The summary of a database file. */
export interface Summary {
  file: FileFacts;
  /** `PRAGMA page_size` and `PRAGMA page_count` (the latter includes pages in the WAL). */
  pageSize: number;
  pageCount: number;
  /** `wal` from the header, else what SQLite reports (`delete`). */
  journalMode: string;
  readMethod: ReadMethod;
  tables: string[];
  /** The shape of `meta_v2` (null without it) and the KubeEdge release that writes it. */
  schema: { shape: SchemaShape; release: KubeEdgeRelease; description: string } | null;
  /** null when the table is absent. */
  meta: TableCounts | null;
  meta_v2: TableCounts | null;
}

function counts(sqlite: DatabaseSync, table: TableName, expr: string): TableCounts {
  const st: StatementSync = sqlite.prepare(
    `SELECT ${expr} AS g, count(*) AS n FROM \`${table}\` GROUP BY g ORDER BY g`,
  );
  const groups = (st.all() as { g: unknown; n: number }[]).map((r) => ({
    group: text(r.g) ?? "",
    rows: Number(r.n),
  }));
  return { rows: groups.reduce((a, g) => a + g.rows, 0), groups };
}

/** Reads the summary (inside the read transaction of `db`). */
export function summarize(db: ReadOnlyDb, tables: string[]): Summary {
  const shape = shapeOf(db);
  const pragma = (name: string) => {
    const row = db.sqlite.prepare(`PRAGMA ${name}`).get() as Record<string, unknown>;
    return row[name];
  };
  return {
    file: db.facts,
    pageSize: Number(pragma("page_size")),
    pageCount: Number(pragma("page_count")),
    journalMode: db.facts.wal ? "wal" : String(pragma("journal_mode")),
    readMethod: db.method,
    tables,
    schema: shape === undefined
      ? null
      : { shape, release: releaseOfShape(shape), description: describeShape(shape) },
    meta: tables.includes("meta") ? counts(db.sqlite, "meta", "`type`") : null,
    meta_v2: shape !== undefined
      ? counts(db.sqlite, "meta_v2", metaV2Statements(shape).gvrExpr)
      : null,
  };
}

/** The database dump (src/store/dump.ts) of an inspected file, in memory (see {@link dumpStream}). */
export function dump(db: ReadOnlyDb): Dump {
  return dumpDatabase(view(db));
}

/**
 * The database dump of an inspected file, its rows read one at a time in key order
 * (iterate inside the read transaction); resourceversions are exact integers.
 */
export function dumpStream(db: ReadOnlyDb): DumpRows {
  return dumpRows(view(db));
}

function view(db: ReadOnlyDb): Pick<Database, "tables" | "sqlite"> {
  return { tables: () => listTables(db.sqlite), sqlite: db.sqlite };
}
