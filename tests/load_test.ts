/**
 * Load test of `edgecore-meta serve` as a real process: 100 concurrent MetaServer watches
 * (all pods, per namespace, with label and field selectors) and an attached edged while a
 * cloud client (`websocket`/`hub`) streams 50,000 pod inserts and updates (about 1.2 KB
 * each, 8 namespaces) with at most 512 unacknowledged messages in flight. Meanwhile
 * `inspect` (summary, and `--type pod -o json`) runs against the database as a separate
 * process, and serve's RSS is sampled from /proc/PID/status every 250 ms.
 *
 * Checked: every message is acknowledged OK exactly once; edged gets every message; every
 * watcher gets exactly the ADDED/MODIFIED events of its selection, or — the documented
 * slow-watcher policy — is closed with one last ERROR event carrying a 410 Status, never
 * silence; inspect succeeds while serve writes; no "database is locked" anywhere; the RSS
 * peak stays under a bound and memory does not keep growing.
 *
 * `LOAD_MESSAGES=5000 deno test -A tests/load_test.ts` for a quick local run (the default,
 * and what CI runs, is 50,000). Prints one summary line.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { runCli, ServeProcess, withTimeout } from "./support/serve_process.ts";
import { CountingSocket, RssSampler, WatchStream } from "./support/load_clients.ts";

const MESSAGES = Number(Deno.env.get("LOAD_MESSAGES") ?? 50_000);
/** Unacknowledged messages allowed in flight. */
const WINDOW = 512;
const NAMESPACES = 8;
const MB = 1024 * 1024;
/**
 * Peak RSS allowed for serve. Measured at 50,000 messages on 2 cores: 235–285 MB, of which
 * the live JS heap after a major GC is only ~35 MB (V8 --trace-gc); the rest is heap V8
 * keeps committed at this allocation rate plus native buffers. 150,000 messages peaked at
 * ~320 MB, so the bound leaves room for noise but not for a leak of the stream.
 */
const RSS_LIMIT = 384 * MB;
/** RSS may rise at most this much from half-way through the stream to its end. */
const RSS_SECOND_HALF_GROWTH = 128 * MB;
/** Closing the watchers and clients must not raise RSS by more than this. */
const RSS_AFTER_GROWTH = 32 * MB;

// ------------------------------------------------------------------ the workload

interface PodKey {
  namespace: string;
  name: string;
  labels: Record<string, string>;
}

function podKey(k: number): PodKey {
  return {
    namespace: `load-${k % NAMESPACES}`,
    name: `pod-${k}`,
    labels: { app: `app-${k % 10}`, tier: k % 3 === 0 ? "frontend" : "backend" },
  };
}

/** Distinct pods of a workload of `messages`: inserted first, then updated round-robin. */
function podCount(messages: number): number {
  return Math.max(NAMESPACES, Math.min(5_000, Math.ceil(messages / 10)));
}

const PADDING = "x".repeat(420);

/** Message `i` in wire JSON: the insert of pod i for i < pods, then updates round-robin. */
function message(i: number, pods: number): string {
  const insert = i < pods;
  const k = insert ? i : (i - pods) % pods;
  const { namespace, name, labels } = podKey(k);
  const rv = String(i + 1);
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace,
      uid: `00000000-0000-4000-8000-${String(k).padStart(12, "0")}`,
      resourceVersion: rv,
      creationTimestamp: "2024-01-01T00:00:00Z",
      labels,
      annotations: { "load.test/generation": String(i), "load.test/padding": PADDING },
    },
    spec: {
      nodeName: "edge-load-1",
      containers: [{
        name: "main",
        image: "registry.example.com/edge/app:1.2.3",
        env: [{ name: "MODE", value: "load" }, { name: "INDEX", value: String(k) }],
        resources: { limits: { cpu: "100m", memory: "64Mi" } },
      }],
      restartPolicy: "Always",
    },
    status: { phase: "Running", podIP: `10.0.${k % 250}.${k % 200}` },
  };
  return JSON.stringify({
    header: { msg_id: `m-${i}`, timestamp: 1_700_000_000_000 + i, resourceversion: rv },
    route: {
      source: "edgecontroller",
      group: "resource",
      operation: insert ? "insert" : "update",
      resource: `${namespace}/pod/${name}`,
    },
    content: pod,
  });
}

/** The ADDED and MODIFIED events a selection sees for a workload of `messages`. */
function expectedEvents(
  selects: (p: PodKey) => boolean,
  messages: number,
): { added: number; modified: number } {
  const pods = podCount(messages);
  let added = 0, modified = 0;
  for (let k = 0; k < Math.min(pods, messages); k++) {
    if (!selects(podKey(k))) continue;
    added++;
    // the updates of pod k are messages pods + k + n * pods < messages
    if (messages > pods + k) modified += Math.floor((messages - pods - k - 1) / pods) + 1;
  }
  return { added, modified };
}

/** One watch of the load: its path and which pods it selects. */
interface WatchPlan {
  path: string;
  selects: (p: PodKey) => boolean;
}

/** 100 watches: all pods, per namespace, by label, namespace + label, label + field. */
function watchPlans(): WatchPlan[] {
  const plans: WatchPlan[] = [];
  for (let j = 0; j < 10; j++) plans.push({ path: "/api/v1/pods?watch=true", selects: () => true });
  for (let j = 0; j < 40; j++) {
    const ns = `load-${j % NAMESPACES}`;
    plans.push({
      path: `/api/v1/namespaces/${ns}/pods?watch=true`,
      selects: (p) => p.namespace === ns,
    });
  }
  for (let j = 0; j < 20; j++) {
    const app = `app-${j % 10}`;
    plans.push({
      path: `/api/v1/pods?watch=1&labelSelector=${encodeURIComponent(`app=${app}`)}`,
      selects: (p) => p.labels.app === app,
    });
  }
  for (let j = 0; j < 20; j++) {
    const ns = `load-${j % NAMESPACES}`;
    plans.push({
      path: `/api/v1/watch/namespaces/${ns}/pods?labelSelector=${
        encodeURIComponent("tier!=backend")
      }`,
      selects: (p) => p.namespace === ns && p.labels.tier !== "backend",
    });
  }
  for (let j = 0; j < 10; j++) {
    const ns = `load-${j % NAMESPACES}`;
    const q = new URLSearchParams({
      watch: "true",
      labelSelector: "app in (app-1,app-2),tier",
      fieldSelector: `metadata.namespace=${ns},spec.nodeName=edge-load-1`,
    });
    plans.push({
      path: `/api/v1/pods?${q}`,
      selects: (p) => p.namespace === ns && ["app-1", "app-2"].includes(p.labels.app),
    });
  }
  return plans;
}

// ------------------------------------------------------------------ the cloud client

/** Streams pod messages as the cloud with a bounded window and counts the OK acks. */
class CloudStream {
  acks = 0;
  inflight = 0;
  /** Frames that are neither our acks nor unrelated cloud traffic. */
  readonly anomalies: string[] = [];
  readonly #acked: Uint8Array;
  #wake?: () => void;
  /** Called after each new ack. */
  onAck: (acks: number) => void = () => {};

  constructor(readonly messages: number, readonly window: number) {
    this.#acked = new Uint8Array(messages);
  }

  /** Every message acked exactly once. */
  get complete(): boolean {
    return this.acks === this.messages && this.#acked.indexOf(0) === -1;
  }

  /** The frame handler for the cloud's {@link CountingSocket}. */
  readonly frame = (text: string): void => {
    let f: {
      header?: { parent_msg_id?: string };
      route?: { operation?: string };
      content?: unknown;
      error?: string;
    };
    try {
      f = JSON.parse(text);
    } catch {
      this.anomalies.push(`not JSON: ${text.slice(0, 200)}`);
      return;
    }
    const parent = f.header?.parent_msg_id ?? "";
    if (f.route?.operation === "response" && parent.startsWith("m-")) {
      const i = Number(parent.slice(2));
      if (f.content !== "OK") {
        this.anomalies.push(`ack of ${parent}: ${JSON.stringify(f.content)}`);
      } else if (this.#acked[i]) this.anomalies.push(`second ack of ${parent}`);
      else {
        this.#acked[i] = 1;
        this.acks++;
        this.inflight--;
        this.onAck(this.acks);
        this.#wake?.();
      }
    } else if (f.error !== undefined || f.route?.operation === "error") {
      this.anomalies.push(text.slice(0, 300));
    } // anything else (a periodic podstatus sync) is not ours to check
  };

  async #nextAck(): Promise<void> {
    await new Promise<void>((resolve) => this.#wake = resolve);
    this.#wake = undefined;
  }

  /** Sends every message, at most `window` unacknowledged, and waits for the last ack. */
  async run(socket: CountingSocket): Promise<void> {
    const pods = podCount(this.messages);
    let next = 0;
    while (next < this.messages) {
      while (this.inflight < this.window && next < this.messages) {
        socket.send(message(next++, pods));
        this.inflight++;
      }
      if (this.inflight >= this.window) await this.#nextAck();
    }
    while (this.acks < this.messages) await this.#nextAck();
  }
}

// ------------------------------------------------------------------ inspect alongside

interface InspectRun {
  args: string[];
  code: number;
  ms: number;
  /** Whether serve was still being fed when the run started and when it ended. */
  duringWrites: [boolean, boolean];
  problem?: string;
}

async function inspectOnce(db: string, json: boolean, writing: () => boolean): Promise<InspectRun> {
  const args = ["inspect", "--db", db, ...(json ? ["--type", "pod", "-o", "json"] : [])];
  const before = writing();
  const started = performance.now();
  const out = await runCli(args, 60_000);
  const run: InspectRun = {
    args,
    code: out.code,
    ms: Math.round(performance.now() - started),
    duringWrites: [before, writing()],
  };
  if (/database is locked|SQLITE_BUSY/i.test(out.stdout + out.stderr)) {
    run.problem = `locked: ${out.stderr}`;
  } else if (out.code !== 0) run.problem = `exit ${out.code}: ${out.stderr}`;
  else if (json) {
    try {
      const rows = JSON.parse(out.stdout);
      if (!Array.isArray(rows)) run.problem = "-o json did not print an array";
      else if (rows.some((r) => r.type !== "pod")) run.problem = "a row that is not a pod";
    } catch (e) {
      run.problem = `-o json output is not JSON: ${(e as Error).message}`;
    }
  } else if (!/meta_v2/.test(out.stdout)) run.problem = `summary without tables:\n${out.stdout}`;
  return run;
}

async function until(condition: () => boolean, timeoutMs: number, what: () => string) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what()} (after ${timeoutMs} ms)`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const mb = (bytes: number) => (bytes / MB).toFixed(1);

// ------------------------------------------------------------------ the tests

Deno.test({
  name: `load: ${MESSAGES} cloud messages, 100 watches, edged and inspect on one serve`,
  sanitizeResources: false, // child processes and streams are awaited explicitly
  sanitizeOps: false,
  async fn() {
    assert.ok(Number.isInteger(MESSAGES) && MESSAGES > 0, `LOAD_MESSAGES=${MESSAGES}`);
    const dir = await Deno.makeTempDir({ prefix: "load-" });
    const db = `${dir}/e.db`;
    // With the V8 flags serve ships with (a small young generation, 128 MB old space).
    const serve = await ServeProcess.start({ db, productFlags: true });
    const rss = new RssSampler(serve.pid, 250);
    const rssStart = rss.sample() ?? 0;
    const watches: WatchStream[] = [];
    let edged: CountingSocket | undefined;
    let cloudSocket: CountingSocket | undefined;
    const started = performance.now();
    try {
      // 1. 100 watches, then edged; the database is empty, so there are no initial events.
      const plans = watchPlans();
      assert.equal(plans.length, 100);
      watches.push(
        ...await Promise.all(plans.map((p) => WatchStream.open(`${serve.baseUrl}${p.path}`))),
      );
      for (const w of watches) assert.equal(w.status, 200, w.url);
      edged = await CountingSocket.connect(serve.address, "edged", "edged");

      // 2. The cloud streams MESSAGES messages, WINDOW unacknowledged at most; the RSS at
      //    each quarter of the acks is noted.
      const cloud = new CloudStream(MESSAGES, WINDOW);
      const quarters: number[] = [];
      const quarter = Math.max(1, Math.floor(MESSAGES / 4));
      cloud.onAck = (n) => {
        if (n % quarter === 0) quarters.push(rss.sample() ?? 0);
      };
      cloudSocket = await CountingSocket.connect(serve.address, "websocket", "hub", cloud.frame);
      const streamStart = performance.now();
      let writing = true;
      const pumped = withTimeout(cloud.run(cloudSocket), 180_000, "the cloud stream stalled")
        .catch((e: Error) => {
          throw new Error(`${e.message}: ${cloud.acks} of ${MESSAGES} acked`);
        })
        .finally(() => writing = false);

      // 3. Meanwhile inspect, summary and `--type pod -o json` alternately.
      const inspections: InspectRun[] = [];
      const inspecting = (async () => {
        while (writing && cloud.acks < Math.min(MESSAGES, 2 * WINDOW)) {
          await new Promise((r) => setTimeout(r, 20));
        }
        for (let n = 0; n < 6 && (writing || n < 2); n++) {
          inspections.push(await inspectOnce(db, n % 2 === 1, () => writing));
        }
      })();

      await pumped;
      const streamSeconds = (performance.now() - streamStart) / 1000;
      await inspecting;
      assert.deepEqual(cloud.anomalies.slice(0, 5), [], `${cloud.anomalies.length} odd frame(s)`);
      assert.equal(cloud.acks, MESSAGES, "every message acknowledged OK");
      assert.ok(cloud.complete, "each message acknowledged exactly once");

      // 4. Every watcher gets its selection's events, or is closed with an ERROR event.
      const expected = plans.map((p) => expectedEvents(p.selects, MESSAGES));
      await Promise.all(watches.map((w, j) =>
        w.until(
          (x) =>
            x.counts.ERROR > 0 ||
            x.counts.ADDED + x.counts.MODIFIED >= expected[j].added + expected[j].modified,
          60_000,
        )
      ));
      await new Promise((r) => setTimeout(r, 300)); // nothing more may follow
      const rssLoaded = rss.sample() ?? 0;
      let delivered = 0, closedSlow = 0;
      for (const [j, w] of watches.entries()) {
        assert.equal(w.failure, undefined, `${w.url}: ${w.failure}`);
        delivered += w.events;
        if (w.counts.ERROR > 0) {
          // closed for falling behind: exactly one ERROR event, the last, a 410 Status
          closedSlow++;
          assert.equal(w.counts.ERROR, 1, w.url);
          const last = JSON.parse(w.lastLines().at(-1) ?? "{}");
          assert.equal(last.type, "ERROR", `${w.url}: the ERROR event comes last`);
          assert.equal(last.object?.kind, "Status");
          assert.equal(last.object?.apiVersion, "v1");
          assert.equal(last.object?.code, 410);
          assert.equal(last.object?.reason, "Expired");
          await withTimeout(w.done, 10_000, `${w.url}: stream not closed after its ERROR`);
          assert.ok(w.endedByServer, `${w.url}: ended by serve`);
          assert.ok(w.counts.ADDED <= expected[j].added, w.url);
          assert.ok(w.counts.MODIFIED <= expected[j].modified, w.url);
        } else {
          assert.deepEqual({ ...w.counts }, {
            ADDED: expected[j].added,
            MODIFIED: expected[j].modified,
            DELETED: 0,
            ERROR: 0,
            BOOKMARK: 0,
            other: 0,
          }, w.url);
          assert.ok(!w.endedByServer, `${w.url}: still open`);
        }
      }
      const expectedTotal = expected.reduce((s, e) => s + e.added + e.modified, 0);

      // 5. edged got every message of the cloud (forwarded after commit).
      await until(() => edged!.frames >= MESSAGES, 30_000, () => `edged got ${edged!.frames}`);
      assert.equal(edged.frames, MESSAGES);
      const edgedFrames = edged.frames;

      // 6. inspect: every run succeeded, and they ran while serve was being written.
      for (const r of inspections) {
        assert.equal(r.problem, undefined, `inspect ${r.args.join(" ")}: ${r.problem}`);
      }
      assert.ok(inspections.length >= 2, "inspect ran");
      if (MESSAGES >= 50_000) {
        assert.ok(
          inspections.filter((r) => r.duringWrites[0] && r.args.includes("json")).length >= 1 &&
            inspections.filter((r) => r.duringWrites[0] && !r.args.includes("json")).length >= 1,
          `inspect overlapped the writes: ${JSON.stringify(inspections)}`,
        );
      }

      // 7. Memory once watchers and clients are gone.
      await Promise.all(watches.map((w) => w.close()));
      await edged.close();
      await cloudSocket.close();
      edged = cloudSocket = undefined;
      await serve.waitForLog(/module detached module=websocket/, 10_000);
      await new Promise((r) => setTimeout(r, 2_000));
      const rssAfter = rss.sample() ?? 0;
      rss.stop();
      const peak = rss.peak;

      // 8. serve stops cleanly; nothing was ever locked; one meta row per pod.
      const exit = await serve.stop("SIGTERM", 30_000);
      assert.equal(exit.code, 0, exit.stderr.slice(-2000));
      assert.doesNotMatch(exit.stderr, /database is locked|SQLITE_BUSY/i);
      assert.doesNotMatch(exit.stderr, /batch not committed|loop stopped|request failed/);
      const sqlite = new DatabaseSync(db, { readOnly: true });
      try {
        const row = sqlite.prepare("SELECT count(*) AS n FROM meta WHERE type = 'pod'").get();
        assert.equal(row?.n, podCount(MESSAGES), "one meta row per pod");
      } finally {
        sqlite.close();
      }

      const okInspections = inspections.filter((r) => r.problem === undefined).length;
      console.log(
        `load: messages=${MESSAGES} acks/s=${Math.round(MESSAGES / streamSeconds)} ` +
          `watchers=${watches.length} events=${delivered}/${expectedTotal} ` +
          `closedSlow=${closedSlow} edged=${edgedFrames} ` +
          `peakRSS=${mb(peak)}MB (start ${mb(rssStart)}, quarters ` +
          `${quarters.map(mb).join("/")}, loaded ${mb(rssLoaded)}, after ${mb(rssAfter)}) ` +
          `inspect=${okInspections}/${inspections.length} OK ` +
          `(${inspections.filter((r) => r.duringWrites[0]).length} during writes) ` +
          `stream=${streamSeconds.toFixed(1)}s total=${
            ((performance.now() - started) / 1000).toFixed(1)
          }s`,
      );
      assert.ok(peak < RSS_LIMIT, `peak RSS ${mb(peak)} MB (limit ${mb(RSS_LIMIT)})`);
      if (quarters.length === 4) {
        assert.ok(
          quarters[3] - quarters[1] < RSS_SECOND_HALF_GROWTH,
          `RSS grew from ${mb(quarters[1])} MB half-way to ${mb(quarters[3])} MB at the end`,
        );
      }
      assert.ok(
        rssAfter < rssLoaded + RSS_AFTER_GROWTH,
        `RSS ${mb(rssAfter)} MB after closing watchers vs ${mb(rssLoaded)} MB with them`,
      );
    } finally {
      rss.stop();
      await Promise.all(watches.map((w) => w.close().catch(() => {})));
      await edged?.close().catch(() => {});
      await cloudSocket?.close().catch(() => {});
      await serve.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "load: a watch whose client keeps up is never closed for falling behind",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const messages = 20_000;
    const dir = await Deno.makeTempDir({ prefix: "load-fast-watch-" });
    const serve = await ServeProcess.start({ db: `${dir}/e.db` });
    let watch: WatchStream | undefined;
    let socket: CountingSocket | undefined;
    try {
      watch = await WatchStream.open(`${serve.baseUrl}/api/v1/pods?watch=true`);
      const cloud = new CloudStream(messages, WINDOW);
      socket = await CountingSocket.connect(serve.address, "websocket", "hub", cloud.frame);
      await withTimeout(cloud.run(socket), 120_000, "the cloud stream stalled");
      assert.ok(cloud.complete);
      const want = expectedEvents(() => true, messages);
      await watch.until(
        (w) => w.counts.ERROR > 0 || w.counts.ADDED + w.counts.MODIFIED >= messages,
        30_000,
      );
      assert.deepEqual(
        { added: watch.counts.ADDED, modified: watch.counts.MODIFIED, error: watch.counts.ERROR },
        { ...want, error: 0 },
        `the watch ended with: ${watch.lastLines().at(-1)?.slice(0, 300)}`,
      );
    } finally {
      await watch?.close();
      await socket?.close().catch(() => {});
      await serve.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
