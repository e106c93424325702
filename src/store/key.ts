/**
 * meta_v2 storage keys, as KubeEdge's `pkg/metaserver/key.go` builds and parses them:
 * `/<group|core>/<version>/<resource>/<namespace|null>/<name>`. One module for the rule,
 * used by Inject (rows written), the store (rows selected) and the MetaServer (keys of
 * requests); the meta_v2 columns `groupversionresource`, `namespace` and `name` of a row
 * are what {@link parseKey} reads back from its key, not the object's metadata.
 *
 * @module
 */

/** Group written in keys for the core (empty) API group (v2.GroupCore). */
export const GROUP_CORE = "core";
/** Namespace written in keys when empty, and read back as empty (v2.NullNamespace). */
export const NULL_SEGMENT = "null";

/** Kinds whose plural is not the naive one, as KubeEdge v1.10 spells them. */
const UNUSUAL_KIND_TO_RESOURCE: Record<string, string> = {
  Endpoints: "endpoints",
  PodStatus: "podstatus",
  NodeStatus: "nodestatus",
  CustomResourceDefinition: "customresourcedefinitions",
  CustomResourceDefinitionList: "customresourcedefinitionlist",
};

const NON_ASCII = /[^ -~]/;

/**
 * Go's `strings.ToLower`: each code point through `unicode.ToLower`, the simple case
 * mapping. JavaScript's `toLowerCase` applies full and contextual mappings instead
 * (`İ` → `i̇`, a final `Σ` → `ς`), which Go does not.
 */
export function goToLower(s: string): string {
  if (!NON_ASCII.test(s)) return s.toLowerCase(); // ASCII letters (and printable) only
  let out = "";
  for (const ch of s) {
    if (ch === "\u0130") {
      out += "i"; // unicode.ToLower('İ') == 'i'
      continue;
    }
    const lower = ch.toLowerCase(); // without context: Σ → σ
    out += [...lower].length === 1 ? lower : ch;
  }
  return out;
}

/**
 * KubeEdge's UnsafeKindToResource: lowercase plural guessed from a kind
 * (`Pod` → `pods`, `Ingress` → `ingresses`, `Policy` → `policies`), lowercased as Go does.
 */
export function kindToResource(kind: string): string {
  if (kind === "") return "";
  const unusual = UNUSUAL_KIND_TO_RESOURCE[kind];
  if (unusual !== undefined) return unusual;
  const r = goToLower(kind);
  if (r.endsWith("s")) return r + "es";
  if (r.endsWith("y")) return r.slice(0, -1) + "ies";
  return r + "s";
}

/**
 * Group and version of an `apiVersion` (apimachinery's ParseGroupVersion).
 * @returns undefined when it does not parse (two or more `/`)
 */
export function parseGroupVersion(
  apiVersion: string,
): { group: string; version: string } | undefined {
  if (apiVersion === "" || apiVersion === "/") return { group: "", version: "" };
  const parts = apiVersion.split("/");
  if (parts.length === 1) return { group: "", version: apiVersion };
  if (parts.length === 2) return { group: parts[0], version: parts[1] };
  return undefined;
}

/** Group and version of an `apiVersion`; one that does not parse gives both empty. */
export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  return parseGroupVersion(apiVersion) ?? { group: "", version: "" };
}

/** The string form of a GroupVersionResource: `apps/v1, Resource=deployments`, `/v1, Resource=pods`. */
export function gvrString(group: string, version: string, resource: string): string {
  return `${group}/${version}, Resource=${resource}`;
}

/**
 * KeyFuncObj: the storage key of an object from its group, version, kind, namespace and
 * name (`core` for the empty group, `null` for an empty namespace; an empty name stays
 * empty, so the key ends with `/`, as upstream's Sprintf writes it).
 */
export function keyFor(
  group: string,
  version: string,
  kind: string,
  namespace: string,
  name: string,
): string {
  return `/${group || GROUP_CORE}/${version}/${kindToResource(kind)}/${
    namespace || NULL_SEGMENT
  }/${name}`;
}

/** A parsed storage key: `/<group>/<version>/<resource>/<namespace>/<name>`. */
export interface ParsedKey {
  /** `groupversionresource` column value, or "" when the key has none. */
  gvr: string;
  namespace: string;
  name: string;
}

/**
 * KubeEdge's ParseKey: segments by `/` (trailing `/` removed), a missing segment read as
 * the first (empty) one, `core` as the empty group, `null` as an empty namespace or name.
 * A name or namespace holding `/` therefore spills into the next segment.
 */
export function parseKey(key: string): ParsedKey {
  const empty = { gvr: "", namespace: "", name: "" };
  const trimmed = key.replace(/\/+$/, "");
  if (trimmed === "") return empty;
  const s = trimmed.split("/");
  if (s[0] !== "") return empty;
  const at = (i: number) => (i < s.length ? s[i] : s[0]);
  const group = at(1) === GROUP_CORE ? "" : at(1);
  const gv = parseGroupVersion(`${group}/${at(2)}`);
  if (gv === undefined) return empty;
  const namespace = at(4) === NULL_SEGMENT ? "" : at(4);
  const name = at(5) === NULL_SEGMENT ? "" : at(5);
  return { gvr: gvrString(gv.group, gv.version, at(3)), namespace, name };
}
