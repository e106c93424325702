/**
 * The MetaServer serves any resource from `meta_v2` as KubeEdge does (issue 18, step 1):
 * KubeEdge's own integration test (edge/test/integration/metaserver, nine HTTP cases),
 * custom and cluster-scoped resources outside the table (get, list, watch, Tables with
 * the generic Name/Age columns), kind guessing, and discovery of stored resources.
 */

import assert from "node:assert/strict";
import { Store } from "../src/store/store.ts";
import { rowForObject } from "../src/store/meta_v2.ts";
import { createMetaServerHandler } from "../src/metaserver/handler.ts";
import { WatchHub } from "../src/metaserver/watch.ts";
import { resolveResource, unsafeResourceToKind } from "../src/metaserver/any_resource.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

class Harness {
  readonly store = Store.open(":memory:");
  readonly hub: WatchHub;
  readonly handler: (req: Request) => Response | Promise<Response>;

  constructor(objects: Record<string, unknown>[] = []) {
    for (const o of objects) this.store.metaV2.insertOrReplace(rowForObject(o));
    this.hub = new WatchHub({ rows: this.store.metaV2.all() });
    this.handler = createMetaServerHandler({ store: this.store.metaV2, hub: this.hub });
  }

  async request(path: string, accept?: string): Promise<{ status: number; json: Json }> {
    const headers = accept ? { accept } : undefined;
    const res = await this.handler(new Request(`http://127.0.0.1:10550${path}`, { headers }));
    const text = await res.text();
    return { status: res.status, json: text === "" ? undefined : JSON.parse(text) };
  }

  insert(o: Record<string, unknown>): void {
    const row = rowForObject(o);
    this.store.metaV2.insertOrReplace(row);
    this.hub.publish([{ type: "ADDED", row }]);
  }

  close(): void {
    this.hub.close();
    this.store.close();
  }
}

function device(ns: string, name: string, rv: number): Record<string, unknown> {
  return {
    apiVersion: "devices.kubeedge.io/v1beta1",
    kind: "Device",
    metadata: {
      name,
      namespace: ns,
      resourceVersion: String(rv),
      creationTimestamp: "2024-01-01T00:00:00Z",
      labels: { model: "thermo" },
    },
    spec: { deviceModelRef: { name: "thermo" } },
  };
}

Deno.test("any resource: the nine cases of KubeEdge's MetaServer integration test", async () => {
  const h = new Harness();
  try {
    const cases: [string, number][] = [
      ["/api/v1/nodes", 200],
      ["/api/v1/namespaces/ns/pods", 200],
      ["/apis/apiextensions.k8s.io/v1beta1/customresourcedefinitions", 200],
      ["/apis/apps/v1/namespaces/ns-foo/jobs", 200],
      ["/api/v1/nodes/node-foo", 404],
      ["/api/v1/namespaces/ns/pods/pod-foo", 404],
      ["/apis/apiextensions.k8s.io/v1beta1/customresourcedefinitions/crd-foo", 404],
      ["/apis/apps/v1/namespaces/ns-foo/jobs/job-foo", 404],
      ["/api/v1/nodes/node-foo/baz", 404],
    ];
    // names no resource can have are not lists
    cases.push(["/api/etc/passwd", 404], ["/apis/x/v1/Widgets", 404], ["/apis/x/V1/widgets", 404]);
    for (const [path, status] of cases) {
      const r = await h.request(path);
      assert.equal(r.status, status, path);
    }
    const crds = await h.request("/apis/apiextensions.k8s.io/v1beta1/customresourcedefinitions");
    assert.deepEqual(
      [crds.json.apiVersion, crds.json.kind, crds.json.items],
      ["apiextensions.k8s.io/v1beta1", "CustomResourceDefinitionList", []],
    );
    const jobs = await h.request("/apis/apps/v1/namespaces/ns-foo/jobs");
    assert.equal(jobs.json.kind, "JobList", "kind guessed from the plural");
    const nf = await h.request("/apis/apps/v1/namespaces/ns-foo/jobs/job-foo");
    assert.deepEqual(nf.json.details, { name: "job-foo", group: "apps", kind: "jobs" });
    assert.equal(nf.json.message, 'jobs.apps "job-foo" not found');
  } finally {
    h.close();
  }
});

Deno.test("any resource: KubeEdge's kind guess from the plural", () => {
  const cases: [string, string][] = [
    ["devices", "Devic"], // v1.10's rule strips "es" (later releases strip "es" only after "s")
    ["policies", "Policy"],
    ["leases", "Leas"],
    ["endpoints", "Endpoints"],
    ["nodes", "Node"],
    ["customresourcedefinitions", "CustomResourceDefinition"],
    ["gateways", "Gateway"],
    ["classes", "Class"],
    ["jobs", "Job"],
  ];
  for (const [plural, kind] of cases) assert.equal(unsafeResourceToKind(plural), kind, plural);
});

Deno.test("any resource: custom resources get, list, watch and Tables from meta_v2", async () => {
  const h = new Harness([
    device("default", "thermo-1", 31),
    device("plant", "thermo-2", 32),
    {
      apiVersion: "networking.istio.io/v1",
      kind: "Gateway",
      metadata: { name: "gw", namespace: "default", resourceVersion: "33" },
    },
    {
      apiVersion: "example.io/v1",
      kind: "Cluster",
      metadata: { name: "c1", resourceVersion: "34" },
    },
  ]);
  try {
    const all = await h.request("/apis/devices.kubeedge.io/v1beta1/devices");
    assert.equal(all.status, 200);
    assert.equal(all.json.kind, "DeviceList");
    assert.deepEqual(all.json.items.map((i: Json) => i.metadata.name), ["thermo-1", "thermo-2"]);
    const ns = await h.request("/apis/devices.kubeedge.io/v1beta1/namespaces/plant/devices");
    assert.deepEqual(ns.json.items.map((i: Json) => i.metadata.name), ["thermo-2"]);
    const sel = await h.request(
      "/apis/devices.kubeedge.io/v1beta1/devices?labelSelector=model%3Dnope",
    );
    assert.deepEqual(sel.json.items, []);
    const one = await h.request(
      "/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/thermo-1",
    );
    assert.equal(one.status, 200);
    assert.deepEqual(one.json, device("default", "thermo-1", 31));
    assert.equal(
      (await h.request("/apis/devices.kubeedge.io/v1beta1/namespaces/default/devices/x")).status,
      404,
    );
    // Stored as KubeEdge guesses the plural of Gateway (gatewaies), still found as gateways.
    const gw = await h.request("/apis/networking.istio.io/v1/namespaces/default/gateways/gw");
    assert.equal(gw.status, 200);
    assert.equal(gw.json.kind, "Gateway");
    const cluster = await h.request("/apis/example.io/v1/clusters/c1");
    assert.equal(cluster.status, 200, "cluster-scoped custom resource");

    const table = await h.request("/apis/devices.kubeedge.io/v1beta1/devices", TABLE_ACCEPT);
    assert.equal(table.json.kind, "Table");
    assert.deepEqual(
      table.json.columnDefinitions.map((c: Json) => [c.name, c.type]),
      [["Name", "string"], ["Age", "date"]],
    );
    assert.equal(table.json.rows[0].cells[0], "thermo-1");
    assert.match(table.json.rows[0].cells[1], /^\d+(y|d|h|m|s)/);

    const res = await h.handler(
      new Request(
        "http://127.0.0.1:10550/apis/devices.kubeedge.io/v1beta1/namespaces/plant/devices?watch=1",
      ),
    );
    assert.equal(res.status, 200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    const next = async (): Promise<Json> => {
      while (!buf.includes("\n")) {
        const r = await reader.read();
        if (r.done) throw new Error("watch ended");
        buf += r.value;
      }
      const line = buf.slice(0, buf.indexOf("\n"));
      buf = buf.slice(buf.indexOf("\n") + 1);
      return JSON.parse(line);
    };
    const first = await next();
    assert.deepEqual([first.type, first.object.metadata.name], ["ADDED", "thermo-2"]);
    h.insert(device("default", "thermo-9", 40)); // other namespace: not sent
    h.insert(device("plant", "thermo-3", 41));
    const live = await next();
    assert.deepEqual([live.type, live.object.metadata.name], ["ADDED", "thermo-3"]);
    await reader.cancel();
  } finally {
    h.close();
  }
});

Deno.test("any resource: stored resources appear in discovery, the table's stay as they are", async () => {
  const h = new Harness();
  try {
    const before = await h.request("/apis");
    assert.ok(!before.json.groups.some((g: Json) => g.name === "devices.kubeedge.io"));
    assert.equal((await h.request("/apis/devices.kubeedge.io/v1beta1")).status, 404);
    h.insert(device("default", "thermo-1", 31));
    h.insert({
      apiVersion: "example.io/v1",
      kind: "Cluster",
      metadata: { name: "c1", resourceVersion: "34" },
    });
    const groups = await h.request("/apis");
    const g = groups.json.groups.find((x: Json) => x.name === "devices.kubeedge.io");
    assert.deepEqual(g.preferredVersion, {
      groupVersion: "devices.kubeedge.io/v1beta1",
      version: "v1beta1",
    });
    assert.equal((await h.request("/apis/devices.kubeedge.io")).json.kind, "APIGroup");
    const list = await h.request("/apis/devices.kubeedge.io/v1beta1");
    assert.deepEqual(list.json.resources, [{
      name: "devices",
      singularName: "device",
      namespaced: true,
      kind: "Device",
      verbs: ["get", "list", "watch"],
    }]);
    const cluster = await h.request("/apis/example.io/v1");
    assert.equal(cluster.json.resources[0].namespaced, false);
    const core = await h.request("/api/v1");
    assert.ok(core.json.resources.some((r: Json) => r.name === "pods"));
    assert.equal(
      resolveResource(h.store.metaV2, "", "v1", "pods")?.generic,
      undefined,
      "the table's resources are not generic",
    );
  } finally {
    h.close();
  }
});
