/**
 * Output formats of `inspect`: a `kubectl get`-like table, JSON, NDJSON and YAML of
 * rows (the stored value parsed as JSON), and the same for the summary.
 *
 * @module
 */

import { loadedYaml } from "../yaml.ts";
import type { Dump, DumpRows } from "../store/dump.ts";
import type { InspectRecord, Summary, TableCounts, TableName } from "./query.ts";

/** Output formats. */
export const OUTPUT_FORMATS = ["table", "json", "ndjson", "yaml", "dump"] as const;
/** One of {@link OUTPUT_FORMATS}. */
export type OutputFormat = typeof OUTPUT_FORMATS[number];

/** Widest cell of a table column before it is cut with `...`. */
export const MAX_CELL = 64;
/** Widest KEY cell. */
export const MAX_KEY_CELL = 96;
/** Spaces between table columns (kubectl's tabwriter padding). */
const PADDING = 3;

// ---------------------------------------------------------------------------------------
// Values

const UNSAFE_INTEGER = /^-?\d+$/;

/**
 * The stored value parsed as JSON (integers beyond 2^53 as exact bigints), or the raw
 * string when it is not JSON. SQL NULL stays null.
 */
export function parseValue(value: string | null): unknown {
  if (value === null) return null;
  try {
    return JSON.parse(value, (_key, v, context?: { source?: string }) => {
      if (typeof v !== "number" || Number.isSafeInteger(v)) return v;
      const source = context?.source;
      return source !== undefined && UNSAFE_INTEGER.test(source) ? BigInt(source) : v;
    });
  } catch {
    return value;
  }
}

/** The record written by json/ndjson/yaml. */
export function outputRecord(r: InspectRecord): Record<string, unknown> {
  if (r.table === "meta") return { key: r.key, type: r.type, value: parseValue(r.value) };
  return {
    key: r.key,
    gvr: r.gvr,
    namespace: r.namespace,
    name: r.name,
    resourceversion: r.resourceversion,
    value: parseValue(r.value),
  };
}

/** `JSON.rawJSON` (ES2025, in V8; not yet in TypeScript's lib). */
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** JSON text with bigints written as exact integer literals. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    (_key, v) => typeof v === "bigint" ? rawJSON(v.toString()) : v,
    indent,
  );
}

function toYaml(value: unknown): string {
  return loadedYaml().stringify(value, { lineWidth: 0 }); // loaded by the inspect command
}

// ---------------------------------------------------------------------------------------
// Kubernetes objects and AGE

/** A stored value that is a Kubernetes object: kind and metadata, as kubectl needs them. */
export interface KubeInfo {
  kind: string;
  creationTimestamp: string | undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Kind and creation time when `value` (JSON text) is a Kubernetes object: a JSON object
 * with a `metadata` object and a string `kind` or `apiVersion`. Else null.
 */
export function kubeInfo(value: string | null): KubeInfo | null {
  if (value === null || !/^\s*\{/.test(value)) return null;
  const obj = parseValue(value);
  if (!isRecord(obj) || !isRecord(obj.metadata)) return null;
  if (typeof obj.kind !== "string" && typeof obj.apiVersion !== "string") return null;
  const ts = obj.metadata.creationTimestamp;
  return {
    kind: typeof obj.kind === "string" ? obj.kind : "",
    creationTimestamp: typeof ts === "string" ? ts : undefined,
  };
}

/** RFC 3339 as Kubernetes writes it (`2022-02-01T05:34:10Z`, offsets and fractions allowed). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * kubectl's AGE column: `<unknown>` without a (valid, non-zero) creation timestamp, else
 * {@link humanDuration} of the time since.
 */
export function age(creationTimestamp: string | undefined, now: number): string {
  if (creationTimestamp === undefined || !RFC3339.test(creationTimestamp)) return "<unknown>";
  const t = Date.parse(creationTimestamp);
  if (Number.isNaN(t) || creationTimestamp.startsWith("0001-01-01T00:00:00")) return "<unknown>";
  return humanDuration(now - t);
}

import { humanDuration } from "../kube_duration.ts";
export { humanDuration };

// ---------------------------------------------------------------------------------------
// Tables

/** A cell as printed: control characters escaped, cut to `max` characters with `...`. */
export function cell(value: string, max = MAX_CELL): string {
  // deno-lint-ignore no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
  const chars = [...clean];
  return chars.length > max ? chars.slice(0, max - 3).join("") + "..." : clean;
}

/**
 * Aligned columns like kubectl's tabwriter: each column as wide as its widest cell plus
 * three spaces, the last column unpadded, no trailing spaces.
 */
export function formatTable(headers: string[], rows: string[][]): string {
  return [...formatTableLines(headers, rows)].join("");
}

/** {@link formatTable} one line at a time. */
export function* formatTableLines(headers: string[], rows: string[][]): Generator<string> {
  const width = (c: string) => [...c].length;
  const widths = headers.map(width);
  for (const r of rows) {
    for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i], width(r[i] ?? ""));
  }
  for (const r of [headers, ...rows]) {
    const line = r.map((c, i) =>
      i === r.length - 1 ? c : c + " ".repeat(widths[i] - width(c) + PADDING)
    ).join("");
    yield line.trimEnd() + "\n";
  }
}

/** Column headers and cells of rows for `-o table`. */
export function rowsTable(
  table: TableName,
  records: InspectRecord[],
  now: number,
): { headers: string[]; rows: string[][] } {
  const infos = records.map((r) => kubeInfo(r.value));
  const kube = infos.some((i) => i !== null);
  const headers = table === "meta"
    ? ["KEY", "TYPE", "NAMESPACE", "NAME"]
    : ["KEY", "TYPE", "NAMESPACE", "NAME", "RV"];
  if (kube) headers.push("KIND", "AGE");
  const rows = records.map((r, i) => {
    const row = [
      cell(r.key, MAX_KEY_CELL),
      cell(orNone(r.table === "meta" ? r.type : r.gvr)),
      cell(orNone(r.namespace)),
      cell(orNone(r.name)),
    ];
    if (r.table === "meta_v2") row.push(String(r.resourceversion));
    if (kube) {
      const info = infos[i];
      row.push(cell(orNone(info?.kind ?? "")), age(info?.creationTimestamp, now));
    }
    return row;
  });
  return { headers, rows };
}

function orNone(s: string): string {
  return s === "" ? "<none>" : s;
}

// ---------------------------------------------------------------------------------------
// Renderers

/** Indents every line of `text` (JSON text: strings hold no raw line breaks). */
function indent(text: string, by: string): string {
  return by + text.replaceAll("\n", "\n" + by);
}

/**
 * JSON text of an array, one element at a time: the same text as
 * `JSON.stringify(items, null, 2)` (with exact bigints), never one string for all of it.
 */
function* mapped<T, U>(items: Iterable<T>, f: (item: T) => U): Generator<U> {
  for (const item of items) yield f(item);
}

function* jsonArray(items: Iterable<unknown>, by: string): Generator<string> {
  let first = true;
  for (const item of items) {
    yield (first ? "[\n" : ",\n") + indent(toJson(item, 2), by + "  ");
    first = false;
  }
  yield first ? "[]" : "\n" + by + "]";
}

/**
 * Rows in `format` (table, json, ndjson or yaml), as chunks of text (a large database
 * never becomes one string); nothing for a table without rows.
 */
export function* renderRows(
  format: Exclude<OutputFormat, "dump">,
  table: TableName,
  records: Iterable<InspectRecord>,
  now: number,
): Generator<string> {
  switch (format) {
    case "table": {
      // Column widths need every row: the table is built whole (kubectl's tabwriter does too).
      const all = [...records];
      if (all.length === 0) return;
      const { headers, rows } = rowsTable(table, all, now);
      yield* formatTableLines(headers, rows);
      return;
    }
    case "json":
      yield* jsonArray(mapped(records, outputRecord), "");
      yield "\n";
      return;
    case "ndjson":
      for (const r of records) yield toJson(outputRecord(r)) + "\n";
      return;
    case "yaml": {
      // A block sequence is the concatenation of its one-item sequences.
      let none = true;
      for (const r of records) {
        yield toYaml([outputRecord(r)]);
        none = false;
      }
      if (none) yield "[]\n";
      return;
    }
  }
}

/**
 * The database dump as chunks: the same text as `dumpJson` of src/store/dump.ts
 * (`JSON.stringify(dump, null, 2)` and a newline).
 */
export function* renderDump(dump: Dump | DumpRows): Generator<string> {
  yield '{\n  "meta": ';
  yield* jsonArray(dump.meta, "  ");
  yield ',\n  "meta_v2": ';
  yield* jsonArray(dump.meta_v2, "  ");
  yield "\n}\n";
}

function countsObject(c: TableCounts | null, groupKey: string): unknown {
  if (c === null) return null;
  return {
    rows: c.rows,
    [groupKey]: Object.fromEntries(c.groups.map((g) => [g.group, g.rows])),
  };
}

/** The summary as a plain object (json/ndjson/yaml). */
export function summaryObject(s: Summary): Record<string, unknown> {
  return {
    file: s.file.path,
    size: s.file.size,
    pageSize: s.pageSize,
    pageCount: s.pageCount,
    journalMode: s.journalMode,
    wal: s.file.walFile,
    shm: s.file.shmFile,
    journal: s.file.journalFile,
    readMethod: s.readMethod,
    tables: s.tables,
    kubeedge: s.schema?.release ?? null,
    schema: s.schema?.shape ?? null,
    meta: countsObject(s.meta, "types"),
    meta_v2: countsObject(s.meta_v2, "groupversionresources"),
  };
}

function bytes(n: number | null): string {
  return n === null ? "absent" : `${n} bytes`;
}

function countsSection(title: string, header: string, c: TableCounts | null): string {
  if (c === null) return `${title}: table absent\n`;
  const head = `${title}: ${c.rows} row${c.rows === 1 ? "" : "s"}\n`;
  if (c.groups.length === 0) return head;
  return head +
    formatTable([header, "ROWS"], c.groups.map((g) => [cell(orNone(g.group)), String(g.rows)]));
}

/** The summary in `format` (table = human-readable text). */
export function renderSummary(format: Exclude<OutputFormat, "dump">, s: Summary): string {
  switch (format) {
    case "json":
      return toJson(summaryObject(s), 2) + "\n";
    case "ndjson":
      return toJson(summaryObject(s)) + "\n";
    case "yaml":
      return toYaml(summaryObject(s));
    case "table": {
      const f = s.file;
      const companions = [
        `-wal ${bytes(f.walFile)}`,
        `-shm ${bytes(f.shmFile)}`,
        `-journal ${bytes(f.journalFile)}`,
      ].join(", ");
      const lines = [
        ["File:", f.path],
        ["Size:", `${f.size} bytes (${s.pageCount} pages of ${s.pageSize} bytes)`],
        ["Journal mode:", s.journalMode],
        ["Companions:", companions],
        ["Read as:", s.readMethod],
        ["Tables:", s.tables.length ? s.tables.join(", ") : "<none>"],
        ["Schema:", s.schema?.description ?? "unknown (no meta_v2 table)"],
      ];
      const info = lines.map(([k, v]) => `${k.padEnd(14)}${v}`).join("\n") + "\n";
      return info + "\n" + countsSection("meta", "TYPE", s.meta) + "\n" +
        countsSection("meta_v2", "GROUPVERSIONRESOURCE", s.meta_v2);
    }
  }
}
