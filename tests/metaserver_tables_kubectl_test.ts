/**
 * End to end: the real `kubectl` against the MetaServer of a real `serve` process, asserting
 * on the columns kubectl prints now that the MetaServer answers `as=Table` requests with
 * kube-apiserver's printers. The store is filled by a WebSocket client acting as the cloud
 * with fixtures/journals/crud.ndjson, rand-1.ndjson and objects of our own (pods in every
 * state, a NodePort and a LoadBalancer service, a node with conditions, addresses and node
 * info, a deployment, a lease, an event). Skipped when `kubectl` is not on PATH.
 */

import assert from "node:assert/strict";
import {
  cloudMessages,
  feed,
  type JournalMessage,
  KUBECTL,
  Kubectl,
  WAIT_MS,
} from "./support/kubectl.ts";
import { ServeProcess } from "./support/serve_process.ts";
import { WsModule } from "./support/ws_module.ts";
import { humanDuration } from "../src/metaserver/tables/format.ts";

const NS = "tables-demo";

// ------------------------------------------------------------------ messages

let sequence = 0;

/** A cloud message carrying `obj` (its resourceVersion is set to a fresh number). */
function message(operation: string, obj: Record<string, unknown>): JournalMessage {
  const n = ++sequence;
  const meta = obj.metadata as Record<string, unknown>;
  meta.resourceVersion = String(30000 + n);
  const kind = String(obj.kind).toLowerCase();
  const id = `tables-${n}`;
  const msg = {
    header: { msg_id: id, timestamp: 1700000000000 + n },
    route: {
      source: "edgecontroller",
      group: "resource",
      operation,
      resource: `${meta.namespace ?? "default"}/${kind}/${meta.name}`,
    },
    content: obj,
  };
  return { line: JSON.stringify(msg), id, operation, content: obj };
}

/** An RFC 3339 time `minutes` before now. */
function minutesAgo(minutes: number): string {
  return new Date(Date.now() - minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

// ------------------------------------------------------------------ our objects

const WEB_UID = "6f1b3c1e-0000-4000-8000-00000000000a";

function pod(
  name: string,
  status: Record<string, unknown>,
  spec: Record<string, unknown> = {},
  metadata: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: NS,
      uid: `uid-${name}`,
      creationTimestamp: minutesAgo(30),
      labels: { app: name.replace(/-\d+$/, "") },
      ...metadata,
    },
    spec: {
      nodeName: "edge-node-2",
      containers: [{ name: "main", image: "nginx:1.25" }],
      ...spec,
    },
    status,
  };
}

function running(name: string, restartCount = 0, lastMinutesAgo?: number) {
  return {
    name,
    ready: true,
    restartCount,
    started: true,
    state: { running: { startedAt: minutesAgo(15) } },
    ...(lastMinutesAgo === undefined ? {} : {
      lastState: {
        terminated: { exitCode: 137, reason: "OOMKilled", finishedAt: minutesAgo(lastMinutesAgo) },
      },
    }),
  };
}

function crashPod(restartCount: number): Record<string, unknown> {
  return pod("crash-0", {
    phase: "Running",
    podIP: "10.244.1.6",
    containerStatuses: [{
      name: "main",
      ready: false,
      restartCount,
      state: { waiting: { reason: "CrashLoopBackOff", message: "back-off 5m0s" } },
      lastState: { terminated: { exitCode: 1, reason: "Error", finishedAt: minutesAgo(20) } },
    }],
  });
}

function objects(): Record<string, unknown>[] {
  return [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: NS, creationTimestamp: minutesAgo(30) },
      status: { phase: "Active" },
    },
    pod("web-0", {
      phase: "Running",
      podIP: "10.244.1.5",
      podIPs: [{ ip: "10.244.1.5" }],
      conditions: [{ type: "Ready", status: "True" }, { type: "example.com/lb", status: "True" }],
      containerStatuses: [running("main", 3, 20), running("sidecar")],
    }, {
      containers: [{ name: "main", image: "nginx:1.25" }, { name: "sidecar", image: "envoy:1.30" }],
      readinessGates: [{ conditionType: "example.com/lb" }],
    }, { uid: WEB_UID }),
    crashPod(5),
    pod("init-0", {
      phase: "Pending",
      initContainerStatuses: [{
        name: "migrate",
        ready: false,
        restartCount: 0,
        state: { running: { startedAt: minutesAgo(1) } },
      }],
      containerStatuses: [{
        name: "main",
        ready: false,
        restartCount: 0,
        state: { waiting: { reason: "PodInitializing" } },
      }],
    }, { initContainers: [{ name: "migrate", image: "migrate:1" }] }),
    pod("done-0", {
      phase: "Succeeded",
      containerStatuses: [{
        name: "main",
        ready: false,
        restartCount: 0,
        state: { terminated: { exitCode: 0, reason: "Completed", finishedAt: minutesAgo(2) } },
      }],
    }),
    pod("bye-0", { phase: "Running", containerStatuses: [running("main")] }, {}, {
      deletionTimestamp: minutesAgo(0),
      deletionGracePeriodSeconds: 30,
    }),
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: NS, creationTimestamp: minutesAgo(30) },
      spec: {
        type: "NodePort",
        clusterIP: "10.96.50.1",
        clusterIPs: ["10.96.50.1"],
        selector: { app: "web" },
        ports: [
          { name: "http", protocol: "TCP", port: 80, targetPort: 8080, nodePort: 30080 },
          { name: "dns", protocol: "UDP", port: 53, targetPort: 53, nodePort: 30053 },
        ],
      },
      status: { loadBalancer: {} },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "lb", namespace: NS, creationTimestamp: minutesAgo(30) },
      spec: {
        type: "LoadBalancer",
        clusterIP: "10.96.50.2",
        clusterIPs: ["10.96.50.2"],
        selector: { app: "web", tier: "edge" },
        ports: [{ protocol: "TCP", port: 443, targetPort: 8443, nodePort: 31443 }],
      },
      status: { loadBalancer: { ingress: [{ ip: "203.0.113.10" }] } },
    },
    {
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: { name: "web", namespace: NS, creationTimestamp: minutesAgo(30) },
      subsets: [{
        addresses: [{ ip: "10.244.1.5" }, { ip: "10.244.1.7" }],
        ports: [{ name: "http", port: 8080, protocol: "TCP" }, { name: "dns", port: 53 }],
      }],
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "cfg", namespace: NS, creationTimestamp: minutesAgo(30) },
      data: { "a.conf": "x", "b.conf": "y" },
      binaryData: { "c.bin": "AAE=" },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "tls", namespace: NS, creationTimestamp: minutesAgo(30) },
      type: "kubernetes.io/tls",
      data: { "tls.crt": "Y3J0", "tls.key": "a2V5" },
    },
    {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: "edge-node-2",
        creationTimestamp: minutesAgo(30),
        labels: {
          "node-role.kubernetes.io/edge": "",
          "node-role.kubernetes.io/agent": "",
          "kubernetes.io/hostname": "edge-node-2",
        },
      },
      spec: { unschedulable: true },
      status: {
        conditions: [
          { type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory" },
          { type: "Ready", status: "True", reason: "EdgeReady" },
        ],
        addresses: [
          { type: "Hostname", address: "edge-node-2" },
          { type: "InternalIP", address: "192.168.0.22" },
          { type: "ExternalIP", address: "203.0.113.22" },
        ],
        nodeInfo: {
          kubeletVersion: "v1.29.5-kubeedge-v1.17.0",
          osImage: "Ubuntu 22.04.4 LTS",
          kernelVersion: "5.15.0-107-generic",
          containerRuntimeVersion: "containerd://1.7.2",
          operatingSystem: "linux",
          architecture: "arm64",
        },
      },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: NS, creationTimestamp: minutesAgo(30) },
      spec: {
        replicas: 3,
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: { containers: [{ name: "main", image: "nginx:1.25" }] },
        },
      },
      status: { replicas: 3, readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
    },
    {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: "edge-node-2",
        namespace: "kube-node-lease",
        creationTimestamp: minutesAgo(30),
      },
      spec: { holderIdentity: "edge-node-2", leaseDurationSeconds: 40 },
    },
    {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: "web-0.17d2a", namespace: NS, creationTimestamp: minutesAgo(25) },
      involvedObject: {
        apiVersion: "v1",
        kind: "Pod",
        name: "web-0",
        namespace: NS,
        uid: WEB_UID,
        fieldPath: "spec.containers{main}",
      },
      reason: "BackOff",
      message: "Back-off restarting failed container main",
      source: { component: "kubelet", host: "edge-node-2" },
      firstTimestamp: minutesAgo(25),
      lastTimestamp: minutesAgo(20),
      count: 3,
      type: "Warning",
    },
  ];
}

// ------------------------------------------------------------------ kubectl

/** kubectl's table output: a header and rows, cells split on runs of 2+ spaces. */
interface Printed {
  header: string[];
  rows: string[][];
}

function parseTable(stdout: string): Printed {
  const lines = stdout.split("\n").filter((l) => l.trim() !== "");
  const split = (l: string) => l.trim().split(/\s{2,}/);
  return { header: split(lines[0]), rows: lines.slice(1).map(split) };
}

function row(t: Printed, ...firstCells: string[]): string[] {
  const r = t.rows.find((x) => firstCells.every((c, i) => x[i] === c));
  assert.ok(
    r,
    `a row starting ${firstCells.join(" ")} in\n${t.rows.map((x) => x.join(" | ")).join("\n")}`,
  );
  return r;
}

/** The AGE kubectl may print for `created` during [before, after]. */
function ages(created: string, before: number, after: number): string[] {
  const t = Date.parse(created);
  return [...new Set([humanDuration(before - t), humanDuration(after - t)])];
}

/** Runs `kubectl ...args` and returns the parsed table and the time window of the call. */
async function table(
  kubectl: Kubectl,
  ...args: string[]
): Promise<Printed & { before: number; after: number }> {
  const before = Date.now();
  const out = await kubectl.ok(...args);
  return { ...parseTable(out), before, after: Date.now() };
}

// ------------------------------------------------------------------ the test

Deno.test({
  name: "kubectl prints kube-apiserver's columns from the MetaServer's Tables",
  ignore: KUBECTL === undefined,
  sanitizeResources: false, // child processes' pipes are awaited explicitly
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "metaserver-tables-" });
    await Deno.mkdir(`${dir}/home`);
    const serve = await ServeProcess.start({ db: `${dir}/e.db`, args: ["--log-level", "debug"] });
    let hub: WsModule | undefined;
    try {
      hub = await WsModule.connect(serve.address, "websocket", "hub", WAIT_MS);
      const kubectl = new Kubectl(serve.baseUrl, `${dir}/home`);
      await feed(hub, [...cloudMessages("crud.ndjson"), ...cloudMessages("rand-1.ndjson")]);
      const ours = objects();
      await feed(hub, ours.map((o) => message("insert", o)));
      const created = minutesAgo(30);

      await t.step("get pods: READY STATUS RESTARTS AGE computed like kube-apiserver", async () => {
        const p = await table(kubectl, "get", "pods", "-n", NS);
        assert.deepEqual(p.header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
        const age = ages(created, p.before, p.after);
        const restarts = (n: number) =>
          ages(minutesAgo(20), p.before, p.after).map((a) => `${n} (${a} ago)`);
        const web = row(p, "web-0");
        assert.deepEqual(web.slice(1, 3), ["2/2", "Running"]);
        assert.ok(restarts(3).includes(web[3]), web[3]);
        assert.ok(age.includes(web[4]), `${web[4]} in ${age}`);
        const crash = row(p, "crash-0");
        assert.deepEqual(crash.slice(1, 3), ["0/1", "CrashLoopBackOff"]);
        assert.ok(restarts(5).includes(crash[3]), crash[3]);
        assert.deepEqual(row(p, "init-0").slice(1, 4), ["0/1", "Init:0/1", "0"]);
        assert.deepEqual(row(p, "done-0").slice(1, 4), ["0/1", "Completed", "0"]);
        assert.deepEqual(row(p, "bye-0").slice(1, 4), ["1/1", "Terminating", "0"]);
        assert.equal(p.rows.length, 5);
      });

      await t.step("get pods -o wide adds IP NODE NOMINATED NODE READINESS GATES", async () => {
        const p = await table(kubectl, "get", "pods", "-n", NS, "-o", "wide");
        assert.deepEqual(p.header, [
          "NAME",
          "READY",
          "STATUS",
          "RESTARTS",
          "AGE",
          "IP",
          "NODE",
          "NOMINATED NODE",
          "READINESS GATES",
        ]);
        assert.deepEqual(row(p, "web-0").slice(5), ["10.244.1.5", "edge-node-2", "<none>", "1/1"]);
        assert.deepEqual(row(p, "init-0").slice(5), ["<none>", "edge-node-2", "<none>", "<none>"]);
      });

      await t.step(
        "get pods -A on the journal pods (NAMESPACE column from row metadata)",
        async () => {
          const p = await table(kubectl, "get", "pods", "-A");
          assert.deepEqual(p.header, ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
          const redis = row(p, "kube-system", "redis-6d07ef7b7-4k7sm");
          assert.deepEqual(redis.slice(2, 5), ["0/1", "Pending", "0"]);
          assert.match(redis[5], /^\d+y\d*d?$/, "a pod created in 2022");
          assert.deepEqual(row(p, "edge-apps", "api-d0e873a00-b2wbq").slice(2, 4), [
            "0/1",
            "Running",
          ]);
          assert.ok(p.rows.some((r) => r[0] === NS && r[1] === "web-0"));
        },
      );

      await t.step("get services: TYPE CLUSTER-IP EXTERNAL-IP PORT(S), wide SELECTOR", async () => {
        const s = await table(kubectl, "get", "svc", "-n", NS, "-o", "wide");
        assert.deepEqual(s.header, [
          "NAME",
          "TYPE",
          "CLUSTER-IP",
          "EXTERNAL-IP",
          "PORT(S)",
          "AGE",
          "SELECTOR",
        ]);
        const age = ages(created, s.before, s.after);
        const web = row(s, "web");
        assert.deepEqual(web.slice(0, 5), [
          "web",
          "NodePort",
          "10.96.50.1",
          "<none>",
          "80:30080/TCP,53:30053/UDP",
        ]);
        assert.ok(age.includes(web[5]));
        assert.equal(web[6], "app=web");
        assert.deepEqual(row(s, "lb").slice(1, 5), [
          "LoadBalancer",
          "10.96.50.2",
          "203.0.113.10",
          "443:31443/TCP",
        ]);
        assert.equal(row(s, "lb")[6], "app=web,tier=edge");
        const journalSvc = await table(kubectl, "get", "services", "-n", "kube-system");
        assert.deepEqual(row(journalSvc, "mqtt").slice(0, 5), [
          "mqtt",
          "ClusterIP",
          "10.96.31.41",
          "<none>",
          "80/TCP",
        ]);
      });

      await t.step("get endpoints, configmaps, secrets", async () => {
        const ep = await table(kubectl, "get", "endpoints", "-n", NS);
        assert.deepEqual(ep.header, ["NAME", "ENDPOINTS", "AGE"]);
        assert.equal(
          row(ep, "web")[1],
          "10.244.1.5:8080,10.244.1.7:8080,10.244.1.5:53 + 1 more...",
        );
        const journalEp = await table(kubectl, "get", "ep", "-n", "kube-system");
        assert.equal(row(journalEp, "mqtt")[1], "172.17.0.28:8080");
        const cm = await table(kubectl, "get", "configmaps", "-n", NS);
        assert.deepEqual(cm.header, ["NAME", "DATA", "AGE"]);
        assert.equal(row(cm, "cfg")[1], "3");
        const journalCm = await table(kubectl, "get", "cm", "-n", "default");
        assert.equal(row(journalCm, "app-config")[1], "4");
        const secrets = await table(kubectl, "get", "secrets", "-n", NS);
        assert.deepEqual(secrets.header, ["NAME", "TYPE", "DATA", "AGE"]);
        assert.deepEqual(row(secrets, "tls").slice(1, 3), ["kubernetes.io/tls", "2"]);
        const journalSecrets = await table(kubectl, "get", "secrets", "-n", "default");
        assert.deepEqual(row(journalSecrets, "db-credentials").slice(1, 3), ["Opaque", "2"]);
      });

      await t.step("get nodes (-o wide): STATUS ROLES AGE VERSION and node info", async () => {
        const n = await table(kubectl, "get", "nodes", "-o", "wide");
        assert.deepEqual(n.header, [
          "NAME",
          "STATUS",
          "ROLES",
          "AGE",
          "VERSION",
          "INTERNAL-IP",
          "EXTERNAL-IP",
          "OS-IMAGE",
          "KERNEL-VERSION",
          "CONTAINER-RUNTIME",
        ]);
        const ours = row(n, "edge-node-2");
        assert.deepEqual(ours.slice(1, 3), ["Ready,SchedulingDisabled", "agent,edge"]);
        assert.ok(ages(created, n.before, n.after).includes(ours[3]));
        assert.deepEqual(ours.slice(4), [
          "v1.29.5-kubeedge-v1.17.0",
          "192.168.0.22",
          "203.0.113.22",
          "Ubuntu 22.04.4 LTS",
          "5.15.0-107-generic",
          "containerd://1.7.2",
        ]);
        const journalNode = row(n, "edge-node-1");
        assert.deepEqual(journalNode.slice(1, 3), ["Ready", "edge"]);
        assert.deepEqual(journalNode.slice(4), [
          "v1.22.6-kubeedge-v1.10.0",
          "192.168.0.21",
          "<none>",
          "Debian GNU/Linux 11 (bullseye)",
          "5.10.0-21-amd64",
          "docker://20.10.12",
        ]);
        const narrow = await table(kubectl, "get", "nodes");
        assert.deepEqual(narrow.header, ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
      });

      await t.step("namespaces, deployments, leases, events", async () => {
        const ns = await table(kubectl, "get", "namespace", NS);
        assert.deepEqual(ns.header, ["NAME", "STATUS", "AGE"]);
        assert.equal(row(ns, NS)[1], "Active");
        const deploy = await table(kubectl, "get", "deploy", "-n", NS, "-o", "wide");
        assert.deepEqual(deploy.header, [
          "NAME",
          "READY",
          "UP-TO-DATE",
          "AVAILABLE",
          "AGE",
          "CONTAINERS",
          "IMAGES",
          "SELECTOR",
        ]);
        const web = row(deploy, "web");
        assert.deepEqual([...web.slice(1, 4), ...web.slice(5)], [
          "2/3",
          "3",
          "2",
          "main",
          "nginx:1.25",
          "app=web",
        ]);
        const leases = await table(kubectl, "get", "leases", "-n", "kube-node-lease");
        assert.deepEqual(leases.header, ["NAME", "HOLDER", "AGE"]);
        assert.equal(row(leases, "edge-node-2")[1], "edge-node-2");
        const events = await table(kubectl, "get", "events", "-n", NS);
        assert.deepEqual(events.header, ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]);
        const e = events.rows[0];
        assert.ok(ages(minutesAgo(20), events.before, events.after).includes(e[0]), e[0]);
        assert.deepEqual(e.slice(1), [
          "Warning",
          "BackOff",
          "pod/web-0",
          "Back-off restarting failed container main",
        ]);
      });

      await t.step("get pods -w prints a row per change as it arrives", async () => {
        const watch = kubectl.spawn(...["get", "pods", "-n", NS, "-w", "--output-watch-events"]);
        try {
          const initial = await watch.waitForLines(1 + 5);
          assert.deepEqual(initial[0].trim().split(/\s{2,}/), [
            "EVENT",
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
          ]);
          assert.deepEqual(
            initial.slice(1).map((l) => l.trim().split(/\s{2,}/).slice(0, 2).join(" ")).sort(),
            ["ADDED bye-0", "ADDED crash-0", "ADDED done-0", "ADDED init-0", "ADDED web-0"],
          );
          await feed(hub!, [
            message("update", crashPod(6)),
            message(
              "insert",
              pod("new-0", { phase: "Pending" }, {}, { creationTimestamp: minutesAgo(0) }),
            ),
            message("delete", pod("done-0", { phase: "Succeeded" })),
          ]);
          await watch.waitForLines(1 + 5 + 3);
          await new Promise((r) => setTimeout(r, 500)); // nothing more may follow
          const lines = watch.lines;
          const live = lines.slice(6).map((l) => l.trim().split(/\s{2,}/));
          assert.equal(lines.length, 9, `no header again, nothing more:\n${watch.text}`);
          assert.deepEqual(live[0].slice(0, 4), ["MODIFIED", "crash-0", "0/1", "CrashLoopBackOff"]);
          assert.match(live[0][4], /^6 \(\d+m(\d+s)? ago\)$/);
          assert.deepEqual(live[1].slice(0, 5), ["ADDED", "new-0", "0/1", "Pending", "0"]);
          assert.match(live[1][5], /^\d+s$/);
          assert.deepEqual(live[2].slice(0, 4), ["DELETED", "done-0", "0/1", "Succeeded"]);
        } finally {
          await watch.stop();
        }
        await serve.waitForLog(/metaserver watch closed .*reason="client went away"/);
      });

      await t.step("api-resources -o wide: verbs, short names and categories", async () => {
        const out = await kubectl.ok("api-resources", "-o", "wide");
        const r = parseTable(out);
        assert.deepEqual(r.header, [
          "NAME",
          "SHORTNAMES",
          "APIVERSION",
          "NAMESPACED",
          "KIND",
          "VERBS",
          "CATEGORIES",
        ]);
        assert.deepEqual(row(r, "pods"), [
          "pods",
          "po",
          "v1",
          "true",
          "Pod",
          "get,list,watch",
          "all",
        ]);
        assert.deepEqual(row(r, "deployments"), [
          "deployments",
          "deploy",
          "apps/v1",
          "true",
          "Deployment",
          "get,list,watch",
          "all",
        ]);
        assert.deepEqual(row(r, "configmaps"), [
          "configmaps",
          "cm",
          "v1",
          "true",
          "ConfigMap",
          "get,list,watch",
        ]);
      });

      await t.step("get all -n NS prints one table per kind of the 'all' category", async () => {
        const out = await kubectl.ok("get", "all", "-n", NS);
        const sections = out.split("\n\n").map(parseTable);
        const pods = sections.find((s) => s.rows[0]?.[0].startsWith("pod/"))!;
        assert.deepEqual(pods.header, ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
        assert.deepEqual(row(pods, "pod/web-0").slice(1, 3), ["2/2", "Running"]);
        const services = sections.find((s) => s.rows[0]?.[0].startsWith("service/"))!;
        assert.deepEqual(services.header.slice(0, 5), [
          "NAME",
          "TYPE",
          "CLUSTER-IP",
          "EXTERNAL-IP",
          "PORT(S)",
        ]);
        assert.equal(row(services, "service/lb")[3], "203.0.113.10");
        const deployments = sections.find((s) => s.rows[0]?.[0].startsWith("deployment.apps/"))!;
        assert.deepEqual(deployments.header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
        assert.deepEqual(row(deployments, "deployment.apps/web").slice(1, 4), ["2/3", "3", "2"]);
      });

      await t.step("describe pod lists its events (none stored: <none>)", async () => {
        const web = await kubectl.ok("describe", "pod", "web-0", "-n", NS);
        assert.match(web, /^Name:\s+web-0$/m);
        assert.match(web, /^Namespace:\s+tables-demo$/m);
        assert.match(web, /^Status:\s+Running$/m);
        assert.match(web, /^IP:\s+10\.244\.1\.5$/m);
        assert.match(web, /^Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n/m);
        assert.match(
          web,
          /^\s+Warning\s+BackOff\s+\d+m \(x3 over \d+m\)\s+kubelet\s+Back-off restarting failed container main$/m,
        );
        const crash = await kubectl.ok("describe", "pod", "crash-0", "-n", NS);
        assert.match(crash, /^Events:\s+<none>$/m);
        assert.match(crash, /^\s+Reason:\s+CrashLoopBackOff$/m);
        const journalPod = await kubectl.ok(
          "describe",
          "pod",
          "redis-6d07ef7b7-4k7sm",
          "-n",
          "kube-system",
        );
        assert.match(journalPod, /^Events:\s+<none>$/m);
      });
    } finally {
      await hub?.close().catch(() => {});
      const exit = await serve.kill();
      await Deno.remove(dir, { recursive: true });
      assert.doesNotMatch(exit.stderr, /metaserver request failed/, "no request failed inside");
    }
  },
});
