/**
 * The Meta DAO: table `meta` (key = message resource, type, value = content data), with
 * the statements of spec/storage.md §4. Every statement is parameterised.
 *
 * @module
 */

import type { StatementSync } from "node:sqlite";
import type { Database } from "./db.ts";
import { wholeColumn, wholeText } from "./whole_text.ts";

/** One row of `meta`. */
export interface MetaRow {
  key: string;
  type: string;
  value: string;
}

/** Columns that may be named in a query or field update. */
export type MetaField = "key" | "type" | "value";

const FIELDS: ReadonlySet<string> = new Set(["key", "type", "value"]);

function checkField(field: string): MetaField {
  if (!FIELDS.has(field)) throw new Error(`Unknown meta column ${JSON.stringify(field)}`);
  return field as MetaField;
}

/** True for the errors beego's SaveMeta treats as "already exists" (success). */
export function isUniqueViolation(e: unknown): boolean {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.endsWith("are not unique") || msg.includes("UNIQUE constraint failed") ||
    msg.endsWith("constraint failed");
}

/** A row of a select of the three columns through {@link wholeColumn}. */
function fromRaw(r: Record<string, unknown>): MetaRow {
  return {
    key: wholeText(r.key) as string,
    type: wholeText(r.type) as string,
    value: wholeText(r.value) ?? "",
  };
}

/** Data access for table `meta`. */
export class MetaDao {
  #insert: StatementSync;
  #upsert: StatementSync;
  #delete: StatementSync;
  #deleteLike?: StatementSync;
  #update: StatementSync;
  #byKey: StatementSync;
  #byType: StatementSync;
  #byValue: StatementSync;
  #all: StatementSync;
  #valueByKey: StatementSync;

  /** @param db an open database holding table `meta` (a read-only view will do for queries) */
  constructor(readonly db: Pick<Database, "sqlite">) {
    const s = db.sqlite;
    this.#insert = s.prepare("INSERT INTO `meta` (`key`, `type`, `value`) VALUES (?, ?, ?)");
    this.#upsert = s.prepare("INSERT OR REPLACE INTO meta (key, type, value) VALUES (?,?,?)");
    this.#delete = s.prepare("DELETE FROM `meta` WHERE `key` = ?");
    this.#update = s.prepare(
      "UPDATE `meta` SET `key` = ?, `type` = ?, `value` = ? WHERE `key` = ?",
    );
    // every column read whole, NULs included (see whole_text.ts)
    const cols = (t: string) =>
      ["key", "type", "value"].map((c) => wholeColumn(`${t}\`${c}\``, c)).join(", ");
    const select = `SELECT ${cols("T0.")} FROM \`meta\` T0 WHERE T0.`;
    this.#byKey = s.prepare(select + "`key` = ? ");
    this.#byType = s.prepare(select + "`type` = ? ");
    this.#byValue = s.prepare(select + "`value` = ? ");
    this.#all = s.prepare(`SELECT ${cols("")} FROM \`meta\``);
    this.#valueByKey = s.prepare(
      `SELECT ${wholeColumn("T0.`value`", "value")} FROM \`meta\` T0 WHERE T0.\`key\` = ? `,
    );
  }

  /**
   * SaveMeta: plain INSERT. A duplicate key is reported as success and the existing row
   * is left unchanged (upstream behaviour).
   */
  saveMeta(m: MetaRow): void {
    try {
      this.#insert.run(m.key, m.type, m.value);
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
  }

  /** InsertOrUpdate: INSERT OR REPLACE (a replaced row moves to the end of scan order). */
  insertOrUpdate(m: MetaRow): void {
    this.#upsert.run(m.key, m.type, m.value);
  }

  /** DeleteMetaByKey: deleting a missing key is not an error. */
  deleteMetaByKey(key: string): void {
    this.#delete.run(key);
  }

  /**
   * DeleteMetaByKeyAndPodUID of KubeEdge v1.23: deletes the row with `key` whose value is
   * SQLite-`LIKE` `pattern`; returns the number of rows deleted.
   */
  deleteMetaByKeyAndValueLike(key: string, pattern: string): number {
    this.#deleteLike ??= this.db.sqlite.prepare(
      "DELETE FROM `meta` WHERE key = ? AND value LIKE ?",
    );
    return Number(this.#deleteLike.run(key, pattern).changes);
  }

  /** UpdateMeta: rewrites all columns of the row with `m.key`; a missing row is no error. */
  updateMeta(m: MetaRow): void {
    this.#update.run(m.key, m.type, m.value, m.key);
  }

  /** UpdateMetaField: sets one column of the row with `key`. */
  updateMetaField(key: string, field: MetaField, value: string): void {
    this.updateMetaFields(key, { [field]: value });
  }

  /** UpdateMetaFields: sets several columns of the row with `key`. */
  updateMetaFields(key: string, values: Partial<Record<MetaField, string>>): void {
    const cols = Object.keys(values).map(checkField);
    if (cols.length === 0) return;
    const sets = cols.map((c) => `\`${c}\` = ?`).join(", ");
    this.db.sqlite.prepare(
      `UPDATE \`meta\` SET ${sets} WHERE \`key\` IN ( SELECT T0.\`key\` FROM \`meta\` T0 WHERE T0.\`key\` = ?  )`,
    ).run(...cols.map((c) => values[c] as string), key);
  }

  #select(field: string, value: string): MetaRow[] {
    const f = checkField(field);
    const st = f === "key" ? this.#byKey : f === "type" ? this.#byType : this.#byValue;
    return st.all(value).map(fromRaw);
  }

  /** QueryMeta: the `value`s of rows whose `field` equals `value`, in scan order. */
  queryMeta(field: MetaField, value: string): string[] {
    if (field === "key") {
      // The key is the primary key: at most one row.
      const row = this.#valueByKey.get(value);
      return row ? [wholeText(row.value) ?? ""] : [];
    }
    return this.#select(field, value).map((r) => r.value);
  }

  /** QueryAllMeta: full rows whose `field` equals `value`, in scan order. */
  queryAllMeta(field: MetaField, value: string): MetaRow[] {
    return this.#select(field, value);
  }

  /** Every row, in scan order. */
  all(): MetaRow[] {
    return this.#all.all().map(fromRaw);
  }

  /** Every row in key order (SQLite's BINARY order: bytewise on UTF-8), one at a time. */
  *rowsByKey(): Generator<MetaRow> {
    // ORDER BY names the table's column: the bare `key` would name the wholeColumn
    // expression and SQLite would sort whole rows in a temp b-tree instead of walking the
    // primary key's index.
    const cols = ["key", "type", "value"].map((c) => wholeColumn(`\`${c}\``, c)).join(", ");
    const st = this.db.sqlite.prepare(`SELECT ${cols} FROM \`meta\` ORDER BY \`meta\`.\`key\``);
    for (const raw of st.iterate()) yield fromRaw(raw as Record<string, unknown>);
  }
}
