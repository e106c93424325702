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
  dumpStream,
  type Filters,
  type InspectRecord,
  iterateRows,
  listTables,
  summarize,
  type TableName,
} from "../src/inspect/query.ts";
import { loadedYaml, loadYaml } from "../src/yaml.ts";
import type { DatabaseSync } from "node:sqlite";
import { detectShape, metaV2Statements } from "../src/store/schema.ts";
import {
  OUTPUT_FORMATS,
  outputRecord,
  renderDump,
  renderRows,
  renderSummary,
} from "../src/inspect/render.ts";
import { CommandError, UsageError } from "../src/errors.ts";
import { commandConfig, type GlobalOptions } from "./global.ts";
import { podJson, podTableLines, podViews } from "../src/inspect/pods.ts";
import { DEVICE_TABLES, readDeviceTable, renderPlainRows } from "../src/inspect/devices.ts";
import { resolveGvr, resolveType } from "../src/inspect/spelling.ts";
import { watchRows, watchStamp } from "../src/inspect/watch.ts";
import { writeStdoutSync } from "../src/io/stdout.ts";

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

/** Output kept in memory up to this size; beyond it, in an unlinked temporary file. */
const SPOOL_MEMORY_BYTES = 8 << 20;

/**
 * The output of one read, spooled: rows are rendered as they are read (one row in memory
 * at a time), but reach stdout only after the read transaction ended, so a slow reader
 * of stdout (`| less`) never holds the database's lock (a rollback-journal writer would
 * wait on it), and a read that withReadOnlyDatabase repeats (the file changed meanwhile)
 * prints once. Up to {@link SPOOL_MEMORY_BYTES} stay in memory; a larger output goes to
 * a temporary file, unlinked at once (nothing left behind).
 */
class OutputSpool {
  #memory: Uint8Array[] = [];
  #memoryBytes = 0;
  #file?: Deno.FsFile;
  readonly #encoder = new TextEncoder();

  /** Forgets what was written (the read starts again). */
  reset(): void {
    this.#memory = [];
    this.#memoryBytes = 0;
    if (this.#file) {
      this.#file.truncateSync(0);
      this.#file.seekSync(0, Deno.SeekMode.Start);
    }
  }

  /** Spools chunks of text, about 1 MiB at a time. */
  write(chunks: Iterable<string>): void {
    let pending: string[] = [];
    let size = 0;
    for (const chunk of chunks) {
      pending.push(chunk);
      size += chunk.length;
      if (size >= 1 << 20) {
        this.#put(this.#encoder.encode(pending.join("")));
        pending = [];
        size = 0;
      }
    }
    if (size > 0) this.#put(this.#encoder.encode(pending.join("")));
  }

  #put(bytes: Uint8Array): void {
    if (!this.#file && this.#memoryBytes + bytes.length <= SPOOL_MEMORY_BYTES) {
      this.#memory.push(bytes);
      this.#memoryBytes += bytes.length;
      return;
    }
    if (!this.#file) {
      const path = Deno.makeTempFileSync({ prefix: "edgecore-meta-inspect-" });
      this.#file = Deno.openSync(path, { read: true, write: true });
      Deno.removeSync(path);
      for (const m of this.#memory) writeAll(this.#file, m);
      this.#memory = [];
      this.#memoryBytes = 0;
    }
    writeAll(this.#file, bytes);
  }

  /** Writes what was spooled to stdout and releases it. */
  emit(): void {
    for (const m of this.#memory) writeStdoutSync(m); // a closed pipe (| head) exits 0
    this.#memory = [];
    this.#memoryBytes = 0;
    if (!this.#file) return;
    const file = this.#file;
    this.#file = undefined;
    try {
      file.seekSync(0, Deno.SeekMode.Start);
      const buf = new Uint8Array(1 << 20);
      for (let n = file.readSync(buf); n !== null && n > 0; n = file.readSync(buf)) {
        writeStdoutSync(buf.subarray(0, n));
      }
    } finally {
      file.close();
    }
  }
}

function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) done += file.writeSync(bytes.subarray(done));
}

/** The `inspect` subcommand. */
export function inspectCommand() {
  return new Command("inspect")
    .summary("read the meta/meta_v2 tables of a database, also a live node's edgecore.db")
    .description(
      "Show what a KubeEdge edge database (tables meta and meta_v2) holds, without " +
        "writing to it: a summary, or the rows selected by filters. Safe while in use.",
    )
    .argument("[database]", "database file (the same as --db)")
    .option("--db <path>", "database file (default: database.dataSource of the configuration)")
    .option("--name <name>", "rows of objects with this name (with --type, --gvr, --pods)")
    .option("--pods", "pods joined with their podstatus rows: phase, ready, restarts, node")
    .option("-w, --watch", "after the rows, print each change as it is committed (read-only)")
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
        ["meta", "meta_v2", ...DEVICE_TABLES] as const,
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

--type and --gvr accept kubectl's spellings (pods, po, Pod; Resource=pods, v1/pods) and
suggest the names the database holds when nothing matches. --pods shows PHASE from the
podstatus row (what edged reported; "(pod)" when only the cloud's copy has one) and NEWER,
which of the two copies of the status carries the later timestamp.

--watch polls the file (read-only) and prints ADDED, MODIFIED and DELETED rows as
"kubectl get -w --output-watch-events" does, until Ctrl-C.

Examples:
  edgecore-meta inspect /var/lib/kubeedge/edgecore.db
  edgecore-meta inspect --pods -n default
  edgecore-meta inspect --type pods --name nginx -o yaml
  edgecore-meta inspect --table device_twin
  edgecore-meta inspect --gvr pods --watch
  edgecore-meta inspect --type pod -n default
  edgecore-meta inspect --key default/configmap/app-config -o yaml
  edgecore-meta inspect --prefix kube-system/ -o ndjson
  edgecore-meta inspect --gvr "/v1, Resource=pods" --namespace edge-apps
  edgecore-meta inspect --table meta_v2 -o json
  edgecore-meta inspect -o dump > edgecore.db.json`,
    )
    .action(async (database, opts, cmd) => {
      const global = cmd.optsWithGlobals() as GlobalOptions & typeof opts;
      const dbOption = opts.db ?? global.db;
      if (database !== undefined && dbOption !== undefined && database !== dbOption) {
        throw new UsageError(`Two databases given: ${database} and --db ${dbOption}; give one`);
      }
      const filters: Filters = {
        key: opts.key,
        type: opts.type,
        prefix: opts.prefix,
        namespace: opts.namespace,
        gvr: opts.gvr,
      };
      const filtered = Object.values(filters).some((v) => v !== undefined) ||
        opts.table !== undefined || opts.name !== undefined;
      const format = opts.output;
      const { config } = await commandConfig({ ...global, db: database ?? opts.db ?? global.db });
      if (format === "yaml") await loadYaml();
      const path = config.database.dataSource;
      const now = Date.now();

      if (opts.pods) {
        if (opts.table !== undefined || opts.gvr !== undefined || opts.type !== undefined) {
          throw new UsageError("--pods takes no --table, --type or --gvr");
        }
        if (format === "dump" || format === "yaml" && opts.watch) {
          throw new UsageError(`--pods cannot write -o ${format}`);
        }
        const read = () =>
          withReadOnlyDatabase(path, (db) =>
            podViews(db.sqlite, listTables(db.sqlite), {
              namespace: opts.namespace,
              name: opts.name,
            }));
        const stamp = watchStamp(path);
        const views = read();
        if (views.length === 0 && format === "table") {
          console.error(`No pods found in ${path}.`);
        }
        writeStdout(
          format === "table"
            ? podTableLines(views, now)
            : format === "yaml"
            ? [loadedYamlText(views)]
            : [podJson(views, format)],
        );
        if (opts.watch) {
          await watchRows(path, () => new Map(read().map((v) => [`${v.namespace}/${v.name}`, v])), {
            format: format === "table" ? "table" : "ndjson",
            tableLines: (vs) => podTableLines(vs, Date.now()),
            write: (t) => writeStdout([t]),
            baseline: { stamp, rows: new Map(views.map((v) => [`${v.namespace}/${v.name}`, v])) },
          });
        }
        return;
      }

      const deviceTable = (DEVICE_TABLES as readonly string[]).includes(opts.table ?? "")
        ? opts.table as typeof DEVICE_TABLES[number]
        : undefined;
      if (deviceTable !== undefined) {
        if (format === "dump" || format === "yaml") {
          throw new UsageError(`--table ${deviceTable} is written as table, json or ndjson`);
        }
        const data = withReadOnlyDatabase(
          path,
          (db) =>
            readDeviceTable(path, db.sqlite, listTables(db.sqlite), deviceTable, {
              name: opts.name,
              key: opts.key,
            }),
        );
        if (data.rows.length === 0 && format === "table") {
          console.error(`No rows found in table ${deviceTable} of ${path}.`);
        }
        writeStdout(renderPlainRows(format, data));
        return;
      }

      const table: TableName = opts.table as TableName ??
        (opts.gvr !== undefined ? "meta_v2" : "meta");
      if (opts.type !== undefined && table !== "meta") {
        throw new UsageError("--type selects rows of table meta; use --gvr for meta_v2");
      }
      if (opts.gvr !== undefined && table !== "meta_v2") {
        throw new UsageError("--gvr selects rows of table meta_v2; use --type for meta");
      }
      if (format === "dump" && filtered) {
        throw new UsageError("-o dump writes both whole tables; it takes no filter or --table");
      }
      if (opts.watch && (format === "dump" || format === "yaml" || !filtered)) {
        throw new UsageError("--watch follows rows selected by filters, as table, json or ndjson");
      }

      const select = (db: Parameters<Parameters<typeof withReadOnlyDatabase>[1]>[0]) => {
        // kubectl's spellings of types and resources, resolved against what the file holds.
        let hint = "";
        if (filters.type !== undefined) {
          const types = distinct(db.sqlite, "meta", "type");
          const r = resolveType(filters.type, types);
          if (r.value !== null) filters.type = r.value;
          else {
            const asGvr = resolveGvr(
              filters.type,
              distinct(db.sqlite, "meta_v2", "groupversionresource"),
            );
            hint = didYouMean("--type", r.suggestions) ||
              (asGvr.value !== null ? ` Did you mean --gvr ${JSON.stringify(asGvr.value)}?` : "");
          }
        }
        if (filters.gvr !== undefined) {
          const r = resolveGvr(filters.gvr, distinct(db.sqlite, "meta_v2", "groupversionresource"));
          if (r.value !== null) filters.gvr = r.value;
          else if (r.ambiguous) {
            throw new UsageError(
              `--gvr ${JSON.stringify(filters.gvr)} matches ${
                r.ambiguous.map((g) => JSON.stringify(g)).join(", ")
              }; ` +
                "name the group and version",
            );
          } else hint = didYouMean("--gvr", r.suggestions);
        }
        let records: Iterable<InspectRecord> = iterateRows(db.sqlite, table, filters);
        if (opts.name !== undefined) records = withName(records, opts.name);
        return { records, hint };
      };

      const stamp = watchStamp(path);
      let printed: InspectRecord[] = [];
      // Rows and the dump are rendered as they are read, inside the read transaction: one
      // row in memory at a time (plus about 1 MiB of output), whatever the file's size;
      // stdout gets them once the read is over (OutputSpool).
      const out = new OutputSpool();
      const notice = withReadOnlyDatabase(path, (db): string | undefined => {
        out.reset();
        const tables = listTables(db.sqlite);
        if (format === "dump") {
          checkTables(db, tables);
          out.write(renderDump(dumpStream(db)));
          return;
        }
        if (!filtered) {
          checkTables(db, tables);
          out.write([renderSummary(format, summarize(db, tables))]);
          return;
        }
        checkTables(db, tables, table);
        const { records, hint } = select(db);
        const it = records[Symbol.iterator]();
        const first = it.next();
        if (first.done) {
          if (filters.key !== undefined) {
            const others = Object.entries(filters).some(([k, v]) => k !== "key" && v !== undefined);
            throw new CommandError(
              `No row with key ${JSON.stringify(filters.key)} in table ${table} of ${path}` +
                (others ? " matching the other filters" : ""),
            );
          }
          if (format === "table") {
            // As kubectl: said on stderr, stdout stays empty.
            return `No rows found in table ${table} of ${path}.${hint}`;
          }
          if (hint) console.error(`No rows found in table ${table} of ${path}.${hint}`);
        }
        let rows: Iterable<InspectRecord> = first.done ? [] : prepend(first.value, it);
        // --watch compares with what was printed (a filtered selection): keep it then only.
        if (opts.watch) rows = printed = [...rows];
        out.write(renderRows(format, table, rows, now));
      });
      out.emit();
      if (notice) console.error(notice);
      if (opts.watch) {
        await watchRows(
          path,
          () =>
            withReadOnlyDatabase(
              path,
              (db) => new Map([...select(db).records].map((r) => [r.key, r])),
            ),
          {
            format: format === "table" ? "table" : "ndjson",
            tableLines: (rs) => renderRows("table", table, rs, Date.now()),
            json: outputRecord,
            write: (t) => writeStdout([t]),
            baseline: { stamp, rows: new Map(printed.map((r) => [r.key, r])) },
          },
        );
      }
    });
}

function* withName(records: Iterable<InspectRecord>, name: string): Generator<InspectRecord> {
  for (const r of records) if (r.name === name) yield r;
}

function* prepend<T>(first: T, rest: Iterator<T>): Generator<T> {
  yield first;
  for (let r = rest.next(); !r.done; r = rest.next()) yield r.value;
}

function distinct(sqlite: DatabaseSync, table: string, column: string): string[] {
  if (!listTables(sqlite).includes(table)) return [];
  // meta_v2's GVR column is named by the release that wrote the file (src/store/schema.ts).
  const expr = table === "meta_v2"
    ? metaV2Statements(detectShape(sqlite) ?? "beego").gvrExpr
    : `\`${column}\``;
  return (sqlite.prepare(`SELECT DISTINCT ${expr} AS v FROM \`${table}\``).all() as {
    v: unknown;
  }[]).map((r) => String(r.v ?? ""));
}

function didYouMean(option: string, suggestions: string[]): string {
  if (suggestions.length === 0) return "";
  return ` Did you mean ${suggestions.map((s) => `${option} ${JSON.stringify(s)}`).join(" or ")}?`;
}

function loadedYamlText(value: unknown): string {
  return loadedYaml().stringify(value, { lineWidth: 0 });
}
