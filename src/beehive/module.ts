/**
 * Beehive modules and their lifecycle: registration, enabling, start and graceful shutdown
 * (spec/message.md §3).
 *
 * @module
 */

import type { MessageBus } from "./bus.ts";
import { type Logger, silentLogger } from "../logger.ts";

/** How long {@link ModuleRegistry.shutdown} waits for modules to stop by default. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000;

/** A named actor with one inbound queue on the {@link MessageBus}. */
export interface Module {
  /** Module name, also the name of its queue. */
  readonly name: string;
  /** Group the module joins (`""` for none). */
  readonly group: string;
  /** Whether the module starts by default; see {@link ModuleRegistry.setEnabled}. */
  readonly enabled: boolean;
  /**
   * Runs the module: called once, after every enabled module has its queue. The promise
   * should settle when the module stops, which it must do soon after `signal` aborts.
   */
  start(bus: MessageBus, signal: AbortSignal): Promise<void>;
}

/** Options of a {@link ModuleRegistry}. */
export interface ModuleRegistryOptions {
  /** Where lifecycle events are logged (default: nowhere). */
  logger?: Logger;
  /** Default wait of {@link ModuleRegistry.shutdown} (default 5 s). */
  shutdownTimeoutMs?: number;
}

interface Entry {
  module: Module;
  enabled: boolean;
}

interface Running {
  name: string;
  /** Settles (never rejects) when the module's start promise settles. */
  done: Promise<void>;
  settled: boolean;
}

/**
 * The set of registered modules and their lifecycle: {@link register} them, then
 * {@link start} them on a bus, then {@link shutdown}. A registry starts once.
 */
export class ModuleRegistry {
  readonly #log: Logger;
  readonly #shutdownTimeoutMs: number;
  readonly #entries = new Map<string, Entry>();
  #bus?: MessageBus;
  #controller?: AbortController;
  #running: Running[] = [];
  #shutdown?: Promise<string[]>;

  /** @param options logger and default shutdown timeout */
  constructor(options: ModuleRegistryOptions = {}) {
    this.#log = options.logger ?? silentLogger;
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  }

  /**
   * Registers `module`, enabled as `module.enabled` says. A name registered twice replaces
   * the earlier module.
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

  /** The shared stop signal, once {@link start} has been called. */
  get signal(): AbortSignal | undefined {
    return this.#controller?.signal;
  }

  /**
   * Starts the enabled modules on `bus`: first creates the queue of every enabled module
   * (and adds it to its group), then calls every module's `start` with the shared signal.
   * Returns once all have been called; a start that fails or ends before shutdown is logged.
   * Disabled modules get no queue and are not started.
   * @throws {Error} when the registry has already started
   */
  start(bus: MessageBus): void {
    if (this.#controller) throw new Error("Failed to start modules: registry already started");
    const controller = new AbortController();
    this.#controller = controller;
    this.#bus = bus;
    const enabled = [...this.#entries.values()].filter((e) => e.enabled).map((e) => e.module);
    for (const m of enabled) bus.addModule(m.name, m.group);
    for (const m of enabled) {
      let started: Promise<void>;
      try {
        started = m.start(bus, controller.signal);
      } catch (e) {
        started = Promise.reject(e);
      }
      const running: Running = { name: m.name, done: Promise.resolve(), settled: false };
      running.done = started.then(
        () => {
          if (!controller.signal.aborted) {
            this.#log.warn("module stopped before shutdown", { module: m.name });
          }
        },
        (e: unknown) => {
          this.#log.error("module failed", {
            module: m.name,
            error: e instanceof Error ? e.message : String(e),
          });
        },
      ).finally(() => {
        running.settled = true;
      });
      this.#running.push(running);
      this.#log.info("module started", { module: m.name, group: m.group });
    }
  }

  /**
   * Graceful shutdown: aborts the shared signal, removes the queue of every started module
   * (pending receives reject), then waits up to `timeoutMs` for the start promises to
   * settle. Calling it again returns the first call's promise; before {@link start} it
   * resolves to `[]` at once.
   * @returns the names of the modules that had not stopped when the wait ended
   */
  shutdown(timeoutMs: number = this.#shutdownTimeoutMs): Promise<string[]> {
    if (!this.#controller) return Promise.resolve([]);
    this.#shutdown ??= this.#stop(timeoutMs);
    return this.#shutdown;
  }

  /**
   * Shuts down (once) on the first SIGINT or SIGTERM (SIGINT only on Windows), then calls
   * `onShutdown` with the modules that did not stop in time. Later signals are ignored.
   * @returns a function that removes the signal listeners
   */
  installSignalHandlers(onShutdown?: (stillRunning: string[]) => void): () => void {
    const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
    let handled = false;
    const handlers = signals.map((signal) => {
      const handler = () => {
        if (handled) {
          this.#log.info("signal ignored, shutdown in progress", { signal });
          return;
        }
        handled = true;
        this.#log.info("signal received, shutting down", { signal });
        void this.shutdown().then((still) => onShutdown?.(still));
      };
      Deno.addSignalListener(signal, handler);
      return { signal, handler };
    });
    return () => {
      for (const { signal, handler } of handlers) Deno.removeSignalListener(signal, handler);
    };
  }

  async #stop(timeoutMs: number): Promise<string[]> {
    this.#controller?.abort();
    for (const r of this.#running) this.#bus?.removeModule(r.name);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, timeoutMs));
    });
    try {
      await Promise.race([Promise.all(this.#running.map((r) => r.done)), timedOut]);
    } finally {
      clearTimeout(timer);
    }
    const still = this.#running.filter((r) => !r.settled).map((r) => r.name);
    if (still.length > 0) {
      this.#log.warn("modules did not stop in time", { modules: still.join(",") });
    } else this.#log.info("all modules stopped");
    return still;
  }
}
