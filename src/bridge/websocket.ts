/**
 * External bus modules over WebSocket: a client that connects to
 * `/v1/modules/{name}?group={group}` becomes the module `name` of group `group`. Every
 * text frame is one message in KubeEdge wire JSON.
 *
 * - Frames from the client: a frame whose `parent_msg_id` answers a pending sync
 *   request completes it; any other goes to `route.destination` when set, else to
 *   `metaManager`. A malformed frame gets `{"error":"..."}` back; the connection stays.
 * - Backpressure, never drops: a peer's frames are handed to their destination queue one
 *   at a time, in order, each waiting for room there ({@link MessageBus.sendWaiting}); the
 *   frames that arrived meanwhile wait, as received text (parsed only when admitted), in
 *   the peer's inbox. Once the inbox holds {@link INBOX_PAUSE_FRAMES} frames (or
 *   {@link INBOX_PAUSE_BYTES}), the bridge stops reading the peer's socket (TCP
 *   backpressure: the sender's writes block once the kernel buffers are full) and resumes
 *   when the inbox is down to half. The inbox's size is reported (`held()`, /metrics).
 * - Frames are decoded in batches, a batch ahead of those being handed on, by the
 *   {@link FrameDecoding} given (serve's decodes a backlog on a worker thread, see
 *   src/metamanager/frame_decoder.ts); the results are handed on in the order received.
 * - Messages for the module (or its group) go to the client as frames, one at a time,
 *   each after the socket's send buffer is below {@link SEND_BUFFER_BYTES}: a slow reader
 *   leaves its messages in the module's bus queue (bounded, see src/beehive/bus.ts; what
 *   overflows it is dropped and counted), never in serve's socket buffers, and never
 *   makes the MetaManager wait. While no client is attached they wait in the same queue
 *   and are delivered on attach.
 * - Shutdown by the closing handshake ({@link ModuleBridge.close}, RFC 6455 §7.1): each
 *   peer gets a Close frame and nothing more; every frame it sent before its own Close
 *   frame is still read and handed on, however slow the CPU; {@link ModuleBridge.closed}
 *   tells when that is done, {@link ModuleBridge.terminateAll} cuts a peer that never
 *   answers.
 *
 * @module
 */

import type { MessageBus } from "../beehive/bus.ts";
import { type Message, toWire } from "../beehive/message.ts";
import { parseMessageOrError, WireError } from "../beehive/wire.ts";
import type { Logger } from "../logger.ts";
import { WarnLimiter } from "../warn_limiter.ts";
import type { PeerSocket } from "../serve/http_server.ts";

/** The bridge stops reading a peer's socket while its inbox holds this many frames... */
export const INBOX_PAUSE_FRAMES = 256;
/** ...or this many bytes of frames. */
export const INBOX_PAUSE_BYTES = 8 * 1024 * 1024;

const OPEN = 1; // WebSocket.OPEN

/** The pump sends a module's next message only while the socket buffers less than this. */
export const SEND_BUFFER_BYTES = 1024 * 1024;

/** Frames the pump writes at once at most (already queued messages, one system call). */
export const SEND_BATCH_FRAMES = 64;

/**
 * The TCP socket under a `ws` socket (its `_socket`, stable across ws 8), to cork while
 * several frames are sent; undefined if this ws has none.
 */
function tcpOf(socket: PeerSocket): { cork(): void; uncork(): void } | undefined {
  const tcp = (socket as unknown as { _socket?: { cork?: unknown; uncork?: unknown } })._socket;
  return typeof tcp?.cork === "function" && typeof tcp.uncork === "function"
    ? tcp as { cork(): void; uncork(): void }
    : undefined;
}

/** Frames decoded per batch at most (and {@link DECODE_BATCH_BYTES}). */
export const DECODE_BATCH_FRAMES = 64;
/** Bytes of frames decoded per batch at most. */
export const DECODE_BATCH_BYTES = 1024 * 1024;
/** Batches being decoded ahead of the one being handed on, at most. */
export const DECODE_AHEAD_BATCHES = 4;

/** What decodes the bridge's frames: a batch of texts to messages (or errors), in order. */
export interface FrameDecoding {
  decode(texts: string[]): Promise<(Message | Error)[]>;
  /** Whether to decode in batches, ahead (else one frame at a time, when admitted). */
  readonly prefersBatches?: boolean;
}

/** Decoding on the bridge's own thread, one frame at a time. */
const INLINE_DECODING: FrameDecoding = {
  prefersBatches: false,
  decode: (texts) => Promise.resolve(texts.map((t) => parseMessageOrError(t))),
};

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
  /** Called for every malformed or refused frame (`oversized` for one over the limit). */
  onBadFrame?: (kind: "oversized" | "bad") => void;
  /** Decodes frames (default: parseMessage on this thread). */
  decoder?: FrameDecoding;
}

/** One attached peer's frames that wait for room in their destination queue. */
interface Inbox {
  frames: string[];
  /** Frames taken from `frames` to be decoded, not yet handed on. */
  decoding: number;
  /** Bytes of `frames` and of those being decoded (UTF-8). */
  bytes: number;
  draining: boolean;
  /** Whether the socket's reading is paused because the inbox is full. */
  paused: boolean;
  /** Resolved when the inbox becomes empty with nothing being handed on. */
  idle?: PromiseWithResolvers<void>;
}

/** One attached peer. */
interface Attached {
  group: string;
  abort: AbortController;
  inbox: Inbox;
  socket: PeerSocket;
  /** Resolves when the socket has closed (closing handshake done, or cut). */
  closed: Promise<void>;
}

/** Why a module cannot attach (HTTP status and message). */
export interface AttachRefusal {
  status: number;
  message: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Attaches WebSocket clients as bus modules. */
export class ModuleBridge {
  readonly #attached = new Map<string, Attached>();
  /** Peers given a Close frame by {@link close}. */
  readonly #closing = new Map<string, Attached>();
  readonly #warnings: WarnLimiter;
  readonly #decoder: FrameDecoding;
  /** Times the bridge stopped reading a peer's socket because its inbox was full. */
  readPauses = 0;
  /** Most frames one peer's inbox has held at once since start. */
  heldPeak = 0;

  constructor(private readonly options: ModuleBridgeOptions) {
    this.#warnings = new WarnLimiter(options.logger);
    this.#decoder = options.decoder ?? INLINE_DECODING;
  }

  /** Frames received from attached peers that wait for room in their destination queue. */
  held(): number {
    let n = 0;
    for (const a of this.#attached.values()) n += a.inbox.frames.length + a.inbox.decoding;
    return n;
  }

  /** Writes pending rate-limited warnings now (at shutdown). */
  flushWarnings(): void {
    this.#warnings.flush();
  }

  /** Names of attached modules. */
  attached(): string[] {
    return [...this.#attached.keys()];
  }

  /** Whether any module of `group` is attached. */
  attachedInGroup(group: string): boolean {
    for (const a of this.#attached.values()) if (a.group === group) return true;
    return false;
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

  /** Makes the open `socket` the module `name` of `group` until it closes. Call after {@link check}. */
  attach(socket: PeerSocket, name: string, group: string): void {
    const { bus, logger } = this.options;
    if (!bus.hasModule(name)) bus.addModule(name, group);
    const abort = new AbortController();
    const inbox: Inbox = { frames: [], decoding: 0, bytes: 0, draining: false, paused: false };
    const closed = Promise.withResolvers<void>();
    const entry: Attached = { group, abort, inbox, socket, closed: closed.promise };
    this.#attached.set(name, entry);
    socket.on("message", (data, isBinary) => {
      this.#receive(socket, name, inbox, data as Uint8Array, isBinary);
    });
    const detach = () => {
      closed.resolve();
      if (this.#attached.get(name) !== entry) return;
      this.#attached.delete(name);
      abort.abort();
      logger.info("module detached", { module: name, group });
      this.options.onDetach?.(name, group);
    };
    socket.on("close", detach);
    socket.on("error", (e) => {
      logger.info("module connection failed", { module: name, error: String(e) });
      detach();
    });
    logger.info("module attached", { module: name, group });
    this.options.onAttach?.(name, group);
    this.#pump(socket, name, abort.signal);
  }

  /**
   * Starts the closing handshake with every attached peer (RFC 6455 §7.1.2): stops sending
   * it messages and sends a Close frame. Frames the peer sent before its own Close frame
   * are still read and handed on; {@link closed} tells when that is done.
   */
  close(code = 1001, reason = "shutting down"): void {
    for (const [name, a] of this.#attached) {
      this.#closing.set(name, a);
      a.abort.abort();
      if (a.socket.readyState === OPEN) a.socket.close(code, reason);
    }
  }

  /**
   * Resolves true once every peer given {@link close} has answered with its Close frame (or
   * its connection ended) and every frame it sent before is in its destination queue;
   * false when `signal` aborts first ({@link closingPeers} then names those still open).
   */
  async closed(signal: AbortSignal): Promise<boolean> {
    const aborted = new Promise<false>((resolve) => {
      if (signal.aborted) resolve(false);
      signal.addEventListener("abort", () => resolve(false), { once: true });
    });
    for (const a of this.#closing.values()) {
      const done = a.closed.then(() => this.#idle(a.inbox)).then(() => true as const);
      if (!await Promise.race([done, aborted])) return false;
    }
    return true;
  }

  /** Names of the peers given {@link close} that have not finished closing. */
  closingPeers(): string[] {
    return [...this.#closing].filter(([n, a]) =>
      this.#attached.get(n) === a || a.inbox.draining || a.inbox.frames.length > 0
    ).map(([n]) => n);
  }

  /** Cuts every socket still open (a peer that never answered the Close frame). */
  terminateAll(): void {
    for (const a of this.#attached.values()) {
      a.abort.abort();
      a.socket.terminate();
    }
  }

  /** Resolves when `inbox` is empty and no frame of it is being handed on. */
  #idle(inbox: Inbox): Promise<void> {
    if (!inbox.draining && inbox.frames.length === 0) return Promise.resolve();
    inbox.idle ??= Promise.withResolvers<void>();
    return inbox.idle.promise;
  }

  async #pump(socket: PeerSocket, name: string, signal: AbortSignal): Promise<void> {
    const { bus } = this.options;
    const tcp = tcpOf(socket);
    while (!signal.aborted && socket.readyState === OPEN) {
      let msg: Message;
      try {
        msg = await bus.receive(name, signal);
      } catch {
        break;
      }
      // A slow reader: wait until its socket has sent most of what it was given, so that
      // its backlog stays in the bounded bus queue instead of serve's socket buffer.
      while (
        !signal.aborted && socket.readyState === OPEN && socket.bufferedAmount > SEND_BUFFER_BYTES
      ) {
        await new Promise((r) => setTimeout(r, 5));
      }
      if (signal.aborted || socket.readyState !== OPEN) {
        bus.send(name, msg); // not delivered: back into the queue for the next client
        break;
      }
      // The messages already queued go out with this one in one write (one writev of
      // their frames, not one system call each: it was 17 µs per frame), as long as the
      // socket's buffer has room.
      tcp?.cork();
      try {
        socket.send(toWire(msg));
        for (let n = 1; n < SEND_BATCH_FRAMES && socket.bufferedAmount <= SEND_BUFFER_BYTES; n++) {
          const next = bus.tryReceive(name);
          if (next === undefined) break;
          socket.send(toWire(next));
        }
      } finally {
        tcp?.uncork();
      }
    }
  }

  /** Checks a frame's type and size at once; queues it in the peer's inbox. */
  #receive(
    socket: PeerSocket,
    peer: string,
    inbox: Inbox,
    data: Uint8Array,
    isBinary: boolean,
  ): void {
    const { maxFrameBytes } = this.options;
    if (isBinary) {
      return this.#refuse(socket, peer, "bad", "binary frames are not accepted; send text JSON");
    }
    const bytes = data.length;
    if (bytes > maxFrameBytes) {
      return this.#refuse(
        socket,
        peer,
        "oversized",
        `frame of ${bytes} bytes exceeds the limit of ${maxFrameBytes} bytes`,
        { bytes, limit: maxFrameBytes },
      );
    }
    inbox.frames.push(data.toString()); // ws has checked the UTF-8 (1007 otherwise)
    inbox.bytes += bytes;
    const held = inbox.frames.length + inbox.decoding;
    if (held > this.heldPeak) this.heldPeak = held;
    if (!inbox.paused && (held >= INBOX_PAUSE_FRAMES || inbox.bytes >= INBOX_PAUSE_BYTES)) {
      inbox.paused = true;
      this.readPauses++;
      socket.pause(); // TCP backpressure until the inbox is down to half
    }
    if (!inbox.draining) this.#drain(socket, peer, inbox);
  }

  /** Takes the inbox's next frames (a batch) and starts decoding them. */
  #decodeNext(
    inbox: Inbox,
  ): { texts: string[]; decoded: Promise<(Message | Error)[]> } | undefined {
    if (inbox.frames.length === 0) return undefined;
    const most = this.#decoder.prefersBatches ? DECODE_BATCH_FRAMES : 1;
    let n = 0, bytes = 0;
    while (n < inbox.frames.length && n < most && bytes < DECODE_BATCH_BYTES) {
      bytes += inbox.frames[n++].length;
    }
    const texts = inbox.frames.splice(0, n);
    inbox.decoding += n;
    return { texts, decoded: this.#decoder.decode(texts) };
  }

  /**
   * Hands the inbox's frames to their destinations in order, each when there is room; the
   * next batch is decoded meanwhile.
   */
  async #drain(socket: PeerSocket, peer: string, inbox: Inbox): Promise<void> {
    inbox.draining = true;
    try {
      // The frames of the same socket read arrive in one go: let them make one batch.
      await Promise.resolve();
      const started: { texts: string[]; decoded: Promise<(Message | Error)[]> }[] = [];
      const ahead = this.#decoder.prefersBatches ? DECODE_AHEAD_BATCHES : 1;
      const startMore = () => {
        while (started.length < ahead) {
          const b = this.#decodeNext(inbox);
          if (b === undefined) break;
          started.push(b);
        }
      };
      startMore();
      while (started.length > 0) {
        const batch = started[0];
        const decoded = await batch.decoded;
        started.shift();
        if (ahead > 1) startMore(); // decoding goes on while these are handed on
        for (let k = 0; k < decoded.length; k++) {
          inbox.decoding--;
          inbox.bytes -= batch.texts[k].length; // ASCII in practice; exact enough for a threshold
          if (
            inbox.paused && inbox.frames.length + inbox.decoding <= INBOX_PAUSE_FRAMES / 2 &&
            inbox.bytes <= INBOX_PAUSE_BYTES / 2
          ) {
            inbox.paused = false;
            socket.resume();
          }
          const admit = this.#frame(socket, peer, decoded[k]);
          if (admit) await admit;
        }
        startMore();
      }
    } finally {
      inbox.draining = false;
      inbox.decoding = 0;
      inbox.bytes = 0;
      inbox.idle?.resolve();
      inbox.idle = undefined;
      if (inbox.paused) {
        inbox.paused = false;
        socket.resume();
      }
    }
  }

  #refuse(
    socket: PeerSocket,
    peer: string,
    kind: "oversized" | "bad",
    error: string,
    fields: Record<string, unknown> = {},
  ): void {
    this.options.onBadFrame?.(kind);
    this.#warnings.warn(
      kind === "oversized" ? "oversized frames refused" : "bad frames refused",
      peer,
      { module: peer, ...fields, error },
    );
    if (socket.readyState === OPEN) socket.send(JSON.stringify({ error }));
  }

  /** Routes one decoded frame; returns the wait for room in its destination queue, if any. */
  #frame(socket: PeerSocket, peer: string, msg: Message | Error): Promise<unknown> | undefined {
    const { bus } = this.options;
    if (msg instanceof Error) {
      this.#refuse(
        socket,
        peer,
        "bad",
        msg instanceof WireError ? `invalid message: ${msg.message}` : String(msg),
      );
      return;
    }
    const parent = msg.header.parentMsgId;
    if (parent !== "" && bus.hasWaiter(parent)) {
      bus.sendResp(msg);
      return;
    }
    const to = msg.route.destination || this.options.defaultDestination;
    if (!bus.hasModule(to)) {
      this.#refuse(socket, peer, "bad", `unknown destination module ${JSON.stringify(to)}`);
      return;
    }
    return bus.sendWaiting(to, msg);
  }
}
