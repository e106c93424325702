/**
 * `edit`: delete or repair one row of `meta` or `meta_v2`, the operator's remedy for a
 * stale or broken row (KubeEdge #5031 duplicate pods, #2782) without sqlite3. The caller
 * runs it through the one writer: serve's process (POST /v1/rows) or, on a stopped node,
 * under the writer lock.
 *
 * @module
 */

import type { MetaDao } from "../store/meta.ts";
import {
  decodeObject,
  isStorable,
  type KubeObject,
  type MetaV2Dao,
  type MetaV2Row,
  rowForObject,
} from "../store/meta_v2.ts";
import { type FieldChange, jsonDiff, renderFields } from "./diff.ts";
import { parseValue } from "../inspect/render.ts";

/** One row fix: delete the row with `key`, or replace its value with `value` (JSON text). */
export type RowEdit =
  | { action: "delete"; key: string }
  | { action: "set"; key: string; value: string };

/** What an edit changed (or, for a dry run, would change). */
export interface RowEditResult {
  action: "delete" | "set";
  table: "meta" | "meta_v2";
  key: string;
  /** meta: the row's type; meta_v2: its groupversionresource. */
  kind: string;
  /** Fields of the value that changed (set), each with its JSON path. */
  fields: FieldChange[];
  /** False for a dry run, and for a set that changed nothing. */
  applied: boolean;
  /** The meta_v2 row written (set) or removed (delete), for MetaServer watchers. */
  metaV2Row?: MetaV2Row;
  /** The object decoded from a meta_v2 set. */
  object?: KubeObject;
}

/** An edit that cannot be made; the message names the key or the value's problem. */
export class RowEditError extends Error {
  /** @param status the HTTP status serve answers with (404 no such row, 422 bad value) */
  constructor(message: string, readonly status = 422) {
    super(message);
    this.name = "RowEditError";
  }
}

/**
 * The edit a POST /v1/rows body asks for: `{"action":"delete","key":K}` or
 * `{"action":"set","key":K,"value":"JSON text"}`.
 * @throws {RowEditError} (400) naming what is wrong with the body
 */
export function parseRowEdit(body: string): RowEdit {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch (e) {
    throw new RowEditError(`The edit is not JSON (${(e as Error).message})`, 400);
  }
  const o = (v !== null && typeof v === "object" && !Array.isArray(v) ? v : {}) as Record<
    string,
    unknown
  >;
  if (typeof o.key !== "string") throw new RowEditError("The edit has no string key", 400);
  if (o.action === "delete") return { action: "delete", key: o.key };
  if (o.action === "set") {
    if (typeof o.value !== "string") {
      throw new RowEditError("The set edit has no string value (the JSON text)", 400);
    }
    return { action: "set", key: o.key, value: o.value };
  }
  throw new RowEditError(
    `The edit's action ${JSON.stringify(o.action)} is neither "delete" nor "set"`,
    400,
  );
}

/** meta keys are `namespace/type/name`; meta_v2 keys always start with `/`. */
export function tableOfKey(key: string): "meta" | "meta_v2" {
  return key.startsWith("/") ? "meta_v2" : "meta";
}

/** The tables an edit reads and writes. */
export interface EditTables {
  meta: MetaDao;
  metaV2: MetaV2Dao;
}

function parseJson(text: string, key: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RowEditError(
      `Cannot set ${key}: the new value is not JSON (${(e as Error).message})`,
    );
  }
}

/**
 * Validates and (unless `dryRun`) makes one edit. Run it inside one transaction.
 * @throws {RowEditError} when the row does not exist, or the new value is not JSON, or (meta_v2)
 *   is no storable object whose key is `key`
 */
export function editRow(tables: EditTables, edit: RowEdit, dryRun = false): RowEditResult {
  const { key } = edit;
  if (key.trim() === "") throw new RowEditError("Cannot edit a row: the key is empty");
  const table = tableOfKey(key);
  if (table === "meta") {
    const row = tables.meta.queryAllMeta("key", key)[0];
    if (row === undefined) {
      throw new RowEditError(`No meta row with key ${JSON.stringify(key)}`, 404);
    }
    if (edit.action === "delete") {
      if (!dryRun) tables.meta.deleteMetaByKey(key);
      return { action: "delete", table, key, kind: row.type, fields: [], applied: !dryRun };
    }
    const value = edit.value.trim();
    const after = parseJson(value, key);
    const fields = jsonDiff(parseValue(row.value), after);
    const write = !dryRun && value !== row.value;
    if (write) tables.meta.updateMetaField(key, "value", value);
    return { action: "set", table, key, kind: row.type, fields, applied: write };
  }
  const row = tables.metaV2.selectByKey(key).find((r) => r.key === key);
  if (row === undefined) {
    throw new RowEditError(`No meta_v2 row with key ${JSON.stringify(key)}`, 404);
  }
  const kind = row.groupversionresource;
  if (edit.action === "delete") {
    if (!dryRun) tables.metaV2.deleteByKey(key);
    return { action: "delete", table, key, kind, fields: [], applied: !dryRun, metaV2Row: row };
  }
  parseJson(edit.value, key);
  const obj = decodeObject(edit.value);
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    throw new RowEditError(`Cannot set ${key}: the new value is not a JSON object`);
  }
  const object = obj as KubeObject;
  if (!isStorable(object)) {
    throw new RowEditError(
      `Cannot set ${key}: apiVersion ${JSON.stringify(object.apiVersion)} is not group/version`,
    );
  }
  const next = rowForObject(object);
  if (next.key !== key) {
    throw new RowEditError(
      `Cannot set ${key}: the new object's apiVersion, kind, namespace and name give key ${next.key}`,
    );
  }
  const fields = jsonDiff(parseValue(row.value), parseValue(next.value));
  const write = !dryRun && next.value !== row.value;
  if (write) tables.metaV2.insertOrReplace(next);
  return { action: "set", table, key, kind, fields, applied: write, metaV2Row: next, object };
}

/** Lines saying what an edit changed: `deleted meta row KEY (type pod)`, then its fields. */
export function renderEdit(r: RowEditResult, dryRun: boolean): string {
  const what = `${r.table} row ${r.key} (${r.table === "meta" ? "type" : "resource"} ${r.kind})`;
  if (r.action === "delete") return `${dryRun ? "would delete" : "deleted"} ${what}\n`;
  if (r.fields.length === 0) {
    return r.applied
      ? `set ${what}: value rewritten, no field changed\n`
      : `${what}: unchanged (the new value equals the stored one)\n`;
  }
  const head = `${dryRun ? "would set" : "set"} ${what}: ${r.fields.length} field(s) changed`;
  return [head, ...renderFields(r.fields)].join("\n") + "\n";
}
