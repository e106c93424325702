/**
 * `edgecore-meta sync`: force a pod-status meta-sync, on a running serve or directly on
 * a database file.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import { configuredRelease, listenAddress } from "../src/config/config.ts";
import { acquireWriterLock } from "../src/store/writer_lock.ts";
import { CommandError } from "../src/errors.ts";
import { systemIdentity } from "../src/beehive/message.ts";
import { podStatusMessages, podStatusSync } from "../src/metamanager/pod_status_sync.ts";
import { deliveryEventLines, EDGECORE_GROUPS } from "../src/replay/recorder.ts";
import { Store } from "../src/store/store.ts";
import { databaseFailure } from "../src/store/db.ts";
import { checkForcedSync } from "../src/metamanager/compat.ts";
import { META_MANAGER_MODULE_OF } from "../src/metamanager/process.ts";
import { MetaDao } from "../src/store/meta.ts";
import { withReadOnlyDatabase } from "../src/inspect/open.ts";
import { checkTables, listTables } from "../src/inspect/query.ts";
import { requestServer } from "../src/serve/client.ts";
import { isRollbackJournalFile } from "../src/serve/database_claim.ts";
import { commandConfig, type GlobalOptions } from "./global.ts";
import { writeStdoutSync } from "../src/io/stdout.ts";

/** The same output in both modes: event lines on stdout, one summary line on stderr. */
function printSync(lines: string[], orphans: string[], verb: string): void {
  for (const l of lines) writeStdoutSync(l + "\n");
  // One message may be delivered to several group members (one line each).
  const ids = new Set(lines.map((l) => {
    try {
      return JSON.parse(l)?.message?.header?.msg_id ?? l;
    } catch {
      return l;
    }
  }));
  const messages = ids.size;
  console.error(
    `sync: ${messages} namespace message(s); ${verb} ${orphans.length} ` +
      `orphaned podstatus row(s)` + (orphans.length ? `: ${orphans.join(", ")}` : ""),
  );
}

/** The `sync` subcommand. */
export function syncCommand() {
  return new Command("sync")
    .summary("force a pod-status meta-sync (on a running serve, or on a database with --db)")
    .description(
      "Run meta-internal-sync now. Without --db it asks a running serve and prints the " +
        "messages it sent to the cloud; with --db it runs the sync on that database file: " +
        "podstatus rows whose pod is gone are deleted and the per-namespace update messages " +
        "that would go to the cloud are printed (event lines in the replay format).",
    )
    .option(
      "--server <url>",
      "serve to ask: http://HOST:PORT or unix:PATH (default: the configured listen address)",
    )
    .option("--db <path>", "run directly on this database file instead of asking serve")
    .option("--dry-run", "with --db: change nothing, only print")
    .option(
      "--kubeedge <release>",
      "with --db: KubeEdge release 1.10 or 1.23 (default: configured, else the database's)",
    )
    .addHelpText(
      "after",
      `
KubeEdge v1.23 has no meta-internal-sync. As v1.23 (the database's release, --kubeedge or
the configured one) the forced sync is ours, in fixed mode only: it sends what v1.10's
meta-internal-sync sends, one update per namespace holding that namespace's stored pod
statuses (resource <ns>/podstatus, group resource, source metamanager, to the hub), and
deletes podstatus rows whose pod is gone. In strict mode it is refused (a serve running as
strict v1.23 answers 409).

Examples:
  edgecore-meta sync
  edgecore-meta sync --server unix:/run/edgecore-meta.sock
  edgecore-meta sync --db /var/lib/kubeedge/edgecore.db --dry-run`,
    )
    .action(async (opts, cmd) => {
      const global = cmd.optsWithGlobals() as GlobalOptions & typeof opts;
      const dbPath = opts.db ?? global.db; // the global --db option takes it wherever it stands
      if (opts.dryRun && !dbPath) {
        throw new CommandError(
          "--dry-run needs --db PATH (a running serve always applies the sync)",
          2,
        );
      }
      if (dbPath) {
        const path = dbPath;
        const { config } = await commandConfig(global, {
          "database.dataSource": path,
          "edgecoreMeta.kubeedge": opts.kubeedge,
        });
        const release = configuredRelease(config) ??
          Store.releaseOf(path, { busyTimeoutMs: config.edgecoreMeta.busyTimeoutMs }) ?? "1.10";
        try {
          checkForcedSync(release, config.edgecoreMeta.compat, `sync ${path}`);
        } catch (e) {
          throw new CommandError((e as Error).message);
        }
        // A dry run reads without writing anything (safe on a live node's database).
        const result = opts.dryRun
          ? withReadOnlyDatabase(path, (ro) => {
            checkTables(ro, listTables(ro.sqlite), "meta");
            return podStatusSync(new MetaDao(ro), { dryRun: true });
          })
          : (() => {
            // The database belongs to whoever named it: never create one here.
            let info: Deno.FileInfo;
            try {
              info = Deno.statSync(path);
            } catch (e) {
              throw new CommandError(
                `Cannot sync database ${path}: ${
                  e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message
                }`,
              );
            }
            if (!info.isFile) throw new CommandError(`Cannot sync database ${path}: not a file`);
            const lock = acquireWriterLock(path); // one writer: refuses beside a running serve
            try {
              // Another process's SQLite lock (a real edgecore): waited for, then reported.
              // A file KubeEdge left in rollback-journal mode stays in it (no switch to WAL).
              const store = Store.open(path, {
                busyTimeoutMs: config.edgecoreMeta.busyTimeoutMs,
                journalMode: isRollbackJournalFile(path) ? "DELETE" : "WAL",
              });
              try {
                return store.transaction(() => podStatusSync(store.meta));
              } catch (e) {
                throw databaseFailure(path, "sync database", e);
              } finally {
                store.close();
              }
            } finally {
              lock.release();
            }
          })();
        const messages = podStatusMessages(result, systemIdentity, META_MANAGER_MODULE_OF[release]);
        const deliveries = messages.map((msg) => ({ via: "group" as const, group: "hub", msg }));
        const lines = deliveryEventLines(1, deliveries, (g) => EDGECORE_GROUPS[g] ?? []);
        printSync(lines, result.orphans, opts.dryRun ? "would delete" : "deleted");
        return;
      }
      const { config } = await commandConfig(global);
      const server = opts.server ?? listenAddress(config);
      const body = await requestServer(server, "POST", "/v1/sync?format=json");
      let answer: { lines: string[]; orphans: string[] };
      try {
        answer = JSON.parse(body);
      } catch {
        throw new CommandError(`serve at ${server} answered POST /v1/sync with no JSON: ${body}`);
      }
      printSync(answer.lines, answer.orphans, "deleted");
    });
}
