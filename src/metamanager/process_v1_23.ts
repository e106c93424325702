/**
 * process() as KubeEdge v1.23.1 does it (spec/v1.23.md §2-§3): the v1.23 handler of each
 * operation, beside v1.10's in src/metamanager/process.ts. The one storage routine
 * (handleMessage), upserts on insert, `patch`, pod deletes by UID, the remote-request set and
 * the new error texts live here; the connection flag is EdgeHub's (set outside process()).
 *
 * @module
 */

import {
  Content,
  type Identity,
  type Message,
  newErrorMessage,
  newRespByMessage,
  withHeader,
} from "../beehive/message.ts";
import { parseJsonExact, RawNumber } from "../beehive/go_json.ts";
import type { Logger } from "../logger.ts";
import type { Store } from "../store/store.ts";
import type { Quirks } from "./compat.ts";
import { decodeTokenRequest, tokenKey } from "./service_account_token.ts";

/** Module name of the MetaManager in v1.23 (`edge/pkg/common/modules`). */
export const META_MANAGER_MODULE_V1_23 = "metamanager";
/** Module name of the device twin. */
export const TWIN_MODULE = "twin";

/** What a v1.23 handler needs of the MetaManager hosting it. */
export interface ProcessHost {
  readonly store: Store;
  readonly id: Identity;
  readonly log: Logger;
  readonly quirks: Quirks;
  /** EdgeHub's connection flag (`cloudconnection.IsConnected()`). */
  connected(): boolean;
  sendToEdged(msg: Message, sync: boolean): void;
  sendToCloud(msg: Message): void;
  send(module: string, msg: Message): void;
  /** Inject: the meta_v2 side effect. */
  inject(msg: Message): void;
  /** Raises an error reply (delivered to edged when `toEdged`, else to the cloud). */
  raise(reply: Message, toEdged: boolean, sync: boolean): never;
  /** Runs a detached task (upstream `go processRemote`). */
  spawn(task: Promise<void>): void;
  /** Runs `fn` as one unit outside the main loop and delivers what it sent. */
  unit(fn: () => void): void;
  sendSync(module: string, msg: Message, timeoutMs: number): Promise<Message>;
  readonly sendModule: string;
  readonly remoteTimeoutMs: number;
}

/** parseResource of v1.23: key, type and id (service-account tokens keyed by content). */
export interface ParsedResourceV123 {
  key: string;
  type: string;
  id: string;
}

/**
 * GetContentData of v1.23 (§2.1): raw bytes unchanged, a Go string as its bytes (no
 * quotes), anything else its JSON encoding.
 */
export function contentData(content: Content): string {
  if (!content.bytes && content.json.charCodeAt(0) === 0x22) return content.value() as string;
  return content.json;
}

/** parseResource (§2.2). */
export function parseResourceV123(msg: Message): ParsedResourceV123 {
  const resource = msg.route.resource;
  const tokens = resource.split("/");
  let type = "";
  let id = "";
  if (tokens.length === 2) type = tokens[1];
  else if (tokens.length === 3) {
    type = tokens[1];
    id = tokens[2];
  }
  if (type !== "serviceaccounttoken") return { key: resource, type, id };
  const tr = decodeTokenRequest(contentData(msg.content));
  if (tr === undefined || tokens.length !== 3) return { key: "", type: "", id: "" };
  return { key: tokenKey(tokens[2], tokens[0], tr), type, id: "" };
}

const REMOTE_QUERY_TYPES: ReadonlySet<string> = new Set([
  "configmap",
  "secret",
  "persistentvolume",
  "persistentvolumeclaim",
  "volumeattachment",
  "serviceaccounttoken",
  "lease",
  "certificatesigningrequest",
  "k8s/ca.crt",
]);

/** requireRemoteQuery (§2.3). */
export function requireRemoteQueryV123(type: string): boolean {
  return REMOTE_QUERY_TYPES.has(type);
}

/** A Go json decoding failure's text for a Pod (§2.7), or undefined if it decodes. */
function podUid(data: string): { uid: string } | { error: string } {
  let v: unknown;
  try {
    v = parseJsonExact(data);
  } catch {
    const c = data.trimStart()[0];
    return {
      error: c === undefined
        ? "unexpected end of JSON input"
        : `invalid character ${goQuoteChar(c)} looking for beginning of value`,
    };
  }
  if (v === null) return { uid: "" };
  if (typeof v !== "object" || Array.isArray(v) || v instanceof RawNumber) {
    const kind = Array.isArray(v)
      ? "array"
      : typeof v === "string"
      ? "string"
      : typeof v === "boolean"
      ? "bool"
      : "number";
    return { error: `json: cannot unmarshal ${kind} into Go value of type v1.Pod` };
  }
  const meta = (v as Record<string, unknown>).metadata;
  if (meta === null || meta === undefined) return { uid: "" };
  if (typeof meta !== "object" || Array.isArray(meta)) {
    return {
      error: `json: cannot unmarshal ${
        Array.isArray(meta) ? "array" : typeof meta === "string" ? "string" : typeof meta
      } into Go struct field Pod.metadata of type v1.ObjectMeta`,
    };
  }
  const uid = (meta as Record<string, unknown>).uid;
  if (uid === null || uid === undefined) return { uid: "" };
  if (typeof uid !== "string") {
    return {
      error: `json: cannot unmarshal ${
        typeof uid === "boolean" ? "bool" : Array.isArray(uid) ? "array" : typeof uid
      } into Go struct field Pod.metadata.uid of type types.UID`,
    };
  }
  return { uid };
}

function goQuoteChar(c: string): string {
  return c === "'" ? "'\\''" : `'${c}'`;
}

/** KubeEdge v1.23.1's process(), one handler per operation. */
export class ProcessV123 {
  constructor(private readonly h: ProcessHost) {}

  /** The handlers by operation; anything else is "not supported" (§3.9). */
  readonly table: Readonly<Record<string, (msg: Message) => void>> = {
    insert: (m) => this.processInsert(m),
    update: (m) => this.processUpdate(m),
    patch: (m) => this.processPatch(m),
    delete: (m) => this.processDelete(m),
    query: (m) => this.processQuery(m),
    response: (m) => this.processResponse(m),
  };

  // ---- helpers (§2) -----------------------------------------------------------------

  #ok(req: Message): Message {
    return newRespByMessage(req, Content.of("OK"), this.h.id);
  }

  /** feedbackError (§2.4): parent = the request's id, source metamanager. */
  feedbackError(text: string, req: Message): never {
    const reply = newErrorMessage(req, text, req.header.msgId, this.h.id);
    reply.route.source = META_MANAGER_MODULE_V1_23;
    reply.route.group = req.route.group;
    return this.h.raise(reply, req.route.source === "edged", req.header.sync);
  }

  #reroute(msg: Message): Message {
    return { ...msg, route: { ...msg.route, source: "meta", group: TWIN_MODULE } };
  }

  /** handleMessage (§2.6): the one storage routine; returns an error text or undefined. */
  handleMessage(msg: Message): string | undefined {
    const meta = this.h.store.meta;
    switch (msg.route.operation) {
      case "insert":
      case "update":
      case "patch":
      case "response": {
        const { key, type } = parseResourceV123(msg);
        try {
          meta.insertOrUpdate({ key, type, value: contentData(msg.content) });
        } catch (e) {
          return `insert or update meta failed, ${(e as Error).message}`;
        }
        return undefined;
      }
      case "delete": {
        const { key, type } = parseResourceV123(msg);
        if (type === "pod") return this.#processDeletePodDB(msg);
        try {
          meta.deleteMetaByKey(key);
        } catch (e) {
          return `delete meta failed, ${(e as Error).message}`;
        }
        return undefined;
      }
      default:
        return undefined;
    }
  }

  /** processDeletePodDB (§2.7). */
  #processDeletePodDB(msg: Message): string | undefined {
    const pod = podUid(contentData(msg.content));
    if ("error" in pod) return `failed to delete pod meta to DB: ${pod.error}`;
    try {
      const deleted = this.h.store.meta.deleteMetaByKeyAndValueLike(
        msg.route.resource,
        `%${pod.uid}%`,
      );
      if (deleted > 0) {
        this.h.store.meta.deleteMetaByKey(msg.route.resource.replace("/pod/", "/podpatch/"));
      }
    } catch (e) {
      return `failed to delete pod meta to DB: ${(e as Error).message}`;
    }
    return undefined;
  }

  #store(msg: Message): void {
    const err = this.handleMessage(msg);
    if (err !== undefined) this.feedbackError(err, msg);
  }

  #isEvent(msg: Message): boolean {
    return parseResourceV123(msg).type === "event";
  }

  #remoteOrNotConnected(msg: Message): void {
    if (!this.h.connected()) this.feedbackError("failed to process remote: not connected", msg);
    this.h.spawn(this.processRemote(msg));
  }

  // ---- operations (§3) --------------------------------------------------------------

  /** insert (§3.1). */
  processInsert(msg: Message): void {
    if (this.#isEvent(msg)) return this.h.sendToCloud(msg);
    this.h.inject(msg);
    if (msg.route.source === "edged") return this.#remoteOrNotConnected(msg);
    this.#store(msg);
    let r = msg;
    if (msg.route.source === "devicecontroller") {
      r = this.#reroute(msg);
      this.h.send(TWIN_MODULE, r);
    } else if (msg.route.source !== "policycontroller") {
      this.h.send("edged", r);
    }
    this.h.sendToCloud(this.#ok(r));
  }

  /** update (§3.2). */
  processUpdate(msg: Message): void {
    if (this.#isEvent(msg)) return this.h.sendToCloud(msg);
    this.h.inject(msg);
    const { type } = parseResourceV123(msg);
    if (msg.route.source === "edged" && type === "lease") return this.#remoteOrNotConnected(msg);
    this.#store(msg);
    switch (msg.route.source) {
      case "edged":
        this.h.sendToCloud(msg);
        this.h.sendToEdged(this.#ok(msg), msg.header.sync);
        break;
      case "edgecontroller":
      case "dynamiccontroller":
        if (type !== "node") this.h.sendToEdged(msg, msg.header.sync);
        this.h.sendToCloud(this.#ok(msg));
        break;
      case "devicecontroller":
        this.h.sendToCloud(this.#ok(msg));
        this.h.send(TWIN_MODULE, this.#reroute(msg));
        break;
      case "policycontroller":
        this.h.sendToCloud(this.#ok(msg));
        break;
      case META_MANAGER_MODULE_V1_23: {
        this.h.send(TWIN_MODULE, msg);
        const ok = this.#ok(msg);
        if (msg.header.sync) this.h.sendToEdged(ok, true);
        else this.h.send(META_MANAGER_MODULE_V1_23, ok);
        break;
      }
      default:
        this.h.log.info("unsupported message source", { source: msg.route.source });
    }
  }

  /** patch (§3.3). */
  processPatch(msg: Message): void {
    if (this.#isEvent(msg)) return this.h.sendToCloud(msg);
    this.#store(msg);
    if (this.h.connected()) this.h.sendToCloud(msg);
    else this.feedbackError("connection lost between EdgeCore and CloudCore", msg);
  }

  /** delete (§3.4). */
  processDelete(msg: Message): void {
    this.h.inject(msg);
    const { type } = parseResourceV123(msg);
    if (type === "pod" && msg.route.source === "edged") return this.h.sendToCloud(msg);
    this.#store(msg);
    let r = msg;
    if (msg.route.source === "devicecontroller") {
      r = this.#reroute(msg);
      this.h.send(TWIN_MODULE, r);
    }
    if (msg.route.source !== "policycontroller") this.h.send("edged", r);
    this.h.sendToCloud(this.#ok(r));
  }

  /** query (§3.5). */
  processQuery(msg: Message): void {
    const { key, type, id } = parseResourceV123(msg);
    if (requireRemoteQueryV123(type) && this.h.connected()) {
      this.h.spawn(this.processRemote(msg));
      return;
    }
    let rows: string[];
    try {
      rows = id === ""
        ? this.h.store.meta.queryMeta("type", type)
        : this.h.store.meta.queryMeta("key", key);
    } catch (e) {
      this.feedbackError(`failed to query meta in DB: ${(e as Error).message}`, msg);
    }
    const content = rows.length > 0 ? Content.ofStrings(rows) : Content.NULL;
    const reply = newRespByMessage(msg, content, this.h.id);
    reply.route.source = META_MANAGER_MODULE_V1_23;
    reply.route.group = msg.route.group;
    this.h.sendToEdged(reply, msg.header.sync);
  }

  /** response (§3.6). */
  processResponse(msg: Message): void {
    this.#store(msg);
    if (msg.route.source === "edgecontroller") this.h.sendToEdged(msg, msg.header.sync);
    else this.h.sendToCloud(msg);
  }

  /** processRemote (§3.7): ask the cloud, store its answer, hand it to edged. */
  async processRemote(msg: Message): Promise<void> {
    const originalId = msg.header.msgId;
    const request = withHeader(msg, { msgId: this.h.id.newId() });
    // Upstream answers failures to the re-sent request (fresh id): no waiter matches it.
    const failed = this.h.quirks.remoteErrorParentIsFreshId ? request : msg;
    let resp: Message;
    try {
      resp = await this.h.sendSync(this.h.sendModule, request, this.h.remoteTimeoutMs);
    } catch (e) {
      this.h.unit(() =>
        this.feedbackError(`failed to process remote: ${(e as Error).message}`, failed)
      );
      return;
    }
    this.h.unit(() => {
      const stored = this.#answerToStore(resp);
      if (stored !== undefined) {
        const err = this.handleMessage(stored);
        if (err !== undefined) this.feedbackError(err, failed);
      }
      this.h.sendToEdged(withHeader(resp, { parentMsgId: originalId }), msg.header.sync);
      this.h.sendToCloud(this.#ok(resp));
    });
  }

  /** The answer as stored (§3.7 steps 4-6), or undefined when nothing is stored. */
  #answerToStore(resp: Message): Message | undefined {
    const c = resp.content;
    if (c.isString("OK")) return undefined;
    if (c.bytes) return resp; // raw bytes (QUIC): stored whole
    const v = c.value();
    if (v !== null && typeof v === "object" && !Array.isArray(v) && "Object" in v && "Err" in v) {
      const o = v as { Object: unknown; Err: unknown };
      if (o.Err !== null) return undefined;
      return { ...resp, content: Content.of(o.Object) };
    }
    return resp;
  }
}
