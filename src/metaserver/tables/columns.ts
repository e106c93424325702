/**
 * The shape of a kube-apiserver printer: its column definitions (meta.k8s.io
 * `TableColumnDefinition`s, in kube's field order) and how it computes one object's cells.
 * Printers always produce the wide cells too: kube-apiserver generates server-side tables
 * with `Wide: true` and kubectl hides priority-1 columns unless `-o wide`.
 *
 * @module
 */

import { DOC } from "./descriptions.ts";

/** A meta.k8s.io TableColumnDefinition (every field is always serialized). */
export interface ColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

/** A table cell as kube's printers produce them: strings, int64s, booleans. */
export type Cell = string | number | boolean | null;

/** A meta.k8s.io TableRowCondition. */
export interface RowCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** A decoded object (a JSON object; fields are read leniently). */
export type Obj = Record<string, unknown>;

/** One printer (a `TableHandler` of pkg/printers/internalversion). */
export interface Printer {
  /** Every column, wide ones (priority 1) included. */
  readonly columns: readonly ColumnDefinition[];
  /** The cells of `obj` (one per column); `now` is the request time in ms since the epoch. */
  cells(obj: Obj, now: number): Cell[];
  /** Row conditions (pods that completed), if any. */
  conditions?(obj: Obj): RowCondition[] | undefined;
}

/** A column definition (field order as kube serializes it). */
export function col(
  name: string,
  type: string,
  description: string,
  opts: { priority?: number; format?: string } = {},
): ColumnDefinition {
  return { name, type, format: opts.format ?? "", description, priority: opts.priority ?? 0 };
}

/** A priority-1 (`-o wide`) column. */
export function wide(name: string, type: string, description: string): ColumnDefinition {
  return col(name, type, description, { priority: 1 });
}

/** The `Name` column every printer starts with. */
export const NAME_COLUMN: ColumnDefinition = col("Name", "string", DOC["ObjectMeta.name"], {
  format: "name",
});

/** The `Age` column. */
export const AGE_COLUMN: ColumnDefinition = col(
  "Age",
  "string",
  DOC["ObjectMeta.creationTimestamp"],
);

/** `Containers` (wide) of workload printers. */
export const CONTAINERS_COLUMN: ColumnDefinition = wide(
  "Containers",
  "string",
  "Names of each container in the template.",
);

/** `Images` (wide) of workload printers. */
export const IMAGES_COLUMN: ColumnDefinition = wide(
  "Images",
  "string",
  "Images referenced by each container in the template.",
);
