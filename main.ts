/**
 * edgecore-meta: KubeEdge's edge MetaManager as one binary.
 *
 * @module
 */

import { Command, CommanderError, Option } from "@commander-js/extra-typings";
import { inspectCommand } from "./commands/inspect.ts";
import { replayCommand } from "./commands/replay.ts";
import { serveCommand } from "./commands/serve.ts";
import { syncCommand } from "./commands/sync.ts";
import { diffCommand } from "./commands/diff.ts";
import { checkCommand } from "./commands/check.ts";
import { backupCommand } from "./commands/backup.ts";
import { editCommand } from "./commands/edit.ts";
import { CommandError } from "./src/errors.ts";
import { DatabaseError } from "./src/store/db.ts";
import denoJson from "./deno.json" with { type: "json" };

/** The command tree. */
export function buildProgram(): Command {
  const program = new Command("edgecore-meta")
    .description("KubeEdge edge MetaManager (meta and meta_v2 store) reimplemented in TypeScript")
    .version(denoJson.version, "-V, --version")
    .option("-c, --config <file>", "edgecore.yaml to read (KubeEdge keys plus our own)")
    .option("--db <path>", "SQLite database file (overrides database.dataSource)")
    .addOption(
      new Option("--log-level <level>", "log level")
        .choices(["debug", "info", "warn", "error", "silent"]),
    )
    .showHelpAfterError()
    .exitOverride()
    .addHelpText(
      "after",
      `
Examples:
  edgecore-meta serve                                     start on ./data/edgecore.db
  edgecore-meta --db /var/lib/kubeedge/edgecore.db inspect --pods
  edgecore-meta inspect /var/lib/kubeedge/edgecore.db --type pod --name nginx -o yaml
  edgecore-meta diff yesterday.db /var/lib/kubeedge/edgecore.db
  edgecore-meta backup --db /var/lib/kubeedge/edgecore.db /backup/edgecore.db
  edgecore-meta check --db /var/lib/kubeedge/edgecore.db
  edgecore-meta edit delete default/pod/nginx-7d9c8b5f6d-dup      through the running serve
  edgecore-meta replay journal.ndjson --expect journal.out.ndjson
  edgecore-meta sync

"edgecore-meta COMMAND --help" shows each command's options and more examples.`,
    );
  program.addCommand(serveCommand());
  program.addCommand(inspectCommand());
  program.addCommand(replayCommand());
  program.addCommand(syncCommand());
  program.addCommand(diffCommand());
  program.addCommand(backupCommand());
  program.addCommand(checkCommand());
  program.addCommand(editCommand());
  for (const c of program.commands) {
    // Each command's help also lists the global options (--config, --db, --log-level).
    c.exitOverride().configureHelp({ showGlobalOptions: true });
  }
  return program;
}

/** Runs the CLI and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const program = buildProgram();
  const at = args.indexOf("--log-level");
  const debug = (at >= 0 && args[at + 1] === "debug") || args.includes("--log-level=debug") ||
    Deno.env.get("EDGECORE_META_LOG_LEVEL") === "debug";
  if (args.length === 0) {
    // No command: the help goes to stderr and it is a usage error, as git or kubectl do.
    console.error(program.helpInformation());
    return 2;
  }
  try {
    await program.parseAsync(args, { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return 0;
      if (e.code === "commander.help") return 0;
      return 2;
    }
    if (e instanceof CommandError) {
      console.error(`edgecore-meta: ${e.message}`);
      return e.exitCode;
    }
    if (e instanceof DatabaseError) {
      console.error(`edgecore-meta: ${e.message}`);
      return 1;
    }
    console.error(`edgecore-meta: ${(e as Error).message ?? String(e)}`);
    if (debug) console.error((e as Error).stack);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
