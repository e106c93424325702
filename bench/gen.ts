/**
 * Synthetic journals for the benchmark: realistic ~2 KB Pods from edgecontroller, their
 * updates, local queries from edged, and a mixed workload. Deterministic (seeded).
 *
 * @module
 */

/** Mulberry32: a small deterministic PRNG in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hex(rand: () => number, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += "0123456789abcdef"[Math.floor(rand() * 16)];
  return s;
}

function uuid(seed: number): string {
  const r = prng(seed * 2654435761);
  return `${hex(r, 8)}-${hex(r, 4)}-5${hex(r, 3)}-${"89ab"[Math.floor(r() * 4)]}${hex(r, 3)}-${
    hex(r, 12)
  }`;
}

/** Base resourceVersion of generated objects. */
export const RV_BASE = 1_000_000;
const EPOCH = Date.UTC(2024, 0, 1) / 1000;

function isoAt(seconds: number): string {
  return new Date((EPOCH + seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Namespace, name and meta key of pod `i`. */
export function podKey(i: number): { ns: string; name: string; key: string } {
  const ns = `ns-${i % 20}`;
  const name = `pod-${i}`;
  return { ns, name, key: `${ns}/pod/${name}` };
}

function runningStatus(i: number, app: string, image: string): Record<string, unknown> {
  const r = prng(i + 77);
  const started = isoAt(i + 30);
  return {
    phase: "Running",
    conditions: ["Initialized", "Ready", "ContainersReady", "PodScheduled"].map((type) => ({
      type,
      status: "True",
      lastProbeTime: null,
      lastTransitionTime: started,
    })),
    hostIP: "192.168.0.21",
    podIP: `172.17.${(i >> 8) & 255}.${i & 255}`,
    startTime: started,
    containerStatuses: [{
      name: app,
      state: { running: { startedAt: started } },
      lastState: {},
      ready: true,
      restartCount: 0,
      image,
      imageID: `docker-pullable://${image.split(":")[0]}@sha256:${hex(r, 64)}`,
      containerID: `docker://${hex(r, 64)}`,
      started: true,
    }],
    qosClass: "Burstable",
  };
}

/** A Pod object as the cloud sends it (Go struct field order, ~2 KB as JSON). */
export function podObject(i: number, rv: number, running: boolean): Record<string, unknown> {
  const { ns, name } = podKey(i);
  const app = `app-${i % 50}`;
  const r = prng(i);
  const hash = hex(r, 10);
  const image = `registry.example.com/edge/${app}:1.${i % 7}.${i % 3}`;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: ns,
      uid: uuid(i),
      resourceVersion: String(rv),
      creationTimestamp: isoAt(i),
      labels: { app, tier: "edge", "pod-template-hash": hash },
      annotations: { "kubeedge.io/managed": "true" },
      ownerReferences: [{
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: `${app}-${hash}`,
        uid: uuid(i + 10_000_000),
        controller: true,
        blockOwnerDeletion: true,
      }],
    },
    spec: {
      volumes: [
        { name: "config", configMap: { name: `${app}-config`, defaultMode: 420 } },
        { name: "default-token", secret: { secretName: "default-token-x7k2p", defaultMode: 420 } },
      ],
      containers: [{
        name: app,
        image,
        ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }],
        env: [
          { name: "LOG_LEVEL", value: "info" },
          {
            name: "POD_NAME",
            valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } },
          },
        ],
        resources: {
          limits: { cpu: "500m", memory: "256Mi" },
          requests: { cpu: "100m", memory: "64Mi" },
        },
        volumeMounts: [
          { name: "config", mountPath: "/etc/app" },
          {
            name: "default-token",
            readOnly: true,
            mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
          },
        ],
        livenessProbe: {
          httpGet: { path: "/healthz", port: 8080, scheme: "HTTP" },
          initialDelaySeconds: 10,
          timeoutSeconds: 1,
          periodSeconds: 10,
          successThreshold: 1,
          failureThreshold: 3,
        },
        terminationMessagePath: "/dev/termination-log",
        terminationMessagePolicy: "File",
        imagePullPolicy: "IfNotPresent",
      }],
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 30,
      dnsPolicy: "ClusterFirst",
      nodeName: "edge-node-1",
      serviceAccountName: "default",
      securityContext: {},
      schedulerName: "default-scheduler",
      tolerations: [
        { key: "node-role.kubernetes.io/edge", operator: "Exists", effect: "NoSchedule" },
        {
          key: "node.kubernetes.io/not-ready",
          operator: "Exists",
          effect: "NoExecute",
          tolerationSeconds: 300,
        },
      ],
      priority: 0,
      enableServiceLinks: true,
    },
    status: running ? runningStatus(i, app, image) : { phase: "Pending", qosClass: "Burstable" },
  };
}

function line(
  msgId: string,
  ts: number,
  source: string,
  group: string,
  operation: string,
  resource: string,
  content: unknown,
): string {
  return JSON.stringify({
    header: { msg_id: msgId, timestamp: ts },
    route: { source, group, operation, resource },
    content,
  });
}

const TS0 = 1_704_067_200_000;

/** Insert of pod `i` from edgecontroller. */
export function insertLine(i: number, rv: number): string {
  const { key } = podKey(i);
  return line(
    `ins-${i}`,
    TS0 + i,
    "edgecontroller",
    "resource",
    "insert",
    key,
    podObject(i, rv, false),
  );
}

/** Update of pod `i` from edgecontroller (new resourceVersion, Running status). */
export function updateLine(i: number, rv: number, tag = "upd"): string {
  const { key } = podKey(i);
  return line(
    `${tag}-${i}`,
    TS0 + i,
    "edgecontroller",
    "resource",
    "update",
    key,
    podObject(i, rv, true),
  );
}

/** Local query of pod `i` by key from edged (not sync). */
export function queryLine(i: number, tag = "qry"): string {
  return line(`${tag}-${i}`, TS0 + i, "edged", "meta", "query", podKey(i).key, null);
}

/** Pod status update of pod `i` from edged. */
export function podStatusLine(i: number, n: number): string {
  const { ns, name } = podKey(i);
  const app = `app-${i % 50}`;
  const status = runningStatus(i, app, `registry.example.com/edge/${app}:1.${i % 7}.${i % 3}`);
  (status.containerStatuses as Record<string, unknown>[])[0].restartCount = n;
  return line(`pst-${n}`, TS0 + n, "edged", "meta", "update", `${ns}/podstatus/${name}`, {
    UID: uuid(i),
    Name: name,
    Status: status,
  });
}

/** Delete of pod `i` from edgecontroller (content: the object). */
export function deleteLine(i: number, rv: number, n: number): string {
  const { key } = podKey(i);
  return line(
    `del-${n}`,
    TS0 + n,
    "edgecontroller",
    "resource",
    "delete",
    key,
    podObject(i, rv, true),
  );
}

/** Writes lines to a file in ~1 MB chunks; returns count and bytes. */
export async function writeLines(
  path: string,
  count: number,
  make: (k: number) => string,
): Promise<{ lines: number; bytes: number }> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const enc = new TextEncoder();
  let chunk: string[] = [], size = 0, bytes = 0;
  try {
    for (let k = 0; k < count; k++) {
      const l = make(k) + "\n";
      chunk.push(l);
      size += l.length;
      if (size > 1 << 20) {
        const b = enc.encode(chunk.join(""));
        bytes += b.length;
        await file.write(b).then(async (n) => {
          let off = n;
          while (off < b.length) off += await file.write(b.subarray(off));
        });
        chunk = [];
        size = 0;
      }
    }
    const b = enc.encode(chunk.join(""));
    let off = 0;
    while (off < b.length) off += await file.write(b.subarray(off));
    bytes += b.length;
  } finally {
    file.close();
  }
  return { lines: count, bytes };
}

/** Paths and sizes of the generated journals. */
export interface Journals {
  insert: string;
  update: string;
  query: string;
  mixed: string;
  sizes: Record<string, { lines: number; bytes: number }>;
  mixedOps: Record<string, number>;
}

/**
 * Generates the four journals in `dir`: `n` inserts, `n` updates of the same keys, `n`
 * queries by key (shuffled order), and `mixed` lines of a mixed workload on a fresh
 * store.
 */
export async function generateJournals(dir: string, n: number, mixed: number): Promise<Journals> {
  const j = {
    insert: `${dir}/insert.ndjson`,
    update: `${dir}/update.ndjson`,
    query: `${dir}/query.ndjson`,
    mixed: `${dir}/mixed.ndjson`,
  };
  const sizes: Journals["sizes"] = {};
  sizes.insert = await writeLines(j.insert, n, (i) => insertLine(i, RV_BASE + i));
  sizes.update = await writeLines(j.update, n, (i) => updateLine(i, RV_BASE + n + i));
  // Queries in a fixed pseudo-random order over all keys (no cache-friendly sequence).
  const order = Array.from({ length: n }, (_, i) => i);
  const r = prng(42);
  for (let i = n - 1; i > 0; i--) {
    const k = Math.floor(r() * (i + 1));
    [order[i], order[k]] = [order[k], order[i]];
  }
  sizes.query = await writeLines(j.query, n, (k) => queryLine(order[k]));

  // Mixed: 30% inserts of new pods, 25% updates, 20% podstatus from edged, 20% queries,
  // 5% deletes; operations other than insert pick a live pod.
  const mr = prng(7);
  const live: number[] = [];
  let next = 0, rv = RV_BASE + 2 * n + 1;
  const ops: Record<string, number> = {};
  const count = (op: string) => (ops[op] = (ops[op] ?? 0) + 1);
  sizes.mixed = await writeLines(j.mixed, mixed, (k) => {
    const x = mr();
    if (x < 0.3 || live.length < 20) {
      const i = next++;
      live.push(i);
      count("insert");
      return insertLine(i, rv++).replace(`"ins-${i}"`, `"mix-${k}"`);
    }
    const at = Math.floor(mr() * live.length);
    const i = live[at];
    if (x < 0.55) {
      count("update");
      return updateLine(i, rv++, `mix-${k}-upd`);
    }
    if (x < 0.75) {
      count("podstatus");
      return podStatusLine(i, k);
    }
    if (x < 0.95) {
      count("query");
      return queryLine(i, `mix-${k}-qry`);
    }
    count("delete");
    live[at] = live[live.length - 1];
    live.pop();
    return deleteLine(i, rv++, k);
  });
  return { ...j, sizes, mixedOps: ops };
}
