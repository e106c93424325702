/**
 * MetaManager message processing, one handler per operation, as KubeEdge v1.10 does it
 * (spec/metamanager.md §4–6); v1.23's handlers are in src/metamanager/process_v1_23.ts and
 * {@link MetaManager.process} picks the release's table. Upstream quirks are switched by
 * src/metamanager/compat.ts.
 *
 * @module
 */

import {
  Content,
  type Identity,
  type Message,
  newErrorMessage,
  newMessage,
  newRespByMessage,
  systemIdentity,
  withHeader,
} from "../beehive/message.ts";
import type { Store } from "../store/store.ts";
import { CLOUD_SOURCES, CLOUD_SOURCES_V1_23 } from "../beehive/wire.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { type CompatMode, type Quirks, quirksFor, REGISTERED_MESSAGE_CONTEXTS } from "./compat.ts";
import { inject, MalformedListItem } from "./inject.ts";
import { type Bus, type ChangeListener, type Delivery, Outbox, type Taken } from "./outbox.ts";
import { alwaysRemote, parseResource, requireRemoteQuery } from "./resource.ts";
import { podStatusMessages, podStatusSync } from "./pod_status_sync.ts";
import { META_MANAGER_MODULE_V1_23, ProcessV123 } from "./process_v1_23.ts";
import type { KubeEdgeRelease } from "../store/schema.ts";
import { SYNC_ERRORS_V1_10, SYNC_ERRORS_V1_23, type SyncErrorTexts } from "../beehive/bus.ts";

/**
 * Operation of an internal message carrying an object the MetaServer read from the cloud
 * (stored in meta_v2 by {@link MetaManager.processMetaServerStore}).
 */
export const METASERVER_STORE_OPERATION = "metaserver-store";
/** Module name of the MetaManager (v1.10 spelling). */
export const META_MANAGER_MODULE = "metaManager";

/** The MetaManager's module name in each release (v1.23: `metamanager`). */
export const META_MANAGER_MODULE_OF: Readonly<Record<KubeEdgeRelease, string>> = {
  "1.10": META_MANAGER_MODULE,
  "1.23": META_MANAGER_MODULE_V1_23,
};
/**
 * beehive's SendSync failure texts in each release (v1.23 quotes the request's id,
 * spec/v1.23.md §6): what the MetaManager's remote requests and the MetaServer's cloud
 * applications report when the cloud does not answer.
 */
export const SYNC_ERRORS_OF: Readonly<Record<KubeEdgeRelease, SyncErrorTexts>> = {
  "1.10": SYNC_ERRORS_V1_10,
  "1.23": SYNC_ERRORS_V1_23,
};
/** Group of the MetaManager. */
export const META_GROUP = "meta";
/** Module name of edged. */
export const EDGED_MODULE = "edged";
/** Module name of the (absent) function runtime. */
export const EDGE_FUNCTION_MODULE = "edgefunction";

/** Operations whose handler relays to edged synchronously (CSI, §4.10). */
export const VOLUME_OPERATIONS: ReadonlySet<string> = new Set([
  "createvolume",
  "deletevolume",
  "controllerpublishvolume",
  "controllerunpublishvolume",
]);

/** Operations whose processing never writes the store (no savepoint needed). */
const READ_ONLY_OPERATIONS: ReadonlySet<string> = new Set(["query", "connect"]);

/**
 * Operations that, sent by one of the release's cloud modules, touch nothing but the store
 * and the outbox in either release (no spawned task, no sync send, no state kept): a run
 * of them can share one savepoint ({@link MetaManager.handleRun}). The edge's own writes
 * are not among them (v1.23 forwards an edged insert to the cloud and waits for it).
 */
const STORE_ONLY_OPERATIONS: ReadonlySet<string> = new Set(["insert", "update", "delete"]);

/** SendSync's default when a timeout ≤ 0 is configured. */
const DEFAULT_SYNC_TIMEOUT_MS = 30_000;
/** Timeout of the CSI relay to edged. */
const VOLUME_TIMEOUT_MS = 60_000;

/** The periodic trigger of the pod-status sync (upstream's timer message). */
export function podStatusSyncTrigger(id: Identity): Message {
  const m = newMessage("", id);
  m.route = { ...m.route, source: META_MANAGER_MODULE, group: "resource" };
  m.route.resource = "podstatus";
  m.route.operation = "meta-internal-sync";
  return m;
}

/** JSON white space at either end of a text. */
const JSON_WS_ENDS = /^[ \t\n\r]+|[ \t\n\r]+$/g;

/** The internal message storing an object the MetaServer read from the cloud. */
export function metaServerStoreMessage(
  object: Record<string, unknown>,
  id: Identity,
  text?: string,
): Message {
  const m = newMessage("", id);
  const meta = (object.metadata ?? {}) as { namespace?: unknown; name?: unknown };
  const ns = typeof meta.namespace === "string" && meta.namespace !== "" ? meta.namespace : "null";
  const name = typeof meta.name === "string" ? meta.name : "";
  m.route = {
    ...m.route,
    source: "metaserver",
    group: META_GROUP,
    resource: `${ns}/${String(object.kind).toLowerCase()}/${name}`,
    operation: METASERVER_STORE_OPERATION,
  };
  // The cloud's own text when given (its integers beyond 2^53 exact, as upstream's
  // unstructured decode keeps them), else the object's.
  m.content = Content.fromWire(text?.replace(JSON_WS_ENDS, "") ?? JSON.stringify(object), object);
  return m;
}

/** EdgeHub's connection event (`cloud_connected` / `cloud_disconnected`). */
export function connectionMessage(connected: boolean, id: Identity): Message {
  const m = newMessage("", id);
  m.route = { ...m.route, source: "edgehub", group: META_GROUP };
  m.route.resource = "node/connection";
  m.route.operation = "connect";
  m.content = Content.of(connected ? "cloud_connected" : "cloud_disconnected");
  return m;
}

/** Configuration of a {@link MetaManager}. */
export interface MetaManagerOptions {
  store: Store;
  bus: Bus;
  mode: CompatMode;
  /** The KubeEdge release whose process() runs (default: the store's). */
  release?: KubeEdgeRelease;
  identity?: Identity;
  logger?: Logger;
  /** Group for "send to cloud" (default `hub`). */
  contextSendGroup?: string;
  /** Module for remote queries (default `websocket`). */
  contextSendModule?: string;
  /** Remote query timeout in seconds (default 60; ≤ 0 means 30). */
  remoteQueryTimeout?: number;
  /** Initial cloud connection state (upstream: false). */
  connected?: boolean;
  /**
   * Runs a detached task (upstream `go ...`): replay awaits it before the next line,
   * serve lets it run. Default: run and log failures.
   */
  spawn?: (task: Promise<void>) => void;
  /** Called in strict mode where the real code would crash the process. */
  onPanic?: (reason: string, msg: Message) => void;
  /** Receives meta_v2 changes after commit. */
  onChanges?: ChangeListener;
}

/**
 * An error reply that must replace everything the failed message did (fixed mode rolls
 * the message back; strict mode delivers the reply and keeps earlier writes).
 */
class ErrorReply extends Error {
  constructor(readonly reply: Message, readonly toEdged: boolean, readonly sync: boolean) {
    super(reply.content.json);
  }
}

/** The MetaManager: `process()` and the state it keeps between messages. */
export class MetaManager {
  /**
   * Cloud connection state: changed by `connect` messages in v1.10; in v1.23 it is
   * EdgeHub's flag, set by {@link setConnectionFromEdgeHub} before EdgeHub's message.
   */
  connected: boolean;
  /** The KubeEdge release whose process() runs. */
  readonly release: KubeEdgeRelease;
  /** Error replies sent so far (failed messages). */
  errorReplies = 0;
  /** Outbound messages not yet handed to the bus. */
  readonly outbox: Outbox;
  readonly quirks: Quirks;
  readonly #store: Store;
  readonly #bus: Bus;
  readonly #id: Identity;
  readonly #log: Logger;
  readonly #sendGroup: string;
  readonly #sendModule: string;
  readonly #remoteTimeoutMs: number;
  readonly #spawn: (task: Promise<void>) => void;
  readonly #onPanic?: (reason: string, msg: Message) => void;
  /** The release's process table (operation -> handler). */
  readonly #table: Readonly<Record<string, (msg: Message) => void>>;
  /** The release's cloud modules (see {@link STORE_ONLY_OPERATIONS}). */
  readonly #cloudSources: ReadonlySet<string>;
  /** Whether the last delivery handed to deliverWhenDurable was made (once settled). */
  #durable: Promise<boolean> = Promise.resolve(true);

  constructor(options: MetaManagerOptions) {
    this.#store = options.store;
    this.#bus = options.bus;
    this.release = options.release ?? options.store.release;
    this.quirks = quirksFor(options.mode, this.release);
    this.#id = options.identity ?? systemIdentity;
    this.#log = options.logger ?? silentLogger;
    this.#sendGroup = options.contextSendGroup ?? "hub";
    this.#sendModule = options.contextSendModule ?? "websocket";
    const t = options.remoteQueryTimeout ?? 60;
    this.#remoteTimeoutMs = t > 0 ? t * 1000 : DEFAULT_SYNC_TIMEOUT_MS;
    this.connected = options.connected ?? false;
    this.#spawn = options.spawn ?? ((task) => {
      task.catch((e) => this.#log.error("detached task failed", { error: String(e) }));
    });
    this.#onPanic = options.onPanic;
    this.outbox = new Outbox(this.#bus, options.onChanges);
    this.#table = this.release === "1.23" ? this.#v123Table() : this.#v110Table();
    this.#cloudSources = this.release === "1.23" ? CLOUD_SOURCES_V1_23 : CLOUD_SOURCES;
  }

  /** v1.10's process table (spec/metamanager.md §4). */
  #v110Table(): Record<string, (msg: Message) => void> {
    return {
      insert: (m) => this.processInsert(m),
      update: (m) => this.processUpdate(m),
      delete: (m) => this.processDelete(m),
      query: (m) => this.processQuery(m),
      response: (m) => this.processResponse(m),
      connect: (m) => this.processNodeConnection(m),
      "meta-internal-sync": () => this.processSync(),
      action: (m) => this.processFunctionAction(m),
      action_result: (m) => this.processFunctionActionResult(m),
      [METASERVER_STORE_OPERATION]: (m) => this.processMetaServerStore(m),
    };
  }

  /** v1.23.1's process table (spec/v1.23.md §3): its handlers, hosted here. */
  #v123Table(): Record<string, (msg: Message) => void> {
    const p = new ProcessV123({
      store: this.#store,
      id: this.#id,
      log: this.#log,
      quirks: this.quirks,
      connected: () => this.connected,
      sendToEdged: (m, sync) => this.sendToEdged(m, sync),
      sendToCloud: (m) => this.sendToCloud(m),
      send: (module, m) => this.#send(module, m),
      inject: (m) => this.#inject(m),
      raise: (reply, toEdged, sync) => {
        throw new ErrorReply(reply, toEdged, sync);
      },
      spawn: (task) => this.#spawn(task),
      unit: (fn) => this.#unit(fn),
      sendSync: (module, m, ms) => this.#bus.sendSync(module, m, ms),
      sendModule: this.#sendModule,
      remoteTimeoutMs: this.#remoteTimeoutMs,
    });
    return { ...p.table, [METASERVER_STORE_OPERATION]: (m) => this.processMetaServerStore(m) };
  }

  /**
   * EdgeHub's part of a `connect` message in v1.23 (`pubConnectInfo`): it sets the
   * process-wide flag before sending the message, which the MetaManager then ignores.
   * Returns false (nothing done) for v1.10, whose process() handles the message itself.
   */
  setConnectionFromEdgeHub(msg: Message): boolean {
    if (this.release === "1.10" || msg.route.operation !== "connect") return false;
    this.processNodeConnection(msg);
    return true;
  }

  /**
   * Processes one message atomically: its writes commit or roll back together with what
   * it sends (fixed mode), or as upstream (strict mode). Outbound messages are flushed
   * at once unless a transaction is open, in which case the caller flushes after commit.
   * Returns a promise only for operations that wait on a peer (CSI relays).
   */
  handle(msg: Message): void | Promise<void> {
    if (VOLUME_OPERATIONS.has(msg.route.operation)) return this.processVolume(msg);
    const mark = this.outbox.mark();
    let panic: string | undefined;
    // Operations that never write need no savepoint (queries are the bulk of edged's load).
    const atomic = READ_ONLY_OPERATIONS.has(msg.route.operation)
      ? (fn: () => void) => fn()
      : (fn: () => void) => this.#store.transaction(fn);
    try {
      atomic(() => {
        try {
          this.process(msg);
        } catch (e) {
          if (e instanceof MalformedListItem && this.quirks.crashOnMalformedListItem) {
            panic = `Inject: ${e.message}`;
            return; // the Go process dies here; what it wrote stays written
          }
          if (e instanceof ErrorReply && this.quirks.nonAtomicWrites) {
            this.#deliverError(e); // strict: reply, keep earlier writes
            return;
          }
          throw e;
        }
      });
    } catch (e) {
      this.outbox.truncate(mark);
      if (e instanceof ErrorReply) {
        this.#deliverError(e);
      } else if (e instanceof MalformedListItem) {
        this.#deliverError(this.#errorReply(msg, "Error to inject meta_v2 object", e));
      } else if (this.quirks.nonAtomicWrites) {
        panic = `unexpected error: ${(e as Error).message}`;
      } else {
        this.#log.error("message failed", { msg_id: msg.header.msgId, error: String(e) });
        this.#deliverError(this.#errorReply(msg, "Error to process message", e));
      }
    }
    if (panic !== undefined) {
      this.#log.error("upstream would crash here", { msg_id: msg.header.msgId, reason: panic });
      this.#onPanic?.(panic, msg);
    }
    msg.content.releaseValue(); // processed: the decoded content is not needed any more
    if (!this.#store.db.inTransaction) void this.deliverWhenDurable(this.outbox.take());
  }

  /**
   * Handles `msgs[from]` and the store-only messages after it (a cloud module's inserts,
   * updates and deletes) as {@link handle} would one by one, inside the
   * caller's open transaction, with one savepoint for all of them instead of one each (a
   * savepoint costs about 12 µs per message, a quarter of the message's SQL: SQLite keeps
   * each page's first change under it). If one of them throws, the run's writes and
   * sends are undone and the run is handled again one message at a time, so the outcome
   * is exactly {@link handle}'s, message by message (their processing has no other
   * effect: see {@link STORE_ONLY_OPERATIONS}). Returns the index after the messages
   * handled.
   */
  handleRun(msgs: readonly Message[], from: number): number {
    let to = from;
    while (to < msgs.length && this.#storeOnly(msgs[to])) to++;
    const db = this.#store.db;
    if (to - from < 2 || !db.inTransaction) {
      void this.handle(msgs[from]);
      return from + 1;
    }
    const mark = this.outbox.mark();
    try {
      this.#store.transaction(() => {
        for (let k = from; k < to; k++) this.process(msgs[k]);
      });
    } catch (e) {
      this.outbox.truncate(mark);
      // SQLite ended the whole transaction (a full disk, an I/O error): the batch fails.
      if (!db.sqlite.isTransaction) throw e;
      for (let k = from; k < to; k++) void this.handle(msgs[k]);
      return to;
    }
    for (let k = from; k < to; k++) msgs[k].content.releaseValue();
    return to;
  }

  #storeOnly(msg: Message): boolean {
    return STORE_ONLY_OPERATIONS.has(msg.route.operation) &&
      this.#cloudSources.has(msg.route.source);
  }

  /**
   * Delivers what {@link Outbox.take} took once the commits that produced it are on disk,
   * after everything handed here before (commit order). When COMMIT itself syncs (every
   * setting but `syncOffThread`) the delivery happens now, synchronously. Otherwise the
   * fsync starts now, alongside those of earlier commits, and the delivery waits for it
   * and for theirs. Resolves to the deliveries made, or undefined when an fsync failed:
   * the messages are then dropped (logged) as if the process had died before sending
   * them, and so are those of every later commit (see {@link Database.durable}).
   */
  deliverWhenDurable(taken: Taken): Promise<Delivery[] | undefined> {
    const db = this.#store.db;
    if (!db.syncsOffThread) return Promise.resolve(this.outbox.deliver(taken));
    const synced = db.durable();
    synced.catch(() => {}); // awaited below, possibly after it settles
    const delivered = this.#durable.then(async (earlierDelivered) => {
      try {
        await synced;
        if (!earlierDelivered) throw new Error("an earlier commit was not durable");
      } catch (e) {
        this.#log.error("commit not durable (fsync failed); its messages were not sent", {
          messages: taken.deliveries.length,
          error: String(e),
        });
        return undefined;
      }
      return this.outbox.deliver(taken);
    });
    this.#durable = delivered.then((d) => d !== undefined);
    return delivered;
  }

  /**
   * KubeEdge's process(): dispatch on the operation. Synchronous; remote queries are
   * spawned. Throws {@link ErrorReply} (fixed mode) or {@link MalformedListItem}.
   */
  process(msg: Message): void {
    const handler = this.#table[msg.route.operation];
    if (handler !== undefined) return handler(msg);
    this.#log.info(`metamanager not supported operation: ${msg.route.operation}`);
  }

  // ---- delivery helpers (§2.4–2.6) -------------------------------------------------

  /** sendToEdged: SendResp when `sync`, else Send to edged. */
  sendToEdged(msg: Message, sync: boolean): void {
    if (sync) {
      if (
        this.quirks.respDroppedForUnknownContext &&
        !REGISTERED_MESSAGE_CONTEXTS.has(msg.header.type)
      ) {
        this.#log.error(
          `message context for module doesn't exist, module name: ${msg.route.source}`,
          { msg_id: msg.header.msgId, type: msg.header.type },
        );
        return;
      }
      this.outbox.push({ via: "resp", msg });
    } else this.outbox.push({ via: "send", to: EDGED_MODULE, msg });
  }

  /** sendToCloud: SendToGroup(contextSendGroup). */
  sendToCloud(msg: Message): void {
    this.outbox.push({ via: "group", group: this.#sendGroup, msg });
  }

  #send(module: string, msg: Message): void {
    this.outbox.push({ via: "send", to: module, msg });
  }

  #ok(req: Message): Message {
    return newRespByMessage(req, Content.of("OK"), this.#id);
  }

  #errorReply(req: Message, prefix: string, err: unknown): ErrorReply {
    const text = `${prefix}: ${err instanceof Error ? err.message : String(err)}`;
    const parent = this.quirks.errorParentIsRequestParent
      ? req.header.parentMsgId
      : req.header.msgId;
    const reply = newErrorMessage(req, text, parent, this.#id);
    reply.route.source = META_MANAGER_MODULE;
    reply.route.group = req.route.group;
    return new ErrorReply(reply, req.route.source === EDGED_MODULE, req.header.sync);
  }

  #deliverError(e: ErrorReply): void {
    this.errorReplies++;
    if (e.toEdged) this.sendToEdged(e.reply, e.sync);
    else this.sendToCloud(e.reply);
  }

  /** feedbackError: the error reply of §2.6 (raised; see {@link handle}). */
  feedbackError(err: unknown, prefix: string, req: Message): never {
    throw this.#errorReply(req, prefix, err);
  }

  #inject(msg: Message): void {
    this.outbox.pushChanges(inject(msg, this.#store.metaV2, this.release));
  }

  // ---- operations (§4) -------------------------------------------------------------

  /** insert (§4.1). */
  processInsert(msg: Message): void {
    const data = msg.content.data();
    this.#inject(msg);
    const { key, type } = parseResource(msg.route.resource);
    try {
      const row = { key, type, value: data };
      if (this.quirks.insertKeepsStaleRow) this.#store.meta.saveMeta(row);
      else this.#store.meta.insertOrUpdate(row);
    } catch (e) {
      this.feedbackError(e, "Error to save meta to DB", msg);
    }
    this.#send(EDGED_MODULE, msg);
    this.sendToCloud(this.#ok(msg));
  }

  #resourceUnchanged(type: string, key: string, data: string): boolean {
    if (type !== "podstatus") return false;
    try {
      const values = this.#store.meta.queryMeta("key", key);
      return values.length > 0 && values[0] === data;
    } catch {
      return false;
    }
  }

  /** update (§4.2). */
  processUpdate(msg: Message): void {
    const data = msg.content.data();
    this.#inject(msg);
    const { key, type } = parseResource(msg.route.resource);
    if (this.#resourceUnchanged(type, key, data)) {
      this.sendToEdged(this.#ok(msg), msg.header.sync);
      return;
    }
    try {
      this.#store.meta.insertOrUpdate({ key, type, value: data });
    } catch (e) {
      this.feedbackError(e, "Error to update meta to DB", msg);
    }
    switch (msg.route.source) {
      case "edged":
        this.sendToCloud(msg);
        this.sendToEdged(this.#ok(msg), msg.header.sync);
        break;
      case "edgecontroller":
      case "dynamiccontroller":
        this.sendToEdged(msg, msg.header.sync);
        this.sendToCloud(this.#ok(msg));
        break;
      case "funcmgr":
        this.#send(EDGE_FUNCTION_MODULE, msg);
        break;
      case "edgefunction":
        this.sendToCloud(msg);
        break;
      default:
        this.#log.info("unsupported source", { source: msg.route.source });
    }
  }

  /**
   * An object the MetaServer read from the cloud (a GET answered by the cloud, as
   * upstream's imitator InsertOrUpdateObj): stored in `meta_v2` only, nothing is sent.
   * It comes through the loop so that the MetaManager stays the single writer.
   */
  processMetaServerStore(msg: Message): void {
    this.#inject({ ...msg, route: { ...msg.route, operation: "update" } });
  }

  /** response (§4.3). */
  processResponse(msg: Message): void {
    const data = msg.content.data();
    const { key, type } = parseResource(msg.route.resource);
    try {
      this.#store.meta.insertOrUpdate({ key, type, value: data });
    } catch (e) {
      this.feedbackError(e, "Error to update meta to DB", msg);
    }
    if (msg.route.source === "edgecontroller") this.sendToEdged(msg, msg.header.sync);
    else this.sendToCloud(msg);
  }

  /** delete (§4.4). */
  processDelete(msg: Message): void {
    this.#inject(msg);
    try {
      this.#store.meta.deleteMetaByKey(msg.route.resource);
    } catch (e) {
      this.feedbackError(e, "Error to delete meta to DB", msg);
    }
    const { type } = parseResource(msg.route.resource);
    if (type === "pod" && msg.route.source === EDGED_MODULE) {
      this.sendToCloud(msg);
      return;
    }
    this.#send(EDGED_MODULE, msg);
    this.sendToCloud(this.#ok(msg));
  }

  #localAnswer(msg: Message, rows: string[]): void {
    const content = rows.length > 0 ? Content.ofStrings(rows) : Content.NULL;
    const reply = newRespByMessage(msg, content, this.#id);
    reply.route.source = META_MANAGER_MODULE;
    this.sendToEdged(reply, msg.header.sync);
  }

  /** query (§4.5). */
  processQuery(msg: Message): void {
    const { key, type, id } = parseResource(msg.route.resource);
    if (requireRemoteQuery(type) && this.connected) {
      let rows: string[] | undefined;
      try {
        rows = this.#store.meta.queryMeta("key", key);
      } catch {
        rows = undefined;
      }
      if (rows === undefined || rows.length === 0 || alwaysRemote(type)) {
        this.#spawn(this.processRemoteQuery(msg));
      } else {
        this.#localAnswer(msg, rows);
      }
      return;
    }
    let rows: string[];
    try {
      rows = id === ""
        ? this.#store.meta.queryMeta("type", type)
        : this.#store.meta.queryMeta("key", key);
    } catch (e) {
      this.feedbackError(e, "Error to query meta in DB", msg);
    }
    this.#localAnswer(msg, rows);
  }

  /**
   * Runs `fn` as one atomic unit outside the main loop (remote query answers, CSI
   * replies) and delivers what it sent once committed.
   */
  #unit(fn: () => void): void {
    try {
      this.#store.transaction(fn);
    } catch (e) {
      if (!(e instanceof ErrorReply)) throw e;
      this.#deliverError(e);
    }
    if (!this.#store.db.inTransaction) void this.deliverWhenDurable(this.outbox.take());
  }

  /** The remote query task (§5). */
  async processRemoteQuery(msg: Message): Promise<void> {
    const originalId = msg.header.msgId;
    const request = withHeader(msg, { msgId: this.#id.newId() });
    let resp: Message;
    try {
      resp = await this.#bus.sendSync(this.#sendModule, request, this.#remoteTimeoutMs);
    } catch (e) {
      this.#unit(() => this.feedbackError(e, "Error to query meta in DB", request));
      return;
    }
    this.#unit(() => {
      const data = resp.content.data();
      const { key, type } = parseResource(msg.route.resource);
      try {
        this.#store.meta.insertOrUpdate({ key, type, value: data });
      } catch (e) {
        this.#log.error("remote query answer not stored", { key, error: String(e) });
      }
      this.sendToEdged(withHeader(resp, { parentMsgId: originalId }), msg.header.sync);
      this.sendToCloud(this.#ok(resp));
    });
  }

  /** connect (§4.6). */
  processNodeConnection(msg: Message): void {
    if (msg.content.isString("cloud_connected")) this.connected = true;
    else if (msg.content.isString("cloud_disconnected")) this.connected = false;
  }

  /** meta-internal-sync (§4.7, §6): per-namespace pod status to the cloud. */
  processSync(): void {
    const result = podStatusSync(this.#store.meta, { log: this.#log });
    const source = META_MANAGER_MODULE_OF[this.release];
    for (const m of podStatusMessages(result, this.#id, source)) this.sendToCloud(m);
  }

  /** action (§4.8). */
  processFunctionAction(msg: Message): void {
    const data = msg.content.data();
    const { key, type } = parseResource(msg.route.resource);
    try {
      this.#store.meta.saveMeta({ key, type, value: data });
    } catch (e) {
      this.feedbackError(e, "Error to save meta to DB", msg);
    }
    this.#send(EDGE_FUNCTION_MODULE, msg);
  }

  /** action_result (§4.9). */
  processFunctionActionResult(msg: Message): void {
    const data = msg.content.data();
    const { key, type } = parseResource(msg.route.resource);
    try {
      this.#store.meta.saveMeta({ key, type, value: data });
    } catch (e) {
      this.feedbackError(e, "Error to save meta to DB", msg);
    }
    this.sendToCloud(msg);
  }

  /** CSI volume operations (§4.10): relay to edged and wait, then answer the cloud. */
  async processVolume(msg: Message): Promise<void> {
    let back: Content = Content.NULL;
    try {
      back = (await this.#bus.sendSync(EDGED_MODULE, msg, VOLUME_TIMEOUT_MS)).content;
    } catch (e) {
      this.#log.warn("volume operation got no answer from edged", { error: String(e) });
    }
    this.#unit(() => this.sendToCloud(newRespByMessage(msg, back, this.#id)));
  }
}
