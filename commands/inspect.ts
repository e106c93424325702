/**
 * `edgecore-meta inspect`: read a KubeEdge edge database (tables `meta` and `meta_v2`)
 * without ever writing to it: a summary, or rows selected by filters, as a table, JSON,
 * NDJSON, YAML or the database dump.
 *
 * @module
 */

import { Command, Option } from "@commander-js/extra-typings";
import { withReadOnlyDatabase } from "../src/inspect/open.ts";
import {
  checkTables,
  dump,
  type Filters,
  listTables,
  selectRows,
  summarize,
  type TableName,
} from "../src/inspect/query.ts";
import { loadYaml } from "../src/yaml.ts";
import { OUTPUT_FORMATS, renderDump, renderRows, renderSummary } from "../src/inspect/render.ts";
import { CommandError, UsageError } from "../src/errors.ts";
import { commandConfig, type GlobalOptions } from "./global.ts";
import { writeStdoutSync } from "../src/io/stdout.ts";

/** What a run prints: `text` on stdout (in chunks), `notice` on stderr. */
interface Output {
  text: Iterable<string>;
  notice?: string;
}

/** Writes chunks of text to stdout, about 1 MiB at a time. */
function writeStdout(chunks: Iterable<string>): void {
  const encoder = new TextEncoder();
  const flush = (text: string) => {
    writeStdoutSync(encoder.encode(text)); // a closed pipe (| head) exits 0
  };
  let pending: string[] = [];
  let size = 0;
  for (const chunk of chunks) {
    pending.push(chunk);
    size += chunk.length;
    if (size >= 1 << 20) {
      flush(pending.join(""));
      pending = [];
      size = 0;
    }
  }
  if (size > 0) flush(pending.join(""));
}

/** The `inspect` subcommand. */
export function inspectCommand() {
  return new Command("inspect")
    .summary("read the meta/meta_v2 tables of a database, also a live node's edgecore.db")
    .description(
      "Show what a KubeEdge edge database (tables meta and meta_v2) holds, without " +
        "writing to it: a summary, or the rows selected by filters. Safe while in use.",
    )
    .option("--db <path>", "database file (default: database.dataSource of the configuration)")
    .option("--key <key>", "the row with exactly this key (exit 1 when there is none)")
    .option("--type <type>", "meta rows of this type (pod, configmap, podstatus, ...)")
    .option("--prefix <prefix>", "rows whose key starts with this text (no wildcards)")
    .option(
      "-n, --namespace <namespace>",
      "meta: first / segment of the key; meta_v2: the namespace column",
    )
    .option("--gvr <gvr>", 'meta_v2 rows of this groupversionresource ("/v1, Resource=pods")')
    .addOption(
      new Option("--table <table>", "table to read (default meta, meta_v2 with --gvr)").choices(
        ["meta", "meta_v2"] as const,
      ),
    )
    .addOption(
      new Option("-o, --output <format>", "output format").choices(OUTPUT_FORMATS).default(
        "table" as const,
      ),
    )
    .addHelpText(
      "after",
      `
Without a filter, prints a summary: file, size, journal mode, tables, rows per type in
meta and per groupversionresource in meta_v2. --table alone lists every row of a table.
json, ndjson and yaml show each row with its value parsed as JSON; dump writes both
tables in the database dump format (no filters).

The file is opened so that nothing is written or created, not even -wal or -shm files;
a database being written by edgecore meanwhile is read as a consistent snapshot.

Examples:
  edgecore-meta inspect --db /var/lib/kubeedge/edgecore.db
  edgecore-meta inspect --type pod -n default
  edgecore-meta inspect --key default/configmap/app-config -o yaml
  edgecore-meta inspect --prefix kube-system/ -o ndjson
  edgecore-meta inspect --gvr "/v1, Resource=pods" --namespace edge-apps
  edgecore-meta inspect --table meta_v2 -o json
  edgecore-meta inspect -o dump > edgecore.db.json`,
    )
    .action(async (opts, cmd) => {
      const global = cmd.optsWithGlobals() as GlobalOptions & typeof opts;
      const filters: Filters = {
        key: opts.key,
        type: opts.type,
        prefix: opts.prefix,
        namespace: opts.namespace,
        gvr: opts.gvr,
      };
      const filtered = Object.values(filters).some((v) => v !== undefined) ||
        opts.table !== undefined;
      const table: TableName = opts.table ?? (opts.gvr !== undefined ? "meta_v2" : "meta");
      if (opts.type !== undefined && table !== "meta") {
        throw new UsageError("--type selects rows of table meta; use --gvr for meta_v2");
      }
      if (opts.gvr !== undefined && table !== "meta_v2") {
        throw new UsageError("--gvr selects rows of table meta_v2; use --type for meta");
      }
      const format = opts.output;
      if (format === "dump" && filtered) {
        throw new UsageError("-o dump writes both whole tables; it takes no filter or --table");
      }

      const { config } = await commandConfig({ ...global, db: opts.db ?? global.db });
      if (format === "yaml") await loadYaml();
      const path = config.database.dataSource;
      const now = Date.now();

      const { text, notice } = withReadOnlyDatabase(path, (db): Output => {
        const tables = listTables(db.sqlite);
        if (format === "dump") {
          checkTables(db, tables);
          return { text: renderDump(dump(db)) };
        }
        if (!filtered) {
          checkTables(db, tables);
          return { text: [renderSummary(format, summarize(db, tables))] };
        }
        checkTables(db, tables, table);
        const records = selectRows(db.sqlite, table, filters);
        if (records.length === 0) {
          if (filters.key !== undefined) {
            const others = Object.entries(filters).some(([k, v]) => k !== "key" && v !== undefined);
            throw new CommandError(
              `No row with key ${JSON.stringify(filters.key)} in table ${table} of ${path}` +
                (others ? " matching the other filters" : ""),
            );
          }
          if (format === "table") {
            // As kubectl: said on stderr, stdout stays empty.
            return { text: [], notice: `No rows found in table ${table} of ${path}.` };
          }
        }
        return { text: renderRows(format, table, records, now) };
      });
      if (notice) console.error(notice);
      writeStdout(text);
    });
}
