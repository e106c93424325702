/**
 * Workload printers of kube-apiserver v1.32 (printers.go): deployments, replicasets,
 * daemonsets, statefulsets, replicationcontrollers, jobs and cronjobs. Replica counts
 * missing from a stored object read as kube-apiserver's defaults (1 desired replica; a job
 * without completions and parallelism runs one pod to completion).
 *
 * @module
 */

import {
  AGE_COLUMN,
  type Cell,
  col,
  CONTAINERS_COLUMN,
  IMAGES_COLUMN,
  NAME_COLUMN,
  type Obj,
  type Printer,
  wide,
} from "./columns.ts";
import { DOC } from "./descriptions.ts";
import {
  age,
  arr,
  deleting,
  formatLabels,
  formatLabelSelector,
  humanDuration,
  int,
  labelSelectorString,
  layoutContainerCells,
  nameOf,
  obj,
  objs,
  optBool,
  optInt,
  optStr,
  parseTime,
  templateContainers,
  translateTimestampSince,
} from "./format.ts";

/** `spec.replicas`, defaulted to 1. */
function desiredReplicas(spec: Obj): number {
  return optInt(spec.replicas) ?? 1;
}

/** deployments.apps: READY is ready/desired. */
export const DEPLOYMENTS: Printer = {
  columns: [
    NAME_COLUMN,
    col("Ready", "string", "Number of the pod with ready state"),
    col("Up-to-date", "string", DOC["ExtDeploymentStatus.updatedReplicas"]),
    col("Available", "string", DOC["ExtDeploymentStatus.availableReplicas"]),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide("Selector", "string", DOC["ExtDeploymentSpec.selector"]),
  ],
  cells(d: Obj, now: number): Cell[] {
    const spec = obj(d.spec), status = obj(d.status);
    const [containers, images] = layoutContainerCells(templateContainers(spec));
    return [
      nameOf(d),
      `${int(status.readyReplicas)}/${desiredReplicas(spec)}`,
      int(status.updatedReplicas),
      int(status.availableReplicas),
      age(d, now),
      containers,
      images,
      labelSelectorString(spec.selector) ?? "<invalid>",
    ];
  },
};

/** replicasets.apps */
export const REPLICA_SETS: Printer = {
  columns: [
    NAME_COLUMN,
    col("Desired", "integer", DOC["ExtReplicaSetSpec.replicas"]),
    col("Current", "integer", DOC["ExtReplicaSetStatus.replicas"]),
    col("Ready", "integer", DOC["ExtReplicaSetStatus.readyReplicas"]),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide("Selector", "string", DOC["ExtReplicaSetSpec.selector"]),
  ],
  cells(rs: Obj, now: number): Cell[] {
    const spec = obj(rs.spec), status = obj(rs.status);
    const [containers, images] = layoutContainerCells(templateContainers(spec));
    return [
      nameOf(rs),
      desiredReplicas(spec),
      int(status.replicas),
      int(status.readyReplicas),
      age(rs, now),
      containers,
      images,
      formatLabelSelector(spec.selector),
    ];
  },
};

/** replicationcontrollers */
export const REPLICATION_CONTROLLERS: Printer = {
  columns: [
    NAME_COLUMN,
    col("Desired", "integer", DOC["RCSpec.replicas"]),
    col("Current", "integer", DOC["RCStatus.replicas"]),
    col("Ready", "integer", DOC["RCStatus.readyReplicas"]),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide("Selector", "string", DOC["RCSpec.selector"]),
  ],
  cells(rc: Obj, now: number): Cell[] {
    const spec = obj(rc.spec), status = obj(rc.status);
    const [containers, images] = layoutContainerCells(templateContainers(spec));
    return [
      nameOf(rc),
      desiredReplicas(spec),
      int(status.replicas),
      int(status.readyReplicas),
      age(rc, now),
      containers,
      images,
      formatLabels(spec.selector),
    ];
  },
};

/** daemonsets.apps */
export const DAEMON_SETS: Printer = {
  columns: [
    NAME_COLUMN,
    col("Desired", "integer", DOC["ExtDaemonSetStatus.desiredNumberScheduled"]),
    col("Current", "integer", DOC["ExtDaemonSetStatus.currentNumberScheduled"]),
    col("Ready", "integer", DOC["ExtDaemonSetStatus.numberReady"]),
    col("Up-to-date", "integer", DOC["ExtDaemonSetStatus.updatedNumberScheduled"]),
    col("Available", "integer", DOC["ExtDaemonSetStatus.numberAvailable"]),
    col("Node Selector", "string", DOC["PodSpec.nodeSelector"]),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide("Selector", "string", DOC["ExtDaemonSetSpec.selector"]),
  ],
  cells(ds: Obj, now: number): Cell[] {
    const spec = obj(ds.spec), status = obj(ds.status);
    const [containers, images] = layoutContainerCells(templateContainers(spec));
    return [
      nameOf(ds),
      int(status.desiredNumberScheduled),
      int(status.currentNumberScheduled),
      int(status.numberReady),
      int(status.updatedNumberScheduled),
      int(status.numberAvailable),
      formatLabels(obj(obj(spec.template).spec).nodeSelector),
      age(ds, now),
      containers,
      images,
      formatLabelSelector(spec.selector),
    ];
  },
};

/** statefulsets.apps: READY is ready/desired. */
export const STATEFUL_SETS: Printer = {
  columns: [
    NAME_COLUMN,
    col("Ready", "string", "Number of the pod with ready state"),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
  ],
  cells(sts: Obj, now: number): Cell[] {
    const spec = obj(sts.spec), status = obj(sts.status);
    const [containers, images] = layoutContainerCells(templateContainers(spec));
    return [
      nameOf(sts),
      `${int(status.readyReplicas)}/${desiredReplicas(spec)}`,
      age(sts, now),
      containers,
      images,
    ];
  },
};

/** hasJobCondition: the first condition of `type` has status True. */
function hasJobCondition(conditions: Obj[], type: string): boolean {
  const c = conditions.find((x) => x.type === type);
  return c !== undefined && c.status === "True";
}

/** The STATUS of a job: Complete, Failed, Terminating, Suspended, FailureTarget, Running. */
export function jobStatus(job: Obj): string {
  const conditions = objs(obj(job.status).conditions);
  if (hasJobCondition(conditions, "Complete")) return "Complete";
  if (hasJobCondition(conditions, "Failed")) return "Failed";
  if (deleting(job)) return "Terminating";
  if (hasJobCondition(conditions, "Suspended")) return "Suspended";
  if (hasJobCondition(conditions, "FailureTarget")) return "FailureTarget";
  return "Running";
}

/** The COMPLETIONS of a job: `succeeded/completions`, or `n/1 of parallelism`. */
export function jobCompletions(job: Obj): string {
  const spec = obj(job.spec);
  const succeeded = int(obj(job.status).succeeded);
  let completions = optInt(spec.completions);
  let parallelism = optInt(spec.parallelism);
  if (completions === undefined && parallelism === undefined) completions = parallelism = 1;
  if (completions !== undefined) return `${succeeded}/${completions}`;
  return (parallelism ?? 1) > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
}

/** The DURATION of a job: since start (running), start to completion, or "". */
export function jobDuration(job: Obj, now: number): string {
  const status = obj(job.status);
  const start = parseTime(status.startTime);
  if (start === undefined) return "";
  const completion = parseTime(status.completionTime);
  return humanDuration((completion ?? now) - start);
}

/** jobs.batch */
export const JOBS: Printer = {
  columns: [
    NAME_COLUMN,
    col("Status", "string", "Status of the job."),
    col("Completions", "string", DOC["JobStatus.succeeded"]),
    col("Duration", "string", "Time required to complete the job."),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide("Selector", "string", DOC["JobSpec.selector"]),
  ],
  cells(job: Obj, now: number): Cell[] {
    const spec = obj(job.spec);
    const [containers, images] = layoutContainerCells(templateContainers(spec));
    return [
      nameOf(job),
      jobStatus(job),
      jobCompletions(job),
      jobDuration(job, now),
      age(job, now),
      containers,
      images,
      formatLabelSelector(spec.selector),
    ];
  },
};

/** printBoolPtr: True, False, or `<unset>`. */
function printBoolPtr(v: unknown): string {
  const b = optBool(v);
  return b === undefined ? "<unset>" : b ? "True" : "False";
}

/** cronjobs.batch */
export const CRON_JOBS: Printer = {
  columns: [
    NAME_COLUMN,
    col("Schedule", "string", DOC["B1CronJobSpec.schedule"]),
    col("Timezone", "string", DOC["B1CronJobSpec.timeZone"]),
    col("Suspend", "boolean", DOC["B1CronJobSpec.suspend"]),
    col("Active", "integer", DOC["B1CronJobStatus.active"]),
    col("Last Schedule", "string", DOC["B1CronJobStatus.lastScheduleTime"]),
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
    wide("Selector", "string", DOC["JobSpec.selector"]),
  ],
  cells(cj: Obj, now: number): Cell[] {
    const spec = obj(cj.spec), status = obj(cj.status);
    const jobSpec = obj(obj(spec.jobTemplate).spec);
    const [containers, images] = layoutContainerCells(templateContainers(jobSpec));
    const last = status.lastScheduleTime;
    return [
      nameOf(cj),
      optStr(spec.schedule) ?? "",
      optStr(spec.timeZone) ?? "<none>",
      // suspend is defaulted to false by kube-apiserver
      printBoolPtr(spec.suspend ?? false),
      arr(status.active).length,
      last === undefined || last === null ? "<none>" : translateTimestampSince(last, now),
      age(cj, now),
      containers,
      images,
      formatLabelSelector(jobSpec.selector),
    ];
  },
};
