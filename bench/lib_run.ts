/**
 * Child process of the benchmark: replays journals through the library (FIXED mode by
 * default; the loop driver in any mode, transport and release) into database files, and prints one JSON object of figures on stdout.
 *
 * Two drivers:
 * - `loop` (headline): the serve batch loop itself (runMetaManagerLoop of
 *   src/metamanager/module.ts): up to 512 messages per transaction, acknowledgement after
 *   the commit. A message is "taken" when the loop pulls its journal line (the line is
 *   parsed then, as the WebSocket bridge parses a frame); its latency is ack − taken.
 *   Outbound messages are serialized with toWire() (what the bridge does before
 *   socket.send) and discarded.
 * - `replay`: replay() of src/replay/replay.ts (1000 lines per commit, every bus call
 *   formatted as an event line and handed to a counting write callback).
 *
 * Usage: deno run -A bench/lib_run.ts '<json spec>'
 *
 * @module
 */

import { type Message, systemIdentity, toWire } from "../src/beehive/message.ts";
import {
  CLOUD_SOURCES,
  CLOUD_SOURCES_V1_23,
  parseMessage,
  type Transport,
} from "../src/beehive/wire.ts";
import type { CompatMode } from "../src/metamanager/compat.ts";
import { runMetaManagerLoop } from "../src/metamanager/module.ts";
import type { Bus } from "../src/metamanager/outbox.ts";
import { MetaManager } from "../src/metamanager/process.ts";
import { replay } from "../src/replay/replay.ts";
import { type Decoded, FrameDecoder } from "../src/metamanager/frame_decoder.ts";
import { silentLogger } from "../src/logger.ts";
import { Checkpointer } from "../src/store/checkpointer.ts";
import { Store } from "../src/store/store.ts";
import type { KubeEdgeRelease } from "../src/store/schema.ts";
import {
  cpuUs,
  latencySummary,
  mb,
  procStatus,
  resetPeakRss,
  round,
  RssSampler,
  threadCpuNs,
} from "./stats.ts";

/** What to run. */
export interface LibSpec {
  driver: "loop" | "replay";
  /** Compatibility mode of the loop driver (default fixed, as serve runs). */
  mode?: CompatMode;
  /** How the loop driver decodes lines (default raw, as serve's bridge does). */
  transport?: Transport;
  /** KubeEdge release of the loop driver (default 1.10; a new database gets its schema). */
  release?: KubeEdgeRelease;
  batch: number;
  /**
   * Where the loop driver decodes lines (default `inline`, serve's default: each line when
   * the loop takes it; `worker`: the frame decoder's worker, as serve with
   * edgecoreMeta.decodeOnWorker). Replay: its decodeOnWorker.
   */
  decoder?: "worker" | "inline";
  phases: { name: string; journal: string; db: string }[];
}

/** Figures of one phase. */
export interface PhaseResult {
  name: string;
  messages: number;
  errors: number;
  /** Messages taken but never acknowledged (their batch did not commit). */
  unacknowledged: number;
  error_replies: number;
  seconds: number;
  msgs_per_s: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  commits: number;
  outbound_messages: number;
  outbound_bytes: number;
  rss_start_mb: number;
  peak_rss_sampled_mb: number;
  peak_rss_hwm_mb: number;
  /** CPU time (all threads) per message: independent of other load on the machine. */
  cpu_us_per_msg: number;
  /**
   * CPU time of the main thread alone per message (the single writer's: what bounds the
   * loop's rate while the other core has room; the rest is the frame decoder's worker,
   * the fsync and checkpoint threads and V8's helpers).
   */
  main_thread_cpu_us_per_msg?: number;
}

/** A bus that serializes every delivery as the WebSocket bridge would, then drops it. */
export class SerializingBus implements Bus {
  messages = 0;
  bytes = 0;
  #out(msg: Message): void {
    this.messages++;
    this.bytes += toWire(msg).length;
  }
  send(_module: string, msg: Message): void {
    this.#out(msg);
  }
  sendToGroup(_group: string, msg: Message): void {
    this.#out(msg);
  }
  sendResp(msg: Message): void {
    this.#out(msg);
  }
  sendSync(): Promise<Message> {
    return Promise.reject(new Error("timeout to get response"));
  }
}

/**
 * Journal lines, read ahead from the file in bounded chunks and split in bulk (one await
 * per chunk, not per line: the feeder stands in for socket buffers and should cost little).
 */
export class LineFeeder {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #decoder = new TextDecoder();
  #partial = "";
  #buf: string[] = [];
  #head = 0;
  eof = false;

  constructor(file: Deno.FsFile) {
    this.#reader = file.readable.getReader();
  }

  get available(): number {
    return this.#buf.length - this.#head;
  }

  /** Reads until at least `min` lines are buffered or the file ends. */
  async fill(min: number): Promise<void> {
    if (this.#head > 4096) {
      this.#buf = this.#buf.slice(this.#head);
      this.#head = 0;
    }
    while (!this.eof && this.available < min) {
      const r = await this.#reader.read();
      const text = r.done
        ? this.#partial + this.#decoder.decode()
        : this.#partial + this.#decoder.decode(r.value, { stream: true });
      const lines = text.split("\n");
      this.#partial = r.done ? "" : lines.pop()!;
      for (const line of lines) if (line.trim() !== "") this.#buf.push(line);
      if (r.done) this.eof = true;
    }
  }

  take(): string | undefined {
    if (this.#head >= this.#buf.length) return undefined;
    const s = this.#buf[this.#head];
    this.#buf[this.#head++] = "";
    return s;
  }
}

/** Lines decoded ahead by a {@link FrameDecoder}, in order, as serve's bridge does. */
export class DecodedFeed {
  #ready: Message[] = [];
  #head = 0;
  #chain: Promise<void> = Promise.resolve();
  #inflight = 0;
  #filling?: Promise<void>;

  constructor(
    readonly lines: LineFeeder,
    readonly decoder: FrameDecoder,
    /** Lines per decode request, and requests in flight at most. */
    readonly chunk: number,
    readonly ahead: number,
    readonly onTaken: (msg: Message, t: number) => void,
    readonly onError: (e: Error) => void,
  ) {}

  #kick(): void {
    // Keep lines read ahead of the decoder (the socket buffers of serve).
    if (this.#filling === undefined && !this.lines.eof && this.lines.available < 2 * this.chunk) {
      this.#filling = this.lines.fill(this.chunk * this.ahead * 2).then(() => {
        this.#filling = undefined;
        this.#kick();
      });
    }
    // At most `ahead` chunks decoded or being decoded ahead of the loop (bounded memory,
    // as the bridge's inbox and the bus queue bound serve's).
    while (
      this.#inflight + Math.ceil((this.#ready.length - this.#head) / this.chunk) < this.ahead &&
      this.lines.available > 0
    ) {
      const texts: string[] = [];
      for (let s; texts.length < this.chunk && (s = this.lines.take()) !== undefined;) {
        texts.push(s);
      }
      const t = performance.now();
      const decoded = this.decoder.decode(texts);
      this.#inflight++;
      this.#chain = this.#chain.then(() => decoded).then((results: Decoded[]) => {
        this.#inflight--;
        for (const r of results) {
          if (r instanceof Error) this.onError(r);
          else {
            this.onTaken(r, t);
            this.#ready.push(r);
          }
        }
      });
    }
  }

  /** The next decoded message, if one is ready (starts decoding more). */
  tryNext(): Message | undefined {
    this.#kick();
    if (this.#head >= this.#ready.length) return undefined;
    const m = this.#ready[this.#head++];
    if (this.#head > 4096) {
      this.#ready = this.#ready.slice(this.#head);
      this.#head = 0;
    }
    return m;
  }

  /** The next message, waiting for it; undefined at the end of the journal. */
  async next(fill: number): Promise<Message | undefined> {
    for (;;) {
      const m = this.tryNext();
      if (m !== undefined) return m;
      if (this.#inflight > 0) await this.#chain;
      else if (this.#filling !== undefined) await this.#filling;
      else if (!this.lines.eof) await this.lines.fill(fill);
      else return undefined;
    }
  }
}

/**
 * One journal through the serve batch loop (runMetaManagerLoop) as serve runs it, in
 * `mode` with lines decoded as `transport` delivers them.
 */
export async function runLoopPhase(
  phase: LibSpec["phases"][number],
  batch: number,
  mode: CompatMode = "fixed",
  transport: Transport = "raw",
  release: KubeEdgeRelease = "1.10",
  decoderKind?: "worker" | "inline",
): Promise<PhaseResult> {
  // As serve opens it: WAL, synchronous FULL with the fsync off the JS thread, and
  // checkpoints in a background worker.
  const store = Store.open(phase.db, { syncOffThread: true, release });
  const cloudSources = release === "1.23" ? CLOUD_SOURCES_V1_23 : CLOUD_SOURCES;
  const checkpointer = Checkpointer.forDatabase(store.db, silentLogger)!;
  const bus = new SerializingBus();
  const mm = new MetaManager({
    store,
    bus,
    mode,
    identity: systemIdentity,
    logger: silentLogger,
    connected: false,
  });
  const file = await Deno.open(phase.journal);
  const feeder = new LineFeeder(file);
  const taken = new Map<Message, number>();
  const latencies: number[] = [];
  let takenCount = 0, processed = 0, errors = 0, commits = 0;
  const abort = new AbortController();
  const sampler = new RssSampler();
  const rssStart = Deno.memoryUsage().rss;
  resetPeakRss();
  sampler.start(20);

  // serve's default: each frame parsed when the loop takes it; with the decoder's worker
  // (edgecoreMeta.decodeOnWorker), lines decoded ahead in batches as the bridge does then.
  const decoder = decoderKind === "worker"
    ? new FrameDecoder({ transport, cloudSources, worker: true })
    : undefined;
  const feed = decoder &&
    new DecodedFeed(feeder, decoder, 128, Math.max(1, batch / 128), (msg, t) => {
      taken.set(msg, t);
      takenCount++;
    }, () => errors++);
  const pull = (): Message | undefined => {
    for (;;) {
      const text = feeder.take();
      if (text === undefined) return undefined;
      const t = performance.now();
      try {
        const msg = parseMessage(text, transport, cloudSources);
        taken.set(msg, t);
        takenCount++;
        return msg;
      } catch {
        errors++;
      }
    }
  };
  const started = performance.now();
  const cpu0 = cpuUs();
  const mainCpu0 = threadCpuNs();
  await runMetaManagerLoop({
    mm,
    store,
    logger: silentLogger,
    maxBatch: batch,
    receive: async () => {
      let m: Message | undefined;
      if (feed) m = await feed.next(2 * batch);
      else {
        await feeder.fill(2 * batch);
        m = pull();
      }
      if (m) return m;
      // End of the journal: stop; the loop finishes what it holds and returns.
      abort.abort();
      throw new Error("journal finished");
    },
    tryReceive: () => feed ? feed.tryNext() : pull(),
    onProcessed: (msg) => {
      const t0 = taken.get(msg);
      if (t0 !== undefined) {
        latencies.push(performance.now() - t0);
        taken.delete(msg);
      }
      processed++;
      if ((processed & 127) === 0) sampler.sample();
    },
    onCommit: () => commits++,
    checkpointer,
  }, abort.signal);
  const seconds = (performance.now() - started) / 1000;
  const cpuMs = (cpuUs() - cpu0) / 1000;
  const mainCpuMs = (threadCpuNs() - mainCpu0) / 1e6;
  sampler.stop();
  const hwm = procStatus("self")?.hwm ?? NaN;
  try {
    file.close();
  } catch { /* closed by the stream */ }
  await checkpointer.close();
  decoder?.close();
  store.close();
  const lat = latencySummary(Float64Array.from(latencies));
  return {
    name: phase.name,
    messages: processed,
    errors,
    unacknowledged: takenCount - processed,
    error_replies: mm.errorReplies,
    seconds: round(seconds, 3),
    msgs_per_s: round(processed / seconds),
    p50_ms: round(lat.p50, 2),
    p99_ms: round(lat.p99, 2),
    max_ms: round(lat.max, 2),
    commits,
    outbound_messages: bus.messages,
    outbound_bytes: bus.bytes,
    rss_start_mb: mb(rssStart),
    peak_rss_sampled_mb: mb(sampler.peak),
    peak_rss_hwm_mb: mb(hwm),
    cpu_us_per_msg: round((cpuMs * 1000) / processed, 1),
    main_thread_cpu_us_per_msg: round((mainCpuMs * 1000) / processed, 1),
  };
}

export async function runReplayPhase(
  phase: LibSpec["phases"][number],
  decoderKind?: "worker" | "inline",
): Promise<PhaseResult> {
  // As the replay command opens it, with its background checkpoints.
  const store = Store.open(phase.db, { syncOffThread: true });
  const checkpointer = Checkpointer.forDatabase(store.db, silentLogger);
  const file = await Deno.open(phase.journal);
  let events = 0, eventBytes = 0, last = performance.now();
  const lineTimes: number[] = [];
  const sampler = new RssSampler();
  const rssStart = Deno.memoryUsage().rss;
  resetPeakRss();
  sampler.start(20);
  const started = performance.now();
  const cpu0 = cpuUs();
  const summary = await replay({
    journal: file.readable,
    store,
    mode: "fixed",
    answers: { cloud: new Map(), edged: new Map() },
    decodeOnWorker: decoderKind === undefined ? undefined : decoderKind === "worker",
    checkpointer,
    write: (line) => {
      events++;
      eventBytes += line.length;
    },
    onProgress: (n) => {
      const t = performance.now();
      lineTimes.push(t - last);
      last = t;
      if ((n & 127) === 0) sampler.sample();
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const cpuMs = (cpuUs() - cpu0) / 1000;
  sampler.stop();
  const hwm = procStatus("self")?.hwm ?? NaN;
  await checkpointer?.close();
  store.close();
  const lat = latencySummary(Float64Array.from(lineTimes));
  return {
    name: phase.name,
    messages: summary.messages,
    errors: summary.errors,
    unacknowledged: 0,
    error_replies: 0,
    seconds: round(seconds, 3),
    msgs_per_s: round(summary.messages / seconds),
    // Per-line processing time (the line that triggers a commit includes it).
    p50_ms: round(lat.p50, 3),
    p99_ms: round(lat.p99, 3),
    max_ms: round(lat.max, 2),
    commits: Math.ceil(summary.messages / 1000),
    outbound_messages: events,
    outbound_bytes: eventBytes,
    rss_start_mb: mb(rssStart),
    peak_rss_sampled_mb: mb(sampler.peak),
    peak_rss_hwm_mb: mb(hwm),
    cpu_us_per_msg: round((cpuMs * 1000) / summary.messages, 1),
  };
}

if (import.meta.main) {
  const spec = JSON.parse(Deno.args[0]) as LibSpec;
  const results: PhaseResult[] = [];
  const processStart = procStatus("self");
  for (const phase of spec.phases) {
    for (const suffix of ["", "-wal", "-shm"]) {
      try {
        Deno.removeSync(phase.db + suffix);
      } catch { /* absent */ }
    }
  }
  for (const phase of spec.phases) {
    const r = spec.driver === "loop"
      ? await runLoopPhase(
        phase,
        spec.batch,
        spec.mode,
        spec.transport,
        spec.release,
        spec.decoder,
      )
      : await runReplayPhase(phase, spec.decoder);
    results.push(r);
    console.error(
      `  ${spec.driver} ${phase.name}: ${r.msgs_per_s} msg/s, p50 ${r.p50_ms} ms, ` +
        `p99 ${r.p99_ms} ms, ${r.cpu_us_per_msg} µs CPU/msg` +
        (r.main_thread_cpu_us_per_msg === undefined
          ? ""
          : ` (main thread ${r.main_thread_cpu_us_per_msg})`),
    );
  }
  const end = procStatus("self");
  console.log(JSON.stringify({
    driver: spec.driver,
    phases: results,
    process_rss_at_start_mb: mb(processStart?.rss ?? NaN),
    process_rss_at_end_mb: mb(end?.rss ?? NaN),
  }));
}
