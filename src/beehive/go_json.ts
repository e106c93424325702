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
const HAS_HTML_UNSAFE = /[<>&\u2028\u2029]/;
const HTML_ESCAPES: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

/** Applies Go's HTML escaping to JSON text produced by `JSON.stringify`. */
export function escapeHtml(json: string): string {
  return HAS_HTML_UNSAFE.test(json) ? json.replace(HTML_UNSAFE, (c) => HTML_ESCAPES[c]) : json;
}

/** Go's encoding of a string value: a JSON string literal with HTML escaping. */
export function goString(s: string): string {
  return escapeHtml(JSON.stringify(s));
}

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
const LONG_INTEGER = /\d{16}/;
const INTEGER = /^-?\d+$/;

/**
 * Parses JSON the way Kubernetes' unstructured decoder does: integer literals that fit
 * in int64 keep every digit (as {@link RawNumber} when a JS number would round them),
 * everything else becomes a float64.
 */
export function parseJsonExact(text: string): unknown {
  if (!LONG_INTEGER.test(text)) return JSON.parse(text);
  return JSON.parse(
    text,
    (_key, value, context?: { source?: string }) => {
      if (typeof value !== "number" || Number.isSafeInteger(value)) return value;
      const source = context?.source;
      if (source === undefined || !INTEGER.test(source)) return value;
      const big = BigInt(source);
      return big <= INT64_MAX && big >= INT64_MIN ? new RawNumber(big.toString()) : value;
    },
  );
}

function byKey(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function writeSorted(value: unknown, out: string[]): void {
  if (value === null || typeof value !== "object") {
    out.push(JSON.stringify(value) ?? "null");
  } else if (value instanceof RawNumber) {
    out.push(value.text);
  } else if (Array.isArray(value)) {
    out.push("[");
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(",");
      writeSorted(value[i], out);
    }
    out.push("]");
  } else {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort(byKey);
    out.push("{");
    for (let i = 0; i < keys.length; i++) {
      if (i > 0) out.push(",");
      out.push(JSON.stringify(keys[i]), ":");
      writeSorted(record[keys[i]], out);
    }
    out.push("}");
  }
}

/**
 * Go's `json.Marshal` of a generic value (maps have sorted keys), with HTML escaping.
 * Strings, numbers, booleans, null, arrays, plain objects and {@link RawNumber}s.
 */
export function goMarshal(value: unknown): string {
  const out: string[] = [];
  writeSorted(value, out);
  return escapeHtml(out.join(""));
}
