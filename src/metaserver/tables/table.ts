/**
 * Server-side tables (meta.k8s.io/v1 and v1beta1 `Table`) as kube-apiserver produces them
 * for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`: the printer's column
 * definitions (wide ones included; kubectl hides priority-1 columns without `-o wide`),
 * one row per object with cells computed at request time, and each row's `object` per the
 * `includeObject` table option: `Metadata` (the default: a PartialObjectMetadata),
 * `Object` (the stored object) or `None`.
 *
 * {@link KubeTableConverter} is the MetaServer's {@link TableConverter}.
 *
 * @module
 */

import { RawNumber } from "../../beehive/go_json.ts";
import type { Representation, TableConverter } from "../representation.ts";
import type { ResourceInfo } from "../resources.ts";
import type { Cell, ColumnDefinition, Obj, Printer, RowCondition } from "./columns.ts";
import { isObj, obj, str } from "./format.ts";
import { CUSTOM_RESOURCE_PRINTER, DEFAULT_PRINTER, printerFor } from "./printers.ts";

/** A table representation negotiated from the Accept header. */
export type TableRepresentation = Extract<Representation, { type: "table" }>;

/** One row of a Table. */
export interface TableRow {
  cells: Cell[];
  conditions?: RowCondition[];
  /** PartialObjectMetadata, the object, or null (includeObject=None). */
  object: unknown;
}

/** A meta.k8s.io Table, keys in kube's serialization order. */
export interface TableDocument {
  kind: "Table";
  apiVersion: string;
  metadata: { resourceVersion?: string; continue?: string };
  /** null when headers are omitted (watch events after the first). */
  columnDefinitions: ColumnDefinition[] | null;
  rows: TableRow[] | null;
}

/** The accepted `includeObject` values ("" is the default, Metadata). */
export const INCLUDE_OBJECT_VALUES: readonly string[] = ["", "Metadata", "None", "Object"];

/**
 * The 400 message kube-apiserver gives for invalid table options, or undefined when
 * `includeObject` is valid.
 */
export function tableOptionsError(includeObject: string): string | undefined {
  if (INCLUDE_OBJECT_VALUES.includes(includeObject)) return undefined;
  return `Unable to present response as a table: includeObject: Invalid value: ${
    JSON.stringify(includeObject)
  }: must be 'Metadata', 'Object', 'None', or empty`;
}

/** The printer kube-apiserver uses for a resource (the default table when it has none). */
export function printerOf(
  resource: Pick<ResourceInfo, "group" | "kind" | "generic">,
): Printer {
  return printerFor(resource.group, resource.kind) ??
    (resource.generic ? CUSTOM_RESOURCE_PRINTER : DEFAULT_PRINTER);
}

// ------------------------------------------------------------------ row objects

const toRawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

/** `v` ready for JSON.stringify: exact int64s ({@link RawNumber}) as raw JSON numbers. */
function jsonSafe(v: unknown): unknown {
  if (v instanceof RawNumber) return toRawJson(v.text);
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = jsonSafe(x);
    return out;
  }
  return v;
}

/** ObjectMeta's fields in Go's serialization order. */
const OBJECT_META_FIELDS = [
  "name",
  "generateName",
  "namespace",
  "selfLink",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "labels",
  "annotations",
  "ownerReferences",
  "finalizers",
  "managedFields",
] as const;

/** Whether Go's `omitempty` drops `v`. */
function omitted(field: string, v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (field === "deletionGracePeriodSeconds") return false; // a pointer: 0 is kept
  if (v === "" || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  return isObj(v) && Object.keys(v).length === 0;
}

/** The object's metadata as an ObjectMeta serializes (creationTimestamp always present). */
export function objectMeta(o: Obj): Obj {
  const m = obj(o.metadata);
  const out: Obj = {};
  for (const f of OBJECT_META_FIELDS) {
    const v = m[f];
    if (f === "creationTimestamp") out[f] = typeof v === "string" && v !== "" ? v : null;
    else if (!omitted(f, v)) out[f] = jsonSafe(v);
  }
  return out;
}

/** A meta.k8s.io PartialObjectMetadata of `o` in `apiVersion` (the table's). */
export function partialObjectMetadata(o: Obj, apiVersion: string): Obj {
  return { kind: "PartialObjectMetadata", apiVersion, metadata: objectMeta(o) };
}

function rowObject(o: unknown, includeObject: string, apiVersion: string): unknown {
  switch (includeObject) {
    case "None":
      return null;
    case "Object":
      return jsonSafe(o);
    default: // "" and Metadata
      return partialObjectMetadata(obj(o), apiVersion);
  }
}

// ------------------------------------------------------------------ tables

/** How a table is built. */
export interface BuildOptions {
  /** Request time (ms since the epoch) for AGE cells. */
  now: number;
  /** Omit the column definitions (watch events after the first). */
  noHeaders?: boolean;
}

/**
 * The Table of `objects` (decoded objects of `resource`). `list` carries the list's
 * resourceVersion; for a single object the table has the object's resourceVersion.
 */
export function buildTable(
  objects: readonly unknown[],
  resource: Pick<ResourceInfo, "group" | "kind">,
  rep: Pick<TableRepresentation, "version" | "includeObject">,
  list: { resourceVersion: string } | undefined,
  options: BuildOptions,
): TableDocument {
  const apiVersion = `meta.k8s.io/${rep.version}`;
  const printer = printerOf(resource);
  let rows: TableRow[] | null = [];
  for (const o of objects) {
    const cells = printer.cells(obj(o), options.now);
    const conditions = printer.conditions?.(obj(o));
    const object = rowObject(o, rep.includeObject, apiVersion);
    // keys in Go order: cells, conditions (omitempty), object
    rows.push(conditions === undefined ? { cells, object } : { cells, conditions, object });
  }
  // the default table convertor appends to a nil slice: an empty list has `rows: null`
  if (rows.length === 0 && printer === DEFAULT_PRINTER) rows = null;
  const rv = list !== undefined
    ? list.resourceVersion
    : objects.length === 1
    ? str(obj(obj(objects[0]).metadata).resourceVersion)
    : "";
  return {
    kind: "Table",
    apiVersion,
    metadata: rv === "" ? {} : { resourceVersion: rv },
    columnDefinitions: options.noHeaders ? null : [...printer.columns],
    rows,
  };
}

/** The MetaServer's {@link TableConverter}: kube-apiserver's printers. */
export class KubeTableConverter implements TableConverter {
  /** @param clock the request time (ms since the epoch) used for AGE cells */
  constructor(readonly clock: () => number = Date.now) {}

  toTable(
    objects: unknown[],
    resource: ResourceInfo,
    rep: TableRepresentation,
    list?: { resourceVersion: string },
  ): TableDocument {
    return buildTable(objects, resource, rep, list, { now: this.clock() });
  }
}

/** The converter `serve` uses. */
export const KUBE_TABLES: KubeTableConverter = new KubeTableConverter();
