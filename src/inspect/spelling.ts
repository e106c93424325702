/**
 * The spellings of types and resources an operator types (`pods`, `po`, `Pod`,
 * `Resource=pods`, `v1/pods`) resolved against what a database holds, and the
 * suggestion when nothing matches.
 *
 * @module
 */

/** kubectl's short names and plurals, to the singular lower-case kind meta uses. */
const ALIASES: Record<string, string> = {
  po: "pod",
  cm: "configmap",
  svc: "service",
  ep: "endpoints",
  no: "node",
  ns: "namespace",
  sa: "serviceaccount",
  pv: "persistentvolume",
  pvc: "persistentvolumeclaim",
  ev: "event",
  rs: "replicaset",
  deploy: "deployment",
  ds: "daemonset",
  sts: "statefulset",
  lease: "lease",
  endpoint: "endpoints",
  endpointslices: "endpointslice",
};

/** The canonical form: lower case, kubectl short names expanded, plurals made singular. */
export function canonicalType(word: string): string {
  const w = word.trim().toLowerCase();
  if (w in ALIASES) return ALIASES[w];
  if (w === "endpoints") return "endpoints";
  if (w.endsWith("statuses")) return w.slice(0, -2); // podstatuses -> podstatus
  if (w.endsWith("status")) return w;
  if (w.endsWith("ies")) return w.slice(0, -3) + "y";
  if (w.endsWith("sses")) return w.slice(0, -2);
  if (w.endsWith("s") && !w.endsWith("ss")) return w.slice(0, -1);
  return w;
}

/** Resource and group/version of a groupversionresource text (`apps/v1, Resource=deployments`). */
export function splitGvr(gvr: string): { groupVersion: string; resource: string } {
  const m = /^\s*([^,]*?)\s*,\s*Resource=(.*)$/i.exec(gvr);
  if (m) return { groupVersion: m[1], resource: m[2].trim() };
  const r = /^\s*Resource=(.*)$/i.exec(gvr);
  if (r) return { groupVersion: "", resource: r[1].trim() };
  // v1/pods, apps/v1/deployments, pods
  const parts = gvr.trim().split("/").filter((p) => p !== "");
  const resource = parts.pop() ?? "";
  return { groupVersion: parts.join("/"), resource };
}

/** What resolving a spelling found. */
export type Resolution =
  | { value: string; exact: boolean }
  | { value: null; suggestions: string[]; ambiguous?: string[] };

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length];
}

function suggest(given: string, candidates: string[], key: (c: string) => string): string[] {
  const g = canonicalType(given);
  return candidates
    .map((c) => ({ c, d: levenshtein(g, key(c)) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(g.length / 3)))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map((x) => x.c);
}

/** Resolves a `--type` value against the types present in table meta. */
export function resolveType(given: string, types: string[]): Resolution {
  if (types.includes(given)) return { value: given, exact: true };
  const want = canonicalType(given);
  const hit = types.find((t) => canonicalType(t) === want);
  if (hit !== undefined) return { value: hit, exact: false };
  return { value: null, suggestions: suggest(given, types, canonicalType) };
}

/** Resolves a `--gvr` value against the groupversionresources present in table meta_v2. */
export function resolveGvr(given: string, gvrs: string[]): Resolution {
  if (gvrs.includes(given)) return { value: given, exact: true };
  const norm = (s: string) => s.replace(/\s+/g, "").toLowerCase();
  const same = gvrs.find((g) => norm(g) === norm(given));
  if (same !== undefined) return { value: same, exact: false };
  const want = splitGvr(given);
  const resource = canonicalType(want.resource);
  let hits = gvrs.filter((g) => canonicalType(splitGvr(g).resource) === resource);
  if (want.groupVersion !== "") {
    const gv = want.groupVersion.replace(/^\/+/, "").toLowerCase();
    const narrowed = hits.filter((g) =>
      splitGvr(g).groupVersion.replace(/^\/+/, "").toLowerCase() === gv
    );
    if (narrowed.length > 0) hits = narrowed;
  }
  if (hits.length === 1) return { value: hits[0], exact: false };
  if (hits.length > 1) return { value: null, suggestions: hits, ambiguous: hits };
  return {
    value: null,
    suggestions: suggest(want.resource, gvrs, (g) => canonicalType(splitGvr(g).resource)),
  };
}
