/**
 * Stand-in peers for replay (../shared/oracle/README.md): edged answers every sync
 * request, the cloud answers remote queries found in its fixture, and time is virtual,
 * so a request nobody answers times out at once.
 *
 * @module
 */

import { Content, type Identity, type Message, newRespByMessage } from "../beehive/message.ts";

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

/** Loads a fixture file: a JSON object mapping resource → answer content. */
export function parseAnswers(text: string, file: string): Map<string, Content> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`Cannot read answers file ${file}: invalid JSON (${(e as Error).message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error(
      `Cannot read answers file ${file}: expected a JSON object of resource → answer`,
    );
  }
  const answers = new Map<string, Content>();
  for (const [resource, answer] of Object.entries(value)) {
    answers.set(resource, Content.fromWire(JSON.stringify(answer)));
  }
  return answers;
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
): Message | undefined {
  if (module === "edged") {
    return newRespByMessage(request, answers.edged.get(request.route.resource) ?? EMPTY_OBJECT, id);
  }
  if (module === cloudModule) {
    const content = answers.cloud.get(request.route.resource);
    if (content === undefined) return undefined;
    const reply = newRespByMessage(request, content, id);
    reply.route.source = "edgecontroller";
    reply.route.group = "resource";
    return reply;
  }
  return undefined;
}
