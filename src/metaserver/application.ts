/**
 * The cloud "application" round-trip (spec/metaserver.md §6): the MetaServer asks the
 * cloud's dynamiccontroller to run a request against the real apiserver (or, for `watch`,
 * to stream a resource to this node). An {@link Application} is sent with SendSync to the
 * cloud module (`websocket`, 10 s) as `{source: metaserver, group: dynamiccontroller,
 * resource: "null", operation: "null"}`; the answer is an `applicationResponse` whose
 * content is the Application with `Status` Approved or Rejected, `Reason` and `RespBody`.
 * Identical applications in flight are sent once ({@link ApplicationAgent.apply}).
 *
 * Beyond upstream (fixed mode): while the cloud is disconnected an application fails at
 * once instead of waiting for the timeout (KubeEdge issue #2865).
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { MessageBus } from "../beehive/bus.ts";
import { Content, type Identity, type Message, newMessage } from "../beehive/message.ts";
import type { Logger } from "../logger.ts";
import { parseJsonFloat64 } from "../beehive/go_json.ts";
import { type Status, status as makeStatus } from "./status.ts";

/** The verbs of an application. */
export type ApplicationVerb =
  | "get"
  | "list"
  | "watch"
  | "create"
  | "delete"
  | "update"
  | "updatestatus"
  | "patch";

/** An application's state as the cloud reports it. */
export type ApplicationStatus = "PreApplying" | "InApplying" | "Approved" | "Rejected" | "Failed";

/** The Application as it travels (Go field names; byte fields base64 or null). */
export interface ApplicationWire {
  ID: string;
  Key: string;
  Verb: ApplicationVerb;
  Nodename: string;
  Status: ApplicationStatus;
  Reason: string;
  Option: string | null;
  ReqBody: string | null;
  RespBody: string | null;
}

/** Source of application messages. */
export const METASERVER_SOURCE = "metaserver";
/** Group the cloud routes applications to. */
export const DYNAMIC_CONTROLLER_GROUP = "dynamiccontroller";
/** Operation of the cloud's answer. */
export const APPLICATION_RESPONSE = "applicationResponse";
/** SendSync timeout of an application (upstream's 10 s). */
export const APPLICATION_TIMEOUT_MS = 10_000;
/** fixed mode: SendSync timeout of a read application (the local store answers after it). */
export const READ_TIMEOUT_MS = 3_000;
/** fixed mode: reads stay local this long after a read application timed out. */
export const READ_BACKOFF_MS = 60_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function toBase64(bytes: Uint8Array | undefined): string | null {
  if (bytes === undefined) return null;
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function fromBase64(s: unknown): Uint8Array | undefined {
  if (typeof s !== "string") return undefined;
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** JSON bytes of a request's options or body (Go's ToBytes: nil stays nil). */
export function toBytes(v: unknown): Uint8Array | undefined {
  if (v === undefined || v === null) return undefined;
  if (v instanceof Uint8Array) return v;
  return encoder.encode(JSON.stringify(v));
}

/** A request to the cloud, before it is sent. */
export interface ApplicationRequest {
  /** The request's storage key: `/<group|core>/<version>/<resource>/<namespace|null>/<name|null>`. */
  key: string;
  verb: ApplicationVerb;
  nodeName: string;
  /** JSON bytes of the request options (v1 GetOptions, ListOptions, ...). */
  option?: Uint8Array;
  /** JSON bytes of the request object (create, update, patch). */
  reqBody?: Uint8Array;
}

/** The application's ID: lowercase hex MD5 of Nodename + Key + Verb + Option + ReqBody. */
export function applicationId(r: ApplicationRequest): string {
  const h = createHash("md5");
  h.update(r.nodeName);
  h.update(r.key);
  h.update(r.verb);
  if (r.option) h.update(r.option);
  if (r.reqBody) h.update(r.reqBody);
  return h.digest("hex");
}

/** The wire Application of a request (Status PreApplying). */
export function applicationWire(r: ApplicationRequest): ApplicationWire {
  return {
    ID: applicationId(r),
    Key: r.key,
    Verb: r.verb,
    Nodename: r.nodeName,
    Status: "PreApplying",
    Reason: "",
    Option: toBase64(r.option),
    ReqBody: toBase64(r.reqBody),
    RespBody: null,
  };
}

/** The outcome of an application. */
export type ApplicationResult =
  | { ok: true; respBody: Uint8Array; text: string }
  | {
    ok: false;
    /**
     * `offline`: the cloud is disconnected (fixed mode, at once); `unanswered`: it left an
     * application unanswered in the last minute (fixed mode, at once); `timeout`: no answer in
     * time; `rejected`: the cloud refused it (`reason` is its reason); `failed`: the
     * answer could not be read.
     */
    why: "offline" | "unanswered" | "timeout" | "rejected" | "failed";
    reason: string;
    /** The apiserver's Status the cloud sent back (`Error.ErrStatus`, or a Status as `Reason`). */
    status?: Status;
  };

/** Options of an {@link ApplicationAgent}. */
export interface ApplicationAgentOptions {
  bus: MessageBus;
  /** The cloud module (modules.metaManager.contextSendModule, `websocket`). */
  cloudModule: string;
  nodeName: string;
  identity: Identity;
  /** Whether the cloud is connected now. */
  connected: () => boolean;
  /**
   * fixed mode: fail at once while disconnected, and do not hold reads on a cloud that does
   * not answer them ({@link ApplicationAgent.readsCloud}); false (strict): as upstream.
   */
  failFastOffline: boolean;
  timeoutMs?: number;
  /** fixed mode: how long a read waits for the cloud before the local answer (default 3 s). */
  readTimeoutMs?: number;
  /** fixed mode: how long reads stay local after a read the cloud did not answer (60 s). */
  readBackoffMs?: number;
  logger?: Logger;
}

/** Sends applications to the cloud and waits for the answers. */
export class ApplicationAgent {
  readonly #inFlight = new Map<string, Promise<ApplicationResult>>();
  /** Applications sent to the cloud (de-duplicated ones not counted). */
  sent = 0;
  /** performance.now() until which reads skip the cloud (fixed mode). */
  #readsLocalUntil = 0;

  constructor(readonly options: ApplicationAgentOptions) {}

  /** This node's name in applications. */
  get nodeName(): string {
    return this.options.nodeName;
  }

  /** Whether the cloud is connected now. */
  connected(): boolean {
    return this.options.connected();
  }

  /**
   * Whether a read (get, list, watch) asks the cloud first. strict: always, as upstream
   * (also while disconnected, waiting for the timeout). fixed: only while connected, and
   * not for a while after a read the cloud left unanswered (a cloudcore without the
   * dynamiccontroller never answers: upstream then holds every read for 10 s).
   */
  readsCloud(): boolean {
    const o = this.options;
    if (!o.failFastOffline) return true;
    return o.connected() && performance.now() >= this.#readsLocalUntil;
  }

  /** Reads ask the cloud again (the cloud answered, or connected again). */
  resetReads(): void {
    this.#readsLocalUntil = 0;
  }

  /**
   * Applies `r`: an identical application already in flight is awaited instead of sent
   * again; a finished one is forgotten (each new request asks the cloud again).
   */
  apply(r: ApplicationRequest): Promise<ApplicationResult> {
    const app = applicationWire(r);
    const pending = this.#inFlight.get(app.ID);
    if (pending) return pending;
    const p = this.#send(app).finally(() => this.#inFlight.delete(app.ID));
    this.#inFlight.set(app.ID, p);
    return p;
  }

  async #send(app: ApplicationWire): Promise<ApplicationResult> {
    const o = this.options;
    if (o.failFastOffline && !o.connected()) {
      return {
        ok: false,
        why: "offline",
        reason: "the node is offline: the cloud is not connected",
      };
    }
    if (o.failFastOffline && performance.now() < this.#readsLocalUntil) {
      return {
        ok: false,
        why: "unanswered",
        reason:
          "the cloud did not answer the last application (is cloudcore's dynamicController enabled?)",
      };
    }
    const msg: Message = newMessage("", o.identity);
    msg.route = {
      ...msg.route,
      source: METASERVER_SOURCE,
      group: DYNAMIC_CONTROLLER_GROUP,
      resource: "null",
      operation: "null",
    };
    msg.content = Content.fromWire(JSON.stringify(app));
    this.sent++;
    const read = app.Verb === "get" || app.Verb === "list" || app.Verb === "watch";
    const timeout = read && o.failFastOffline
      ? o.readTimeoutMs ?? READ_TIMEOUT_MS
      : o.timeoutMs ?? APPLICATION_TIMEOUT_MS;
    let resp: Message;
    try {
      resp = await o.bus.sendSync(o.cloudModule, msg, timeout);
    } catch (e) {
      // Upstream's words (both releases, `agent.go: doApply`); the bus error is the
      // release's (v1.23: `timeout to get response for message <id>`).
      const reason = `failed to access cloud Application center: ${
        e instanceof Error ? e.message : String(e)
      }`;
      o.logger?.warn("application not answered", { key: app.Key, verb: app.Verb, error: reason });
      if (read && o.failFastOffline) {
        this.#readsLocalUntil = performance.now() + (o.readBackoffMs ?? READ_BACKOFF_MS);
      }
      return { ok: false, why: "timeout", reason };
    }
    this.resetReads();
    return readAnswer(resp);
  }
}

/** The result carried by the cloud's answer to an application. */
export function readAnswer(resp: Message): ApplicationResult {
  let answer: Partial<ApplicationWire>;
  try {
    const v = resp.content.value();
    // the answer's text as Go's json.Unmarshal reads it
    answer = (typeof v === "string" ? parseJsonFloat64(v) : v) as Partial<ApplicationWire>;
    if (answer === null || typeof answer !== "object") throw new Error("not an object");
  } catch (e) {
    return { ok: false, why: "failed", reason: `failed to read the application answer: ${e}` };
  }
  if (answer.Status === "Approved") {
    let body: Uint8Array;
    try {
      body = fromBase64(answer.RespBody) ?? new Uint8Array();
    } catch {
      return { ok: false, why: "failed", reason: "application answer: RespBody is not base64" };
    }
    return { ok: true, respBody: body, text: decoder.decode(body) };
  }
  const reason = typeof answer.Reason === "string" && answer.Reason !== ""
    ? answer.Reason
    : `application ${String(answer.Status ?? "without status")}`;
  const why = answer.Status === "Rejected" ? "rejected" : "failed";
  const st = cloudStatus((answer as { Error?: { ErrStatus?: unknown } }).Error?.ErrStatus) ??
    cloudStatus(parseOrUndefined(reason));
  return st ? { ok: false, why, reason, status: st } : { ok: false, why, reason };
}

function parseOrUndefined(text: string): unknown {
  if (!text.startsWith("{")) return undefined;
  try {
    return parseJsonFloat64(text);
  } catch {
    return undefined;
  }
}

/** A Kubernetes Status (metav1.Status) the cloud passed on, as a failure Status. */
function cloudStatus(v: unknown): Status | undefined {
  if (v === null || typeof v !== "object") return undefined;
  const s = v as Record<string, unknown>;
  const code = s.code;
  if (typeof code !== "number" || !Number.isInteger(code) || code < 400 || code > 599) {
    return undefined;
  }
  const details = s.details !== null && typeof s.details === "object"
    ? s.details as Status["details"]
    : undefined;
  return makeStatus(
    code,
    typeof s.reason === "string" ? s.reason : "",
    typeof s.message === "string" ? s.message : "",
    details,
  );
}
