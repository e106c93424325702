/**
 * The DeviceTwin tables of an edge database (`device`, `device_attr`, `device_twin`,
 * spec/storage.md §1) read as they are: every column, every row, ordered by id.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { DatabaseError } from "../store/db.ts";
import { cell, formatTableLines, parseValue, toJson } from "./render.ts";

/** The DeviceTwin tables. */
export const DEVICE_TABLES = ["device", "device_attr", "device_twin"] as const;
/** One of {@link DEVICE_TABLES}. */
export type DeviceTable = typeof DEVICE_TABLES[number];

/** The rows of a device table with its column names. */
export interface PlainRows {
  table: DeviceTable;
  columns: string[];
  rows: Record<string, unknown>[];
}

function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  return v;
}

/**
 * Reads a device table; `filters` match columns `deviceid`/`id` and `name` when given.
 * @throws {DatabaseError} when the table is absent
 */
export function readDeviceTable(
  path: string,
  sqlite: DatabaseSync,
  tables: string[],
  table: DeviceTable,
  filters: { name?: string; key?: string } = {},
): PlainRows {
  if (!tables.includes(table)) {
    throw new DatabaseError(
      path,
      `Cannot use database ${path}: it has no table ${table} (DeviceTwin never ran on it; ` +
        `tables: ${tables.join(", ") || "none"})`,
    );
  }
  const columns = (sqlite.prepare("SELECT name FROM pragma_table_info(?)").all(table) as {
    name: string;
  }[]).map((c) => c.name);
  const where: string[] = [];
  const params: string[] = [];
  if (filters.name !== undefined && columns.includes("name")) {
    where.push("`name` = ?");
    params.push(filters.name);
  }
  if (filters.key !== undefined) {
    where.push(columns.includes("deviceid") ? "(`deviceid` = ? OR `id` = ?)" : "`id` = ?");
    params.push(filters.key);
    if (columns.includes("deviceid")) params.push(filters.key);
  }
  const sql = `SELECT * FROM \`${table}\`` + (where.length ? ` WHERE ${where.join(" AND ")}` : "") +
    " ORDER BY `id`";
  const rows = (sqlite.prepare(sql).all(...params) as Record<string, unknown>[]).map((r) =>
    Object.fromEntries(columns.map((c) => [c, plain(r[c])]))
  );
  return { table, columns, rows };
}

/** Rows as a table, JSON, NDJSON (values holding JSON text are shown parsed in JSON). */
export function* renderPlainRows(
  format: "table" | "json" | "ndjson",
  data: PlainRows,
): Generator<string> {
  if (format === "table") {
    if (data.rows.length === 0) return;
    yield* formatTableLines(
      data.columns.map((c) => c.toUpperCase()),
      data.rows.map((r) => data.columns.map((c) => cell(r[c] === null ? "<null>" : String(r[c])))),
    );
    return;
  }
  const objects = data.rows.map((r) =>
    Object.fromEntries(
      Object.entries(r).map((
        [k, v],
      ) => [k, typeof v === "string" && /^\s*[[{]/.test(v) ? parseValue(v) : v]),
    )
  );
  if (format === "ndjson") {
    for (const o of objects) yield toJson(o) + "\n";
    return;
  }
  yield toJson(objects, 2) + "\n";
}
