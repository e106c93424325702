/**
 * The printer of each served kind (kube-apiserver's `TableConvertor`s), and the default
 * table (`Name`, `Created At`) kube-apiserver uses for kinds without a printer.
 *
 * @module
 */

import {
  type Cell,
  col,
  type ColumnDefinition,
  NAME_COLUMN,
  type Obj,
  type Printer,
} from "./columns.ts";
import { DOC } from "./descriptions.ts";
import { age, nameOf, obj, rfc3339 } from "./format.ts";
import { CONFIG_MAPS, SECRETS, SERVICE_ACCOUNTS } from "./config.ts";
import { EVENTS, LEASES, NAMESPACES, NODES } from "./nodes.ts";
import { PODS } from "./pods.ts";
import { ENDPOINT_SLICES, ENDPOINTS, INGRESSES, NETWORK_POLICIES, SERVICES } from "./services.ts";
import {
  CSI_DRIVERS,
  PERSISTENT_VOLUME_CLAIMS,
  PERSISTENT_VOLUMES,
  STORAGE_CLASSES,
  VOLUME_ATTACHMENTS,
} from "./storage.ts";
import {
  CRON_JOBS,
  DAEMON_SETS,
  DEPLOYMENTS,
  JOBS,
  REPLICA_SETS,
  REPLICATION_CONTROLLERS,
  STATEFUL_SETS,
} from "./workloads.ts";

/** Printers by `<group>/<Kind>` ("" group for core). */
const PRINTERS = new Map<string, Printer>([
  ["/Pod", PODS],
  ["/Node", NODES],
  ["/Namespace", NAMESPACES],
  ["/ConfigMap", CONFIG_MAPS],
  ["/Secret", SECRETS],
  ["/Service", SERVICES],
  ["/Endpoints", ENDPOINTS],
  ["/ServiceAccount", SERVICE_ACCOUNTS],
  ["/PersistentVolume", PERSISTENT_VOLUMES],
  ["/PersistentVolumeClaim", PERSISTENT_VOLUME_CLAIMS],
  ["/Event", EVENTS],
  ["/ReplicationController", REPLICATION_CONTROLLERS],
  ["apps/Deployment", DEPLOYMENTS],
  ["apps/ReplicaSet", REPLICA_SETS],
  ["apps/DaemonSet", DAEMON_SETS],
  ["apps/StatefulSet", STATEFUL_SETS],
  ["batch/Job", JOBS],
  ["batch/CronJob", CRON_JOBS],
  ["storage.k8s.io/VolumeAttachment", VOLUME_ATTACHMENTS],
  ["storage.k8s.io/CSIDriver", CSI_DRIVERS],
  ["storage.k8s.io/StorageClass", STORAGE_CLASSES],
  ["networking.k8s.io/Ingress", INGRESSES],
  ["networking.k8s.io/NetworkPolicy", NETWORK_POLICIES],
  ["coordination.k8s.io/Lease", LEASES],
  ["discovery.k8s.io/EndpointSlice", ENDPOINT_SLICES],
]);

/**
 * The default table of kube-apiserver (rest.NewDefaultTableConvertor): `Name` and
 * `Created At` (a date cell in RFC 3339, which kubectl prints as given).
 */
export const DEFAULT_PRINTER: Printer = {
  columns: [
    col("Name", "string", DOC["ObjectMeta.name"], { format: "name" }),
    col("Created At", "date", DOC["ObjectMeta.creationTimestamp"]),
  ] satisfies ColumnDefinition[],
  cells(o: Obj): Cell[] {
    return [nameOf(o), rfc3339(obj(o.metadata).creationTimestamp)];
  },
};

/**
 * The table of a resource outside the explicit table (most often a custom resource): the
 * columns apiextensions-apiserver gives a custom resource without additionalPrinterColumns,
 * `Name` and `Age` (a date column whose cell is the age, e.g. `5m`).
 */
export const CUSTOM_RESOURCE_PRINTER: Printer = {
  columns: [
    NAME_COLUMN,
    col("Age", "date", DOC["ObjectMeta.creationTimestamp"]),
  ] satisfies ColumnDefinition[],
  cells(o: Obj, now: number): Cell[] {
    return [nameOf(o), age(o, now)];
  },
};

/** The printer of a kind, or undefined when kube-apiserver has none for it. */
export function printerFor(group: string, kind: string): Printer | undefined {
  return PRINTERS.get(`${group}/${kind}`);
}

/** Every kind with a printer, as `<group>/<Kind>`. */
export function printedKinds(): string[] {
  return [...PRINTERS.keys()];
}
