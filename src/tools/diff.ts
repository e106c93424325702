/**
 * `diff`: what changed between two databases or dump files, row by row and, for changed
 * rows, field by field in their JSON values.
 *
 * @module
 */

import type { Dump } from "../store/dump.ts";
import { parseValue } from "../inspect/render.ts";

/** One changed field of a row: a JSON path (`.status.phase`, `.spec.containers[0]`). */
export interface FieldChange {
  path: string;
  /** undefined when the field is absent on that side. */
  before?: unknown;
  after?: unknown;
}

/** The differences of one table. */
export interface TableDiff {
  added: string[];
  removed: string[];
  changed: { key: string; fields: FieldChange[] }[];
}

/** The differences of two dumps. */
export type DumpDiff = Record<"meta" | "meta_v2", TableDiff>;

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a, big) === JSON.stringify(b, big);
}

function big(_k: string, v: unknown): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}

/** Field-level differences of two JSON values (objects by key, arrays by index). */
export function jsonDiff(a: unknown, b: unknown, path = ""): FieldChange[] {
  if (same(a, b)) return [];
  if (isObj(a) && isObj(b)) {
    const out: FieldChange[] = [];
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const p = /^[A-Za-z_][A-Za-z0-9_]*$/.test(k)
        ? `${path}.${k}`
        : `${path}[${JSON.stringify(k)}]`;
      if (!(k in b)) out.push({ path: p, before: a[k] });
      else if (!(k in a)) out.push({ path: p, after: b[k] });
      else out.push(...jsonDiff(a[k], b[k], p));
    }
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const out: FieldChange[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const p = `${path}[${i}]`;
      if (i >= b.length) out.push({ path: p, before: a[i] });
      else if (i >= a.length) out.push({ path: p, after: b[i] });
      else out.push(...jsonDiff(a[i], b[i], p));
    }
    return out;
  }
  return [{ path: path || ".", before: a, after: b }];
}

type Row = Record<string, unknown> & { key: string };

/** The row as compared: its columns, with the value parsed as JSON. */
function comparable(row: Row): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    out[k] = k === "value" && typeof v === "string" ? parseValue(v) : v;
  }
  return out;
}

function diffTable(a: Row[], b: Row[]): TableDiff {
  const before = new Map(a.map((r) => [r.key, r]));
  const after = new Map(b.map((r) => [r.key, r]));
  const result: TableDiff = { added: [], removed: [], changed: [] };
  for (const [key, r] of before) {
    const other = after.get(key);
    if (other === undefined) result.removed.push(key);
    else {
      const fields = jsonDiff(comparable(r), comparable(other));
      if (fields.length > 0) {
        // Paths inside the value read as the object's fields (.status.phase).
        result.changed.push({
          key,
          fields: fields.map((f) => ({
            ...f,
            path: f.path.replace(/^\.value(?=[.[]|$)/, "") || ".",
          })),
        });
      }
    }
  }
  for (const key of after.keys()) if (!before.has(key)) result.added.push(key);
  result.added.sort();
  result.removed.sort();
  result.changed.sort((x, y) => (x.key < y.key ? -1 : 1));
  return result;
}

/** Differences of two dumps. */
export function diffDumps(a: Dump, b: Dump): DumpDiff {
  return {
    meta: diffTable(a.meta as unknown as Row[], b.meta as unknown as Row[]),
    meta_v2: diffTable(a.meta_v2 as unknown as Row[], b.meta_v2 as unknown as Row[]),
  };
}

/** True when the dumps differ. */
export function differs(d: DumpDiff): boolean {
  return Object.values(d).some((t) => t.added.length + t.removed.length + t.changed.length > 0);
}

function show(v: unknown): string {
  return v === undefined ? "(absent)" : JSON.stringify(v, big);
}

/** One line per changed field: `    .path: before -> after` (`(absent)` for a missing side). */
export function renderFields(fields: readonly FieldChange[]): string[] {
  return fields.map((f) => `    ${f.path}: ${show(f.before)} -> ${show(f.after)}`);
}

/** Human-readable text: per table a count line, then `+ key`, `- key`, `~ key` and fields. */
export function renderDiff(d: DumpDiff): string {
  const lines: string[] = [];
  for (const [table, t] of Object.entries(d)) {
    if (t.added.length + t.removed.length + t.changed.length === 0) continue;
    lines.push(
      `${table}: ${t.added.length} added, ${t.removed.length} removed, ${t.changed.length} changed`,
    );
    for (const k of t.added) lines.push(`+ ${k}`);
    for (const k of t.removed) lines.push(`- ${k}`);
    for (const c of t.changed) {
      lines.push(`~ ${c.key}`);
      lines.push(...renderFields(c.fields));
    }
  }
  return lines.length ? lines.join("\n") + "\n" : "";
}
