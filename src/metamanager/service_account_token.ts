/**
 * The `meta` key of a service-account token in KubeEdge v1.23 (spec/v1.23.md §2.2): the
 * content decoded as an `authentication/v1 TokenRequest` with Go's typed JSON decoding, then
 * `client.KeyFunc(name, namespace, tr)`: Go's `%q/%q/%#v/%#v/%#v` rendering of the token's
 * name, namespace, `spec.audiences`, `spec.expirationSeconds` and `spec.boundObjectRef`.
 *
 * @module
 */

import { RawNumber } from "../beehive/go_json.ts";
import { parseJsonExact } from "../beehive/go_json.ts";

/** The parts of a TokenRequest's spec that the key renders. */
export interface TokenRequestSpec {
  /** undefined: absent or null (Go: nil slice). */
  audiences?: string[];
  expirationSeconds: bigint;
  boundObjectRef: { kind: string; apiVersion: string; name: string; uid: string };
}

class TypeMismatch extends Error {}

type Json = unknown;

function isMap(v: Json): v is Record<string, Json> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof RawNumber);
}

/**
 * The members of `v` matched to Go struct fields as encoding/json does: the exact name,
 * else a case-insensitive match; a later duplicate wins. Unknown members are ignored.
 */
function fields(v: Json, names: readonly string[]): Map<string, Json> {
  if (v === null) return new Map();
  if (!isMap(v)) throw new TypeMismatch();
  const out = new Map<string, Json>();
  for (const [k, val] of Object.entries(v)) {
    const name = names.find((n) => n === k) ??
      names.find((n) => n.toLowerCase() === k.toLowerCase());
    if (name !== undefined) out.set(name, val);
  }
  return out;
}

function str(v: Json): string {
  if (v === null || v === undefined) return "";
  if (typeof v !== "string") throw new TypeMismatch();
  return v;
}

function int64(v: Json): bigint {
  if (v === null || v === undefined) return 0n;
  if (v instanceof RawNumber) return BigInt(v.text);
  if (typeof v !== "number" || !Number.isInteger(v)) throw new TypeMismatch();
  return BigInt(v);
}

function time(v: Json): void {
  if (v === null || v === undefined) return;
  if (typeof v !== "string" || Number.isNaN(Date.parse(v))) throw new TypeMismatch();
}

function stringMap(v: Json): void {
  if (v === null || v === undefined) return;
  if (!isMap(v)) throw new TypeMismatch();
  for (const x of Object.values(v)) str(x);
}

/** ObjectMeta: the fields whose JSON types a decode checks. */
function objectMeta(v: Json): { name: string; namespace: string } {
  const f = fields(v ?? null, [
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "finalizers",
  ]);
  for (const k of ["generateName", "selfLink", "uid", "resourceVersion"]) str(f.get(k));
  int64(f.get("generation"));
  int64(f.get("deletionGracePeriodSeconds"));
  time(f.get("creationTimestamp"));
  time(f.get("deletionTimestamp"));
  stringMap(f.get("labels"));
  stringMap(f.get("annotations"));
  const fin = f.get("finalizers");
  if (fin !== null && fin !== undefined) {
    if (!Array.isArray(fin)) throw new TypeMismatch();
    fin.forEach(str);
  }
  return { name: str(f.get("name")), namespace: str(f.get("namespace")) };
}

/**
 * Decodes `data` into a TokenRequest as Go's json.Unmarshal does, or undefined when it
 * fails (not JSON, or a member of the wrong JSON type). JSON null is an empty request.
 */
export function decodeTokenRequest(data: string): TokenRequestSpec | undefined {
  let v: Json;
  try {
    v = parseJsonExact(data);
  } catch {
    return undefined;
  }
  try {
    const top = fields(v, ["kind", "apiVersion", "metadata", "spec", "status"]);
    str(top.get("kind"));
    str(top.get("apiVersion"));
    objectMeta(top.get("metadata"));
    const st = fields(top.get("status") ?? null, ["token", "expirationTimestamp"]);
    str(st.get("token"));
    time(st.get("expirationTimestamp"));
    const spec = fields(top.get("spec") ?? null, [
      "audiences",
      "expirationSeconds",
      "boundObjectRef",
    ]);
    const aud = spec.get("audiences");
    let audiences: string[] | undefined;
    if (aud !== null && aud !== undefined) {
      if (!Array.isArray(aud)) throw new TypeMismatch();
      audiences = aud.map(str);
    }
    const ref = fields(spec.get("boundObjectRef") ?? null, ["kind", "apiVersion", "name", "uid"]);
    return {
      audiences,
      expirationSeconds: int64(spec.get("expirationSeconds")),
      boundObjectRef: {
        kind: str(ref.get("kind")),
        apiVersion: str(ref.get("apiVersion")),
        name: str(ref.get("name")),
        uid: str(ref.get("uid")),
      },
    };
  } catch (e) {
    if (e instanceof TypeMismatch) return undefined;
    throw e;
  }
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** Go's strconv.Quote (printable Unicode kept, the rest escaped). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (c >= 0xd800 && c < 0xe000) out += "\ufffd";
    else if (PRINTABLE.test(ch)) out += ch;
    else if (c === 7) out += "\\a";
    else if (c === 8) out += "\\b";
    else if (c === 12) out += "\\f";
    else if (c === 10) out += "\\n";
    else if (c === 13) out += "\\r";
    else if (c === 9) out += "\\t";
    else if (c === 11) out += "\\v";
    else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
    else if (c < 0x10000) out += "\\u" + c.toString(16).padStart(4, "0");
    else out += "\\U" + c.toString(16).padStart(8, "0");
  }
  return out + '"';
}

/** client.KeyFunc(name, namespace, tr) of KubeEdge v1.23. */
export function tokenKey(name: string, namespace: string, spec: TokenRequestSpec): string {
  const aud = spec.audiences === undefined
    ? "[]string(nil)"
    : `[]string{${spec.audiences.map(goQuote).join(", ")}}`;
  const r = spec.boundObjectRef;
  const ref = `v1.BoundObjectReference{Kind:${goQuote(r.kind)}, APIVersion:${
    goQuote(r.apiVersion)
  }, Name:${goQuote(r.name)}, UID:${goQuote(r.uid)}}`;
  return `${goQuote(name)}/${goQuote(namespace)}/${aud}/${spec.expirationSeconds}/${ref}`;
}
