/**
 * Crash safety (issue "Reliability: crash safety"): `serve` and `replay` killed with
 * SIGKILL at random moments, as real child processes on real SQLite files.
 *
 * 1. serve: a cloud client streams inserts and updates (pods and configmaps whose value
 *    encodes a sequence number) with a bounded window of unacknowledged messages; serve is
 *    killed 50–400 ms after streaming starts, restarted on the same file, and so on
 *    `CRASH_KILLS` times (default 20). After every kill (serve stopped, the `-wal` it left
 *    untouched), after every restart (serve running) and at the end, the file must hold
 *    every acknowledged message (its value, or that of a later message for the same key),
 *    pass `PRAGMA integrity_check`, have no partial message (`meta` and `meta_v2` agree),
 *    hold only values that were sent, and hold exactly a prefix of each run's stream (serve
 *    processes one connection's messages in order and commits whole batches).
 * 2. replay: a 30,000-line journal replayed by the CLI and killed at a random moment after
 *    it started writing (`CRASH_REPLAY_KILLS` times, default 5, each on a fresh file); the
 *    file must equal, row for row, a replay of the first k lines, k being the highest
 *    sequence number in it, and k must be a commit boundary (replay commits every 1000
 *    lines) no lower than what a reader saw committed before the kill.
 *
 * Environment: `CRASH_KILLS`, `CRASH_WINDOW` (unacknowledged messages, default 64),
 * `CRASH_REPLAY_LINES`, `CRASH_REPLAY_KILLS`, `CRASH_SEED` (repeat a run: the seed is in
 * the summary lines), `CRASH_VERBOSE=1` (one line per kill).
 *
 * @module
 */

import assert from "node:assert/strict";
import { replay } from "../src/replay/replay.ts";
import { Store } from "../src/store/store.ts";
import {
  cloudWrite,
  crashSeed,
  type CrashType,
  type DbSnapshot,
  delay,
  envInt,
  maxSeqInDb,
  metaKey,
  type ObjectRef,
  partialProblems,
  Random,
  readSnapshot,
  seqsByKey,
  snapshotOf,
} from "./support/crash.ts";
import { PROJECT_DIR, ServeProcess, withTimeout } from "./support/serve_process.ts";
import { WsModule } from "./support/ws_module.ts";
import { scaled } from "./support/time_scale.ts";

const KILLS = envInt("CRASH_KILLS", 20);
const WINDOW = Math.max(1, envInt("CRASH_WINDOW", 64));
const REPLAY_LINES = envInt("CRASH_REPLAY_LINES", 30_000);
const REPLAY_KILLS = envInt("CRASH_REPLAY_KILLS", 5);
const VERBOSE = Deno.env.get("CRASH_VERBOSE") === "1";
const SEED = crashSeed();
/** Lines per replay transaction (src/replay/replay.ts, `batchSize` default). */
const REPLAY_BATCH = 1000;
const WAIT_MS = 10_000;

const NAMESPACES = ["default", "kube-system", "edge-apps"] as const;
const TYPES: readonly CrashType[] = ["pod", "configmap"];

function log(line: string): void {
  if (VERBOSE) console.log(line);
}

// ---- what the cloud sent -------------------------------------------------------------------

/** One message the cloud sent. */
interface Sent {
  seq: number;
  msgId: string;
  key: string;
  operation: "insert" | "update";
  /** The content's JSON text, exactly as sent (what `meta.value` must hold). */
  value: string;
  /** Kill cycle (1-based; KILLS + 1 for the final, graceful one). */
  cycle: number;
}

/** Every message sent, key created and acknowledgement received, across all restarts. */
class CloudModel {
  /** Index seq - 1. */
  readonly sent: Sent[] = [];
  readonly refs: ObjectRef[] = [];
  readonly acked: Sent[] = [];
  /** Error replies, bad frames, unexpected responses: none expected. */
  readonly errors: string[] = [];
  #names = 0;

  constructor(readonly rng: Random) {}

  /** The next message: a new key (insert) or an update of a key sent before. */
  next(cycle: number): { sent: Sent; frame: string } {
    const seq = this.sent.length + 1;
    let ref: ObjectRef;
    let operation: "insert" | "update";
    if (this.refs.length === 0 || this.rng.next() < 0.5) {
      ref = {
        type: this.rng.pick(TYPES),
        namespace: this.rng.pick(NAMESPACES),
        name: `obj-${++this.#names}`,
      };
      this.refs.push(ref);
      operation = "insert";
    } else {
      ref = this.rng.pick(this.refs);
      operation = "update";
    }
    const msg = cloudWrite(`m-${seq}`, operation, ref, seq);
    const sent: Sent = {
      seq,
      msgId: msg.header.msg_id,
      key: metaKey(ref),
      operation,
      value: JSON.stringify(msg.content),
      cycle,
    };
    this.sent.push(sent);
    return { sent, frame: JSON.stringify(msg) };
  }

  bySeq(seq: number): Sent | undefined {
    return Number.isInteger(seq) && seq >= 1 ? this.sent[seq - 1] : undefined;
  }
}

/** What one connection's stream did. */
interface StreamResult {
  /** Messages sent on this connection, in order. */
  messages: Sent[];
  /** Acknowledged on this connection. */
  acked: Sent[];
  /** Sent but neither acknowledged nor refused when the connection ended. */
  unanswered: number;
}

/**
 * Streams messages on `cloud`, keeping at most WINDOW unanswered, until the connection
 * closes (serve killed) or `stop` is called; every OK acknowledgement is recorded (by
 * parent_msg_id) with the message it answers. Resolves when the connection has closed, or
 * after `stop` once every sent message is answered (or `drainMs` passed).
 */
function stream(
  cloud: WsModule,
  model: CloudModel,
  cycle: number,
): { done: Promise<StreamResult>; stop: (drainMs: number) => void } {
  const outstanding = new Map<string, Sent>();
  const result: StreamResult = { messages: [], acked: [], unanswered: 0 };
  let stopped = false;
  let drainDeadline = 0;
  let wake = () => {};
  const remove = cloud.onFrame((f) => {
    if (f.error !== undefined) {
      model.errors.push(`cycle ${cycle}: error frame ${f.error}`);
    } else if (f.route?.operation === "response") {
      const parent = f.header?.parent_msg_id ?? "";
      const sent = outstanding.get(parent);
      if (sent === undefined) {
        model.errors.push(`cycle ${cycle}: response to an unknown message ${JSON.stringify(f)}`);
      } else {
        outstanding.delete(parent);
        if (f.content === "OK") {
          model.acked.push(sent);
          result.acked.push(sent);
        } else {
          model.errors.push(`cycle ${cycle}: ${parent} answered ${JSON.stringify(f.content)}`);
        }
      }
    }
    wake();
  });
  cloud.closed.then(() => wake());
  const done = (async () => {
    try {
      for (;;) {
        while (!stopped && cloud.open && outstanding.size < WINDOW) {
          const { sent, frame } = model.next(cycle);
          outstanding.set(sent.msgId, sent);
          result.messages.push(sent);
          cloud.send(frame);
        }
        if (!cloud.open) break;
        if (stopped && (outstanding.size === 0 || Date.now() > drainDeadline)) break;
        const woken = new Promise<void>((resolve) => (wake = resolve));
        const timer = setTimeout(() => wake(), 50); // stop()'s deadline, closes seen late
        await woken;
        clearTimeout(timer);
      }
    } finally {
      remove();
    }
    result.unanswered = outstanding.size;
    return result;
  })();
  return {
    done,
    stop: (drainMs) => {
      stopped = true;
      drainDeadline = Date.now() + drainMs;
      wake();
    },
  };
}

// ---- checks of the serve database ----------------------------------------------------------

/** Figures and problems gathered over the whole serve run. */
class ServeReport {
  kills = 0;
  survived = 0;
  /** msg_ids of acknowledged messages found missing (or older) in some check. */
  readonly lost = new Set<string>();
  integrityFailures = 0;
  partial = 0;
  /** Values in `meta` that no message carried for that key. */
  foreign = 0;
  /** Connections whose committed messages were not a prefix of what they sent. */
  notPrefix = 0;
  /** Restarts after which the file differed from what the killed process left. */
  restartChanges = 0;
  /** Messages committed although their acknowledgement never arrived (allowed). */
  committedUnacked = 0;
  readonly problems: string[] = [];

  problem(line: string): void {
    this.problems.push(line);
    log(`  PROBLEM ${line}`);
  }
}

/**
 * Checks a snapshot: integrity, no partial message, only values that were sent, and
 * every acknowledged message present with its value or a later one of the same key.
 * Returns the key → sequence-number map of `meta`.
 */
function checkServeSnapshot(
  snap: DbSnapshot,
  model: CloudModel,
  report: ServeReport,
  label: string,
): Map<string, number> {
  if (snap.integrity !== "ok") {
    report.integrityFailures++;
    report.problem(`${label}: integrity_check: ${snap.integrity}`);
  }
  const partial = partialProblems(snap);
  report.partial += partial.length;
  for (const p of partial.slice(0, 5)) report.problem(`${label}: partial: ${p}`);
  const seqs = seqsByKey(snap);
  for (const row of snap.meta) {
    const sent = model.bySeq(seqs.get(row.key)!);
    if (sent === undefined || sent.key !== row.key || sent.value !== row.value) {
      report.foreign++;
      report.problem(`${label}: meta ${row.key} holds a value never sent for it: ${row.value}`);
    }
  }
  let lostHere = 0;
  for (const a of model.acked) {
    const stored = seqs.get(a.key);
    if (stored !== undefined && stored >= a.seq) continue;
    lostHere++;
    if (!report.lost.has(a.msgId) && report.lost.size < 5) {
      report.problem(
        `${label}: acknowledged ${a.msgId} (${a.operation} ${a.key}, seq ${a.seq}, cycle ${a.cycle}) ` +
          `lost: meta holds ${stored === undefined ? "no row" : `seq ${stored}`}`,
      );
    }
    report.lost.add(a.msgId);
  }
  if (lostHere > 0) log(`  ${label}: ${lostHere} acknowledged message(s) missing`);
  return seqs;
}

/**
 * The lengths p such that `baseline` plus the first p of `messages` is exactly `now`
 * (compared by key → sequence number).
 */
function matchingPrefixes(
  baseline: Map<string, number>,
  messages: Sent[],
  now: Map<string, number>,
): number[] {
  const state = new Map(baseline);
  const differs = (key: string) => state.get(key) !== now.get(key);
  let mismatches = 0;
  for (const key of new Set([...baseline.keys(), ...now.keys()])) if (differs(key)) mismatches++;
  const prefixes = mismatches === 0 ? [0] : [];
  messages.forEach((m, i) => {
    const before = differs(m.key);
    state.set(m.key, m.seq);
    mismatches += Number(differs(m.key)) - Number(before);
    if (mismatches === 0) prefixes.push(i + 1);
  });
  return prefixes;
}

/** Checks that a connection's committed messages are a prefix covering all its acks. */
function checkPrefix(
  baseline: Map<string, number>,
  result: StreamResult,
  now: Map<string, number>,
  report: ServeReport,
  label: string,
): number | undefined {
  const prefixes = matchingPrefixes(baseline, result.messages, now);
  const first = result.messages[0]?.seq ?? 0;
  const lastAcked = result.acked.reduce((m, a) => Math.max(m, a.seq - first + 1), 0);
  const p = prefixes.at(-1);
  if (p === undefined || p < lastAcked) {
    report.notPrefix++;
    report.problem(
      `${label}: the file is not the state before plus a prefix of the ${result.messages.length} ` +
        `message(s) sent (covering the ${lastAcked} acknowledged); prefixes that match: ` +
        `${JSON.stringify(prefixes)}`,
    );
    return undefined;
  }
  report.committedUnacked += p - result.acked.length;
  return p;
}

function sameRows(a: DbSnapshot, b: DbSnapshot): boolean {
  try {
    assert.deepEqual(a.meta, b.meta);
    assert.deepEqual(a.metaV2, b.metaV2);
    return true;
  } catch {
    return false;
  }
}

/** The live pieces of the serve run, all released by cleanup(). */
class Live {
  serve?: ServeProcess;
  modules: WsModule[] = [];

  async attach(name: string, group: string): Promise<WsModule> {
    const m = await WsModule.connect(this.serve!.address, name, group, WAIT_MS);
    this.modules.push(m);
    return m;
  }

  async closeModules(): Promise<void> {
    const modules = this.modules;
    this.modules = [];
    for (const m of modules) await m.close();
  }

  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    await this.serve?.kill().catch((e) => errors.push(e));
    await this.closeModules().catch((e) => errors.push(e));
    if (errors.length > 0) throw errors[0];
  }
}

Deno.test(`crash safety: serve killed ${KILLS} times keeps every acknowledged message`, async () => {
  const started = performance.now();
  const dir = await Deno.makeTempDir({ prefix: "crash-serve-" });
  const db = `${dir}/edgecore.db`;
  const rng = new Random(SEED);
  const model = new CloudModel(new Random(SEED ^ 0x5bd1e995));
  const report = new ServeReport();
  const live = new Live();
  let sentTotal = 0;
  try {
    // The state the next start must find: what the last check saw (nothing at first).
    let expected: DbSnapshot = { integrity: "ok", meta: [], metaV2: [] };
    // A kill is survived when the file passes the checks after it and after the restart.
    let killCheckPassed = false;
    for (let cycle = 1; cycle <= KILLS + 1; cycle++) {
      const final = cycle === KILLS + 1;
      live.serve = await ServeProcess.start({ db });

      // After the restart, before anything is sent: what the killed process left.
      const beforeRestart = report.problems.length;
      const restarted = readSnapshot(db);
      const baseline = checkServeSnapshot(restarted, model, report, `cycle ${cycle} restart`);
      if (!sameRows(restarted, expected)) {
        report.restartChanges++;
        report.problem(`cycle ${cycle}: the file changed across the restart`);
      }
      if (killCheckPassed && report.problems.length === beforeRestart) report.survived++;

      const cloud = await live.attach("websocket", "hub");
      await live.attach("edged", "edged"); // drains what serve sends to edged
      const run = stream(cloud, model, cycle);
      let killedAfter = 0;
      if (final) {
        await delay(300);
        run.stop(scaled(WAIT_MS));
        await withTimeout(run.done, WAIT_MS * 2, "final stream did not drain");
        const exit = await live.serve.stop("SIGTERM");
        assert.equal(exit.code, 0, exit.stderr);
      } else {
        killedAfter = rng.int(50, 400);
        await delay(killedAfter);
        await live.serve.kill();
        report.kills++;
      }
      await live.closeModules();
      const result = await withTimeout(run.done, WAIT_MS, "stream did not end");
      live.serve = undefined;
      sentTotal += result.messages.length;

      // serve is gone; its -wal (if any) is left for the next start to recover.
      const label = final ? "final (SIGTERM)" : `cycle ${cycle} after kill`;
      const before = report.problems.length;
      const snap = readSnapshot(db);
      const now = checkServeSnapshot(snap, model, report, label);
      const p = checkPrefix(baseline, result, now, report, label);
      if (final && p !== result.messages.length) {
        report.problem(`${label}: ${p} of ${result.messages.length} sent messages committed`);
      }
      killCheckPassed = !final && report.problems.length === before;
      log(
        `${label}: ${
          final ? "stopped" : `killed after ${killedAfter} ms`
        }, sent ${result.messages.length}, acked ` +
          `${result.acked.length}, unanswered ${result.unanswered}, committed ${p}, ` +
          `rows ${snap.meta.length}/${snap.metaV2.length}`,
      );
      expected = snap;
    }
  } finally {
    await live.cleanup();
    await Deno.remove(dir, { recursive: true });
    // Printed also when a step threw (e.g. serve would not start on the crashed file).
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `crash-safety serve: seed=${SEED} kills=${report.kills} survived=${report.survived} ` +
        `sent=${sentTotal} acked=${model.acked.length} lost=${report.lost.size} ` +
        `committed-unacked=${report.committedUnacked} ` +
        `integrity-failures=${report.integrityFailures} partial=${report.partial} ` +
        `foreign-values=${report.foreign} not-prefix=${report.notPrefix} ` +
        `restart-changes=${report.restartChanges} errors=${model.errors.length} ` +
        `window=${WINDOW} time=${seconds}s`,
    );
  }
  assert.deepEqual(model.errors.slice(0, 5), [], "no error replies or bad frames");
  assert.deepEqual(report.problems.slice(0, 10), [], `seed ${SEED}: crash-safety problems`);
  assert.equal(report.lost.size, 0, "acknowledged messages lost");
  assert.equal(report.survived, report.kills, "kills survived");
  assert.ok(model.acked.length >= KILLS, `messages were acknowledged (${model.acked.length})`);
});

// ---- replay --------------------------------------------------------------------------------

/** A journal of `n` cloud inserts and updates; line i carries sequence number i. */
function journalLines(n: number, rng: Random): string[] {
  const refs: ObjectRef[] = [];
  const lines: string[] = [];
  for (let seq = 1; seq <= n; seq++) {
    let ref: ObjectRef;
    let operation: "insert" | "update";
    if (refs.length === 0 || rng.next() < 0.5) {
      ref = { type: rng.pick(TYPES), namespace: rng.pick(NAMESPACES), name: `obj-${seq}` };
      refs.push(ref);
      operation = "insert";
    } else {
      ref = rng.pick(refs);
      operation = "update";
    }
    lines.push(JSON.stringify(cloudWrite(`j-${seq}`, operation, ref, seq)));
  }
  return lines;
}

/** Both tables after replaying the first `k` lines into a fresh (in-memory) database. */
async function replayPrefix(lines: string[], k: number): Promise<DbSnapshot> {
  const store = Store.open(":memory:");
  try {
    const text = lines.slice(0, k).map((l) => l + "\n").join("");
    const summary = await replay({
      journal: new Blob([text]).stream(),
      store,
      mode: "fixed",
      answers: { cloud: new Map(), edged: new Map() },
      write: () => {},
    });
    assert.equal(summary.messages, k);
    assert.equal(summary.errors + summary.panics, 0);
    return snapshotOf(store.db.sqlite);
  } finally {
    store.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

function childEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("EDGECORE_META_")),
  );
}

/** One replay run killed at a random moment. */
interface ReplayKill {
  /** Committed lines a reader saw just before the kill. */
  observed: number;
  /** Highest sequence number in the file afterwards: the prefix length. */
  k: number;
  /** False when the replay finished before the kill came. */
  killed: boolean;
  delayMs: number;
}

/**
 * Runs `replay JOURNAL --db DB` and SIGKILLs it once a reader sees `target` lines
 * committed, plus `extraMs` (so that most kills land inside a transaction).
 */
async function killReplay(
  journal: string,
  db: string,
  target: number,
  extraMs: number,
): Promise<ReplayKill> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "main.ts",
      "replay",
      journal,
      "--db",
      db,
      "--compat",
      "fixed",
      "--out",
      "/dev/null",
    ],
    cwd: PROJECT_DIR,
    env: childEnv(),
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  let exited = false;
  output.then(() => (exited = true), () => (exited = true));
  let observed = -1;
  try {
    const deadline = Date.now() + scaled(60_000);
    while (!exited && Date.now() < deadline) {
      // Read only once the -wal exists: replay has switched to WAL and started writing (a
      // reader earlier could hold the lock that switch needs).
      if (await exists(`${db}-wal`)) {
        try {
          observed = maxSeqInDb(db); // throws until the tables exist
        } catch { /* not started writing yet */ }
      }
      if (observed >= target) break;
      await delay(10);
    }
    assert.ok(observed >= 0 || exited, "replay created its tables within 60 s");
    if (!exited) await delay(extraMs);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
  }
  const out = await output;
  const killed = out.signal === "SIGKILL";
  if (!killed) {
    assert.equal(out.code, 0, `replay failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  const k = maxSeqInDb(db);
  return { observed, k, killed, delayMs: Math.round(performance.now() - started) };
}

Deno.test(`crash safety: replay killed ${REPLAY_KILLS} times leaves a committed prefix`, async () => {
  const started = performance.now();
  const dir = await Deno.makeTempDir({ prefix: "crash-replay-" });
  const rng = new Random(SEED ^ 0x27d4eb2f);
  const runs: ReplayKill[] = [];
  try {
    const lines = journalLines(REPLAY_LINES, rng);
    const journal = `${dir}/journal.ndjson`;
    await Deno.writeTextFile(journal, lines.map((l) => l + "\n").join(""));
    for (let i = 1; i <= REPLAY_KILLS; i++) {
      const db = `${dir}/replay-${i}.db`;
      const target = rng.int(0, Math.floor(REPLAY_LINES * 0.9));
      const run = await killReplay(journal, db, target, rng.int(0, 150));
      runs.push(run);
      log(`replay ${i}: target ${target}, ${JSON.stringify(run)}`);

      const snap = readSnapshot(db);
      assert.equal(snap.integrity, "ok", `run ${i}: integrity_check`);
      assert.deepEqual(partialProblems(snap), [], `run ${i}: no partial message`);
      assert.ok(
        run.k >= run.observed,
        `run ${i}: ${run.observed} lines were seen committed before the kill, ${run.k} after`,
      );
      assert.ok(
        run.k % REPLAY_BATCH === 0 || run.k === REPLAY_LINES,
        `run ${i}: prefix ${run.k} is not a commit boundary (every ${REPLAY_BATCH} lines)`,
      );
      const reference = await replayPrefix(lines, run.k);
      assert.equal(snap.meta.length, reference.meta.length, `run ${i}: meta rows`);
      assert.deepEqual(snap.meta, reference.meta, `run ${i}: meta equals a replay of ${run.k}`);
      assert.deepEqual(
        snap.metaV2,
        reference.metaV2,
        `run ${i}: meta_v2 equals a replay of ${run.k} lines`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `crash-safety replay: seed=${SEED} lines=${REPLAY_LINES} runs=${runs.length} ` +
        `killed=${runs.filter((r) => r.killed).length} prefixes=${
          runs.map((r) => r.k).join(",")
        } seen-before-kill=${runs.map((r) => r.observed).join(",")} time=${seconds}s`,
    );
  }
});
