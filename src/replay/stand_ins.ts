/**
 * Stand-in peers for replay (../shared/oracle/README.md): edged answers every sync
 * request, the cloud answers remote queries found in its fixture, and time is virtual,
 * so a request nobody answers times out at once.
 *
 * @module
 */

import {
  decodeGoValue,
  decodeMembers,
  GoSyntaxError,
  goTrimSpace,
  skipGoWs,
} from "../beehive/go_decode.ts";
import { Content, type Identity, type Message, newRespByMessage } from "../beehive/message.ts";
import type { Transport } from "../beehive/wire.ts";

/** Answers of the stand-ins, keyed by `route.resource`. */
export interface StandInAnswers {
  /** Cloud answers for remote queries (a resource not listed is never answered). */
  cloud: Map<string, Content>;
  /** edged answers for sync requests (a resource not listed gets `{}`). */
  edged: Map<string, Content>;
}

/** A clock that starts at the wall clock and jumps forward on timeouts. */
export class VirtualClock implements Identity {
  #offset = 0;
  readonly #start = Date.now();
  readonly #base = performance.now();

  /** @param newId where fresh ids come from */
  constructor(readonly newId: () => string = () => crypto.randomUUID()) {}

  /** Current virtual time in ms. */
  now(): number {
    return this.#start + Math.floor(performance.now() - this.#base) + this.#offset;
  }

  /** Moves virtual time forward by `ms` (a timeout that does not really wait). */
  advance(ms: number): void {
    this.#offset += ms;
  }
}

const EMPTY_OBJECT = Content.fromWire("{}");

/**
 * Loads a fixture file: a JSON object mapping resource → answer content. Each answer is
 * kept as its exact JSON text (a later duplicate resource wins); a JSON string answer is
 * the Go string it spells.
 */
export function parseAnswers(text: string, file: string): Map<string, Content> {
  const trimmed = goTrimSpace(text);
  let top;
  try {
    top = decodeMembers(trimmed, 0, 0, "validate");
    if (top !== undefined && skipGoWs(trimmed, top.end) < trimmed.length) {
      throw new GoSyntaxError("invalid character after top-level value", top.end);
    }
  } catch (e) {
    if (!(e instanceof GoSyntaxError)) throw e;
    throw new Error(
      `Cannot read answers file ${file}: invalid JSON (${e.message} at offset ${e.offset})`,
    );
  }
  if (top === undefined) {
    throw new Error(
      `Cannot read answers file ${file}: expected a JSON object of resource → answer`,
    );
  }
  const answers = new Map<string, Content>();
  for (const m of top.members) {
    answers.set(
      m.key,
      typeof m.value === "string"
        ? Content.of(m.value)
        : Content.fromWire(trimmed.slice(m.start, m.end)),
    );
  }
  return answers;
}

/**
 * An answer as the websocket transport delivers it: decoded into a generic Go value (to
 * be re-marshalled), or undefined when Go's decoder rejects it (it never arrives).
 */
function overWebsocket(content: Content): Content | undefined {
  if (!content.bytes) return content;
  const d = decodeGoValue(content.json, 0, 1, "float64");
  return d.typeError === undefined ? Content.of(d.value) : undefined;
}

/**
 * The reply a stand-in gives to a sync request sent to `module`, or undefined when it
 * never answers.
 */
export function standInReply(
  module: string,
  request: Message,
  answers: StandInAnswers,
  cloudModule: string,
  id: Identity,
  transport: Transport = "raw",
): Message | undefined {
  if (module === "edged") {
    return newRespByMessage(request, answers.edged.get(request.route.resource) ?? EMPTY_OBJECT, id);
  }
  if (module === cloudModule) {
    const answer = answers.cloud.get(request.route.resource);
    const content = answer && transport === "websocket" ? overWebsocket(answer) : answer;
    if (content === undefined) return undefined;
    const reply = newRespByMessage(request, content, id);
    // The cloud builds a new message: the request's header.type is not copied.
    reply.header.type = "";
    reply.route.source = "edgecontroller";
    reply.route.group = "resource";
    return reply;
  }
  return undefined;
}
