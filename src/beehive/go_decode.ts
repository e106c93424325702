/**
 * JSON decoding as Go's `encoding/json` does it (KubeEdge v1.10 builds with Go 1.17), for
 * wire messages and their contents. Pure and iterative: nesting up to Go's limit (10,000
 * levels) decodes without deep recursion, deeper is a syntax error as in Go.
 *
 * What differs from `JSON.parse`: only `\t \n \r` and space are white space (a byte-order
 * mark is not), an unpaired surrogate escape becomes U+FFFD, a number outside the float64
 * range is an error where a float64 is wanted (`1e400`), objects are plain maps whose later
 * duplicate key wins (`null` included), and struct fields (see {@link decodeMembers}) are
 * matched with Unicode case folding.
 *
 * @module
 */

/** Go's scanner limit on nested arrays and objects (encoding/json maxNestingDepth). */
export const GO_MAX_DEPTH = 10000;

/** A generic Go value decoded into `interface{}`: maps are null-prototype objects. */
export type GoValue = null | boolean | number | string | GoValue[] | GoMap;
/** A decoded `map[string]interface{}`. */
export interface GoMap {
  [key: string]: GoValue;
}

/** Input that Go's decoder rejects; `offset` is the UTF-16 index where it failed. */
export class GoSyntaxError extends Error {
  /**
   * @param message Go's description of the problem
   * @param offset where in the text
   */
  constructor(message: string, readonly offset: number) {
    super(message);
    this.name = "GoSyntaxError";
  }
}

/** How numbers are taken: `float64` as into `interface{}` (out of range fails), or skipped. */
export type NumberMode = "float64" | "validate";

/** One decoded value and where it ends in the text. */
export interface Decoded {
  value: GoValue;
  end: number;
  /** The first non-syntax error (Go reports it after decoding the whole value). */
  typeError?: string;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Index of the first character at or after `i` that is not JSON white space. */
export function skipGoWs(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

function describe(text: string, i: number): string {
  if (i >= text.length) return "unexpected end of JSON input";
  const cp = text.codePointAt(i)!;
  return `invalid character ${
    JSON.stringify(String.fromCodePoint(cp))
  } looking for beginning of value`;
}

function hex4(text: string, i: number): number {
  if (i + 4 > text.length) return -1;
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const c = text.charCodeAt(i + k);
    const d = c >= 0x30 && c <= 0x39
      ? c - 0x30
      : c >= 0x61 && c <= 0x66
      ? c - 0x57
      : c >= 0x41 && c <= 0x46
      ? c - 0x37
      : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/**
 * Decodes the JSON string literal at `i` (a `"`) as Go unquotes it: unpaired surrogates,
 * escaped or raw, become U+FFFD. Returns the string and the index after the closing quote.
 */
export function decodeGoString(text: string, i: number): [string, number] {
  let j = i + 1;
  let out = "";
  let runStart = j;
  for (;;) {
    if (j >= text.length) throw new GoSyntaxError("unexpected end of JSON input", j);
    const c = text.charCodeAt(j);
    if (c === 0x22) {
      out += text.slice(runStart, j);
      return [out, j + 1];
    }
    if (c < 0x20) {
      throw new GoSyntaxError("invalid character in string literal", j);
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = text.charCodeAt(j + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        j += 2;
        continue;
      }
      out += text.slice(runStart, j) + "\ufffd";
      runStart = ++j;
      continue;
    }
    if (c !== 0x5c) {
      j++;
      continue;
    }
    out += text.slice(runStart, j);
    const e = text.charCodeAt(j + 1);
    switch (e) {
      case 0x22:
        out += '"';
        break;
      case 0x5c:
        out += "\\";
        break;
      case 0x2f:
        out += "/";
        break;
      case 0x62:
        out += "\b";
        break;
      case 0x66:
        out += "\f";
        break;
      case 0x6e:
        out += "\n";
        break;
      case 0x72:
        out += "\r";
        break;
      case 0x74:
        out += "\t";
        break;
      case 0x75: {
        const u = hex4(text, j + 2);
        if (u < 0) {
          throw new GoSyntaxError("invalid character in \\u hexadecimal character escape", j);
        }
        j += 6;
        if (
          u >= 0xd800 && u <= 0xdbff && text.charCodeAt(j) === 0x5c &&
          text.charCodeAt(j + 1) === 0x75
        ) {
          const low = hex4(text, j + 2);
          if (low >= 0xdc00 && low <= 0xdfff) {
            out += String.fromCharCode(u, low);
            j += 6;
            runStart = j;
            continue;
          }
        }
        out += u >= 0xd800 && u <= 0xdfff ? "\ufffd" : String.fromCharCode(u);
        runStart = j;
        continue;
      }
      default:
        throw new GoSyntaxError("invalid character in string escape code", j + 1);
    }
    j += 2;
    runStart = j;
  }
}

/** The number literal at `i`, or a syntax error. Returns its end. */
export function scanGoNumber(text: string, i: number): number {
  NUMBER.lastIndex = i;
  if (!NUMBER.test(text)) throw new GoSyntaxError(describe(text, i), i);
  return NUMBER.lastIndex;
}

interface Frame {
  container: GoValue[] | GoMap;
  key: string;
  isArray: boolean;
}

/**
 * Decodes one JSON value starting at `i` (after white space) into a generic Go value.
 * `depth` is the number of arrays and objects already open around it. With `numbers`
 * `"validate"` numbers are checked for syntax only (and decoded as JS numbers).
 * @throws {GoSyntaxError} for input Go's scanner rejects
 */
export function decodeGoValue(
  text: string,
  i: number,
  depth = 0,
  numbers: NumberMode = "float64",
): Decoded {
  const stack: Frame[] = [];
  let typeError: string | undefined;
  let result: GoValue = null;
  i = skipGoWs(text, i);
  for (;;) {
    // read a value at i
    let value: GoValue;
    const c = text.charCodeAt(i);
    let opened = false;
    if (c === 0x7b || c === 0x5b) {
      if (depth + stack.length + 1 > GO_MAX_DEPTH) {
        throw new GoSyntaxError("exceeded max depth", i);
      }
      const isArray = c === 0x5b;
      const container: GoValue[] | GoMap = isArray ? [] : Object.create(null) as GoMap;
      i = skipGoWs(text, i + 1);
      const close = isArray ? 0x5d : 0x7d;
      if (text.charCodeAt(i) === close) {
        value = container;
        i++;
      } else {
        const frame: Frame = { container, key: "", isArray };
        if (!isArray) {
          if (text.charCodeAt(i) !== 0x22) {
            throw new GoSyntaxError(
              i >= text.length
                ? "unexpected end of JSON input"
                : "invalid character looking for beginning of object key string",
              i,
            );
          }
          [frame.key, i] = decodeGoString(text, i);
          i = skipGoWs(text, i);
          if (text.charCodeAt(i) !== 0x3a) {
            throw new GoSyntaxError("invalid character after object key", i);
          }
          i = skipGoWs(text, i + 1);
        }
        stack.push(frame);
        opened = true;
        value = null;
      }
    } else if (c === 0x22) {
      [value, i] = decodeGoString(text, i);
    } else if (c === 0x74 && text.startsWith("true", i)) {
      value = true;
      i += 4;
    } else if (c === 0x66 && text.startsWith("false", i)) {
      value = false;
      i += 5;
    } else if (c === 0x6e && text.startsWith("null", i)) {
      value = null;
      i += 4;
    } else {
      const end = scanGoNumber(text, i);
      const literal = text.slice(i, end);
      const n = Number(literal);
      if (!Number.isFinite(n) && numbers === "float64" && typeError === undefined) {
        typeError = `cannot unmarshal number ${literal} into Go value of type float64`;
      }
      value = n;
      i = end;
    }
    if (opened) continue;
    // attach value, then close containers as far as possible
    for (;;) {
      const top = stack[stack.length - 1];
      if (top === undefined) {
        result = value;
        return { value: result, end: i, typeError };
      }
      if (top.isArray) (top.container as GoValue[]).push(value);
      else (top.container as GoMap)[top.key] = value;
      i = skipGoWs(text, i);
      const d = text.charCodeAt(i);
      if (d === 0x2c) {
        i = skipGoWs(text, i + 1);
        if (!top.isArray) {
          if (text.charCodeAt(i) !== 0x22) {
            throw new GoSyntaxError(
              "invalid character looking for beginning of object key string",
              i,
            );
          }
          [top.key, i] = decodeGoString(text, i);
          i = skipGoWs(text, i);
          if (text.charCodeAt(i) !== 0x3a) {
            throw new GoSyntaxError("invalid character after object key", i);
          }
          i = skipGoWs(text, i + 1);
        }
        break; // read the next element
      }
      if (d === (top.isArray ? 0x5d : 0x7d)) {
        stack.pop();
        value = top.container;
        i++;
        continue;
      }
      throw new GoSyntaxError(
        i >= text.length
          ? "unexpected end of JSON input"
          : `invalid character after ${top.isArray ? "array element" : "object key:value pair"}`,
        i,
      );
    }
  }
}

/** One member of an object decoded as a Go struct: its key and where its value lies. */
export interface Member {
  key: string;
  start: number;
  end: number;
  value: GoValue;
  typeError?: string;
}

/**
 * The members of the object at `i`, in order, duplicates kept, each value decoded at
 * `depth + 1` (the object itself is one level). Returns undefined when the value at `i`
 * is not an object (the caller decodes it with {@link decodeGoValue}).
 */
export function decodeMembers(
  text: string,
  i: number,
  depth: number,
  numbers: NumberMode,
): { members: Member[]; end: number } | undefined {
  i = skipGoWs(text, i);
  if (text.charCodeAt(i) !== 0x7b) return undefined;
  if (depth + 1 > GO_MAX_DEPTH) throw new GoSyntaxError("exceeded max depth", i);
  const members: Member[] = [];
  i = skipGoWs(text, i + 1);
  if (text.charCodeAt(i) === 0x7d) return { members, end: i + 1 };
  for (;;) {
    if (text.charCodeAt(i) !== 0x22) {
      throw new GoSyntaxError(
        i >= text.length
          ? "unexpected end of JSON input"
          : "invalid character looking for beginning of object key string",
        i,
      );
    }
    let key: string;
    [key, i] = decodeGoString(text, i);
    i = skipGoWs(text, i);
    if (text.charCodeAt(i) !== 0x3a) {
      throw new GoSyntaxError("invalid character after object key", i);
    }
    const start = skipGoWs(text, i + 1);
    const d = decodeGoValue(text, start, depth + 1, numbers);
    members.push({ key, start, end: d.end, value: d.value, typeError: d.typeError });
    i = skipGoWs(text, d.end);
    const c = text.charCodeAt(i);
    if (c === 0x7d) return { members, end: i + 1 };
    if (c !== 0x2c) {
      throw new GoSyntaxError(
        i >= text.length
          ? "unexpected end of JSON input"
          : "invalid character after object key:value pair",
        i,
      );
    }
    i = skipGoWs(text, i + 1);
  }
}

/**
 * A key folded for matching a Go struct field name (ASCII names): Go compares with
 * Unicode simple case folding, under which only U+017F (ſ) and U+212A (K) fold onto
 * ASCII letters.
 */
export function foldFieldKey(key: string): string {
  // The common key (lowercase ASCII: `msg_id`, `content`) folds onto itself: no copy.
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if ((c >= 0x41 && c <= 0x5a) || c > 0x7f) {
      return key.replace(/\u017f/g, "s").replace(/\u212a/g, "k").toLowerCase();
    }
  }
  return key;
}

/** Go's `unicode.IsSpace`. */
export function isGoSpace(c: number): boolean {
  return (c >= 0x09 && c <= 0x0d) || c === 0x20 || c === 0x85 || c === 0xa0 || c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f ||
    c === 0x205f || c === 0x3000;
}

/** Go's `strings.TrimSpace` (U+FEFF is not space, U+0085 is). */
export function goTrimSpace(s: string): string {
  let a = 0, b = s.length;
  while (a < b && isGoSpace(s.charCodeAt(a))) a++;
  while (b > a && isGoSpace(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

const UTF8_STRICT = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Bytes to text as Go reads them (`utf8.DecodeRune`, which `encoding/json` uses on
 * strings): every byte that does not begin a valid UTF-8 sequence becomes one U+FFFD
 * (`E2 82` is two, `F0 9F 98` three), where the WHATWG decoder (`TextDecoder`) turns a
 * truncated sequence into one. A byte-order mark is kept as text.
 */
export function decodeUtf8Go(bytes: Uint8Array): string {
  try {
    return UTF8_STRICT.decode(bytes);
  } catch {
    // not valid UTF-8: the byte-wise path below
  }
  let out = "";
  let run = 0;
  const flush = (end: number) => {
    if (end > run) out += UTF8_STRICT.decode(bytes.subarray(run, end));
  };
  for (let i = 0; i < bytes.length;) {
    const n = validSequenceLength(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    flush(i);
    out += "\ufffd";
    run = ++i;
  }
  flush(bytes.length);
  return out;
}

/** Length of the valid UTF-8 sequence (RFC 3629) starting at `i`, or 0. */
function validSequenceLength(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) =>
    i + k < b.length && b[i + k] >= lo && b[i + k] <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80, hi = c === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80, hi = c === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}
