/**
 * Beehive modules and their lifecycle: registration, enabling, start in order and graceful
 * shutdown in reverse order, with the process's signal handling (spec/message.md §3;
 * edgecore's `core.Run`, `StartModules` and `GracefulShutdown`).
 *
 * @module
 */

import type { MessageBus } from "./bus.ts";
import { type Logger, silentLogger } from "../logger.ts";

/** How long {@link ModuleRegistry.shutdown} waits for modules to stop by default. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000;

/** A named actor with one inbound queue on the {@link MessageBus}, or a part of a service. */
export interface Module {
  /** Module name, also the name of its queue. */
  readonly name: string;
  /** Group the module joins (`""` for none). */
  readonly group: string;
  /** Whether the module starts by default; see {@link ModuleRegistry.setEnabled}. */
  readonly enabled: boolean;
  /**
   * False for a part of a service that is no bus module (a timer, a server, a background
   * worker): it gets no queue. Default true.
   */
  readonly queue?: boolean;
  /**
   * Prepares the module before any module runs (binds a socket, opens a file). Called in
   * registration order, each awaited; one that throws ends the start-up: the modules set up
   * before it are cleaned up in reverse order and {@link ModuleRegistry.start} rethrows.
   */
  setup?(bus: MessageBus): void | Promise<void>;
  /**
   * Runs the module: called once, after every enabled module is set up and has its queue.
   * The promise should settle when the module stops, which it must do soon after `signal`
   * aborts. At shutdown the modules' signals abort one at a time, in reverse registration
   * order, each once the module registered after it has stopped.
   */
  start(bus: MessageBus, signal: AbortSignal): Promise<void>;
  /**
   * Releases what the module holds, once every module has stopped; called in reverse
   * registration order (after the module's queue is removed).
   */
  cleanup?(): void | Promise<void>;
  /** While the module stops: what it waits for (`closing handshake with websocket`). */
  pending?(): string;
}

/** Options of a {@link ModuleRegistry}. */
export interface ModuleRegistryOptions {
  /** Where lifecycle events are logged (default: nowhere). */
  logger?: Logger;
  /** Default overall deadline of {@link ModuleRegistry.shutdown} (default 5 s). */
  shutdownTimeoutMs?: number;
}

/** Options of {@link ModuleRegistry.installSignalHandlers}. */
export interface SignalHandlerOptions {
  /** Called once the shutdown has ended, with the modules that had not stopped in time. */
  onShutdown?: (stillRunning: string[]) => void;
  /** Overall deadline of the shutdown (default: the registry's). */
  timeoutMs?: number;
}

interface Entry {
  module: Module;
  enabled: boolean;
}

interface Running {
  module: Module;
  controller: AbortController;
  /** Settles (never rejects) when the module's start promise settles. */
  done: Promise<void>;
  settled: boolean;
}

/** Resolves true when `p` settles before `deadline` (a performance.now() value), else false. */
async function settlesBy(p: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()));
  });
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The set of registered modules and their lifecycle: {@link register} them, then
 * {@link start} them on a bus (in registration order), then {@link shutdown} (in reverse).
 * A registry starts once.
 */
export class ModuleRegistry {
  readonly #log: Logger;
  readonly #shutdownTimeoutMs: number;
  readonly #entries = new Map<string, Entry>();
  #bus?: MessageBus;
  #controller?: AbortController;
  #running: Running[] = [];
  #shutdown?: Promise<string[]>;
  /** Settles when {@link start} has finished (set up and started, or failed). */
  readonly #startEnded = Promise.withResolvers<void>();
  /** What the shutdown waits for now. */
  #pending: () => string = () => "";

  /** @param options logger and default shutdown timeout */
  constructor(options: ModuleRegistryOptions = {}) {
    this.#log = options.logger ?? silentLogger;
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  }

  /**
   * Registers `module`, enabled as `module.enabled` says. A name registered twice replaces
   * the earlier module (at the earlier one's place in the order).
   * @throws {Error} when the registry has already started
   */
  register(module: Module): void {
    if (this.#controller) {
      throw new Error(
        `Failed to register module ${JSON.stringify(module.name)}: registry already started`,
      );
    }
    this.#entries.set(module.name, { module, enabled: module.enabled });
  }

  /**
   * Enables or disables module `name` (overriding `module.enabled`).
   * @throws {Error} when no module has that name, or when the registry has already started
   */
  setEnabled(name: string, enabled: boolean): void {
    const action = enabled ? "enable" : "disable";
    const entry = this.#entries.get(name);
    if (!entry) {
      throw new Error(`Failed to ${action} module ${JSON.stringify(name)}: not registered`);
    }
    if (this.#controller) {
      throw new Error(
        `Failed to ${action} module ${JSON.stringify(name)}: registry already started`,
      );
    }
    entry.enabled = enabled;
  }

  /** True when module `name` is registered and enabled. */
  isEnabled(name: string): boolean {
    return this.#entries.get(name)?.enabled ?? false;
  }

  /** The registered module names, in registration order. */
  names(): string[] {
    return [...this.#entries.keys()];
  }

  /** Aborts when the shutdown begins, once {@link start} has been called. */
  get signal(): AbortSignal | undefined {
    return this.#controller?.signal;
  }

  /** What the shutdown waits for now (`""` before it begins and once it has ended). */
  get pending(): string {
    return this.#pending();
  }

  /**
   * Starts the enabled modules on `bus`: creates the queue of every enabled module that
   * has one (and adds it to its group), sets each up in registration order, then calls
   * every module's `start`. Resolves once all have been called; a `start` that fails or
   * ends before shutdown is logged. Disabled modules get no queue and are not started.
   * @throws {Error} when the registry has already started, or the error of the first
   *   module whose setup failed (after the modules set up before it were cleaned up)
   */
  async start(bus: MessageBus): Promise<void> {
    if (this.#controller) throw new Error("Failed to start modules: registry already started");
    this.#controller = new AbortController();
    this.#bus = bus;
    try {
      await this.#start(bus);
    } finally {
      this.#startEnded.resolve();
    }
  }

  async #start(bus: MessageBus): Promise<void> {
    const enabled = [...this.#entries.values()].filter((e) => e.enabled).map((e) => e.module);
    const queued = enabled.filter((m) => m.queue !== false);
    for (const m of queued) bus.addModule(m.name, m.group);
    const ready: Module[] = [];
    for (const m of enabled) {
      try {
        const set = m.setup?.(bus);
        if (set) await set; // no turn of the event loop for modules without an async setup
      } catch (e) {
        this.#log.debug("module setup failed", { module: m.name, error: errorText(e) });
        for (const q of queued) bus.removeModule(q.name);
        for (const r of ready.reverse()) await this.#cleanup(r);
        this.#running = [];
        throw e;
      }
      ready.push(m);
    }
    const controller = this.#controller!;
    for (const m of enabled) {
      const own = new AbortController();
      let started: Promise<void>;
      try {
        started = m.start(bus, own.signal);
      } catch (e) {
        started = Promise.reject(e);
      }
      const running: Running = {
        module: m,
        controller: own,
        done: Promise.resolve(),
        settled: false,
      };
      running.done = started.then(
        () => {
          if (!controller.signal.aborted) {
            this.#log.warn("module stopped before shutdown", { module: m.name });
          }
        },
        (e: unknown) => this.#log.error("module failed", { module: m.name, error: errorText(e) }),
      ).finally(() => {
        running.settled = true;
      });
      this.#running.push(running);
      this.#log.debug("module started", { module: m.name, group: m.group });
    }
  }

  /**
   * Graceful shutdown, within one overall deadline of `timeoutMs`: aborts {@link signal},
   * then stops the started modules one at a time in reverse registration order (aborts the
   * module's signal and waits for its start promise), then removes their queues (pending
   * receives reject) and cleans them up, again in reverse order. Once the deadline has
   * passed the remaining modules' signals abort at once and nothing more is cleaned up
   * (what is still running may use it). Calling it again returns the first call's promise;
   * before {@link start} it resolves to `[]` at once.
   * @returns the names of the modules that had not stopped (or been cleaned up) in time
   */
  shutdown(timeoutMs: number = this.#shutdownTimeoutMs): Promise<string[]> {
    if (!this.#controller) return Promise.resolve([]);
    this.#shutdown ??= this.#startEnded.promise.then(() => this.#stop(timeoutMs));
    return this.#shutdown;
  }

  /**
   * Shuts down (once) on the first SIGINT or SIGTERM (SIGINT only on Windows), then calls
   * `onShutdown` with the modules that did not stop in time. A signal during {@link start}
   * shuts down once the start has ended. Later signals are logged with what the shutdown
   * waits for, and do not cut it short.
   * @returns a function that removes the signal listeners
   */
  installSignalHandlers(
    options: SignalHandlerOptions | ((stillRunning: string[]) => void) = {},
  ): () => void {
    const { onShutdown, timeoutMs = this.#shutdownTimeoutMs } = typeof options === "function"
      ? { onShutdown: options }
      : options;
    const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
    let handled = false;
    const handlers = signals.map((signal) => {
      const handler = () => {
        if (handled) {
          this.#log.info("signal ignored, shutdown in progress", {
            signal,
            pending: this.pending || "start-up",
          });
          return;
        }
        handled = true;
        this.#log.info("shutting down", { signal, deadline_s: timeoutMs / 1000 });
        void this.#startEnded.promise.then(() => this.shutdown(timeoutMs)).then((still) =>
          onShutdown?.(still)
        );
      };
      Deno.addSignalListener(signal, handler);
      return { signal, handler };
    });
    return () => {
      for (const { signal, handler } of handlers) Deno.removeSignalListener(signal, handler);
    };
  }

  async #cleanup(m: Module): Promise<void> {
    try {
      await m.cleanup?.();
    } catch (e) {
      this.#log.error("module cleanup failed", { module: m.name, error: errorText(e) });
    }
  }

  async #stop(timeoutMs: number): Promise<string[]> {
    this.#controller?.abort();
    const deadline = performance.now() + Math.max(0, timeoutMs);
    const reversed = [...this.#running].reverse();
    let inTime = true;
    const describe = (r: Running) => r.module.pending?.() || `module ${r.module.name}`;
    for (const r of reversed) {
      if (inTime) this.#pending = () => describe(r);
      r.controller.abort();
      if (inTime) inTime = await settlesBy(r.done, deadline);
    }
    // Past the deadline: the modules aborted at once get one turn of the event loop.
    if (!inTime) await new Promise((r) => setTimeout(r, 0));
    const stuck = reversed.filter((r) => !r.settled);
    const still = stuck.map((r) => r.module.name);
    if (!inTime) this.#pending = () => stuck.map(describe).join("; ");
    else {
      for (const r of reversed) {
        if (r.module.queue !== false) this.#bus?.removeModule(r.module.name);
      }
      for (const r of reversed) {
        this.#pending = () => `cleanup of module ${r.module.name}`;
        if (!await settlesBy(this.#cleanup(r.module), deadline)) {
          still.push(r.module.name);
          break;
        }
      }
    }
    if (still.length > 0) {
      this.#log.warn("modules did not stop in time", { modules: still.join(",") });
    } else {
      this.#pending = () => "";
      this.#log.info("all modules stopped");
    }
    return still;
  }
}

/** Resolves when `signal` aborts (at once when it already has). */
export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** The hooks of a {@link servicePart}. */
export interface ServicePartHooks {
  /** Default true. */
  enabled?: boolean;
  /** As {@link Module.setup}. */
  setup?: () => void | Promise<void>;
  /** Called when the part's turn to stop has come; the part has stopped once it settles. */
  stop?: () => void | Promise<void>;
  /** As {@link Module.cleanup}. */
  cleanup?: () => void | Promise<void>;
  /** As {@link Module.pending}. */
  pending?: () => string;
}

/**
 * A part of a service that is no bus module (no queue, no group): it runs from its setup
 * until its turn to stop comes at shutdown, then `stop` runs.
 */
export function servicePart(name: string, hooks: ServicePartHooks): Module {
  return {
    name,
    group: "",
    enabled: hooks.enabled ?? true,
    queue: false,
    setup: hooks.setup && (() => hooks.setup!()),
    async start(_bus: MessageBus, signal: AbortSignal): Promise<void> {
      await untilAborted(signal);
      await hooks.stop?.();
    },
    cleanup: hooks.cleanup && (() => hooks.cleanup!()),
    pending: hooks.pending && (() => hooks.pending!()),
  };
}
