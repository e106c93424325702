/**
 * Reads from `meta_v2` for one resource (spec/metaserver.md §3, storage.md §6): get by
 * (gvr, namespace, name) — exactly one row or nothing — and list with label and field
 * selectors, sorted by namespace and name like kube-apiserver's key order.
 *
 * @module
 */

import type { MetaV2Dao } from "../store/meta_v2.ts";
import { fieldLabels, type ResourceInfo, storedGvr } from "./resources.ts";
import {
  parseFieldSelector,
  parseLabelSelector,
  selectableOf,
  type Selection,
  SelectorError,
  selects,
} from "./selectors.ts";
import { StoredObject } from "./representation.ts";

/**
 * The label and field selectors of a request's query.
 * @throws {SelectorError} for an unparsable selector or a field the resource does not
 *   support (`field label not supported: x`)
 */
export function parseSelection(query: URLSearchParams, resource: ResourceInfo): Selection {
  const labels = parseLabelSelector(query.get("labelSelector") ?? "");
  const fields = parseFieldSelector(query.get("fieldSelector") ?? "");
  const bad = fields.unsupportedField(fieldLabels(resource));
  if (bad !== undefined) throw new SelectorError(`field label not supported: ${bad}`);
  return { labels, fields };
}

/** The one stored object (namespace "" for cluster-scoped resources), if exactly one. */
export function getObject(
  dao: MetaV2Dao,
  resource: ResourceInfo,
  namespace: string,
  name: string,
): StoredObject | undefined {
  const rows = dao.select(storedGvr(resource), namespace, name);
  return rows.length === 1 && rows[0].value.trim() !== "" ? new StoredObject(rows[0]) : undefined;
}

function byNamespaceAndName(a: StoredObject, b: StoredObject): number {
  const x = a.row, y = b.row;
  if (x.namespace !== y.namespace) return x.namespace < y.namespace ? -1 : 1;
  return x.name < y.name ? -1 : x.name > y.name ? 1 : 0;
}

/**
 * The stored objects of `resource` in `namespace` ("" = all), optionally only `name`,
 * that pass `selection`; sorted by namespace, then name.
 */
export function listObjects(
  dao: MetaV2Dao,
  resource: ResourceInfo,
  namespace: string,
  name: string,
  selection: Selection,
): StoredObject[] {
  const labels = fieldLabels(resource);
  const all = selection.labels.empty && selection.fields.empty;
  const items: StoredObject[] = [];
  for (const row of dao.select(storedGvr(resource), namespace, name)) {
    if (row.value.trim() === "") continue; // a NULL value (not written by us) has no object
    const item = new StoredObject(row);
    if (!all) {
      let obj: unknown;
      try {
        obj = item.object;
      } catch {
        continue; // an undecodable value matches no selector
      }
      if (!selects(selection, selectableOf(obj, labels))) continue;
    }
    items.push(item);
  }
  return items.sort(byNamespaceAndName);
}

/** One page of a list (see {@link listPage}). */
export interface ListPage {
  items: StoredObject[];
  /** The last key of the page when more rows follow (the continue token's position). */
  lastKey?: string;
  /** Bytes of the items' stored JSON. */
  bytes: number;
}

/**
 * The stored objects of `resource` (as {@link listObjects}) in key order from after
 * `after`, read from SQLite one row at a time: at most `limit` items, and the page ends
 * early (with `lastKey` set) once the items hold `maxBytes` of JSON, always after at least
 * one item. With `failOverBytes`, returns undefined instead of ending early (a request
 * without `limit` whose answer would exceed the bound).
 */
export function listPage(
  dao: MetaV2Dao,
  resource: ResourceInfo,
  namespace: string,
  name: string,
  selection: Selection,
  options: { after: string; limit: number; maxBytes: number; failOverBytes?: boolean },
): ListPage | undefined {
  const labels = fieldLabels(resource);
  const all = selection.labels.empty && selection.fields.empty;
  const items: StoredObject[] = [];
  let bytes = 0;
  const rows = dao.selectAfter(storedGvr(resource), namespace, name, options.after);
  try {
    for (let r = rows.next(); !r.done; r = rows.next()) {
      const row = r.value;
      if (row.value.trim() === "") continue; // a NULL value has no object
      const item = new StoredObject(row);
      if (!all) {
        let obj: unknown;
        try {
          obj = item.object;
        } catch {
          continue; // an undecodable value matches no selector
        }
        if (!selects(selection, selectableOf(obj, labels))) continue;
      }
      items.push(item);
      bytes += row.value.length;
      if (items.length < options.limit && bytes < options.maxBytes) continue;
      if (rows.next().done) break; // nothing follows: the last page
      if (bytes >= options.maxBytes && options.failOverBytes) return undefined;
      return { items, lastKey: row.key, bytes };
    }
    return { items, bytes };
  } finally {
    rows.return(undefined);
  }
}
