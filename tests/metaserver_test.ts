/**
 * Unit tests of the MetaServer (spec/metaserver.md): request classification, the resource
 * table, selectors, discovery, content negotiation, the handler over an in-memory store,
 * and the WatchHub (history, resume, selectors, back-pressure, release).
 */

import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { Store } from "../src/store/store.ts";
import { kindToResource, type MetaV2Row, rowForObject } from "../src/store/meta_v2.ts";
import type { StoreChange } from "../src/metamanager/inject.ts";
import { parseRequestInfo, queryBool } from "../src/metaserver/request_info.ts";
import {
  lookupResource,
  resourceForStoredGvr,
  RESOURCES,
  storedGvr,
} from "../src/metaserver/resources.ts";
import {
  parseFieldSelector,
  parseLabelSelector,
  selectableOf,
  SelectorError,
} from "../src/metaserver/selectors.ts";
import { discoveryDocument } from "../src/metaserver/discovery.ts";
import { negotiate } from "../src/metaserver/representation.ts";
import { createMetaServerHandler } from "../src/metaserver/handler.ts";
import { WatchHub } from "../src/metaserver/watch.ts";
import { MetaManager } from "../src/metamanager/process.ts";
import { parseMessage } from "../src/beehive/wire.ts";
import { parseSelection } from "../src/metaserver/read.ts";
import { createLogger } from "../src/logger.ts";

/** Decoded JSON in assertions. */
// deno-lint-ignore no-explicit-any
type Json = any;

const KUBECTL_ACCEPT =
  "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

// ------------------------------------------------------------------ request info

function info(path: string, method = "GET") {
  return parseRequestInfo(method, new URL(path, "http://x"));
}

Deno.test("request info: the spec's classification table", () => {
  const rows: [string, boolean, string, string, string, string, string, string][] = [
    // path, resource?, verb, group, version, namespace, resource, name
    ["/api/v1/pods", true, "list", "", "v1", "", "pods", ""],
    ["/api/v1/namespaces/default/pods", true, "list", "", "v1", "default", "pods", ""],
    ["/api/v1/namespaces/default/pods/nginx", true, "get", "", "v1", "default", "pods", "nginx"],
    ["/api/v1/nodes/edge-1", true, "get", "", "v1", "", "nodes", "edge-1"],
    [
      "/apis/apps/v1/namespaces/kube-system/deployments",
      true,
      "list",
      "apps",
      "v1",
      "kube-system",
      "deployments",
      "",
    ],
    ["/api/v1/watch/namespaces/default/pods", true, "watch", "", "v1", "default", "pods", ""],
    ["/api", false, "get", "", "", "", "", ""],
    ["/api/v1", false, "get", "", "", "", "", ""],
    ["/apis", false, "get", "", "", "", "", ""],
    ["/apis/apps/v1", false, "get", "", "", "", "", ""],
    ["/version", false, "get", "", "", "", "", ""],
    ["/healthz", false, "get", "", "", "", "", ""],
    ["/openapi/v2", false, "get", "", "", "", "", ""],
  ];
  for (const [path, isRes, verb, group, version, ns, resource, name] of rows) {
    const i = info(path);
    assert.deepEqual(
      [i.isResourceRequest, i.verb, i.apiGroup, i.apiVersion, i.namespace, i.resource, i.name],
      [isRes, verb, group, version, ns, resource, name],
      path,
    );
  }
  const sub = info("/api/v1/namespaces/default/pods/nginx/status");
  assert.equal(sub.subresource, "status");
  assert.equal(sub.name, "nginx");
  assert.equal(sub.namespacePrefix, true);
});

Deno.test("request info: verbs from methods, watch parameter, fieldSelector name", () => {
  assert.equal(info("/api/v1/namespaces/d/pods", "POST").verb, "create");
  assert.equal(info("/api/v1/namespaces/d/pods/x", "PUT").verb, "update");
  assert.equal(info("/api/v1/namespaces/d/pods/x", "PATCH").verb, "patch");
  assert.equal(info("/api/v1/namespaces/d/pods/x", "DELETE").verb, "delete");
  assert.equal(info("/api/v1/namespaces/d/pods", "DELETE").verb, "deletecollection");
  assert.equal(info("/api/v1/namespaces/d/pods", "HEAD").verb, "list");
  assert.equal(info("/api/v1/namespaces/d/pods", "OPTIONS").verb, "");
  for (
    const [q, verb] of [
      ["watch=true", "watch"],
      ["watch=1", "watch"],
      ["watch=", "watch"],
      ["watch=TRUE", "watch"],
      ["watch=false", "list"],
      ["watch=0", "list"],
      ["watch=False", "list"],
      ["", "list"],
    ]
  ) {
    assert.equal(info(`/api/v1/pods?${q}`).verb, verb, q);
  }
  // a name in the path keeps the verb get even with watch=true (kube-apiserver)
  assert.equal(info("/api/v1/namespaces/d/pods/x?watch=true").verb, "get");
  const byField = info(
    "/api/v1/namespaces/d/pods?fieldSelector=metadata.name%3Dweb,status.phase%3DRunning",
  );
  assert.equal(byField.verb, "list");
  assert.equal(byField.name, "web");
  assert.equal(info("/api/v1/pods?fieldSelector=metadata.name!%3Dweb").name, "");
  assert.equal(queryBool(new URLSearchParams("a=no"), "a"), true);
  assert.equal(queryBool(new URLSearchParams(""), "a"), false);
});

Deno.test("request info: namespaces are a cluster-scoped resource with their own paths", () => {
  const ns = info("/api/v1/namespaces/default");
  assert.deepEqual([ns.resource, ns.name, ns.namespacePrefix], ["namespaces", "default", false]);
  const st = info("/api/v1/namespaces/default/status");
  assert.deepEqual([st.resource, st.name, st.subresource], ["namespaces", "default", "status"]);
  const all = info("/api/v1/namespaces");
  assert.deepEqual([all.resource, all.verb], ["namespaces", "list"]);
  const legacy = info("/api/v1/watch/namespaces/default/pods/web");
  assert.deepEqual([legacy.verb, legacy.namespace, legacy.name], ["watch", "default", "web"]);
  assert.throws(() => info("/api/v1/watch"), /unable to determine kind and namespace/);
  assert.equal(info("/apis/apps").isResourceRequest, false);
  assert.equal(info("/api/v1/pods/").resource, "pods");
});

// ------------------------------------------------------------------ resources

Deno.test("resources: the stored gvr of every kind is KubeEdge's guessed plural", () => {
  for (const r of RESOURCES) {
    assert.equal(kindToResource(r.kind), r.resource, `${r.kind} is stored under its plural`);
    assert.equal(resourceForStoredGvr(storedGvr(r)), r);
    assert.deepEqual([...r.verbs], ["get", "list", "watch"]);
  }
  const ep = lookupResource("", "v1", "endpoints")!;
  assert.equal(storedGvr(ep), "/v1, Resource=endpoints");
  assert.equal(ep.kind, "Endpoints");
  assert.equal(
    storedGvr(lookupResource("apps", "v1", "deployments")!),
    "apps/v1, Resource=deployments",
  );
  assert.equal(
    storedGvr(lookupResource("networking.k8s.io", "v1", "networkpolicies")!),
    "networking.k8s.io/v1, Resource=networkpolicies",
  );
  assert.equal(lookupResource("", "v1", "pod"), undefined, "no singular or guessed names");
  assert.equal(lookupResource("", "v1", "deployments"), undefined, "deployments are apps/v1");
  assert.equal(lookupResource("", "v1", "podstatus"), undefined, "podstatus never reaches meta_v2");
  const names = new Set(RESOURCES.map((r) => `${r.group}/${r.resource}`));
  for (
    const want of [
      "/pods",
      "/nodes",
      "/namespaces",
      "/configmaps",
      "/secrets",
      "/services",
      "/endpoints",
      "/serviceaccounts",
      "/persistentvolumes",
      "/persistentvolumeclaims",
      "/events",
      "apps/deployments",
      "apps/replicasets",
      "apps/daemonsets",
      "apps/statefulsets",
      "storage.k8s.io/volumeattachments",
      "storage.k8s.io/csidrivers",
      "storage.k8s.io/storageclasses",
      "networking.k8s.io/ingresses",
      "networking.k8s.io/networkpolicies",
      "coordination.k8s.io/leases",
      "discovery.k8s.io/endpointslices",
    ]
  ) assert.ok(names.has(want), want);
});

// ------------------------------------------------------------------ selectors

Deno.test("label selectors: operators and Kubernetes matching", () => {
  const labels = { app: "web", tier: "edge", n: "5" };
  const cases: [string, boolean][] = [
    ["", true],
    ["app=web", true],
    ["app==web", true],
    ["app=db", false],
    ["app!=db", true],
    ["missing!=x", true],
    ["app in (web,db)", true],
    ["app in (db)", false],
    ["app notin (db)", true],
    ["missing notin (db)", true],
    ["app notin (web)", false],
    ["app", true],
    ["missing", false],
    ["!missing", true],
    ["!app", false],
    ["app=web,tier=edge", true],
    ["app=web,tier=cloud", false],
    [" app = web , tier in ( edge ) ", true],
    ["n>4", true],
    ["n<5", false],
    ["missing>1", false],
    ["app=", false],
    ["example.com/role=x", false],
  ];
  for (const [sel, want] of cases) {
    assert.equal(parseLabelSelector(sel).matches(labels), want, JSON.stringify(sel));
  }
  assert.equal(parseLabelSelector("a=").matches({ a: "" }), true);
  assert.equal(parseLabelSelector("a in ()").matches({ a: "" }), true, "() is the empty value");
  assert.deepEqual(parseLabelSelector("a in (x,,y)").requirements[0].values, ["", "x", "y"]);
  assert.equal(parseLabelSelector("a in (in,notin)").matches({ a: "notin" }), true);
  for (
    const bad of [
      "a b",
      "a=(b)",
      "in=x",
      "a in x",
      "a in (x",
      "!a=b",
      "a=b c",
      "a>x",
      "-a=b",
      "a=-b",
      "a=" + "x".repeat(64),
      "a/b/c=d",
      "a,",
      "=x",
    ]
  ) {
    assert.throws(() => parseLabelSelector(bad), SelectorError, JSON.stringify(bad));
  }
  assert.throws(() => parseLabelSelector("a b"), /unable to parse requirement/);
});

Deno.test("field selectors: terms, escapes, supported fields, exact match", () => {
  const fields = { "metadata.name": "a,b", "metadata.namespace": "ns", "status.phase": "" };
  assert.equal(parseFieldSelector("").matches(fields), true);
  assert.equal(parseFieldSelector("metadata.name=a\\,b").matches(fields), true);
  assert.equal(
    parseFieldSelector("metadata.name==a\\,b,metadata.namespace=ns").matches(fields),
    true,
  );
  assert.equal(parseFieldSelector("metadata.namespace!=ns").matches(fields), false);
  assert.equal(parseFieldSelector("status.phase=").matches(fields), true);
  assert.equal(parseFieldSelector("spec.nodeName!=x").matches(fields), true);
  assert.equal(parseFieldSelector("a=x\\=y").terms[0].value, "x=y");
  assert.equal(
    parseFieldSelector("metadata.name=web,x!=y").requiresExactMatch("metadata.name"),
    "web",
  );
  assert.throws(() => parseFieldSelector("metadata.name"), /can't understand/);
  assert.throws(() => parseFieldSelector("a=x\\y"), /invalid escape/);
  assert.throws(() => parseFieldSelector("a=x\\"), SelectorError);
  const pods = lookupResource("", "v1", "pods")!;
  assert.doesNotThrow(() =>
    parseSelection(
      new URLSearchParams({ fieldSelector: "spec.nodeName=n1,status.phase=Running" }),
      pods,
    )
  );
  assert.throws(
    () =>
      parseSelection(
        new URLSearchParams({ fieldSelector: "spec.nodeName=n1" }),
        lookupResource("", "v1", "configmaps")!,
      ),
    /field label not supported: spec.nodeName/,
  );
  const s = selectableOf(
    { metadata: { name: "p", labels: { a: "1", bad: 2 } }, spec: { hostNetwork: true } },
    ["metadata.name", "metadata.namespace", "spec.hostNetwork", "spec.nodeName"],
  );
  assert.deepEqual(s, {
    labels: { a: "1" },
    fields: {
      "metadata.name": "p",
      "metadata.namespace": "",
      "spec.hostNetwork": "true",
      "spec.nodeName": "",
    },
  });
});

// ------------------------------------------------------------------ discovery and negotiation

Deno.test("discovery: /api, /api/v1, /apis, /apis/{group}, /apis/{group}/{version}, /version", () => {
  assert.deepEqual(discoveryDocument("/api", "127.0.0.1:10550"), {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1:10550" }],
  });
  const core = discoveryDocument("/api/v1", "")! as {
    groupVersion: string;
    resources: Record<string, unknown>[];
  };
  assert.equal(core.groupVersion, "v1");
  const pods = core.resources.find((r) => r.name === "pods")!;
  assert.deepEqual(pods, {
    name: "pods",
    singularName: "pod",
    namespaced: true,
    kind: "Pod",
    verbs: ["get", "list", "watch"],
    shortNames: ["po"],
    categories: ["all"],
  });
  const cm = core.resources.find((r) => r.name === "configmaps")!;
  assert.deepEqual(cm.shortNames, ["cm"]);
  assert.equal(cm.categories, undefined);
  assert.equal(core.resources.find((r) => r.name === "nodes")!.namespaced, false);
  const groups = discoveryDocument("/apis", "")! as { groups: { name: string }[] };
  assert.deepEqual(groups.groups.map((g) => g.name), [
    "apps",
    "batch",
    "storage.k8s.io",
    "networking.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
  ]);
  const apps = discoveryDocument("/apis/apps/v1", "")! as {
    groupVersion: string;
    resources: { name: string; categories?: string[] }[];
  };
  assert.equal(apps.groupVersion, "apps/v1");
  assert.deepEqual(apps.resources.map((r) => r.name), [
    "deployments",
    "replicasets",
    "daemonsets",
    "statefulsets",
  ]);
  assert.ok(apps.resources.every((r) => r.categories?.includes("all")));
  assert.equal((discoveryDocument("/apis/apps", "") as { kind: string }).kind, "APIGroup");
  assert.equal(discoveryDocument("/apis/extensions/v1beta1", ""), undefined);
  assert.equal(discoveryDocument("/apis/apps/v2", ""), undefined);
  assert.equal(discoveryDocument("/api/v2", ""), undefined);
  assert.equal(discoveryDocument("/openapi/v2", ""), undefined);
  const v = discoveryDocument("/version", "") as Record<string, string>;
  assert.equal(v.major, "1");
  assert.match(v.gitVersion, /^v1\.21\.4-edgecore-meta/);
});

Deno.test("content negotiation: kubectl's Accept, YAML only, protobuf only, wildcards", () => {
  const plain = { yaml: true, table: false };
  assert.deepEqual(negotiate(null, plain), { type: "json" });
  assert.deepEqual(negotiate("", plain), { type: "json" });
  assert.deepEqual(negotiate(KUBECTL_ACCEPT, plain), { type: "json" });
  assert.deepEqual(negotiate(KUBECTL_ACCEPT, { yaml: true, table: true }), {
    type: "table",
    version: "v1",
    includeObject: "",
  });
  assert.deepEqual(negotiate("application/yaml", plain), { type: "yaml" });
  assert.equal(negotiate("application/yaml", { yaml: false, table: false }), undefined);
  assert.equal(negotiate("application/vnd.kubernetes.protobuf", plain), undefined);
  assert.deepEqual(
    negotiate("application/vnd.kubernetes.protobuf,application/json", plain),
    { type: "json" },
  );
  assert.deepEqual(negotiate("*/*", plain), { type: "json" });
  assert.deepEqual(negotiate("application/*", plain), { type: "json" });
  assert.deepEqual(negotiate("application/yaml;q=0.5,application/json", plain), { type: "json" });
  assert.equal(negotiate("application/json;as=Table;v=v1;g=meta.k8s.io", plain), undefined);
  assert.deepEqual(
    negotiate(
      "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
      plain,
    ),
    { type: "json" },
    "aggregated discovery falls back to plain JSON",
  );
  assert.equal(negotiate("text/html", plain), undefined);
});

// ------------------------------------------------------------------ handler over a store

function pod(
  ns: string,
  name: string,
  rv: number,
  labels: Record<string, string> = {},
  extra: { nodeName?: string; phase?: string } = {},
): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, resourceVersion: String(rv), labels },
    spec: { nodeName: extra.nodeName ?? "edge-1" },
    status: { phase: extra.phase ?? "Running" },
  };
}

/** An in-memory store, a hub, and a handler; `apply` writes and publishes like MetaManager. */
class Harness {
  readonly store = Store.open(":memory:");
  hub: WatchHub;
  handler: (req: Request) => Response | Promise<Response>;

  constructor(objects: Record<string, unknown>[] = [], hubOptions = {}) {
    for (const o of objects) this.store.metaV2.insertOrReplace(rowForObject(o));
    this.hub = new WatchHub({ rows: this.store.metaV2.all(), ...hubOptions });
    this.handler = createMetaServerHandler({ store: this.store.metaV2, hub: this.hub });
  }

  apply(type: StoreChange["type"], obj: Record<string, unknown>): MetaV2Row {
    const row = rowForObject(obj);
    if (type === "DELETED") this.store.metaV2.deleteByKey(row.key);
    else this.store.metaV2.insertOrReplace(row);
    this.hub.publish([{ type, row }]);
    return row;
  }

  async request(
    path: string,
    init: RequestInit & { accept?: string } = {},
  ): Promise<{ status: number; type: string; text: string; json: () => Json }> {
    const headers = new Headers(init.headers);
    if (init.accept) headers.set("accept", init.accept);
    const res = await this.handler(
      new Request(new URL(path, "http://127.0.0.1:10550"), { ...init, headers }),
    );
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get("content-type") ?? "",
      text,
      json: () => JSON.parse(text),
    };
  }

  /** Opens a watch; the returned reader yields parsed events. */
  async watch(path: string): Promise<EventReader> {
    const res = await this.handler(new Request(new URL(path, "http://127.0.0.1:10550")));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    return new EventReader(res.body!);
  }

  close(): void {
    this.hub.close();
    this.store.close();
  }
}

/** Reads newline-delimited JSON events from a watch body. */
class EventReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next `n` events (rejects after 2 s). */
  async take(n: number): Promise<{ type: string; object: Json }[]> {
    const out: { type: string; object: Json }[] = [];
    const deadline = Date.now() + 2000;
    while (out.length < n) {
      const nl = this.#buffer.indexOf("\n");
      if (nl >= 0) {
        out.push(JSON.parse(this.#buffer.slice(0, nl)));
        this.#buffer = this.#buffer.slice(nl + 1);
        continue;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, rej) => {
        timer = setTimeout(
          () => rej(new Error(`timed out; got ${JSON.stringify(out)}`)),
          deadline - Date.now(),
        );
      });
      try {
        const { value, done } = await Promise.race([this.#reader.read(), timeout]);
        if (done) throw new Error(`stream ended; got ${JSON.stringify(out)}`);
        this.#buffer += value;
      } finally {
        clearTimeout(timer);
      }
    }
    return out;
  }

  /** Resolves true when the stream ends with nothing more than `rest` (2 s limit). */
  async ended(): Promise<string> {
    let rest = this.#buffer;
    for (;;) {
      const { value, done } = await this.#reader.read();
      if (done) return rest;
      rest += value;
    }
  }

  /** Events that are already available without waiting (after a macrotask). */
  async pending(): Promise<{ type: string; object: Json }[]> {
    await new Promise((r) => setTimeout(r, 20));
    const out: { type: string; object: Json }[] = [];
    for (;;) {
      const nl = this.#buffer.indexOf("\n");
      if (nl >= 0) {
        out.push(JSON.parse(this.#buffer.slice(0, nl)));
        this.#buffer = this.#buffer.slice(nl + 1);
        continue;
      }
      const read = this.#reader.read();
      const r = await Promise.race([
        read,
        new Promise<null>((res) => setTimeout(() => res(null), 20)),
      ]);
      if (r === null) {
        // leave the read pending: re-attach its result to the buffer when it comes
        read.then((x) => {
          if (!x.done) this.#buffer += x.value;
        }, () => {});
        return out;
      }
      if (r.done) return out;
      this.#buffer += r.value;
    }
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel();
  }
}

const SEED = [
  pod("default", "web-1", 11, { app: "web" }),
  pod("default", "db-1", 12, { app: "db" }, { nodeName: "edge-2", phase: "Pending" }),
  pod("kube-system", "dns-1", 13, { app: "dns" }),
  {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "cfg", namespace: "default", resourceVersion: "14" },
    data: { a: "<b>&" },
  },
  {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: "edge-1", resourceVersion: "15", labels: { role: "edge" } },
  },
  {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { name: "web", namespace: "default", resourceVersion: "16" },
  },
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "default", resourceVersion: "17" },
  },
  {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "default", resourceVersion: "18" },
  },
];

Deno.test("handler: GET one object, namespaced and cluster-scoped, byte for byte", async () => {
  const h = new Harness(SEED);
  try {
    const r = await h.request("/api/v1/namespaces/default/configmaps/cfg");
    assert.equal(r.status, 200);
    assert.equal(r.type, "application/json");
    assert.equal(
      r.text,
      h.store.metaV2.select("/v1, Resource=configmaps", "default", "cfg")[0].value,
    );
    assert.match(r.text, /\\u003cb\\u003e\\u0026/, "stored Go JSON is served as is");
    assert.equal((await h.request("/api/v1/nodes/edge-1")).json().metadata.name, "edge-1");
    assert.equal((await h.request("/api/v1/namespaces/default")).json().kind, "Namespace");
    assert.equal(
      (await h.request("/api/v1/namespaces/default/endpoints/web")).json().kind,
      "Endpoints",
    );
    assert.equal(
      (await h.request("/apis/apps/v1/namespaces/default/deployments/web")).json().kind,
      "Deployment",
    );
    const st = await h.request("/api/v1/namespaces/default/pods/web-1/status");
    assert.equal(st.json().metadata.name, "web-1", "the status subresource reads the object");
    const yaml = await h.request("/api/v1/namespaces/default/pods/web-1", {
      accept: "application/yaml",
    });
    assert.equal(yaml.type, "application/yaml");
    assert.deepEqual(parseYaml(yaml.text), SEED[0]);
  } finally {
    h.close();
  }
});

Deno.test("handler: Status errors 404, 405, 400, 406", async () => {
  const h = new Harness(SEED);
  try {
    const nf = await h.request("/api/v1/namespaces/default/pods/nope");
    assert.equal(nf.status, 404);
    assert.deepEqual(nf.json(), {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'pods "nope" not found',
      reason: "NotFound",
      details: { name: "nope", kind: "pods" },
      code: 404,
    });
    const nfApps = (await h.request("/apis/apps/v1/namespaces/x/deployments/web")).json();
    assert.equal(nfApps.message, 'deployments.apps "web" not found');
    assert.deepEqual(nfApps.details, { name: "web", group: "apps", kind: "deployments" });
    for (
      const path of [
        "/api/v1/namespaces/default/nodes",
        "/api/v1/pods/web-1",
        "/api/v1/namespaces/default/pods/web-1/log",
        "/nope",
        "/apis/nope.io/v1",
        "/api/v1/watch",
      ]
    ) {
      const r = await h.request(path);
      assert.equal(r.status, 404, path);
      assert.equal(r.json().reason, "NotFound", path);
    }
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      const r = await h.request("/api/v1/namespaces/default/pods/web-1", { method, body: "{}" });
      assert.equal(r.status, 405, method);
      assert.equal(r.json().reason, "MethodNotAllowed");
      assert.equal(h.store.metaV2.select("/v1, Resource=pods", "default", "web-1").length, 1);
    }
    assert.equal(
      (await h.request("/api/v1/namespaces/default/pods", { method: "POST" })).status,
      405,
    );
    assert.equal((await h.request("/api", { method: "POST" })).status, 405);
    const bad = await h.request("/api/v1/pods?labelSelector=a%20b");
    assert.equal(bad.status, 400);
    assert.equal(bad.json().reason, "BadRequest");
    assert.match(bad.json().message, /unable to parse requirement/);
    const badField = await h.request("/api/v1/configmaps?fieldSelector=spec.nodeName%3Dx");
    assert.equal(badField.status, 400);
    assert.equal(badField.json().message, "field label not supported: spec.nodeName");
    assert.equal((await h.request("/api/v1/pods?watch=1&resourceVersion=abc")).status, 400);
    assert.equal((await h.request("/api/v1/pods?watch=1&timeoutSeconds=-1")).status, 400);
    const proto = await h.request("/api/v1/pods", {
      accept: "application/vnd.kubernetes.protobuf",
    });
    assert.equal(proto.status, 406);
    assert.equal(proto.json().reason, "NotAcceptable");
    assert.equal(
      (await h.request("/api/v1/pods?watch=1", { accept: "application/yaml" })).status,
      406,
      "no YAML watch streams",
    );
  } finally {
    h.close();
  }
});

Deno.test("handler: LIST with selectors, list kind, apiVersion and resourceVersion", async () => {
  const h = new Harness(SEED);
  try {
    const all = await h.request("/api/v1/pods", { accept: "application/json" });
    assert.equal(all.status, 200);
    const list = all.json();
    assert.deepEqual(Object.keys(list), ["apiVersion", "items", "kind", "metadata"]);
    assert.equal(list.kind, "PodList");
    assert.equal(list.apiVersion, "v1");
    assert.deepEqual(list.metadata, { resourceVersion: "18" });
    assert.deepEqual(
      list.items.map((p: Json) => `${p.metadata.namespace}/${p.metadata.name}`),
      ["default/db-1", "default/web-1", "kube-system/dns-1"],
    );
    const names = async (path: string) =>
      (await h.request(path)).json().items.map((i: Json) => i.metadata.name);
    assert.deepEqual(await names("/api/v1/namespaces/default/pods"), ["db-1", "web-1"]);
    assert.deepEqual(await names("/api/v1/pods?labelSelector=app%3Dweb"), ["web-1"]);
    assert.deepEqual(await names("/api/v1/pods?labelSelector=app%20notin%20(web,db)"), ["dns-1"]);
    assert.deepEqual(await names("/api/v1/pods?labelSelector=app,!tier"), [
      "db-1",
      "web-1",
      "dns-1",
    ]);
    assert.deepEqual(await names("/api/v1/pods?fieldSelector=spec.nodeName%3Dedge-2"), ["db-1"]);
    assert.deepEqual(await names("/api/v1/pods?fieldSelector=status.phase!%3DRunning"), ["db-1"]);
    assert.deepEqual(await names("/api/v1/pods?fieldSelector=metadata.namespace%3Dkube-system"), [
      "dns-1",
    ]);
    assert.deepEqual(await names("/api/v1/pods?fieldSelector=metadata.name%3Dweb-1"), ["web-1"]);
    assert.deepEqual(await names("/api/v1/nodes?labelSelector=role%3Dedge"), ["edge-1"]);
    assert.deepEqual(await names("/api/v1/namespaces/none/pods"), []);
    const cms = (await h.request("/api/v1/namespaces/default/configmaps")).json();
    assert.equal(cms.kind, "ConfigMapList");
    const deps = (await h.request("/apis/apps/v1/deployments")).json();
    assert.equal(deps.apiVersion, "apps/v1");
    assert.equal(deps.kind, "DeploymentList");
    const empty = (await h.request("/apis/batch/v1/jobs")).json();
    assert.deepEqual(empty, {
      apiVersion: "batch/v1",
      items: [],
      kind: "JobList",
      metadata: { resourceVersion: "18" },
    });
    const yaml = await h.request("/api/v1/namespaces/kube-system/pods", {
      accept: "application/yaml",
    });
    assert.deepEqual(parseYaml(yaml.text).items, [SEED[2]]);
    // the revision is the highest resourceversion committed, also after a delete
    h.apply("DELETED", { ...SEED[7], metadata: { name: "default", resourceVersion: "30" } });
    assert.equal((await h.request("/api/v1/pods")).json().metadata.resourceVersion, "30");
  } finally {
    h.close();
  }
});

Deno.test("handler: LIST limit and continue with label and field selectors, as kube-apiserver", async () => {
  const pods = Array.from(
    { length: 30 },
    (_, i) =>
      pod("default", `p-${String(i).padStart(2, "0")}`, 100 + i, { app: i % 3 === 0 ? "a" : "b" }, {
        phase: i % 2 === 1 ? "Running" : "Pending",
      }),
  );
  const h = new Harness(pods, { historyEntries: 2 });
  try {
    /** Every page of `query` with `limit`: the names of each page, and each page's rv. */
    const pages = async (query: string, limit: number) => {
      const names: string[][] = [];
      const rvs = new Set<string>();
      let token = "";
      do {
        const cont = token === "" ? "" : `&continue=${encodeURIComponent(token)}`;
        const r = await h.request(`/api/v1/namespaces/default/pods?${query}&limit=${limit}${cont}`);
        assert.equal(r.status, 200, r.text);
        const list = r.json();
        names.push(list.items.map((p: Json) => p.metadata.name));
        rvs.add(list.metadata.resourceVersion);
        token = list.metadata.continue ?? "";
        assert.ok(names.length < 20, "the pages end");
      } while (token !== "");
      return { names, rvs: [...rvs] };
    };
    const name = (i: number) => `p-${String(i).padStart(2, "0")}`;
    const where = (f: (i: number) => boolean) => pods.map((_, i) => i).filter(f).map(name);
    const byLabel = await pages("labelSelector=app%3Da", 4);
    assert.deepEqual(byLabel.names.map((p) => p.length), [4, 4, 2]);
    assert.deepEqual(byLabel.names.flat(), where((i) => i % 3 === 0));
    assert.deepEqual(byLabel.rvs, ["129"], "every page reports the first page's revision");
    const byField = await pages("fieldSelector=status.phase%3DRunning", 7);
    assert.deepEqual(byField.names.map((p) => p.length), [7, 7, 1]);
    assert.deepEqual(byField.names.flat(), where((i) => i % 2 === 1));
    const both = await pages("labelSelector=app%3Db&fieldSelector=status.phase!%3DRunning", 3);
    assert.deepEqual(both.names.flat(), where((i) => i % 3 !== 0 && i % 2 === 0));
    assert.ok(both.names.slice(0, -1).every((p) => p.length === 3), JSON.stringify(both.names));
    // as kube-apiserver: keys remain after the 10th match (none matches), so a continue
    // token follows, whose page is empty; without a selector a full last page has none
    const exact = await pages("labelSelector=app%3Da", 10);
    assert.deepEqual(exact.names.map((p) => p.length), [10, 0]);
    assert.deepEqual((await pages("", 30)).names.map((p) => p.length), [30]);
    const whole = await pages("", 1000);
    assert.deepEqual(whole.names.flat(), where(() => true));

    // kube-apiserver's Status errors for continue tokens
    const first = (await h.request("/api/v1/pods?limit=2")).json();
    const token = encodeURIComponent(first.metadata.continue);
    const status = async (path: string) => {
      const r = await h.request(path);
      const s = r.json();
      assert.equal(s.kind, "Status");
      assert.equal(s.code, r.status);
      return s;
    };
    const withRv = await status(`/api/v1/pods?limit=2&continue=${token}&resourceVersion=5`);
    assert.deepEqual([withRv.code, withRv.reason, withRv.message], [
      400,
      "BadRequest",
      "specifying resource version is not allowed when using continue",
    ]);
    const notJson = btoa("{not json").replace(/=+$/, "");
    const otherVersion = btoa(JSON.stringify({ v: "v2", rv: 1, start: "x\u0000" }));
    const noStart = btoa(JSON.stringify({ v: "meta.k8s.io/v1", rv: 1, start: "" }));
    for (
      const [bad, message] of [
        [
          "a*b",
          /^invalid continue token: continue key is not valid: illegal base64 data at input byte 1$/,
        ],
        [notJson, /^invalid continue token: continue key is not valid: /],
        [otherVersion.replace(/=+$/, ""), /server does not recognize this encoded version$/],
        [noStart.replace(/=+$/, ""), /encoded start key empty/],
      ] as const
    ) {
      const s = await status(`/api/v1/pods?limit=2&continue=${encodeURIComponent(bad)}`);
      assert.deepEqual([s.code, s.reason], [400, "BadRequest"], bad);
      assert.match(s.message, message);
    }
    // a token whose revision the watch history no longer reaches has expired
    for (let i = 0; i < 3; i++) h.apply("ADDED", pod("default", `late-${i}`, 200 + i));
    const gone = await status(`/api/v1/pods?limit=2&continue=${token}`);
    assert.deepEqual(gone, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "The provided continue parameter is too old to display a consistent list " +
        "result. You can start a new list without the continue parameter.",
      reason: "Expired",
      code: 410,
    });
    const fresh = (await h.request("/api/v1/pods?limit=2")).json();
    assert.equal(fresh.metadata.resourceVersion, "202", "a new list starts at the revision");
  } finally {
    h.close();
  }
});

// ------------------------------------------------------------------ watch

Deno.test("watch: resourceVersion 0 or empty sends the current objects, then live changes", async () => {
  const h = new Harness(SEED);
  try {
    for (const rv of ["", "&resourceVersion=0"]) {
      const w = await h.watch(`/api/v1/namespaces/default/pods?watch=true${rv}`);
      const initial = await w.take(2);
      assert.deepEqual(initial.map((e) => [e.type, e.object.metadata.name]), [
        ["ADDED", "db-1"],
        ["ADDED", "web-1"],
      ]);
      await w.cancel();
    }
    const w = await h.watch("/api/v1/namespaces/default/pods?watch=1");
    await w.take(2);
    h.apply("ADDED", pod("default", "web-2", 20, { app: "web" }));
    h.apply("ADDED", pod("other", "x", 21)); // other namespace
    h.apply("ADDED", {
      ...SEED[3],
      metadata: { ...(SEED[3].metadata as object), resourceVersion: "22" },
    });
    h.apply("MODIFIED", pod("default", "web-2", 23, { app: "web" }, { phase: "Failed" }));
    h.apply("DELETED", pod("default", "web-1", 24, { app: "web" }));
    const live = await w.take(3);
    assert.deepEqual(
      live.map((e) => [e.type, e.object.metadata.name, e.object.metadata.resourceVersion]),
      [
        ["ADDED", "web-2", "20"],
        ["MODIFIED", "web-2", "23"],
        ["DELETED", "web-1", "24"],
      ],
    );
    assert.equal(h.hub.watcherCount, 1);
    await w.cancel();
    assert.equal(h.hub.watcherCount, 0, "a client that goes away frees its watcher");
  } finally {
    h.close();
  }
});

Deno.test("watch: resuming from a listed resourceVersion sends only later changes", async () => {
  const h = new Harness(SEED);
  try {
    h.apply("ADDED", pod("default", "a", 20));
    const listRv = (await h.request("/api/v1/pods")).json().metadata.resourceVersion;
    assert.equal(listRv, "20");
    h.apply("MODIFIED", pod("default", "a", 21)); // between list and watch
    h.apply("ADDED", pod("default", "b", 22));
    const w = await h.watch(`/api/v1/pods?watch=true&resourceVersion=${listRv}`);
    h.apply("DELETED", pod("default", "a", 23));
    const events = await w.take(3);
    assert.deepEqual(events.map((e) => [e.type, e.object.metadata.name]), [
      ["MODIFIED", "a"],
      ["ADDED", "b"],
      ["DELETED", "a"],
    ]);
    assert.deepEqual(await w.pending(), [], "nothing listed before is sent again");
    await w.cancel();
    // from the start revision of the hub: every change since
    const w2 = await h.watch("/api/v1/pods?watch=true&resourceVersion=18");
    assert.equal((await w2.take(4)).length, 4);
    await w2.cancel();
    // a change that does not raise the revision is replayed to watches at that revision
    h.apply("DELETED", pod("default", "b", 5));
    const w3 = await h.watch("/api/v1/pods?watch=true&resourceVersion=23");
    assert.deepEqual((await w3.take(1)).map((e) => [e.type, e.object.metadata.name]), [
      ["DELETED", "b"],
    ]);
    await w3.cancel();
  } finally {
    h.close();
  }
});

Deno.test("watch: a resourceVersion older than the history gets 410 Expired", async () => {
  const h = new Harness(SEED, { historyEntries: 2 });
  try {
    const old = await h.watch("/api/v1/pods?watch=true&resourceVersion=17");
    const [err] = await old.take(1);
    assert.equal(err.type, "ERROR");
    assert.deepEqual(err.object, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "too old resource version: 17 (18)",
      reason: "Expired",
      code: 410,
    });
    assert.equal(await old.ended(), "");
    assert.equal(h.hub.watcherCount, 0);
    for (let i = 0; i < 3; i++) h.apply("ADDED", pod("default", `p${i}`, 30 + i));
    assert.equal(h.hub.historySize, 2);
    assert.equal(h.hub.minResumable, 30n, "p0 raised the revision to 30: resumable from 30");
    const ok = await h.watch("/api/v1/pods?watch=true&resourceVersion=31");
    assert.deepEqual((await ok.take(1)).map((e) => e.object.metadata.name), ["p2"]);
    await ok.cancel();
    const gone = await h.watch("/api/v1/pods?watch=true&resourceVersion=29");
    assert.equal((await gone.take(1))[0].object.code, 410);
  } finally {
    h.close();
  }
});

Deno.test("watch: selectors with Kubernetes semantics (entering ADDED, leaving DELETED)", async () => {
  const h = new Harness(SEED);
  try {
    const w = await h.watch("/api/v1/pods?watch=true&labelSelector=app%3Dweb");
    assert.deepEqual((await w.take(1)).map((e) => e.object.metadata.name), ["web-1"]);
    h.apply("MODIFIED", pod("default", "db-1", 20, { app: "web" })); // enters
    h.apply("MODIFIED", pod("default", "db-1", 21, { app: "web", x: "1" })); // stays
    h.apply("MODIFIED", pod("default", "web-1", 22, { app: "api" })); // leaves
    h.apply("MODIFIED", pod("default", "web-1", 23, { app: "api2" })); // stays out
    h.apply("DELETED", pod("default", "web-1", 24, { app: "web" })); // was out: nothing
    h.apply("ADDED", pod("default", "db-1", 25, { app: "web" })); // existing key: MODIFIED
    h.apply("MODIFIED", pod("default", "new", 26, { app: "web" })); // new key: ADDED
    h.apply("DELETED", pod("default", "gone", 27, { app: "web" })); // never existed: nothing
    const events = await w.take(5);
    assert.deepEqual(
      events.map((e) => [e.type, e.object.metadata.name, e.object.metadata.resourceVersion]),
      [
        ["ADDED", "db-1", "20"],
        ["MODIFIED", "db-1", "21"],
        ["DELETED", "web-1", "22"],
        ["MODIFIED", "db-1", "25"],
        ["ADDED", "new", "26"],
      ],
    );
    assert.deepEqual(await w.pending(), []);
    await w.cancel();
    const f = await h.watch(
      "/api/v1/namespaces/default/pods?watch=true&fieldSelector=status.phase%3DPending",
    );
    h.apply("ADDED", pod("default", "p", 30, {}, { phase: "Pending" }));
    h.apply("ADDED", pod("kube-system", "p", 31, {}, { phase: "Pending" })); // other namespace
    h.apply("MODIFIED", pod("default", "p", 32, {}, { phase: "Running" }));
    assert.deepEqual((await f.take(2)).map((e) => [e.type, e.object.metadata.resourceVersion]), [
      ["ADDED", "30"],
      ["DELETED", "32"],
    ]);
    await f.cancel();
  } finally {
    h.close();
  }
});

Deno.test("watch: a watcher that falls behind is closed with an ERROR, never blocking", async () => {
  const h = new Harness(SEED, { watcherBuffer: 3 });
  try {
    // a client that reads nothing: its body is not even piped
    const slowRes = await h.handler(
      new Request("http://127.0.0.1:10550/api/v1/pods?watch=true&resourceVersion=18"),
    );
    const fast = await h.watch("/api/v1/pods?watch=true&resourceVersion=18");
    h.apply("ADDED", pod("default", "a", 20));
    assert.equal((await fast.take(1))[0].object.metadata.name, "a");
    h.apply("MODIFIED", pod("default", "a", 21));
    h.apply("MODIFIED", pod("default", "a", 22)); // the slow one now holds 3
    assert.equal((await fast.take(2)).length, 2);
    assert.equal(h.hub.watcherCount, 2);
    h.apply("MODIFIED", pod("default", "a", 23)); // one more: the slow one is dropped
    assert.equal(h.hub.watcherCount, 1, "the slow watcher is dropped at once");
    assert.equal((await fast.take(1))[0].object.metadata.resourceVersion, "23");
    const slow = new EventReader(slowRes.body!);
    const [err] = await slow.take(1);
    assert.equal(err.type, "ERROR");
    assert.equal(err.object.code, 410);
    assert.match(err.object.message, /fell more than 3 events behind/);
    assert.equal(await slow.ended(), "");
    await fast.cancel();
  } finally {
    h.close();
  }
});

Deno.test("watch: timeoutSeconds ends the stream; closing the hub ends every stream", async () => {
  const h = new Harness(SEED);
  try {
    const t0 = Date.now();
    const timed = await h.watch("/api/v1/nodes?watch=true&timeoutSeconds=1");
    assert.equal((await timed.take(1))[0].object.metadata.name, "edge-1");
    assert.equal(await timed.ended(), "");
    assert.ok(Date.now() - t0 >= 900, "ended by the timeout");
    const a = await h.watch("/api/v1/pods?watch=true");
    const b = await h.watch("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=18");
    const c = await h.watch(
      "/api/v1/pods?watch=true&resourceVersion=18&timeoutSeconds=99999999999",
    );
    await a.take(3);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.hub.watcherCount, 3, "a huge timeout does not end the watch at once");
    h.hub.close();
    assert.equal(h.hub.watcherCount, 0);
    assert.equal(await a.ended(), "");
    assert.equal(await b.ended(), "");
    assert.equal(await c.ended(), "");
    const late = await h.watch("/api/v1/pods?watch=true&resourceVersion=18");
    assert.equal(await late.ended(), "", "no new watches after close");
  } finally {
    h.close();
  }
});

Deno.test("watch: one object by name, legacy /watch/ path, initial-events bookmark", async () => {
  const h = new Harness(SEED);
  try {
    const one = await h.watch("/api/v1/watch/namespaces/default/pods/web-1");
    assert.deepEqual((await one.take(1)).map((e) => e.object.metadata.name), ["web-1"]);
    h.apply("MODIFIED", pod("default", "db-1", 20));
    h.apply("MODIFIED", pod("default", "web-1", 21));
    assert.deepEqual((await one.take(1)).map((e) => e.object.metadata.resourceVersion), ["21"]);
    await one.cancel();
    const byField = await h.watch(
      "/api/v1/nodes?watch=true&resourceVersion=21&fieldSelector=metadata.name%3Dedge-1",
    );
    h.apply("ADDED", {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "edge-2", resourceVersion: "22" },
    });
    h.apply("MODIFIED", {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "edge-1", resourceVersion: "23" },
    });
    assert.deepEqual((await byField.take(1)).map((e) => [e.type, e.object.metadata.name]), [
      ["MODIFIED", "edge-1"],
    ]);
    await byField.cancel();
    const wl = await h.watch(
      "/api/v1/namespaces/kube-system/pods?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan",
    );
    const [added, bookmark] = await wl.take(2);
    assert.equal(added.type, "ADDED");
    assert.equal(bookmark.type, "BOOKMARK");
    assert.deepEqual(bookmark.object, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { annotations: { "k8s.io/initial-events-end": "true" }, resourceVersion: "23" },
    });
    await wl.cancel();
  } finally {
    h.close();
  }
});

Deno.test("watch: initial events are read in pages as the client takes them", async () => {
  const COUNT = 3000;
  const name = (i: number) => `q-${String(i).padStart(4, "0")}`;
  const pods = Array.from({ length: COUNT }, (_, i) => pod("paged", name(i), 1000 + i));
  const h = new Harness(pods);
  try {
    const w = await h.watch(
      "/api/v1/namespaces/paged/pods?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan",
    );
    const events = await w.take(10);
    assert.deepEqual(
      events.map((e) => e.object.metadata.name),
      pods.slice(0, 10).map((_, i) => name(i)),
    );
    // changes while the pages are read: to an object already sent (an event), to objects
    // whose page is not read yet (no event: the page shows them as they are then)
    h.apply("MODIFIED", pod("paged", name(5), 5000));
    h.apply("MODIFIED", pod("paged", name(2900), 5001));
    h.apply("DELETED", pod("paged", name(2901), 5002));
    h.apply("ADDED", pod("paged", "q-9999", 5003));
    for (;;) {
      const [e] = await w.take(1);
      events.push(e);
      if (e.type === "BOOKMARK") break;
    }
    const of = (type: string) => events.filter((e) => e.type === type);
    const added = of("ADDED").map((e) => e.object.metadata.name);
    assert.equal(added.length, COUNT, "every object once: one deleted, one added");
    assert.equal(new Set(added).size, COUNT);
    assert.ok(!added.includes(name(2901)), "an object deleted before its page is not sent");
    assert.equal(added.at(-1), "q-9999");
    const late = of("ADDED").find((e) => e.object.metadata.name === name(2900));
    assert.equal(late?.object.metadata.resourceVersion, "5001", "its page shows the change");
    assert.deepEqual(
      of("MODIFIED").map((e) => [e.object.metadata.name, e.object.metadata.resourceVersion]),
      [[name(5), "5000"]],
    );
    assert.deepEqual(of("DELETED"), []);
    assert.equal(events.at(-1)?.object.metadata.resourceVersion, "5003");
    // after the initial events, every change is sent
    h.apply("MODIFIED", pod("paged", name(2900), 5004));
    assert.deepEqual((await w.take(1)).map((e) => [e.type, e.object.metadata.resourceVersion]), [
      ["MODIFIED", "5004"],
    ]);
    await w.cancel();
    assert.equal(h.hub.watcherCount, 0);
  } finally {
    h.close();
  }
});

Deno.test("watch: slow watchers closed are counted and logged once per window, with the count", async () => {
  const lines: string[] = [];
  const h = new Harness(SEED, {
    watcherBuffer: 1,
    logger: createLogger("warn", (l) => lines.push(l)),
  });
  try {
    const bodies = [];
    for (let i = 0; i < 50; i++) {
      const res = await h.handler(
        new Request("http://127.0.0.1:10550/api/v1/pods?watch=true&resourceVersion=18"),
      );
      bodies.push(res.body!);
    }
    h.apply("ADDED", pod("default", "a", 20));
    h.apply("MODIFIED", pod("default", "a", 21)); // every watcher is now 2 behind
    assert.equal(h.hub.watcherCount, 0);
    assert.equal(h.hub.slowClosed, 50);
    const slow = lines.filter((l) => /slow watchers closed/.test(l));
    assert.equal(slow.length, 1, lines.join("\n"));
    assert.match(
      slow[0],
      /WARN metaserver: slow watchers closed gvr="\/v1, Resource=pods" .*count=1 window_s=10$/,
    );
    for (const b of bodies) await b.cancel();
  } finally {
    h.close();
  }
});

Deno.test("watch hub: publish never throws and history stays bounded by size", () => {
  const hub = new WatchHub({ historyEntries: 100, historyChars: 50 });
  const row = rowForObject(pod("default", "a", 1));
  hub.publish([{ type: "ADDED", row }, { type: "MODIFIED", row: { ...row, value: "not json" } }]);
  assert.equal(hub.historySize, 1, "bounded by characters, at least one entry kept");
  assert.equal(hub.revision, 1n);
  hub.close();
});

Deno.test("watch hub: by default a watch can resume across the last 1,000 changes, not more", () => {
  const hub = new WatchHub();
  const publish = (rv: number) =>
    hub.publish([{ type: "ADDED", row: rowForObject(pod("ns", `p${rv}`, rv)) }]);
  for (let rv = 1; rv <= 1000; rv++) publish(rv);
  assert.equal(hub.historySize, 1000);
  assert.equal(hub.minResumable, 0n, "a list taken before the first change can still resume");
  publish(1001);
  assert.equal(hub.historySize, 1000, "the oldest change is dropped");
  assert.equal(hub.minResumable, 1n, "a watch from before it gets 410 Expired");
  hub.close();
});

Deno.test("watch hub: by default the history holds at most 4 MiB of stored objects", () => {
  const hub = new WatchHub();
  const big = "x".repeat(1024 * 1024);
  for (let rv = 1; rv <= 6; rv++) {
    const row = rowForObject(pod("ns", `p${rv}`, rv));
    hub.publish([{ type: "ADDED", row: { ...row, value: row.value + big } }]);
  }
  assert.equal(hub.historySize, 3, "three objects of just over 1 MiB fit in 4 MiB, four do not");
  hub.close();
});

Deno.test("watch fed by the MetaManager: selectors judge each change by the object it stored", async () => {
  const h = new Harness();
  const none = () => Promise.reject(new Error("timeout to get response"));
  const bus = { send() {}, sendToGroup() {}, sendResp() {}, sendSync: none };
  const mm = new MetaManager({ store: h.store, bus, mode: "fixed", onChanges: h.hub });
  const write = (operation: string, obj: Record<string, unknown>) => {
    const meta = obj.metadata as { name: string };
    mm.handle(parseMessage(JSON.stringify({
      header: { msg_id: `${operation}-${meta.name}` },
      route: {
        source: "edgecontroller",
        group: "resource",
        operation,
        resource: `default/pod/${meta.name}`,
      },
      content: obj,
    })));
  };
  try {
    const w = await h.watch("/api/v1/pods?watch=true&labelSelector=app%3Dweb");
    write("insert", pod("default", "a", 40, { app: "web" }));
    write("insert", pod("default", "b", 41, { app: "db" }));
    write("update", pod("default", "b", 42, { app: "web" })); // enters
    write("update", pod("default", "a", 43, { app: "db" })); // leaves
    write("delete", pod("default", "a", 44, { app: "db" })); // was out: nothing
    assert.deepEqual(
      (await w.take(3)).map((
        e,
      ) => [e.type, e.object.metadata.name, e.object.metadata.resourceVersion]),
      [["ADDED", "a", "40"], ["ADDED", "b", "42"], ["DELETED", "a", "43"]],
    );
    assert.deepEqual(await w.pending(), []);
    await w.cancel();
  } finally {
    h.close();
  }
});
