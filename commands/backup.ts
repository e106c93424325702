/**
 * `edgecore-meta backup`: a consistent copy of a database, also one serve or edgecore is
 * writing.
 *
 * @module
 */

import { Command } from "@commander-js/extra-typings";
import { backupDatabase } from "../src/store/backup.ts";
import { commandConfig, type GlobalOptions } from "./global.ts";

/** The `backup` subcommand. */
export function backupCommand() {
  return new Command("backup")
    .summary("consistent copy of a database, safe while serve or edgecore writes it")
    .description(
      "Write a consistent copy of the database to DEST with SQLite's VACUUM INTO: one " +
        "snapshot with every transaction committed before it, compacted, with no -wal to " +
        "carry along. The source is only read; DEST must not exist.",
    )
    .argument("<dest>", "file to create")
    .option("--db <path>", "database to copy (default: database.dataSource of the configuration)")
    .addHelpText(
      "after",
      `
Examples:
  edgecore-meta backup --db /var/lib/kubeedge/edgecore.db /backup/edgecore-$(date +%F).db
  edgecore-meta backup --db /var/lib/kubeedge/edgecore.db copy.db && edgecore-meta check copy.db`,
    )
    .action(async (dest, opts, cmd) => {
      const global = cmd.optsWithGlobals() as GlobalOptions & typeof opts;
      const { config } = await commandConfig({ ...global, db: opts.db ?? global.db });
      const source = config.database.dataSource;
      const started = performance.now();
      const { bytes } = backupDatabase(source, dest);
      console.error(
        `backup: ${source} -> ${dest}, ${bytes} bytes, ${
          ((performance.now() - started) / 1000).toFixed(2)
        } s`,
      );
    });
}
