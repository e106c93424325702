/**
 * A stand-in cloud for end-to-end tests: attached to serve as `websocket`/`hub`, it answers
 * the MetaServer's applications (spec/metaserver.md §6) as KubeEdge's dynamiccontroller
 * does against a real apiserver, here its own object map: it applies the verb, replies
 * `applicationResponse` with Status Approved and the result, or Rejected with the
 * apiserver's reason (and its Status as `Error.ErrStatus`), and then sends the resulting
 * insert/update/delete to the node as the dynamiccontroller would.
 *
 * @module
 */

import { type WireFrame, WsModule } from "./ws_module.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** An application as it arrives. */
export interface SeenApplication {
  ID: string;
  Key: string;
  Verb: string;
  Nodename: string;
  Status: string;
  Option: Json;
  ReqBody: Json;
  /** The raw base64 fields, for checking the encoding. */
  raw: Record<string, unknown>;
}

function b64decode(s: unknown): string | undefined {
  if (typeof s !== "string") return undefined;
  const bin = atob(s);
  return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

function b64encode(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** RFC 7386 JSON merge patch (also used for strategic merge patches of simple objects). */
export function mergePatch(target: Json, patch: Json): Json {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return clone(patch);
  const out = target !== null && typeof target === "object" && !Array.isArray(target)
    ? clone(target)
    : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$patch" || k.startsWith("$setElementOrder") || k.startsWith("$retainKeys")) {
      continue;
    }
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function pointer(path: string): string[] {
  return path.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** RFC 6902 JSON patch (add, remove, replace, test). */
export function jsonPatch(doc: Json, ops: Json[]): Json {
  const out = clone(doc);
  for (const op of ops) {
    const parts = pointer(op.path);
    const last = parts.pop()!;
    let node = out;
    for (const p of parts) node = node[p];
    if (op.op === "test") {
      if (JSON.stringify(node[last]) !== JSON.stringify(op.value)) throw new Error("test failed");
    } else if (op.op === "remove") {
      if (Array.isArray(node)) node.splice(Number(last), 1);
      else delete node[last];
    } else if (op.op === "add" && Array.isArray(node)) {
      node.splice(last === "-" ? node.length : Number(last), 0, op.value);
    } else if (op.op === "add" || op.op === "replace") {
      node[last] = op.value;
    } else throw new Error(`unsupported op ${op.op}`);
  }
  return out;
}

function apiStatus(code: number, reason: string, message: string, details: Json): Json {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    details,
    code,
  };
}

/** The cloud stand-in. */
export class CloudPeer {
  /** Objects by storage key `/<group>/<version>/<resource>/<ns>/<name>`. */
  readonly objects = new Map<string, Json>();
  /** Every application received, in order. */
  readonly applications: SeenApplication[] = [];
  /** When true, applications are received but never answered (timeouts). */
  silent = false;
  #rv = 1000;
  #seq = 0;

  private constructor(readonly module: WsModule) {
    module.onFrame((f) => this.#onFrame(f));
  }

  /** Attaches to serve at `address` as `websocket`/`hub`. */
  static async attach(address: string): Promise<CloudPeer> {
    return new CloudPeer(await WsModule.connect(address, "websocket", "hub", 20_000));
  }

  /** Stores `obj` in the cloud (as the apiserver holds it) without telling the node. */
  put(key: string, obj: Json): Json {
    const o = clone(obj);
    o.metadata.resourceVersion = String(++this.#rv);
    o.metadata.uid ??= crypto.randomUUID();
    o.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, "Z");
    this.objects.set(key, o);
    return o;
  }

  close(): Promise<void> {
    return this.module.close();
  }

  #onFrame(f: WireFrame): void {
    if (f.route?.group !== "dynamiccontroller" || f.route?.source !== "metaserver") return;
    const raw = f.content as Record<string, unknown>;
    const app: SeenApplication = {
      ID: String(raw.ID),
      Key: String(raw.Key),
      Verb: String(raw.Verb),
      Nodename: String(raw.Nodename),
      Status: String(raw.Status),
      Option: raw.Option === null ? null : JSON.parse(b64decode(raw.Option) ?? "null"),
      ReqBody: raw.ReqBody === null ? null : JSON.parse(b64decode(raw.ReqBody) ?? "null"),
      raw,
    };
    this.applications.push(app);
    if (this.silent) return;
    let result: { ok: true; body: Json; then?: [string, Json] } | { ok: false; status: Json };
    try {
      result = this.#apply(app);
    } catch (e) {
      result = { ok: false, status: apiStatus(500, "InternalError", String(e), {}) };
    }
    const answer = {
      ...raw,
      Status: result.ok ? "Approved" : "Rejected",
      Reason: result.ok ? "" : result.status.message,
      RespBody: result.ok ? b64encode(JSON.stringify(result.body)) : null,
      ...(result.ok ? {} : { Error: { ErrStatus: result.status } }),
    };
    this.module.send({
      header: {
        msg_id: crypto.randomUUID(),
        parent_msg_id: f.header?.msg_id,
        timestamp: Date.now(),
      },
      route: {
        source: "dynamiccontroller",
        group: "resource",
        operation: "applicationResponse",
        resource: "ignore/Application/ignore",
      },
      content: answer,
    });
    if (result.ok && result.then) this.sendToNode(result.then[0], result.then[1]);
  }

  /** Sends `obj` to the node as the dynamiccontroller does (insert/update/delete). */
  sendToNode(operation: string, obj: Json): void {
    const ns = obj.metadata.namespace || "null";
    this.module.send({
      header: { msg_id: `dc-${++this.#seq}`, timestamp: Date.now() },
      route: {
        source: "dynamiccontroller",
        group: "resource",
        operation,
        resource: `${ns}/${String(obj.kind).toLowerCase()}/${obj.metadata.name}`,
      },
      content: obj,
    });
  }

  #apply(app: SeenApplication):
    | { ok: true; body: Json; then?: [string, Json] }
    | { ok: false; status: Json } {
    const [, group, version, resource, ns, nameSeg] = app.Key.split("/");
    const name = nameSeg === "null" ? "" : nameSeg;
    const qualified = group === "core" ? resource : `${resource}.${group}`;
    const details = (n: string) => ({
      name: n,
      ...(group === "core" ? {} : { group }),
      kind: resource,
    });
    const notFound = (n: string) => ({
      ok: false as const,
      status: apiStatus(404, "NotFound", `${qualified} "${n}" not found`, details(n)),
    });
    const keyOf = (n: string) => `/${group}/${version}/${resource}/${ns}/${n}`;
    switch (app.Verb) {
      case "get": {
        const o = this.objects.get(app.Key);
        return o ? { ok: true, body: o } : notFound(name);
      }
      case "list":
      case "watch": {
        const prefix = `/${group}/${version}/${resource}/`;
        const items = [...this.objects.entries()]
          .filter(([k]) =>
            k.startsWith(prefix) && (ns === "null" || k.startsWith(prefix + ns + "/"))
          )
          .filter(([k]) => name === "" || k.endsWith("/" + name))
          .map(([, o]) => o);
        const kind = items[0]?.kind ?? "Unknown";
        return {
          ok: true,
          body: {
            apiVersion: group === "core" ? version : `${group}/${version}`,
            kind: `${kind}List`,
            metadata: { resourceVersion: String(this.#rv) },
            items,
          },
        };
      }
      case "create": {
        const obj = clone(app.ReqBody);
        if (ns !== "null") obj.metadata.namespace ??= ns;
        const key = keyOf(obj.metadata.name);
        if (this.objects.has(key)) {
          return {
            ok: false,
            status: apiStatus(
              409,
              "AlreadyExists",
              `${qualified} "${obj.metadata.name}" already exists`,
              details(obj.metadata.name),
            ),
          };
        }
        const stored = this.put(key, obj);
        return { ok: true, body: stored, then: ["insert", stored] };
      }
      case "update":
      case "updatestatus": {
        const old = this.objects.get(app.Key);
        if (!old) return notFound(name);
        const rv = app.ReqBody.metadata?.resourceVersion;
        if (rv && rv !== old.metadata.resourceVersion) {
          return {
            ok: false,
            status: apiStatus(
              409,
              "Conflict",
              `Operation cannot be fulfilled on ${qualified} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
              details(name),
            ),
          };
        }
        const obj = clone(app.ReqBody);
        obj.metadata.uid = old.metadata.uid;
        obj.metadata.creationTimestamp = old.metadata.creationTimestamp;
        if (app.Verb === "updatestatus") obj.spec = old.spec;
        const stored = this.put(app.Key, obj);
        return { ok: true, body: stored, then: ["update", stored] };
      }
      case "patch": {
        const old = this.objects.get(app.Key);
        if (!old) return notFound(name);
        const info = app.ReqBody;
        const patch = JSON.parse(b64decode(info.Data)!);
        const patched = info.PatchType === "application/json-patch+json"
          ? jsonPatch(old, patch)
          : mergePatch(old, patch);
        const stored = this.put(app.Key, patched);
        return { ok: true, body: stored, then: ["update", stored] };
      }
      case "delete": {
        const old = this.objects.get(app.Key);
        if (!old) return notFound(name);
        this.objects.delete(app.Key);
        return { ok: true, body: old, then: ["delete", old] };
      }
    }
    return { ok: false, status: apiStatus(405, "MethodNotAllowed", `verb ${app.Verb}`, {}) };
  }
}
