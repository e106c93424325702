/**
 * Decoding of incoming frames, on the second core when there is a backlog.
 *
 * A frame's decoding (parseMessage) and what Inject derives from its content (the meta_v2
 * row with its Go marshal, see {@link prepareObject}) depend on the frame's text alone, so
 * they can run on a worker thread while the single writer (the metaManager loop on the
 * main thread) runs the SQL and commits. Batches of frames go to one worker and come back
 * in order; each caller awaits its batches in the order it asked, so the order of a peer's
 * frames is kept. Nothing about the guarantees changes: the loop still acknowledges after
 * commit, one batch per transaction.
 *
 * When it pays (bench/PROFILE.md): only when asked (`worker: true`; serve's
 * `edgecoreMeta.decodeOnWorker`, replay's `decodeOnWorker`). On the 2-core bench machine,
 * whose two cores the clients share, the hop cost more CPU (structured clone, a second
 * heap) than it took off the main thread, so it is off by default. A batch of fewer than
 * `minWorkerBatch` frames is decoded here, at once (one frame gains nothing from the hop,
 * and loses its latency); so is every batch on a machine of one core, or once the worker
 * failed (logged). The worker starts at the first backlog and stops after `idleMs` without
 * work, so an idle service does not keep its heap.
 *
 * @module
 */

import { Content, type Message } from "../beehive/message.ts";
import {
  CLOUD_SOURCES,
  parseMessage,
  parseMessageOrError,
  type Transport,
  WireError,
} from "../beehive/wire.ts";
import type { Logger } from "../logger.ts";
import { attachPrepared, type PreparedObject, prepareObject } from "./inject.ts";

/** A frame as decoded: the message, or why it is not one. */
export type Decoded = Message | Error;

/**
 * Decoded frames as the worker sends them back: one flat array of primitives, {@link STRIDE}
 * slots per frame (structured cloning of plain strings and numbers costs about half that
 * of the same values in objects). Slot 0 is the kind: {@link KIND_MESSAGE} (then the header,
 * route, content and, when prepared, the meta_v2 row: see {@link packFrame}),
 * {@link KIND_WIRE_ERROR} (field, reason) or {@link KIND_ERROR} (name, message).
 */
export type PackedFrames = (string | number | bigint | boolean | undefined)[];

const STRIDE = 22;
const KIND_MESSAGE = 0;
const KIND_WIRE_ERROR = 1;
const KIND_ERROR = 2;

/** A request to the decoder worker. */
export type DecoderRequest =
  | { op: "config"; transport: Transport; cloudSources: string[] }
  | { op: "decode"; id: number; texts: string[] };

/** A reply of the decoder worker. */
export type DecoderReply = { op: "decoded"; id: number; frames: PackedFrames };

/** Operations whose content Inject turns into meta_v2 rows (worth preparing). */
const INJECT_OPERATIONS: ReadonlySet<string> = new Set(["insert", "update", "delete"]);

/**
 * Decodes one frame and appends it to `out` ({@link PackedFrames}), with the meta_v2 row
 * of its object prepared: what the worker runs for each frame.
 */
export function packFrame(
  text: string,
  transport: Transport,
  cloudSources: ReadonlySet<string>,
  out: PackedFrames,
): void {
  const at = out.length;
  out.length += STRIDE;
  let msg: Message;
  try {
    msg = parseMessage(text, transport, cloudSources);
  } catch (e) {
    if (e instanceof WireError) {
      out[at] = KIND_WIRE_ERROR;
      out[at + 1] = e.field;
      out[at + 2] = e.reason;
    } else {
      out[at] = KIND_ERROR;
      out[at + 1] = e instanceof Error ? e.name : "Error";
      out[at + 2] = e instanceof Error ? e.message : String(e);
    }
    return;
  }
  const { header: h, route: r, content } = msg;
  out[at] = KIND_MESSAGE;
  out[at + 1] = h.msgId;
  out[at + 2] = h.parentMsgId;
  out[at + 3] = h.timestamp;
  out[at + 4] = h.resourceVersion;
  out[at + 5] = h.sync;
  out[at + 6] = h.type;
  out[at + 7] = r.source;
  out[at + 8] = r.destination;
  out[at + 9] = r.group;
  out[at + 10] = r.operation;
  out[at + 11] = r.resource;
  out[at + 12] = content.json;
  out[at + 13] = content.bytes;
  let prepared: PreparedObject | undefined;
  if (INJECT_OPERATIONS.has(r.operation) && content.json.charCodeAt(0) === 0x7b) {
    try {
      prepared = prepareObject(content);
    } catch {
      prepared = undefined; // Inject meets the same problem on the main thread and words it
    }
  }
  if (prepared === undefined) return;
  const row = prepared.row;
  out[at + 14] = row.key;
  out[at + 15] = row.groupversionresource;
  out[at + 16] = row.namespace;
  out[at + 17] = row.name;
  out[at + 18] = row.resourceversion;
  out[at + 19] = row.value;
  out[at + 20] = prepared.rv;
  out[at + 21] = 1;
}

/** The messages (or errors) of packed frames, on the receiving thread. */
export function unpackFrames(frames: PackedFrames): Decoded[] {
  const out: Decoded[] = [];
  for (let at = 0; at < frames.length; at += STRIDE) {
    const kind = frames[at];
    if (kind === KIND_WIRE_ERROR) {
      out.push(new WireError(frames[at + 1] as string, frames[at + 2] as string));
      continue;
    }
    if (kind !== KIND_MESSAGE) {
      const e = new Error(frames[at + 2] as string);
      e.name = frames[at + 1] as string; // String(e) as on the worker
      out.push(e);
      continue;
    }
    const content = Content.fromParts(frames[at + 12] as string, frames[at + 13] as boolean);
    if (frames[at + 21] === 1) {
      attachPrepared(content, {
        row: {
          key: frames[at + 14] as string,
          groupversionresource: frames[at + 15] as string,
          namespace: frames[at + 16] as string,
          name: frames[at + 17] as string,
          resourceversion: frames[at + 18] as number | bigint,
          value: frames[at + 19] as string,
        },
        rv: frames[at + 20] as string,
      });
    }
    out.push({
      header: {
        msgId: frames[at + 1] as string,
        parentMsgId: frames[at + 2] as string,
        timestamp: frames[at + 3] as number | bigint,
        resourceVersion: frames[at + 4] as string,
        sync: frames[at + 5] as boolean,
        type: frames[at + 6] as string,
      },
      route: {
        source: frames[at + 7] as string,
        destination: frames[at + 8] as string,
        group: frames[at + 9] as string,
        operation: frames[at + 10] as string,
        resource: frames[at + 11] as string,
      },
      content,
    });
  }
  return out;
}

/** Options of a {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /** How frames are decoded (default raw, as the bridge hands them over). */
  transport?: Transport;
  /** The release's cloud modules (websocket transport; default v1.10's). */
  cloudSources?: ReadonlySet<string>;
  /**
   * Whether to use a worker thread at all (default false; true is taken only on a machine
   * with two cores or more).
   */
  worker?: boolean;
  /** Smallest batch sent to the worker (default 4); smaller ones are decoded here. */
  minWorkerBatch?: number;
  /** The worker stops after this long without work (default 10 s). */
  idleMs?: number;
  logger?: Logger;
}

interface Pending {
  texts: string[];
  resolve: (decoded: Decoded[]) => void;
}

/** Decodes batches of frames, in order, on a worker thread when there is a backlog. */
export class FrameDecoder {
  readonly #transport: Transport;
  readonly #cloudSources: ReadonlySet<string>;
  readonly #minWorkerBatch: number;
  readonly #idleMs: number;
  readonly #log?: Logger;
  #useWorker: boolean;
  #worker?: Worker;
  #nextId = 0;
  readonly #pending = new Map<number, Pending>();
  #idleTimer?: ReturnType<typeof setTimeout>;
  /**
   * Counters (metrics, tests): batches decoded on the worker and here, frames in all (a
   * batch the worker held when it stopped counts once, as the worker's).
   */
  readonly stats = { workerBatches: 0, inlineBatches: 0, frames: 0 };

  constructor(options: FrameDecoderOptions = {}) {
    this.#transport = options.transport ?? "raw";
    this.#cloudSources = options.cloudSources ?? CLOUD_SOURCES;
    this.#minWorkerBatch = options.minWorkerBatch ?? 4;
    this.#idleMs = options.idleMs ?? 10_000;
    this.#log = options.logger;
    this.#useWorker = (options.worker ?? false) && (navigator.hardwareConcurrency ?? 1) >= 2;
  }

  /**
   * Whether batches are worth forming: true while the worker is in use. Without it, a
   * caller decodes one frame at a time, when it needs it (as before the worker existed).
   */
  get prefersBatches(): boolean {
    return this.#useWorker;
  }

  /** Decodes `texts` here, now (as parseMessage does). */
  decodeInline(texts: string[]): Decoded[] {
    this.stats.inlineBatches++;
    this.stats.frames += texts.length;
    return this.#parseAll(texts);
  }

  #parseAll(texts: string[]): Decoded[] {
    return texts.map((t) => parseMessageOrError(t, this.#transport, this.#cloudSources));
  }

  /** Decodes `texts`; the results are in their order. */
  decode(texts: string[]): Promise<Decoded[]> {
    if (!this.#useWorker || texts.length < this.#minWorkerBatch) {
      return Promise.resolve(this.decodeInline(texts));
    }
    const worker = this.#ensureWorker();
    if (worker === undefined) return Promise.resolve(this.decodeInline(texts));
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const id = this.#nextId++;
    const { promise, resolve } = Promise.withResolvers<Decoded[]>();
    this.#pending.set(id, { texts, resolve });
    this.stats.workerBatches++;
    this.stats.frames += texts.length;
    worker.postMessage({ op: "decode", id, texts } satisfies DecoderRequest);
    return promise;
  }

  /** Stops the worker; batches it still held are decoded here. */
  close(): void {
    this.#useWorker = false;
    this.#stopWorker();
  }

  #ensureWorker(): Worker | undefined {
    if (this.#worker !== undefined) return this.#worker;
    let worker: Worker;
    try {
      worker = new Worker(new URL("./frame_decoder_worker.ts", import.meta.url).href, {
        type: "module",
      });
    } catch (e) {
      this.#fail(`cannot start the worker: ${(e as Error).message}`);
      return undefined;
    }
    worker.onmessage = (e: MessageEvent<DecoderReply>) => this.#onReply(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault(); // a broken worker must not take the service down
      this.#fail(e.message);
    };
    worker.postMessage(
      {
        op: "config",
        transport: this.#transport,
        cloudSources: [...this.#cloudSources],
      } satisfies DecoderRequest,
    );
    this.#worker = worker;
    return worker;
  }

  #onReply(reply: DecoderReply): void {
    const p = this.#pending.get(reply.id);
    if (p === undefined) return;
    this.#pending.delete(reply.id);
    p.resolve(unpackFrames(reply.frames));
    if (this.#pending.size === 0 && this.#worker !== undefined) {
      const timer = setTimeout(() => this.#stopWorker(), this.#idleMs);
      Deno.unrefTimer(timer);
      this.#idleTimer = timer;
    }
  }

  #fail(reason: string): void {
    this.#log?.warn("frame decoder worker failed; decoding on the main thread", {
      error: reason,
    });
    this.#useWorker = false;
    this.#stopWorker();
  }

  /** Terminates the worker; what it still held is decoded here, in order. */
  #stopWorker(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#worker?.terminate();
    this.#worker = undefined;
    const held = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of held) p.resolve(this.#parseAll(p.texts)); // counted when sent
  }
}
