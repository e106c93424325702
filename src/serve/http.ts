/**
 * HTTP routes of serve: the WebSocket module endpoint, the sync trigger, row edits,
 * health, readiness and metrics.
 *
 * @module
 */

import type { Metrics, StoreGauges } from "./metrics.ts";
import { detectShape, metaV2Statements } from "../store/schema.ts";
import { createMetaServerHandler } from "../metaserver/handler.ts";
import {
  parseRowEdit,
  renderEdit,
  type RowEdit,
  RowEditError,
  type RowEditResult,
} from "../tools/edit.ts";
import { ReleaseRefusal } from "../metamanager/compat.ts";
import type { RequestContext } from "./http_server.ts";
import type { Config } from "../config/config.ts";
import type { Logger } from "../logger.ts";
import type { MessageBus } from "../beehive/bus.ts";
import type { ModuleBridge } from "../bridge/websocket.ts";
import type { MetaManager } from "../metamanager/process.ts";
import type { FrameDecoder } from "../metamanager/frame_decoder.ts";
import type { Store } from "../store/store.ts";
import type { WatchHub } from "../metaserver/watch.ts";
import type { ApplicationAgent } from "../metaserver/application.ts";

/**
 * What the routes need of the running service (src/serve/service.ts implements it; this
 * module does not import the service, so the two are no import cycle).
 */
export interface ServeState {
  readonly config: Config;
  readonly logger: Logger;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly bus: MessageBus;
  readonly mm: MetaManager;
  readonly bridge: ModuleBridge;
  readonly decoder: FrameDecoder;
  readonly watchHub?: WatchHub;
  readonly applications: ApplicationAgent;
  /** True once shutdown has begun: requests get 503. */
  readonly closing: boolean;
  /** The readiness checks (`/readyz`). */
  readiness(): { name: string; ok: boolean; detail: string }[];
  /** Runs the forced pod-status sync (`POST /v1/sync`). */
  syncNow(): Promise<{ lines: string[]; orphans: string[] }>;
  /** Deletes or repairs one row (`POST /v1/rows`). */
  editRow(edit: RowEdit, dryRun: boolean): Promise<RowEditResult>;
  /** Stores an object the MetaServer read from the cloud (`text`: its JSON as received). */
  storeCloudObject(object: Record<string, unknown>, text: string): void;
}

const MODULE_PATH = /^\/v1\/modules\/([^/]+)$/;

function text(body: string, status = 200, type = "text/plain; charset=utf-8"): Response {
  return new Response(body, { status, headers: { "content-type": type } });
}

function problem(status: number, message: string): Response {
  return text(JSON.stringify({ error: message }) + "\n", status, "application/json");
}

/** Database file size and rows per resource, read when /metrics is scraped. */
function storeGauges(svc: ServeState): StoreGauges {
  const path = svc.config.database.dataSource;
  let fileBytes = 0;
  for (const suffix of ["", "-wal"]) {
    try {
      fileBytes += Deno.statSync(path + suffix).size;
    } catch {
      // absent (-wal after a clean checkpoint) or in memory
    }
  }
  const sqlite = svc.store.db.sqlite;
  const group = (sql: string) =>
    (sqlite.prepare(sql).all() as { g: string; n: number }[]).map((r) => ({
      group: String(r.g ?? ""),
      rows: Number(r.n),
    }));
  return {
    fileBytes,
    metaRows: group("SELECT `type` AS g, count(*) AS n FROM `meta` GROUP BY `type`"),
    metaV2Rows: group(
      `SELECT ${
        metaV2Statements(detectShape(sqlite) ?? "beego").gvrExpr
      } AS g, count(*) AS n FROM \`meta_v2\` GROUP BY 1`,
    ),
  };
}

/** The request handler of a service. */
export function createHandler(
  svc: ServeState,
): (req: Request, ctx: RequestContext) => Response | Promise<Response> {
  const metaServer = svc.watchHub
    ? createMetaServerHandler({
      store: svc.store.metaV2,
      hub: svc.watchHub,
      logger: svc.logger,
      cloud: svc.applications,
      writes: svc.config.edgecoreMeta.metaServer.writes,
      maxBodyBytes: svc.config.edgecoreMeta.maxMessageBytes,
      onCloudObject: (o, text) => svc.storeCloudObject(o, text),
    })
    : undefined;
  return async (req: Request, ctx: RequestContext): Promise<Response> => {
    const url = new URL(req.url);
    const path = url.pathname;
    if (svc.closing) return problem(503, "shutting down");
    if (path === "/healthz") return text("ok\n");
    if (path === "/readyz") {
      const checks = svc.readiness();
      const ok = checks.every((c) => c.ok);
      if (!url.searchParams.has("verbose")) return ok ? text("ok\n") : text("not ready\n", 503);
      // As the Kubernetes API server's /readyz?verbose: one [+]/[-] line per check.
      const body = checks.map((c) =>
        `[${c.ok ? "+" : "-"}]${c.name} ${c.ok ? "ok" : "failed"}: ${c.detail}\n`
      )
        .join("") + `readyz check ${ok ? "passed" : "failed"}\n`;
      return text(body, ok ? 200 : 503);
    }
    if (path === "/metrics") {
      const stats = svc.bus.stats();
      const queues = stats.queues;
      const depths: Record<string, number> = {};
      for (const [name, q] of Object.entries(queues)) depths[name] = q.depth;
      return text(
        svc.metrics.render({
          connected: svc.mm.connected,
          queueDepths: depths,
          bus: stats,
          store: storeGauges(svc),
          watchers: svc.watchHub?.watcherCount ?? 0,
          slowWatchersClosed: svc.watchHub?.slowClosed ?? 0,
          heldFrames: svc.bridge.held(),
          heldFramesPeak: svc.bridge.heldPeak,
          readPauses: svc.bridge.readPauses,
          decodedBatches: {
            worker: svc.decoder.stats.workerBatches,
            main: svc.decoder.stats.inlineBatches,
          },
        }),
        200,
        "text/plain; version=0.0.4; charset=utf-8",
      );
    }
    if (path === "/v1/sync") {
      if (req.method !== "POST") return problem(405, "use POST to run meta-internal-sync");
      let synced: { lines: string[]; orphans: string[] };
      try {
        synced = await svc.syncNow();
      } catch (e) {
        if (e instanceof ReleaseRefusal) return problem(409, e.message);
        throw e;
      }
      const { lines, orphans } = synced;
      if (url.searchParams.get("format") === "json") {
        // What "edgecore-meta sync" prints: the event lines and the orphans deleted.
        return text(JSON.stringify({ lines, orphans }) + "\n", 200, "application/json");
      }
      return text(lines.map((l) => l + "\n").join(""), 200, "application/x-ndjson");
    }
    if (path === "/v1/rows") {
      if (req.method !== "POST") {
        return problem(405, 'use POST with {"action":"delete"|"set","key":...,"value":...}');
      }
      const dryRun = url.searchParams.get("dryRun") === "true";
      try {
        const limit = svc.config.edgecoreMeta.maxMessageBytes;
        const body = await req.text();
        if (body.length > limit) {
          return problem(413, `the edit is over the ${limit}-byte limit (maxMessageBytes)`);
        }
        const result = await svc.editRow(parseRowEdit(body), dryRun);
        const answer = { text: renderEdit(result, dryRun), applied: result.applied };
        return text(JSON.stringify(answer) + "\n", 200, "application/json");
      } catch (e) {
        if (e instanceof RowEditError) return problem(e.status, e.message);
        return problem(500, `edit failed: ${(e as Error).message}`);
      }
    }
    const m = MODULE_PATH.exec(path);
    if (m) {
      if (req.method !== "GET") return problem(405, "use GET with a WebSocket upgrade");
      const upgrade = ctx.upgradeWebSocket;
      if ((req.headers.get("upgrade") ?? "").toLowerCase() !== "websocket" || !upgrade) {
        return problem(400, "this endpoint needs a WebSocket upgrade");
      }
      let name: string;
      try {
        name = decodeURIComponent(m[1]);
      } catch {
        return problem(400, `invalid module name ${JSON.stringify(m[1])}`);
      }
      const group = url.searchParams.get("group") ?? "";
      const refusal = svc.bridge.check(name, group);
      if (refusal) return problem(refusal.status, refusal.message);
      return upgrade((socket) => svc.bridge.attach(socket, name, group));
    }
    if (metaServer) return metaServer(req);
    return problem(404, `no such endpoint: ${req.method} ${path}`);
  };
}
