/**
 * End-to-end test support: `edgecore-meta serve` (and one-shot subcommands) as real child
 * processes of `deno run -A main.ts`, started in the project directory.
 *
 * The child's environment is the test's minus every `EDGECORE_META_*` variable, so that
 * a developer's settings cannot change what a test sees.
 *
 * @module
 */

import { scaled } from "./time_scale.ts";

/** The project directory (where main.ts and deno.json are). */
export const PROJECT_DIR: string = new URL("../../", import.meta.url).pathname;

const MAIN = "main.ts";

/** How to start serve. */
export interface ServeOptions {
  /** SQLite database file (`--db`). */
  db: string;
  /** `--listen` value (default `127.0.0.1:0`, a free port). */
  listen?: string;
  /** `--journal` file, if any. */
  journal?: string;
  /** More arguments after `serve`. */
  args?: string[];
  /** How long to wait for the `serving` log line (default 20 s). */
  startTimeoutMs?: number;
  /** Run with the flags the product ships with (deno.json's `start` task). */
  productFlags?: boolean;
  /** Pass `--create` so that a missing database is created (default true). */
  create?: boolean;
  /**
   * Start it as a newcomer does, `deno task start ...`, in a process group of its own (a
   * terminal's foreground job): {@link ServeProcess.signalGroup} then signals deno task and
   * serve together, as Ctrl-C does. The log level is the default (info). `"npx"`: the
   * README's quick start word for word, `npx -y deno@2.9.6 task start` (npx, the npm
   * package's launcher, deno task and serve all in the group).
   */
  taskStart?: boolean | "npx";
  /** More environment variables for serve (e.g. `EDGECORE_META_DECODE_ON_WORKER`). */
  env?: Record<string, string>;
}

/** The `deno run` flags of deno.json's `start` task but `-A` (`--v8-flags=...` and others). */
export function productRunFlags(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(new URL("../../deno.json", import.meta.url)));
  const m = /deno run (.*?) main\.ts/.exec(config.tasks?.start ?? "");
  return m ? m[1].split(/\s+/).filter((f) => f.startsWith("--")) : [];
}

/**
 * The README's quick-start command, word for word (`npx -y deno@2.9.6 task start`), so that
 * the test starts serve exactly as a newcomer does.
 * @throws {Error} when the README has no such line
 */
export function readmeQuickStart(): string[] {
  const readme = Deno.readTextFileSync(new URL("../../README.md", import.meta.url));
  const m = /^(npx -y deno@\S+ task start)\b/m.exec(readme);
  if (!m) throw new Error("README.md has no `npx -y deno@... task start` line");
  return m[1].split(" ");
}

/** What a stopped serve left behind. */
export interface ServeExit {
  code: number;
  signal: Deno.Signal | null;
  stderr: string;
}

/** The result of a one-shot subcommand. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function childEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("EDGECORE_META_")),
  );
}

/**
 * Rejects after `limitMs` (times `TEST_TIME_SCALE`, see time_scale.ts) with `message` unless `p`
 * settles first; never leaks the timer.
 */
export async function withTimeout<T>(p: Promise<T>, limitMs: number, message: string): Promise<T> {
  const ms = scaled(limitMs);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (after ${ms} ms)`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A running `serve` child process. */
export class ServeProcess {
  /** The bound address from the `serving` line: `127.0.0.1:PORT` or `unix:PATH`. */
  address = "";
  readonly #child: Deno.ChildProcess;
  #stderr = "";
  #stderrDone = false;
  readonly #drained: Promise<void>;
  #status?: Deno.CommandStatus;
  readonly #statusPromise: Promise<Deno.CommandStatus>;
  readonly #listeners = new Set<() => void>();
  /** Started in a process group of its own: kill() kills the whole group. */
  #group = false;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#statusPromise = child.status.then((s) => {
      this.#status = s;
      this.#notify();
      return s;
    });
    this.#drained = this.#drain();
  }

  /**
   * Starts serve and resolves once it logged `INFO serving address=...`.
   * @throws {Error} with its stderr when it exits or stays silent instead
   */
  static async start(options: ServeOptions): Promise<ServeProcess> {
    const serveArgs = ["--db", options.db, "--listen", options.listen ?? "127.0.0.1:0"];
    if (options.journal) serveArgs.push("--journal", options.journal);
    if (options.create ?? true) serveArgs.push("--create");
    serveArgs.push(...(options.args ?? []));
    // setsid(1) run by a process that is not a group leader makes itself the leader of a new
    // session and process group, then execs deno: the child's pid is the group's id.
    const [program, args]: [string, string[]] = options.taskStart === "npx"
      ? ["setsid", [...readmeQuickStart(), ...serveArgs]]
      : options.taskStart
      ? ["setsid", [Deno.execPath(), "task", "start", ...serveArgs]]
      : [Deno.execPath(), [
        "run",
        "-A",
        ...(options.productFlags ? productRunFlags() : []),
        MAIN,
        "--log-level",
        "info",
        "serve",
        ...serveArgs,
      ]];
    const child = new Deno.Command(program, {
      args,
      cwd: PROJECT_DIR,
      env: { ...childEnv(), ...options.env },
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const proc = new ServeProcess(child);
    proc.#group = Boolean(options.taskStart);
    try {
      const line = await proc.waitForLog(
        /\bINFO serving address=(\S+)/,
        options.startTimeoutMs ?? 20_000,
      );
      proc.address = /\bINFO serving address=(\S+)/.exec(line)![1];
    } catch (e) {
      const exit = await proc.kill();
      throw new Error(
        `serve did not start: ${(e as Error).message}\n--- stderr ---\n${exit.stderr}`,
      );
    }
    return proc;
  }

  async #drain(): Promise<void> {
    const reader = this.#child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.#stderr += value;
        this.#notify();
      }
    } finally {
      reader.releaseLock();
      this.#stderrDone = true;
      this.#notify();
    }
  }

  #notify(): void {
    for (const l of [...this.#listeners]) l();
  }

  /** Sends `signal` without waiting (e.g. a second Ctrl-C). */
  signal(signal: Deno.Signal): void {
    if (!this.exited) this.#child.kill(signal);
  }

  /** Sends `signal` to the child's whole process group (with `taskStart`: a terminal's Ctrl-C). */
  signalGroup(signal: Deno.Signal): void {
    if (!this.exited) Deno.kill(-this.#child.pid, signal);
  }

  /** The child's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** TCP port (throws for a unix socket address). */
  get port(): number {
    const m = /:(\d+)$/.exec(this.address);
    if (!m || this.address.startsWith("unix:")) {
      throw new Error(`serve is not on TCP: ${this.address}`);
    }
    return Number(m[1]);
  }

  /** `http://127.0.0.1:PORT`. */
  get baseUrl(): string {
    return `http://${this.address}`;
  }

  /** stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** True once the process has exited. */
  get exited(): boolean {
    return this.#status !== undefined;
  }

  /**
   * Resolves with the first complete stderr line matching `re` (also one already logged).
   * @throws {Error} when the process exits first or `timeoutMs` passes
   */
  waitForLog(re: RegExp, timeoutMs = 10_000): Promise<string> {
    const find = () => this.#stderr.split("\n").slice(0, -1).find((l) => re.test(l));
    let check = () => {};
    const found = new Promise<string>((resolve, reject) => {
      check = () => {
        const line = find();
        if (line !== undefined) resolve(line);
        else if (this.#status !== undefined && this.#stderrDone) {
          reject(new Error(`serve exited (code ${this.#status.code}) before logging ${re}`));
        }
      };
    });
    this.#listeners.add(check);
    check();
    return withTimeout(found, timeoutMs, `no stderr line matching ${re}`)
      .finally(() => this.#listeners.delete(check));
  }

  async #finish(): Promise<ServeExit> {
    const status = await this.#statusPromise;
    await this.#drained;
    return { code: status.code, signal: status.signal, stderr: this.#stderr };
  }

  /**
   * Sends `signal` and waits for the exit (SIGKILL after `timeoutMs`, then throws).
   */
  async stop(signal: Deno.Signal = "SIGTERM", timeoutMs = 15_000): Promise<ServeExit> {
    if (!this.exited) this.#child.kill(signal);
    try {
      return await withTimeout(this.#finish(), timeoutMs, `serve did not exit on ${signal}`);
    } catch (e) {
      const exit = await this.kill();
      throw new Error(`${(e as Error).message}\n--- stderr ---\n${exit.stderr}`);
    }
  }

  /** Kills the process at once (cleanup); resolves when it is gone and stderr drained. */
  async kill(): Promise<ServeExit> {
    if (!this.exited) {
      try {
        if (this.#group) Deno.kill(-this.#child.pid, "SIGKILL");
        else this.#child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
    return await this.#finish();
  }
}

/**
 * Runs `deno run -A main.ts ...args` to completion (killed after `timeoutMs`), with `stdin`
 * as its standard input when given. `timeoutMs` is scaled by `TEST_TIME_SCALE`.
 */
export async function runCli(
  args: string[],
  timeoutMs = 30_000,
  stdin?: string,
): Promise<CliResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: PROJECT_DIR,
    env: childEnv(),
    clearEnv: true,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const output = child.output();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const killer = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      resolve();
    }, scaled(timeoutMs));
  });
  try {
    const out = await Promise.race([output, killer.then(() => output)]);
    const dec = new TextDecoder();
    const result = {
      code: out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
    if (out.signal === "SIGKILL") {
      throw new Error(
        `edgecore-meta ${args.join(" ")} timed out after ${scaled(timeoutMs)} ms\n${result.stderr}`,
      );
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}
