/**
 * Inject: the meta_v2 side effect of insert, update and delete messages
 * (spec/metamanager.md §3).
 *
 * @module
 */

import type { Content, Message } from "../beehive/message.ts";
import { type KubeObject, type MetaV2Row, rowForObject } from "../store/meta_v2.ts";
import type { MetaV2Dao } from "../store/meta_v2.ts";
import { parseResource } from "./resource.ts";

/** Watch event types. */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

/** One change applied to meta_v2, for MetaServer watchers (delivered after commit). */
export interface StoreChange {
  type: WatchEventType;
  row: MetaV2Row;
  /**
   * The decoded object `row` was built from, for the listener's `prepare` (spares it a
   * second JSON parse); dropped once the change is queued for publishing.
   */
  object?: KubeObject;
}

/**
 * A list item that is not an object or has neither apiVersion nor kind: the point where
 * KubeEdge v1.10 crashes the whole process.
 */
export class MalformedListItem extends Error {
  /** @param index zero-based position of the item in `items` */
  constructor(readonly index: number, reason: string) {
    super(`list item ${index} ${reason}`);
    this.name = "MalformedListItem";
  }
}

const EVENT_FOR_OPERATION: Record<string, WatchEventType> = {
  insert: "ADDED",
  update: "MODIFIED",
  delete: "DELETED",
};

function isObject(v: unknown): v is KubeObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** The objects a message's content stands for: one object, or each item of a list. */
function objectsOf(content: Content): unknown[] {
  let decoded: unknown;
  try {
    decoded = content.exactValue();
  } catch {
    return [];
  }
  if (!isObject(decoded) || typeof decoded.kind !== "string" || decoded.kind === "") return [];
  return Array.isArray(decoded.items) ? decoded.items : [decoded];
}

/**
 * Applies the meta_v2 events of `msg` in order and returns them.
 * @throws {MalformedListItem} at the first malformed list item (earlier items are applied)
 */
export function inject(msg: Message, metaV2: MetaV2Dao): StoreChange[] {
  const type = EVENT_FOR_OPERATION[msg.route.operation];
  if (type === undefined) return [];
  if (parseResource(msg.route.resource).type.includes("status")) return [];
  const changes: StoreChange[] = [];
  const objects = objectsOf(msg.content);
  for (let i = 0; i < objects.length; i++) {
    const obj = objects[i];
    if (!isObject(obj)) throw new MalformedListItem(i, "is not an object");
    if (obj.apiVersion === undefined && obj.kind === undefined) {
      throw new MalformedListItem(i, "has neither apiVersion nor kind");
    }
    const row = rowForObject(obj);
    if (type === "DELETED") metaV2.deleteByKey(row.key);
    else metaV2.insertOrReplace(row);
    changes.push({ type, row, object: obj });
  }
  return changes;
}
