/**
 * `deno task bench`: throughput, latency and memory of edgecore-meta (issue
 * "Performance").
 *
 * 1. Generates journals in a temp dir: N pod inserts (~2 KB, edgecontroller), N updates of
 *    the same keys, N local queries by key (edged), and a mixed journal.
 * 2. raw: the same meta + meta_v2 rows written with node:sqlite directly (WAL,
 *    synchronous FULL, same batch size) — the physical limit; and again with serve's
 *    durability scheme (NORMAL + off-thread fdatasync of the -wal, overlapped).
 * 3. library, headline: each phase through the serve batch loop (runMetaManagerLoop,
 *    FIXED mode, ≤ 512 messages per transaction, acknowledged once the commit is on disk,
 *    store opened as serve opens it) into a database file.
 *    Then the same loop as every other release, mode and transport (LOOP_VARIANTS: v1.10
 *    strict with the WebSocket transport, upstream's default, and strict/raw; v1.23 fixed,
 *    strict/websocket and strict/raw; v1.10 fixed/raw with the frame decoder's worker, as serve
 *    with edgecoreMeta.decodeOnWorker), insert and update journals, each ratio to raw.
 * 4. library, secondary: the same journals through replay() (1000 lines per commit).
 * 5. serve: `main.ts serve` as a subprocess, a cloud WebSocket client streaming inserts
 *    with a window of unacknowledged messages, and an edged client draining frames.
 * 7. big list (once): a generated database of 40,000 pods (~3 KB each) under serve, and
 *    the seconds of a real `kubectl get pods -A` (pages of 500) and serve's peak RSS
 *    (bench/big_list_run.ts).
 *
 * Steps 2, 3 and 5 run in rounds (default 3: raw, library, serve; raw, library, serve;
 * ...) and each figure is the median over the rounds (peak RSS figures: the maximum), with
 * ratios to raw taken within a round: this machine's speed drifts by tens of percent
 * within a minute, and one run of each would report the drift.
 *
 * CPU: every phase reports CPU µs per message (all threads of the process, from getrusage
 * for the library children, /proc for serve): the loop's and replay's in their tables and
 * in `cpu_us_per_msg`, serve's per acknowledgement. `serve_vs_raw`: serve's acknowledged
 * inserts per second over raw's `insert_overlapped` rate (serve's own durability scheme),
 * within each round. bench/breakdown.ts splits the loop's CPU per message into its steps.
 *
 * Options: --json (one JSON object on stdout), --quick (2,000 messages per phase, 1 round),
 * --rounds N, --n N, --mixed N, --batch N, --window N, --dir DIR (where the temp dir goes),
 * --keep (keep it), --skip-replay, --skip-serve, --skip-big-list, --big-list-pods N
 * (default 40,000; --quick 5,000), --cpu-prof DIR (V8 CPU profile of the
 * library child), --v8-flags FLAGS (passed as `deno run --v8-flags=FLAGS` to the library
 * children and to serve instead of those of deno.json's start task, e.g.
 * `--max-semi-space-size=8`). The children run with the start task's other flags too.
 *
 * @module
 */

import { generateJournals } from "./gen.ts";
import type { PhaseResult } from "./lib_run.ts";
import { runServeBench, type ServeResult } from "./serve_run.ts";
import { type BigListResult, findKubectl, runBigListBench } from "./big_list_run.ts";
import { machine, round } from "./stats.ts";
import type { CompatMode } from "../src/metamanager/compat.ts";
import type { Transport } from "../src/beehive/wire.ts";
import type { KubeEdgeRelease } from "../src/store/schema.ts";

/** A release, mode and transport of the batch loop besides the headline (v1.10 fixed/raw). */
interface LoopVariant {
  name: string;
  release: KubeEdgeRelease;
  mode: CompatMode;
  transport: Transport;
  /** Where lines are decoded (default inline, serve's default). */
  decoder?: "worker";
}

/**
 * Every other release and mode the loop runs as (insert and update journals each round):
 * strict with the WebSocket transport is upstream's default (and replay --compat strict's);
 * fixed mode always takes content as raw text.
 */
const LOOP_VARIANTS: LoopVariant[] = [
  { name: "v1.10 strict/websocket", release: "1.10", mode: "strict", transport: "websocket" },
  { name: "v1.10 strict/raw", release: "1.10", mode: "strict", transport: "raw" },
  { name: "v1.23 fixed/raw", release: "1.23", mode: "fixed", transport: "raw" },
  { name: "v1.23 strict/websocket", release: "1.23", mode: "strict", transport: "websocket" },
  { name: "v1.23 strict/raw", release: "1.23", mode: "strict", transport: "raw" },
  // serve with edgecoreMeta.decodeOnWorker: frames decoded on the frame decoder's worker
  {
    name: "v1.10 fixed/raw decodeOnWorker",
    release: "1.10",
    mode: "fixed",
    transport: "raw",
    decoder: "worker",
  },
];
/** The headline loop's name in the variant tables: serve's default. */
const HEADLINE_VARIANT = "v1.10 fixed/raw";

interface Args {
  json: boolean;
  quick: boolean;
  n: number;
  mixed: number;
  batch: number;
  window: number;
  rounds: number;
  dir?: string;
  keep: boolean;
  skipReplay: boolean;
  skipServe: boolean;
  skipBigList: boolean;
  bigListPods: number;
  cpuProf?: string;
  v8Flags?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    json: false,
    quick: false,
    n: 20_000,
    mixed: 10_000,
    batch: 512,
    window: 80,
    rounds: 3,
    keep: false,
    skipReplay: false,
    skipServe: false,
    skipBigList: false,
    bigListPods: 40_000,
  };
  let nSet = false, mixedSet = false, roundsSet = false, bigListSet = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    const int = () => {
      const v = Number(value());
      if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${arg} needs a positive integer`);
      return v;
    };
    switch (arg) {
      case "--json":
        a.json = true;
        break;
      case "--quick":
        a.quick = true;
        break;
      case "--n":
        a.n = int();
        nSet = true;
        break;
      case "--mixed":
        a.mixed = int();
        mixedSet = true;
        break;
      case "--batch":
        a.batch = int();
        break;
      case "--window":
        a.window = int();
        break;
      case "--rounds":
        a.rounds = int();
        roundsSet = true;
        break;
      case "--dir":
        a.dir = value();
        break;
      case "--keep":
        a.keep = true;
        break;
      case "--skip-replay":
        a.skipReplay = true;
        break;
      case "--skip-serve":
        a.skipServe = true;
        break;
      case "--skip-big-list":
        a.skipBigList = true;
        break;
      case "--big-list-pods":
        a.bigListPods = int();
        bigListSet = true;
        break;
      case "--cpu-prof":
        a.cpuProf = value();
        break;
      case "--v8-flags":
        a.v8Flags = value();
        break;
      case "-h":
      case "--help":
        console.log(
          "usage: deno task bench [--json] [--quick] [--n N] [--mixed N] [--batch N] " +
            "[--window N] [--rounds N] [--dir DIR] [--keep] [--skip-replay] [--skip-serve] [--skip-big-list] [--big-list-pods N] [--cpu-prof DIR] " +
            "[--v8-flags FLAGS]",
        );
        Deno.exit(0);
        break;
      default:
        throw new Error(`unknown option ${arg} (try --help)`);
    }
  }
  if (a.quick) {
    if (!nSet) a.n = 2_000;
    if (!mixedSet) a.mixed = 1_000;
    if (!roundsSet) a.rounds = 1;
    if (!bigListSet) a.bigListPods = 5_000;
  }
  return a;
}

const log = (s: string) => console.error(s);

function loadavg(): number[] {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(Number);
  } catch {
    return [];
  }
}

/** SHA-256 (first 12 hex digits) of main.ts, commands/ and src/: the code benchmarked. */
async function codeHash(): Promise<string> {
  const root = new URL("../", import.meta.url).pathname;
  const files: string[] = ["main.ts"];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(root + dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) walk(p);
      else if (e.isFile) files.push(p);
    }
  };
  walk("commands");
  walk("src");
  files.sort();
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const f of files) {
    parts.push(enc.encode(`${f}\0`));
    parts.push(Deno.readFileSync(root + f));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The commit benchmarked and whether src/ has uncommitted changes. */
async function gitState(): Promise<{ commit: string; src_dirty: boolean } | null> {
  try {
    const run = async (...args: string[]) => {
      const out = await new Deno.Command("git", {
        args,
        cwd: new URL("../", import.meta.url).pathname,
        stdout: "piped",
        stderr: "null",
      }).output();
      return new TextDecoder().decode(out.stdout).trim();
    };
    const commit = await run("rev-parse", "--short", "HEAD");
    const dirty = await run("status", "--porcelain", "--", "src", "main.ts", "commands");
    return commit ? { commit, src_dirty: dirty !== "" } : null;
  } catch {
    return null;
  }
}

async function child<T>(script: string, spec: unknown, extra: string[] = []): Promise<T> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...extra, new URL(script, import.meta.url).pathname, JSON.stringify(spec)],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).output();
  if (!out.success) throw new Error(`${script} failed with exit code ${out.code}`);
  return JSON.parse(new TextDecoder().decode(out.stdout)) as T;
}

/** Rows per second of one raw phase. */
interface RawPhase {
  name: string;
  rows_per_s: number;
  seconds: number;
}

/** What one round measured: raw limit, library phases, serve. */
interface Round {
  raw: RawPhase[];
  lib: PhaseResult[];
  /** Insert and update phases of each of {@link LOOP_VARIANTS}, by name. */
  variants: Record<string, PhaseResult[]>;
  serve?: ServeResult;
}

function rawIn(r: Round, name: string): number {
  return r.raw.find((p) => p.name === name)!.rows_per_s;
}

function libIn(r: Round, name: string): PhaseResult {
  return r.lib.find((p) => p.name === name)!;
}

/** The median (mean of the middle two for an even count). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 === 1 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** One phase over the rounds: medians of speeds and latencies, maxima of memory and errors. */
function medianPhase(ps: PhaseResult[]): PhaseResult {
  const med = (f: (p: PhaseResult) => number, digits = 0) => round(median(ps.map(f)), digits);
  const max = (f: (p: PhaseResult) => number) => Math.max(...ps.map(f));
  return {
    ...ps[0],
    errors: max((p) => p.errors),
    unacknowledged: max((p) => p.unacknowledged),
    error_replies: max((p) => p.error_replies),
    seconds: med((p) => p.seconds, 3),
    msgs_per_s: med((p) => p.msgs_per_s),
    p50_ms: med((p) => p.p50_ms, 2),
    p99_ms: med((p) => p.p99_ms, 2),
    max_ms: max((p) => p.max_ms),
    commits: med((p) => p.commits),
    rss_start_mb: max((p) => p.rss_start_mb),
    peak_rss_sampled_mb: max((p) => p.peak_rss_sampled_mb),
    peak_rss_hwm_mb: max((p) => p.peak_rss_hwm_mb || 0),
    cpu_us_per_msg: med((p) => p.cpu_us_per_msg, 1),
  };
}

/** Serve over the rounds: medians of speed and latency, maxima of memory and failures. */
function medianServe(ss: ServeResult[]): ServeResult | undefined {
  if (ss.length === 0) return undefined;
  const med = (f: (s: ServeResult) => number, digits = 0) => round(median(ss.map(f)), digits);
  const max = (f: (s: ServeResult) => number) => Math.max(...ss.map(f));
  const sum = (f: (s: ServeResult) => number) => ss.reduce((n, s) => n + f(s), 0);
  return {
    ...ss[0],
    acked: Math.min(...ss.map((s) => s.acked)),
    not_ok: sum((s) => s.not_ok),
    error_frames: sum((s) => s.error_frames),
    edged_frames: Math.min(...ss.map((s) => s.edged_frames)),
    seconds: med((s) => s.seconds, 3),
    serve_acks_per_s: med((s) => s.serve_acks_per_s),
    serve_ack_p50_ms: med((s) => s.serve_ack_p50_ms, 2),
    serve_ack_p99_ms: med((s) => s.serve_ack_p99_ms, 2),
    serve_ack_max_ms: max((s) => s.serve_ack_max_ms),
    serve_idle_rss_mb: max((s) => s.serve_idle_rss_mb),
    serve_rss_after_attach_mb: max((s) => s.serve_rss_after_attach_mb),
    serve_peak_rss_mb: max((s) => s.serve_peak_rss_mb),
    serve_peak_rss_hwm_mb: max((s) => s.serve_peak_rss_hwm_mb),
    serve_commits: med((s) => s.serve_commits),
    serve_mean_batch: med((s) => s.serve_mean_batch, 1),
    serve_mean_commit_ms: med((s) => s.serve_mean_commit_ms, 2),
    serve_cpu_us_per_msg: med((s) => s.serve_cpu_us_per_msg, 1),
    serve_exit_code: ss.find((s) => s.serve_exit_code !== 0)?.serve_exit_code ??
      ss[0].serve_exit_code,
    serve_idle_rss_populated_mb: max((s) => s.serve_idle_rss_populated_mb),
    serve_warnings: ss.flatMap((s) => s.serve_warnings),
  };
}

interface Target {
  name: string;
  value: number;
  op: ">=" | "<=" | "<";
  limit: number;
  unit: string;
  pass: boolean;
}

function target(name: string, value: number, op: Target["op"], limit: number, unit = ""): Target {
  const pass = Number.isFinite(value) &&
    (op === ">=" ? value >= limit : op === "<=" ? value <= limit : value < limit);
  return { name, value, op, limit, unit, pass };
}

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? "").length)));
  const fmt = (r: string[]) =>
    r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join("  ");
  return [fmt(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(fmt)]
    .join("\n");
}

async function main(): Promise<number> {
  const args = parseArgs(Deno.args);
  const dir = await Deno.makeTempDir({ prefix: "edgecore-bench-", dir: args.dir });
  const m = machine();
  const git = await gitState();
  const codeBefore = await codeHash();
  const loadBefore = loadavg();
  log(`bench: ${m.cores} cores, ${m.cpu_model}; work dir ${dir}; load ${loadBefore.join(" ")}`);
  if (loadBefore[0] > m.cores / 2) {
    log("bench: warning: the machine is busy (load average); figures will be noisy");
  }
  try {
    // 1. journals
    const t = performance.now();
    const j = await generateJournals(dir, args.n, args.mixed);
    log(
      `bench: journals generated in ${round((performance.now() - t) / 1000, 1)} s: ` +
        Object.entries(j.sizes).map(([k, s]) =>
          `${k} ${s.lines} lines, avg ${round(s.bytes / s.lines)} B`
        ).join("; "),
    );

    // Measure with the flags the product runs with (deno.json's start task); --v8-flags
    // replaces its V8 flags.
    const product = productRunFlags();
    args.v8Flags ??= product.find((f) => f.startsWith("--v8-flags="))?.slice(11);
    const runFlags = [
      ...product.filter((f) => !f.startsWith("--v8-flags=")),
      ...(args.v8Flags ? [`--v8-flags=${args.v8Flags}`] : []),
    ];

    // 2, 3, 5 in rounds: raw limit, library (serve batch loop, headline), serve.
    const rounds: Round[] = [];
    for (let r = 1; r <= args.rounds; r++) {
      const tag = args.rounds > 1 ? ` (round ${r} of ${args.rounds})` : "";
      log(`bench: raw node:sqlite (physical limit)${tag}...`);
      const raw = await child<{ phases: RawPhase[] }>("./raw_run.ts", {
        db: `${dir}/raw.db`,
        batch: args.batch,
        phases: [{ name: "insert", journal: j.insert }, { name: "update", journal: j.update }],
      });
      log(`bench: library, serve batch loop (<= ${args.batch} msgs per transaction)${tag}...`);
      const libDb = `${dir}/lib.db`;
      const lib = await child<{ phases: PhaseResult[] }>(
        "./lib_run.ts",
        {
          driver: "loop",
          batch: args.batch,
          phases: [
            { name: "insert", journal: j.insert, db: libDb },
            { name: "update", journal: j.update, db: libDb },
            { name: "query", journal: j.query, db: libDb },
            { name: "mixed", journal: j.mixed, db: `${dir}/lib-mixed.db` },
          ],
        },
        [
          ...(args.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${args.cpuProf}`] : []),
          ...runFlags,
        ],
      );
      const variants: Record<string, PhaseResult[]> = {};
      for (const v of LOOP_VARIANTS) {
        log(`bench: library, serve batch loop as ${v.name}${tag}...`);
        const vDb = `${dir}/lib-variant.db`;
        variants[v.name] = (await child<{ phases: PhaseResult[] }>("./lib_run.ts", {
          driver: "loop",
          batch: args.batch,
          mode: v.mode,
          transport: v.transport,
          release: v.release,
          decoder: v.decoder,
          phases: [
            { name: "insert", journal: j.insert, db: vDb },
            { name: "update", journal: j.update, db: vDb },
          ],
        }, runFlags)).phases;
      }
      let serve: ServeResult | undefined;
      if (!args.skipServe) {
        log(`bench: serve subprocess, cloud client window ${args.window}${tag}...`);
        serve = await runServeBench({
          dir,
          journal: j.insert,
          window: args.window,
          idleMs: 2000,
          timeoutMs: 300_000,
          denoFlags: runFlags,
        });
        log(
          `  serve: ${serve.serve_acks_per_s} acks/s, p99 ${serve.serve_ack_p99_ms} ms, ` +
            `idle RSS ${serve.serve_idle_rss_mb} MB, peak ${serve.serve_peak_rss_mb} MB`,
        );
      }
      rounds.push({ raw: raw.phases, lib: lib.phases, variants, serve });
    }
    const rawOf = (n: string) => median(rounds.map((r) => rawIn(r, n)));
    const phase = (n: string) => medianPhase(rounds.map((r) => libIn(r, n)));
    /** Our throughput over raw's, within each round (same moment), then the median. */
    const vsRaw = (ours: string, raw: string) =>
      round(median(rounds.map((r) => libIn(r, ours).msgs_per_s / rawIn(r, raw))), 3);
    /** Each variant's insert and update over raw (within each round, then the median). */
    const variantFigures = LOOP_VARIANTS.map((v) => {
      const of = (r: Round, n: string) => r.variants[v.name].find((p) => p.name === n)!;
      const ratio = (n: string) =>
        round(median(rounds.map((r) => of(r, n).msgs_per_s / rawIn(r, n))), 3);
      const med = (n: string, f: (p: PhaseResult) => number, d = 0) =>
        round(median(rounds.map((r) => f(of(r, n)))), d);
      return {
        name: v.name,
        release: v.release,
        mode: v.mode,
        transport: v.transport,
        insert_msgs_per_s: med("insert", (p) => p.msgs_per_s),
        update_msgs_per_s: med("update", (p) => p.msgs_per_s),
        insert_vs_raw: ratio("insert"),
        update_vs_raw: ratio("update"),
        cpu_us_per_msg: {
          insert: med("insert", (p) => p.cpu_us_per_msg, 1),
          update: med("update", (p) => p.cpu_us_per_msg, 1),
        },
        errors: Math.max(
          ...rounds.flatMap((r) => r.variants[v.name].map((p) => p.errors + p.unacknowledged)),
        ),
      };
    });

    // 4. library, replay() (secondary; once)
    let rep: { phases: PhaseResult[] } | undefined;
    if (!args.skipReplay) {
      log("bench: library, replay() (1000 lines per commit)...");
      const repDb = `${dir}/replay.db`;
      rep = await child("./lib_run.ts", {
        driver: "replay",
        batch: 1000,
        phases: [
          { name: "insert", journal: j.insert, db: repDb },
          { name: "update", journal: j.update, db: repDb },
          { name: "query", journal: j.query, db: repDb },
          { name: "mixed", journal: j.mixed, db: `${dir}/replay-mixed.db` },
        ],
      }, runFlags);
    }
    // 7. big list (once): kubectl get pods -A over a generated database
    let bigList: BigListResult | undefined;
    const kubectl = findKubectl();
    if (!args.skipBigList && kubectl === undefined) log("bench: no kubectl: big list skipped");
    if (!args.skipBigList && kubectl !== undefined) {
      log(`bench: big list, kubectl get pods -A over ${args.bigListPods} pods...`);
      bigList = await runBigListBench({
        dir,
        pods: args.bigListPods,
        kubectl,
        denoFlags: runFlags,
      });
      log(
        `  big list: ${bigList.seconds} s, serve peak RSS ${bigList.serve_peak_rss_mb} MB ` +
          `(database ${bigList.db_mb} MB)`,
      );
    }
    const serve = medianServe(rounds.map((r) => r.serve).filter((x) => x !== undefined));

    // 6. serve burst (once): the same inserts with no client window at all, every one sent
    //    at once (cloudcore after a reconnect). serve pauses reading the socket instead of
    //    buffering or dropping: every insert acked, nothing of the cloud's dropped.
    let burst: ServeResult | undefined;
    if (!args.skipServe) {
      log("bench: serve burst, no client window...");
      burst = await runServeBench({
        dir,
        journal: j.insert,
        window: Infinity,
        idleMs: 500,
        timeoutMs: 300_000,
        denoFlags: runFlags,
      });
      log(
        `  burst: ${burst.serve_acks_per_s} acks/s, peak RSS ${burst.serve_peak_rss_mb} MB, ` +
          `${burst.messages - burst.acked} not acked OK`,
      );
    }
    /** serve's acknowledged inserts/s over raw's rate under serve's durability scheme. */
    const serveVsRaw = round(
      median(
        rounds.filter((r) => r.serve).map((r) =>
          r.serve!.serve_acks_per_s / rawIn(r, "insert_overlapped")
        ),
      ),
      3,
    );

    // figures and targets
    const ins = phase("insert"), upd = phase("update"), qry = phase("query"), mix = phase("mixed");
    const peak = Math.max(
      ...[ins, upd, qry].map((p) => Math.max(p.peak_rss_hwm_mb || 0, p.peak_rss_sampled_mb)),
    );
    const peakSampled = Math.max(...[ins, upd, qry].map((p) => p.peak_rss_sampled_mb));
    const result = {
      insert_msgs_per_s: ins.msgs_per_s,
      update_msgs_per_s: upd.msgs_per_s,
      query_msgs_per_s: qry.msgs_per_s,
      mixed_msgs_per_s: mix.msgs_per_s,
      insert_p50_ms: ins.p50_ms,
      insert_p99_ms: ins.p99_ms,
      update_p50_ms: upd.p50_ms,
      update_p99_ms: upd.p99_ms,
      query_p50_ms: qry.p50_ms,
      query_p99_ms: qry.p99_ms,
      mixed_p50_ms: mix.p50_ms,
      mixed_p99_ms: mix.p99_ms,
      raw_rows_per_s: rawOf("insert"),
      raw_update_rows_per_s: rawOf("update"),
      insert_vs_raw: vsRaw("insert", "insert"),
      update_vs_raw: vsRaw("update", "update"),
      raw_overlapped_rows_per_s: rawOf("insert_overlapped"),
      raw_overlapped_update_rows_per_s: rawOf("update_overlapped"),
      insert_vs_raw_overlapped: vsRaw("insert", "insert_overlapped"),
      /** The batch loop as every other release, mode and transport (the headline is v1.10 fixed/raw). */
      loop_variants: variantFigures,
      update_vs_raw_overlapped: vsRaw("update", "update_overlapped"),
      serve_acks_per_s: serve?.serve_acks_per_s ?? null,
      serve_vs_raw: serve ? serveVsRaw : null,
      replay_inserts_per_s: rep?.phases.find((p) => p.name === "insert")?.msgs_per_s ?? null,
      cpu_us_per_msg: {
        loop: Object.fromEntries([ins, upd, qry, mix].map((p) => [p.name, p.cpu_us_per_msg])),
        loop_variants: Object.fromEntries(variantFigures.map((v) => [v.name, v.cpu_us_per_msg])),
        replay: rep ? Object.fromEntries(rep.phases.map((p) => [p.name, p.cpu_us_per_msg])) : null,
        serve: serve?.serve_cpu_us_per_msg ?? null,
        serve_burst: burst?.serve_cpu_us_per_msg ?? null,
      },
      serve_ack_p50_ms: serve?.serve_ack_p50_ms ?? null,
      serve_ack_p99_ms: serve?.serve_ack_p99_ms ?? null,
      peak_rss_mb: peak,
      peak_rss_sampled_mb: peakSampled,
      serve_idle_rss_mb: serve?.serve_idle_rss_mb ?? null,
      serve_peak_rss_mb: serve?.serve_peak_rss_mb ?? null,
      big_list: bigList ?? null,
      burst: burst
        ? {
          messages: burst.messages,
          acked_ok: burst.acked,
          acks_per_s: burst.serve_acks_per_s,
          seconds: burst.seconds,
          peak_rss_mb: burst.serve_peak_rss_mb,
          cloud_frames_dropped: burst.messages - burst.acked - burst.not_ok,
          edged_overflow_dropped: burst.serve_dropped_queue_full,
          read_pauses: burst.serve_read_pauses,
          inbox_peak_frames: burst.serve_held_frames_peak,
          cpu_us_per_msg: burst.serve_cpu_us_per_msg,
        }
        : null,
      machine: { ...m, loadavg_before: loadBefore, loadavg_after: loadavg() },
      git,
      code_hash: codeBefore,
      code_changed_during_run: false,
      config: {
        messages_per_phase: args.n,
        mixed_messages: args.mixed,
        mixed_ops: j.mixedOps,
        journal_avg_bytes: Object.fromEntries(
          Object.entries(j.sizes).map(([k, s]) => [k, round(s.bytes / s.lines)]),
        ),
        batch: args.batch,
        serve_window: args.window,
        serve_note:
          "at most `window` inserts unacknowledged; by Little's law the mean latency is " +
          "window / throughput, and p99 is about 2-3 times the mean here (fsync p99 ~25 ms). " +
          "Default 80: here window 64 gave 4,800-5,150 acks/s (p99 35-43 ms), 80 gave " +
          "5,500-5,700 (p99 36-38 ms), 96 gave 5,500-5,900 (p99 42-55 ms)",
        mode: "fixed",
        v8_flags: args.v8Flags ?? null,
        database: "file on disk, WAL, synchronous FULL as serve runs it: COMMIT at NORMAL, " +
          "then an fdatasync of the -wal on another thread before anything is acknowledged; " +
          "checkpoints in a background worker",
        headline_driver:
          "serve batch loop (runMetaManagerLoop): <= batch messages per transaction, " +
          "ack after commit; latency = ack time - time the line was taken (parse included); " +
          "outbound messages serialized with toWire() and discarded",
        raw: "same meta + meta_v2 rows (precomputed), INSERT OR REPLACE via node:sqlite, same " +
          "batch size, each batch durable before the next (synchronous FULL); raw_rows_per_s = " +
          "row pairs (one per message) per second for the insert journal, raw_update_rows_per_s " +
          "for the update journal. raw_overlapped_*: the same rows with serve's scheme " +
          "(synchronous NORMAL, -wal fdatasync per batch on another thread, next batch written " +
          "meanwhile); *_vs_raw_overlapped compare with that",
        peak_rss: "max over the insert, update and query phases (the 60,000-message run at full " +
          "size) of the library child's kernel peak RSS (VmHWM, reset per phase) and of " +
          "Deno.memoryUsage().rss samples, and over the rounds",
        rounds: "raw, library loop and serve run `rounds` times in turn; each figure is the " +
          "median over the rounds (peak and idle RSS: the maximum), each ratio to raw is taken " +
          "within its round, then the median; per_round lists every round",
        work_dir: args.keep ? dir : undefined,
      },
      rounds: args.rounds,
      phases: [ins, upd, qry, mix],
      replay_phases: rep?.phases ?? null,
      raw_phases: ["insert", "update", "insert_overlapped", "update_overlapped"].map((name) => ({
        name,
        rows_per_s: rawOf(name),
      })),
      serve: serve ?? null,
      per_round: rounds.map((r) => ({
        raw: Object.fromEntries(r.raw.map((p) => [p.name, p.rows_per_s])),
        lib: Object.fromEntries(r.lib.map((p) => [p.name, p.msgs_per_s])),
        insert_vs_raw: round(libIn(r, "insert").msgs_per_s / rawIn(r, "insert"), 3),
        update_vs_raw: round(libIn(r, "update").msgs_per_s / rawIn(r, "update"), 3),
        peak_rss_mb: Math.max(
          ...r.lib.filter((p) => p.name !== "mixed").map((p) =>
            Math.max(p.peak_rss_hwm_mb || 0, p.peak_rss_sampled_mb)
          ),
        ),
        serve: r.serve
          ? {
            acks_per_s: r.serve.serve_acks_per_s,
            vs_raw_overlapped: round(r.serve.serve_acks_per_s / rawIn(r, "insert_overlapped"), 3),
            cpu_us_per_msg: r.serve.serve_cpu_us_per_msg,
            ack_p50_ms: r.serve.serve_ack_p50_ms,
            ack_p99_ms: r.serve.serve_ack_p99_ms,
            idle_rss_mb: r.serve.serve_idle_rss_mb,
            peak_rss_mb: r.serve.serve_peak_rss_mb,
          }
          : null,
      })),
      targets: [] as Target[],
      all_pass: false,
    };
    const targets = [
      target("insert msg/s", ins.msgs_per_s, ">=", 5000),
      target("insert / raw", result.insert_vs_raw, ">=", 0.75),
      target("update msg/s", upd.msgs_per_s, ">=", 5000),
      target("update / raw", result.update_vs_raw, ">=", 0.75),
      ...variantFigures.flatMap((v) => [
        target(`${v.name} insert / raw`, v.insert_vs_raw, ">=", 0.75),
        target(`${v.name} update / raw`, v.update_vs_raw, ">=", 0.75),
      ]),
      target("local query msg/s", qry.msgs_per_s, ">=", 30000),
      target("serve acked inserts/s", serve?.serve_acks_per_s ?? NaN, ">=", 5000),
      target("serve / raw overlapped", serve ? serveVsRaw : NaN, ">=", 0.6),
      target("serve ack p99", serve?.serve_ack_p99_ms ?? NaN, "<", 50, "ms"),
      ...(rep ? [target("replay inserts/s", result.replay_inserts_per_s ?? NaN, ">=", 25000)] : []),
      target("peak RSS (3 phases)", peak, "<=", 100, "MB"),
      target(
        "burst: every insert acked OK",
        burst ? burst.messages - burst.acked : NaN,
        "<=",
        0,
      ),
      target("serve idle RSS", serve?.serve_idle_rss_mb ?? NaN, "<=", 60, "MB"),
      ...(bigList
        ? [target("big list serve peak RSS", bigList.serve_peak_rss_mb, "<", 200, "MB")]
        : []),
    ];
    result.targets = targets;
    result.code_changed_during_run = (await codeHash()) !== codeBefore;
    if (result.code_changed_during_run) {
      log("bench: warning: main.ts, commands/ or src/ changed during the run");
    }
    result.all_pass = targets.every((x) => x.pass);

    if (args.json) {
      console.log(JSON.stringify(result));
      return 0;
    }
    const out: string[] = [];
    out.push(
      `edgecore-meta bench — ${m.cores} cores, ${m.cpu_model}, Deno ${m.deno}, ` +
        `commit ${git?.commit ?? "?"}${git?.src_dirty ? " + uncommitted changes" : ""} ` +
        `(code ${codeBefore}${
          result.code_changed_during_run ? ", CHANGED DURING THE RUN" : ""
        }), ` +
        `load ${result.machine.loadavg_before.join(" ")} -> ${
          result.machine.loadavg_after.join(" ")
        }`,
    );
    out.push(
      `${args.n} messages per phase (avg ${result.config.journal_avg_bytes.insert} B/insert line), ` +
        `mixed ${args.mixed} (${
          Object.entries(j.mixedOps).map(([k, v]) => `${k} ${v}`).join(", ")
        }); FIXED mode; db file, WAL, synchronous=FULL`,
    );
    out.push(
      `Figures: medians over ${args.rounds} round(s) (each: raw, library loop, serve), ratios ` +
        "to raw taken within a round; peak RSS and idle RSS: the maximum over the rounds",
    );
    out.push("");
    out.push("Rounds:");
    out.push(table(
      [
        "round",
        "raw ins",
        "insert",
        "vs raw",
        "raw upd",
        "update",
        "vs raw",
        "query",
        "serve acks/s",
        "vs raw ovl",
        "serve p99 ms",
        "peak RSS MB",
      ],
      result.per_round.map((r, i) => [
        i + 1,
        r.raw.insert,
        r.lib.insert,
        r.insert_vs_raw,
        r.raw.update,
        r.lib.update,
        r.update_vs_raw,
        r.lib.query,
        r.serve?.acks_per_s ?? "",
        r.serve?.vs_raw_overlapped ?? "",
        r.serve?.ack_p99_ms ?? "",
        r.peak_rss_mb,
      ]),
    ));
    out.push("");
    out.push(
      `Library, serve batch loop (headline): <= ${args.batch} msgs per transaction, ack after ` +
        "commit; latency = ack - line taken",
    );
    out.push(table(
      [
        "phase",
        "msg/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "commits",
        "CPU µs/msg",
        "peak RSS MB",
        "raw rows/s",
        "vs raw",
      ],
      result.phases.map((p) => {
        const r = p.name === "insert" || p.name === "update" ? rawOf(p.name) : undefined;
        return [
          p.name,
          p.msgs_per_s,
          p.p50_ms,
          p.p99_ms,
          p.max_ms,
          p.commits,
          p.cpu_us_per_msg,
          Math.max(p.peak_rss_hwm_mb || 0, p.peak_rss_sampled_mb),
          r ?? "",
          r ? vsRaw(p.name, p.name) : "",
        ];
      }),
    ));
    out.push("");
    out.push(
      `The batch loop as each release, mode and transport (${HEADLINE_VARIANT} is the headline ` +
        "above; ratios to raw within each round, then the median):",
    );
    out.push(table(
      [
        "variant",
        "insert msg/s",
        "vs raw",
        "CPU µs/msg",
        "update msg/s",
        "vs raw",
        "CPU µs/msg",
      ],
      [
        [
          HEADLINE_VARIANT,
          ins.msgs_per_s,
          result.insert_vs_raw,
          ins.cpu_us_per_msg,
          upd.msgs_per_s,
          result.update_vs_raw,
          upd.cpu_us_per_msg,
        ],
        ...variantFigures.map((v) => [
          v.name,
          v.insert_msgs_per_s,
          v.insert_vs_raw,
          v.cpu_us_per_msg.insert,
          v.update_msgs_per_s,
          v.update_vs_raw,
          v.cpu_us_per_msg.update,
        ]),
      ],
    ));
    if (rep) {
      out.push("");
      out.push("Library, replay() (1000 lines per commit; event lines formatted, discarded):");
      out.push(table(
        ["phase", "msg/s", "line p50 ms", "line p99 ms", "CPU µs/msg", "peak RSS MB"],
        rep.phases.map((p) => [
          p.name,
          p.msgs_per_s,
          p.p50_ms,
          p.p99_ms,
          p.cpu_us_per_msg,
          Math.max(p.peak_rss_hwm_mb || 0, p.peak_rss_sampled_mb),
        ]),
      ));
    }
    if (serve) {
      out.push("");
      out.push(
        `serve subprocess: ${serve.messages} inserts over WebSocket, window ${serve.window}: ` +
          `${serve.acked} OK acks (${serve.not_ok} not OK, ${serve.error_frames} error frames), ` +
          `edged received ${serve.edged_frames} frames`,
      );
      out.push(
        `  ${serve.serve_acks_per_s} acks/s; ack p50 ${serve.serve_ack_p50_ms} ms, p99 ` +
          `${serve.serve_ack_p99_ms} ms, max ${serve.serve_ack_max_ms} ms; RSS idle ` +
          `${serve.serve_idle_rss_mb} MB, after attach ${serve.serve_rss_after_attach_mb} MB, ` +
          `peak ${serve.serve_peak_rss_mb} MB (VmHWM ${serve.serve_peak_rss_hwm_mb} MB); ` +
          `exit code ${serve.serve_exit_code}`,
      );
      out.push(
        `  serve idle RSS when restarted on the filled database (${serve.messages} pods): ` +
          `${serve.serve_idle_rss_populated_mb} MB`,
      );
      out.push(
        `  serve /metrics: ${serve.serve_commits} commits (mean ${serve.serve_mean_batch} ` +
          `msgs per batch, mean commit ${serve.serve_mean_commit_ms} ms); serve CPU ` +
          `${serve.serve_cpu_us_per_msg} µs per ack`,
      );
      out.push(
        `  serve / raw overlapped (acked inserts/s over raw's rate with serve's durability ` +
          `scheme, within each round): ${serveVsRaw}`,
      );
      for (const w of serve.serve_warnings) out.push(`  serve log: ${w}`);
    }
    if (burst) {
      out.push("");
      out.push(
        `serve burst: ${burst.messages} inserts sent at once (no client window): ` +
          `${burst.acked} OK acks in ${burst.seconds} s (${burst.serve_acks_per_s} acks/s), ` +
          `${burst.messages - burst.acked - burst.not_ok} unanswered, serve CPU ` +
          `${burst.serve_cpu_us_per_msg} µs per ack, peak RSS ` +
          `${burst.serve_peak_rss_mb} MB; socket read paused ${burst.serve_read_pauses} times ` +
          `(inbox peak ${burst.serve_held_frames_peak} frames); edged received ` +
          `${burst.edged_frames}, its overflow dropped ${burst.serve_dropped_queue_full}`,
      );
    }
    if (bigList) {
      out.push("");
      out.push(
        `big list: kubectl get pods -A over ${bigList.pods} pods (database ${bigList.db_mb} MB): ` +
          `${bigList.seconds} s, ${bigList.rows} lines; serve peak RSS (VmHWM) ` +
          `${bigList.serve_peak_rss_mb} MB`,
      );
    }
    out.push("");
    out.push("Targets:");
    out.push(table(
      ["target", "value", "limit", "result"],
      targets.map((x) => [
        x.name,
        `${x.value}${x.unit ? " " + x.unit : ""}`,
        `${x.op} ${x.limit}${x.unit ? " " + x.unit : ""}`,
        x.pass ? "PASS" : "FAIL",
      ]),
    ));
    out.push(`\n${targets.filter((x) => x.pass).length}/${targets.length} targets pass`);
    console.log(out.join("\n"));
    return 0;
  } finally {
    if (!args.keep) await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    Deno.exit(1);
  }
}

/**
 * The `deno run` flags of deno.json's `start` task but `-A` (what serve runs with, e.g.
 * `--no-code-cache` and `--v8-flags=...`).
 */
function productRunFlags(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url)));
  const m = /deno run (.*?) main\.ts/.exec(config.tasks?.start ?? "");
  return m ? m[1].split(/\s+/).filter((f) => f.startsWith("--")) : [];
}
