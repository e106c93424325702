/**
 * The replay bus: every call the MetaManager makes into beehive becomes one event line
 * (../shared/oracle/README.md), and sync requests are answered by the stand-ins.
 *
 * @module
 */

import { goString } from "../beehive/go_json.ts";
import { type Message, toWire, withHeader } from "../beehive/message.ts";
import type { Transport } from "../beehive/wire.ts";
import type { Bus, Delivery } from "../metamanager/outbox.ts";
import { SYNC_ERRORS_OF } from "../metamanager/process.ts";
import { type StandInAnswers, standInReply, type VirtualClock } from "./stand_ins.ts";
import type { KubeEdgeRelease } from "../store/schema.ts";

/** Members of edgecore's module groups (a group send writes one line per member). */
export const EDGECORE_GROUPS: Readonly<Record<string, readonly string[]>> = {
  hub: ["websocket"],
  meta: ["metaManager"],
  edged: ["edged"],
  twin: ["twin"],
  bus: ["eventbus", "servicebus"],
  edgestream: ["edgestream"],
};

/**
 * The event lines of one delivery (a group send gives one line per member), numbered
 * from `seq`. `current` is the message being processed (for a `resp` line's `to`).
 */
export function eventLines(
  line: number,
  seq: number,
  d: Delivery,
  members: (group: string) => readonly string[],
  current?: Message,
): string[] {
  const head = (s: number) => `{"in":${line},"seq":${s},`;
  if (d.via === "send") {
    return [`${head(seq)}"via":"send","to":${goString(d.to)},"message":${toWire(d.msg)}}`];
  }
  if (d.via === "group") {
    const wire = toWire(d.msg);
    return members(d.group).map((m, i) =>
      `${head(seq + i)}"via":"group","group":${goString(d.group)},"to":${
        goString(m)
      },"message":${wire}}`
    );
  }
  const to = current && d.msg.header.parentMsgId === current.header.msgId
    ? current.route.source
    : "";
  return [`${head(seq)}"via":"resp","to":${goString(to)},"message":${toWire(d.msg)}}`];
}

/** The event lines of the deliveries one message caused, numbered from 1. */
export function deliveryEventLines(
  line: number,
  deliveries: readonly Delivery[],
  members: (group: string) => readonly string[],
  current?: Message,
): string[] {
  const lines: string[] = [];
  for (const d of deliveries) {
    lines.push(...eventLines(line, lines.length + 1, d, members, current));
  }
  return lines;
}

function groupMembers(group: string): readonly string[] {
  return EDGECORE_GROUPS[group] ?? [];
}

/** A {@link Bus} that writes event lines for the journal line being processed. */
export class EventRecorder implements Bus {
  #line = 0;
  #seq = 0;
  #current?: Message;
  /** Event lines written so far. */
  events = 0;

  /**
   * @param write receives each event line (without newline)
   * @param answers what the stand-ins answer
   * @param clock virtual time (timeouts advance it)
   * @param transport how the cloud's answers arrive (see Transport)
   * @param cloudModule the module remote queries go to (contextSendModule)
   */
  constructor(
    private readonly write: (line: string) => void,
    private readonly answers: StandInAnswers,
    private readonly clock: VirtualClock,
    private readonly transport: Transport = "raw",
    private readonly cloudModule = "websocket",
    private readonly release: KubeEdgeRelease = "1.10",
  ) {}

  /** Starts attributing events to journal line `line`, caused by `msg`. */
  begin(line: number, msg: Message): void {
    this.#line = line;
    this.#seq = 0;
    this.#current = msg;
  }

  #emit(body: string): void {
    this.write(`{"in":${this.#line},"seq":${++this.#seq},${body}}`);
    this.events++;
  }

  #deliver(d: Delivery): void {
    const lines = eventLines(this.#line, this.#seq + 1, d, groupMembers, this.#current);
    for (const l of lines) this.write(l);
    this.#seq += lines.length;
    this.events += lines.length;
  }

  send(module: string, msg: Message): void {
    this.#deliver({ via: "send", to: module, msg });
  }

  sendToGroup(group: string, msg: Message): void {
    this.#deliver({ via: "group", group, msg });
  }

  sendResp(msg: Message): void {
    this.#deliver({ via: "resp", msg });
  }

  sendSync(module: string, msg: Message, timeoutMs: number): Promise<Message> {
    const sent = withHeader(msg, { sync: true });
    const reply = standInReply(
      module,
      sent,
      this.answers,
      this.cloudModule,
      this.clock,
      this.transport,
    );
    const head = `"via":"sync","to":${goString(module)},"message":${toWire(sent)}`;
    if (reply === undefined) {
      this.clock.advance(timeoutMs);
      const text = SYNC_ERRORS_OF[this.release].responseTimeout(sent.header.msgId);
      this.#emit(`${head},"error":${goString(text)}`);
      return Promise.reject(new Error(text));
    }
    this.#emit(`${head},"reply":${toWire(reply)}`);
    return Promise.resolve(reply);
  }

  /** The line on which the real code would crash the process. */
  panic(line: number, reason: string): void {
    this.write(`{"in":${line},"panic":${goString(reason)}}`);
    this.events++;
  }

  /** A journal line that is not a valid message. */
  error(line: number, reason: string): void {
    this.write(`{"in":${line},"error":${goString(reason)}}`);
    this.events++;
  }
}
