/**
 * JSON encoding as Go's `encoding/json` produces it, which KubeEdge uses for every
 * value it stores or sends: HTML-sensitive characters escaped, map keys sorted,
 * integers that fit in int64 kept exactly.
 *
 * @module
 */

/** An integer literal kept as text because a JS number would lose digits (Go keeps int64). */
export class RawNumber {
  /** @param text the literal exactly as it appeared in the input */
  constructor(readonly text: string) {}
}

const HTML_UNSAFE = /[<>&\u2028\u2029]/g;
/** Anything {@link escapeHtml} may change: one scan of the text, usually the only one. */
const NEEDS_GO_ESCAPES = /[<>&\u2028\u2029]|\\[bf]/;
const HTML_ESCAPES: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

const SHORT_ESCAPE = /\\([bf\\])/g;

/**
 * Turns JSON text produced by `JSON.stringify` into Go's (before 1.22, which KubeEdge
 * v1.10 uses): HTML-sensitive characters escaped, `\b` and `\f` as `\u0008`, `\u000c`.
 */
export function escapeHtml(json: string): string {
  if (!NEEDS_GO_ESCAPES.test(json)) return json;
  let s = json.replace(HTML_UNSAFE, (c) => HTML_ESCAPES[c]);
  if (s.includes("\\b") || s.includes("\\f")) {
    s = s.replace(SHORT_ESCAPE, (m, c) => c === "b" ? "\\u0008" : c === "f" ? "\\u000c" : m);
  }
  return s;
}

/** Go's encoding of a string value: a JSON string literal with HTML escaping. */
export function goString(s: string): string {
  // The common value (ids, names, routes: printable ASCII with nothing to escape) needs
  // no JSON.stringify and no second scan; a header and a route have eleven of them.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (
      c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c || c === 0x3c || c === 0x3e || c === 0x26
    ) {
      return escapeHtml(JSON.stringify(s));
    }
  }
  return `"${s}"`;
}

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
/**
 * A number token of 16 digits or more: a JSON number follows `:`, `[` or `,` (or starts
 * the text). Digit runs inside strings (hex container IDs, image digests) mostly do not
 * match; those that do only cost the slower exact parse.
 */
const LONG_INTEGER = /(?:^|[:,[])\s*-?\d{16}/;
const INTEGER = /^-?\d+$/;
/**
 * A number token with an exponent of three digits or more, which may be beyond float64
 * (`1e400`: Go's decoder refuses it where JSON.parse gives Infinity).
 */
const BIG_EXPONENT = /(?:^|[:,[])\s*-?\d[\d.]*[eE][+-]?\d{3}/;
/**
 * In one scan of the text: a LONG_INTEGER, a BIG_EXPONENT, or a `-0` number token (an
 * integer literal the unstructured decoder reads as int64 0). Only JSON's white space
 * between the separator and the number (anything else is not JSON: JSON.parse refuses it
 * either way); `\s` made every separator's attempt slower (5.7 -> 3.2 µs over a 3 KB pod).
 */
const NEEDS_EXACT = /(?:^|[:,[])[ \t\n\r]*(?:-?\d{16}|-0(?![.\deE])|-?\d[\d.]*[eE][+-]?\d{3})/;

/** A `\u` escape of a surrogate code unit, in JSON text. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
/** Every escape in the text: a surrogate pair, a lone surrogate, or any other escape. */
const ESCAPE =
  /\\(?:u([dD][89abAB][0-9a-fA-F]{2})(?:\\u([dD][c-fC-F][0-9a-fA-F]{2}))?|u[dD][c-fC-F][0-9a-fA-F]{2}|[^])/g;

/**
 * JSON text with every unpaired surrogate escape (`\ud800`, `\udc00`) replaced by
 * `\ufffd`, as Go's decoder unquotes it (JSON.parse keeps a lone surrogate, which
 * JSON.stringify then writes as an escape where Go writes U+FFFD); keys included.
 * Text without surrogate escapes is returned as it is.
 */
export function goSurrogates(text: string): string {
  if (!SURROGATE_ESCAPE.test(text)) return text;
  return text.replace(ESCAPE, (m, high?: string, low?: string) => {
    if (m.length === 2) return m; // an escape other than \u, or \u of a non-surrogate
    return high !== undefined && low !== undefined ? m : "\\ufffd";
  });
}

/** `JSON.parse` of JSON text as Go decodes its strings (see {@link goSurrogates}). */
export function parseJsonGoStrings(text: string): unknown {
  return JSON.parse(goSurrogates(text));
}

/**
 * Parses JSON the way Kubernetes' unstructured decoder does: integer literals that fit
 * in int64 keep every digit (as {@link RawNumber} when a JS number would round them),
 * everything else becomes a float64; a number beyond float64 (`1e400`) is an error, as
 * in Go (JSON.parse alone gives Infinity).
 */
export function parseJsonExact(text: string): unknown {
  text = goSurrogates(text);
  if (!hasLongInteger(text)) return JSON.parse(text);
  return JSON.parse(
    text,
    (_key, value, context?: { source?: string }) => {
      if (typeof value === "number" && !Number.isFinite(value)) {
        // Go: json: cannot unmarshal number 1e400 into Go value of type float64
        throw new SyntaxError(
          `cannot unmarshal number ${context?.source ?? value} into Go value of type float64`,
        );
      }
      if (Object.is(value, -0) && INTEGER.test(context?.source ?? "")) return 0; // int64 0
      if (typeof value !== "number" || Number.isSafeInteger(value)) return value;
      const source = context?.source;
      if (source === undefined || !INTEGER.test(source)) return value;
      const big = BigInt(source);
      return big <= INT64_MAX && big >= INT64_MIN ? new RawNumber(big.toString()) : value;
    },
  );
}

/**
 * Parses JSON as Go's `json.Unmarshal` into `interface{}` does: every number a float64,
 * and a number beyond float64 (`1e400`) an error (JSON.parse alone gives Infinity).
 * @throws {SyntaxError} for invalid JSON or a number out of range
 */
export function parseJsonFloat64(text: string): unknown {
  text = goSurrogates(text);
  const value = JSON.parse(text);
  if (!BIG_EXPONENT.test(text) && !LONG_INTEGER.test(text)) return value;
  return JSON.parse(text, (_key, v, context?: { source?: string }) => {
    if (typeof v === "number" && !Number.isFinite(v)) {
      throw new SyntaxError(
        `cannot unmarshal number ${context?.source ?? v} into Go value of type float64`,
      );
    }
    return v;
  });
}

/** Maps a UTF-16 code unit so that comparing mapped units orders strings by code point. */
function rank(u: number): number {
  if (u >= 0xd800 && u < 0xe000) return u + 0x2000; // surrogates: above all other BMP units
  return u >= 0xe000 ? u - 0x800 : u;
}

/** Orders strings by their UTF-8 bytes (code point order), as Go sorts map keys. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

function writeScalar(value: unknown, out: string[]): void {
  if (value instanceof RawNumber) out.push(value.text);
  else out.push(Object.is(value, -0) ? "-0" : JSON.stringify(value) ?? "null");
}

/**
 * Writes `value` with sorted keys, iteratively (an explicit stack of open arrays and
 * objects), so that nesting as deep as Go's decoder accepts (10,000) cannot overflow the
 * call stack.
 */
function writeSorted(value: unknown, out: string[]): void {
  type Frame = { items: unknown[]; keys?: string[]; at: number };
  const stack: Frame[] = [];
  const open = (v: unknown): void => {
    if (v === null || typeof v !== "object" || v instanceof RawNumber) return writeScalar(v, out);
    if (Array.isArray(v)) {
      out.push("[");
      stack.push({ items: v, at: 0 });
    } else {
      const record = v as Record<string, unknown>;
      const keys = Object.keys(record).sort(compareUtf8);
      out.push("{");
      stack.push({ items: keys.map((k) => record[k]), keys, at: 0 });
    }
  };
  open(value);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.at === top.items.length) {
      out.push(top.keys ? "}" : "]");
      stack.pop();
      continue;
    }
    const i = top.at++;
    if (i > 0) out.push(",");
    if (top.keys) out.push(JSON.stringify(top.keys[i]), ":");
    open(top.items[i]);
  }
}

const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;

interface OrderNode {
  next: Map<string, OrderNode>;
  /** Go's order of the keys on the path to here: null when already in it. */
  order?: string[] | null;
}
const ORDER_ROOT: OrderNode = { next: new Map() };
let orderNodes = 0;
/** Bounds of the cache: nodes (each a key on a path), and the longest key it keeps. */
const MAX_ORDER_NODES = 5_000;
const MAX_CACHED_KEY = 64;

/**
 * The keys of an object (in enumeration order) in Go's order, or null when they are in it
 * already. Cached by the sequence of keys, in a trie of the key strings (no signature two
 * key lists could share): a cluster's objects have few shapes (a pod's ~35 objects, ~20 of
 * them out of Go's order, cost 37 -> 29 µs to marshal). Bounded: at most MAX_ORDER_NODES
 * keys of at most MAX_CACHED_KEY characters are kept; anything else is sorted each time.
 * Throws NEEDS_SLOW_PATH at an integer-like key.
 */
function orderOf(keys: string[]): string[] | null {
  let node = ORDER_ROOT;
  for (let i = 0; i < keys.length; i++) {
    let n = node.next.get(keys[i]);
    if (n === undefined) {
      if (orderNodes >= MAX_ORDER_NODES || keys[i].length > MAX_CACHED_KEY) {
        return computeOrder(keys);
      }
      n = { next: new Map() };
      node.next.set(keys[i], n);
      orderNodes++;
    }
    node = n;
  }
  if (node.order === undefined) node.order = computeOrder(keys);
  return node.order;
}

function computeOrder(keys: string[]): string[] | null {
  let sorted = true;
  for (let i = 0; i < keys.length; i++) {
    const c = keys[i].charCodeAt(0);
    if (c >= 0x30 && c <= 0x39 && ARRAY_INDEX.test(keys[i])) throw NEEDS_SLOW_PATH;
    if (i > 0 && sorted && compareUtf8(keys[i - 1], keys[i]) > 0) sorted = false;
  }
  return sorted ? null : [...keys].sort(compareUtf8);
}

/** Thrown by {@link sortedForStringify} for what plain JSON.stringify cannot express. */
const NEEDS_SLOW_PATH = new Error("value needs the slow path of goMarshal");

/**
 * `value` with every object whose keys are not in Go's order replaced by a sorted copy
 * (objects and arrays that need no change are returned as they are, nothing else is
 * copied), for one native JSON.stringify without a replacer: calling a replacer for every
 * value cost more than the stringify itself. Throws NEEDS_SLOW_PATH at a -0, a RawNumber
 * or an integer-like key (JS enumerates those first).
 */
function sortedForStringify(v: unknown): unknown {
  if (typeof v !== "object") {
    if (v === 0 && 1 / v < 0) throw NEEDS_SLOW_PATH;
    return v;
  }
  if (v === null) return v;
  if (Array.isArray(v)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      const y = (typeof x === "object" && x !== null) || x === 0 ? sortedForStringify(x) : x;
      if (y !== x) (copy ??= v.slice())[i] = y;
    }
    return copy ?? v;
  }
  if (v instanceof RawNumber) throw NEEDS_SLOW_PATH;
  const record = v as Record<string, unknown>;
  let keys = Object.keys(record);
  const order = orderOf(keys);
  let copy: Record<string, unknown> | undefined;
  if (order !== null) {
    keys = order;
    copy = {};
  }
  for (const k of keys) {
    const x = record[k];
    const y = (typeof x === "object" && x !== null) || x === 0 ? sortedForStringify(x) : x;
    if (copy !== undefined) copy[k] = y;
    else if (y !== x) {
      copy = {};
      for (const k2 of keys) copy[k2] = record[k2];
      copy[k] = y;
    }
  }
  return copy ?? v;
}

/**
 * Go's `json.Marshal` of a generic value (maps have sorted keys), with HTML escaping.
 * Strings, numbers, booleans, null, arrays, plain objects and {@link RawNumber}s.
 */
export function goMarshal(value: unknown): string {
  let prepared: unknown;
  try {
    prepared = sortedForStringify(value);
  } catch (e) {
    // NEEDS_SLOW_PATH, or nesting deeper than this stack (the replacer path copes)
    if (e !== NEEDS_SLOW_PATH && !(e instanceof RangeError)) throw e;
    return goMarshalReplacer(value);
  }
  return escapeHtml(JSON.stringify(prepared) ?? "null");
}

/** {@link goMarshal} through a JSON.stringify replacer, else the sorted writer. */
function goMarshalReplacer(value: unknown): string {
  // Fast path: JSON.stringify with objects re-built in sorted key order. It cannot express
  // RawNumbers, nor reorder integer-like keys (JS always enumerates those first).
  let slow = false;
  let json: string | undefined;
  try {
    json = stringifySorted(value, () => slow = true);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    slow = true; // nested too deep for JSON.stringify's recursion: the iterative writer
  }
  if (!slow) return escapeHtml(json ?? "null");
  const out: string[] = [];
  writeSorted(value, out);
  return escapeHtml(out.join(""));
}

/** JSON.stringify with objects in sorted key order; calls `slow` where it cannot. */
function stringifySorted(value: unknown, slow: () => void): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === 0 && Object.is(v, -0)) slow(); // Go writes a float64 -0 as "-0"
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    if (v instanceof RawNumber) {
      slow();
      return null;
    }
    const keys = Object.keys(v);
    let sorted = true;
    for (let i = 0; i < keys.length; i++) {
      if (ARRAY_INDEX.test(keys[i])) {
        slow();
        return null;
      }
      if (i > 0 && sorted && compareUtf8(keys[i - 1], keys[i]) > 0) sorted = false;
    }
    if (sorted) return v;
    keys.sort(compareUtf8);
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = (v as Record<string, unknown>)[k];
    return out;
  });
}

const UNSAFE = 2 ** 53;

/**
 * True when a value decoded by `JSON.parse` may differ from {@link parseJsonExact}'s of
 * the same text: it holds a number that is -0 (an integer `-0` is int64 0), not finite
 * (`1e400`: an error in Go), or of magnitude 2^53 or more (an integer literal that may
 * have lost digits). Anything else decodes the same either way. A walk of the decoded
 * value (iterative: nesting as deep as Go's decoder accepts) costs a fraction of
 * {@link hasLongInteger}'s scan of the text, which it replaces where the value is at hand.
 */
export function needsExactParse(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "number") {
      if (!(v < UNSAFE && v > -UNSAFE) || (v === 0 && 1 / v < 0)) return true;
    } else if (typeof v === "object" && v !== null) {
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const x = v[i];
          if (typeof x === "object" || typeof x === "number") stack.push(x);
        }
      } else {
        for (const k in v) {
          const x = (v as Record<string, unknown>)[k];
          if (typeof x === "object" || typeof x === "number") stack.push(x);
        }
      }
    }
  }
  return false;
}

/**
 * True when JSON text needs {@link parseJsonExact}: an integer literal long enough to
 * lose digits as a JS number, an integer `-0` (int64 0, not float64 -0), or a number
 * that may be beyond float64.
 */
export function hasLongInteger(json: string): boolean {
  return NEEDS_EXACT.test(json);
}

const COMPACT_CANDIDATE = /[ \t\n\r<>&\u2028\u2029]/;

/**
 * Go's `json.Compact` with HTML escaping, which `json.Marshal` applies to raw JSON bytes
 * it embeds (a `json.RawMessage` content): white space outside strings removed, `<` `>`
 * `&` U+2028 U+2029 escaped; everything else, escapes and number spellings included, kept.
 */
export function goCompact(json: string): string {
  if (!COMPACT_CANDIDATE.test(json)) return json;
  let out = "";
  let run = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      else if (c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
        out += json.slice(run, i) + HTML_ESCAPES[json[i]];
        run = i + 1;
      }
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
      out += json.slice(run, i);
      run = i + 1;
    }
  }
  return run === 0 ? json : out + json.slice(run);
}
