/**
 * A CPU quota for a test's child process: a cgroup made by the test, limited to a share of
 * one core (cgroup v2 `cpu.max`, or cgroup v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us` where
 * the cpu controller is mounted as v1). Tests that need it skip, with the reason, where
 * cgroups are not writable.
 *
 * @module
 */

/** A cgroup with a CPU quota that processes can be moved into. */
export interface CpuQuota {
  /** The cgroup's directory. */
  readonly dir: string;
  /** Moves the process `pid` (all its threads) into the cgroup. */
  add(pid: number): void;
  /** Removes the cgroup (its processes must have exited). */
  remove(): void;
}

/** How cgroups can be used here: a way to make one, or why not. */
export type CpuQuotaSupport =
  | { ok: true; create: (percentOfCore: number) => CpuQuota }
  | { ok: false; reason: string };

function writable(dir: string): boolean {
  const probe = `${dir}/edgecore-meta-probe-${Deno.pid}`;
  try {
    Deno.mkdirSync(probe);
    Deno.removeSync(probe);
    return true;
  } catch {
    return false;
  }
}

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

let counter = 0;

function make(parent: string, limit: (dir: string, percent: number) => void) {
  return (percent: number): CpuQuota => {
    const dir = `${parent}/edgecore-meta-test-${Deno.pid}-${counter++}`;
    Deno.mkdirSync(dir);
    try {
      limit(dir, percent);
    } catch (e) {
      Deno.removeSync(dir);
      throw e;
    }
    return {
      dir,
      add: (pid) => Deno.writeTextFileSync(`${dir}/cgroup.procs`, `${pid}\n`),
      remove: () => {
        // A process may take a moment to leave after exiting.
        for (let i = 0; i < 50; i++) {
          try {
            Deno.removeSync(dir);
            return;
          } catch {
            const until = Date.now() + 20;
            while (Date.now() < until) { /* wait */ }
          }
        }
      },
    };
  };
}

/** Finds a writable cgroup hierarchy with the cpu controller, v2 first. */
export function cpuQuotaSupport(): CpuQuotaSupport {
  if (Deno.build.os !== "linux") return { ok: false, reason: "cgroups are Linux only" };
  const v2 = "/sys/fs/cgroup";
  const controllers = readText(`${v2}/cgroup.controllers`);
  if (controllers !== undefined && controllers.split(/\s+/).includes("cpu")) {
    const subtree = readText(`${v2}/cgroup.subtree_control`) ?? "";
    if (!subtree.split(/\s+/).includes("cpu")) {
      try {
        Deno.writeTextFileSync(`${v2}/cgroup.subtree_control`, "+cpu");
      } catch (e) {
        return { ok: false, reason: `cannot enable the cpu controller in ${v2}: ${e}` };
      }
    }
    if (writable(v2)) {
      return {
        ok: true,
        create: make(v2, (dir, percent) => {
          Deno.writeTextFileSync(`${dir}/cpu.max`, `${percent * 1000} 100000`);
        }),
      };
    }
    return { ok: false, reason: `${v2} (cgroup v2) is not writable` };
  }
  const v1 = "/sys/fs/cgroup/cpu";
  if (readText(`${v1}/cpu.cfs_quota_us`) !== undefined) {
    if (writable(v1)) {
      return {
        ok: true,
        create: make(v1, (dir, percent) => {
          Deno.writeTextFileSync(`${dir}/cpu.cfs_period_us`, "100000");
          Deno.writeTextFileSync(`${dir}/cpu.cfs_quota_us`, `${percent * 1000}`);
        }),
      };
    }
    return { ok: false, reason: `${v1} (cgroup v1 cpu controller) is not writable` };
  }
  return { ok: false, reason: "no cgroup hierarchy with the cpu controller is mounted" };
}
