/**
 * Where the time of one message goes: each step of the insert, update and query paths
 * timed in isolation over a generated journal (µs of on-CPU time of the thread per
 * message, so other load on the machine does not count; warm JIT; best of 3), against a
 * database file with the Store defaults (WAL, synchronous=FULL), in transactions of 512.
 * Also times a few alternatives (prototypes that live here, not in src/) to size the
 * suggested changes.
 *
 * Usage: deno run -A bench/breakdown.ts [--n N] [--json]
 *
 * @module
 */

import { Content, newRespByMessage, systemIdentity, toWire } from "../src/beehive/message.ts";
import type { Message } from "../src/beehive/message.ts";
import { goMarshal, RawNumber } from "../src/beehive/go_json.ts";
import { parseMessage } from "../src/beehive/wire.ts";
import { parseResource } from "../src/metamanager/resource.ts";
import { MetaManager } from "../src/metamanager/process.ts";
import type { Bus } from "../src/metamanager/outbox.ts";
import { decodeObject, type KubeObject, rowForObject } from "../src/store/meta_v2.ts";
import { Store } from "../src/store/store.ts";
import { insertLine, queryLine, RV_BASE, updateLine } from "./gen.ts";
import { round, threadCpuNs } from "./stats.ts";

const BATCH = 512;

/** On-CPU time of this thread per item in µs (time spent waiting for a CPU excluded). */
function time(n: number, fn: (i: number) => void): number {
  const t = threadCpuNs();
  for (let i = 0; i < n; i++) fn(i);
  return (threadCpuNs() - t) / 1000 / n;
}

/** Best of `reps` runs (µs per item), after one warm-up run. */
function best(n: number, fn: (i: number) => void, reps = 3): number {
  time(n, fn);
  let b = Infinity;
  for (let r = 0; r < reps; r++) b = Math.min(b, time(n, fn));
  return round(b, 2);
}

// ---- prototypes of suggested changes ------------------------------------------------

const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;
class NeedsSlowPath extends Error {}

/**
 * Candidate goMarshal: native JSON.stringify with a replacer that rebuilds each object
 * with its keys in Go order. Objects with integer-like keys (which JS always enumerates
 * first, in numeric order) and RawNumbers fall back to the current encoder.
 */
function goMarshalNative(value: unknown): string {
  try {
    const json = JSON.stringify(value, function (_k, v) {
      if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
      if (v instanceof RawNumber) throw new NeedsSlowPath();
      const keys = Object.keys(v);
      let sorted = true;
      for (let i = 0; i < keys.length; i++) {
        if (ARRAY_INDEX.test(keys[i])) throw new NeedsSlowPath();
        if (i > 0 && !(keys[i - 1] < keys[i])) sorted = false;
      }
      if (sorted) return v;
      keys.sort(); // UTF-16 order equals UTF-8 order outside surrogates; see note below
      const out: Record<string, unknown> = {};
      for (const k of keys) out[k] = (v as Record<string, unknown>)[k];
      return out;
    });
    if (/[<>&\u2028\u2029]|\\[bf]|[\ud800-\udfff]/.test(json)) return goMarshal(value);
    return json;
  } catch (e) {
    if (e instanceof NeedsSlowPath) return goMarshal(value);
    throw e;
  }
}

class NullBus implements Bus {
  send(): void {}
  sendToGroup(): void {}
  sendResp(): void {}
  sendSync(): Promise<Message> {
    return Promise.reject(new Error("timeout to get response"));
  }
}

interface Row {
  step: string;
  us: number;
  note?: string;
}

function writePath(
  store: Store,
  lines: string[],
): { rows: Row[]; check: { native_equal: number; total: number } } {
  const n = lines.length;
  const rows: Row[] = [];
  let msgs: Message[] = [];
  rows.push({
    step: "parseMessage (JSON.parse of the whole line + header/route)",
    us: best(n, (i) => {
      msgs[i] = parseMessage(lines[i]);
    }),
  });
  msgs = lines.map(parseMessage);
  rows.push({ step: "parseResource", us: best(n, (i) => parseResource(msgs[i].route.resource)) });
  const objs: KubeObject[] = [];
  rows.push({
    step: "decodeObject (2nd JSON.parse of content)",
    us: best(n, (i) => {
      objs[i] = decodeObject(msgs[i].content.data()) as KubeObject;
    }),
  });
  rows.push({
    step: "rowForObject (meta_v2 row incl. goMarshal)",
    us: best(n, (i) => rowForObject(objs[i])),
  });
  rows.push({ step: "  of which goMarshal", us: best(n, (i) => goMarshal(objs[i])) });
  let equal = 0;
  for (let i = 0; i < n; i++) if (goMarshalNative(objs[i]) === goMarshal(objs[i])) equal++;
  rows.push({
    step: "  candidate: goMarshal via JSON.stringify + sorting replacer",
    us: best(n, (i) => goMarshalNative(objs[i])),
    note: `same bytes for ${equal}/${n}`,
  });
  const v2 = objs.map(rowForObject);
  const keys = msgs.map((m) => parseResource(m.route.resource));
  const data = msgs.map((m) => m.content.data());

  // SQL: statements and commits, batches of BATCH.
  const db = store.db;
  let tV2 = 0, tMeta = 0, tCommit = 0, cCommit = 0, commits = 0;
  for (let rep = 0; rep < 2; rep++) {
    tV2 =
      tMeta =
      tCommit =
      cCommit =
        0;
    commits = 0;
    for (let i = 0; i < n; i += BATCH) {
      db.begin();
      const end = Math.min(n, i + BATCH);
      let t = threadCpuNs();
      for (let k = i; k < end; k++) store.metaV2.insertOrReplace(v2[k]);
      tV2 += threadCpuNs() - t;
      t = threadCpuNs();
      for (let k = i; k < end; k++) {
        store.meta.insertOrUpdate({ key: keys[k].key, type: keys[k].type, value: data[k] });
      }
      tMeta += threadCpuNs() - t;
      t = threadCpuNs();
      const w = performance.now();
      db.commit();
      tCommit += performance.now() - w;
      cCommit += threadCpuNs() - t;
      commits++;
    }
  }
  rows.push({ step: "SQL meta_v2 INSERT OR REPLACE", us: round(tV2 / 1000 / n, 2) });
  rows.push({ step: "SQL meta INSERT OR REPLACE", us: round(tMeta / 1000 / n, 2) });
  rows.push({
    step: `COMMIT (fsync + WAL checkpoints), amortized over ${BATCH}, on-CPU`,
    us: round(cCommit / 1000 / n, 2),
    note: `wall ${round((tCommit * 1000) / n, 1)} µs/msg, ${
      round(tCommit / commits, 1)
    } ms per commit`,
  });

  // Savepoint per message (Database.transaction inside the batch transaction).
  db.begin();
  rows.push({
    step: "savepoint per message (exec SAVEPOINT spN + RELEASE spN)",
    us: best(n, () => store.transaction(() => {})),
  });
  const spBegin = db.sqlite.prepare("SAVEPOINT m");
  const spRelease = db.sqlite.prepare("RELEASE m");
  rows.push({
    step: "  candidate: prepared SAVEPOINT m / RELEASE m",
    us: best(n, () => {
      spBegin.run();
      spRelease.run();
    }),
  });
  db.commit();

  // Outbound: the OK to the cloud (fresh UUID) and the wire text of both messages.
  const oks: Message[] = [];
  rows.push({
    step: "newRespByMessage OK (crypto.randomUUID, Content.of)",
    us: best(n, (i) => {
      oks[i] = newRespByMessage(msgs[i], Content.of("OK"), systemIdentity);
    }),
  });
  rows.push({
    step: "toWire (message to edged + OK to cloud)",
    us: best(n, (i) => {
      toWire(msgs[i]);
      toWire(oks[i]);
    }),
  });
  return { rows, check: { native_equal: equal, total: n } };
}

function fullHandle(store: Store, lines: string[]): number {
  const mm = new MetaManager({ store, bus: new NullBus(), mode: "fixed" });
  const t = threadCpuNs();
  for (let i = 0; i < lines.length; i += BATCH) {
    store.db.begin();
    const end = Math.min(lines.length, i + BATCH);
    for (let k = i; k < end; k++) mm.handle(parseMessage(lines[k]));
    store.db.commit();
    mm.outbox.flush();
  }
  return round((threadCpuNs() - t) / 1000 / lines.length, 2);
}

function queryPath(store: Store, lines: string[]): Row[] {
  const n = lines.length;
  const rows: Row[] = [];
  rows.push({ step: "parseMessage", us: best(n, (i) => parseMessage(lines[i])) });
  const msgs = lines.map(parseMessage);
  const found: string[][] = [];
  store.db.begin();
  rows.push({
    step: "SQL SELECT by key (queryMeta)",
    us: best(n, (i) => {
      found[i] = store.meta.queryMeta("key", msgs[i].route.resource);
    }),
  });
  rows.push({
    step: "savepoint per message (exec SAVEPOINT spN + RELEASE spN)",
    us: best(n, () => store.transaction(() => {})),
  });
  store.db.commit();
  const contents: Content[] = [];
  rows.push({
    step: "Content.of(rows) (goMarshal of a []string)",
    us: best(n, (i) => {
      contents[i] = Content.of(found[i]);
    }),
  });
  rows.push({
    step: "  candidate: JSON.stringify(rows) + HTML-escape check",
    us: best(n, (i) => {
      const s = JSON.stringify(found[i]);
      /[<>&\u2028\u2029]|\\[bf]/.test(s);
    }),
  });
  const replies: Message[] = [];
  rows.push({
    step: "newRespByMessage (crypto.randomUUID)",
    us: best(n, (i) => {
      replies[i] = newRespByMessage(msgs[i], contents[i], systemIdentity);
    }),
  });
  rows.push({ step: "toWire (answer to edged)", us: best(n, (i) => toWire(replies[i])) });
  return rows;
}

if (import.meta.main) {
  const args = Deno.args;
  const nArg = args.indexOf("--n");
  const n = nArg >= 0 ? Number(args[nArg + 1]) : 5000;
  const json = args.includes("--json");
  const dir = await Deno.makeTempDir({ prefix: "edgecore-breakdown-" });
  try {
    const inserts = Array.from({ length: n }, (_, i) => insertLine(i, RV_BASE + i));
    const updates = Array.from({ length: n }, (_, i) => updateLine(i, RV_BASE + n + i));
    const queries = Array.from({ length: n }, (_, i) => queryLine((i * 7919) % n));

    const store = Store.open(`${dir}/steps.db`);
    const ins = writePath(store, inserts);
    const upd = writePath(store, updates);
    const qry = queryPath(store, queries);
    store.close();

    const full = Store.open(`${dir}/full.db`);
    const fullIns = fullHandle(full, inserts);
    const fullUpd = fullHandle(full, updates);
    const fullQry = fullHandle(full, queries);
    full.close();

    const result = {
      messages: n,
      insert: { steps: ins.rows, full_handle_us: fullIns, goMarshal_check: ins.check },
      update: { steps: upd.rows, full_handle_us: fullUpd, goMarshal_check: upd.check },
      query: { steps: qry, full_handle_us: fullQry },
    };
    if (json) {
      console.log(JSON.stringify(result));
    } else {
      for (const [name, r] of Object.entries(result)) {
        if (name === "messages") continue;
        const x = r as { steps: Row[]; full_handle_us: number };
        console.log(`\n${name} (µs per message, ${n} messages)`);
        for (const s of x.steps) {
          console.log(`${String(s.us).padStart(9)}  ${s.step}${s.note ? `  [${s.note}]` : ""}`);
        }
        console.log(
          `${String(x.full_handle_us).padStart(9)}  = parse + MetaManager.handle + commit, ` +
            `batches of ${BATCH} (whole path, on-CPU)`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
