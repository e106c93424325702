/**
 * Unit tests of the MetaServer's server-side tables (src/metaserver/tables/): the cells
 * kube-apiserver v1.32's printers compute (pods, services, endpoints, nodes, config,
 * workloads, storage, networking, events), HumanDuration, label selector strings, the
 * Table document (columns, includeObject, resourceVersion, v1beta1, default table), watch
 * streams as tables, and the handler's Table negotiation.
 */

import assert from "node:assert/strict";
import { Store } from "../src/store/store.ts";
import { rowForObject } from "../src/store/meta_v2.ts";
import { parseJsonExact } from "../src/beehive/go_json.ts";
import { lookupResource, type ResourceInfo, RESOURCES } from "../src/metaserver/resources.ts";
import { createMetaServerHandler } from "../src/metaserver/handler.ts";
import { WatchHub } from "../src/metaserver/watch.ts";
import {
  formatLabels,
  formatLabelSelector,
  humanDuration,
  labelSelectorString,
  translateTimestampSince,
} from "../src/metaserver/tables/format.ts";
import { podStatus } from "../src/metaserver/tables/pods.ts";
import { printerFor } from "../src/metaserver/tables/printers.ts";
import {
  buildTable,
  KubeTableConverter,
  printerOf,
  type TableDocument,
  tableOptionsError,
} from "../src/metaserver/tables/table.ts";
import { tableWatchStream } from "../src/metaserver/tables/watch.ts";
import type { Obj } from "../src/metaserver/tables/columns.ts";

/** Decoded JSON in assertions. */
// deno-lint-ignore no-explicit-any
type Json = any;

const KUBECTL_ACCEPT =
  "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

const NOW = Date.parse("2024-06-01T12:00:00Z");
const SECOND = 1000, MINUTE = 60 * SECOND, HOUR = 60 * MINUTE, DAY = 24 * HOUR;

/** An RFC 3339 time `ms` before NOW. */
function ago(ms: number): string {
  return new Date(NOW - ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function resource(name: string, group = ""): ResourceInfo {
  const r = RESOURCES.find((x) => x.resource === name && x.group === group);
  assert.ok(r, `${group}/${name} is served`);
  return r;
}

/** The cells of `obj` printed as `resource` (wide columns included). */
function cells(name: string, obj: Obj, group = ""): unknown[] {
  const r = resource(name, group);
  const p = printerFor(r.group, r.kind);
  assert.ok(p, `${r.kind} has a printer`);
  return p.cells(obj, NOW);
}

/** Column names of a printer, wide ones marked with `*`. */
function columns(name: string, group = ""): string[] {
  return printerOf(resource(name, group)).columns.map((c) =>
    `${c.name}${c.priority === 1 ? "*" : ""}`
  );
}

// ------------------------------------------------------------------ HumanDuration

Deno.test("HumanDuration: every range of duration.HumanDuration", () => {
  const cases: [number, string][] = [
    [-2 * SECOND, "<invalid>"],
    [-1500, "0s"],
    [-999, "0s"],
    [0, "0s"],
    [59 * SECOND, "59s"],
    [119 * SECOND, "119s"],
    [2 * MINUTE, "2m"],
    [2 * MINUTE + SECOND, "2m1s"],
    [9 * MINUTE + 59 * SECOND, "9m59s"],
    [10 * MINUTE + 59 * SECOND, "10m"],
    [179 * MINUTE, "179m"],
    [3 * HOUR, "3h"],
    [3 * HOUR + 5 * MINUTE, "3h5m"],
    [7 * HOUR + 59 * MINUTE, "7h59m"],
    [8 * HOUR + 30 * MINUTE, "8h"],
    [47 * HOUR, "47h"],
    [2 * DAY, "2d"],
    [2 * DAY + HOUR, "2d1h"],
    [7 * DAY + 23 * HOUR, "7d23h"],
    [8 * DAY + 5 * HOUR, "8d"],
    [729 * DAY, "729d"],
    [730 * DAY, "2y"],
    [731 * DAY, "2y1d"],
    [8 * 365 * DAY - DAY, "7y364d"],
    [8 * 365 * DAY, "8y"],
    [20 * 365 * DAY + 100 * DAY, "20y"],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
  assert.equal(translateTimestampSince(ago(5 * MINUTE), NOW), "5m");
  assert.equal(translateTimestampSince("2024-06-01T11:59:30.123456Z", NOW), "29s");
  for (const zero of [undefined, null, "", "0001-01-01T00:00:00Z", "not a time", 42]) {
    assert.equal(translateTimestampSince(zero, NOW), "<unknown>");
  }
});

// ------------------------------------------------------------------ labels

Deno.test("labels: FormatLabels and FormatLabelSelector as kube prints them", () => {
  assert.equal(formatLabels({ b: "2", a: "1" }), "a=1,b=2");
  assert.equal(formatLabels({}), "<none>");
  assert.equal(formatLabels(undefined), "<none>");
  assert.equal(formatLabelSelector(undefined), "<none>", "nil selector: labels.Nothing()");
  assert.equal(formatLabelSelector({}), "<none>", "empty selector: labels.Everything()");
  assert.equal(
    formatLabelSelector({
      matchLabels: { tier: "edge", app: "web" },
      matchExpressions: [
        { key: "env", operator: "In", values: ["prod", "dev"] },
        { key: "zone", operator: "NotIn", values: ["b"] },
        { key: "canary", operator: "DoesNotExist" },
        { key: "gpu", operator: "Exists" },
      ],
    }),
    "app=web,!canary,env in (dev,prod),gpu,tier=edge,zone notin (b)",
  );
  assert.equal(
    formatLabelSelector({ matchExpressions: [{ key: "a", operator: "Gt" }] }),
    "<error>",
  );
  assert.equal(formatLabelSelector({ matchLabels: { "bad key!": "x" } }), "<error>");
  assert.equal(
    formatLabelSelector({ matchExpressions: [{ key: "a", operator: "In", values: [] }] }),
    "<error>",
  );
  assert.equal(labelSelectorString(null), "");
  assert.equal(labelSelectorString({ matchLabels: { app: "x" } }), "app=x");
});

// ------------------------------------------------------------------ pods

function pod(status: Obj = {}, spec: Obj = {}, metadata: Obj = {}): Obj {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", namespace: "default", creationTimestamp: ago(30 * MINUTE), ...metadata },
    spec: { containers: [{ name: "a", image: "busybox" }], ...spec },
    status,
  };
}

const running = (ready = true, restartCount = 0, extra: Obj = {}): Obj => ({
  name: "a",
  ready,
  restartCount,
  state: { running: { startedAt: ago(HOUR) } },
  ...extra,
});

Deno.test("pods: columns and wide columns of kube-apiserver's pod printer", () => {
  assert.deepEqual(columns("pods"), [
    "Name",
    "Ready",
    "Status",
    "Restarts",
    "Age",
    "IP*",
    "Node*",
    "Nominated Node*",
    "Readiness Gates*",
  ]);
  const c = printerOf(resource("pods")).columns;
  assert.deepEqual(c[0], {
    name: "Name",
    type: "string",
    format: "name",
    description: c[0].description,
    priority: 0,
  });
  assert.match(c[0].description, /^Name must be unique within a namespace\./);
  assert.equal(c[3].type, "string", "v1.32 RESTARTS is a string column");
  assert.match(c[4].description, /^CreationTimestamp is a timestamp/);
  assert.equal(c[5].description.startsWith("podIP address allocated to the pod."), true);
});

Deno.test("pods: READY, STATUS, RESTARTS from phase and container statuses", () => {
  const st = (status: Obj, spec: Obj = {}, metadata: Obj = {}) =>
    podStatus(pod(status, spec, metadata), NOW);
  assert.deepEqual(st({ phase: "Pending" }), { ready: "0/1", reason: "Pending", restarts: "0" });
  assert.deepEqual(
    st({ phase: "Running", containerStatuses: [running()] }),
    { ready: "1/1", reason: "Running", restarts: "0" },
  );
  assert.deepEqual(
    st({ phase: "Running", reason: "Evicted" }).reason,
    "Evicted",
    "status.reason wins over the phase",
  );
  // waiting reason of a container
  const crash = {
    phase: "Running",
    containerStatuses: [{
      name: "a",
      ready: false,
      restartCount: 5,
      state: { waiting: { reason: "CrashLoopBackOff", message: "back-off" } },
      lastState: { terminated: { exitCode: 1, reason: "Error", finishedAt: ago(20 * MINUTE) } },
    }],
  };
  assert.deepEqual(st(crash), {
    ready: "0/1",
    reason: "CrashLoopBackOff",
    restarts: "5 (20m ago)",
  });
  // terminated without reason: ExitCode / Signal
  const term = (t: Obj) => ({
    phase: "Running",
    containerStatuses: [{ name: "a", restartCount: 0, state: { terminated: t } }],
  });
  assert.equal(st(term({ exitCode: 137 })).reason, "ExitCode:137");
  assert.equal(st(term({ exitCode: 0, signal: 9 })).reason, "Signal:9");
  assert.equal(st(term({ exitCode: 0, reason: "Completed" })).reason, "Completed");
  // Completed with another container still running and ready
  const two = (conditions: Obj[]) => ({
    phase: "Running",
    conditions,
    containerStatuses: [
      running(true, 0, { name: "b" }),
      { name: "a", restartCount: 0, state: { terminated: { exitCode: 0, reason: "Completed" } } },
    ],
  });
  const twoSpec = { containers: [{ name: "b" }, { name: "a" }] };
  // statuses are walked from the last one: "a" (Completed) last... then "b" running
  assert.equal(st(two([{ type: "Ready", status: "True" }]), twoSpec).reason, "Running");
  assert.equal(st(two([{ type: "Ready", status: "False" }]), twoSpec).reason, "NotReady");
  assert.equal(st(two([]), twoSpec).ready, "1/2");
  // restarts sum over containers, the last termination is the latest
  assert.deepEqual(
    st(
      {
        phase: "Running",
        containerStatuses: [
          running(true, 2, {
            lastState: { terminated: { exitCode: 1, finishedAt: ago(3 * HOUR) } },
          }),
          running(true, 1, {
            name: "b",
            lastState: { terminated: { exitCode: 1, finishedAt: ago(45 * MINUTE) } },
          }),
        ],
      },
      { containers: [{ name: "a" }, { name: "b" }] },
    ),
    { ready: "2/2", reason: "Running", restarts: "3 (45m ago)" },
  );
  assert.equal(
    st({ phase: "Running", containerStatuses: [running(true, 4)] }).restarts,
    "4",
    "no last termination time: just the count",
  );
  // deletion
  const deleted = { deletionTimestamp: ago(MINUTE) };
  assert.equal(st({ phase: "Running" }, {}, deleted).reason, "Terminating");
  assert.equal(st({ phase: "Succeeded" }, {}, deleted).reason, "Succeeded");
  assert.equal(st({ phase: "Running", reason: "NodeLost" }, {}, deleted).reason, "Unknown");
  // scheduling gates
  assert.equal(
    st({
      phase: "Pending",
      conditions: [{ type: "PodScheduled", status: "False", reason: "SchedulingGated" }],
    }).reason,
    "SchedulingGated",
  );
});

Deno.test("pods: init containers (Init:i/n, Init:reason, exit codes) and sidecars", () => {
  const spec = {
    initContainers: [{ name: "init-a" }, { name: "init-b" }],
    containers: [{ name: "a" }],
  };
  const st = (initStatuses: Obj[], extra: Obj = {}) =>
    podStatus(pod({ phase: "Pending", initContainerStatuses: initStatuses, ...extra }, spec), NOW);
  const done = { name: "init-a", restartCount: 0, state: { terminated: { exitCode: 0 } } };
  assert.equal(
    st([done, { name: "init-b", state: { running: {} } }]).reason,
    "Init:1/2",
  );
  assert.equal(
    st([{ name: "init-a", state: { waiting: { reason: "PodInitializing" } } }]).reason,
    "Init:0/2",
  );
  assert.equal(
    st([{ name: "init-a", restartCount: 3, state: { waiting: { reason: "CrashLoopBackOff" } } }])
      .reason,
    "Init:CrashLoopBackOff",
  );
  assert.equal(
    st([{ name: "init-a", state: { terminated: { exitCode: 2, reason: "Error" } } }]).reason,
    "Init:Error",
  );
  assert.equal(
    st([{ name: "init-a", state: { terminated: { exitCode: 2 } } }]).reason,
    "Init:ExitCode:2",
  );
  assert.equal(
    st([{ name: "init-a", state: { terminated: { exitCode: 0, signal: 15 } } }]).reason,
    "Pending",
    "exit code 0 counts as done, whatever the signal",
  );
  assert.equal(
    st([{ name: "init-a", state: { terminated: { exitCode: 1, signal: 15 } } }]).reason,
    "Init:Signal:15",
  );
  // restarts while initializing count init containers
  const initRestarts = st([{
    name: "init-a",
    restartCount: 3,
    state: { waiting: { reason: "CrashLoopBackOff" } },
    lastState: { terminated: { exitCode: 1, finishedAt: ago(40 * MINUTE) } },
  }]);
  assert.equal(initRestarts.restarts, "3 (40m ago)");
  // ... unless the pod is Initialized: then containers are looked at
  const initialized = st(
    [{ name: "init-a", restartCount: 3, state: { waiting: { reason: "CrashLoopBackOff" } } }],
    {
      phase: "Running",
      conditions: [{ type: "Initialized", status: "True" }],
      containerStatuses: [running()],
    },
  );
  assert.deepEqual(
    initialized,
    { ready: "1/1", reason: "Init:CrashLoopBackOff", restarts: "0" },
    "kube keeps the init reason when no container overrides it, but counts container restarts",
  );

  // a restartable init container (sidecar) counts in READY and RESTARTS
  const sidecarSpec = {
    initContainers: [{ name: "proxy", restartPolicy: "Always" }],
    containers: [{ name: "a" }],
  };
  const sidecar = podStatus(
    pod({
      phase: "Running",
      conditions: [{ type: "Initialized", status: "True" }],
      initContainerStatuses: [{
        name: "proxy",
        ready: true,
        started: true,
        restartCount: 2,
        state: { running: {} },
        lastState: { terminated: { exitCode: 1, finishedAt: ago(90 * MINUTE) } },
      }],
      containerStatuses: [running()],
    }, sidecarSpec),
    NOW,
  );
  assert.deepEqual(sidecar, { ready: "2/2", reason: "Running", restarts: "2 (90m ago)" });
});

Deno.test("pods: wide cells (IP, node, nominated node, readiness gates) and row conditions", () => {
  const p = pod(
    {
      phase: "Running",
      podIP: "10.244.0.7",
      podIPs: [{ ip: "10.244.0.7" }, { ip: "fd00::7" }],
      conditions: [{ type: "example.com/gate", status: "True" }],
      containerStatuses: [running()],
    },
    {
      nodeName: "edge-1",
      readinessGates: [{ conditionType: "example.com/gate" }, { conditionType: "other" }],
    },
  );
  assert.deepEqual(cells("pods", p), [
    "p",
    "1/1",
    "Running",
    "0",
    "30m",
    "10.244.0.7",
    "edge-1",
    "<none>",
    "1/2",
  ]);
  assert.deepEqual(cells("pods", pod({ podIPs: [{ ip: "fd00::1" }] })).slice(5), [
    "fd00::1",
    "<none>",
    "<none>",
    "<none>",
  ]);
  const printer = printerOf(resource("pods"));
  assert.equal(printer.conditions?.(pod({ phase: "Running" })), undefined);
  assert.deepEqual(printer.conditions?.(pod({ phase: "Succeeded" })), [
    {
      type: "Completed",
      status: "True",
      reason: "Succeeded",
      message: "The pod has completed successfully.",
    },
  ]);
  assert.equal(printer.conditions?.(pod({ phase: "Failed" }))?.[0].reason, "Failed");
  // a pod without anything still prints
  assert.deepEqual(cells("pods", {}), [
    "",
    "0/0",
    "",
    "0",
    "<unknown>",
    "<none>",
    "<none>",
    "<none>",
    "<none>",
  ]);
});

// ------------------------------------------------------------------ services, endpoints

function svc(spec: Obj, status: Obj = {}): Obj {
  return {
    kind: "Service",
    metadata: { name: "s", creationTimestamp: ago(2 * DAY + 3 * HOUR) },
    spec,
    status,
  };
}

Deno.test("services: TYPE, CLUSTER-IP, EXTERNAL-IP, PORT(S), SELECTOR", () => {
  assert.deepEqual(columns("services"), [
    "Name",
    "Type",
    "Cluster-IP",
    "External-IP",
    "Port(s)",
    "Age",
    "Selector*",
  ]);
  assert.deepEqual(
    cells(
      "services",
      svc({
        type: "ClusterIP",
        clusterIP: "10.96.0.10",
        clusterIPs: ["10.96.0.10"],
        ports: [{ port: 53, protocol: "UDP" }, { port: 53, protocol: "TCP" }],
        selector: { "k8s-app": "kube-dns", app: "dns" },
      }),
    ),
    ["s", "ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP", "2d3h", "app=dns,k8s-app=kube-dns"],
  );
  assert.deepEqual(
    cells(
      "services",
      svc({
        type: "NodePort",
        clusterIPs: ["10.96.7.7", "fd00::7"],
        externalIPs: ["192.168.0.50"],
        ports: [{ port: 80, nodePort: 30080 }, { port: 443, nodePort: 30443, protocol: "TCP" }],
      }),
    ).slice(1, 5),
    ["NodePort", "10.96.7.7", "192.168.0.50", "80:30080/TCP,443:30443/TCP"],
  );
  const lb = (status: Obj, externalIPs?: string[]) =>
    cells(
      "services",
      svc({ type: "LoadBalancer", clusterIP: "10.96.1.1", externalIPs }, status),
    )[3];
  assert.equal(lb({}), "<pending>");
  assert.equal(
    lb({
      loadBalancer: {
        ingress: [{ ip: "203.0.113.9" }, { hostname: "lb.example.com" }, { ip: "203.0.113.1" }],
      },
    }),
    "203.0.113.1,203.0.113.9,lb.example.com",
    "sorted, never clipped: server-side tables are wide",
  );
  assert.equal(
    lb({ loadBalancer: { ingress: [{ ip: "203.0.113.9" }] } }, ["1.2.3.4"]),
    "203.0.113.9,1.2.3.4",
  );
  assert.deepEqual(
    cells("services", svc({ type: "ExternalName", externalName: "db.example.com" })).slice(1, 5),
    ["ExternalName", "<none>", "db.example.com", "<none>"],
  );
  assert.deepEqual(cells("services", svc({ clusterIP: "None" })).slice(1, 5), [
    "ClusterIP",
    "None",
    "<none>",
    "<none>",
  ]);
  assert.equal(cells("services", svc({ type: "Weird" }))[3], "<unknown>");
});

Deno.test("endpoints: up to three ip:port, then '+ N more...'; headless; IPv6", () => {
  assert.deepEqual(columns("endpoints"), ["Name", "Endpoints", "Age"]);
  const ep = (subsets: unknown) =>
    cells("endpoints", { metadata: { name: "e", creationTimestamp: ago(HOUR) }, subsets })[1];
  assert.equal(ep(undefined), "<none>");
  assert.equal(ep([]), "<none>");
  assert.equal(
    ep([{ addresses: [{ ip: "10.0.0.1" }, { ip: "10.0.0.2" }], ports: [{ port: 80 }] }]),
    "10.0.0.1:80,10.0.0.2:80",
  );
  assert.equal(
    ep([{
      addresses: [{ ip: "10.0.0.1" }, { ip: "10.0.0.2" }],
      ports: [{ name: "http", port: 80 }, { name: "https", port: 443 }],
    }]),
    "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
  );
  assert.equal(ep([{ addresses: [{ ip: "10.0.0.9" }] }]), "10.0.0.9", "headless, no ports");
  assert.equal(ep([{ addresses: [{ ip: "fd00::1" }], ports: [{ port: 8080 }] }]), "[fd00::1]:8080");
  assert.equal(ep([{ notReadyAddresses: [{ ip: "10.0.0.1" }], ports: [{ port: 80 }] }]), "");
});

// ------------------------------------------------------------------ nodes, namespaces, events

function node(extra: Obj = {}, status: Obj = {}, labels: Obj = {}): Obj {
  return {
    kind: "Node",
    metadata: { name: "edge-1", creationTimestamp: ago(9 * DAY), labels },
    spec: {},
    status,
    ...extra,
  };
}

Deno.test("nodes: STATUS, ROLES, VERSION and the wide node info", () => {
  assert.deepEqual(columns("nodes"), [
    "Name",
    "Status",
    "Roles",
    "Age",
    "Version",
    "Internal-IP*",
    "External-IP*",
    "OS-Image*",
    "Kernel-Version*",
    "Container-Runtime*",
  ]);
  const full = node({}, {
    conditions: [
      { type: "MemoryPressure", status: "False" },
      { type: "Ready", status: "True" },
    ],
    addresses: [
      { type: "Hostname", address: "edge-1" },
      { type: "InternalIP", address: "192.168.0.21" },
      { type: "ExternalIP", address: "203.0.113.21" },
      { type: "InternalIP", address: "192.168.0.22" },
    ],
    nodeInfo: {
      kubeletVersion: "v1.29.5-kubeedge-v1.17.0",
      osImage: "Ubuntu 22.04.4 LTS",
      kernelVersion: "5.15.0-107-generic",
      containerRuntimeVersion: "containerd://1.7.2",
    },
  }, {
    "node-role.kubernetes.io/edge": "",
    "node-role.kubernetes.io/agent": "",
    "kubernetes.io/role": "worker",
    "node-role.kubernetes.io/": "",
  });
  assert.deepEqual(cells("nodes", full), [
    "edge-1",
    "Ready",
    "agent,edge,worker",
    "9d",
    "v1.29.5-kubeedge-v1.17.0",
    "192.168.0.21",
    "203.0.113.21",
    "Ubuntu 22.04.4 LTS",
    "5.15.0-107-generic",
    "containerd://1.7.2",
  ]);
  assert.deepEqual(cells("nodes", node()).slice(1, 10), [
    "Unknown",
    "<none>",
    "9d",
    "",
    "<none>",
    "<none>",
    "<unknown>",
    "<unknown>",
    "<unknown>",
  ]);
  assert.equal(
    cells(
      "nodes",
      node({ spec: { unschedulable: true } }, {
        conditions: [{ type: "Ready", status: "Unknown" }],
      }),
    )[1],
    "NotReady,SchedulingDisabled",
  );
  assert.equal(
    cells("nodes", node({ spec: { unschedulable: true } }))[1],
    "Unknown,SchedulingDisabled",
  );
});

Deno.test("namespaces, configmaps, secrets, serviceaccounts", () => {
  const meta = { name: "x", creationTimestamp: ago(100 * SECOND) };
  assert.deepEqual(columns("namespaces"), ["Name", "Status", "Age"]);
  assert.deepEqual(cells("namespaces", { metadata: meta, status: { phase: "Terminating" } }), [
    "x",
    "Terminating",
    "100s",
  ]);
  assert.deepEqual(cells("namespaces", { metadata: meta })[1], "Active", "defaulted phase");
  assert.deepEqual(columns("configmaps"), ["Name", "Data", "Age"]);
  assert.deepEqual(
    cells("configmaps", { metadata: meta, data: { a: "1", b: "2" }, binaryData: { c: "AA==" } }),
    ["x", 3, "100s"],
  );
  assert.deepEqual(cells("configmaps", { metadata: meta }), ["x", 0, "100s"]);
  assert.deepEqual(columns("secrets"), ["Name", "Type", "Data", "Age"]);
  assert.deepEqual(
    cells("secrets", {
      metadata: meta,
      type: "kubernetes.io/tls",
      data: { "tls.crt": "", "tls.key": "" },
    }),
    ["x", "kubernetes.io/tls", 2, "100s"],
  );
  assert.deepEqual(cells("secrets", { metadata: meta }), ["x", "Opaque", 0, "100s"]);
  assert.deepEqual(columns("serviceaccounts"), ["Name", "Secrets", "Age"]);
  assert.deepEqual(cells("serviceaccounts", { metadata: meta, secrets: [{ name: "t" }] }), [
    "x",
    1,
    "100s",
  ]);
});

Deno.test("events: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE and the wide columns", () => {
  assert.deepEqual(columns("events"), [
    "Last Seen",
    "Type",
    "Reason",
    "Object",
    "Subobject*",
    "Source*",
    "Message",
    "First Seen*",
    "Count*",
    "Name*",
  ]);
  const event: Obj = {
    metadata: { name: "web.17d", namespace: "default", creationTimestamp: ago(HOUR) },
    involvedObject: {
      kind: "Pod",
      name: "web",
      namespace: "default",
      fieldPath: "spec.containers{a}",
    },
    reason: "BackOff",
    message: "  Back-off restarting failed container\n",
    source: { component: "kubelet", host: "edge-1" },
    firstTimestamp: ago(HOUR),
    lastTimestamp: ago(3 * MINUTE),
    count: 12,
    type: "Warning",
  };
  assert.deepEqual(cells("events", event), [
    "3m",
    "Warning",
    "BackOff",
    "pod/web",
    "spec.containers{a}",
    "kubelet, edge-1",
    "Back-off restarting failed container",
    "60m",
    12,
    "web.17d",
  ]);
  // events.k8s.io-style event: eventTime, series, reporting controller
  const newStyle: Obj = {
    metadata: { name: "n" },
    involvedObject: { kind: "Node" },
    eventTime: "2024-06-01T11:50:00.000000Z",
    series: { count: 4, lastObservedTime: "2024-06-01T11:58:00.000000Z" },
    reportingComponent: "edgecore",
    type: "Normal",
    reason: "Ready",
  };
  assert.deepEqual(cells("events", newStyle), [
    "2m",
    "Normal",
    "Ready",
    "node",
    "",
    "edgecore",
    "",
    "10m",
    4,
    "n",
  ]);
  assert.equal(
    cells("events", { ...newStyle, series: undefined })[8],
    1,
    "a singleton event counts 1",
  );
});

// ------------------------------------------------------------------ workloads

Deno.test("workloads: deployments, replicasets, daemonsets, statefulsets, rcs", () => {
  const meta = { name: "web", creationTimestamp: ago(5 * HOUR) };
  const template = {
    metadata: { labels: { app: "web" } },
    spec: {
      containers: [{ name: "web", image: "nginx:1.25" }, { name: "log", image: "fluent-bit:2" }],
      nodeSelector: { "kubernetes.io/os": "linux" },
    },
  };
  assert.deepEqual(columns("deployments", "apps"), [
    "Name",
    "Ready",
    "Up-to-date",
    "Available",
    "Age",
    "Containers*",
    "Images*",
    "Selector*",
  ]);
  assert.deepEqual(
    cells("deployments", {
      metadata: meta,
      spec: { replicas: 3, selector: { matchLabels: { app: "web" } }, template },
      status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
    }, "apps"),
    ["web", "2/3", 3, 2, "5h", "web,log", "nginx:1.25,fluent-bit:2", "app=web"],
  );
  assert.deepEqual(cells("deployments", { metadata: meta, spec: {} }, "apps").slice(1, 4), [
    "0/1",
    0,
    0,
  ]);
  assert.deepEqual(
    cells("replicasets", {
      metadata: meta,
      spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template },
      status: { replicas: 2, readyReplicas: 1 },
    }, "apps"),
    ["web", 2, 2, 1, "5h", "web,log", "nginx:1.25,fluent-bit:2", "app=web"],
  );
  assert.deepEqual(columns("daemonsets", "apps"), [
    "Name",
    "Desired",
    "Current",
    "Ready",
    "Up-to-date",
    "Available",
    "Node Selector",
    "Age",
    "Containers*",
    "Images*",
    "Selector*",
  ]);
  assert.deepEqual(
    cells("daemonsets", {
      metadata: meta,
      spec: { selector: { matchLabels: { app: "web" } }, template },
      status: {
        desiredNumberScheduled: 4,
        currentNumberScheduled: 4,
        numberReady: 3,
        updatedNumberScheduled: 4,
        numberAvailable: 3,
      },
    }, "apps"),
    [
      "web",
      4,
      4,
      3,
      4,
      3,
      "kubernetes.io/os=linux",
      "5h",
      "web,log",
      "nginx:1.25,fluent-bit:2",
      "app=web",
    ],
  );
  assert.deepEqual(
    cells("statefulsets", {
      metadata: meta,
      spec: { replicas: 3, template },
      status: { readyReplicas: 3 },
    }, "apps"),
    ["web", "3/3", "5h", "web,log", "nginx:1.25,fluent-bit:2"],
  );
  assert.deepEqual(
    cells("replicationcontrollers", {
      metadata: meta,
      spec: { selector: { app: "web" } },
      status: { replicas: 1 },
    }),
    ["web", 1, 1, 0, "5h", "", "", "app=web"],
  );
});

Deno.test("workloads: jobs (status, completions, duration) and cronjobs", () => {
  const meta = { name: "j", creationTimestamp: ago(2 * HOUR) };
  const job = (spec: Obj, status: Obj, metadata: Obj = meta) =>
    cells("jobs", { metadata, spec, status }, "batch");
  assert.deepEqual(columns("jobs", "batch"), [
    "Name",
    "Status",
    "Completions",
    "Duration",
    "Age",
    "Containers*",
    "Images*",
    "Selector*",
  ]);
  assert.deepEqual(
    job({ completions: 3, parallelism: 1 }, {
      succeeded: 3,
      startTime: ago(2 * HOUR),
      completionTime: ago(2 * HOUR - 95 * SECOND),
      conditions: [{ type: "Complete", status: "True" }],
    }),
    ["j", "Complete", "3/3", "95s", "120m", "", "", "<none>"],
  );
  assert.deepEqual(job({}, { startTime: ago(5 * MINUTE) }).slice(1, 4), [
    "Running",
    "0/1",
    "5m",
  ]);
  assert.deepEqual(job({ parallelism: 4 }, {}).slice(1, 4), ["Running", "0/1 of 4", ""]);
  assert.equal(job({}, { conditions: [{ type: "Failed", status: "True" }] })[1], "Failed");
  assert.equal(job({}, {}, { ...meta, deletionTimestamp: ago(0) })[1], "Terminating");
  assert.equal(job({}, { conditions: [{ type: "Suspended", status: "True" }] })[1], "Suspended");
  assert.equal(
    job({}, { conditions: [{ type: "FailureTarget", status: "True" }] })[1],
    "FailureTarget",
  );
  assert.deepEqual(columns("cronjobs", "batch"), [
    "Name",
    "Schedule",
    "Timezone",
    "Suspend",
    "Active",
    "Last Schedule",
    "Age",
    "Containers*",
    "Images*",
    "Selector*",
  ]);
  assert.deepEqual(
    cells("cronjobs", {
      metadata: meta,
      spec: {
        schedule: "*/5 * * * *",
        suspend: false,
        jobTemplate: { spec: { template: { spec: { containers: [{ name: "c", image: "i" }] } } } },
      },
      status: { active: [{ name: "j-1" }], lastScheduleTime: ago(4 * MINUTE) },
    }, "batch"),
    ["j", "*/5 * * * *", "<none>", "False", 1, "4m", "120m", "c", "i", "<none>"],
  );
  assert.deepEqual(
    cells("cronjobs", {
      metadata: meta,
      spec: { schedule: "@daily", timeZone: "Etc/UTC", suspend: true },
    }, "batch").slice(1, 6),
    ["@daily", "Etc/UTC", "True", 0, "<none>"],
  );
});

// ------------------------------------------------------------------ storage, networking, leases

Deno.test("storage: persistentvolumes, claims, storageclasses, csidrivers, volumeattachments", () => {
  const meta = (extra: Obj = {}) => ({ name: "v", creationTimestamp: ago(HOUR), ...extra });
  assert.deepEqual(
    cells("persistentvolumes", {
      metadata: meta(),
      spec: {
        capacity: { storage: "10Gi" },
        accessModes: ["ReadWriteMany", "ReadWriteOnce"],
        persistentVolumeReclaimPolicy: "Delete",
        claimRef: { namespace: "default", name: "data" },
        storageClassName: "local",
        volumeMode: "Block",
      },
      status: { phase: "Bound" },
    }),
    [
      "v",
      "10Gi",
      "RWO,RWX",
      "Delete",
      "Bound",
      "default/data",
      "local",
      "<unset>",
      "",
      "60m",
      "Block",
    ],
  );
  assert.deepEqual(
    cells("persistentvolumes", {
      metadata: meta({
        deletionTimestamp: ago(0),
        annotations: { "volume.beta.kubernetes.io/storage-class": "beta" },
      }),
      spec: { storageClassName: "ignored" },
    }).slice(1, 8),
    ["0", "", "Retain", "Terminating", "", "beta", "<unset>"],
  );
  assert.deepEqual(
    cells("persistentvolumeclaims", {
      metadata: meta(),
      spec: {
        volumeName: "pv-1",
        storageClassName: "local",
        resources: { requests: { storage: "1Gi" } },
      },
      status: { phase: "Bound", capacity: { storage: "2Gi" }, accessModes: ["ReadWriteOncePod"] },
    }),
    ["v", "Bound", "pv-1", "2Gi", "RWOP", "local", "<unset>", "60m", "Filesystem"],
  );
  assert.deepEqual(
    cells("persistentvolumeclaims", { metadata: meta(), spec: {} }).slice(1, 6),
    ["Pending", "", "", "", ""],
  );
  assert.deepEqual(
    cells("storageclasses", {
      metadata: meta({ annotations: { "storageclass.kubernetes.io/is-default-class": "true" } }),
      provisioner: "rancher.io/local-path",
      volumeBindingMode: "WaitForFirstConsumer",
    }, "storage.k8s.io"),
    ["v (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", false, "60m"],
  );
  assert.deepEqual(
    cells("csidrivers", { metadata: meta(), spec: {} }, "storage.k8s.io"),
    ["v", true, false, false, "<unset>", false, "Persistent", "60m"],
  );
  assert.deepEqual(
    cells("csidrivers", {
      metadata: meta(),
      spec: {
        attachRequired: false,
        podInfoOnMount: true,
        tokenRequests: [{ audience: "a" }, { audience: "b" }],
        volumeLifecycleModes: ["Persistent", "Ephemeral"],
      },
    }, "storage.k8s.io").slice(1, 7),
    [false, true, false, "a,b", false, "Persistent,Ephemeral"],
  );
  assert.deepEqual(
    cells("volumeattachments", {
      metadata: meta(),
      spec: {
        attacher: "csi.example.com",
        nodeName: "edge-1",
        source: { persistentVolumeName: "pv-1" },
      },
      status: { attached: true },
    }, "storage.k8s.io"),
    ["v", "csi.example.com", "pv-1", "edge-1", true, "60m"],
  );
});

Deno.test("networking and coordination: ingresses, networkpolicies, endpointslices, leases", () => {
  const meta = { name: "n", creationTimestamp: ago(HOUR) };
  assert.deepEqual(columns("ingresses", "networking.k8s.io"), [
    "Name",
    "Class",
    "Hosts",
    "Address",
    "Ports",
    "Age",
  ]);
  assert.deepEqual(
    cells("ingresses", {
      metadata: meta,
      spec: {
        ingressClassName: "nginx",
        rules: [{ host: "a.example" }, {}, { host: "b.example" }, { host: "c.example" }, {
          host: "d.example",
        }],
        tls: [{ hosts: ["a.example"] }],
      },
      status: { loadBalancer: { ingress: [{ ip: "203.0.113.7" }] } },
    }, "networking.k8s.io"),
    ["n", "nginx", "a.example,b.example,c.example + 2 more...", "203.0.113.7", "80, 443", "60m"],
  );
  assert.deepEqual(cells("ingresses", { metadata: meta, spec: {} }, "networking.k8s.io"), [
    "n",
    "<none>",
    "*",
    "",
    "80",
    "60m",
  ]);
  assert.deepEqual(
    cells("networkpolicies", { metadata: meta, spec: {} }, "networking.k8s.io"),
    ["n", "<none>", "60m"],
  );
  assert.deepEqual(
    cells("networkpolicies", {
      metadata: meta,
      spec: { podSelector: { matchLabels: { role: "db" } } },
    }, "networking.k8s.io")[1],
    "role=db",
  );
  assert.deepEqual(
    cells("endpointslices", {
      metadata: meta,
      addressType: "IPv4",
      ports: [{ port: 80 }, { name: "metrics" }, {}, { port: 9090 }],
      endpoints: [{ addresses: ["10.0.0.1", "10.0.0.2"] }, { addresses: ["10.0.0.3"] }],
    }, "discovery.k8s.io"),
    ["n", "IPv4", "80,metrics,* + 1 more...", "10.0.0.1,10.0.0.2,10.0.0.3", "60m"],
  );
  assert.deepEqual(
    cells("endpointslices", { metadata: meta, addressType: "IPv6" }, "discovery.k8s.io").slice(
      2,
      4,
    ),
    ["<unset>", "<unset>"],
  );
  assert.deepEqual(columns("leases", "coordination.k8s.io"), ["Name", "Holder", "Age"]);
  assert.deepEqual(
    cells("leases", { metadata: meta, spec: { holderIdentity: "edge-1" } }, "coordination.k8s.io"),
    ["n", "edge-1", "60m"],
  );
});

Deno.test("every served kind has kube-apiserver's printer, with one cell per column", () => {
  for (const r of RESOURCES) {
    const p = printerFor(r.group, r.kind);
    assert.ok(p, `${r.kind} has a printer`);
    assert.equal(p.columns.length, p.cells({}, NOW).length, `${r.kind}: cells of {}`);
    for (const c of p.columns) {
      assert.deepEqual(Object.keys(c), ["name", "type", "format", "description", "priority"]);
      assert.ok(c.description.length > 0, `${r.kind}.${c.name} has a description`);
      assert.ok(c.priority === 0 || c.priority === 1);
    }
    assert.equal(p.columns.filter((c) => c.format === "name").length >= 1, true);
  }
});

// ------------------------------------------------------------------ Table documents

Deno.test("table: list and single object, includeObject, v1beta1, int64 exactness", () => {
  const pods = resource("pods");
  const p = pod(
    { phase: "Running" },
    {},
    {
      uid: "u-1",
      resourceVersion: "42",
      labels: { app: "web" },
      annotations: {},
      generation: 0,
      deletionGracePeriodSeconds: 0,
    },
  );
  const list = buildTable([p], pods, { version: "v1", includeObject: "" }, {
    resourceVersion: "99",
  }, { now: NOW });
  assert.deepEqual(Object.keys(list), [
    "kind",
    "apiVersion",
    "metadata",
    "columnDefinitions",
    "rows",
  ]);
  assert.equal(list.kind, "Table");
  assert.equal(list.apiVersion, "meta.k8s.io/v1");
  assert.deepEqual(list.metadata, { resourceVersion: "99" });
  assert.equal(list.columnDefinitions?.length, 9);
  assert.deepEqual(list.rows, [{
    cells: ["p", "0/1", "Running", "0", "30m", "<none>", "<none>", "<none>", "<none>"],
    object: {
      kind: "PartialObjectMetadata",
      apiVersion: "meta.k8s.io/v1",
      metadata: {
        name: "p",
        namespace: "default",
        uid: "u-1",
        resourceVersion: "42",
        creationTimestamp: ago(30 * MINUTE),
        deletionGracePeriodSeconds: 0,
        labels: { app: "web" },
      },
    },
  }]);
  // single object: the object's resourceVersion; v1beta1
  const single = buildTable(
    [p],
    pods,
    { version: "v1beta1", includeObject: "Metadata" },
    undefined,
    {
      now: NOW,
    },
  );
  assert.equal(single.apiVersion, "meta.k8s.io/v1beta1");
  assert.deepEqual(single.metadata, { resourceVersion: "42" });
  assert.equal((single.rows![0].object as Json).apiVersion, "meta.k8s.io/v1beta1");
  // None and Object
  const none = buildTable([p], pods, { version: "v1", includeObject: "None" }, undefined, {
    now: NOW,
  });
  assert.equal(none.rows![0].object, null);
  assert.match(JSON.stringify(none), /"object":null/);
  const big = parseJsonExact(
    '{"kind":"Pod","metadata":{"name":"b","generation":9007199254740993},"spec":{"x":1234567890123456789}}',
  );
  const full = buildTable([big], pods, { version: "v1", includeObject: "Object" }, undefined, {
    now: NOW,
  });
  assert.match(JSON.stringify(full), /"spec":\{"x":1234567890123456789\}/);
  const meta = buildTable([big], pods, { version: "v1", includeObject: "" }, undefined, {
    now: NOW,
  });
  assert.match(JSON.stringify(meta), /"generation":9007199254740993,"creationTimestamp":null/);
  // completed pods carry row conditions, between cells and object
  const done = buildTable(
    [pod({ phase: "Succeeded" })],
    pods,
    {
      version: "v1",
      includeObject: "None",
    },
    undefined,
    { now: NOW },
  );
  assert.deepEqual(Object.keys(done.rows![0]), ["cells", "conditions", "object"]);
  // empty list, no headers
  const empty = buildTable([], pods, { version: "v1", includeObject: "" }, {
    resourceVersion: "",
  }, { now: NOW, noHeaders: true });
  assert.deepEqual(empty.metadata, {});
  assert.equal(empty.columnDefinitions, null);
  assert.deepEqual(empty.rows, []);
});

Deno.test("table: the default table (Name, Created At) for kinds without a printer", () => {
  const gadget = { group: "example.com", kind: "Gadget" };
  const t = buildTable(
    [{ metadata: { name: "g", creationTimestamp: "2024-05-01T10:11:12Z" } }, { metadata: {} }],
    gadget,
    { version: "v1", includeObject: "None" },
    { resourceVersion: "7" },
    { now: NOW },
  );
  assert.deepEqual(
    t.columnDefinitions?.map((c) => [c.name, c.type, c.format, c.priority]),
    [["Name", "string", "name", 0], ["Created At", "date", "", 0]],
  );
  assert.deepEqual(t.rows?.map((r) => r.cells), [
    ["g", "2024-05-01T10:11:12Z"],
    ["", "0001-01-01T00:00:00Z"],
  ]);
  const empty = buildTable([], gadget, { version: "v1", includeObject: "" }, {
    resourceVersion: "7",
  }, { now: NOW });
  assert.equal(empty.rows, null, "the default convertor appends to a nil slice");
});

Deno.test("table options: includeObject values", () => {
  for (const ok of ["", "Metadata", "None", "Object"]) {
    assert.equal(tableOptionsError(ok), undefined);
  }
  assert.equal(
    tableOptionsError("object"),
    `Unable to present response as a table: includeObject: Invalid value: "object": must be 'Metadata', 'Object', 'None', or empty`,
  );
});

// ------------------------------------------------------------------ watch streams

function streamOf(
  chunks: string[],
): { stream: ReadableStream<Uint8Array>; cancelled: () => boolean } {
  let cancelled = false;
  const enc = new TextEncoder();
  let i = 0;
  return {
    stream: new ReadableStream<Uint8Array>({
      pull(c) {
        if (i < chunks.length) c.enqueue(enc.encode(chunks[i++]));
        else c.close();
      },
      cancel() {
        cancelled = true;
      },
    }),
    cancelled: () => cancelled,
  };
}

async function readAll(s: ReadableStream<Uint8Array>): Promise<Json[]> {
  const text = await new Response(s).text();
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

Deno.test("watch as table: one row per event, columns only in the first, ERROR untouched", async () => {
  const pods = resource("pods");
  const conv = new KubeTableConverter(() => NOW);
  const ev = (type: string, name: string, phase: string) =>
    JSON.stringify({ type, object: pod({ phase }, {}, { name, resourceVersion: "5" }) }) + "\n";
  const status = '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","code":410}';
  const added = ev("ADDED", "a", "Pending");
  const { stream } = streamOf([
    added.slice(0, 17), // events split across chunks
    added.slice(17) + ev("MODIFIED", "a", "Running"),
    ev("DELETED", "a", "Running") +
    '{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"77"}}}\n',
    `{"type":"ERROR","object":${status}}\n`,
  ]);
  const events = await readAll(
    tableWatchStream(stream, conv, pods, { type: "table", version: "v1", includeObject: "" }),
  );
  assert.deepEqual(events.map((e) => e.type), [
    "ADDED",
    "MODIFIED",
    "DELETED",
    "BOOKMARK",
    "ERROR",
  ]);
  const [a, m, d, b, e] = events;
  assert.equal(a.object.kind, "Table");
  assert.equal(a.object.columnDefinitions.length, 9);
  assert.deepEqual(a.object.metadata, { resourceVersion: "5" });
  assert.deepEqual(a.object.rows.map((r: Json) => r.cells.slice(0, 3)), [["a", "0/1", "Pending"]]);
  assert.equal(m.object.columnDefinitions, null);
  assert.equal(m.object.rows[0].cells[2], "Running");
  assert.equal(d.object.rows[0].object.kind, "PartialObjectMetadata");
  assert.deepEqual(b.object, {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion: "77" },
    columnDefinitions: null,
    rows: [],
  });
  assert.deepEqual(e.object, JSON.parse(status));
});

Deno.test("watch as table: cancelling the table stream releases the source", async () => {
  const s = streamOf(Array(100).fill(JSON.stringify({ type: "ADDED", object: pod() }) + "\n"));
  const t = tableWatchStream(s.stream, new KubeTableConverter(() => NOW), resource("pods"), {
    type: "table",
    version: "v1",
    includeObject: "",
  });
  const reader = t.getReader();
  await reader.read();
  await reader.cancel();
  assert.ok(s.cancelled());
});

// ------------------------------------------------------------------ handler

class Harness {
  readonly store = Store.open(":memory:");
  readonly hub: WatchHub;
  readonly handler: (req: Request) => Response | Promise<Response>;

  constructor(objects: Obj[], tables?: null) {
    for (const o of objects) this.store.metaV2.insertOrReplace(rowForObject(o));
    this.hub = new WatchHub({ rows: this.store.metaV2.all() });
    this.handler = createMetaServerHandler({
      store: this.store.metaV2,
      hub: this.hub,
      ...(tables === null ? { tables } : {}),
    });
  }

  async get(path: string, accept = KUBECTL_ACCEPT): Promise<{ status: number; body: Json }> {
    const res = await this.handler(
      new Request(new URL(path, "http://127.0.0.1:10550"), { headers: { accept } }),
    );
    return { status: res.status, body: await res.json() };
  }

  close(): void {
    this.hub.close();
    this.store.close();
  }
}

const SEED: Obj[] = [
  {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "web-1",
      namespace: "default",
      resourceVersion: "11",
      creationTimestamp: "2024-01-01T00:00:00Z",
    },
    spec: { nodeName: "edge-1", containers: [{ name: "web" }] },
    status: {
      phase: "Running",
      containerStatuses: [{ name: "web", ready: true, restartCount: 0, state: { running: {} } }],
    },
  },
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "default", resourceVersion: "12" },
    spec: { replicas: 2 },
    status: { readyReplicas: 1, updatedReplicas: 2, availableReplicas: 1 },
  },
];

Deno.test("handler: kubectl's Accept gets Tables for list, get and watch", async () => {
  const h = new Harness(SEED);
  try {
    const list = await h.get("/api/v1/namespaces/default/pods");
    assert.equal(list.status, 200);
    const table = list.body as TableDocument;
    assert.equal(table.kind, "Table");
    assert.deepEqual(table.metadata, { resourceVersion: "12" }, "the list revision");
    assert.deepEqual(table.rows?.map((r) => r.cells.slice(0, 3)), [["web-1", "1/1", "Running"]]);
    const one = await h.get("/apis/apps/v1/namespaces/default/deployments/web");
    assert.deepEqual(one.body.metadata, { resourceVersion: "12" });
    assert.deepEqual(one.body.rows[0].cells.slice(0, 4), ["web", "1/2", 2, 1]);
    const beta = await h.get(
      "/api/v1/pods",
      "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
    );
    assert.equal(beta.body.apiVersion, "meta.k8s.io/v1beta1");
    const full = await h.get("/api/v1/pods?includeObject=Object");
    assert.deepEqual(full.body.rows[0].object, SEED[0]);
    const none = await h.get("/api/v1/pods?includeObject=None");
    assert.equal(none.body.rows[0].object, null);
    const bad = await h.get("/api/v1/pods?includeObject=all");
    assert.equal(bad.status, 400);
    assert.equal(bad.body.reason, "BadRequest");
    assert.match(bad.body.message, /^Unable to present response as a table: includeObject/);
    const plain = await h.get("/api/v1/pods", "application/json");
    assert.equal(plain.body.kind, "PodList");
    const missing = await h.get("/api/v1/namespaces/default/pods/nope");
    assert.equal(missing.status, 404, "errors stay Status objects");
    assert.equal(missing.body.kind, "Status");

    // watch from the listed revision: one Table per event
    const res = await h.handler(
      new Request(
        "http://127.0.0.1:10550/api/v1/namespaces/default/pods?watch=true&resourceVersion=12",
        {
          headers: { accept: KUBECTL_ACCEPT },
        },
      ),
    );
    assert.equal(res.status, 200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const pod2 = {
      ...SEED[0],
      metadata: { ...(SEED[0].metadata as Obj), name: "web-2", resourceVersion: "13" },
    };
    const row = rowForObject(pod2);
    h.store.metaV2.insertOrReplace(row);
    h.hub.publish([{ type: "ADDED", row }]);
    let text = "";
    while (!text.includes("\n")) text += (await reader.read()).value ?? "";
    const event = JSON.parse(text.split("\n")[0]);
    assert.equal(event.type, "ADDED");
    assert.equal(event.object.kind, "Table");
    assert.equal(event.object.columnDefinitions.length, 9);
    assert.deepEqual(event.object.rows[0].cells.slice(0, 3), ["web-2", "1/1", "Running"]);
    await reader.cancel();
    const badWatch = await h.get("/api/v1/pods?watch=true&includeObject=x");
    assert.equal(badWatch.status, 400);
  } finally {
    h.close();
  }
});

Deno.test("handler: tables: null turns Tables off (plain lists for kubectl)", async () => {
  const h = new Harness(SEED, null);
  try {
    const list = await h.get("/api/v1/pods");
    assert.equal(list.body.kind, "PodList");
    assert.equal(lookupResource("", "v1", "pods")?.kind, "Pod");
  } finally {
    h.close();
  }
});
