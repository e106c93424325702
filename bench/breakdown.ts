/**
 * Where the CPU of one message goes, on the whole path the serve batch loop runs: journal
 * line (the stand-in for a bridge frame) → parseMessage → MetaManager.handle (process():
 * content decode, meta_v2 row with its Go marshal, SQL, savepoint, outbound messages) →
 * COMMIT → fsync of the -wal (another thread) → checkpoint → acknowledgements and peer
 * sends serialized as the bridge does (toWire) → the loop's own machinery (receive,
 * batching, promises). Insert, update and query journals, for each mode and transport
 * that exists: KubeEdge v1.10 and v1.23, fixed (raw text) and strict (websocket, upstream's
 * default transport, and raw).
 *
 * Accounting: every step is timed in CPU µs of the whole process (getrusage: every thread,
 * so the fsync thread and SQLite's work count; time spent waiting for a core does not, so
 * other load on the machine matters little), per batch of 512, and the steps' sum is
 * compared with the batch loop's own CPU per message (bench/lib_run.ts runLoopPhase, the
 * `deno task bench` headline) on the same journal: `sum / loop` should be within 10%, so
 * that no cost hides outside the steps. The "of which" rows split `handle` into its parts
 * (timed in isolation on the same messages; the rest of handle is shown, not hidden).
 *
 * Usage: deno run -A bench/breakdown.ts [--n N] [--json] [--only fixed/raw,...]; ends with a line
 * `breakdown: K of N sums within 10% ...: PASS` (or FAIL, naming those apart, and exit 1)
 *
 * Findings of the profiles (deno run --cpu-prof over bench/lib_run.ts, summarized with
 * bench/cpuprofile.ts) are kept in bench/PROFILE.md.
 *
 * @module
 */

import { Content, type Message, newRespByMessage, systemIdentity } from "../src/beehive/message.ts";
import { goMarshal } from "../src/beehive/go_json.ts";
import {
  CLOUD_SOURCES,
  CLOUD_SOURCES_V1_23,
  parseMessage,
  type Transport,
} from "../src/beehive/wire.ts";
import type { KubeEdgeRelease } from "../src/store/schema.ts";
import type { CompatMode } from "../src/metamanager/compat.ts";
import { runMetaManagerLoop } from "../src/metamanager/module.ts";
import { MetaManager } from "../src/metamanager/process.ts";
import { parseResource } from "../src/metamanager/resource.ts";
import { silentLogger } from "../src/logger.ts";
import { type KubeObject, rowForObject } from "../src/store/meta_v2.ts";
import type { Store as StoreType } from "../src/store/store.ts";
import { Store } from "../src/store/store.ts";
import { insertLine, queryLine, RV_BASE, updateLine } from "./gen.ts";
import { LineFeeder, runLoopPhase, SerializingBus } from "./lib_run.ts";
import { cpuUs, round } from "./stats.ts";

const BATCH = 512;
/** Measured rounds of each variant and journal (after one warm-up). */
const ROUNDS = 2;

interface Row {
  step: string;
  us: number;
  note?: string;
}

/** One mode/transport combination of the path. */
interface Variant {
  name: string;
  mode: CompatMode;
  transport: Transport;
  release: KubeEdgeRelease;
}

const VARIANTS: Variant[] = [
  {
    name: "fixed/raw (serve, replay --compat fixed)",
    mode: "fixed",
    transport: "raw",
    release: "1.10",
  },
  {
    name: "strict/websocket (replay --compat strict)",
    mode: "strict",
    transport: "websocket",
    release: "1.10",
  },
  {
    name: "strict/raw (replay --compat strict --transport raw)",
    mode: "strict",
    transport: "raw",
    release: "1.10",
  },
  {
    name: "v1.23 fixed/raw (--kubeedge 1.23)",
    mode: "fixed",
    transport: "raw",
    release: "1.23",
  },
  {
    name: "v1.23 strict/websocket (--kubeedge 1.23 --compat strict)",
    mode: "strict",
    transport: "websocket",
    release: "1.23",
  },
  {
    name: "v1.23 strict/raw (--kubeedge 1.23 --compat strict --transport raw)",
    mode: "strict",
    transport: "raw",
    release: "1.23",
  },
];

function cloudSourcesOf(v: Variant): ReadonlySet<string> {
  return v.release === "1.23" ? CLOUD_SOURCES_V1_23 : CLOUD_SOURCES;
}

function parseAs(v: Variant, line: string): Message {
  return parseMessage(line, v.transport, cloudSourcesOf(v));
}

/** CPU µs per item of `fn` over `items` (one warm-up run first when `warm`). */
function perItem<T>(items: T[], fn: (x: T, i: number) => void, warm = true): number {
  if (warm) { for (let i = 0; i < items.length; i++) fn(items[i], i); }
  const t = cpuUs();
  for (let i = 0; i < items.length; i++) fn(items[i], i);
  return round((cpuUs() - t) / items.length, 2);
}

async function writeJournal(path: string, lines: string[]): Promise<void> {
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
}

function removeDb(path: string): void {
  for (const s of ["", "-wal", "-shm"]) {
    try {
      Deno.removeSync(path + s);
    } catch { /* absent */ }
  }
}

function openAsServe(path: string, release: KubeEdgeRelease): StoreType {
  return Store.open(path, { syncOffThread: true, release });
}

/**
 * The path of the batch loop, step by step, batch by batch, with a CPU timer around each
 * step (what runMetaManagerLoop does, without its machinery, which is timed separately).
 */
async function instrumented(
  v: Variant,
  journal: string,
  n: number,
  db: string,
): Promise<{ steps: Map<string, number>; messages: Message[] }> {
  const store = openAsServe(db, v.release);
  const bus = new SerializingBus();
  const mm = new MetaManager({ store, bus, mode: v.mode, logger: silentLogger, connected: false });
  const steps = new Map<string, number>();
  const add = (k: string, us: number) => steps.set(k, (steps.get(k) ?? 0) + us);
  const file = await Deno.open(journal);
  const feeder = new LineFeeder(file);
  const kept: Message[] = [];
  for (;;) {
    let t = cpuUs();
    await feeder.fill(2 * BATCH);
    const lines: string[] = [];
    for (let k = 0; k < BATCH; k++) {
      const line = feeder.take();
      if (line === undefined) break;
      lines.push(line);
    }
    add("feed", cpuUs() - t);
    if (lines.length === 0) break;
    t = cpuUs();
    const msgs = lines.map((l) => parseAs(v, l));
    add("parse", cpuUs() - t);
    t = cpuUs();
    store.db.begin();
    for (let i = 0; i < msgs.length;) i = mm.handleRun(msgs, i); // as runMetaManagerLoop
    add("handle", cpuUs() - t);
    t = cpuUs();
    store.db.commit();
    add("commit", cpuUs() - t);
    t = cpuUs();
    await store.db.durable();
    add("fsync", cpuUs() - t);
    t = cpuUs();
    mm.outbox.deliver(mm.outbox.take());
    add("deliver", cpuUs() - t);
    t = cpuUs();
    store.db.checkpoint();
    add("checkpoint", cpuUs() - t);
    if (kept.length < n) kept.push(...msgs);
  }
  try {
    file.close();
  } catch { /* closed by the stream */ }
  store.close();
  for (const [k, us] of steps) steps.set(k, round(us / n, 2));
  return { steps, messages: kept };
}

/** The loop's own cost: runMetaManagerLoop over parsed messages with a MetaManager and store that do nothing. */
async function machinery(msgs: Message[]): Promise<number> {
  const noop = {
    handle() {},
    outbox: { take: () => ({ deliveries: [], changes: [] }), discard() {} },
    deliverWhenDurable: () => Promise.resolve([]),
  };
  const db = {
    begin() {},
    commit() {},
    rollback() {},
    totalChanges: () => 0,
    inTransaction: false,
  };
  const run = async () => {
    let next = 0;
    const abort = new AbortController();
    const take = () => (next < msgs.length ? msgs[next++] : undefined);
    await runMetaManagerLoop({
      mm: noop as unknown as MetaManager,
      store: { db } as unknown as StoreType,
      logger: silentLogger,
      maxBatch: BATCH,
      receive: () => {
        const m = take();
        if (m) return Promise.resolve(m);
        abort.abort();
        return Promise.reject(new Error("journal finished"));
      },
      tryReceive: take,
      onProcessed: () => {},
      onCommit: () => {},
    }, abort.signal);
  };
  await run();
  const t = cpuUs();
  await run();
  return round((cpuUs() - t) / msgs.length, 2);
}

/**
 * What runLoopPhase adds to the path to measure it: a taken-time map and two clock reads
 * per message, a latency array, and RSS samples (every 128 messages and every 20 ms of
 * the run's `seconds`).
 */
function harnessCost(msgs: Message[], seconds: number): number {
  const run = () => {
    const taken = new Map<Message, number>();
    const latencies: number[] = [];
    for (let i = 0; i < msgs.length; i++) {
      taken.set(msgs[i], performance.now());
      if ((i & 127) === 0) Deno.memoryUsage();
    }
    for (const m of msgs) {
      latencies.push(performance.now() - taken.get(m)!);
      taken.delete(m);
    }
    for (let k = 0; k < seconds * 50; k++) Deno.memoryUsage();
  };
  run();
  const t = cpuUs();
  run();
  return round((cpuUs() - t) / msgs.length, 2);
}

/** The parts of handle(), each timed alone on the same messages (warm). */
function handleParts(v: Variant, lines: string[], db: string): Row[] {
  const rows: Row[] = [];
  const fresh = () => lines.map((l) => parseAs(v, l));
  const write = lines[0] !== undefined && /"operation":"(insert|update)"/.test(lines[0]);
  if (!write) {
    const store = Store.open(db, { release: v.release });
    const msgs = fresh();
    store.db.begin();
    const found: string[][] = [];
    rows.push({
      step: "SQL SELECT by key (queryMeta)",
      us: perItem(msgs, (m, i) => {
        found[i] = store.meta.queryMeta("key", m.route.resource);
      }),
    });
    rows.push({
      step: "Content.ofStrings + newRespByMessage (the answer)",
      us: perItem(found, (f, i) => newRespByMessage(msgs[i], Content.ofStrings(f), systemIdentity)),
    });
    store.db.commit();
    store.close();
    return rows;
  }
  let msgs = fresh();
  rows.push({
    step: "content decode (Content.exactValue)",
    us: perItem(msgs, (m) => {
      m.content.exactValue();
    }, false),
  });
  msgs = fresh();
  const objs = msgs.map((m) => m.content.exactValue() as KubeObject);
  // The websocket transport marshalled the content once at parse (timed there): the row
  // takes that text (Content.goJsonOf), as inject does.
  const marshalled = msgs.map((m, i) => m.content.goJsonOf(objs[i]));
  rows.push({
    step: "meta_v2 row (rowForObject)",
    us: perItem(objs, (o, i) => rowForObject(o, marshalled[i])),
  });
  if (marshalled.every((m) => m === undefined)) {
    rows.push({ step: "  of which goMarshal", us: perItem(objs, (o) => goMarshal(o)) });
  }
  const v2 = objs.map((o, i) => rowForObject(o, marshalled[i]));
  const keys = msgs.map((m) => parseResource(m.route.resource));
  rows.push({ step: "parseResource", us: perItem(msgs, (m) => parseResource(m.route.resource)) });
  const store = Store.open(db, { release: v.release });
  const sqlStep = (step: string, fn: (i: number) => void) => {
    store.db.begin();
    const us = perItem(msgs, (_m, i) => fn(i), false);
    store.db.commit();
    rows.push({ step, us });
  };
  sqlStep("SQL meta_v2 INSERT OR REPLACE", (i) => store.metaV2.insertOrReplace(v2[i]));
  sqlStep(
    "SQL meta INSERT OR REPLACE",
    (i) =>
      store.meta.insertOrUpdate({
        key: keys[i].key,
        type: keys[i].type,
        value: msgs[i].content.json,
      }),
  );
  sqlStep(
    `savepoint, one per run of the loop's batch (SAVEPOINT + RELEASE per ${BATCH} messages)`,
    (i) => {
      if (i % BATCH === 0) store.transaction(() => {});
    },
  );
  rows.push({
    step: "OK reply (newRespByMessage + Content.of)",
    us: perItem(msgs, (m) => newRespByMessage(m, Content.of("OK"), systemIdentity)),
  });
  store.close();
  return rows;
}

interface Journal {
  name: string;
  lines: string[];
  /** Lines loaded first, untimed (updates and queries need the inserted pods). */
  before?: string[];
}

interface VariantResult {
  variant: string;
  journal: string;
  steps: Row[];
  handle_parts: Row[];
  sum_us: number;
  loop_us: number;
  sum_vs_loop: number;
  /** Whether the steps' sum is within 10% of the loop's measured CPU per message. */
  within_10pct: boolean;
  /** The loop with serve's frame decoder worker: all threads, and the main thread alone. */
  worker: { msgs_per_s: number; cpu_us_per_msg: number; main_thread_cpu_us_per_msg: number };
}

/** How far the steps' sum may be from the loop's measured CPU per message. */
const SUM_TOLERANCE = 0.1;

async function measure(dir: string, v: Variant, j: Journal, n: number): Promise<VariantResult> {
  const path = `${dir}/${j.name}.ndjson`;
  await writeJournal(path, j.lines);
  const prefill = async (db: string) => {
    removeDb(db);
    if (!j.before) return;
    const s = openAsServe(db, v.release);
    const mm = new MetaManager({ store: s, bus: new SerializingBus(), mode: v.mode });
    s.db.begin();
    for (const l of j.before) mm.handle(parseAs(v, l));
    s.db.commit();
    await s.db.durable();
    s.db.checkpoint();
    s.close();
  };
  // A warm-up of both, then ROUNDS of each, alternating (the machine's speed drifts): the
  // mean of each step and of the loop over the rounds.
  const db = `${dir}/b.db`;
  const steps = new Map<string, number>();
  let messages: Message[] = [];
  let loopUs = 0, loopSeconds = 0;
  /** The batch loop on a freshly prefilled database, lines decoded as `decoder` says. */
  const loopRun = async (decoder: "inline" | "worker") => {
    await prefill(db);
    return await runLoopPhase(
      { name: j.name, journal: path, db },
      BATCH,
      v.mode,
      v.transport,
      v.release,
      decoder,
    );
  };
  const runLoop = async () => {
    const r = await loopRun("inline"); // the steps below are timed on one thread
    loopSeconds += r.seconds;
    return r.cpu_us_per_msg;
  };
  await prefill(db);
  await instrumented(v, path, n, db);
  await runLoop();
  loopSeconds = 0;
  for (let r = 0; r < ROUNDS; r++) {
    await prefill(db);
    const one = await instrumented(v, path, n, db);
    messages = one.messages;
    for (const [k, us] of one.steps) steps.set(k, (steps.get(k) ?? 0) + us / ROUNDS);
    loopUs += (await runLoop()) / ROUNDS;
  }
  for (const [k, us] of steps) steps.set(k, round(us, 2));
  const loop = { cpu_us_per_msg: round(loopUs, 1) };
  // The same loop as serve with decodeOnWorker: frames decoded (and their meta_v2 rows
  // prepared) by the frame decoder's worker; what stays on the main thread is the writer's.
  const withWorker = await loopRun("worker");
  const mach = await machinery(messages);
  const harness = harnessCost(messages, loopSeconds / ROUNDS);
  await prefill(db);
  const parts = handleParts(v, j.lines, db);
  const label: Record<string, string> = {
    feed: "feed: journal read and split into lines (stand-in for frames from the socket)",
    parse: `parseMessage (${v.transport} transport)`,
    handle: "MetaManager.handleRun (process(): decode, meta_v2 row, SQL, savepoint, replies)",
    commit: `COMMIT at NORMAL, batches of ${BATCH}`,
    fsync: "fdatasync of the -wal on another thread (durable())",
    deliver: "deliver: acks and peer sends serialized (toWire)",
    checkpoint: "WAL checkpoint (PASSIVE here; a worker thread in serve)",
  };
  const rows: Row[] = [...steps].map(([k, us]) => ({ step: label[k] ?? k, us }));
  rows.push({ step: "loop machinery (receive, batching, promises, setImmediate)", us: mach });
  rows.push({
    step: "bench bookkeeping of the loop run (latency per message, RSS samples)",
    us: harness,
  });
  const handleUs = steps.get("handle") ?? 0;
  const partsSum = parts.filter((p) => !p.step.startsWith("  ")).reduce((a, p) => a + p.us, 0);
  parts.push({
    step: "rest of handle (dispatch, outbox, inject's checks, GC of the above)",
    us: round(handleUs - partsSum, 2),
  });
  const sum = round(rows.reduce((a, r) => a + r.us, 0), 1);
  return {
    variant: v.name,
    journal: j.name,
    steps: rows,
    handle_parts: parts,
    sum_us: sum,
    loop_us: loop.cpu_us_per_msg,
    sum_vs_loop: round(sum / loop.cpu_us_per_msg, 3),
    within_10pct: Math.abs(sum / loop.cpu_us_per_msg - 1) <= SUM_TOLERANCE,
    worker: {
      msgs_per_s: withWorker.msgs_per_s,
      cpu_us_per_msg: withWorker.cpu_us_per_msg,
      main_thread_cpu_us_per_msg: withWorker.main_thread_cpu_us_per_msg ?? NaN,
    },
  };
}

if (import.meta.main) {
  const args = Deno.args;
  const nArg = args.indexOf("--n");
  const n = nArg >= 0 ? Number(args[nArg + 1]) : 5000;
  const onlyArg = args.indexOf("--only");
  const only = onlyArg >= 0 ? args[onlyArg + 1].split(",") : undefined;
  const json = args.includes("--json");
  const dir = await Deno.makeTempDir({ prefix: "edgecore-breakdown-" });
  try {
    const inserts = Array.from({ length: n }, (_, i) => insertLine(i, RV_BASE + i));
    const updates = Array.from({ length: n }, (_, i) => updateLine(i, RV_BASE + n + i));
    const queries = Array.from({ length: n }, (_, i) => queryLine((i * 7919) % n));
    const journals: Journal[] = [
      { name: "insert", lines: inserts },
      { name: "update", lines: updates, before: inserts },
      { name: "query", lines: queries, before: inserts },
    ];
    const results: VariantResult[] = [];
    for (const v of VARIANTS) {
      if (only && !only.some((o) => v.name.startsWith(o))) continue;
      for (const j of journals) {
        // a query takes the same path in every mode and transport of a release
        if (j.name === "query" && v.name.includes("strict/")) continue;
        const r = await measure(dir, v, j, n);
        results.push(r);
        if (!json) {
          console.log(`\n${r.variant}, ${r.journal} (CPU µs per message, ${n} messages)`);
          for (const s of r.steps) console.log(`${String(s.us).padStart(9)}  ${s.step}`);
          console.log(
            `${String(r.sum_us).padStart(9)}  = sum of the steps; the batch loop measured ` +
              `${r.loop_us} µs/msg: sum/loop ${r.sum_vs_loop}` +
              (r.within_10pct ? "" : "  (MORE THAN 10% APART)"),
          );
          const w = r.worker;
          console.log(
            `  with the frame decoder's worker (serve with decodeOnWorker): ${w.msgs_per_s} msg/s, ` +
              `${w.cpu_us_per_msg} µs/msg on all threads, ${w.main_thread_cpu_us_per_msg} on ` +
              `the main thread (the writer), ` +
              `${round(w.cpu_us_per_msg - w.main_thread_cpu_us_per_msg, 1)} on the others ` +
              "(decoder worker, fsync, checkpoint, V8's helpers)",
          );
          console.log("  handle, of which (each timed alone):");
          for (const s of r.handle_parts) {
            console.log(`${String(s.us).padStart(11)}  ${s.step}${s.note ? `  [${s.note}]` : ""}`);
          }
        }
      }
    }
    if (results.length === 0) {
      throw new Error(
        `--only ${only?.join(",")} matches no variant (${VARIANTS.map((v) => v.name).join("; ")})`,
      );
    }
    const apart = results.filter((r) => !r.within_10pct);
    const pass = apart.length === 0;
    if (json) console.log(JSON.stringify({ messages: n, batch: BATCH, results, pass }));
    // The verdict of item 3 of issue #21, on stderr so that --json stays one object.
    console.error(
      `\nbreakdown: ${results.length - apart.length} of ${results.length} sums within 10% ` +
        `of the batch loop's CPU per message: ${pass ? "PASS" : "FAIL"}` +
        (pass
          ? ""
          : ` (${apart.map((r) => `${r.variant} ${r.journal} ${r.sum_vs_loop}`).join(", ")})`),
    );
    if (!pass) Deno.exitCode = 1;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
