/**
 * External bus modules over WebSocket: a client that connects to
 * `/v1/modules/{name}?group={group}` becomes the module `name` of group `group`. Every
 * text frame is one message in KubeEdge wire JSON.
 *
 * - Frames from the client: a frame whose `parent_msg_id` answers a pending sync
 *   request completes it; any other goes to `route.destination` when set, else to
 *   `metaManager`. A malformed frame gets `{"error":"..."}` back; the connection stays.
 * - Messages for the module (or its group) go to the client as frames. While no client
 *   is attached they wait in the module's bus queue (bounded, see src/beehive/bus.ts)
 *   and are delivered on attach.
 *
 * @module
 */

import type { MessageBus } from "../beehive/bus.ts";
import { type Message, toWire } from "../beehive/message.ts";
import { parseMessage, WireError } from "../beehive/wire.ts";
import type { Logger } from "../logger.ts";

/** Options of a {@link ModuleBridge}. */
export interface ModuleBridgeOptions {
  bus: MessageBus;
  logger: Logger;
  /** Module that frames without a destination go to. */
  defaultDestination: string;
  /** Largest accepted frame in bytes. */
  maxFrameBytes: number;
  /** Called when a module attaches or detaches (cloud connection state). */
  onAttach?: (name: string, group: string) => void;
  onDetach?: (name: string, group: string) => void;
  /** Called for every malformed or refused frame. */
  onBadFrame?: () => void;
}

/** Why a module cannot attach (HTTP status and message). */
export interface AttachRefusal {
  status: number;
  message: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Bytes of `s` in UTF-8. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c < 0xdc00 ? (i++, 4) : 3;
  }
  return n;
}

/** Attaches WebSocket clients as bus modules. */
export class ModuleBridge {
  readonly #attached = new Map<string, { group: string; abort: AbortController }>();
  /** performance.now() of the last frame received from any module (0 = none yet). */
  lastFrameAt = 0;

  constructor(private readonly options: ModuleBridgeOptions) {}

  /** Names of attached modules. */
  attached(): string[] {
    return [...this.#attached.keys()];
  }

  /** Whether `name` may attach as a member of `group` now; undefined when it may. */
  check(name: string, group: string): AttachRefusal | undefined {
    if (!NAME.test(name)) {
      return { status: 400, message: `invalid module name ${JSON.stringify(name)}` };
    }
    if (!NAME.test(group)) {
      return { status: 400, message: `invalid or missing group ${JSON.stringify(group)}` };
    }
    if (name === this.options.defaultDestination) {
      return { status: 409, message: `module ${name} is internal and cannot be attached` };
    }
    if (this.#attached.has(name)) {
      return { status: 409, message: `module ${name} is already attached` };
    }
    const bus = this.options.bus;
    if (bus.hasModule(name) && !bus.groupMembers(group).includes(name)) {
      return { status: 409, message: `module ${name} exists in another group` };
    }
    return undefined;
  }

  /** Makes `socket` the module `name` of `group` until it closes. Call after {@link check}. */
  attach(socket: WebSocket, name: string, group: string): void {
    const { bus, logger } = this.options;
    if (!bus.hasModule(name)) bus.addModule(name, group);
    const abort = new AbortController();
    this.#attached.set(name, { group, abort });
    socket.onopen = () => {
      logger.info("module attached", { module: name, group });
      this.options.onAttach?.(name, group);
      this.#pump(socket, name, abort.signal);
    };
    socket.onmessage = (e) => {
      this.lastFrameAt = performance.now();
      this.#frame(socket, e.data);
    };
    const detach = () => {
      if (this.#attached.get(name)?.abort !== abort) return;
      this.#attached.delete(name);
      abort.abort();
      logger.info("module detached", { module: name, group });
      this.options.onDetach?.(name, group);
    };
    socket.onclose = detach;
    socket.onerror = detach;
  }

  /** Closes every attached module's socket. */
  closeAll(): void {
    for (const { abort } of this.#attached.values()) abort.abort();
  }

  async #pump(socket: WebSocket, name: string, signal: AbortSignal): Promise<void> {
    const { bus } = this.options;
    signal.addEventListener("abort", () => {
      if (socket.readyState === WebSocket.OPEN) socket.close(1001, "shutting down");
    });
    while (!signal.aborted && socket.readyState === WebSocket.OPEN) {
      let msg: Message;
      try {
        msg = await bus.receive(name, signal);
      } catch {
        break;
      }
      if (socket.readyState !== WebSocket.OPEN) {
        bus.send(name, msg); // not delivered: back into the queue for the next client
        break;
      }
      socket.send(toWire(msg));
    }
  }

  #frame(socket: WebSocket, data: unknown): void {
    const { bus, logger, maxFrameBytes } = this.options;
    const reply = (error: string) => {
      this.options.onBadFrame?.();
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ error }));
    };
    if (typeof data !== "string") return reply("binary frames are not accepted; send text JSON");
    // UTF-8 size: a character is 1 to 3 bytes (a surrogate pair, 2 characters, is 4).
    const bytes = data.length * 3 <= maxFrameBytes ? data.length : utf8Length(data);
    if (bytes > maxFrameBytes) {
      return reply(`frame of ${bytes} bytes exceeds the limit of ${maxFrameBytes} bytes`);
    }
    let msg: Message;
    try {
      msg = parseMessage(data);
    } catch (e) {
      return reply(e instanceof WireError ? `invalid message: ${e.message}` : String(e));
    }
    const parent = msg.header.parentMsgId;
    if (parent !== "" && bus.hasWaiter(parent)) {
      bus.sendResp(msg);
      return;
    }
    const to = msg.route.destination || this.options.defaultDestination;
    if (!bus.hasModule(to)) return reply(`unknown destination module ${JSON.stringify(to)}`);
    bus.send(to, msg).catch((e) => logger.warn("frame not delivered", { to, error: String(e) }));
  }
}
