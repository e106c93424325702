/**
 * The MetaServer's resource table: every kind the store can hold and how the API names it
 * (group, version, plural, singular, kind, scope, short names, verbs, categories, field
 * selector labels). Request resources are resolved through this table only — there is no
 * plural guessing at request time. Each entry also names the `groupversionresource` its
 * objects are stored under in `meta_v2`, which KubeEdge builds from a plural *guessed*
 * from the kind ({@link kindToResource}); for every kind listed here the guess equals the
 * real plural, and {@link storedGvr} derives it rather than assuming so.
 *
 * @module
 */

import { gvrString, kindToResource } from "../store/meta_v2.ts";

/** One served resource (an `APIResource` plus what the MetaServer needs to serve it). */
export interface ResourceInfo {
  /** API group, "" for core. */
  group: string;
  version: string;
  /** Plural resource name as in URLs: `pods`. */
  resource: string;
  /** Singular name: `pod`. */
  singular: string;
  /** Kind: `Pod`. */
  kind: string;
  namespaced: boolean;
  shortNames: readonly string[];
  verbs: readonly string[];
  categories: readonly string[];
  /**
   * Field selector labels beyond `metadata.name` and `metadata.namespace`, as dotted
   * paths into the object (`spec.nodeName`).
   */
  fields: readonly string[];
  /**
   * True for a resource outside the table, served from `meta_v2` as KubeEdge serves any
   * resource (src/metaserver/any_resource.ts): any scope, the generic Table columns.
   */
  generic?: boolean;
  /** The `groupversionresource` its objects are stored under, when not derived from the kind. */
  stored?: string;
}

/** Verbs of every served resource: the MetaServer is read-only. */
export const READ_VERBS: readonly string[] = ["get", "list", "watch"];

/** Field labels every resource supports. */
export const COMMON_FIELDS: readonly string[] = ["metadata.name", "metadata.namespace"];

type Entry = [
  group: string,
  version: string,
  resource: string,
  singular: string,
  kind: string,
  namespaced: boolean,
  shortNames: string[],
  categories: string[],
  fields?: string[],
];

const ALL = ["all"];

const POD_FIELDS = [
  "spec.nodeName",
  "spec.restartPolicy",
  "spec.schedulerName",
  "spec.serviceAccountName",
  "spec.hostNetwork",
  "status.phase",
  "status.podIP",
  "status.nominatedNodeName",
];

const EVENT_FIELDS = [
  "involvedObject.kind",
  "involvedObject.namespace",
  "involvedObject.name",
  "involvedObject.uid",
  "involvedObject.apiVersion",
  "involvedObject.resourceVersion",
  "involvedObject.fieldPath",
  "reason",
  "reportingComponent",
  "source",
  "type",
];

/** The table (order = discovery order). */
const ENTRIES: Entry[] = [
  ["", "v1", "pods", "pod", "Pod", true, ["po"], ALL, POD_FIELDS],
  ["", "v1", "nodes", "node", "Node", false, ["no"], [], ["spec.unschedulable"]],
  ["", "v1", "namespaces", "namespace", "Namespace", false, ["ns"], [], ["status.phase"]],
  ["", "v1", "configmaps", "configmap", "ConfigMap", true, ["cm"], []],
  ["", "v1", "secrets", "secret", "Secret", true, [], [], ["type"]],
  ["", "v1", "services", "service", "Service", true, ["svc"], ALL],
  ["", "v1", "endpoints", "endpoints", "Endpoints", true, ["ep"], []],
  ["", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, ["sa"], []],
  ["", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", false, ["pv"], []],
  [
    "",
    "v1",
    "persistentvolumeclaims",
    "persistentvolumeclaim",
    "PersistentVolumeClaim",
    true,
    ["pvc"],
    [],
  ],
  ["", "v1", "events", "event", "Event", true, ["ev"], [], EVENT_FIELDS],
  [
    "",
    "v1",
    "replicationcontrollers",
    "replicationcontroller",
    "ReplicationController",
    true,
    ["rc"],
    ALL,
    ["status.replicas"],
  ],
  ["apps", "v1", "deployments", "deployment", "Deployment", true, ["deploy"], ALL],
  ["apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, ["rs"], ALL, [
    "status.replicas",
  ]],
  ["apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, ["ds"], ALL],
  ["apps", "v1", "statefulsets", "statefulset", "StatefulSet", true, ["sts"], ALL],
  ["batch", "v1", "jobs", "job", "Job", true, [], ALL, ["status.successful"]],
  ["batch", "v1", "cronjobs", "cronjob", "CronJob", true, ["cj"], ALL],
  [
    "storage.k8s.io",
    "v1",
    "volumeattachments",
    "volumeattachment",
    "VolumeAttachment",
    false,
    [],
    [],
  ],
  ["storage.k8s.io", "v1", "csidrivers", "csidriver", "CSIDriver", false, [], []],
  ["storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", false, ["sc"], []],
  ["networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", true, ["ing"], []],
  [
    "networking.k8s.io",
    "v1",
    "networkpolicies",
    "networkpolicy",
    "NetworkPolicy",
    true,
    ["netpol"],
    [],
  ],
  ["coordination.k8s.io", "v1", "leases", "lease", "Lease", true, [], []],
  ["discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", true, [], [], [
    "addressType",
  ]],
];

/** Every served resource, in discovery order. */
export const RESOURCES: readonly ResourceInfo[] = ENTRIES.map((
  [group, version, resource, singular, kind, namespaced, shortNames, categories, fields],
) => ({
  group,
  version,
  resource,
  singular,
  kind,
  namespaced,
  shortNames,
  verbs: READ_VERBS,
  categories,
  fields: fields ?? [],
}));

/** `apps/v1`, or `v1` for core. */
export function groupVersion(group: string, version: string): string {
  return group === "" ? version : `${group}/${version}`;
}

/**
 * The `groupversionresource` column value of stored objects of this resource: the plural
 * KubeEdge guesses from the kind, e.g. `/v1, Resource=endpoints`,
 * `apps/v1, Resource=deployments`.
 */
export function storedGvr(info: ResourceInfo): string {
  if (info.stored !== undefined) return info.stored;
  return gvrString(info.group, info.version, kindToResource(info.kind));
}

const BY_REQUEST = new Map<string, ResourceInfo>(
  RESOURCES.map((r) => [`${r.group}/${r.version}/${r.resource}`, r]),
);
const BY_STORED_GVR = new Map<string, ResourceInfo>(RESOURCES.map((r) => [storedGvr(r), r]));

/** The resource a request names (`""`, `v1`, `pods`), or undefined when not served. */
export function lookupResource(
  group: string,
  version: string,
  resource: string,
): ResourceInfo | undefined {
  return BY_REQUEST.get(`${group}/${version}/${resource}`);
}

/** The resource whose objects are stored under `gvr` (a `groupversionresource` value). */
export function resourceForStoredGvr(gvr: string): ResourceInfo | undefined {
  return BY_STORED_GVR.get(gvr);
}

/** A served group version and its resources. */
export interface GroupVersionResources {
  group: string;
  version: string;
  resources: ResourceInfo[];
}

/**
 * Served group versions in discovery order (core `v1` first), with `extra` resources (those
 * outside the table that the store holds objects of) after the table's.
 */
export function groupVersions(extra: readonly ResourceInfo[] = []): GroupVersionResources[] {
  const out: GroupVersionResources[] = [];
  for (const r of extra.length === 0 ? RESOURCES : [...RESOURCES, ...extra]) {
    let gv = out.find((g) => g.group === r.group && g.version === r.version);
    if (!gv) out.push(gv = { group: r.group, version: r.version, resources: [] });
    gv.resources.push(r);
  }
  return out;
}

/** The field labels a resource supports in field selectors. */
export function fieldLabels(info: ResourceInfo | undefined): readonly string[] {
  if (info === undefined) return COMMON_FIELDS;
  let labels = FIELD_LABELS.get(info);
  if (labels === undefined) {
    labels = Object.freeze([...COMMON_FIELDS, ...info.fields]);
    FIELD_LABELS.set(info, labels);
  }
  return labels;
}

/** Each resource's field labels, built once (the watch hub asks for every change). */
const FIELD_LABELS = new WeakMap<ResourceInfo, readonly string[]>();

/** `pods`, or `deployments.apps` (how Kubernetes messages name a resource). */
export function qualifiedResource(info: { group: string; resource: string }): string {
  return info.group === "" ? info.resource : `${info.resource}.${info.group}`;
}
