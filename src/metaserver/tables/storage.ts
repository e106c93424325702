/**
 * Storage printers of kube-apiserver v1.32 (printers.go): persistentvolumes,
 * persistentvolumeclaims, storageclasses, csidrivers and volumeattachments. Quantities are
 * printed as stored (kube-apiserver stores them in canonical form); fields missing from a
 * stored object read as kube-apiserver's defaults.
 *
 * @module
 */

import {
  AGE_COLUMN,
  type Cell,
  col,
  NAME_COLUMN,
  type Obj,
  type Printer,
  wide,
} from "./columns.ts";
import { DOC } from "./descriptions.ts";
import { age, arr, deleting, isObj, nameOf, obj, objs, optBool, optStr, str } from "./format.ts";

/** The legacy storage class annotation (it wins over `spec.storageClassName`). */
const BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class";

/** helper.GetAccessModesAsString: RWO, ROX, RWX, RWOP in this order, joined by ",". */
export function accessModes(modes: unknown): string {
  const set = new Set(arr(modes).map(str));
  const out: string[] = [];
  if (set.has("ReadWriteOnce")) out.push("RWO");
  if (set.has("ReadOnlyMany")) out.push("ROX");
  if (set.has("ReadWriteMany")) out.push("RWX");
  if (set.has("ReadWriteOncePod")) out.push("RWOP");
  return out.join(",");
}

/** The `storage` quantity of a resource list, "0" (the zero Quantity) when absent. */
function storage(resources: unknown): string {
  const q = obj(resources).storage;
  return typeof q === "string" && q !== "" ? q : typeof q === "number" ? String(q) : "0";
}

/** The class from the beta annotation (when present), else `spec.storageClassName`. */
function storageClass(o: Obj): string {
  const annotations = obj(obj(o.metadata).annotations);
  if (Object.hasOwn(annotations, BETA_STORAGE_CLASS_ANNOTATION)) {
    return str(annotations[BETA_STORAGE_CLASS_ANNOTATION]);
  }
  return str(obj(o.spec).storageClassName);
}

/** persistentvolumes */
export const PERSISTENT_VOLUMES: Printer = {
  columns: [
    NAME_COLUMN,
    col("Capacity", "string", DOC["PVSpec.capacity"]),
    col("Access Modes", "string", DOC["PVSpec.accessModes"]),
    col("Reclaim Policy", "string", DOC["PVSpec.persistentVolumeReclaimPolicy"]),
    col("Status", "string", DOC["PVStatus.phase"]),
    col("Claim", "string", DOC["PVSpec.claimRef"]),
    col("StorageClass", "string", "StorageClass of the pv"),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
    col("Reason", "string", DOC["PVStatus.reason"]),
    AGE_COLUMN,
    wide("VolumeMode", "string", DOC["PVSpec.volumeMode"]),
  ],
  cells(pv: Obj, now: number): Cell[] {
    const spec = obj(pv.spec), status = obj(pv.status);
    const claimRef = isObj(spec.claimRef)
      ? `${str(spec.claimRef.namespace)}/${str(spec.claimRef.name)}`
      : "";
    const phase = deleting(pv) ? "Terminating" : str(status.phase) || "Pending";
    return [
      nameOf(pv),
      storage(spec.capacity),
      accessModes(spec.accessModes),
      str(spec.persistentVolumeReclaimPolicy) || "Retain",
      phase,
      claimRef,
      storageClass(pv),
      optStr(spec.volumeAttributesClassName) ?? "<unset>",
      str(status.reason),
      age(pv, now),
      optStr(spec.volumeMode) ?? "Filesystem",
    ];
  },
};

/** persistentvolumeclaims: capacity and access modes once bound to a volume. */
export const PERSISTENT_VOLUME_CLAIMS: Printer = {
  columns: [
    NAME_COLUMN,
    col("Status", "string", DOC["PVCStatus.phase"]),
    col("Volume", "string", DOC["PVCSpec.volumeName"]),
    col("Capacity", "string", DOC["PVCStatus.capacity"]),
    col("Access Modes", "string", DOC["PVCStatus.accessModes"]),
    col("StorageClass", "string", "StorageClass of the pvc"),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    AGE_COLUMN,
    wide("VolumeMode", "string", DOC["PVCSpec.volumeMode"]),
  ],
  cells(pvc: Obj, now: number): Cell[] {
    const spec = obj(pvc.spec), status = obj(pvc.status);
    const phase = deleting(pvc) ? "Terminating" : str(status.phase) || "Pending";
    const volumeName = str(spec.volumeName);
    const bound = volumeName !== "";
    return [
      nameOf(pvc),
      phase,
      volumeName,
      bound ? storage(status.capacity) : "",
      bound ? accessModes(status.accessModes) : "",
      storageClass(pvc),
      optStr(spec.volumeAttributesClassName) ?? "<unset>",
      age(pvc, now),
      optStr(spec.volumeMode) ?? "Filesystem",
    ];
  },
};

/** The default-class annotations of storage classes. */
const DEFAULT_CLASS_ANNOTATIONS = [
  "storageclass.kubernetes.io/is-default-class",
  "storageclass.beta.kubernetes.io/is-default-class",
];

/** storageclasses.storage.k8s.io: NAME gets ` (default)` for the default class. */
export const STORAGE_CLASSES: Printer = {
  columns: [
    NAME_COLUMN,
    col("Provisioner", "string", DOC["StorageClass.provisioner"]),
    col("ReclaimPolicy", "string", DOC["StorageClass.reclaimPolicy"]),
    col("VolumeBindingMode", "string", DOC["StorageClass.volumeBindingMode"]),
    col("AllowVolumeExpansion", "string", DOC["StorageClass.allowVolumeExpansion"]),
    AGE_COLUMN,
  ],
  cells(sc: Obj, now: number): Cell[] {
    const annotations = obj(obj(sc.metadata).annotations);
    const isDefault = DEFAULT_CLASS_ANNOTATIONS.some((a) => annotations[a] === "true");
    return [
      isDefault ? `${nameOf(sc)} (default)` : nameOf(sc),
      str(sc.provisioner),
      optStr(sc.reclaimPolicy) ?? "Delete",
      optStr(sc.volumeBindingMode) ?? "Immediate",
      optBool(sc.allowVolumeExpansion) ?? false,
      age(sc, now),
    ];
  },
};

/** csidrivers.storage.k8s.io */
export const CSI_DRIVERS: Printer = {
  columns: [
    NAME_COLUMN,
    col("AttachRequired", "boolean", DOC["CSIDriverSpec.attachRequired"]),
    col("PodInfoOnMount", "boolean", DOC["CSIDriverSpec.podInfoOnMount"]),
    col("StorageCapacity", "boolean", DOC["CSIDriverSpec.storageCapacity"]),
    col("TokenRequests", "string", DOC["CSIDriverSpec.tokenRequests"]),
    col("RequiresRepublish", "boolean", DOC["CSIDriverSpec.requiresRepublish"]),
    col("Modes", "string", DOC["CSIDriverSpec.volumeLifecycleModes"]),
    AGE_COLUMN,
  ],
  cells(driver: Obj, now: number): Cell[] {
    const spec = obj(driver.spec);
    const tokenRequests = Array.isArray(spec.tokenRequests)
      ? objs(spec.tokenRequests).map((t) => str(t.audience)).join(",")
      : "<unset>";
    // volumeLifecycleModes is defaulted to [Persistent] by kube-apiserver
    const modes = arr(spec.volumeLifecycleModes).map(str);
    return [
      nameOf(driver),
      optBool(spec.attachRequired) ?? true,
      optBool(spec.podInfoOnMount) ?? false,
      optBool(spec.storageCapacity) ?? false,
      tokenRequests,
      optBool(spec.requiresRepublish) ?? false,
      modes.length > 0 ? modes.join(",") : "Persistent",
      age(driver, now),
    ];
  },
};

/** volumeattachments.storage.k8s.io */
export const VOLUME_ATTACHMENTS: Printer = {
  columns: [
    NAME_COLUMN,
    col("Attacher", "string", DOC["VolumeAttachmentSpec.attacher"], { format: "name" }),
    col("PV", "string", DOC["VolumeAttachmentSource.persistentVolumeName"]),
    col("Node", "string", DOC["VolumeAttachmentSpec.nodeName"]),
    col("Attached", "boolean", DOC["VolumeAttachmentStatus.attached"]),
    AGE_COLUMN,
  ],
  cells(va: Obj, now: number): Cell[] {
    const spec = obj(va.spec);
    return [
      nameOf(va),
      str(spec.attacher),
      optStr(obj(spec.source).persistentVolumeName) ?? "",
      str(spec.nodeName),
      obj(va.status).attached === true,
      age(va, now),
    ];
  },
};
