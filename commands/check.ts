/**
 * `edgecore-meta check`: integrity, schema and consistency of an edge database, read
 * without writing to it.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import { withReadOnlyDatabase } from "../src/inspect/open.ts";
import { checkDatabase } from "../src/tools/check.ts";
import { CommandError } from "../src/errors.ts";
import { writeStdoutSync } from "../src/io/stdout.ts";
import { commandConfig, type GlobalOptions } from "./global.ts";

/** The `check` subcommand. */
export function checkCommand() {
  return new Command("check")
    .summary("check a database: integrity, schema, orphaned podstatus rows, meta/meta_v2 twins")
    .description(
      "Check an edge database without writing to it: SQLite's integrity_check, the tables and " +
        "columns of KubeEdge's schema, podstatus rows whose pod row is gone, and meta rows of " +
        "pod, configmap, secret, service, endpoints and node without their meta_v2 row (and " +
        "the reverse). Each problem is one line; exit 0 when clean, 1 when problems were found.",
    )
    .argument("[database]", "database file (the same as --db)")
    .option("--db <path>", "database file (default: database.dataSource of the configuration)")
    .addHelpText(
      "after",
      `
Examples:
  edgecore-meta check --db /var/lib/kubeedge/edgecore.db
  edgecore-meta check backup.db && echo clean`,
    )
    .action(async (database, opts, cmd) => {
      const global = cmd.optsWithGlobals() as GlobalOptions & typeof opts;
      const { config } = await commandConfig({ ...global, db: database ?? opts.db ?? global.db });
      const path = config.database.dataSource;
      const problems = withReadOnlyDatabase(path, (db) => checkDatabase(db.sqlite));
      for (const p of problems) writeStdoutSync(`${p.check}: ${p.detail}\n`);
      if (problems.length > 0) {
        throw new CommandError(`${path}: ${problems.length} problem(s) found`, 1);
      }
      console.error(`${path}: ok (integrity, schema, podstatus rows, meta/meta_v2 twins)`);
    });
}
