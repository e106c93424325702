/**
 * The serve benchmark: `main.ts serve` as a real subprocess, a WebSocket client attached
 * as the cloud (`websocket`/`hub`) streaming inserts with a bounded window of
 * unacknowledged messages (or none: `window: Infinity`, the burst phase, every insert sent
 * at once as cloudcore does on a reconnect), and an `edged`/`edged` client that drains its
 * frames.
 *
 * @module
 */

import { latencySummary, mb, processCpuMs, procStatus, round } from "./stats.ts";

/** Options of {@link runServeBench}. */
export interface ServeBenchOptions {
  dir: string;
  journal: string;
  window: number;
  idleMs: number;
  timeoutMs: number;
  /** Extra `deno run` flags for serve (e.g. --cpu-prof). */
  denoFlags?: string[];
}

/** Figures of a serve run. */
export interface ServeResult {
  messages: number;
  acked: number;
  not_ok: number;
  error_frames: number;
  edged_frames: number;
  seconds: number;
  serve_acks_per_s: number;
  serve_ack_p50_ms: number;
  serve_ack_p99_ms: number;
  serve_ack_max_ms: number;
  window: number;
  serve_idle_rss_mb: number;
  serve_rss_after_attach_mb: number;
  serve_peak_rss_mb: number;
  serve_peak_rss_hwm_mb: number;
  /** From serve's /metrics after the run: batches committed and their mean size/latency. */
  serve_commits: number;
  serve_mean_batch: number;
  serve_mean_commit_ms: number;
  /** CPU time of the serve process per acknowledged insert (all its threads). */
  serve_cpu_us_per_msg: number;
  serve_exit_code: number | null;
  /** Idle RSS of serve restarted on the database the run filled. */
  serve_idle_rss_populated_mb: number;
  serve_warnings: string[];
  /** From /metrics: messages the bus dropped because a queue was full (edged's overflow). */
  serve_dropped_queue_full: number;
  /** From /metrics: times serve paused reading the cloud's socket, and the inbox's peak. */
  serve_read_pauses: number;
  serve_held_frames_peak: number;
}

const ROOT = new URL("../", import.meta.url);

function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onopen = () => resolve(ws);
    ws.onerror = (e) => reject(new Error(`cannot connect ${url}: ${(e as ErrorEvent).message}`));
  });
}

/** A started serve subprocess. */
export interface Started {
  child: Deno.ChildProcess;
  addr: string;
  warnings: string[];
}

/** Starts `main.ts serve` on `db` at 127.0.0.1:0; resolves once it logs its address. */
export async function startServe(db: string, denoFlags: string[]): Promise<Started> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...denoFlags,
      "main.ts",
      "serve",
      "--create",
      "--db",
      db,
      "--listen",
      "127.0.0.1:0",
    ],
    cwd: new URL(ROOT).pathname,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const warnings: string[] = [];
  const address = Promise.withResolvers<string>();
  // Drain stderr for the whole run (a full pipe would stall serve).
  (async () => {
    let buf = "";
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) {
      buf += dec.decode(chunk, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const l = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /\bINFO serving address=(\S+)/.exec(l);
        if (m) address.resolve(m[1]);
        else if (/ (WARN|ERROR) /.test(l) && warnings.length < 20) warnings.push(l);
      }
    }
    address.reject(new Error("serve exited before listening"));
  })().catch(() => {});
  const timer = setTimeout(() => address.reject(new Error("serve did not start in 30 s")), 30_000);
  try {
    return { child, addr: await address.promise, warnings };
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** Stops serve with SIGTERM (SIGKILL after 10 s); returns its exit code. */
export async function stopServe(child: Deno.ChildProcess): Promise<number | null> {
  try {
    child.kill("SIGTERM");
  } catch { /* gone */ }
  const killer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 10_000);
  const status = await child.status;
  clearTimeout(killer);
  return status.code;
}

/**
 * Idle RSS of serve started on an existing database (after a run: every object of the
 * run stored), read `idleMs` after it logs its address.
 */
export async function populatedIdleRss(
  db: string,
  idleMs: number,
  denoFlags: string[] = [],
): Promise<number> {
  const { child } = await startServe(db, denoFlags);
  try {
    await new Promise((r) => setTimeout(r, idleMs));
    return mb(procStatus(child.pid)?.rss ?? NaN);
  } finally {
    await stopServe(child);
  }
}

/** Starts serve, drives it, stops it. */
export async function runServeBench(o: ServeBenchOptions): Promise<ServeResult> {
  const db = `${o.dir}/serve.db`;
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      Deno.removeSync(db + suffix);
    } catch { /* absent */ }
  }
  const lines = Deno.readTextFileSync(o.journal).split("\n").filter((l) => l !== "");
  const ids = lines.map((l) => /"msg_id":"([^"]+)"/.exec(l)![1]);

  const { child, addr, warnings } = await startServe(db, o.denoFlags ?? []);
  const pid = child.pid;
  let result: ServeResult;
  let exitCode: number | null = null;
  try {
    await new Promise((r) => setTimeout(r, o.idleMs));
    const idle = procStatus(pid);

    let edgedFrames = 0;
    const edged = await openSocket(`ws://${addr}/v1/modules/edged?group=edged`);
    edged.onmessage = () => edgedFrames++;
    const hub = await openSocket(`ws://${addr}/v1/modules/websocket?group=hub`);
    await new Promise((r) => setTimeout(r, 200)); // connect message processed
    const attached = procStatus(pid);

    let peak = attached?.rss ?? 0;
    const sampler = setInterval(() => {
      const s = procStatus(pid);
      if (s && s.rss > peak) peak = s.rss;
    }, 20);

    const sentAt = new Map<string, number>();
    const latencies = new Float64Array(lines.length);
    let next = 0, acked = 0, notOk = 0, errorFrames = 0, inFlight = 0;
    const done = Promise.withResolvers<void>();
    const pump = () => {
      while (inFlight < o.window && next < lines.length) {
        sentAt.set(ids[next], performance.now());
        hub.send(lines[next++]);
        inFlight++;
      }
    };
    hub.onmessage = (e) => {
      const now = performance.now();
      let f: {
        error?: string;
        header?: { parent_msg_id?: string };
        route?: { operation?: string };
        content?: unknown;
      };
      try {
        f = JSON.parse(e.data as string);
      } catch {
        errorFrames++;
        return;
      }
      if (f.error !== undefined) {
        errorFrames++;
        return;
      }
      const parent = f.header?.parent_msg_id ?? "";
      const t0 = sentAt.get(parent);
      if (t0 === undefined) return; // e.g. not an answer to our inserts
      sentAt.delete(parent);
      inFlight--;
      if (f.route?.operation === "response" && f.content === "OK") {
        latencies[acked++] = now - t0;
      } else {
        notOk++;
      }
      if (acked + notOk === lines.length) done.resolve();
      else pump();
    };
    hub.onclose = () => done.reject(new Error("serve closed the cloud connection"));
    const started = performance.now();
    const cpu0 = processCpuMs(pid);
    pump();
    const deadline = setTimeout(
      () => done.reject(new Error(`only ${acked} of ${lines.length} acknowledged in time`)),
      o.timeoutMs,
    );
    try {
      await done.promise;
    } finally {
      clearTimeout(deadline);
    }
    const seconds = (performance.now() - started) / 1000;
    const serveCpuMs = processCpuMs(pid) - cpu0;
    // Let edged's frames drain (they were sent before the acks, so they are mostly here).
    const drainUntil = performance.now() + 5000;
    while (edgedFrames < lines.length && performance.now() < drainUntil) {
      await new Promise((r) => setTimeout(r, 10));
    }
    clearInterval(sampler);
    const metrics = await (await fetch(`http://${addr}/metrics`)).text();
    const metric = (name: string) => {
      const m = new RegExp(`^${name} (\\S+)$`, "m").exec(metrics);
      return m ? Number(m[1]) : NaN;
    };
    const commits = metric("edgecore_meta_commit_seconds_count");
    const commitSeconds = metric("edgecore_meta_commit_seconds_sum");
    const end = procStatus(pid);
    if (end && end.rss > peak) peak = end.rss;
    hub.onclose = null;
    hub.close();
    edged.close();
    const lat = latencySummary(latencies.subarray(0, acked));
    result = {
      messages: lines.length,
      acked,
      not_ok: notOk,
      error_frames: errorFrames,
      edged_frames: edgedFrames,
      seconds: round(seconds, 3),
      serve_acks_per_s: round(acked / seconds),
      serve_ack_p50_ms: round(lat.p50, 2),
      serve_ack_p99_ms: round(lat.p99, 2),
      serve_ack_max_ms: round(lat.max, 2),
      window: o.window,
      serve_idle_rss_mb: mb(idle?.rss ?? NaN),
      serve_rss_after_attach_mb: mb(attached?.rss ?? NaN),
      serve_peak_rss_mb: mb(peak),
      serve_peak_rss_hwm_mb: mb(end?.hwm ?? NaN),
      serve_commits: commits,
      serve_mean_batch: round(lines.length / commits, 1),
      serve_mean_commit_ms: round((commitSeconds / commits) * 1000, 2),
      serve_cpu_us_per_msg: round((serveCpuMs * 1000) / acked, 1),
      serve_exit_code: null,
      serve_idle_rss_populated_mb: NaN,
      serve_warnings: warnings,
      serve_dropped_queue_full: metric('edgecore_meta_bus_dropped_total\\{reason="queue_full"\\}'),
      serve_read_pauses: metric("edgecore_meta_peer_read_pauses_total"),
      serve_held_frames_peak: metric("edgecore_meta_held_frames_peak"),
    };
  } finally {
    exitCode = await stopServe(child);
  }
  result.serve_exit_code = exitCode;
  result.serve_idle_rss_populated_mb = await populatedIdleRss(db, o.idleMs, o.denoFlags);
  return result;
}
