/**
 * `edgecore-meta serve`: run the MetaManager as a service.
 *
 * @module
 */

import { Command, Option } from "@commander-js/extra-typings";
import { EdgeMetaService } from "../src/serve/service.ts";
import { ModuleRegistry } from "../src/beehive/module.ts";
import { createLogger } from "../src/logger.ts";
import { CommandError } from "../src/errors.ts";
import { DatabaseError } from "../src/store/db.ts";
import { commandConfig, type GlobalOptions } from "./global.ts";

/** Default of `--shutdown-timeout`: the overall deadline of a shutdown, in seconds. */
export const DEFAULT_SHUTDOWN_TIMEOUT_S = 30;

/** The `serve` subcommand. */
export function serveCommand() {
  return new Command("serve")
    .summary("run the MetaManager as a service (default: ./data/edgecore.db, 127.0.0.1:10550)")
    .description(
      "Run the MetaManager loop as a service: SQLite store, pod-status sync timer (v1.10; " +
        "v1.23 has none), and one loopback HTTP server for external bus modules (WebSocket), " +
        "sync, health and metrics. As KubeEdge v1.23 the MetaManager is bus module " +
        "`metamanager` (v1.10: `metaManager`) and runs v1.23.1's process().",
    )
    .option(
      "--listen <address>",
      "HOST:PORT or unix:PATH (default: metaServer.server, 127.0.0.1:10550)",
    )
    .addOption(
      new Option("--compat <mode>", "compatibility mode (default: fixed)").choices([
        "strict",
        "fixed",
      ]),
    )
    .option(
      "--kubeedge <release>",
      "KubeEdge release: 1.10 or 1.23 (default: edgecoreMeta.kubeedge, EDGECORE_META_KUBEEDGE, " +
        "else the release whose schema the database has, else 1.10)",
    )
    .option("--journal <file>", "append every message received to this NDJSON journal")
    .option(
      "--create",
      "create a missing database (and its directory); without it only the default " +
        "./data/edgecore.db is created",
    )
    .option("--allow-remote", "allow listening on a non-loopback address (no authentication!)")
    .option(
      "--shutdown-timeout <seconds>",
      "overall deadline of a shutdown on SIGINT/SIGTERM; past it serve exits 1 naming what " +
        "was still pending (default: 30)",
    )
    .addHelpText(
      "after",
      `
Endpoints:
  GET  /v1/modules/{name}?group={group}   WebSocket: become bus module {name}
                                          (e.g. websocket/hub, edged/edged)
  POST /v1/sync                           run the pod-status sync (409 in strict v1.23)
  POST /v1/rows                           delete or repair one row ("edgecore-meta edit")
  GET  /healthz, /readyz[?verbose]        liveness; readiness (each check with ?verbose)
  GET  /metrics                           Prometheus metrics (also DB size, rows, watchers)
  GET  /api, /apis, /api/v1/...           MetaServer: read-only kubectl-compatible API from meta_v2
                                          (kubectl --server http://127.0.0.1:10550 get pods -A)

Examples:
  edgecore-meta serve
  edgecore-meta serve --db /var/lib/kubeedge/edgecore.db --listen unix:/run/edgecore-meta.sock
  edgecore-meta --config /etc/kubeedge/config/edgecore.yaml serve --journal /var/log/meta.ndjson`,
    )
    .action(async (opts, cmd) => {
      const global = cmd.optsWithGlobals() as GlobalOptions;
      const { config } = await commandConfig(global, {
        "edgecoreMeta.listen": opts.listen,
        "edgecoreMeta.compat": opts.compat,
        "edgecoreMeta.kubeedge": opts.kubeedge,
        "edgecoreMeta.journal": opts.journal,
        "edgecoreMeta.allowRemote": opts.allowRemote,
      });
      const logger = createLogger(config.edgecoreMeta.logLevel);
      const timeoutSeconds = opts.shutdownTimeout === undefined
        ? DEFAULT_SHUTDOWN_TIMEOUT_S
        : Number(opts.shutdownTimeout);
      if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
        throw new CommandError(
          `Invalid --shutdown-timeout ${JSON.stringify(opts.shutdownTimeout)}: ` +
            `expected a positive number of seconds`,
          2,
        );
      }
      // The registry starts serve's parts in order, stops them in reverse and owns the
      // signal handling: a terminal's Ctrl-C reaches the whole process group (deno task and
      // serve), and a second signal is logged and never cuts the first shutdown short. The
      // listeners are installed before start-up: a signal during it stops serve once started.
      const deadlineMs = timeoutSeconds * 1000;
      const registry = new ModuleRegistry({ logger, shutdownTimeoutMs: deadlineMs });
      const ended = Promise.withResolvers<string[]>();
      const removeSignalHandlers = registry.installSignalHandlers({ onShutdown: ended.resolve });
      try {
        try {
          // Attached modules may take the whole deadline to finish the closing handshake;
          // one that never answers is still open when the deadline ends serve (exit 1). The
          // bridge's own limit is a second later, so that the deadline, not a tie between
          // two timers of the same length, decides (the exit names the closing handshake).
          await EdgeMetaService.start({
            config,
            logger,
            create: opts.create ?? false,
            registry,
            closeLimitMs: deadlineMs + 1000,
          });
        } catch (e) {
          if (e instanceof DatabaseError) throw e;
          throw new CommandError(`Cannot start serve: ${(e as Error).message}`);
        }
        const still = await ended.promise;
        if (still.length > 0) {
          logger.error("shutdown did not finish in time; exiting", {
            deadline_s: timeoutSeconds,
            pending: registry.pending,
          });
          Deno.exit(1);
        }
      } finally {
        removeSignalHandlers();
      }
    });
}
