/**
 * Resources outside the explicit table ({@link RESOURCES}): KubeEdge's MetaServer serves
 * any `/api/v1/{plural}` or `/apis/{group}/{version}/{plural}` from `meta_v2`, the kind
 * guessed from the plural (`UnsafeResourceToKind`), so that edge applications can read the
 * custom resources the cloud's dynamiccontroller sends to the node. This module resolves a
 * request's resource (the table first, then a generic {@link ResourceInfo}) and lists the
 * resources the store holds objects of, for discovery.
 *
 * Beyond upstream: a generic resource is looked up under the plural the request names when
 * rows are stored under it, else under the plural KubeEdge guesses when it stores an object
 * of the guessed kind (`gateways` → `Gateway` → stored `gatewaies`), so objects whose real
 * plural differs from the guess are still found; a list's kind is the stored objects' kind.
 *
 * @module
 */

import { gvrString, kindToResource, type MetaV2Dao } from "../store/meta_v2.ts";
import {
  lookupResource,
  READ_VERBS,
  resourceForStoredGvr,
  type ResourceInfo,
} from "./resources.ts";

/** Plurals whose kind KubeEdge does not guess by rule (its UnsafeResourceToKind table). */
const UNUSUAL_RESOURCE_TO_KIND: Record<string, string> = {
  endpoints: "Endpoints",
  nodes: "Node",
  services: "Service",
  podstatus: "PodStatus",
  nodestatus: "NodeStatus",
  customresourcedefinitions: "CustomResourceDefinition",
  customresourcedefinitionlist: "CustomResourceDefinitionList",
};

/**
 * KubeEdge's UnsafeResourceToKind (v1.10): the kind guessed from a plural (`policies` →
 * `Policy`, `leases` → `Leas`, `devices` → `Devic`, as upstream). Used only when no stored
 * object gives the kind (the kind of an empty list).
 */
export function unsafeResourceToKind(resource: string): string {
  if (resource === "") return "";
  const unusual = UNUSUAL_RESOURCE_TO_KIND[resource];
  if (unusual !== undefined) return unusual;
  let k = resource[0].toUpperCase() + resource.slice(1);
  if (k.endsWith("ies")) k = k.slice(0, -3) + "y";
  else if (k.endsWith("es")) k = k.slice(0, -2);
  else if (k.endsWith("s")) k = k.slice(0, -1);
  return k;
}

/** The kind of a stored object's JSON (undefined when it has none or does not decode). */
function kindOfValue(value: string): string | undefined {
  try {
    const o = JSON.parse(value) as unknown;
    if (o !== null && typeof o === "object" && !Array.isArray(o)) {
      const k = (o as Record<string, unknown>).kind;
      if (typeof k === "string" && k !== "") return k;
    }
  } catch {
    // an undecodable value names no kind
  }
  return undefined;
}

function genericResource(
  group: string,
  version: string,
  resource: string,
  kind: string,
  stored: string,
  namespaced: boolean,
): ResourceInfo {
  return {
    group,
    version,
    resource,
    singular: kind.toLowerCase(),
    kind,
    namespaced,
    shortNames: [],
    verbs: READ_VERBS,
    categories: [],
    fields: [],
    generic: true,
    stored,
  };
}

/** A Kubernetes API version: `v1`, `v1beta2`, `v2alpha1`. */
const VERSION = /^v[1-9][0-9]*(?:(?:alpha|beta)[1-9][0-9]*)?$/;
/** A plural resource name (lowercase DNS label, as CRDs require). */
const RESOURCE = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** An API group (lowercase DNS subdomain), "" for core. */
const GROUP = /^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$/;

/**
 * True when `group`/`version`/`resource` could name a Kubernetes resource at all (a
 * request outside this, e.g. `/api/etc/passwd`, is a 404, not an empty list).
 */
export function isResourceName(group: string, version: string, resource: string): boolean {
  return VERSION.test(version) && RESOURCE.test(resource) && group.length <= 253 &&
    GROUP.test(group);
}

/**
 * The resource a request names: the table's entry, else a generic resource served from
 * `meta_v2` in any scope (the request's path decides the namespace, as upstream); undefined
 * for names no Kubernetes resource can have ({@link isResourceName}).
 */
export function resolveResource(
  dao: MetaV2Dao,
  group: string,
  version: string,
  resource: string,
): ResourceInfo | undefined {
  const known = lookupResource(group, version, resource);
  if (known) return known;
  if (!isResourceName(group, version, resource)) return undefined;
  const guessedKind = unsafeResourceToKind(resource);
  const asNamed = gvrString(group, version, resource);
  const asGuessed = gvrString(group, version, kindToResource(guessedKind));
  let stored = asNamed;
  let sample = dao.firstValue(asNamed);
  if (sample === undefined && asGuessed !== asNamed) {
    stored = asGuessed;
    sample = dao.firstValue(asGuessed);
  }
  const kind = (sample !== undefined ? kindOfValue(sample) : undefined) ?? guessedKind;
  return genericResource(group, version, resource, kind, stored, true);
}

/**
 * The resources outside the table that `meta_v2` holds objects of, for discovery: plural
 * as stored, kind of a stored object, namespaced when any object has a namespace.
 */
export function storedResources(dao: MetaV2Dao): ResourceInfo[] {
  const out: ResourceInfo[] = [];
  for (const s of dao.storedGvrs()) {
    if (resourceForStoredGvr(s.gvr)) continue;
    const { group, version, resource } = splitGvr(s.gvr);
    if (!isResourceName(group, version, resource)) continue;
    const sample = dao.firstValue(s.gvr);
    const kind = (sample !== undefined ? kindOfValue(sample) : undefined) ??
      unsafeResourceToKind(resource);
    out.push(genericResource(group, version, resource, kind, s.gvr, s.namespaced));
  }
  return out;
}

/** Group, version and resource of a `groupversionresource` value. */
function splitGvr(gvr: string): { group: string; version: string; resource: string } {
  const m = /^([^/]*)\/([^,]*), Resource=(.*)$/.exec(gvr);
  if (!m) return { group: "", version: "", resource: "" };
  return { group: m[1], version: m[2], resource: m[3] };
}
