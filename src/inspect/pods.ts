/**
 * The pod view of `inspect --pods`: each pod (the cloud's copy in `meta` type `pod`, or in
 * `meta_v2` when meta has none) joined with its `podstatus` row (what edged reported),
 * so that an operator sees the phase the node reports, not the `Pending` of the cloud's
 * copy.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { detectShape, metaV2Statements } from "../store/schema.ts";
import { age, cell, formatTableLines, parseValue, toJson } from "./render.ts";
import { wholeColumn } from "../store/whole_text.ts";

/** The columns of `meta`, read whole (a NUL inside does not cut them). */
const wholeColumns = ["key", "type", "value"].map((c) => wholeColumn(`\`${c}\``, c)).join(", ");

/** One pod as the view shows it. */
export interface PodView {
  namespace: string;
  name: string;
  /** Key of the pod row (`meta` key, or `meta_v2` key when only there). */
  podKey: string;
  /** Key of the podstatus row, null when there is none. */
  statusKey: string | null;
  /** Phase from podstatus when present, else from the pod's own status; "" when neither. */
  phase: string;
  /** Where the phase came from. */
  phaseSource: "podstatus" | "pod" | "none";
  readyContainers: number;
  containers: number;
  restarts: number;
  creationTimestamp: string | undefined;
  node: string;
  /** Which copy of the status carries the later timestamp. */
  newer: "podstatus" | "pod" | "same" | "unknown";
  /** Latest timestamps found in each copy's status (RFC 3339), when any. */
  podStatusTime: string | null;
  statusRowTime: string | null;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** The latest RFC 3339 timestamp anywhere in `status` (conditions, starts, states). */
export function latestTimestamp(status: unknown): string | null {
  let best: string | null = null;
  let bestMs = -Infinity;
  const visit = (v: unknown, depth: number) => {
    if (depth > 8) return;
    if (typeof v === "string") {
      if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/.test(v)) return;
      const ms = Date.parse(v);
      if (!Number.isNaN(ms) && ms > bestMs) [best, bestMs] = [v, ms];
    } else if (Array.isArray(v)) {
      for (const x of v) visit(x, depth + 1);
    } else if (isObj(v)) {
      for (const x of Object.values(v)) visit(x, depth + 1);
    }
  };
  visit(status, 0);
  return best;
}

function containerCounts(status: Obj | null): { ready: number; total: number; restarts: number } {
  const list = status && Array.isArray(status.containerStatuses) ? status.containerStatuses : [];
  let ready = 0, restarts = 0;
  for (const c of list) {
    if (!isObj(c)) continue;
    if (c.ready === true) ready++;
    if (typeof c.restartCount === "number") restarts += c.restartCount;
  }
  return { ready, total: list.length, restarts };
}

function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  return String(v);
}

/**
 * Reads the pod view (inside the read transaction of `sqlite`), sorted by namespace and
 * name. `namespace` and `name` filter when given.
 */
export function podViews(
  sqlite: DatabaseSync,
  tables: string[],
  filter: { namespace?: string; name?: string } = {},
): PodView[] {
  const pods = new Map<string, { key: string; value: string | null }>();
  const statuses = new Map<string, { key: string; value: string | null }>();
  const id = (ns: string, name: string) => `${ns}\u0000${name}`;
  if (tables.includes("meta")) {
    const rows = sqlite.prepare(
      `SELECT ${wholeColumns} FROM \`meta\` WHERE \`type\` IN ('pod', 'podstatus')`,
    ).all() as Obj[];
    for (const r of rows) {
      const key = text(r.key) ?? "";
      const parts = key.split("/");
      if (parts.length !== 3) continue;
      const target = text(r.type) === "pod" ? pods : statuses;
      target.set(id(parts[0], parts[2]), { key, value: text(r.value) });
    }
  }
  if (pods.size === 0 && tables.includes("meta_v2")) {
    const st = metaV2Statements(detectShape(sqlite) ?? "beego");
    const rows = sqlite.prepare(`${st.select} WHERE ${st.gvrExpr} = '/v1, Resource=pods'`)
      .all() as Obj[];
    for (const r of rows) {
      pods.set(id(text(r.namespace) ?? "", text(r.name) ?? ""), {
        key: text(r.key) ?? "",
        value: text(r.value),
      });
    }
  }
  const views: PodView[] = [];
  for (const [k, pod] of pods) {
    const [namespace, name] = k.split("\u0000");
    if (filter.namespace !== undefined && namespace !== filter.namespace) continue;
    if (filter.name !== undefined && name !== filter.name) continue;
    const obj = parseValue(pod.value);
    const spec = isObj(obj) && isObj(obj.spec) ? obj.spec : null;
    const meta = isObj(obj) && isObj(obj.metadata) ? obj.metadata : null;
    const podStatus = isObj(obj) && isObj(obj.status) ? obj.status : null;
    const row = statuses.get(k);
    const rowObj = row ? parseValue(row.value) : null;
    // A podstatus row holds {"Name", "Status", "UID"} (edged's PodStatusRequest).
    const rowStatus = isObj(rowObj) && isObj(rowObj.Status) ? rowObj.Status : null;
    const status = rowStatus ?? podStatus;
    const counts = containerCounts(status);
    const phase = str(rowStatus?.phase) || str(podStatus?.phase);
    const podTime = latestTimestamp(podStatus);
    const rowTime = latestTimestamp(rowStatus);
    let newer: PodView["newer"] = "unknown";
    if (podTime && rowTime) {
      const d = Date.parse(rowTime) - Date.parse(podTime);
      newer = d > 0 ? "podstatus" : d < 0 ? "pod" : "same";
    } else if (rowTime) newer = "podstatus";
    else if (podTime) newer = "pod";
    views.push({
      namespace,
      name,
      podKey: pod.key,
      statusKey: row?.key ?? null,
      phase,
      phaseSource: str(rowStatus?.phase) ? "podstatus" : str(podStatus?.phase) ? "pod" : "none",
      readyContainers: counts.ready,
      containers: counts.total ||
        (spec && Array.isArray(spec.containers) ? spec.containers.length : 0),
      restarts: counts.restarts,
      creationTimestamp: typeof meta?.creationTimestamp === "string"
        ? meta.creationTimestamp
        : undefined,
      node: str(spec?.nodeName),
      newer,
      podStatusTime: podTime,
      statusRowTime: rowTime,
    });
  }
  views.sort((a, b) =>
    a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : 1
  );
  return views;
}

/** The view as kubectl-like table lines (NEWER: which copy of the status is later). */
export function* podTableLines(views: PodView[], now: number): Generator<string> {
  if (views.length === 0) return;
  yield* formatTableLines(
    ["NAMESPACE", "NAME", "PHASE", "READY", "RESTARTS", "AGE", "NODE", "NEWER"],
    views.map((v) => [
      cell(v.namespace || "<none>"),
      cell(v.name || "<none>"),
      (v.phase || "<unknown>") + (v.phaseSource === "pod" ? " (pod)" : ""),
      `${v.readyContainers}/${v.containers}`,
      String(v.restarts),
      age(v.creationTimestamp, now),
      cell(v.node || "<none>"),
      v.newer,
    ]),
  );
}

/** The view as JSON (array) or NDJSON text. */
export function podJson(views: PodView[], format: "json" | "ndjson"): string {
  if (format === "ndjson") return views.map((v) => toJson(v) + "\n").join("");
  return toJson(views, 2) + "\n";
}
