/**
 * End-to-end test support: a WebSocket client that attaches to a running serve as an
 * external bus module (`ws://HOST:PORT/v1/modules/NAME?group=GROUP`), records every frame
 * it receives (parsed JSON) and lets a test wait for a frame matching a predicate.
 *
 * @module
 */

import { withTimeout } from "./serve_process.ts";
import { scaled } from "./time_scale.ts";

/** A frame as received: a message in wire JSON, or serve's `{"error": ...}`. */
export interface WireFrame {
  header?: {
    msg_id?: string;
    parent_msg_id?: string;
    timestamp?: number;
    resourceversion?: string;
    sync?: boolean;
    type?: string;
  };
  route?: {
    source?: string;
    destination?: string;
    group?: string;
    operation?: string;
    resource?: string;
  };
  content?: unknown;
  error?: string;
}

/** A predicate over received frames. */
export type FramePredicate = (frame: WireFrame) => boolean;

/** An attached external module. */
export class WsModule {
  /** Every frame received so far, in order. */
  readonly frames: WireFrame[] = [];
  /** Raw text of every frame received so far, in order. */
  readonly raw: string[] = [];
  /** Resolves when the socket has closed (by either side). */
  readonly closed: Promise<CloseEvent>;
  readonly #ws: WebSocket;
  readonly #hooks = new Set<(frame: WireFrame, raw: string) => void>();

  private constructor(ws: WebSocket, closed: Promise<CloseEvent>) {
    this.#ws = ws;
    this.closed = closed;
    ws.onmessage = (e: MessageEvent) => {
      const raw = String(e.data);
      let frame: WireFrame;
      try {
        frame = JSON.parse(raw);
      } catch {
        frame = { error: `test client: frame is not JSON: ${raw}` };
      }
      this.raw.push(raw);
      this.frames.push(frame);
      for (const h of [...this.#hooks]) h(frame, raw);
    };
  }

  /**
   * Connects as module `name` of `group` to serve at `address` (`127.0.0.1:PORT`).
   * @throws {Error} when the connection is refused or not open within `timeoutMs`
   */
  static async connect(
    address: string,
    name: string,
    group: string,
    timeoutMs = 10_000,
  ): Promise<WsModule> {
    const url = `ws://${address}/v1/modules/${encodeURIComponent(name)}?group=${
      encodeURIComponent(group)
    }`;
    const ws = new WebSocket(url);
    const closed = new Promise<CloseEvent>((resolve) => {
      ws.addEventListener("close", (e) => resolve(e));
    });
    const opened = new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve());
      ws.addEventListener("error", () => reject(new Error(`cannot attach ${name}/${group}`)));
      closed.then(() => reject(new Error(`${url} closed before opening`)));
    });
    const module = new WsModule(ws, closed);
    try {
      await withTimeout(opened, timeoutMs, `WebSocket ${url} did not open`);
    } catch (e) {
      await module.close();
      throw e;
    }
    return module;
  }

  /** Sends `frame`: a string as is, anything else as JSON. */
  send(frame: unknown): void {
    this.#ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /**
   * Resolves once every frame sent so far has been handed to the operating system
   * (`bufferedAmount` is 0): from then on it is on its way to serve, whatever the test does.
   */
  async flushed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + scaled(timeoutMs);
    while (this.#ws.bufferedAmount > 0) {
      if (Date.now() > deadline) {
        throw new Error(
          `${this.#ws.bufferedAmount} bytes still buffered after ${scaled(timeoutMs)} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** Whether the socket is open. */
  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  /**
   * Calls `hook` synchronously for every frame received from now on (returns a remover).
   * Use it to observe state at the exact moment a frame arrives.
   */
  onFrame(hook: (frame: WireFrame, raw: string) => void): () => void {
    this.#hooks.add(hook);
    return () => this.#hooks.delete(hook);
  }

  /**
   * Resolves with the first frame (already received or arriving later) that matches.
   * @throws {Error} listing the frames received when none matches within `timeoutMs`
   */
  waitFor(
    predicate: FramePredicate,
    timeoutMs = 10_000,
    what = "a matching frame",
  ): Promise<WireFrame> {
    const seen = this.frames.find(predicate);
    if (seen) return Promise.resolve(seen);
    let remove = () => {};
    const found = new Promise<WireFrame>((resolve) => {
      remove = this.onFrame((f) => {
        if (predicate(f)) resolve(f);
      });
    });
    return withTimeout(found, timeoutMs, `no ${what} received`)
      .catch((e: Error) => {
        throw new Error(`${e.message}; got ${this.raw.length} frame(s):\n${this.raw.join("\n")}`);
      })
      .finally(remove);
  }

  /** Closes the socket (if open) and waits for the close to complete. */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.#ws.readyState === WebSocket.CONNECTING || this.#ws.readyState === WebSocket.OPEN) {
      this.#ws.close(1000, "test done");
    }
    await withTimeout(this.closed, timeoutMs, "WebSocket did not close");
  }
}

/** A frame predicate: a message with this operation (and optionally parent id / resource). */
export function isMessage(
  operation: string,
  opts: { parent?: string; resource?: string; msgId?: string; source?: string } = {},
): FramePredicate {
  return (f) =>
    f.route?.operation === operation &&
    (opts.parent === undefined || f.header?.parent_msg_id === opts.parent) &&
    (opts.resource === undefined || f.route?.resource === opts.resource) &&
    (opts.msgId === undefined || f.header?.msg_id === opts.msgId) &&
    (opts.source === undefined || f.route?.source === opts.source);
}
