/**
 * The beehive message: model, wire JSON in and out, and the constructors KubeEdge uses
 * (NewMessage, BuildRouter, NewRespByMessage, NewErrorMessage). See spec/message.md §1.
 *
 * @module
 */

import {
  escapeHtml,
  goCompact,
  goMarshal,
  goString,
  needsExactParse,
  parseJsonExact,
  parseJsonGoStrings,
} from "./go_json.ts";

/** Message header (wire keys: msg_id, parent_msg_id, timestamp, resourceversion, sync, type). */
export interface MessageHeader {
  msgId: string;
  parentMsgId: string;
  /** Milliseconds since the Unix epoch. */
  timestamp: number | bigint;
  resourceVersion: string;
  sync: boolean;
  type: string;
}

/** Message route (wire keys: source, destination, group, operation, resource). */
export interface MessageRoute {
  source: string;
  destination: string;
  group: string;
  operation: string;
  resource: string;
}

/**
 * A message's content, held as JSON text so that cloud content is stored exactly as
 * received. `bytes` is true for content that KubeEdge holds as raw bytes (objects,
 * arrays, numbers and booleans from the wire); strings and null are Go values, whose
 * "content data" is their Go JSON encoding.
 */
export class Content {
  #value: unknown;
  #parsed = false;

  private constructor(readonly json: string, readonly bytes: boolean) {}

  /** The nil content, `null` on the wire. */
  static readonly NULL: Content = new Content("null", false);

  /**
   * Content as it arrives on the wire (`text` is one JSON value). `parsed`, when given,
   * is `JSON.parse(text)` already computed by the caller (kept to avoid a second parse).
   */
  static fromWire(text: string, parsed?: unknown): Content {
    const first = text.charCodeAt(0);
    if (first === 0x22 /* " */) return Content.of(parsed ?? parseJsonGoStrings(text) as string);
    if (first === 0x6e /* n */) return Content.NULL;
    const c = new Content(text, true);
    if (parsed !== undefined) {
      c.#value = parsed;
      c.#parsed = true;
    }
    return c;
  }

  /**
   * Content rebuilt from its parts ({@link json} and {@link bytes}) as another thread
   * decoded it (src/metamanager/frame_decoder.ts); its value is parsed again if asked.
   */
  static fromParts(json: string, bytes: boolean): Content {
    if (json === "null" && !bytes) return Content.NULL;
    return new Content(json, bytes);
  }

  /** A list of strings (e.g. stored values), encoded as Go encodes `[]string`. */
  static ofStrings(list: string[]): Content {
    return new Content(escapeHtml(JSON.stringify(list)), false);
  }

  /** Content that is a Go value built in-process (string, list, map, nil). */
  static of(value: unknown): Content {
    if (value === null || value === undefined) return Content.NULL;
    const c = new Content(goMarshal(value), false);
    c.#value = value;
    c.#parsed = true;
    return c;
  }

  /** The content parsed as JSON (cached). */
  value(): unknown {
    if (!this.#parsed) {
      this.#value = parseJsonGoStrings(this.json);
      this.#parsed = true;
    }
    return this.#value;
  }

  /**
   * The content parsed as Kubernetes' unstructured decoder does: integers that fit in
   * int64 keep every digit (see parseJsonExact). Reuses {@link value} when equivalent.
   */
  exactValue(): unknown {
    const v = this.value();
    return needsExactParse(v) ? parseJsonExact(this.json) : v;
  }

  /**
   * Drops the cached parse of wire content ({@link value} parses it again if asked). A
   * decoded object is many small heap objects; messages wait for their commit's fsync
   * before they leave, and dropping it once processed lets it die young.
   */
  releaseValue(): void {
    if (this.bytes) {
      this.#value = undefined;
      this.#parsed = false;
    }
  }

  /**
   * The Go marshal of `v` when it is already at hand: for content built from a Go value
   * ({@link of}, the websocket transport's decoding) whose value is `v` itself, its text.
   * Undefined otherwise (wire text as received is not Go's encoding of its value).
   */
  goJsonOf(v: unknown): string | undefined {
    return !this.bytes && this.#parsed && v === this.#value && typeof v === "object"
      ? this.json
      : undefined;
  }

  /** KubeEdge's "content data": bytes unchanged, anything else Go-JSON-encoded. */
  data(): string {
    return this.json;
  }

  /** True when the content is the Go string `s`. */
  isString(s: string): boolean {
    return !this.bytes && this.json.charCodeAt(0) === 0x22 && this.value() === s;
  }
}

/** A beehive message. */
export interface Message {
  header: MessageHeader;
  route: MessageRoute;
  content: Content;
}

/** Creates an empty header. */
export function emptyHeader(): MessageHeader {
  return { msgId: "", parentMsgId: "", timestamp: 0, resourceVersion: "", sync: false, type: "" };
}

/** Creates an empty route. */
export function emptyRoute(): MessageRoute {
  return { source: "", destination: "", group: "", operation: "", resource: "" };
}

/** Where fresh ids and timestamps come from; injectable for deterministic runs. */
export interface Identity {
  /** A fresh message id (UUID v4 in production). */
  newId(): string;
  /** Current time in milliseconds. */
  now(): number;
}

/** Production identity: random UUIDs and the wall clock. */
export const systemIdentity: Identity = {
  newId: () => crypto.randomUUID(),
  now: () => Date.now(),
};

/** NewMessage(parent): fresh id and timestamp, empty route, null content. */
export function newMessage(parentId: string, id: Identity): Message {
  return {
    header: { ...emptyHeader(), msgId: id.newId(), parentMsgId: parentId, timestamp: id.now() },
    route: emptyRoute(),
    content: Content.NULL,
  };
}

/** BuildRouter(source, group, resource, operation) on a copy of `msg`. */
export function buildRouter(
  msg: Message,
  source: string,
  group: string,
  resource: string,
  operation: string,
): Message {
  return { ...msg, route: { ...msg.route, source, group, resource, operation } };
}

/**
 * NewRespByMessage(req, content): parent = req.msg_id; source, group, resource and type
 * copied from the request; operation `response`.
 */
export function newRespByMessage(req: Message, content: Content, id: Identity): Message {
  return {
    header: {
      ...emptyHeader(),
      msgId: id.newId(),
      parentMsgId: req.header.msgId,
      timestamp: id.now(),
      type: req.header.type,
    },
    route: {
      ...emptyRoute(),
      source: req.route.source,
      group: req.route.group,
      resource: req.route.resource,
      operation: "response",
    },
    content,
  };
}

/**
 * NewErrorMessage(req, text) with the parent id chosen by the caller (upstream uses the
 * request's parent id; see src/metamanager/compat.ts). Operation `error`, resource copied.
 */
export function newErrorMessage(
  req: Message,
  text: string,
  parentId: string,
  id: Identity,
): Message {
  return {
    header: { ...emptyHeader(), msgId: id.newId(), parentMsgId: parentId, timestamp: id.now() },
    route: { ...emptyRoute(), resource: req.route.resource, operation: "error" },
    content: Content.of(text),
  };
}

/** A copy of `msg` with header fields replaced. */
export function withHeader(msg: Message, header: Partial<MessageHeader>): Message {
  return { ...msg, header: { ...msg.header, ...header } };
}

function headerJson(h: MessageHeader): string {
  let s = `{"msg_id":${goString(h.msgId)}`;
  if (h.parentMsgId) s += `,"parent_msg_id":${goString(h.parentMsgId)}`;
  s += `,"timestamp":${h.timestamp}`;
  if (h.resourceVersion) s += `,"resourceversion":${goString(h.resourceVersion)}`;
  if (h.sync) s += `,"sync":true`;
  if (h.type) s += `,"type":${goString(h.type)}`;
  return s + "}";
}

function routeJson(r: MessageRoute): string {
  const parts: string[] = [];
  if (r.source) parts.push(`"source":${goString(r.source)}`);
  if (r.destination) parts.push(`"destination":${goString(r.destination)}`);
  if (r.group) parts.push(`"group":${goString(r.group)}`);
  if (r.operation) parts.push(`"operation":${goString(r.operation)}`);
  if (r.resource) parts.push(`"resource":${goString(r.resource)}`);
  return `{${parts.join(",")}}`;
}

/**
 * The message in KubeEdge wire JSON (Go field order and omitempty rules). Content held as
 * bytes is embedded as Go embeds raw JSON: compacted, HTML-escaped (see goCompact).
 */
export function toWire(msg: Message): string {
  return `{"header":${headerJson(msg.header)},"route":${routeJson(msg.route)},"content":${
    msg.content.bytes ? goCompact(msg.content.json) : msg.content.json
  }}`;
}
