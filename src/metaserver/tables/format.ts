/**
 * Helpers shared by the printers, ported from Kubernetes: lenient field access on decoded
 * objects, `duration.HumanDuration` and `translateTimestampSince`, `labels.FormatLabels`,
 * `metav1.FormatLabelSelector` / `LabelSelectorAsSelector(...).String()`, and
 * `layoutContainerCells`.
 *
 * @module
 */

import { RawNumber } from "../../beehive/go_json.ts";
import { invalidLabelKey, invalidLabelValue } from "../selectors.ts";
import type { Obj } from "./columns.ts";

// ------------------------------------------------------------------ field access

/** Whether `v` is a JSON object. */
export function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof RawNumber);
}

/** `v` as an object ({} when it is not one). */
export function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

/** `v` as an array ([] when it is not one). */
export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** `v` as an array of objects (non-objects read as {}). */
export function objs(v: unknown): Obj[] {
  return arr(v).map(obj);
}

/** `v` as a string ("" when it is not one). */
export function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** `v` as a string, or undefined when absent or not a string (a Go `*string`). */
export function optStr(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** `v` as an integer (0 when it is not a number); exact int64s beyond 2^53 are rounded. */
export function int(v: unknown): number {
  if (typeof v === "number" && Number.isFinite(v)) return Math.trunc(v);
  if (v instanceof RawNumber) return Number(v.text);
  return 0;
}

/** `v` as an integer, or undefined when it is not a number (a Go `*int32`). */
export function optInt(v: unknown): number | undefined {
  return typeof v === "number" || v instanceof RawNumber ? int(v) : undefined;
}

/** `v` as a boolean, or undefined when it is not one (a Go `*bool`). */
export function optBool(v: unknown): boolean | undefined {
  return typeof v === "boolean" ? v : undefined;
}

/** The number of keys of a JSON object (`len(map)`), 0 for anything else. */
export function size(v: unknown): number {
  return isObj(v) ? Object.keys(v).length : 0;
}

/** `metadata.name`. */
export function nameOf(o: Obj): string {
  return str(obj(o.metadata).name);
}

/** Whether `metadata.deletionTimestamp` is set. */
export function deleting(o: Obj): boolean {
  const ts = obj(o.metadata).deletionTimestamp;
  return ts !== undefined && ts !== null;
}

// ------------------------------------------------------------------ time

/** Go's zero time (0001-01-01T00:00:00Z) in ms since the epoch. */
const GO_ZERO_TIME = -62135596800000;

/**
 * A metav1.Time / MicroTime value in ms since the epoch, or undefined for a zero, absent or
 * unparsable time.
 */
export function parseTime(v: unknown): number | undefined {
  if (typeof v !== "string" || v === "") return undefined;
  const ms = Date.parse(v);
  if (Number.isNaN(ms) || ms === GO_ZERO_TIME) return undefined;
  return ms;
}

import { humanDuration } from "../../kube_duration.ts";
export { humanDuration };

/** printers.go translateTimestampSince: `<unknown>` for a zero time, else the age. */
export function translateTimestampSince(v: unknown, now: number): string {
  const t = parseTime(v);
  return t === undefined ? "<unknown>" : humanDuration(now - t);
}

/** The AGE cell: translateTimestampSince(metadata.creationTimestamp). */
export function age(o: Obj, now: number): string {
  return translateTimestampSince(obj(o.metadata).creationTimestamp, now);
}

/** A time as Go formats `t.UTC().Format(time.RFC3339)` (zero time for undefined). */
export function rfc3339(v: unknown): string {
  const t = parseTime(v);
  if (t === undefined) return "0001-01-01T00:00:00Z";
  return new Date(Math.floor(t / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

// ------------------------------------------------------------------ labels and selectors

/** Go's byte-order string comparison (for ASCII keys). */
function byBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** labels.FormatLabels: `k=v` sorted by key and joined by ",", `<none>` when empty. */
export function formatLabels(v: unknown): string {
  const m = obj(v);
  const s = Object.keys(m).sort(byBytes).map((k) => `${k}=${str(m[k])}`).join(",");
  return s === "" ? "<none>" : s;
}

interface Requirement {
  key: string;
  op: "=" | "in" | "notin" | "exists" | "!";
  values: string[];
}

function requirementString(r: Requirement): string {
  if (r.op === "exists") return r.key;
  if (r.op === "!") return `!${r.key}`;
  const values = r.values.length === 1 ? r.values[0] : [...r.values].sort(byBytes).join(",");
  if (r.op === "=") return `${r.key}=${values}`;
  return `${r.key} ${r.op} (${values})`;
}

const OPERATORS: Record<string, Requirement["op"]> = {
  In: "in",
  NotIn: "notin",
  Exists: "exists",
  DoesNotExist: "!",
};

/**
 * `metav1.LabelSelectorAsSelector(sel).String()`: requirements sorted by key; "" for a nil
 * or empty selector; undefined when the selector is invalid (bad key, value or operator).
 */
export function labelSelectorString(v: unknown): string | undefined {
  if (!isObj(v)) return "";
  const matchLabels = obj(v.matchLabels);
  const expressions = objs(v.matchExpressions);
  const reqs: Requirement[] = [];
  for (const k of Object.keys(matchLabels)) {
    reqs.push({ key: k, op: "=", values: [str(matchLabels[k])] });
  }
  for (const e of expressions) {
    const op = OPERATORS[str(e.operator)];
    if (op === undefined) return undefined;
    reqs.push({ key: str(e.key), op, values: arr(e.values).map(str) });
  }
  for (const r of reqs) {
    if (invalidLabelKey(r.key) !== undefined) return undefined;
    if ((r.op === "in" || r.op === "notin") && r.values.length === 0) return undefined;
    if ((r.op === "exists" || r.op === "!") && r.values.length !== 0) return undefined;
    if (r.values.some((x) => invalidLabelValue(x) !== undefined)) return undefined;
  }
  return reqs.sort((a, b) => byBytes(a.key, b.key)).map(requirementString).join(",");
}

/** metav1.FormatLabelSelector: the selector string, `<none>` when empty, `<error>` invalid. */
export function formatLabelSelector(v: unknown): string {
  const s = labelSelectorString(v);
  if (s === undefined) return "<error>";
  return s === "" ? "<none>" : s;
}

// ------------------------------------------------------------------ containers and lists

/** printers.go layoutContainerCells: container names and images, each joined by ",". */
export function layoutContainerCells(containers: unknown): [string, string] {
  const cs = objs(containers);
  return [cs.map((c) => str(c.name)).join(","), cs.map((c) => str(c.image)).join(",")];
}

/** The containers of a pod template (`spec.template.spec.containers`). */
export function templateContainers(spec: Obj): unknown {
  return obj(obj(spec.template).spec).containers;
}

/** printers.go listWithMoreString. */
export function listWithMoreString(
  list: string[],
  more: boolean,
  count: number,
  max: number,
): string {
  const ret = list.join(",");
  if (more) return `${ret} + ${count - max} more...`;
  return ret === "" ? "<unset>" : ret;
}

/** Go's net.JoinHostPort. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
