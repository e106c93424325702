/**
 * Parsing KubeEdge wire JSON into a typed {@link Message}, once, at the boundary.
 *
 * Decoding follows Go's `encoding/json` into `model.Message`: keys match
 * case-insensitively, unknown keys are ignored, missing keys and `null` leave zero
 * values, and a value of the wrong type is an error. The content's JSON text is kept
 * exactly as received.
 *
 * @module
 */

import { Content, emptyHeader, emptyRoute, type Message } from "./message.ts";

/** A line or frame that is not a valid message; `field` names the offending part. */
export class WireError extends Error {
  /**
   * @param field the JSON path of the problem (`header.msg_id`), or `message`
   * @param reason what is wrong with it
   */
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
    this.name = "WireError";
  }
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

function skipWs(text: string, i: number): number {
  while (i < text.length && WS.has(text.charCodeAt(i))) i++;
  return i;
}

function skipString(text: string, i: number): number {
  // text[i] is the opening quote
  let j = i + 1;
  for (;;) {
    const q = text.indexOf('"', j);
    if (q < 0) return text.length;
    let backslashes = 0;
    for (let k = q - 1; k > i && text.charCodeAt(k) === 0x5c; k--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    j = q + 1;
  }
}

function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 0x22) return skipString(text, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    while (i < text.length) {
      const d = text.charCodeAt(i);
      if (d === 0x22) {
        i = skipString(text, i);
        continue;
      }
      if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  while (i < text.length) {
    const d = text.charCodeAt(i);
    if (d === 0x2c || d === 0x7d || d === 0x5d || WS.has(d)) break;
    i++;
  }
  return i;
}

/** The raw text of each top-level member of a JSON object already known to be valid. */
function topLevelMembers(text: string): Map<string, string> {
  const members = new Map<string, string>();
  let i = skipWs(text, 0) + 1; // past '{'
  for (;;) {
    i = skipWs(text, i);
    if (i >= text.length || text.charCodeAt(i) === 0x7d) break;
    const keyEnd = skipString(text, i);
    const raw = text.slice(i + 1, keyEnd - 1);
    const key = raw.includes("\\") ? JSON.parse(text.slice(i, keyEnd)) as string : raw;
    i = skipWs(text, keyEnd) + 1; // past ':'
    i = skipWs(text, i);
    const end = skipValue(text, i);
    members.set(key.toLowerCase(), text.slice(i, end));
    i = skipWs(text, end);
    if (text.charCodeAt(i) === 0x2c) i++;
  }
  return members;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

type Fields<T> = { [K in keyof T]: [wire: string, kind: "string" | "int" | "bool"] };

const HEADER_FIELDS: Fields<Message["header"]> = {
  msgId: ["msg_id", "string"],
  parentMsgId: ["parent_msg_id", "string"],
  timestamp: ["timestamp", "int"],
  resourceVersion: ["resourceversion", "string"],
  sync: ["sync", "bool"],
  type: ["type", "string"],
};

const ROUTE_FIELDS: Fields<Message["route"]> = {
  source: ["source", "string"],
  destination: ["destination", "string"],
  group: ["group", "string"],
  operation: ["operation", "string"],
  resource: ["resource", "string"],
};

const WIRE_NAMES = new WeakMap<object, Map<string, unknown>>();

/** wire key → field name of a field table (built once per table). */
function wireNames<T extends object>(fields: Fields<T>): Map<string, keyof T> {
  let map = WIRE_NAMES.get(fields) as Map<string, keyof T> | undefined;
  if (!map) {
    map = new Map();
    for (const k of Object.keys(fields) as (keyof T)[]) map.set(fields[k][0], k);
    WIRE_NAMES.set(fields, map);
  }
  return map;
}

function decodeStruct<T extends object>(
  name: string,
  value: unknown,
  fields: Fields<T>,
  into: T,
): T {
  if (value === null || value === undefined) return into;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new WireError(name, `expected an object, got ${typeName(value)}`);
  }
  const byWire = wireNames(fields);
  const target = into as Record<keyof T, unknown>;
  const record = value as Record<string, unknown>;
  for (const rawKey in record) {
    const v = record[rawKey];
    const field = byWire.get(rawKey.toLowerCase());
    if (field === undefined || v === null) continue;
    const [wire, kind] = fields[field];
    const path = `${name}.${wire}`;
    if (kind === "string") {
      if (typeof v !== "string") throw new WireError(path, `expected a string, got ${typeName(v)}`);
      target[field] = v;
    } else if (kind === "bool") {
      if (typeof v !== "boolean") {
        throw new WireError(path, `expected a boolean, got ${typeName(v)}`);
      }
      target[field] = v;
    } else {
      if (typeof v !== "number") {
        throw new WireError(path, `expected an integer, got ${typeName(v)}`);
      }
      if (!Number.isSafeInteger(v)) {
        throw new WireError(path, `expected an integer of at most 53 bits, got ${v}`);
      }
      target[field] = v;
    }
  }
  return into;
}

/**
 * Parses one message from KubeEdge wire JSON.
 * @throws {WireError} naming the field and the reason when `text` is not a valid message
 */
export function parseMessage(text: string): Message {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new WireError("message", `invalid JSON (${(e as Error).message})`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new WireError("message", `expected a JSON object, got ${typeName(parsed)}`);
  }
  let header: unknown, route: unknown, content: unknown;
  const record = parsed as Record<string, unknown>;
  for (const k in record) {
    const lower = k.toLowerCase();
    if (lower === "header") header = record[k];
    else if (lower === "route") route = record[k];
    else if (lower === "content") content = record[k];
  }
  const members = topLevelMembers(text);
  const contentText = members.get("content");
  return {
    header: decodeStruct("header", header, HEADER_FIELDS, emptyHeader()),
    route: decodeStruct("route", route, ROUTE_FIELDS, emptyRoute()),
    content: contentText === undefined ? Content.NULL : Content.fromWire(contentText, content),
  };
}
