/**
 * `edgecore-meta replay`: feed an NDJSON journal through process().
 *
 * @module
 */

import { Command, Option } from "@commander-js/extra-typings";
import type { Transport } from "../src/beehive/wire.ts";
import { checkProcessRelease, parseCompatMode } from "../src/metamanager/compat.ts";
import { parseKubeEdgeRelease } from "../src/store/schema.ts";
import { replay } from "../src/replay/replay.ts";
import { parseAnswers } from "../src/replay/stand_ins.ts";
import { Store } from "../src/store/store.ts";
import { Checkpointer } from "../src/store/checkpointer.ts";
import { dumpJson } from "../src/store/dump.ts";
import { openLineWriter } from "../src/io/line_writer.ts";
import { compareDb, compareEvents, type Comparison } from "../src/replay/compare.ts";
import { countLines, ProgressReporter } from "../src/replay/progress.ts";
import { createLogger, parseLogLevel } from "../src/logger.ts";
import { CommandError, UsageError } from "../src/errors.ts";
import type { GlobalOptions } from "./global.ts";

/** `--kubeedge` / EDGECORE_META_KUBEEDGE value. @throws {UsageError} naming the value */
function parseRelease(value: string) {
  try {
    return parseKubeEdgeRelease(value);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function readAnswers(path: string | undefined) {
  if (path === undefined) return new Map();
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new CommandError(`Cannot read answers file ${path}: ${(e as Error).message}`);
  }
  try {
    return parseAnswers(text, path);
  } catch (e) {
    throw new CommandError((e as Error).message);
  }
}

async function openJournal(path: string): Promise<ReadableStream<Uint8Array>> {
  if (path === "-") return Deno.stdin.readable;
  try {
    return (await Deno.open(path)).readable;
  } catch (e) {
    throw new CommandError(`Cannot open journal ${path}: ${(e as Error).message}`);
  }
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new UsageError(
      `Invalid --remote-query-timeout ${JSON.stringify(value)}: expected seconds ≥ 0`,
    );
  }
  return n;
}

/** `--from-line` value: a line number ≥ 1. @throws {UsageError} naming the value */
function parseLine(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(
      `Invalid --from-line ${JSON.stringify(value)}: expected a line number ≥ 1`,
    );
  }
  return n;
}

/**
 * Reads a reference file of `option` before anything runs: event lines (each a JSON
 * object, up to a `#### DB DUMP` line) or a dump (a JSON object).
 * @throws {CommandError} naming the option, the file and the bad line
 */
function readReference(option: string, path: string, kind: "events" | "dump"): string {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new CommandError(`Cannot read ${option} file ${path}: ${(e as Error).message}`);
  }
  const bad = (where: string, why: string) =>
    new CommandError(`Cannot use ${option} file ${path}: ${where}${why}`);
  if (kind === "dump") {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw bad("", `not JSON (${(e as Error).message})`);
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      throw bad("", 'expected a database dump ({"meta":[...],"meta_v2":[...]})');
    }
    return text;
  }
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith("#### DB DUMP")) break;
    const line = lines[i].trim();
    if (line === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw bad(`line ${i + 1}: `, `not JSON (${(e as Error).message})`);
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      throw bad(`line ${i + 1}: `, "expected an event object");
    }
  }
  return text;
}

/** Prints a comparison's figure and its first differences (with line numbers) on stderr. */
function reportComparison(option: string, path: string, c: Comparison): void {
  console.error(`replay: ${option} ${path}: ${c.summary}`);
  const shown = 5;
  c.differences.slice(0, shown).forEach((d, i) => {
    const at = c.locations?.[i];
    const where = at
      ? ` (journal line ${at.journalLine ?? "?"}; ${path} line ${
        at.expectedLine ?? "-"
      }, output line ${at.actualLine ?? "-"})`
      : "";
    const [head, ...rest] = d.split("\n");
    console.error(`  ${head.replace(/:$/, "")}${where}:`);
    for (const r of rest) console.error(`  ${r}`);
  });
  if (c.differences.length > shown) {
    console.error(`  ... and ${c.differences.length - shown} more`);
  }
}

/** Runs a comparison; a reference it cannot read is an error naming the option and file. */
function compared(option: string, path: string, run: () => Comparison): Comparison {
  try {
    return run();
  } catch (e) {
    throw new CommandError(`Cannot compare with ${option} ${path}: ${(e as Error).message}`);
  }
}

/** Reads a whole byte stream as text. */
async function streamText(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

/** The `replay` subcommand. */
export function replayCommand() {
  return new Command("replay")
    .summary("feed an NDJSON journal of messages through process() and print the bus calls")
    .description(
      "Feed an NDJSON journal of KubeEdge messages through the MetaManager's process() and " +
        "print one event line per bus call (the format of the reference outputs).",
    )
    .argument("<journal>", "NDJSON file of wire messages, or - for stdin")
    .option("--db <path>", "database to start from and write to (default: in memory)")
    .option("--cloud <file>", "cloud stand-in answers: JSON object resource -> content")
    .option(
      "--edged <file>",
      "edged stand-in answers: JSON object resource -> content (default {})",
    )
    .addOption(
      new Option("--compat <mode>", "compatibility mode").choices(["strict", "fixed"]).default(
        "fixed",
      ),
    )
    .addOption(
      new Option(
        "--transport <kind>",
        "strict mode: how cloud lines arrived (websocket: decoded and re-marshalled by Go, " +
          "edgecore's default; raw: content as written, as the QUIC transport)",
      ).choices(["websocket", "raw"]).default("websocket"),
    )
    .option(
      "--kubeedge <release>",
      "KubeEdge release to reproduce: 1.10 or 1.23 (default: EDGECORE_META_KUBEEDGE, else the " +
        "release whose schema --db has, else 1.10)",
      parseRelease,
    )
    .option("--connected", "start with the cloud connected (default: disconnected)")
    .option("--out <file>", "write event lines here instead of stdout")
    .option("--dump-db <file>", "write the database dump (both tables, sorted by key) here")
    .option("--remote-query-timeout <seconds>", "remote query timeout (virtual time)", parseSeconds)
    .option(
      "--from-line <n>",
      "resume: process journal lines from N on into the same --db (earlier lines are read, " +
        "not processed; --out is appended to)",
      parseLine,
    )
    .option(
      "--expect <out.ndjson>",
      "compare the event lines with this reference output (the rules of the oracle's " +
        "compare.py: ids, timestamps, JSON by value); exit 1 when they differ",
    )
    .option(
      "--expect-db <dump.json>",
      "compare the final database with this reference dump (rows by key, values by JSON " +
        "value); exit 1 when they differ",
    )
    .option("--progress", "show progress on stderr even when it is not a terminal")
    .option("--no-progress", "never show progress (default: on a terminal only)")
    .addHelpText(
      "after",
      `
Progress (on a terminal, or with --progress) shows the line reached of the journal's total,
the percentage, the rate and the time left. Ctrl-C (SIGINT) or SIGTERM stops after the line
being processed, with everything before it committed: the summary names the last line, the
--dump-db file is written, and the exit status is 130; continue with --from-line N+1.

Examples:
  edgecore-meta replay fixtures/journals/crud.ndjson --compat strict
  edgecore-meta replay journal.ndjson --db ./replayed.db --cloud cloud.json --out events.ndjson
  edgecore-meta replay journal.ndjson --db ./replayed.db --from-line 120001 --out events.ndjson
  edgecore-meta replay crud.ndjson --compat strict --expect crud.out.ndjson --expect-db crud.db.json
  cat journal.ndjson | edgecore-meta replay - --dump-db dump.json`,
    )
    .action(async (journal, opts, cmd) => {
      const global = cmd.optsWithGlobals() as GlobalOptions & typeof opts;
      const logger = createLogger(parseLogLevel(global.logLevel ?? "warn"));
      const answers = { cloud: readAnswers(opts.cloud), edged: readAnswers(opts.edged) };
      // References are read and checked before the journal runs or --db is touched.
      const expected = opts.expect === undefined
        ? undefined
        : readReference("--expect", opts.expect, "events");
      const expectedDump = opts.expectDb === undefined
        ? undefined
        : readReference("--expect-db", opts.expectDb, "dump");
      const fromLine = opts.fromLine ?? 1;
      let stream = await openJournal(journal);
      // --expect needs the journal's text (its ids and timestamps label the events).
      let journalText: Promise<string> | undefined;
      if (expected !== undefined) {
        if (journal === "-") {
          const [a, b] = stream.tee();
          stream = a;
          journalText = streamText(b);
        }
      }
      let out;
      try {
        out = openLineWriter(opts.out, fromLine > 1);
      } catch (e) {
        throw new CommandError(`Cannot write events to ${opts.out}: ${(e as Error).message}`);
      }
      const outLines: string[] | undefined = expected === undefined ? undefined : [];
      const path = opts.db ?? global.db ?? ":memory:";
      const env = Deno.env.get("EDGECORE_META_KUBEEDGE");
      const configured = opts.kubeedge ?? (env ? parseRelease(env) : undefined);
      const release = configured ?? Store.releaseOf(path) ?? "1.10";
      try {
        checkProcessRelease(release, "replay");
      } catch (e) {
        throw new CommandError((e as Error).message);
      }
      const terminal = Deno.stderr.isTerminal();
      const showProgress = opts.progress ?? terminal;
      const total = showProgress && journal !== "-" ? await countLines(journal) : undefined;
      const encoder = new TextEncoder();
      const progress = showProgress
        ? new ProgressReporter((t) => Deno.stderr.writeSync(encoder.encode(t)), terminal, total)
        : undefined;
      // SIGINT (Ctrl-C reaches the whole process group) or SIGTERM: stop after this line.
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
      for (const s of signals) Deno.addSignalListener(s, onSignal);
      // Commits fsync on another thread while the next lines are processed (as serve's).
      const store = Store.open(path, { release, syncOffThread: true });
      // WAL pages copied into the file by a background worker after each commit, as serve's.
      const checkpointer = Checkpointer.forDatabase(store.db, logger);
      try {
        const summary = await replay({
          journal: stream,
          store,
          mode: parseCompatMode(opts.compat),
          answers,
          write: outLines
            ? (line) => {
              outLines.push(line);
              out.write(line);
            }
            : (line) => out.write(line),
          connected: opts.connected ?? false,
          transport: opts.transport as Transport,
          remoteQueryTimeout: opts.remoteQueryTimeout,
          logger,
          fromLine,
          signal: stop.signal,
          onProgress: progress ? (line) => progress.update(line) : undefined,
          checkpointer,
        });
        progress?.end();
        out.close();
        if (opts.dumpDb) {
          try {
            Deno.writeTextFileSync(opts.dumpDb, dumpJson(store.db));
          } catch (e) {
            throw new CommandError(
              `Cannot write --dump-db ${opts.dumpDb}: ${(e as Error).message}`,
            );
          }
        }
        const secs = summary.elapsedMs / 1000;
        const rate = secs > 0 ? Math.round(summary.messages / secs) : summary.messages;
        const skipped = summary.skipped > 0 ? `, ${summary.skipped} skipped (--from-line)` : "";
        const counts = `${summary.events} events, ${summary.errors} errors, ${summary.panics} ` +
          `panics${skipped}, ${secs.toFixed(2)} s, ${rate} msg/s`;
        if (summary.interrupted) {
          const last = summary.lastLine > 0 ? summary.lastLine : fromLine - 1;
          console.error(
            `replay: interrupted after line ${last}${total ? ` of ${total}` : ""}: ${counts}`,
          );
          throw new CommandError(
            `replay interrupted after journal line ${last}` +
              (opts.dumpDb ? ` (database dumped to ${opts.dumpDb})` : "") +
              `; resume with --from-line ${last + 1}` +
              (path === ":memory:" ? " and a --db (this run's database was in memory)" : "") +
              (expected !== undefined || expectedDump !== undefined
                ? "; --expect/--expect-db not compared"
                : ""),
            130,
          );
        }
        console.error(`replay: ${summary.lines} lines, ${counts}`);
        if (fromLine > 1 && summary.lines < fromLine) {
          throw new CommandError(
            `--from-line ${fromLine} is past the end of journal ${journal} ` +
              `(${summary.lines} lines): nothing replayed`,
          );
        }
        const failures: string[] = [];
        if (expected !== undefined && outLines !== undefined) {
          const actual = outLines.map((l) => l + "\n").join("");
          const text = journalText ? await journalText : Deno.readTextFileSync(journal);
          const c = compared(
            "--expect",
            opts.expect!,
            () => compareEvents(text, expected, actual, { fromLine }),
          );
          reportComparison("--expect", opts.expect!, c);
          if (c.differences.length > 0) {
            failures.push(`the events differ from ${opts.expect} (${c.summary})`);
          }
        }
        if (expectedDump !== undefined) {
          const dump = dumpJson(store.db);
          const c = compared("--expect-db", opts.expectDb!, () => compareDb(expectedDump, dump));
          reportComparison("--expect-db", opts.expectDb!, c);
          if (c.differences.length > 0) {
            failures.push(`the database differs from ${opts.expectDb} (${c.summary})`);
          }
        }
        if (failures.length > 0) throw new CommandError(failures.join("; "));
        if (summary.errors > 0) {
          throw new CommandError(`${summary.errors} journal line(s) were not valid messages`);
        }
      } finally {
        for (const s of signals) Deno.removeSignalListener(s, onSignal);
        await checkpointer?.close();
        store.close();
      }
    });
}
