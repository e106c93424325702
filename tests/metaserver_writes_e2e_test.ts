/**
 * End to end (issue 18): writes and reads through the cloud. A real `serve`, a stand-in
 * cloud attached over the WebSocket endpoint that answers applications as KubeEdge's
 * dynamiccontroller does (tests/support/cloud_peer.ts), and the real `kubectl`: create -f,
 * apply, replace -f, patch (three types), delete, a Lease created and renewed by apply; a GET while
 * connected returns the cloud's newer object and stores it; custom resources list and
 * watch; a write while disconnected fails at once with 503.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { KUBECTL, Kubectl, WAIT_MS } from "./support/kubectl.ts";
import { ServeProcess } from "./support/serve_process.ts";
import { CloudPeer } from "./support/cloud_peer.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

function storedValue(db: string, gvr: string, ns: string, name: string): Json | undefined {
  const d = new DatabaseSync(db, { readOnly: true });
  try {
    const row = d.prepare(
      "SELECT value FROM meta_v2 WHERE groupversionresource = ? AND namespace = ? AND name = ?",
    ).get(gvr, ns, name) as { value: string } | undefined;
    return row ? JSON.parse(row.value) : undefined;
  } finally {
    d.close();
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const CONFIGMAP = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "app-config", namespace: "default" },
  data: { mode: "edge" },
};

function lease(holder: string, renew: string) {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name: "leader", namespace: "kube-system" },
    spec: { holderIdentity: holder, leaseDurationSeconds: 15, renewTime: renew },
  };
}

Deno.test({
  name: "MetaServer writes and reads through the cloud with kubectl",
  ignore: KUBECTL === undefined,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "metaserver-writes-" });
    const db = `${dir}/e.db`;
    await Deno.mkdir(`${dir}/home`);
    const serve = await ServeProcess.start({ db, args: ["--log-level", "debug"] });
    let cloud: CloudPeer | undefined;
    try {
      cloud = await CloudPeer.attach(serve.address);
      const kubectl = new Kubectl(serve.baseUrl, `${dir}/home`);
      const file = async (name: string, obj: unknown) => {
        const path = `${dir}/${name}.json`;
        await Deno.writeTextFile(path, JSON.stringify(obj));
        return path;
      };
      const cmKey = "/core/v1/configmaps/default/app-config";

      await t.step(
        "create -f: the cloud creates it, the node stores the cloud's insert",
        async () => {
          const out = await kubectl.ok("create", "-f", await file("cm", CONFIGMAP));
          assert.match(out, /configmap\/app-config created/);
          const app = cloud!.applications.find((a) => a.Verb === "create")!;
          assert.equal(app.Key, "/core/v1/configmaps/default/null");
          assert.equal(app.ReqBody.data.mode, "edge");
          assert.match(app.ID, /^[0-9a-f]{32}$/, "MD5 id");
          assert.equal(typeof app.raw.ReqBody, "string", "ReqBody is base64");
          await until(
            "the insert stored",
            () =>
              storedValue(db, "/v1, Resource=configmaps", "default", "app-config") !== undefined,
          );
          const again = await kubectl.run("create", "-f", `${dir}/cm.json`);
          assert.notEqual(again.code, 0);
          assert.match(again.stderr, /AlreadyExists|already exists/, again.stderr);
        },
      );

      await t.step("patch with merge, strategic merge and JSON patch", async () => {
        await kubectl.ok(
          "patch",
          "configmap",
          "app-config",
          "--type",
          "merge",
          "-p",
          '{"data":{"merge":"1"}}',
        );
        await kubectl.ok(
          "patch",
          "configmap",
          "app-config",
          "--type",
          "strategic",
          "-p",
          '{"data":{"strategic":"2"}}',
        );
        await kubectl.ok(
          "patch",
          "configmap",
          "app-config",
          "--type",
          "json",
          "-p",
          '[{"op":"add","path":"/data/json","value":"3"}]',
        );
        const types = cloud!.applications.filter((a) => a.Verb === "patch").map((a) =>
          a.ReqBody.PatchType
        );
        assert.deepEqual(types, [
          "application/merge-patch+json",
          "application/strategic-merge-patch+json",
          "application/json-patch+json",
        ]);
        await until("the patched object stored", () => {
          const v = storedValue(db, "/v1, Resource=configmaps", "default", "app-config");
          return v?.data?.json === "3" && v?.data?.merge === "1" && v?.data?.strategic === "2";
        });
      });

      await t.step("apply -f updates it with kubectl's patch", async () => {
        const out = await kubectl.ok(
          "apply",
          "-f",
          await file("cm2", { ...CONFIGMAP, data: { mode: "applied" } }),
        );
        assert.match(out, /configmap\/app-config (configured|created)/);
        await until(
          "the applied object stored",
          () =>
            storedValue(db, "/v1, Resource=configmaps", "default", "app-config")?.data?.mode ===
              "applied",
        );
      });

      await t.step("replace -f: an update with the whole object", async () => {
        const current = JSON.parse(
          await kubectl.ok("get", "configmap", "app-config", "-o", "json"),
        );
        current.data = { mode: "replaced" };
        const out = await kubectl.ok("replace", "-f", await file("cm3", current));
        assert.match(out, /configmap\/app-config replaced/);
        const update = cloud!.applications.filter((a) => a.Verb === "update").at(-1)!;
        assert.equal(update.Key, "/core/v1/configmaps/default/app-config");
        await until(
          "the replaced object stored",
          () =>
            storedValue(db, "/v1, Resource=configmaps", "default", "app-config")?.data?.mode ===
              "replaced",
        );
      });

      await t.step(
        "GET while connected returns the cloud's newer object and stores it",
        async () => {
          const newer = cloud!.put(cmKey, {
            ...cloud!.objects.get(cmKey),
            data: { mode: "newer-in-cloud" },
          });
          const got = JSON.parse(await kubectl.ok("get", "configmap", "app-config", "-o", "json"));
          assert.equal(got.data.mode, "newer-in-cloud");
          assert.equal(got.metadata.resourceVersion, newer.metadata.resourceVersion);
          await until(
            "the cloud's object stored",
            () =>
              storedValue(db, "/v1, Resource=configmaps", "default", "app-config")?.data?.mode ===
                "newer-in-cloud",
          );
        },
      );

      await t.step(
        "a Lease is created and renewed by apply, as a leader-election client",
        async () => {
          const created = await kubectl.ok(
            "create",
            "-f",
            await file("lease1", lease("node-a", "2024-01-01T00:00:00.000000Z")),
          );
          assert.match(created, /lease.coordination.k8s.io\/leader created/);
          await kubectl.ok(
            "apply",
            "-f",
            await file("lease2", lease("node-a", "2024-01-01T00:00:10.000000Z")),
          );
          const patch = cloud!.applications.filter((a) => a.Verb === "patch").at(-1)!;
          assert.equal(patch.Key, "/coordination.k8s.io/v1/leases/kube-system/leader");
          assert.equal(patch.ReqBody.PatchType, "application/strategic-merge-patch+json");
          await until(
            "the renewed lease stored",
            () =>
              storedValue(db, "coordination.k8s.io/v1, Resource=leases", "kube-system", "leader")
                ?.spec?.renewTime === "2024-01-01T00:00:10.000000Z",
          );
        },
      );

      await t.step("delete: the cloud deletes it, then the node's copy goes", async () => {
        const out = await kubectl.ok("delete", "configmap", "app-config", "--wait=false");
        assert.match(out, /deleted/);
        await until(
          "the delete applied",
          () => storedValue(db, "/v1, Resource=configmaps", "default", "app-config") === undefined,
        );
        const missing = await kubectl.run("delete", "configmap", "app-config", "--wait=false");
        assert.notEqual(missing.code, 0);
        assert.match(missing.stderr, /NotFound|not found/);
      });

      await t.step("custom resources: list and watch, and the watch application", async () => {
        const device = {
          apiVersion: "devices.kubeedge.io/v1beta1",
          kind: "Device",
          metadata: { name: "thermo-1", namespace: "default" },
          spec: { deviceModelRef: { name: "thermo" } },
        };
        const stored = cloud!.put("/devices.kubeedge.io/v1beta1/devices/default/thermo-1", device);
        cloud!.sendToNode("insert", stored);
        await until(
          "the device stored",
          () =>
            storedValue(
              db,
              "devices.kubeedge.io/v1beta1, Resource=devices",
              "default",
              "thermo-1",
            ) !==
              undefined,
        );
        const list = await kubectl.ok("get", "devices.v1beta1.devices.kubeedge.io", "-A");
        assert.match(list, /thermo-1/);
        const watch = kubectl.spawn(
          "get",
          "devices.v1beta1.devices.kubeedge.io",
          "-n",
          "default",
          "-w",
          "--output-watch-events",
        );
        try {
          await watch.waitForLines(2);
          await until(
            "the watch application",
            () =>
              cloud!.applications.some((a) =>
                a.Verb === "watch" && a.Key === "/devices.kubeedge.io/v1beta1/devices/default/null"
              ),
          );
          const second = cloud!.put("/devices.kubeedge.io/v1beta1/devices/default/thermo-2", {
            ...device,
            metadata: { name: "thermo-2", namespace: "default" },
          });
          cloud!.sendToNode("insert", second);
          const lines = await watch.waitForLines(3);
          assert.match(lines[2], /ADDED\s+thermo-2/);
        } finally {
          await watch.stop();
        }
      });

      await t.step(
        "a write while disconnected fails at once with 503; reads stay local",
        async () => {
          await cloud!.close();
          cloud = undefined;
          await new Promise((r) => setTimeout(r, 200));
          const started = performance.now();
          const r = await fetch(`${serve.baseUrl}/api/v1/namespaces/default/configmaps`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(CONFIGMAP),
          });
          const ms = performance.now() - started;
          const body = await r.json();
          assert.equal(r.status, 503);
          assert.equal(body.reason, "ServiceUnavailable");
          assert.match(body.message, /offline/);
          assert.ok(ms < 2000, `answered in ${ms.toFixed(0)} ms`);
          const t0 = performance.now();
          const get = await fetch(
            `${serve.baseUrl}/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/leader`,
          );
          assert.equal(get.status, 200);
          await get.body?.cancel();
          assert.ok(performance.now() - t0 < 2000, "offline read is local at once");
        },
      );
    } finally {
      await cloud?.close();
      await serve.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
