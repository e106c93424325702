/**
 * Discovery documents (an extension beyond KubeEdge 9a7e140, spec/metaserver.md §7):
 * `/version`, `/api`, `/api/v1`, `/apis`, `/apis/{group}`, `/apis/{group}/{version}`,
 * built from the resource table so that `kubectl get`, `kubectl api-resources` and
 * `kubectl get all` can map names, short names and categories to resources.
 *
 * @module
 */

import denoJson from "../../deno.json" with { type: "json" };
import { groupVersion, groupVersions, type ResourceInfo } from "./resources.ts";

/** The Kubernetes API level the MetaServer imitates (KubeEdge 9a7e140 uses apiserver v0.21.4). */
export const KUBE_VERSION = { major: "1", minor: "21", patch: "4" } as const;

/** `GET /version`: a version.Info. */
export function versionInfo(): Record<string, string> {
  const { major, minor, patch } = KUBE_VERSION;
  return {
    major,
    minor,
    gitVersion: `v${major}.${minor}.${patch}-edgecore-meta.${denoJson.version}`,
    gitCommit: "",
    gitTreeState: "",
    buildDate: "",
    goVersion: "",
    compiler: "deno",
    platform: `${Deno.build.os}/${Deno.build.arch === "x86_64" ? "amd64" : "arm64"}`,
  };
}

/** `GET /api`: APIVersions. */
export function apiVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function groupEntry(group: string, versions: string[]): Record<string, unknown> {
  const vs = versions.map((version) => ({
    groupVersion: groupVersion(group, version),
    version,
  }));
  return { name: group, versions: vs, preferredVersion: vs[0] };
}

function namedGroups(extra: readonly ResourceInfo[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const gv of groupVersions(extra)) {
    if (gv.group === "") continue;
    const list = groups.get(gv.group) ?? [];
    list.push(gv.version);
    groups.set(gv.group, list);
  }
  return groups;
}

/** `GET /apis`: APIGroupList of every named group served. */
export function apiGroupList(extra: readonly ResourceInfo[] = []): Record<string, unknown> {
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: [...namedGroups(extra)].map(([g, versions]) => groupEntry(g, versions)),
  };
}

/** `GET /apis/{group}`: APIGroup, or undefined when the group is not served. */
export function apiGroup(
  group: string,
  extra: readonly ResourceInfo[] = [],
): Record<string, unknown> | undefined {
  const versions = namedGroups(extra).get(group);
  if (!versions) return undefined;
  return { kind: "APIGroup", apiVersion: "v1", ...groupEntry(group, versions) };
}

/** One APIResource entry. */
export function apiResource(r: ResourceInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: r.resource,
    singularName: r.singular,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: [...r.verbs],
  };
  if (r.shortNames.length > 0) out.shortNames = [...r.shortNames];
  if (r.categories.length > 0) out.categories = [...r.categories];
  return out;
}

/**
 * `GET /api/v1`, `GET /apis/{group}/{version}`: APIResourceList, or undefined when the
 * group version is not served.
 */
export function apiResourceList(
  group: string,
  version: string,
  extra: readonly ResourceInfo[] = [],
): Record<string, unknown> | undefined {
  const gv = groupVersions(extra).find((g) => g.group === group && g.version === version);
  if (!gv) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: groupVersion(group, version),
    resources: gv.resources.map(apiResource),
  };
}

/**
 * The discovery document for a non-resource path, or undefined when `path` is not a
 * discovery path (or names a group or version that is not served). `stored` gives the
 * resources outside the table that the store holds objects of (asked only when needed).
 */
export function discoveryDocument(
  path: string,
  serverAddress: string,
  stored: () => readonly ResourceInfo[] = () => [],
): Record<string, unknown> | undefined {
  const parts = path.replace(/^\/+|\/+$/g, "").split("/");
  if (parts.length === 1 && parts[0] === "version") return versionInfo();
  if (parts[0] === "api") {
    if (parts.length === 1) return apiVersions(serverAddress);
    if (parts.length === 2) return apiResourceList("", parts[1], stored());
    return undefined;
  }
  if (parts[0] === "apis") {
    if (parts.length === 1) return apiGroupList(stored());
    if (parts.length === 2) return apiGroup(parts[1], stored());
    if (parts.length === 3) return apiResourceList(parts[1], parts[2], stored());
  }
  return undefined;
}
