/**
 * The beehive "channel context": one bounded FIFO queue per module, module groups, and
 * the send / receive / sync-send / response primitives of spec/message.md §4.
 *
 * @module
 */

import { type Message, withHeader } from "./message.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { WarnLimiter } from "../warn_limiter.ts";

/** Queue capacity per module (spec/message.md §4). */
export const DEFAULT_QUEUE_CAPACITY = 1024;
/** How many sends may wait for space in one module's full queue before more are dropped. */
export const DEFAULT_MAX_BLOCKED_SENDS = 1024;
/** Timeout used by the sync primitives when a timeout ≤ 0 is passed. */
export const DEFAULT_SYNC_TIMEOUT_MS = 30_000;
/** How many finished sync request ids are remembered to tell late replies from strays. */
const REMEMBERED_FINISHED_IDS = 1024;

/** Options of a {@link MessageBus}. */
export interface MessageBusOptions {
  /** Messages a module queue holds (default {@link DEFAULT_QUEUE_CAPACITY}); at least 1. */
  capacity?: number;
  /**
   * Sends that may wait for space in one full queue (default
   * {@link DEFAULT_MAX_BLOCKED_SENDS}); beyond it messages are dropped. At least 0.
   */
  maxBlockedSends?: number;
  /** Where drops and warnings are logged (default: nowhere). */
  logger?: Logger;
  /** beehive's SendSync failure texts of the KubeEdge release (default v1.10's). */
  syncErrors?: SyncErrorTexts;
}

/** The texts of beehive's SendSync failures, which differ between KubeEdge releases. */
export interface SyncErrorTexts {
  /** The request could not be enqueued before the deadline. */
  sendTimeout(requestId: string): string;
  /** No reply came before the deadline. */
  responseTimeout(requestId: string): string;
}

/** beehive at v1.10 (commit 9a7e140, `context_channel.go: SendSync`): no id quoted. */
export const SYNC_ERRORS_V1_10: SyncErrorTexts = {
  sendTimeout: () => "timeout to send message",
  responseTimeout: () => "timeout to get response",
};

/**
 * beehive at v1.23.1 (`staging/.../beehive/pkg/core/channel/context_channel.go: SendSync`,
 * spec/v1.23.md §6): the request's id is quoted, `timeout to get response for message <id>`.
 */
export const SYNC_ERRORS_V1_23: SyncErrorTexts = {
  sendTimeout: (id) => `timeout to send message ${id}`,
  responseTimeout: (id) => `timeout to get response for message ${id}`,
};

/** The state of one module queue, as reported by {@link MessageBus.stats}. */
export interface QueueStats {
  /** The module's group (`""` when it has none). */
  group: string;
  /** Messages waiting in the queue. */
  depth: number;
  /** Sends waiting for space because the queue is full. */
  blockedSends: number;
  /** Pending {@link MessageBus.receive} calls. */
  waitingReceivers: number;
}

/**
 * Counters of a {@link MessageBus}. The `dropped*`, `lateReplies` and `unmatchedReplies`
 * counters count messages lost without the sender being told; errors returned to a caller
 * (sync primitives, {@link MessageBus.receive}) are not counted.
 */
export interface BusStats {
  /** Messages enqueued into a module queue (a group send counts once per member). */
  sent: number;
  /** Replies handed to a waiting sync sender. */
  replies: number;
  /** Messages sent to a module that has no queue. */
  droppedUnknownModule: number;
  /** Messages sent to a group that has no members. */
  droppedUnknownGroup: number;
  /** Messages dropped because the queue was full and too many sends were already waiting. */
  droppedFull: number;
  /** Queued or waiting messages lost because their module was removed. */
  droppedRemoved: number;
  /** Replies to a sync request that is no longer waiting (timed out or already answered). */
  lateReplies: number;
  /** Replies whose parent id matches no sync request this bus knows of. */
  unmatchedReplies: number;
  /** Every module queue by module name. */
  queues: Record<string, QueueStats>;
}

type Counter = Exclude<keyof BusStats, "queues">;

/** How an attempt to put a message into a queue ended. */
type EnqueueResult = "enqueued" | "dropped" | "timeout" | "removed";

interface BlockedSend {
  msg: Message;
  settle(result: EnqueueResult): void;
}

interface Receiver {
  deliver(msg: Message): void;
  fail(err: Error): void;
}

interface ModuleQueue {
  name: string;
  group: string;
  items: Message[];
  blocked: BlockedSend[];
  receivers: Receiver[];
}

/** A sync sender waiting for `expected` replies to its request id. */
interface SyncWaiter {
  expected: number;
  replies: Message[];
  notify?: () => void;
}

/** A shallow copy, so that receivers of one broadcast do not share header and route. */
function copyMessage(msg: Message): Message {
  return { header: { ...msg.header }, route: { ...msg.route }, content: msg.content };
}

function checkCount(what: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`Invalid ${what} ${value}: expected an integer of at least ${min}`);
  }
  return value;
}

/**
 * KubeEdge's in-process channel context (spec/message.md §4).
 *
 * Every module added with {@link addModule} owns a bounded FIFO queue
 * (`capacity`, default 1024) and belongs to at most one group.
 *
 * Full-queue policy: like Go's blocking channel send, {@link send} returns a promise that
 * resolves once the message is enqueued (or handed straight to a waiting receiver). While
 * the queue is full the message waits in a per-module FIFO list of blocked sends, and each
 * {@link receive} that frees a slot moves the oldest blocked message into the queue, so
 * the order of a module's messages is always the order of the sends. The blocked list is
 * itself bounded (`maxBlockedSends`, default 1024): a send that finds it full is dropped,
 * counted as `droppedFull` and logged at warn level (at most one line per 10 s per module,
 * with the count), and its promise resolves at once; {@link sendWaiting} is never dropped.
 * The promise of {@link send} and {@link sendToGroup} never rejects, so callers may ignore
 * it (fire and forget). The sync primitives use the same queues and the same limit, but
 * give up waiting at their deadline (the blocked send is withdrawn) and report the failure
 * to the caller as `timeout to send message`; a sync request refused by the blocked-send
 * limit fails at once with the same error (and is counted as `droppedFull`). Removing a module discards its queued and
 * blocked messages (counted as `droppedRemoved`; their send promises resolve) and rejects
 * its pending receives.
 */
export class MessageBus {
  readonly #capacity: number;
  readonly #maxBlocked: number;
  readonly #log: Logger;
  readonly #syncErrors: SyncErrorTexts;
  /** Drops are logged at most once per 10 s per module, with their count. */
  readonly #dropWarnings: WarnLimiter;
  readonly #queues = new Map<string, ModuleQueue>();
  readonly #groups = new Map<string, Set<string>>();
  readonly #waiters = new Map<string, SyncWaiter>();
  /** Ids of sync requests that finished, oldest first (a Set keeps insertion order). */
  readonly #finished = new Set<string>();
  readonly #counters: Record<Counter, number> = {
    sent: 0,
    replies: 0,
    droppedUnknownModule: 0,
    droppedUnknownGroup: 0,
    droppedFull: 0,
    droppedRemoved: 0,
    lateReplies: 0,
    unmatchedReplies: 0,
  };

  /** @throws {RangeError} when `capacity` or `maxBlockedSends` is not a valid count */
  constructor(options: MessageBusOptions = {}) {
    this.#capacity = checkCount(
      "queue capacity",
      options.capacity ?? DEFAULT_QUEUE_CAPACITY,
      1,
    );
    this.#maxBlocked = checkCount(
      "blocked send limit",
      options.maxBlockedSends ?? DEFAULT_MAX_BLOCKED_SENDS,
      0,
    );
    this.#log = options.logger ?? silentLogger;
    this.#syncErrors = options.syncErrors ?? SYNC_ERRORS_V1_10;
    this.#dropWarnings = new WarnLimiter(this.#log);
  }

  /**
   * Creates the queue of module `name` and adds it to `group` (`""` = no group). Adding a
   * module that already exists keeps its queue and moves it to `group`.
   */
  addModule(name: string, group: string): void {
    const existing = this.#queues.get(name);
    if (existing) {
      this.#leaveGroup(existing);
      existing.group = group;
    } else {
      this.#queues.set(name, { name, group, items: [], blocked: [], receivers: [] });
    }
    if (group === "") return;
    let members = this.#groups.get(group);
    if (!members) this.#groups.set(group, members = new Set());
    members.add(name);
  }

  /**
   * Removes module `name` and its queue from the bus and from its group. Queued and
   * blocked messages are discarded (counted as `droppedRemoved`); pending receives reject.
   * @returns false when there was no such module
   */
  removeModule(name: string): boolean {
    const q = this.#queues.get(name);
    if (!q) return false;
    this.#queues.delete(name);
    this.#leaveGroup(q);
    const lost = q.items.length + q.blocked.length;
    this.#counters.droppedRemoved += lost;
    if (lost > 0) {
      this.#log.warn("bus: module removed with messages pending", { module: name, lost });
    }
    q.items.length = 0;
    for (const b of q.blocked.splice(0)) b.settle("removed");
    const err = new Error(`Failed to receive from module ${JSON.stringify(name)}: module removed`);
    for (const r of q.receivers.splice(0)) r.fail(err);
    return true;
  }

  /** True when module `name` has a queue. */
  hasModule(name: string): boolean {
    return this.#queues.has(name);
  }

  /** The modules of `group`, in the order they joined (empty for an unknown group). */
  groupMembers(group: string): string[] {
    return [...this.#groups.get(group) ?? []];
  }

  /**
   * Send: appends `msg` to the queue of `module` (spec/message.md §4.1). Never throws and
   * never rejects; see the class documentation for what happens when the queue is full.
   * An unknown module drops the message (logged at debug, counted as
   * `droppedUnknownModule`).
   * @returns a promise that resolves once the message is enqueued or dropped
   */
  send(module: string, msg: Message): Promise<void> {
    const q = this.#queues.get(module);
    if (!q) {
      this.#counters.droppedUnknownModule++;
      this.#log.debug("bus: dropped message for unknown module", {
        module,
        msg_id: msg.header.msgId,
      });
      return Promise.resolve();
    }
    return this.#enqueue(q, msg).then(() => undefined);
  }

  /**
   * Send without dropping: like {@link send}, but a full queue never drops the message,
   * however many sends already wait; the promise resolves once it is enqueued (in send
   * order with the other blocked sends). For senders that wait for it before sending more
   * (the WebSocket bridge reads a peer's next frame only then), so the wait list stays
   * bounded by the number of such senders.
   * @returns false when the module is unknown or was removed before the message was enqueued
   */
  async sendWaiting(module: string, msg: Message): Promise<boolean> {
    const q = this.#queues.get(module);
    if (!q) {
      this.#counters.droppedUnknownModule++;
      return false;
    }
    return await this.#enqueue(q, msg, undefined, true) === "enqueued";
  }

  /** Writes the pending rate-limited drop warnings now (at shutdown). */
  flushWarnings(): void {
    this.#dropWarnings.flush();
  }

  /**
   * Receive: the next message of `module`'s queue, waiting as long as it takes
   * (spec/message.md §4.2).
   * @throws {Error} at once when the module is unknown, when it is removed while waiting
   * @throws the abort reason of `signal` when it aborts first
   */
  receive(module: string, signal?: AbortSignal): Promise<Message> {
    const q = this.#queues.get(module);
    if (!q) {
      return Promise.reject(
        new Error(`Failed to receive from module ${JSON.stringify(module)}: unknown module`),
      );
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const first = q.items.shift();
    if (first !== undefined) {
      this.#admitBlocked(q);
      return Promise.resolve(first);
    }
    return new Promise<Message>((resolve, reject) => {
      const onAbort = () => {
        const i = q.receivers.indexOf(receiver);
        if (i >= 0) q.receivers.splice(i, 1);
        reject(signal?.reason);
      };
      const receiver: Receiver = {
        deliver: (msg) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(msg);
        },
        fail: (err) => {
          signal?.removeEventListener("abort", onAbort);
          reject(err);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      q.receivers.push(receiver);
    });
  }

  /**
   * The next waiting message of `module`'s queue without waiting: undefined when the
   * queue is empty or the module is unknown (used to collect a batch).
   */
  tryReceive(module: string): Message | undefined {
    const q = this.#queues.get(module);
    const msg = q?.items.shift();
    if (q && msg !== undefined) this.#admitBlocked(q);
    return msg;
  }

  /** True while a sync sender waits for a reply to request `id`. */
  hasWaiter(id: string): boolean {
    return this.#waiters.has(id);
  }

  /**
   * SendToGroup: enqueues a copy of `msg` (same `msg_id`) for every member of `group`
   * (spec/message.md §4.3). Never throws and never rejects. An unknown group drops the
   * message (logged at warn, counted as `droppedUnknownGroup`).
   * @returns a promise that resolves once every member's copy is enqueued or dropped
   */
  sendToGroup(group: string, msg: Message): Promise<void> {
    const members = this.#members(group);
    if (members.length === 0) {
      this.#counters.droppedUnknownGroup++;
      this.#dropWarnings.warn("bus: dropped message for unknown group", group, {
        group,
        msg_id: msg.header.msgId,
      });
      return Promise.resolve();
    }
    return Promise.all(members.map((q) => this.#enqueue(q, copyMessage(msg)))).then(() =>
      undefined
    );
  }

  /**
   * SendSync: sends a copy of `msg` with `header.sync = true` to `module` and waits for the
   * first reply whose parent id is `msg.header.msgId` (spec/message.md §4.4). One deadline,
   * `timeoutMs` from now (≤ 0 means 30 s), covers both enqueueing and waiting.
   * @returns the reply
   * @throws {Error} `bad request module name(<module>)` at once for an unknown module (or
   * one removed before the request was enqueued); `timeout to send message` when the
   * request could not be enqueued before the deadline; `timeout to get response` when no
   * reply came in time (both in the release's words, {@link MessageBusOptions.syncErrors}); a sentence naming the id when a sync request with the same id is
   * already waiting
   */
  async sendSync(module: string, msg: Message, timeoutMs: number): Promise<Message> {
    const timeout = timeoutMs > 0 ? timeoutMs : DEFAULT_SYNC_TIMEOUT_MS;
    const deadline = performance.now() + timeout;
    const q = this.#queues.get(module);
    if (!q) throw new Error(`bad request module name(${module})`);
    const request = withHeader(msg, { sync: true });
    const id = request.header.msgId;
    const waiter = this.#register(id, 1);
    try {
      const result = await this.#enqueue(q, request, deadline);
      if (result === "removed") throw new Error(`bad request module name(${module})`);
      if (result !== "enqueued") throw new Error(this.#syncErrors.sendTimeout(id));
      if (!await this.#awaitReplies(waiter, deadline)) {
        throw new Error(this.#syncErrors.responseTimeout(id));
      }
      return waiter.replies[0];
    } finally {
      this.#unregister(id, waiter);
    }
  }

  /**
   * SendResp: hands `msg` to the sync sender waiting on `msg.header.parentMsgId`
   * (spec/message.md §4.5). Never blocks and never throws: without a waiter the reply is
   * dropped and counted (`lateReplies` when the request timed out or was already
   * answered, `unmatchedReplies` otherwise).
   */
  sendResp(msg: Message): void {
    const parent = msg.header.parentMsgId;
    const waiter = this.#waiters.get(parent);
    if (!waiter) {
      const late = this.#finished.has(parent);
      this.#counters[late ? "lateReplies" : "unmatchedReplies"]++;
      this.#log.debug(late ? "bus: dropped late reply" : "bus: dropped unmatched reply", {
        msg_id: msg.header.msgId,
        parent_msg_id: parent,
      });
      return;
    }
    this.#counters.replies++;
    waiter.replies.push(msg);
    if (waiter.replies.length >= waiter.expected) {
      this.#unregister(parent, waiter);
      waiter.notify?.();
    }
  }

  /**
   * SendToGroupSync: sends a copy of `msg` with `header.sync = true` to every member of
   * `group` and waits for one reply per member (spec/message.md §4.6). One deadline,
   * `timeoutMs` from now (≤ 0 means 30 s), covers enqueueing and waiting. The replies are
   * not returned.
   * @throws {Error} `failed to get module type(<group>) channel list` at once for an
   * unknown group; at the deadline `timeout to send message, several <n> timeout when
   * send` when n members could not even be enqueued, else `timeout to send message`;
   * `got some unexpected(<n>) resp` when replies with another parent id were collected
   */
  async sendToGroupSync(group: string, msg: Message, timeoutMs: number): Promise<void> {
    const timeout = timeoutMs > 0 ? timeoutMs : DEFAULT_SYNC_TIMEOUT_MS;
    const deadline = performance.now() + timeout;
    const members = this.#members(group);
    if (members.length === 0) throw new Error(`failed to get module type(${group}) channel list`);
    const request = withHeader(msg, { sync: true });
    const id = request.header.msgId;
    const waiter = this.#register(id, members.length);
    try {
      const sends = members.map((q) => this.#enqueue(q, copyMessage(request), deadline));
      if (!await this.#awaitReplies(waiter, deadline)) {
        // Every send settles by the deadline at the latest, so this wait is short.
        const failed = (await Promise.all(sends)).filter((r) => r !== "enqueued").length;
        throw new Error(
          failed > 0
            ? `timeout to send message, several ${failed} timeout when send`
            : "timeout to send message",
        );
      }
      const unexpected = waiter.replies.filter((r) => r.header.parentMsgId !== id).length;
      if (unexpected > 0) throw new Error(`got some unexpected(${unexpected}) resp`);
    } finally {
      this.#unregister(id, waiter);
    }
  }

  /** The counters and the state of every queue. */
  stats(): BusStats {
    const queues: Record<string, QueueStats> = {};
    for (const q of this.#queues.values()) {
      queues[q.name] = {
        group: q.group,
        depth: q.items.length,
        blockedSends: q.blocked.length,
        waitingReceivers: q.receivers.length,
      };
    }
    return { ...this.#counters, queues };
  }

  #members(group: string): ModuleQueue[] {
    const out: ModuleQueue[] = [];
    for (const name of this.#groups.get(group) ?? []) {
      const q = this.#queues.get(name);
      if (q) out.push(q);
    }
    return out;
  }

  #leaveGroup(q: ModuleQueue): void {
    const members = this.#groups.get(q.group);
    if (!members) return;
    members.delete(q.name);
    if (members.size === 0) this.#groups.delete(q.group);
  }

  /**
   * Puts `msg` into `q`: to a waiting receiver, else into the queue, else among the blocked
   * sends (until `deadline`, a `performance.now()` time, when given), else drops it.
   */
  #enqueue(
    q: ModuleQueue,
    msg: Message,
    deadline?: number,
    noDrop = false,
  ): Promise<EnqueueResult> {
    const receiver = q.receivers.shift();
    if (receiver) {
      this.#counters.sent++;
      receiver.deliver(msg);
      return Promise.resolve("enqueued");
    }
    if (q.items.length < this.#capacity) {
      this.#counters.sent++;
      q.items.push(msg);
      return Promise.resolve("enqueued");
    }
    if (!noDrop && q.blocked.length >= this.#maxBlocked) {
      this.#counters.droppedFull++;
      this.#dropWarnings.warn(
        "bus: dropped message, queue full and too many blocked sends",
        q.name,
        {
          module: q.name,
          msg_id: msg.header.msgId,
          capacity: this.#capacity,
          blocked: q.blocked.length,
        },
      );
      return Promise.resolve("dropped");
    }
    return new Promise<EnqueueResult>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const entry: BlockedSend = {
        msg,
        settle: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
      };
      if (deadline !== undefined) {
        timer = setTimeout(() => {
          const i = q.blocked.indexOf(entry);
          if (i >= 0) q.blocked.splice(i, 1);
          resolve("timeout");
        }, Math.max(0, deadline - performance.now()));
      }
      q.blocked.push(entry);
    });
  }

  /** After a receive freed a slot: moves the oldest blocked send into the queue. */
  #admitBlocked(q: ModuleQueue): void {
    const next = q.blocked.shift();
    if (!next) return;
    this.#counters.sent++;
    q.items.push(next.msg);
    next.settle("enqueued");
  }

  #register(id: string, expected: number): SyncWaiter {
    if (this.#waiters.has(id)) {
      throw new Error(`Failed to send sync message ${id}: a request with this id is waiting`);
    }
    const waiter: SyncWaiter = { expected, replies: [] };
    this.#waiters.set(id, waiter);
    return waiter;
  }

  /** Removes `waiter` (if still registered) and remembers `id` as finished. */
  #unregister(id: string, waiter: SyncWaiter): void {
    if (this.#waiters.get(id) !== waiter) return;
    this.#waiters.delete(id);
    this.#finished.delete(id);
    this.#finished.add(id);
    if (this.#finished.size > REMEMBERED_FINISHED_IDS) {
      const oldest = this.#finished.values().next();
      if (!oldest.done) this.#finished.delete(oldest.value);
    }
  }

  /** Waits until `waiter` has all its replies (true) or the deadline passes (false). */
  #awaitReplies(waiter: SyncWaiter, deadline: number): Promise<boolean> {
    if (waiter.replies.length >= waiter.expected) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        waiter.notify = undefined;
        resolve(false);
      }, Math.max(0, deadline - performance.now()));
      waiter.notify = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }
}
