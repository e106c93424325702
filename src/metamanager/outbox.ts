/**
 * What process() asks of the outside world (the {@link Bus}), and the {@link Outbox}
 * that holds outbound messages until the writes they report are committed.
 *
 * @module
 */

import type { Message } from "../beehive/message.ts";
import type { StoreChange } from "./inject.ts";

/** The beehive primitives the MetaManager uses (spec/message.md §4). */
export interface Bus {
  /** Send: asynchronous, point to point. */
  send(module: string, msg: Message): void;
  /** SendToGroup: to every member of `group`. */
  sendToGroup(group: string, msg: Message): void;
  /** SendResp: to whoever waits on `msg.header.parentMsgId` (dropped if nobody). */
  sendResp(msg: Message): void;
  /**
   * SendSync: sends `msg` with `sync` set and waits for the reply.
   * @throws {Error} `timeout to get response` (or the bus's error) when none comes
   */
  sendSync(module: string, msg: Message, timeoutMs: number): Promise<Message>;
}

/** An outbound message waiting in the outbox. */
export type Delivery =
  | { via: "send"; to: string; msg: Message }
  | { via: "group"; group: string; msg: Message }
  | { via: "resp"; msg: Message };

/** What {@link Outbox.take} took: deliveries and store changes of committed messages. */
export interface Taken {
  deliveries: Delivery[];
  changes: StoreChange[];
}

/** Receives store changes (MetaServer watches). */
export interface ChangeListener {
  /**
   * Sees each change as it is made, inside its transaction, while the decoded object is at
   * hand, to keep what {@link publish} will need (it may still be rolled back: no side
   * effects; must not throw). The outbox then drops the object, so that changes waiting for their commit's
   * fsync do not keep whole decoded objects (many small heap objects) alive.
   */
  prepare?(change: StoreChange): void;
  /** Takes committed changes, in commit order. */
  publish(changes: StoreChange[]): void;
}

/**
 * Outbound messages and store changes, held until {@link Outbox.flush}. A mark taken
 * before a message lets a rolled-back message take back what it produced.
 */
export class Outbox {
  #deliveries: Delivery[] = [];
  #changes: StoreChange[] = [];

  /** @param bus where flushed messages go; @param onChanges where flushed changes go */
  constructor(private readonly bus: Bus, private readonly onChanges?: ChangeListener) {}

  /** Queues a delivery. */
  push(d: Delivery): void {
    this.#deliveries.push(d);
  }

  /** Queues committed-to-be store changes (shown to the listener's `prepare` first). */
  pushChanges(changes: StoreChange[]): void {
    for (const c of changes) {
      this.onChanges?.prepare?.(c);
      this.#changes.push(c.object === undefined ? c : { type: c.type, row: c.row });
    }
  }

  /** A position to {@link truncate} back to. */
  mark(): [number, number] {
    return [this.#deliveries.length, this.#changes.length];
  }

  /** Drops everything queued since `mark`. */
  truncate(mark: [number, number]): void {
    this.#deliveries.length = mark[0];
    this.#changes.length = mark[1];
  }

  /** Number of deliveries waiting. */
  get size(): number {
    return this.#deliveries.length;
  }

  /** Drops everything queued (the transaction that produced it did not commit). */
  discard(): void {
    this.#deliveries = [];
    this.#changes = [];
  }

  /**
   * Takes everything queued out of the outbox, to {@link deliver} later (once the commit
   * that produced it is durable) while the outbox collects the next batch.
   */
  take(): Taken {
    const taken = { deliveries: this.#deliveries, changes: this.#changes };
    this.#deliveries = [];
    this.#changes = [];
    return taken;
  }

  /**
   * Hands everything queued to the bus (in order), then the changes to the listener.
   * Returns the deliveries made.
   */
  flush(): Delivery[] {
    return this.deliver(this.take());
  }

  /** Hands what {@link take} took to the bus (in order), then the changes to the listener. */
  deliver(taken: Taken): Delivery[] {
    const { deliveries, changes } = taken;
    for (const d of deliveries) {
      if (d.via === "send") this.bus.send(d.to, d.msg);
      else if (d.via === "group") this.bus.sendToGroup(d.group, d.msg);
      else this.bus.sendResp(d.msg);
    }
    if (changes.length > 0) this.onChanges?.publish(changes);
    return deliveries;
  }
}
