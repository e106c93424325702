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
import { dumpJson } from "../src/store/dump.ts";
import { openLineWriter } from "../src/io/line_writer.ts";
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
    .addHelpText(
      "after",
      `
Examples:
  edgecore-meta replay fixtures/journals/crud.ndjson --compat strict
  edgecore-meta replay journal.ndjson --db ./replayed.db --cloud cloud.json --out events.ndjson
  cat journal.ndjson | edgecore-meta replay - --dump-db dump.json`,
    )
    .action(async (journal, opts, cmd) => {
      const global = cmd.optsWithGlobals() as GlobalOptions & typeof opts;
      const logger = createLogger(parseLogLevel(global.logLevel ?? "warn"));
      const answers = { cloud: readAnswers(opts.cloud), edged: readAnswers(opts.edged) };
      const stream = await openJournal(journal);
      let out;
      try {
        out = openLineWriter(opts.out);
      } catch (e) {
        throw new CommandError(`Cannot write events to ${opts.out}: ${(e as Error).message}`);
      }
      const path = opts.db ?? global.db ?? ":memory:";
      const env = Deno.env.get("EDGECORE_META_KUBEEDGE");
      const configured = opts.kubeedge ?? (env ? parseRelease(env) : undefined);
      const release = configured ?? Store.releaseOf(path) ?? "1.10";
      try {
        checkProcessRelease(release, "replay");
      } catch (e) {
        throw new CommandError((e as Error).message);
      }
      const store = Store.open(path, { release });
      const progress = Deno.stderr.isTerminal();
      let lastProgress = performance.now();
      try {
        const summary = await replay({
          journal: stream,
          store,
          mode: parseCompatMode(opts.compat),
          answers,
          write: (line) => out.write(line),
          connected: opts.connected ?? false,
          transport: opts.transport as Transport,
          remoteQueryTimeout: opts.remoteQueryTimeout,
          logger,
          onProgress: progress
            ? (lines) => {
              const now = performance.now();
              if (now - lastProgress > 1000) {
                lastProgress = now;
                Deno.stderr.writeSync(new TextEncoder().encode(`\rreplay: ${lines} lines...`));
              }
            }
            : undefined,
        });
        out.close();
        if (opts.dumpDb) Deno.writeTextFileSync(opts.dumpDb, dumpJson(store.db));
        const secs = summary.elapsedMs / 1000;
        const rate = secs > 0 ? Math.round(summary.messages / secs) : summary.messages;
        console.error(
          `${progress ? "\r" : ""}replay: ${summary.lines} lines, ${summary.events} events, ` +
            `${summary.errors} errors, ${summary.panics} panics, ${
              secs.toFixed(2)
            } s, ${rate} msg/s`,
        );
        if (summary.errors > 0) {
          throw new CommandError(`${summary.errors} journal line(s) were not valid messages`);
        }
      } finally {
        store.close();
      }
    });
}
