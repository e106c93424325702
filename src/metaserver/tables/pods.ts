/**
 * The pod printer of kube-apiserver v1.32 (printers.go `printPod`): NAME READY STATUS
 * RESTARTS AGE, and wide IP NODE NOMINATED NODE READINESS GATES.
 *
 * STATUS starts from the phase (or `status.reason`), becomes `SchedulingGated`, then
 * `Init:<reason>` / `Init:ExitCode:N` / `Init:Signal:N` / `Init:i/n` while init containers
 * run, then the last container's waiting or terminated reason (`ExitCode:N`,
 * `Signal:N`); `Completed` with a running ready container reads `Running` (or `NotReady`);
 * a pod being deleted is `Terminating`, or `Unknown` when its node was lost. RESTARTS sums
 * restart counts, with `(AGE ago)` of the last container termination.
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
  type RowCondition,
  wide,
} from "./columns.ts";
import { DOC } from "./descriptions.ts";
import {
  age,
  deleting,
  humanDuration,
  int,
  isObj,
  nameOf,
  obj,
  objs,
  optBool,
  parseTime,
  str,
} from "./format.ts";

/** `status.reason` of pods whose node became unreachable (k8s.io/kubernetes/pkg/util/node). */
const NODE_UNREACHABLE_POD_REASON = "NodeLost";

const POD_SUCCESS_CONDITIONS: RowCondition[] = [{
  type: "Completed",
  status: "True",
  reason: "Succeeded",
  message: "The pod has completed successfully.",
}];
const POD_FAILED_CONDITIONS: RowCondition[] = [{
  type: "Completed",
  status: "True",
  reason: "Failed",
  message: "The pod failed.",
}];

/** podutil.IsRestartableInitContainer: an init container with restartPolicy Always. */
function isRestartableInitContainer(c: Obj | undefined): boolean {
  return c !== undefined && c.restartPolicy === "Always";
}

/** The first condition of `type` has status True (isPodInitializedConditionTrue). */
function firstConditionTrue(conditions: Obj[], type: string): boolean {
  const c = conditions.find((x) => x.type === type);
  return c !== undefined && c.status === "True";
}

/** Any condition of `type` has status True (hasPodReadyCondition). */
function anyConditionTrue(conditions: Obj[], type: string): boolean {
  return conditions.some((x) => x.type === type && x.status === "True");
}

/** `lastState.terminated.finishedAt` of a container status, if set. */
function lastTerminated(status: Obj): number | undefined {
  const t = obj(status.lastState).terminated;
  return isObj(t) ? parseTime(t.finishedAt) : undefined;
}

/** The later of two times (Go `last.Before(&t)`, with undefined as the zero time). */
function later(last: number | undefined, t: number | undefined): number | undefined {
  if (t === undefined) return last;
  return last === undefined || last < t ? t : last;
}

/** The READY, STATUS and RESTARTS cells of a pod. */
export function podStatus(
  pod: Obj,
  now: number,
): { ready: string; reason: string; restarts: string } {
  const spec = obj(pod.spec), status = obj(pod.status);
  const conditions = objs(status.conditions);
  let restarts = 0;
  let restartableInitContainerRestarts = 0;
  let totalContainers = objs(spec.containers).length;
  let readyContainers = 0;
  let lastRestartDate: number | undefined;
  let lastRestartableInitContainerRestartDate: number | undefined;

  const podPhase = str(status.phase);
  let reason = str(status.reason) !== "" ? str(status.reason) : podPhase;

  // A pod carrying {type: PodScheduled, reason: SchedulingGated} is SchedulingGated.
  for (const c of conditions) {
    if (c.type === "PodScheduled" && c.reason === "SchedulingGated") reason = "SchedulingGated";
  }

  const specInit = objs(spec.initContainers);
  const initContainers = new Map<string, Obj>();
  for (const c of specInit) {
    initContainers.set(str(c.name), c);
    if (isRestartableInitContainer(c)) totalContainers++;
  }

  let initializing = false;
  const initStatuses = objs(status.initContainerStatuses);
  for (let i = 0; i < initStatuses.length; i++) {
    const container = initStatuses[i];
    const state = obj(container.state);
    restarts += int(container.restartCount);
    lastRestartDate = later(lastRestartDate, lastTerminated(container));
    const initContainer = initContainers.get(str(container.name));
    if (isRestartableInitContainer(initContainer)) {
      restartableInitContainerRestarts += int(container.restartCount);
      lastRestartableInitContainerRestartDate = later(
        lastRestartableInitContainerRestartDate,
        lastTerminated(container),
      );
    }
    const terminated = isObj(state.terminated) ? state.terminated : undefined;
    const waiting = isObj(state.waiting) ? state.waiting : undefined;
    if (terminated && int(terminated.exitCode) === 0) continue;
    if (isRestartableInitContainer(initContainer) && optBool(container.started) === true) {
      if (container.ready === true) readyContainers++;
      continue;
    }
    if (terminated) {
      // initialization failed
      if (str(terminated.reason) === "") {
        reason = int(terminated.signal) !== 0
          ? `Init:Signal:${int(terminated.signal)}`
          : `Init:ExitCode:${int(terminated.exitCode)}`;
      } else {
        reason = `Init:${str(terminated.reason)}`;
      }
    } else if (waiting && str(waiting.reason) !== "" && waiting.reason !== "PodInitializing") {
      reason = `Init:${str(waiting.reason)}`;
    } else {
      reason = `Init:${i}/${specInit.length}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || firstConditionTrue(conditions, "Initialized")) {
    restarts = restartableInitContainerRestarts;
    lastRestartDate = lastRestartableInitContainerRestartDate;
    let hasRunning = false;
    const statuses = objs(status.containerStatuses);
    for (let i = statuses.length - 1; i >= 0; i--) {
      const container = statuses[i];
      const state = obj(container.state);
      restarts += int(container.restartCount);
      lastRestartDate = later(lastRestartDate, lastTerminated(container));
      const terminated = isObj(state.terminated) ? state.terminated : undefined;
      const waiting = isObj(state.waiting) ? state.waiting : undefined;
      if (waiting && str(waiting.reason) !== "") {
        reason = str(waiting.reason);
      } else if (terminated && str(terminated.reason) !== "") {
        reason = str(terminated.reason);
      } else if (terminated) {
        reason = int(terminated.signal) !== 0
          ? `Signal:${int(terminated.signal)}`
          : `ExitCode:${int(terminated.exitCode)}`;
      } else if (container.ready === true && isObj(state.running)) {
        hasRunning = true;
        readyContainers++;
      }
    }
    // back to "Running" if at least one container still reports as running
    if (reason === "Completed" && hasRunning) {
      reason = anyConditionTrue(conditions, "Ready") ? "Running" : "NotReady";
    }
  }

  if (deleting(pod) && status.reason === NODE_UNREACHABLE_POD_REASON) {
    reason = "Unknown";
  } else if (deleting(pod) && podPhase !== "Failed" && podPhase !== "Succeeded") {
    reason = "Terminating";
  }

  let restartsStr = String(restarts);
  if (restarts !== 0 && lastRestartDate !== undefined) {
    restartsStr = `${restarts} (${humanDuration(now - lastRestartDate)} ago)`;
  }
  return { ready: `${readyContainers}/${totalContainers}`, reason, restarts: restartsStr };
}

/** The pod IP as the internal type has it: `status.podIP`, else `status.podIPs[0].ip`. */
function podIP(status: Obj): string {
  const ip = str(status.podIP);
  if (ip !== "") return ip;
  const ips = objs(status.podIPs);
  return ips.length > 0 ? str(ips[0].ip) : "";
}

function readinessGates(spec: Obj, status: Obj): string {
  const gates = objs(spec.readinessGates);
  if (gates.length === 0) return "<none>";
  const conditions = objs(status.conditions);
  let trueConditions = 0;
  for (const gate of gates) {
    const c = conditions.find((x) => x.type === gate.conditionType);
    if (c !== undefined && c.status === "True") trueConditions++;
  }
  return `${trueConditions}/${gates.length}`;
}

/** pods */
export const PODS: Printer = {
  columns: [
    NAME_COLUMN,
    col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
    col("Status", "string", "The aggregate status of the containers in this pod."),
    col(
      "Restarts",
      "string",
      "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    AGE_COLUMN,
    wide("IP", "string", DOC["PodStatus.podIP"]),
    wide("Node", "string", DOC["PodSpec.nodeName"]),
    wide("Nominated Node", "string", DOC["PodStatus.nominatedNodeName"]),
    wide("Readiness Gates", "string", DOC["PodSpec.readinessGates"]),
  ],
  cells(pod: Obj, now: number): Cell[] {
    const spec = obj(pod.spec), status = obj(pod.status);
    const { ready, reason, restarts } = podStatus(pod, now);
    return [
      nameOf(pod),
      ready,
      reason,
      restarts,
      age(pod, now),
      podIP(status) || "<none>",
      str(spec.nodeName) || "<none>",
      str(status.nominatedNodeName) || "<none>",
      readinessGates(spec, status),
    ];
  },
  conditions(pod: Obj): RowCondition[] | undefined {
    const phase = obj(pod.status).phase;
    if (phase === "Succeeded") return POD_SUCCESS_CONDITIONS;
    if (phase === "Failed") return POD_FAILED_CONDITIONS;
    return undefined;
  },
};
