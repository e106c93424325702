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
  decodeGoString,
  decodeGoValue,
  decodeMembers,
  foldFieldKey,
  GO_MAX_DEPTH,
  GoSyntaxError,
  goTrimSpace,
  type GoValue,
  type Member,
  type NumberMode,
  skipGoWs,
} from "./go_decode.ts";
import { parseJsonGoStrings } from "./go_json.ts";
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
    if (kind === "string") {
      if (typeof v !== "string") {
        throw new WireError(`${name}.${wire}`, `expected a string, got ${typeName(v)}`);
      }
      target[field] = v;
    } else if (kind === "bool") {
      if (typeof v !== "boolean") {
        throw new WireError(`${name}.${wire}`, `expected a boolean, got ${typeName(v)}`);
      }
      target[field] = v;
    } else {
      const literal = text.slice(f.start, f.end);
      if (typeof v !== "number") {
        throw new WireError(`${name}.${wire}`, `expected an integer, got ${typeName(v)}`);
      }
      if (!INTEGER.test(literal)) {
        throw new WireError(
          `${name}.${wire}`,
          `expected an integer (Go int64), got number ${literal}`,
        );
      }
      if (Number.isSafeInteger(v)) target[field] = v;
      else {
        const big = BigInt(literal);
        if (big > INT64_MAX || big < INT64_MIN) {
          throw new WireError(
            `${name}.${wire}`,
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

/**
 * KubeEdge v1.23's cloud modules (`cloud/pkg/common/modules`): v1.10's plus
 * `policycontroller`, `nodeupgradejobcontroller` and `taskmanager` (`funcmgr` kept so that
 * v1.10 journals decode as they did; ../shared/oracle-v1.23/README.md).
 */
export const CLOUD_SOURCES_V1_23: ReadonlySet<string> = new Set([
  ...CLOUD_SOURCES,
  "policycontroller",
  "nodeupgradejobcontroller",
  "taskmanager",
]);

function syntaxError(e: unknown): never {
  if (e instanceof GoSyntaxError) {
    throw new WireError("message", `invalid JSON (${e.message} at offset ${e.offset})`);
  }
  throw e;
}

/**
 * Decodes a message as Go's `json.Decoder.Decode` reads one websocket frame: leading JSON
 * white space, one value (anything after it ignored), content as a generic Go value. The
 * common frame takes decodeFast (the content by one native JSON.parse where it decodes as
 * Go's decoder would); anything else, and any error, goes to the full decoder. Exported
 * for the tests.
 */
export function decodeFrame(text: string): Message {
  try {
    const fast = decodeFast(text, skipGoWs(text, 0), "float64");
    if (fast !== undefined) return fast;
  } catch {
    // the full decoder words the error (a syntax error anywhere before a field's type)
  }
  return decodeFrameFull(text);
}

/**
 * {@link parseMessage} of a cloud message on the websocket transport without the fast
 * path of decodeFast (the tests compare the two).
 */
export function decodeFrameFull(text: string): Message {
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
 * Index of the closing quote of the string literal opening at `i`, or -1 (no checks: the
 * text is validated separately).
 */
function stringEnd(text: string, i: number): number {
  for (;;) {
    const k = text.indexOf('"', i + 1);
    if (k < 0) return -1;
    let b = k - 1;
    while (text.charCodeAt(b) === 0x5c) b--;
    if ((k - 1 - b) % 2 === 0) return k; // an even run of backslashes: not escaped
    i = k;
  }
}

/**
 * Where the JSON value at `i` ends and how deeply it nests, by brackets and quotes alone
 * (a quick scan, no decoding); undefined when unbalanced. Only an extent: the value is
 * validated by parsing it.
 */
function valueExtent(text: string, i: number): { end: number; depth: number } | undefined {
  const first = text.charCodeAt(i);
  if (first !== 0x7b && first !== 0x5b) {
    let j = i;
    for (;;) {
      const c = text.charCodeAt(j);
      // letters, digits, + - . (numbers, true, false, null)
      if (
        (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) ||
        c === 0x2b || c === 0x2d || c === 0x2e
      ) j++;
      else return j > i ? { end: j, depth: 0 } : undefined;
    }
  }
  let depth = 0, max = 0;
  for (let j = i; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x22) {
      j = stringEnd(text, j);
      if (j < 0) return undefined;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) {
      if (--depth === 0) return { end: j + 1, depth: max };
    }
  }
  return undefined;
}

/** Stands for a header or route object that fromMembers decodes itself. */
const STRUCT_PLACEHOLDER: GoValue = Object.freeze({}) as GoValue;

/** Largest content (in characters) whose decoded value a parsed message keeps. */
const KEEP_DECODED_CHARS = 32 * 1024;

/**
 * decodeText for the common message, decoding its content once: header and route through
 * the Go decoder (once, in fromMembers), other members through it too, the content (the bulk of the line) by its extent and
 * one native `JSON.parse`, whose value Inject then uses (see Content.fromWire). For one
 * JSON value JSON.parse and Go's decoder accept exactly the same texts but for nesting
 * deeper than Go's limit, which is checked here. Undefined when the line is anything
 * else (invalid, a top-level value other than an object): the full decoder then decides,
 * and words the error; so does it when this throws (a header's syntax error may follow a
 * route's type error). Exported for the tests; `trimmed` is stripped of Go white space.
 */
export function decodeTextFast(trimmed: string): Message | undefined {
  return decodeFast(trimmed, 0, "validate");
}

/** A surrogate code unit (raw; a one-byte string has none, and the test is then free). */
const SURROGATE = /[\ud800-\udfff]/;
/**
 * A number token (after `:`, `,` or `[` and JSON white space: the content is an object or
 * array) that may be beyond float64: an exponent of three digits, or 200 digits in a row
 * (with a two-digit exponent at most 1e299).
 */
const NUMBER_MAYBE_BEYOND_FLOAT64 = /[:,[][ \t\n\r]*-?(?:\d[\d.]*[eE][+-]?\d{3}|\d{200})/;

/**
 * Whether a content's text may decode differently with JSON.parse than with Go's decoder
 * into `interface{}` (the websocket transport): `\u` escapes (an unpaired surrogate
 * becomes U+FFFD in Go; an escaped `__proto__`), raw surrogates, a `__proto__` key, and
 * numbers that may be beyond float64 (Go: an error; JSON.parse: Infinity). Numbers are
 * looked for in number tokens only: the former unanchored `[eE][+-]?\d{3}` also matched
 * inside strings (UUIDs, hashes: half of the bench's pods) and sent those frames to the
 * full decoder; the literal checks are substring searches, not a regular expression's
 * alternation tried at every offset (11.5 -> 3.5 µs over a 3 KB pod).
 */
function frameNeedsGoDecoder(text: string): boolean {
  return text.includes("\\u") || text.includes("__proto__") || SURROGATE.test(text) ||
    NUMBER_MAYBE_BEYOND_FLOAT64.test(text);
}

/**
 * Where the value at `start` ends if it is the last member of the message's object (the
 * content is, as Go marshals model.Message): before the object's closing brace (the
 * text's last character; for a websocket frame, whose trailing text is ignored, the last
 * `}`) and the JSON white space before it. Undefined when it cannot be, or when the value
 * might nest deeper than Go's limit (10,000 levels need 20,000 brackets: then
 * valueExtent counts them). The caller parses the slice: if JSON.parse takes it, it is
 * one value and the member is the last one; if not, the caller falls back to valueExtent.
 * This spares a scan of every character of the content before the parse.
 */
function lastMemberEnd(trimmed: string, start: number, numbers: NumberMode): number | undefined {
  let end = numbers === "float64" ? trimmed.lastIndexOf("}") : trimmed.length - 1;
  if (end <= start || trimmed.charCodeAt(end) !== 0x7d) return undefined;
  for (let c = trimmed.charCodeAt(end - 1); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;) {
    c = trimmed.charCodeAt(--end - 1);
  }
  return end - start < 2 * GO_MAX_DEPTH ? end : undefined;
}

/**
 * decodeTextFast (`numbers` validate: the text transport, the whole text one object) or
 * the websocket frame's decoding (`float64`: the content as a generic Go value, anything
 * after the object ignored), from the object at `i`.
 */
function decodeFast(trimmed: string, i: number, numbers: NumberMode): Message | undefined {
  if (trimmed.charCodeAt(i) !== 0x7b) return undefined;
  const members: Member[] = [];
  let parsed: { member: Member; value: unknown } | undefined;
  i = skipGoWs(trimmed, i + 1);
  if (trimmed.charCodeAt(i) === 0x7d) return undefined;
  for (;;) {
    if (trimmed.charCodeAt(i) !== 0x22) return undefined;
    let key: string;
    [key, i] = decodeGoString(trimmed, i);
    i = skipGoWs(trimmed, i);
    if (trimmed.charCodeAt(i) !== 0x3a) return undefined;
    const start = skipGoWs(trimmed, i + 1);
    const c = trimmed.charCodeAt(start);
    const field = foldFieldKey(key);
    if (c === 0x7b && (field === "header" || field === "route")) {
      // decoded (and validated) once, by fromMembers' decodeStruct
      const extent = valueExtent(trimmed, start);
      if (extent === undefined) return undefined;
      members.push({ key, start, end: extent.end, value: STRUCT_PLACEHOLDER });
      i = extent.end;
    } else if ((c === 0x7b || c === 0x5b) && field === "content") {
      let end = lastMemberEnd(trimmed, start, numbers);
      let slice: string | undefined, value: unknown;
      if (end !== undefined) {
        slice = trimmed.slice(start, end);
        try {
          value = parseJsonGoStrings(slice); // unpaired surrogate escapes as Go: U+FFFD
        } catch {
          slice = undefined; // not the last member after all: find its extent
        }
      }
      if (slice === undefined) {
        const extent = valueExtent(trimmed, start);
        if (extent === undefined || extent.depth + 1 > GO_MAX_DEPTH) return undefined;
        end = extent.end;
        slice = trimmed.slice(start, end);
        try {
          value = parseJsonGoStrings(slice);
        } catch {
          return undefined;
        }
      }
      if (numbers === "float64" && frameNeedsGoDecoder(slice)) return undefined;
      const member: Member = { key, start, end: end!, value: value as GoValue };
      members.push(member);
      // A queued message keeps its decoded content until processed (about 1.4 times the
      // text for a pod): only small contents keep it; a large one is parsed again then.
      parsed = slice.length <= KEEP_DECODED_CHARS ? { member, value } : undefined;
      i = end!;
    } else {
      const d = decodeGoValue(trimmed, start, 1, numbers);
      members.push({ key, start, end: d.end, value: d.value, typeError: d.typeError });
      i = d.end;
    }
    i = skipGoWs(trimmed, i);
    const next = trimmed.charCodeAt(i);
    if (next === 0x7d) break;
    if (next !== 0x2c) return undefined;
    i = skipGoWs(trimmed, i + 1);
  }
  if (numbers === "validate" && i + 1 !== trimmed.length) return undefined;
  return fromMembers(trimmed, members, numbers, parsed);
}

/**
 * Decodes a message handed over as text (json.Unmarshal of the line stripped of Go white
 * space): exactly one JSON object; content kept as its JSON text.
 */
function decodeText(text: string): Message {
  const trimmed = goTrimSpace(text);
  try {
    const fast = decodeTextFast(trimmed);
    if (fast !== undefined) return fast;
  } catch {
    // the full decoder words the error (a syntax error anywhere before a field's type)
  }
  return decodeTextFull(text);
}

/**
 * {@link parseMessage} of the raw transport without the fast path of decodeTextFast (the
 * tests compare the two).
 */
export function decodeTextFull(text: string): Message {
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

function fromMembers(
  text: string,
  members: Member[],
  numbers: NumberMode,
  parsed?: { member: Member; value: unknown },
): Message {
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
    else {
      c = Content.fromWire(
        text.slice(content.start, content.end),
        parsed?.member === content ? parsed.value : undefined,
      );
    }
  }
  return { header, route, content: c };
}

/**
 * {@link parseMessage}, with what it throws returned instead (a {@link WireError} for an
 * invalid message): for callers that decode a batch and report each frame's problem.
 */
export function parseMessageOrError(
  text: string,
  transport: Transport = "raw",
  cloudSources: ReadonlySet<string> = CLOUD_SOURCES,
): Message | Error {
  try {
    return parseMessage(text, transport, cloudSources);
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

/**
 * Parses one message from KubeEdge wire JSON. With `transport` `websocket`, a message
 * from a cloud module ({@link CLOUD_SOURCES}) is decoded as the websocket transport does
 * ({@link Transport}); any other message, and every message with `raw`, as text.
 * `cloudSources` are the cloud modules of the release (default v1.10's).
 * @throws {WireError} naming the field and the reason when `text` is not a valid message
 */
export function parseMessage(
  text: string,
  transport: Transport = "raw",
  cloudSources: ReadonlySet<string> = CLOUD_SOURCES,
): Message {
  if (transport === "raw") return decodeText(text);
  let frame: Message | undefined, frameError: unknown;
  try {
    frame = decodeFrame(text);
  } catch (e) {
    frameError = e;
  }
  if (frame !== undefined) {
    return cloudSources.has(frame.route.source) ? frame : decodeText(text);
  }
  const msg = decodeText(text); // throws when the line is invalid either way
  if (cloudSources.has(msg.route.source)) throw frameError;
  return msg;
}
