/**
 * Cluster printers of kube-apiserver v1.32 (printers.go): nodes, namespaces, events and
 * leases.
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
import {
  age,
  int,
  isObj,
  nameOf,
  obj,
  objs,
  optStr,
  parseTime,
  str,
  translateTimestampSince,
} from "./format.ts";

/** Label prefix of node roles: `node-role.kubernetes.io/<role>`. */
const LABEL_NODE_ROLE_PREFIX = "node-role.kubernetes.io/";
/** Legacy node role label: `kubernetes.io/role=<role>`. */
const NODE_LABEL_ROLE = "kubernetes.io/role";

/** findNodeRoles: the sorted, distinct roles from the node's labels. */
export function nodeRoles(node: Obj): string[] {
  const roles = new Set<string>();
  const labels = obj(obj(node.metadata).labels);
  for (const [k, v] of Object.entries(labels)) {
    if (k.startsWith(LABEL_NODE_ROLE_PREFIX)) {
      const role = k.slice(LABEL_NODE_ROLE_PREFIX.length);
      if (role.length > 0) roles.add(role);
    } else if (k === NODE_LABEL_ROLE && str(v) !== "") {
      roles.add(str(v));
    }
  }
  return [...roles].sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
}

/** The node STATUS: Ready / NotReady / Unknown, plus SchedulingDisabled. */
export function nodeStatus(node: Obj): string {
  const status = obj(node.status);
  const conditions = new Map<string, Obj>();
  for (const c of objs(status.conditions)) conditions.set(str(c.type), c);
  const out: string[] = [];
  const ready = conditions.get("Ready"); // NodeAllConditions = [Ready]
  if (ready !== undefined) out.push(ready.status === "True" ? "Ready" : "NotReady");
  if (out.length === 0) out.push("Unknown");
  if (obj(node.spec).unschedulable === true) out.push("SchedulingDisabled");
  return out.join(",");
}

/** The first address of `type` (InternalIP, ExternalIP), `<none>` when there is none. */
function nodeAddress(node: Obj, type: string): string {
  const a = objs(obj(node.status).addresses).find((x) => x.type === type);
  return a !== undefined ? str(a.address) : "<none>";
}

/** nodes */
export const NODES: Printer = {
  columns: [
    NAME_COLUMN,
    col("Status", "string", "The status of the node"),
    col("Roles", "string", "The roles of the node"),
    AGE_COLUMN,
    col("Version", "string", DOC["NodeSystemInfo.kubeletVersion"]),
    wide("Internal-IP", "string", DOC["NodeStatus.addresses"]),
    wide("External-IP", "string", DOC["NodeStatus.addresses"]),
    wide("OS-Image", "string", DOC["NodeSystemInfo.osImage"]),
    wide("Kernel-Version", "string", DOC["NodeSystemInfo.kernelVersion"]),
    wide("Container-Runtime", "string", DOC["NodeSystemInfo.containerRuntimeVersion"]),
  ],
  cells(node: Obj, now: number): Cell[] {
    const info = obj(obj(node.status).nodeInfo);
    return [
      nameOf(node),
      nodeStatus(node),
      nodeRoles(node).join(",") || "<none>",
      age(node, now),
      str(info.kubeletVersion),
      nodeAddress(node, "InternalIP"),
      nodeAddress(node, "ExternalIP"),
      str(info.osImage) || "<unknown>",
      str(info.kernelVersion) || "<unknown>",
      str(info.containerRuntimeVersion) || "<unknown>",
    ];
  },
};

/** namespaces: STATUS is the phase (defaulted to Active). */
export const NAMESPACES: Printer = {
  columns: [NAME_COLUMN, col("Status", "string", "The status of the namespace"), AGE_COLUMN],
  cells(ns: Obj, now: number): Cell[] {
    return [nameOf(ns), str(obj(ns.status).phase) || "Active", age(ns, now)];
  },
};

/** formatEventSource: component (or reportingComponent), then ", host" when known. */
function formatEventSource(event: Obj): string {
  const source = obj(event.source);
  const component = str(source.component) || str(event.reportingComponent);
  const instance = str(source.host) || str(event.reportingInstance);
  return instance === "" ? component : `${component}, ${instance}`;
}

/** events: LAST SEEN TYPE REASON OBJECT MESSAGE, wide SUBOBJECT SOURCE FIRST SEEN COUNT NAME. */
export const EVENTS: Printer = {
  columns: [
    col("Last Seen", "string", DOC["Event.lastTimestamp"]),
    col("Type", "string", DOC["Event.type"]),
    col("Reason", "string", DOC["Event.reason"]),
    col("Object", "string", DOC["Event.involvedObject"]),
    wide("Subobject", "string", DOC["ObjectReference.fieldPath"]),
    wide("Source", "string", DOC["Event.source"]),
    col("Message", "string", DOC["Event.message"]),
    wide("First Seen", "string", DOC["Event.firstTimestamp"]),
    wide("Count", "string", DOC["Event.count"]),
    col("Name", "string", DOC["ObjectMeta.name"], { priority: 1, format: "name" }),
  ],
  cells(event: Obj, now: number): Cell[] {
    const firstTimestamp = parseTime(event.firstTimestamp) === undefined
      ? translateTimestampSince(event.eventTime, now)
      : translateTimestampSince(event.firstTimestamp, now);
    let lastTimestamp = parseTime(event.lastTimestamp) === undefined
      ? firstTimestamp
      : translateTimestampSince(event.lastTimestamp, now);
    let count = int(event.count);
    if (isObj(event.series)) {
      lastTimestamp = translateTimestampSince(event.series.lastObservedTime, now);
      count = int(event.series.count);
    } else if (count === 0) {
      count = 1; // singleton events of the new API have no count
    }
    const involved = obj(event.involvedObject);
    const kind = str(involved.kind).toLowerCase();
    const target = str(involved.name) !== "" ? `${kind}/${str(involved.name)}` : kind;
    return [
      lastTimestamp,
      str(event.type),
      str(event.reason),
      target,
      str(involved.fieldPath),
      formatEventSource(event),
      str(event.message).trim(),
      firstTimestamp,
      count,
      nameOf(event),
    ];
  },
};

/** leases.coordination.k8s.io: HOLDER is `spec.holderIdentity`. */
export const LEASES: Printer = {
  columns: [
    NAME_COLUMN,
    col("Holder", "string", DOC["LeaseSpec.holderIdentity"]),
    AGE_COLUMN,
  ],
  cells(lease: Obj, now: number): Cell[] {
    return [nameOf(lease), optStr(obj(lease.spec).holderIdentity) ?? "", age(lease, now)];
  },
};
