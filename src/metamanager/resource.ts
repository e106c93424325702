/**
 * Resource strings of messages (`<namespace>/<type>[/<id>]`), spec/metamanager.md §2.1.
 *
 * @module
 */

/** The result of {@link parseResource}. */
export interface ParsedResource {
  /** Always the full resource, unchanged. */
  key: string;
  /** The type segment: last of 2 segments, middle of 3, else "". */
  type: string;
  /** The id segment: last of 3 segments, else "". */
  id: string;
}

/** KubeEdge's parseResource: split on every `/`, keeping empty segments. */
export function parseResource(resource: string): ParsedResource {
  const tokens = resource.split("/");
  if (tokens.length === 2) return { key: resource, type: tokens[1], id: "" };
  if (tokens.length === 3) return { key: resource, type: tokens[1], id: tokens[2] };
  return { key: resource, type: "", id: "" };
}

const REMOTE_QUERY_TYPES: ReadonlySet<string> = new Set([
  "configmap",
  "secret",
  "persistentvolume",
  "persistentvolumeclaim",
  "volumeattachment",
  "node",
  "serviceaccounttoken",
]);

/** requireRemoteQuery: types that are asked of the cloud while connected. */
export function requireRemoteQuery(type: string): boolean {
  return REMOTE_QUERY_TYPES.has(type);
}

/** Types always queried remotely while connected, even when cached. */
export function alwaysRemote(type: string): boolean {
  return type === "node" || type === "volumeattachment";
}

/** Namespace of a meta key: its first `/`-separated segment. */
export function namespaceOf(key: string): string {
  const i = key.indexOf("/");
  return i < 0 ? key : key.slice(0, i);
}
