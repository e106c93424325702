/**
 * Small measuring helpers of the benchmark: percentiles, RSS readings, machine facts.
 *
 * @module
 */

import process from "node:process";

/** The `p`-th percentile (0–100, nearest rank) of `values` (sorted in place). */
export function percentile(values: Float64Array, p: number): number {
  if (values.length === 0) return NaN;
  const rank = Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1));
  return values[rank];
}

/** p50, p99 and max of latencies in ms (sorts `values` in place). */
export function latencySummary(values: Float64Array): { p50: number; p99: number; max: number } {
  values.sort();
  return {
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: values.length ? values[values.length - 1] : NaN,
  };
}

/** Bytes → MiB with one decimal. */
export function mb(bytes: number): number {
  return Math.round((bytes / (1024 * 1024)) * 10) / 10;
}

/** Rounds to `digits` decimals. */
export function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Fields of /proc/PID/status in bytes (VmRSS, VmHWM); undefined when unreadable. */
export function procStatus(pid: number | "self"): { rss: number; hwm: number } | undefined {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = (name: string) => {
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
      return m ? Number(m[1]) * 1024 : NaN;
    };
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  } catch {
    return undefined;
  }
}

/** Resets the kernel's peak-RSS counter (VmHWM) of this process; false when not possible. */
export function resetPeakRss(): boolean {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/** Periodic RSS sampling of this process (`Deno.memoryUsage().rss`). */
export class RssSampler {
  peak = 0;
  #timer?: ReturnType<typeof setInterval>;

  /** @param everyMs sampling period */
  start(everyMs = 20): this {
    this.sample();
    this.#timer = setInterval(() => this.sample(), everyMs);
    return this;
  }

  /** Takes one sample now (also called from hot loops between batches). */
  sample(): number {
    const rss = Deno.memoryUsage().rss;
    if (rss > this.peak) this.peak = rss;
    return rss;
  }

  stop(): number {
    clearInterval(this.#timer);
    this.sample();
    return this.peak;
  }
}

/** Cores and CPU model of this machine. */
export function machine(): { cores: number; cpu_model: string; kernel: string; deno: string } {
  let model = "unknown";
  try {
    const text = Deno.readTextFileSync("/proc/cpuinfo");
    const m = /^model name\s*:\s*(.+)$/m.exec(text) ?? /^Model\s*:\s*(.+)$/m.exec(text);
    if (m) model = m[1].trim();
  } catch { /* not Linux */ }
  let kernel = "";
  try {
    kernel = Deno.readTextFileSync("/proc/sys/kernel/osrelease").trim();
  } catch { /* not Linux */ }
  return {
    cores: navigator.hardwareConcurrency,
    cpu_model: model,
    kernel,
    deno: Deno.version.deno,
  };
}

/** CPU time (user + system, all threads) of a process in ms; NaN when unreadable. */
export function processCpuMs(pid: number | "self" = "self"): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[11] = utime, fields[12] = stime (clock ticks; 100 per second on Linux)
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/**
 * CPU time (user + system, all threads) of this process in µs, from getrusage: exact to the
 * microsecond, where /proc's counters move in 10 ms ticks (or, for a running thread's
 * schedstat, only at scheduler ticks), too coarse for short steps.
 */
export function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Time the calling thread has spent on a CPU, in ns (excludes waiting to run). */
export function threadCpuNs(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/thread-self/schedstat").split(" ")[0]);
  } catch {
    return NaN;
  }
}
