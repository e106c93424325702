/**
 * `serve`: the MetaManager as a long-running service. One loopback HTTP server carries
 * the WebSocket module endpoint, the sync trigger, health, readiness and metrics.
 *
 * @module
 */

import { MessageBus } from "../beehive/bus.ts";
import { ModuleRegistry, servicePart } from "../beehive/module.ts";
import { type Identity, type Message, systemIdentity } from "../beehive/message.ts";
import { ModuleBridge } from "../bridge/websocket.ts";
import type { Config } from "../config/config.ts";
import { configuredRelease, listenAddress } from "../config/config.ts";
import { checkForcedSync, checkProcessRelease } from "../metamanager/compat.ts";
import type { Logger } from "../logger.ts";
import { runMetaManagerLoop } from "../metamanager/module.ts";
import { FrameDecoder } from "../metamanager/frame_decoder.ts";
import {
  connectionMessage,
  EDGED_MODULE,
  META_GROUP,
  META_MANAGER_MODULE_OF,
  MetaManager,
  metaServerStoreMessage,
  podStatusSyncTrigger,
  SYNC_ERRORS_OF,
} from "../metamanager/process.ts";
import { deliveryEventLines } from "../replay/recorder.ts";
import { podStatusSync } from "../metamanager/pod_status_sync.ts";
import { Checkpointer } from "../store/checkpointer.ts";
import { Store } from "../store/store.ts";
import { editRow, type RowEdit, type RowEditResult } from "../tools/edit.ts";
import { JournalWriter } from "./journal_writer.ts";
import {
  checkListen,
  formatListen,
  isLoopback,
  type ListenAddress,
  parseListen,
} from "./listen.ts";
import { claimDatabase, type DatabaseClaim } from "./database_claim.ts";
import { Metrics } from "./metrics.ts";
import { createHandler, type ServeState } from "./http.ts";
import { type HttpServer, serveHttp } from "./http_server.ts";
import { WatchHub } from "../metaserver/watch.ts";
import { ApplicationAgent } from "../metaserver/application.ts";

/**
 * Frames up to this size (or maxMessageBytes when larger) are read whole, so that one over
 * maxMessageBytes gets an error frame and the connection stays; a longer one closes the
 * connection (1009), as Deno's own WebSocket did at 64 MiB.
 */
const MAX_READ_FRAME_BYTES = 64 * 1024 * 1024;

/** Default of {@link ServiceOptions.closeLimitMs}. */
const CLOSE_LIMIT_MS = 10_000;

/** Default overall deadline of a shutdown (serve's --shutdown-timeout default). */
const SHUTDOWN_TIMEOUT_MS = 30_000;

/** How long the HTTP server's in-flight requests may take at shutdown. */
const HTTP_DRAIN_MS = 2_000;

/** Options of {@link EdgeMetaService.shutdown}. */
export interface ShutdownOptions {
  /**
   * How long attached modules have to answer serve's Close frame; one that has not
   * answered by then is cut (what it sent before is still processed). serve passes its
   * overall shutdown deadline, which ends the process first.
   */
  closeLimitMs?: number;
}

/** Options of {@link EdgeMetaService.start}. */
export interface ServiceOptions {
  config: Config;
  logger: Logger;
  identity?: Identity;
  /** Create a missing database (and its directory) at a path other than the default. */
  create?: boolean;
  /**
   * The registry serve's parts are started by (in order) and stopped by (in reverse); its
   * owner may install its signal handlers. Default: a new one (shutdown deadline 30 s).
   */
  registry?: ModuleRegistry;
  /**
   * How long attached modules have to answer serve's Close frame at shutdown; one that has
   * not answered by then is cut (default 10 s; serve passes its overall deadline).
   */
  closeLimitMs?: number;
}

/**
 * A running service. Its parts are modules of one {@link ModuleRegistry}, started in this
 * order and stopped (then cleaned up) in reverse: `database` (closed last: final WAL
 * checkpoint, journal mode restored, writer lock released), `checkpointer` (background WAL
 * checkpoints), the MetaManager loop (bus module `metaManager`/`metamanager`: drains what is
 * queued), `moduleBridge` (WebSocket modules: closing handshake), `metaServer` (watch hub),
 * `httpServer` (listens at setup; stops accepting first) and `podStatusSyncTimer` (v1.10).
 */
export class EdgeMetaService implements ServeState {
  readonly metrics = new Metrics();
  readonly bus: MessageBus;
  readonly mm: MetaManager;
  readonly bridge: ModuleBridge;
  /** Decodes the bridge's frames (a backlog on a worker thread with `decodeOnWorker`). */
  readonly decoder: FrameDecoder;
  /** MetaServer watches (when metaServer.enable): fed with meta_v2 changes after commit. */
  readonly watchHub?: WatchHub;
  /** The MetaServer's application round-trip to the cloud (spec/metaserver.md §6). */
  readonly applications: ApplicationAgent;
  /** True while a module of the cloud group (modules.metaManager.contextSendGroup) is attached. */
  cloudConnected = false;
  /** The address actually bound (`127.0.0.1:10550`, `unix:/run/x.sock`). */
  address = "";
  /** Starts serve's parts in order and stops them in reverse. */
  readonly registry: ModuleRegistry;
  #server?: HttpServer;
  #serverDone?: Promise<void>;
  /** Background WAL checkpoints (file databases). */
  #checkpointer?: Checkpointer;
  #timer?: ReturnType<typeof setInterval>;
  #journal?: JournalWriter;
  #claim?: DatabaseClaim;
  #closeLimitMs = CLOSE_LIMIT_MS;
  readonly #id: Identity;
  /** The MetaManager's module name on the bus. */
  readonly #module: string;
  #loopRunning = false;

  private constructor(
    readonly config: Config,
    readonly store: Store,
    readonly logger: Logger,
    identity: Identity,
    registry: ModuleRegistry,
  ) {
    this.#id = identity;
    this.registry = registry;
    const mmc = config.modules.metaManager;
    // beehive's SendSync texts are the release's (v1.23 quotes the request id).
    this.bus = new MessageBus({ logger, syncErrors: SYNC_ERRORS_OF[store.release] });
    // The MetaManager's module name is the release's (v1.23: `metamanager`); its queue is
    // made by the registry.
    this.#module = META_MANAGER_MODULE_OF[store.release];
    this.bus.addModule(EDGED_MODULE, "edged");
    this.bus.addModule(mmc.contextSendModule, mmc.contextSendGroup);
    if (mmc.metaServer.enable) this.watchHub = new WatchHub({ rows: store.metaV2.rows(), logger });
    const hub = this.watchHub;
    this.mm = new MetaManager({
      store,
      bus: this.bus,
      mode: config.edgecoreMeta.compat,
      identity,
      logger,
      contextSendGroup: mmc.contextSendGroup,
      contextSendModule: mmc.contextSendModule,
      remoteQueryTimeout: mmc.remoteQueryTimeout,
      onChanges: hub,
    });
    this.decoder = new FrameDecoder({ logger, worker: config.edgecoreMeta.decodeOnWorker });
    this.bridge = new ModuleBridge({
      bus: this.bus,
      logger,
      decoder: this.decoder,
      defaultDestination: this.#module,
      maxFrameBytes: config.edgecoreMeta.maxMessageBytes,
      onAttach: (_name, group) => {
        if (group !== mmc.contextSendGroup) return;
        this.cloudConnected = true;
        this.applications?.resetReads();
        this.#connection(true);
      },
      onDetach: (_name, group) => {
        if (group !== mmc.contextSendGroup) return;
        this.cloudConnected = this.bridge.attachedInGroup(group);
        this.#connection(false);
      },
      onBadFrame: (kind) => {
        this.metrics.badFrames++;
        if (kind === "oversized") this.metrics.oversizedFrames++;
      },
    });
    this.applications = new ApplicationAgent({
      bus: this.bus,
      cloudModule: mmc.contextSendModule,
      nodeName: config.edgecoreMeta.nodeName || Deno.hostname().toLowerCase(),
      identity,
      connected: () => this.cloudConnected,
      failFastOffline: config.edgecoreMeta.compat !== "strict",
      logger,
    });
  }

  /** Stores an object the MetaServer read from the cloud, through the MetaManager loop. */
  storeCloudObject(object: Record<string, unknown>, text: string): void {
    this.#enqueue(metaServerStoreMessage(object, this.#id, text));
  }

  /**
   * Checks the listen address and the database, opens it, then starts serve's parts by the
   * registry (the HTTP server listens at its setup).
   * @throws {Error} for an unusable database, journal or listen address; the database file
   *   is then as it was
   */
  static async start(options: ServiceOptions): Promise<EdgeMetaService> {
    const { config, logger } = options;
    const listen = parseListen(listenAddress(config));
    if (listen.kind === "tcp" && !isLoopback(listen.hostname) && !config.edgecoreMeta.allowRemote) {
      throw new Error(
        `Refusing to listen on non-loopback address ${
          listenAddress(config)
        }: pass --allow-remote ` +
          `(or edgecoreMeta.allowRemote: true) to expose the unauthenticated API`,
      );
    }
    const path = config.database.dataSource;
    // Every start-up check passes before anything is written to the database file: the
    // listen address (bound and released), the database path, the release, the writer lock,
    // the journal.
    await checkListen(listen);
    const claim = claimDatabase(path, options.create ?? false);
    const configured = configuredRelease(config);
    const release = configured ??
      Store.releaseOf(path, { busyTimeoutMs: config.edgecoreMeta.busyTimeoutMs }) ?? "1.10";
    // Checked before the file is opened for writing: a refused node's file stays as it was.
    checkProcessRelease(release, "serve");
    if (!claim.created) claim.lock();
    let journal: JournalWriter | undefined;
    let store: Store;
    try {
      if (config.edgecoreMeta.journal) journal = JournalWriter.open(config.edgecoreMeta.journal);
      try {
        store = Store.open(path, {
          synchronous: config.edgecoreMeta.synchronous,
          busyTimeoutMs: config.edgecoreMeta.busyTimeoutMs,
          syncOffThread: true,
          release: configured,
        });
      } catch (e) {
        claim.release();
        throw e;
      }
    } catch (e) {
      journal?.close();
      claim.release({ restore: false });
      throw e;
    }
    let svc: EdgeMetaService;
    try {
      claim.lock();
      const registry = options.registry ??
        new ModuleRegistry({ logger, shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS });
      svc = new EdgeMetaService(
        config,
        store,
        logger,
        options.identity ?? systemIdentity,
        registry,
      );
    } catch (e) {
      journal?.close();
      store.close();
      claim.release();
      throw e;
    }
    svc.#claim = claim;
    svc.#journal = journal;
    svc.#closeLimitMs = options.closeLimitMs ?? CLOSE_LIMIT_MS;
    svc.#register(listen);
    // A part that cannot be set up (the listener) ends the start-up; the parts set up before
    // it are cleaned up in reverse (the database closed, its journal mode restored).
    await svc.registry.start(svc.bus);
    if (claim.restoreRollbackJournal) {
      logger.info("database in WAL mode while serve runs; rollback-journal mode restored on stop", {
        db: path,
      });
    }
    logger.info("serving", {
      address: svc.address,
      db: path,
      compat: config.edgecoreMeta.compat,
      kubeedge: svc.store.release,
      schema: svc.store.db.shape,
      synchronous: config.edgecoreMeta.synchronous,
    });
    if (listen.kind === "tcp" && !isLoopback(listen.hostname)) {
      logger.warn("listening on a non-loopback address: the API has no authentication", {
        address: svc.address,
      });
    }
    return svc;
  }

  /**
   * EdgeHub's connection event: v1.10's MetaManager takes it from its queue; in v1.23
   * EdgeHub sets the process-wide flag first (`pubConnectInfo`) and the MetaManager
   * ignores the message.
   */
  #connection(connected: boolean): void {
    const msg = connectionMessage(connected, this.#id);
    this.mm.setConnectionFromEdgeHub(msg);
    this.#enqueue(msg);
  }

  #enqueue(msg: Message): void {
    this.bus.send(this.#module, msg).catch((e) =>
      this.logger.warn("message not queued", { error: String(e) })
    );
  }

  /** Registers serve's parts, in start order (see the class comment). */
  #register(listen: ListenAddress): void {
    const r = this.registry;
    r.register(servicePart("database", {
      pending: () => "journal and database close",
      cleanup: () => {
        this.#journal?.close();
        // The file alone then holds every commit: copy edgecore.db and you copy everything.
        this.#checkpointWal();
        this.store.close();
        this.#claim?.release();
        if (!this.closing) return; // a start-up that failed
        this.logger.info("stopped", {
          background_checkpoints: this.#checkpointer?.stats.checkpoints ?? 0,
        });
      },
    }));
    r.register(servicePart("checkpointer", {
      setup: () => {
        this.#checkpointer = Checkpointer.forDatabase(this.store.db, this.logger);
      },
      pending: () => "background checkpointer",
      cleanup: () => this.#checkpointer?.close(),
    }));
    r.register({
      name: this.#module,
      group: META_GROUP,
      enabled: true,
      // Stops waiting for messages when its signal aborts, then processes what is queued.
      start: (_bus, signal) => this.#runLoop(signal),
      pending: () => "MetaManager loop (queued messages)",
      cleanup: () => this.bus.flushWarnings(),
    });
    r.register(servicePart("moduleBridge", {
      // The closing handshake (RFC 6455 §7.1): each attached module gets a Close frame and
      // no more messages; every frame it sent before its own Close frame is still read,
      // handed on, processed and committed (the loop runs on), however slow the CPU: TCP
      // order, not a quiet timer, says when a peer is done. One that does not answer
      // within the limit is cut.
      stop: async () => {
        const peers = this.bridge.attached();
        const closeStart = performance.now();
        this.bridge.close(1001, "shutting down");
        if (await this.bridge.closed(AbortSignal.timeout(this.#closeLimitMs))) {
          this.logger.info("modules closed", {
            modules: peers.length,
            after_ms: Math.round(performance.now() - closeStart),
          });
        } else {
          this.logger.warn("modules did not answer the close in time; cutting them", {
            modules: this.bridge.closingPeers().join(","),
            after_ms: Math.round(performance.now() - closeStart),
          });
          this.bridge.terminateAll();
        }
      },
      pending: () =>
        `closing handshake with ${this.bridge.closingPeers().join(",") || "no module"}`,
      cleanup: () => {
        this.decoder.close();
        this.bridge.flushWarnings();
      },
    }));
    r.register(servicePart("metaServer", {
      enabled: this.watchHub !== undefined,
      stop: () => this.watchHub?.close(), // ends the watch streams the HTTP server waits for
    }));
    r.register(servicePart("httpServer", {
      setup: () => this.#listen(listen),
      // First to stop: no new connections; new requests on open ones get 503 (http.ts).
      stop: () => {
        this.#server?.stopAccepting();
        this.#serverDone = this.#server?.shutdown();
      },
      pending: () => "HTTP server (requests in flight)",
      cleanup: async () => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise((r) => timer = setTimeout(r, HTTP_DRAIN_MS));
        await Promise.race([this.#serverDone, late]).finally(() => clearTimeout(timer));
      },
    }));
    // v1.23 has no pod-status sync timer (spec/v1.23.md §1).
    r.register(servicePart("podStatusSyncTimer", {
      enabled: this.store.release === "1.10",
      setup: () => {
        const interval = this.config.modules.metaManager.podStatusSyncInterval;
        this.#timer = setInterval(
          () => this.#enqueue(podStatusSyncTrigger(this.#id)),
          interval * 1000,
        );
      },
      stop: () => clearInterval(this.#timer),
    }));
  }

  async #runLoop(signal: AbortSignal): Promise<void> {
    this.#loopRunning = true;
    try {
      await runMetaManagerLoop({
        mm: this.mm,
        store: this.store,
        logger: this.logger,
        receive: (signal) => this.bus.receive(this.#module, signal),
        tryReceive: () => this.bus.tryReceive(this.#module),
        checkpointer: this.#checkpointer,
        onReceived: (batch) => {
          if (!this.#journal) return;
          for (const m of batch) this.#journal.append(m);
          this.#journal.flush();
        },
        onProcessed: (m) => {
          this.metrics.countMessage(m.route.operation);
        },
        onCommit: (seconds) => this.metrics.observeCommit(seconds),
      }, signal);
    } catch (e) {
      this.logger.error("metaManager loop stopped", { error: String(e) });
    } finally {
      this.#loopRunning = false;
    }
  }

  async #listen(listen: ListenAddress): Promise<void> {
    const handler = createHandler(this);
    const onError = (e: unknown) => {
      this.logger.error("request failed", { error: String(e) });
      return new Response("internal error\n", { status: 500 });
    };
    const maxPayload = Math.max(MAX_READ_FRAME_BYTES, this.config.edgecoreMeta.maxMessageBytes);
    try {
      this.#server = await serveHttp(handler, { listen, maxPayload, onError });
    } catch (e) {
      throw new Error(`Cannot listen on ${formatListen(listen)}: ${(e as Error).message}`);
    }
    this.address = this.#server.address;
    if (listen.kind === "unix") Deno.chmodSync(listen.path, 0o600);
  }

  /** True once shutdown has begun. */
  get closing(): boolean {
    return this.registry.signal?.aborted ?? false;
  }

  /** True while the database is open and the loop runs. */
  ready(): boolean {
    return this.readiness().every((c) => c.ok);
  }

  /** The checks behind {@link ready}, each with what it found (`/readyz?verbose`). */
  readiness(): { name: string; ok: boolean; detail: string }[] {
    const syncError = this.store.db.syncError;
    return [
      { name: "shutdown", ok: !this.closing, detail: this.closing ? "shutting down" : "running" },
      {
        name: "loop",
        ok: this.#loopRunning,
        detail: this.#loopRunning ? "MetaManager loop running" : "MetaManager loop stopped",
      },
      {
        name: "database",
        ok: this.store.db.sqlite.isOpen,
        detail: this.store.db.sqlite.isOpen
          ? `${this.config.database.dataSource} open`
          : `${this.config.database.dataSource} closed`,
      },
      {
        name: "durability",
        ok: syncError === undefined,
        detail: syncError === undefined ? "commits reach the disk" : `fsync failed: ${syncError}`,
      },
    ];
  }

  /**
   * Runs the forced pod-status sync now and returns the event lines of the messages it sent
   * to the cloud and the keys of the orphaned podstatus rows it deleted. v1.10: its
   * meta-internal-sync, through process() as the timer's message (journaled). v1.23 has no
   * meta-internal-sync: strict refuses; fixed runs this program's sync (v1.10's, sent from
   * module `metamanager`) directly, not as a bus message, so the journal does not hold it.
   * @throws {import("../metamanager/compat.ts").ReleaseRefusal} in strict v1.23
   */
  async syncNow(): Promise<{ lines: string[]; orphans: string[] }> {
    checkForcedSync(
      this.mm.release,
      this.config.edgecoreMeta.compat,
      `sync ${this.config.database.dataSource}`,
    );
    const trigger = podStatusSyncTrigger(this.#id);
    const viaProcess = this.mm.release === "1.10";
    if (viaProcess) {
      this.#journal?.append(trigger);
      this.#journal?.flush();
    }
    let orphans: string[] = [];
    this.store.transaction(() => {
      orphans = podStatusSync(this.store.meta, { dryRun: true }).orphans; // what the sync deletes
      if (viaProcess) this.mm.handle(trigger);
      else this.mm.processSync();
    });
    const deliveries = await this.mm.deliverWhenDurable(this.mm.outbox.take()) ?? [];
    this.metrics.countMessage(trigger.route.operation);
    const lines = deliveryEventLines(1, deliveries, (g) => this.bus.groupMembers(g), trigger);
    return { lines, orphans };
  }

  /**
   * Deletes or repairs one row as the database's one writer (POST /v1/rows, `edit`): one
   * transaction between the loop's batches, on disk before this resolves; a meta_v2 change
   * reaches MetaServer watchers as DELETED or MODIFIED, after the commit like any other.
   * @throws {import("../tools/edit.ts").RowEditError} when the edit cannot be made
   */
  async editRow(edit: RowEdit, dryRun: boolean): Promise<RowEditResult> {
    const result = this.store.transaction(() => {
      const r = editRow(this.store, edit, dryRun);
      if (r.applied && r.metaV2Row) {
        this.mm.outbox.pushChanges([{
          type: r.action === "delete" ? "DELETED" : "MODIFIED",
          row: r.metaV2Row,
          object: r.object,
        }]);
      }
      return r;
    });
    if (!result.applied) return result;
    this.logger.info("row edited", { action: result.action, table: result.table, key: result.key });
    const delivered = await this.mm.deliverWhenDurable(this.mm.outbox.take());
    if (delivered === undefined) throw new Error("the edit was committed but the fsync failed");
    return result;
  }

  /**
   * Stops serve's parts in reverse start order (the registry's shutdown, within its
   * deadline): stops taking connections, closes each attached module by the WebSocket
   * closing handshake (processing what it sent before its Close frame), finishes queued
   * work, commits, checkpoints the WAL into the file and closes the database. Idempotent.
   * @throws {Error} naming what was still pending when the deadline passed
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    if (options.closeLimitMs !== undefined) this.#closeLimitMs = options.closeLimitMs;
    const still = await this.registry.shutdown();
    if (still.length > 0) {
      throw new Error(`Shutdown did not finish in time: ${this.registry.pending}`);
    }
  }

  /** What shutdown is waiting for now (`""` before it begins), for the deadline message. */
  get shutdownPhase(): string {
    return this.registry.pending;
  }

  /** Copies the whole WAL into the database file and truncates it (file databases). */
  #checkpointWal(): void {
    const db = this.store.db;
    if (db.path === ":memory:" || db.readOnly || !db.sqlite.isOpen) return;
    try {
      if (db.journalMode().toLowerCase() === "wal") {
        db.sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      }
    } catch (e) {
      this.logger.warn("final WAL checkpoint failed", { db: db.path, error: String(e) });
    }
  }

  /** Resolves when the HTTP server has finished. */
  get finished(): Promise<void> {
    return this.#server?.finished ?? Promise.resolve();
  }
}
