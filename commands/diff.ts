/**
 * `edgecore-meta diff A B`: rows added, removed and changed between two databases or
 * dump files, with the changed fields of each changed object.
 *
 * @module
 */

import { Command, Option } from "@commander-js/extra-typings";
import { withReadOnlyDatabase } from "../src/inspect/open.ts";
import { checkTables, dump, listTables } from "../src/inspect/query.ts";
import type { Dump } from "../src/store/dump.ts";
import { diffDumps, differs, renderDiff } from "../src/tools/diff.ts";
import { CommandError } from "../src/errors.ts";
import { writeStdoutSync } from "../src/io/stdout.ts";

const MAGIC = "SQLite format 3\0";

function load(path: string): Dump {
  let head: Uint8Array;
  try {
    const f = Deno.openSync(path);
    head = new Uint8Array(16);
    f.readSync(head);
    f.close();
  } catch (e) {
    throw new CommandError(`Cannot read ${path}: ${(e as Error).message}`);
  }
  if (new TextDecoder("latin1").decode(head) === MAGIC) {
    return withReadOnlyDatabase(path, (db) => {
      checkTables(db, listTables(db.sqlite));
      return dump(db);
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Deno.readTextFileSync(path));
  } catch (e) {
    throw new CommandError(
      `Cannot read ${path}: neither an SQLite database nor a JSON dump (${(e as Error).message})`,
    );
  }
  const d = parsed as Dump;
  if (!d || !Array.isArray(d.meta) || !Array.isArray(d.meta_v2)) {
    throw new CommandError(`Cannot read ${path}: a dump needs arrays "meta" and "meta_v2"`);
  }
  return d;
}

/** The `diff` subcommand. */
export function diffCommand() {
  return new Command("diff")
    .summary("rows added, removed and changed between two databases or dump files")
    .description(
      "Compare two edge databases or database dumps (inspect -o dump, replay --dump-db) " +
        "table by table: rows added, removed and changed, and for changed rows the JSON " +
        "fields that differ. Exit 0 when equal, 1 when they differ (as diff does), 2 on trouble.",
    )
    .argument("<a>", "database file or dump file (the old one)")
    .argument("<b>", "database file or dump file (the new one)")
    .addOption(
      new Option("-o, --output <format>", "output format").choices(["text", "json"] as const)
        .default("text" as const),
    )
    .addHelpText(
      "after",
      `
Examples:
  edgecore-meta diff yesterday.db /var/lib/kubeedge/edgecore.db
  edgecore-meta diff before.json after.json -o json | jq '.meta.changed'`,
    )
    .action((a, b, opts) => {
      const result = diffDumps(load(a), load(b));
      if (opts.output === "json") writeStdoutSync(JSON.stringify(result, null, 2) + "\n");
      else writeStdoutSync(renderDiff(result));
      if (differs(result)) throw new CommandError(`${a} and ${b} differ`, 1);
    });
}
