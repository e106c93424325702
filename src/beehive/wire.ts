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

import {
  decodeGoValue,
  decodeMembers,
  foldFieldKey,
  GoSyntaxError,
  goTrimSpace,
  type GoValue,
  type Member,
  type NumberMode,
  skipGoWs,
} from "./go_decode.ts";
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

const INTEGER = /^-?\d+$/;
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/**
 * Decodes the member `m` of a message into the Go struct `into`, as encoding/json does:
 * `null` leaves the struct as it is, an object's fields are assigned in text order (a
 * later duplicate wins, a later `null` keeps the earlier value), keys match with Unicode
 * case folding, a value of the wrong type is an error.
 */
function decodeStruct<T extends object>(
  text: string,
  name: string,
  m: Member,
  fields: Fields<T>,
  numbers: NumberMode,
  into: T,
): T {
  if (m.value === null) return into;
  const decoded = decodeMembers(text, m.start, 1, numbers);
  if (decoded === undefined) {
    throw new WireError(name, `expected an object, got ${typeName(m.value)}`);
  }
  const byWire = wireNames(fields);
  const target = into as Record<keyof T, unknown>;
  for (const f of decoded.members) {
    const field = byWire.get(foldFieldKey(f.key));
    const v = f.value;
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
      const literal = text.slice(f.start, f.end);
      if (typeof v !== "number") {
        throw new WireError(path, `expected an integer, got ${typeName(v)}`);
      }
      if (!INTEGER.test(literal)) {
        throw new WireError(path, `expected an integer (Go int64), got number ${literal}`);
      }
      if (Number.isSafeInteger(v)) target[field] = v;
      else {
        const big = BigInt(literal);
        if (big > INT64_MAX || big < INT64_MIN) {
          throw new WireError(
            path,
            `expected an integer (Go int64), got number ${literal} (out of range)`,
          );
        }
        target[field] = big;
      }
    }
  }
  return into;
}

/**
 * How a message's content reaches the MetaManager (../shared/oracle/README.md):
 * `websocket` decodes it into a generic Go value (re-marshalled by Go when stored or sent:
 * numbers as float64, keys sorted), `raw` hands over its JSON text as written.
 */
export type Transport = "websocket" | "raw";

/** Module names of KubeEdge's cloud side: messages from them arrive over the transport. */
export const CLOUD_SOURCES: ReadonlySet<string> = new Set([
  "edgecontroller",
  "devicecontroller",
  "dynamiccontroller",
  "synccontroller",
  "cloudhub",
  "cloudStream",
  "router",
  "router_eventbus",
  "router_servicebus",
  "csidriver",
  "funcmgr",
]);

function syntaxError(e: unknown): never {
  if (e instanceof GoSyntaxError) {
    throw new WireError("message", `invalid JSON (${e.message} at offset ${e.offset})`);
  }
  throw e;
}

/**
 * Decodes a message as Go's `json.Decoder.Decode` reads one websocket frame: leading JSON
 * white space, one value (anything after it ignored), content as a generic Go value.
 */
function decodeFrame(text: string): Message {
  let top;
  try {
    top = decodeMembers(text, 0, 0, "float64");
  } catch (e) {
    syntaxError(e);
  }
  if (top === undefined) {
    const i = skipGoWs(text, 0);
    if (i >= text.length || !'["-0123456789tfn'.includes(text[i])) {
      throw new WireError("message", "invalid JSON (not a JSON value)");
    }
    throw new WireError("message", "expected a JSON object");
  }
  return fromMembers(text, top.members, "float64");
}

/**
 * Decodes a message handed over as text (json.Unmarshal of the line stripped of Go white
 * space): exactly one JSON object; content kept as its JSON text.
 */
function decodeText(text: string): Message {
  const trimmed = goTrimSpace(text);
  let top, other: GoValue = null;
  try {
    top = decodeMembers(trimmed, 0, 0, "validate");
    if (top === undefined) other = decodeGoValue(trimmed, 0, 0, "validate").value;
    const end = top?.end ?? decodeGoValue(trimmed, 0, 0, "validate").end;
    if (skipGoWs(trimmed, end) < trimmed.length) {
      throw new GoSyntaxError("invalid character after top-level value", end);
    }
  } catch (e) {
    syntaxError(e);
  }
  if (top === undefined) {
    throw new WireError("message", `expected a JSON object, got ${typeName(other)}`);
  }
  return fromMembers(trimmed, top.members, "validate");
}

function fromMembers(text: string, members: Member[], numbers: NumberMode): Message {
  const header = emptyHeader(), route = emptyRoute();
  let content: Member | undefined;
  for (const m of members) {
    const key = foldFieldKey(m.key);
    if (key === "header") decodeStruct(text, "header", m, HEADER_FIELDS, numbers, header);
    else if (key === "route") decodeStruct(text, "route", m, ROUTE_FIELDS, numbers, route);
    else if (key === "content") content = m;
  }
  if (content?.typeError) throw new WireError("content", content.typeError);
  let c = Content.NULL;
  if (content !== undefined && content.value !== null) {
    if (numbers === "float64" || typeof content.value === "string") c = Content.of(content.value);
    else c = Content.fromWire(text.slice(content.start, content.end));
  }
  return { header, route, content: c };
}

/**
 * Parses one message from KubeEdge wire JSON. With `transport` `websocket`, a message
 * from a cloud module ({@link CLOUD_SOURCES}) is decoded as the websocket transport does
 * ({@link Transport}); any other message, and every message with `raw`, as text.
 * @throws {WireError} naming the field and the reason when `text` is not a valid message
 */
export function parseMessage(text: string, transport: Transport = "raw"): Message {
  if (transport === "raw") return decodeText(text);
  let frame: Message | undefined, frameError: unknown;
  try {
    frame = decodeFrame(text);
  } catch (e) {
    frameError = e;
  }
  if (frame !== undefined) {
    return CLOUD_SOURCES.has(frame.route.source) ? frame : decodeText(text);
  }
  const msg = decodeText(text); // throws when the line is invalid either way
  if (CLOUD_SOURCES.has(msg.route.source)) throw frameError;
  return msg;
}
