/**
 * Inject: the meta_v2 side effect of insert, update and delete messages
 * (spec/metamanager.md §3).
 *
 * @module
 */

import type { Content, Message } from "../beehive/message.ts";
import {
  isStorable,
  type KubeObject,
  type MetaV2Row,
  parseApiVersion,
  rowForObject,
} from "../store/meta_v2.ts";
import type { MetaV2Dao } from "../store/meta_v2.ts";
import { parseResource } from "./resource.ts";
import type { KubeEdgeRelease } from "../store/schema.ts";

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

/**
 * An object whose metadata.resourceVersion is at or above 2^63: upstream binds it as a
 * uint64, the SQLite driver refuses it (three tries) and Inject panics.
 */
export class UnstorableResourceVersion extends MalformedListItem {
  /**
   * @param index zero-based position of the object (0 for a single object)
   * @param rv the resourceVersion
   */
  constructor(index: number, readonly rv: string) {
    super(index, `has resourceVersion ${rv}, at or above 2^63`);
    this.message = `object ${index} has resourceVersion ${rv}, at or above 2^63 ` +
      "(failed to access database after 3 times try)";
    this.name = "UnstorableResourceVersion";
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

/**
 * What Inject needs of a content that stands for one storable object (the common insert
 * or update), computed ahead of processing, possibly on another thread
 * (src/metamanager/frame_decoder.ts): the object's meta_v2 row and its resourceVersion as
 * written. Structured-clonable.
 */
export interface PreparedObject {
  row: MetaV2Row;
  /** metadata.resourceVersion as written (for the UnstorableResourceVersion text). */
  rv: string;
}

/** Prepared rows of contents (see {@link prepareObject}), by content. */
const PREPARED = new WeakMap<Content, PreparedObject>();

/** Makes {@link inject} use `prepared` for `content` instead of decoding it again. */
export function attachPrepared(content: Content, prepared: PreparedObject): void {
  PREPARED.set(content, prepared);
}

/**
 * The prepared row of `content` when it stands for one storable object (not a list):
 * the decoding, classification and Go marshal that {@link inject} would do, done now.
 * Undefined for anything else (inject then decides everything itself).
 */
export function prepareObject(content: Content): PreparedObject | undefined {
  const decoded = decodedObject(content);
  if (decoded === undefined || Array.isArray(decoded.items)) return undefined;
  return { row: rowForObject(decoded, content.goJsonOf(decoded)), rv: resourceVersionOf(decoded) };
}

/** The content decoded as the unstructured decoder does, when it is an object with a kind. */
function decodedObject(content: Content): KubeObject | undefined {
  let decoded: unknown;
  try {
    decoded = content.exactValue();
  } catch {
    return undefined;
  }
  // The unstructured decode needs a kind, taken with the group/version of an apiVersion
  // that parses (a list's own apiVersion too: `apps/v1/x` fails the decode, no events).
  if (
    !isObject(decoded) || typeof decoded.kind !== "string" || decoded.kind === "" ||
    !isStorable(decoded)
  ) {
    return undefined;
  }
  return decoded;
}

/** The objects a message's content stands for: one object, or each item of a list. */
function objectsOf(content: Content): { objects: unknown[]; list: boolean } {
  const decoded = decodedObject(content);
  if (decoded === undefined) return { objects: [], list: false };
  return Array.isArray(decoded.items)
    ? { objects: decoded.items, list: true }
    : { objects: [decoded], list: false };
}

/** Writes (or deletes) `row` as `type` says, and returns the change. */
function apply(
  metaV2: MetaV2Dao,
  type: WatchEventType,
  row: MetaV2Row,
  object?: KubeObject,
): StoreChange {
  if (type === "DELETED") metaV2.deleteByKey(row.key);
  else metaV2.insertOrReplace(row);
  return object === undefined ? { type, row } : { type, row, object };
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function resourceVersionOf(obj: KubeObject): string {
  const meta = obj.metadata;
  return isObject(meta) ? str(meta.resourceVersion) : "";
}

/**
 * Applies the meta_v2 events of `msg` in order and returns them, as `release` does.
 * @throws {MalformedListItem} (v1.10) at the first malformed list item (earlier items are
 * applied); v1.23 has no crash paths: it logs and skips instead (spec/v1.23.md §4).
 */
export function inject(
  msg: Message,
  metaV2: MetaV2Dao,
  release: KubeEdgeRelease = "1.10",
): StoreChange[] {
  const type = EVENT_FOR_OPERATION[msg.route.operation];
  if (type === undefined) return [];
  const resourceType = parseResource(msg.route.resource).type;
  if (resourceType.includes("status")) return [];
  if (release === "1.23") {
    if (resourceType.includes("lease") && msg.route.source === "edged") return [];
    return injectV123(msg, metaV2, type);
  }
  const prepared = PREPARED.get(msg.content);
  if (prepared !== undefined) {
    // One storable object with a kind: what the loop below does for it (no list checks).
    const row = prepared.row;
    if (type !== "DELETED" && typeof row.resourceversion === "bigint" && row.resourceversion < 0n) {
      throw new UnstorableResourceVersion(0, prepared.rv);
    }
    return [apply(metaV2, type, row)];
  }
  const changes: StoreChange[] = [];
  const { objects, list } = objectsOf(msg.content);
  // Listing the items fails on the first one that is not an object, before any is written.
  const bad = objects.findIndex((o) => !isObject(o));
  if (bad >= 0) throw new MalformedListItem(bad, "is not an object");
  for (let i = 0; i < objects.length; i++) {
    const obj = objects[i] as KubeObject;
    if (!isStorable(obj)) {
      // The unstructured decode fails: no row; inside a list, a crash.
      if (list) throw new MalformedListItem(i, "has an apiVersion that does not parse");
      continue;
    }
    const gv = parseApiVersion(str(obj.apiVersion));
    if (gv.group === "" && gv.version === "" && str(obj.kind) === "") {
      throw new MalformedListItem(i, "has neither apiVersion nor kind");
    }
    const row = rowForObject(obj, list ? undefined : msg.content.goJsonOf(obj));
    // Only the write binds the resourceVersion (DeleteObj deletes by key alone).
    if (type !== "DELETED" && typeof row.resourceversion === "bigint" && row.resourceversion < 0n) {
      throw new UnstorableResourceVersion(i, resourceVersionOf(obj));
    }
    changes.push(apply(metaV2, type, row, obj));
  }
  return changes;
}

/**
 * Inject of KubeEdge v1.23 (spec/v1.23.md §4): a list item that is not an object stops
 * the list (earlier items stay applied); an object without apiVersion and kind, with an
 * apiVersion that does not parse, or whose resourceVersion the database refuses, is skipped.
 */
function injectV123(msg: Message, metaV2: MetaV2Dao, type: WatchEventType): StoreChange[] {
  const prepared = PREPARED.get(msg.content);
  if (prepared !== undefined) {
    // One storable object with a kind: what the loop below does for it.
    const row = prepared.row;
    if (typeof row.resourceversion === "bigint" && row.resourceversion < 0n) return [];
    return [apply(metaV2, type, row)];
  }
  const changes: StoreChange[] = [];
  const { objects, list } = objectsOf(msg.content);
  for (const o of objects) {
    if (!isObject(o)) break;
    if (!isStorable(o)) continue;
    if (str(o.apiVersion) === "" && str(o.kind) === "") continue;
    const row = rowForObject(o, list ? undefined : msg.content.goJsonOf(o));
    if (typeof row.resourceversion === "bigint" && row.resourceversion < 0n) continue;
    changes.push(apply(metaV2, type, row, o));
  }
  return changes;
}
