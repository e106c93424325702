/**
 * The application round-trip (spec/metaserver.md §6) at the handler: the Application JSON
 * (field names, base64 byte fields, MD5 id), SendSync to the cloud module, de-duplication
 * of identical in-flight applications, Approved / Rejected and the Status a client sees,
 * 500 on timeout (strict) and what fixed mode does instead, writes turned off (405).
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { MessageBus } from "../src/beehive/bus.ts";
import { Content, type Message, newMessage, systemIdentity } from "../src/beehive/message.ts";
import { Store } from "../src/store/store.ts";
import { rowForObject } from "../src/store/meta_v2.ts";
import { inject } from "../src/metamanager/inject.ts";
import { metaServerStoreMessage } from "../src/metamanager/process.ts";
import { createMetaServerHandler } from "../src/metaserver/handler.ts";
import { WatchHub } from "../src/metaserver/watch.ts";
import {
  APPLICATION_RESPONSE,
  ApplicationAgent,
  applicationId,
} from "../src/metaserver/application.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const b64 = (s: string) => btoa(s);
const unb64 = (s: string) => atob(s);

/** A bus with a `websocket` module whose answers a test scripts. */
class Cloud {
  readonly bus = new MessageBus();
  readonly seen: Json[] = [];
  connected = true;
  answer: (app: Json) => Json | undefined = () => undefined;
  #abort = new AbortController();

  constructor() {
    this.bus.addModule("websocket", "hub");
    this.#loop();
  }

  async #loop(): Promise<void> {
    for (;;) {
      let m: Message;
      try {
        m = await this.bus.receive("websocket", this.#abort.signal);
      } catch {
        return;
      }
      const app = m.content.value() as Json;
      this.seen.push({ route: m.route, sync: m.header.sync, app });
      const reply = this.answer(app);
      if (reply === undefined) continue;
      setTimeout(() => {
        const r = newMessage(m.header.msgId, systemIdentity);
        r.route = {
          ...r.route,
          source: "dynamiccontroller",
          group: "resource",
          resource: "ignore/Application/ignore",
          operation: APPLICATION_RESPONSE,
        };
        r.content = Content.fromWire(JSON.stringify({ ...app, ...reply }));
        this.bus.sendResp(r);
      }, 20);
    }
  }

  agent(strict = false, timeoutMs = 10_000): ApplicationAgent {
    return new ApplicationAgent({
      bus: this.bus,
      cloudModule: "websocket",
      nodeName: "edge-1",
      identity: systemIdentity,
      connected: () => this.connected,
      failFastOffline: !strict,
      timeoutMs,
      readTimeoutMs: 300,
    });
  }

  close(): void {
    this.#abort.abort();
  }
}

function harness(agent: ApplicationAgent | undefined, writes = true) {
  const store = Store.open(":memory:");
  store.metaV2.insertOrReplace(rowForObject({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "local", namespace: "default", resourceVersion: "5" },
    data: { from: "local" },
  }));
  const hub = new WatchHub({ rows: store.metaV2.all() });
  const stored: Json[] = [];
  const texts: string[] = [];
  const handler = createMetaServerHandler({
    store: store.metaV2,
    hub,
    cloud: agent,
    writes,
    onCloudObject: (o, text) => {
      stored.push(o);
      texts.push(text);
    },
  });
  const request = async (method: string, path: string, body?: unknown, type?: string) => {
    const res = await handler(
      new Request(`http://127.0.0.1:10550${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": type ?? "application/json" },
        body: body === undefined
          ? undefined
          : typeof body === "string"
          ? body
          : JSON.stringify(body),
      }),
    );
    const text = await res.text();
    return { status: res.status, json: text === "" ? undefined : JSON.parse(text) as Json };
  };
  return {
    request,
    stored,
    texts,
    close: () => {
      hub.close();
      store.close();
    },
  };
}

const CM = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "c", namespace: "default" },
  data: { a: "1" },
};

Deno.test("application: JSON field names, base64 bytes, MD5 id, the message to the cloud", async () => {
  const cloud = new Cloud();
  const h = harness(cloud.agent());
  try {
    cloud.answer = (app) => ({
      Status: "Approved",
      RespBody: b64(JSON.stringify({ ...JSON.parse(unb64(app.ReqBody)), created: true })),
    });
    const r = await h.request("POST", "/api/v1/namespaces/default/configmaps?fieldManager=me", CM);
    assert.equal(r.status, 201);
    assert.equal(r.json.created, true, "answered with the cloud's result");
    const { route, sync, app } = cloud.seen[0];
    assert.deepEqual(
      [route.source, route.group, route.resource, route.operation, sync],
      ["metaserver", "dynamiccontroller", "null", "null", true],
    );
    assert.deepEqual(Object.keys(app), [
      "ID",
      "Key",
      "Verb",
      "Nodename",
      "Status",
      "Reason",
      "Option",
      "ReqBody",
      "RespBody",
    ]);
    assert.deepEqual(
      [app.Key, app.Verb, app.Nodename, app.Status, app.RespBody],
      ["/core/v1/configmaps/default/null", "create", "edge-1", "PreApplying", null],
    );
    assert.deepEqual(JSON.parse(unb64(app.Option)), { fieldManager: "me" });
    assert.deepEqual(JSON.parse(unb64(app.ReqBody)), CM);
    const md5 = createHash("md5").update(
      "edge-1" + app.Key + app.Verb + unb64(app.Option) + unb64(app.ReqBody),
    ).digest("hex");
    assert.equal(app.ID, md5);
    assert.equal(h.stored.length, 0, "a write stores nothing itself");
  } finally {
    h.close();
    cloud.close();
  }
});

Deno.test("application: verbs of update, update of /status, patch types, delete", async () => {
  const cloud = new Cloud();
  const h = harness(cloud.agent());
  try {
    cloud.answer = () => ({ Status: "Approved", RespBody: b64(JSON.stringify(CM)) });
    const base = "/api/v1/namespaces/default/configmaps/c";
    assert.equal((await h.request("PUT", base, CM)).status, 200);
    assert.equal((await h.request("PUT", base + "/status", CM)).status, 200);
    for (
      const t of [
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/json-patch+json",
      ]
    ) {
      const body = t === "application/json-patch+json"
        ? '[{"op":"add","path":"/data/b","value":"2"}]'
        : '{"data":{"b":"2"}}';
      assert.equal((await h.request("PATCH", base, body, t)).status, 200, t);
    }
    const bad = await h.request("PATCH", base, "{}", "application/apply-patch+yaml");
    assert.equal(bad.status, 415);
    assert.equal(
      (await h.request("DELETE", base, { propagationPolicy: "Background" })).status,
      200,
    );
    const apps = cloud.seen.map((s) => s.app);
    assert.deepEqual(apps.map((a) => a.Verb), [
      "update",
      "updatestatus",
      "patch",
      "patch",
      "patch",
      "delete",
    ]);
    assert.equal(apps[0].Key, "/core/v1/configmaps/default/c");
    const patch = JSON.parse(unb64(apps[4].ReqBody));
    assert.equal(patch.PatchType, "application/json-patch+json");
    assert.equal(unb64(patch.Data), '[{"op":"add","path":"/data/b","value":"2"}]');
    assert.deepEqual(JSON.parse(unb64(apps[5].Option)), { propagationPolicy: "Background" });
    assert.equal(apps[5].ReqBody, null);
  } finally {
    h.close();
    cloud.close();
  }
});

Deno.test("application: Rejected gives the apiserver's Status, or 500 with the reason", async () => {
  const cloud = new Cloud();
  const h = harness(cloud.agent());
  try {
    const exists = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'configmaps "c" already exists',
      reason: "AlreadyExists",
      details: { name: "c", kind: "configmaps" },
      code: 409,
    };
    cloud.answer = () => ({
      Status: "Rejected",
      Reason: exists.message,
      Error: { ErrStatus: exists },
    });
    const r = await h.request("POST", "/api/v1/namespaces/default/configmaps", CM);
    assert.equal(r.status, 409);
    assert.deepEqual(r.json, exists);
    cloud.answer = () => ({ Status: "Rejected", Reason: "forbidden by the cloud" });
    const plain = await h.request("POST", "/api/v1/namespaces/default/configmaps", CM);
    assert.equal(plain.status, 500);
    assert.equal(plain.json.reason, "InternalError");
    assert.match(plain.json.message, /forbidden by the cloud/);
  } finally {
    h.close();
    cloud.close();
  }
});

Deno.test("application: identical applications in flight are sent once", async () => {
  const cloud = new Cloud();
  const h = harness(cloud.agent());
  try {
    cloud.answer = () => ({ Status: "Approved", RespBody: b64(JSON.stringify(CM)) });
    const results = await Promise.all([
      h.request("POST", "/api/v1/namespaces/default/configmaps", CM),
      h.request("POST", "/api/v1/namespaces/default/configmaps", CM),
      h.request("POST", "/api/v1/namespaces/default/configmaps", { ...CM, data: { a: "2" } }),
    ]);
    assert.deepEqual(results.map((r) => r.status), [201, 201, 201]);
    assert.equal(cloud.seen.length, 2, "the two identical creates shared one application");
    await h.request("POST", "/api/v1/namespaces/default/configmaps", CM);
    assert.equal(cloud.seen.length, 3, "a finished application is not reused");
  } finally {
    h.close();
    cloud.close();
  }
});

Deno.test("application: GET and LIST ask the cloud first, a GET's object is stored; fallback local", async () => {
  const cloud = new Cloud();
  const h = harness(cloud.agent());
  try {
    const newer = {
      ...CM,
      metadata: { name: "local", namespace: "default", resourceVersion: "9" },
    };
    cloud.answer = (app) =>
      app.Verb === "get"
        ? { Status: "Approved", RespBody: b64(JSON.stringify(newer)) }
        : { Status: "Rejected", Reason: "no list for you" };
    const got = await h.request("GET", "/api/v1/namespaces/default/configmaps/local");
    assert.equal(got.json.metadata.resourceVersion, "9");
    assert.deepEqual(h.stored, [newer], "stored through the MetaManager hook");
    assert.equal(cloud.seen[0].app.Key, "/core/v1/configmaps/default/local");
    const list = await h.request(
      "GET",
      "/api/v1/namespaces/default/configmaps?labelSelector=a%3Db",
    );
    assert.equal(list.status, 200, "the cloud refused: the local list");
    assert.equal(list.json.kind, "ConfigMapList");
    const opt = JSON.parse(unb64(cloud.seen[1].app.Option));
    assert.deepEqual([cloud.seen[1].app.Verb, opt.labelSelector], ["list", "a=b"]);
  } finally {
    h.close();
    cloud.close();
  }
});

Deno.test("application: a GET's object is stored as upstream's unstructured decode reads the cloud's text", async () => {
  const cloud = new Cloud();
  const h = harness(cloud.agent());
  const store = Store.open(":memory:");
  try {
    // 2^53+1 and a lone surrogate: JSON.parse would round the one and keep the other
    const body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big",' +
      '"namespace":"default","resourceVersion":"9"},"data":{"s":"\\ud800"},"n":9007199254740993}';
    cloud.answer = () => ({ Status: "Approved", RespBody: b64(body) });
    const got = await h.request("GET", "/api/v1/namespaces/default/configmaps/big");
    assert.equal(got.status, 200);
    assert.deepEqual(h.texts, [body], "the cloud's text goes to the store");
    const msg = metaServerStoreMessage(h.stored[0], systemIdentity, h.texts[0]);
    inject({ ...msg, route: { ...msg.route, operation: "update" } }, store.metaV2);
    const [row] = store.metaV2.all();
    assert.equal(row.key, "/core/v1/configmaps/default/big");
    assert.equal(
      row.value,
      '{"apiVersion":"v1","data":{"s":"\ufffd"},"kind":"ConfigMap","metadata":{"name":"big",' +
        '"namespace":"default","resourceVersion":"9"},"n":9007199254740993}\n',
    );
  } finally {
    store.close();
    h.close();
    cloud.close();
  }
});

Deno.test("application: offline in fixed mode, reads local and writes 503 at once", async () => {
  const cloud = new Cloud();
  cloud.connected = false;
  const h = harness(cloud.agent());
  try {
    const t0 = performance.now();
    const w = await h.request("POST", "/api/v1/namespaces/default/configmaps", CM);
    assert.equal(w.status, 503);
    assert.equal(w.json.reason, "ServiceUnavailable");
    assert.match(w.json.message, /offline/);
    const r = await h.request("GET", "/api/v1/namespaces/default/configmaps/local");
    assert.equal(r.json.data.from, "local");
    assert.ok(performance.now() - t0 < 200);
    assert.equal(cloud.seen.length, 0, "nothing sent to a disconnected cloud");
  } finally {
    h.close();
    cloud.close();
  }
});

Deno.test("application: an unanswered write is 500 after the timeout (strict: also offline)", async () => {
  const cloud = new Cloud();
  cloud.connected = false;
  const h = harness(cloud.agent(true, 300));
  try {
    const w = await h.request("POST", "/api/v1/namespaces/default/configmaps", CM);
    assert.equal(w.status, 500);
    assert.match(w.json.message, /timeout/);
    const r = await h.request("GET", "/api/v1/namespaces/default/configmaps/local");
    assert.equal(r.json.data.from, "local", "strict: a read falls back after the timeout");
    assert.equal(cloud.seen.length, 2, "strict mode asks the cloud also while offline");
  } finally {
    h.close();
    cloud.close();
  }
});

Deno.test("application: fixed mode stops holding requests on a cloud that does not answer", async () => {
  const cloud = new Cloud();
  const h = harness(cloud.agent());
  try {
    const t0 = performance.now();
    const r = await h.request("GET", "/api/v1/namespaces/default/configmaps/local");
    assert.equal(r.json.data.from, "local");
    assert.ok(performance.now() - t0 >= 250, "the first read waited for the read timeout");
    const t1 = performance.now();
    await h.request("GET", "/api/v1/namespaces/default/configmaps/local");
    const w = await h.request("POST", "/api/v1/namespaces/default/configmaps", CM);
    assert.ok(performance.now() - t1 < 200, "then reads and writes do not wait");
    assert.equal(w.status, 503);
    assert.match(w.json.message, /dynamicController/);
    assert.equal(cloud.seen.length, 1);
  } finally {
    h.close();
    cloud.close();
  }
});

Deno.test("application: writes off, or no cloud: 405 as a read-only server", async () => {
  const cloud = new Cloud();
  for (const h of [harness(cloud.agent(), false), harness(undefined)]) {
    try {
      for (const m of ["POST", "PUT", "PATCH", "DELETE"]) {
        const r = await h.request(m, "/api/v1/namespaces/default/configmaps/c", CM);
        assert.equal(r.status, 405, m);
        assert.equal(r.json.reason, "MethodNotAllowed");
      }
    } finally {
      h.close();
    }
  }
  assert.ok(cloud.seen.every((s) => ["get", "list", "watch"].includes(s.app.Verb)));
  cloud.close();
});

Deno.test("application: the id covers every byte field", () => {
  const base = { key: "/core/v1/pods/default/x", verb: "get" as const, nodeName: "n" };
  const a = applicationId(base);
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(applicationId({ ...base, option: new TextEncoder().encode("{}") }), a);
  assert.notEqual(applicationId({ ...base, nodeName: "m" }), a);
});
