/**
 * `edgecore-meta edit`: delete or repair one row of `meta` or `meta_v2` through the one
 * writer: a running serve (POST /v1/rows), or with --db the file under the writer lock.
 *
 * @module
 */

import { Argument, Command } from "@commander-js/extra-typings";
import { listenAddress } from "../src/config/config.ts";
import { claimDatabase } from "../src/serve/database_claim.ts";
import { CommandError, UsageError } from "../src/errors.ts";
import { Store } from "../src/store/store.ts";
import { MetaDao } from "../src/store/meta.ts";
import { MetaV2Dao } from "../src/store/meta_v2.ts";
import { DatabaseError } from "../src/store/db.ts";
import { withReadOnlyDatabase } from "../src/inspect/open.ts";
import { checkTables, listTables } from "../src/inspect/query.ts";
import { requestServer } from "../src/serve/client.ts";
import {
  editRow,
  renderEdit,
  type RowEdit,
  RowEditError,
  type RowEditResult,
} from "../src/tools/edit.ts";
import { commandConfig, type GlobalOptions } from "./global.ts";
import { writeStdoutSync } from "../src/io/stdout.ts";

/** The new value of `edit set`: FILE's text, or stdin for `-`. */
async function readValue(file: string): Promise<string> {
  try {
    return file === "-"
      ? await new Response(Deno.stdin.readable).text()
      : Deno.readTextFileSync(file);
  } catch (e) {
    throw new CommandError(`Cannot read the new value from ${file}: ${(e as Error).message}`);
  }
}

/**
 * The edit made on the database file `path` under the writer lock, as serve claims it
 * (read-only for a dry run).
 */
function editFile(path: string, edit: RowEdit, dryRun: boolean): RowEditResult {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    throw new CommandError(
      `Cannot edit database ${path}: ${
        e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message
      }`,
    );
  }
  if (!info.isFile) throw new CommandError(`Cannot edit database ${path}: not a file`);
  // Checked on a read-only view first: an edit that cannot be made never opens the file
  // for writing (not even its journal mode changes). A dry run stops here.
  const planned = withReadOnlyDatabase(path, (ro) => {
    const tables = listTables(ro.sqlite);
    checkTables(ro, tables, "meta");
    const shape = checkTables(ro, tables, "meta_v2");
    return editRow({ meta: new MetaDao(ro), metaV2: new MetaV2Dao(ro, shape) }, edit, true);
  });
  if (dryRun) return planned;
  let claim;
  try {
    claim = claimDatabase(path, false);
    claim.lock(); // one writer: refuses beside a running serve
  } catch (e) {
    if (e instanceof DatabaseError && /is in use by/.test(e.message)) {
      throw new CommandError(
        `${e.message}: run edit without --db to make the change through it ` +
          `(--server to name its address)`,
      );
    }
    throw e;
  }
  try {
    const store = Store.open(path);
    try {
      return store.transaction(() => editRow(store, edit));
    } finally {
      store.close();
    }
  } finally {
    claim.release(); // a rollback-journal file gets its journal mode back
  }
}

/** The `edit` subcommand. */
export function editCommand() {
  return new Command("edit")
    .summary("delete or repair one row of meta or meta_v2 (through serve, or under the lock)")
    .description(
      "Delete one row, or replace its value, and print what changed. KEY is a meta key " +
        "(namespace/type/name, e.g. default/pod/nginx) or a meta_v2 key (it starts with /, " +
        "e.g. /core/v1/pods/default/nginx). Without --db the change is made by the running " +
        "serve (the one writer; MetaServer watchers see it); with --db on the file under the " +
        "writer lock, which refuses while serve runs on it. The row must exist.",
    )
    .addArgument(new Argument("<action>", "delete or set").choices(["delete", "set"] as const))
    .argument("<key>", "the row's key")
    .argument("[file]", "set: JSON file of the new value, or - for stdin")
    .option(
      "--server <url>",
      "serve to ask: http://HOST:PORT or unix:PATH (default: the configured listen address)",
    )
    .option("--db <path>", "edit this database file directly (serve must not be running on it)")
    .option("--dry-run", "print what would change, change nothing")
    .addHelpText(
      "after",
      `
A meta_v2 value must be the object itself: its apiVersion, kind, namespace and name must give
KEY; the other columns are recomputed from it as KubeEdge does. A meta value is stored as
written (white space around it trimmed). An edit is not a message: serve's --journal does not
record it. Stop edgecore before editing its database with --db (only edgecore-meta honours the
writer lock).

Examples:
  edgecore-meta edit delete default/pod/nginx-7d9c8b5f6d-dup --dry-run
  edgecore-meta edit delete /core/v1/pods/default/nginx-7d9c8b5f6d-dup
  edgecore-meta edit set default/podstatus/nginx fixed-status.json
  edgecore-meta edit delete default/pod/stale --db /var/lib/kubeedge/edgecore.db`,
    )
    .action(async (action, key, file, opts, cmd) => {
      const global = cmd.optsWithGlobals() as GlobalOptions & typeof opts;
      if (action === "set" && file === undefined) {
        throw new UsageError("edit set needs FILE: the JSON of the new value (- for stdin)");
      }
      if (action === "delete" && file !== undefined) {
        throw new UsageError(`edit delete takes no FILE (got ${JSON.stringify(file)})`);
      }
      const edit: RowEdit = action === "set"
        ? { action, key, value: await readValue(file!) }
        : { action, key };
      const dryRun = opts.dryRun ?? false;
      const dbPath = opts.db ?? global.db;
      let out: string;
      if (dbPath) {
        try {
          out = renderEdit(editFile(dbPath, edit, dryRun), dryRun);
        } catch (e) {
          if (e instanceof RowEditError) throw new CommandError(`${e.message} in ${dbPath}`);
          throw e;
        }
      } else {
        const { config } = await commandConfig(global);
        const server = opts.server ?? listenAddress(config);
        const body = await requestServer(
          server,
          "POST",
          `/v1/rows${dryRun ? "?dryRun=true" : ""}`,
          JSON.stringify(edit),
        );
        try {
          out = (JSON.parse(body) as { text: string }).text;
        } catch {
          throw new CommandError(`serve at ${server} answered POST /v1/rows with no JSON: ${body}`);
        }
      }
      writeStdoutSync(new TextEncoder().encode(out));
    });
}
