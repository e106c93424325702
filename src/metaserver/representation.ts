/**
 * Content negotiation and response bodies (spec/metaserver.md §4): JSON (compact, keys
 * sorted, trailing newline — stored objects are served byte for byte), YAML when the
 * client accepts only YAML, 406 for protobuf-only clients.
 *
 * Server-side tables (`application/json;as=Table;v=v1;g=meta.k8s.io`, what kubectl asks
 * for first) are negotiated only when a {@link TableConverter} is configured; without one
 * such clauses are skipped, so kubectl falls back to its plain `application/json`.
 *
 * @module
 */

import { loadedYaml } from "../yaml.ts";
import { RawNumber } from "../beehive/go_json.ts";
import { decodeObject, type MetaV2Row } from "../store/meta_v2.ts";
import { groupVersion, type ResourceInfo } from "./resources.ts";

/** How a response body is represented. */
export type Representation =
  | { type: "json" }
  | { type: "yaml" }
  | { type: "table"; version: "v1" | "v1beta1"; includeObject: string };

/** Content-Type of each representation. */
export const CONTENT_TYPES = {
  json: "application/json",
  yaml: "application/yaml",
  table: "application/json",
} as const;

/** Media types the MetaServer can produce (for 406 messages). */
export const SUPPORTED_MEDIA_TYPES: readonly string[] = ["application/json", "application/yaml"];

/** One clause of an Accept header. */
export interface AcceptClause {
  type: string;
  subtype: string;
  params: Record<string, string>;
  q: number;
}

/** Parses an Accept header into clauses, most preferred first (goautoneg order). */
export function parseAccept(header: string | null): AcceptClause[] {
  if (header === null || header.trim() === "") return [];
  const clauses: AcceptClause[] = [];
  for (const part of header.split(",")) {
    const [range, ...rawParams] = part.split(";").map((s) => s.trim());
    if (range === "") continue;
    const [type, subtype = "*"] = range.toLowerCase().split("/");
    const params: Record<string, string> = {};
    let q = 1;
    for (const p of rawParams) {
      const eq = p.indexOf("=");
      if (eq < 0) continue;
      const k = p.slice(0, eq).trim().toLowerCase();
      const v = p.slice(eq + 1).trim().replace(/^"|"$/g, "");
      if (k === "q") q = Number.isFinite(Number(v)) ? Number(v) : 0;
      else params[k] = v;
    }
    clauses.push({ type, subtype, params, q });
  }
  const rank = (c: AcceptClause) => (c.type === "*" ? 0 : 1) + (c.subtype === "*" ? 0 : 1);
  return clauses
    .map((c, i) => ({ c, i }))
    .sort((a, b) => b.c.q - a.c.q || rank(b.c) - rank(a.c) || a.i - b.i)
    .map(({ c }) => c);
}

/** What an endpoint can produce. */
export interface Offer {
  /** YAML (not for watch streams). */
  yaml: boolean;
  /** meta.k8s.io Tables (only with a converter). */
  table: boolean;
}

/**
 * The representation to answer with, or undefined when no clause is acceptable (406).
 * No Accept header means JSON.
 */
export function negotiate(header: string | null, offer: Offer): Representation | undefined {
  const clauses = parseAccept(header);
  if (clauses.length === 0) return { type: "json" };
  for (const c of clauses) {
    if (c.q <= 0) continue;
    const as = c.params["as"];
    if (as !== undefined) {
      const g = c.params["g"], v = c.params["v"];
      if (
        as === "Table" && g === "meta.k8s.io" && (v === "v1" || v === "v1beta1") &&
        offer.table && (c.type === "application" && c.subtype === "json")
      ) {
        return { type: "table", version: v, includeObject: c.params["includeobject"] ?? "" };
      }
      continue; // PartialObjectMetadata, aggregated discovery, ...: not served
    }
    if (c.type === "*" || (c.type === "application" && c.subtype === "*")) return { type: "json" };
    if (c.type !== "application") continue;
    if (c.subtype === "json") return { type: "json" };
    if (c.subtype === "yaml" && offer.yaml) return { type: "yaml" };
  }
  return undefined;
}

/**
 * Turns objects of one resource into a meta.k8s.io Table (the follow-up that adds kubectl
 * columns implements this; the MetaServer works without one).
 */
export interface TableConverter {
  /**
   * The Table for `objects` (decoded stored objects) of `resource`. `list` carries the
   * list metadata when the request was a list, and is undefined for a single-object get.
   */
  toTable(
    objects: unknown[],
    resource: ResourceInfo,
    rep: Extract<Representation, { type: "table" }>,
    list?: { resourceVersion: string },
  ): unknown;
}

/** A response body (text, or a stream of it written as it is made) and its Content-Type. */
export interface Body {
  body: string | ReadableStream<Uint8Array>;
  contentType: string;
}

/** Text chunks are gathered into writes of about this many characters. */
const CHUNK_CHARS = 64 * 1024;

/**
 * A byte stream of the text chunks `chunks` makes, made as the client reads (a chunk is
 * made only when the previous ones were taken): the whole text never exists at once.
 */
function textStream(chunks: Iterator<string>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      let text = "";
      while (text.length < CHUNK_CHARS) {
        const next = chunks.next();
        if (next.done) {
          if (text !== "") controller.enqueue(encoder.encode(text));
          controller.close();
          return;
        }
        text += next.value;
      }
      controller.enqueue(encoder.encode(text));
    },
    cancel() {
      chunks.return?.(undefined);
    },
  }, { highWaterMark: 0 });
}

/** The items of `list`, each released once taken (the page's array is the list's own). */
function* taken(list: ListResult): Generator<StoredObject> {
  const items = list.items as (StoredObject | undefined)[];
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    items[i] = undefined;
    yield item;
  }
}

/** Replaces exact big integers by BigInt so YAML prints them as plain integers. */
function forYaml(v: unknown): unknown {
  if (v instanceof RawNumber) return BigInt(v.text);
  if (Array.isArray(v)) return v.map(forYaml);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, forYaml(x)]));
  }
  return v;
}

/** Encodes a document (discovery, Status) as JSON or YAML. */
export function encodeDocument(doc: unknown, rep: Representation): Body {
  if (rep.type === "yaml") {
    // The handler loads YAML before it serves a request that accepts it (mayWantYaml).
    return { body: loadedYaml().stringify(forYaml(doc)), contentType: "application/yaml" };
  }
  return { body: JSON.stringify(doc) + "\n", contentType: "application/json" };
}

/** One stored object: its row (raw JSON in `value`) and, once needed, the decoded value. */
export class StoredObject {
  #decoded?: unknown;
  constructor(readonly row: MetaV2Row) {}

  /** The decoded object (int64 kept exactly). */
  get object(): unknown {
    if (this.#decoded === undefined) this.#decoded = decodeObject(this.row.value);
    return this.#decoded;
  }

  /** The stored JSON without its trailing newline. */
  get json(): string {
    return this.row.value.endsWith("\n") ? this.row.value.slice(0, -1) : this.row.value;
  }
}

/** A list result: the resource, the revision it reflects and the selected objects. */
export interface ListResult {
  resource: ResourceInfo;
  /** metadata.resourceVersion of the list. */
  resourceVersion: string;
  items: StoredObject[];
  /** The continue token of the next page, when there is one. */
  continue?: string;
}

/** Encodes one stored object (GET). */
export function encodeObject(
  item: StoredObject,
  resource: ResourceInfo,
  rep: Representation,
  tables?: TableConverter,
): Body {
  if (rep.type === "table" && tables) {
    return encodeDocument(tables.toTable([item.object], resource, rep), { type: "json" });
  }
  if (rep.type === "yaml") return encodeDocument(item.object, rep);
  return { body: item.json + "\n", contentType: "application/json" };
}

/**
 * Encodes a list (LIST): `{"apiVersion","items","kind":"<Kind>List","metadata":
 * {"resourceVersion"}}` with keys sorted and the stored objects spliced in verbatim; or
 * YAML; or a Table via `tables`. The body is written as the client reads it, one item at
 * a time (an item is decoded, for YAML and Table, only when its turn comes, and released
 * after): the same text as encoding the whole list at once, never held whole.
 */
export function encodeList(
  list: ListResult,
  rep: Representation,
  tables?: TableConverter,
): Body {
  const { resource } = list;
  if (rep.type === "table" && tables) {
    return { body: textStream(tableChunks(list, rep, tables)), contentType: "application/json" };
  }
  const apiVersion = groupVersion(resource.group, resource.version);
  const kind = `${resource.kind}List`;
  const metadata: Record<string, string> = list.continue !== undefined
    ? { continue: list.continue, resourceVersion: list.resourceVersion }
    : { resourceVersion: list.resourceVersion };
  if (rep.type === "yaml") {
    return {
      body: textStream(yamlChunks(list, { apiVersion, kind, metadata }, rep)),
      contentType: "application/yaml",
    };
  }
  return {
    body: textStream(jsonChunks(list, apiVersion, kind, metadata)),
    contentType: "application/json",
  };
}

function* jsonChunks(
  list: ListResult,
  apiVersion: string,
  kind: string,
  metadata: Record<string, string>,
): Generator<string> {
  yield `{"apiVersion":${JSON.stringify(apiVersion)},"items":[`;
  let first = true;
  for (const item of taken(list)) {
    yield first ? item.json : "," + item.json;
    first = false;
  }
  yield `],"kind":${JSON.stringify(kind)},"metadata":${JSON.stringify(metadata)}}\n`;
}

/**
 * The YAML of `{apiVersion, items, kind, metadata}`: the keys before and after `items`
 * as the library writes them, and each item as the library writes it inside `items:`
 * (a one-item list under that key, its `items:` line dropped).
 */
function* yamlChunks(
  list: ListResult,
  head: { apiVersion: string; kind: string; metadata: Record<string, string> },
  rep: Representation,
): Generator<string> {
  if (list.items.length === 0) {
    yield encodeDocument({
      apiVersion: head.apiVersion,
      items: [],
      kind: head.kind,
      metadata: head.metadata,
    }, rep)
      .body as string;
    return;
  }
  const before = encodeDocument({ apiVersion: head.apiVersion }, rep).body as string;
  yield before + "items:\n";
  for (const item of taken(list)) {
    const text = encodeDocument({ items: [item.object] }, rep).body as string;
    yield text.slice(text.indexOf("\n") + 1);
  }
  yield encodeDocument({ kind: head.kind, metadata: head.metadata }, rep).body as string;
}

/**
 * The Table of a list: the converter's document for no objects (columns, metadata),
 * then each object's row as the converter makes it for that object alone.
 */
function* tableChunks(
  list: ListResult,
  rep: Extract<Representation, { type: "table" }>,
  tables: TableConverter,
): Generator<string> {
  const { resource } = list;
  const meta = { resourceVersion: list.resourceVersion };
  const withContinue = (t: unknown) => {
    if (list.continue !== undefined) {
      (t as { metadata: { continue?: string } }).metadata.continue = list.continue;
    }
    return t;
  };
  if (list.items.length === 0) {
    yield JSON.stringify(withContinue(tables.toTable([], resource, rep, meta))) + "\n";
    return;
  }
  const head = withContinue(tables.toTable([], resource, rep, meta)) as Record<string, unknown>;
  // `rows` is the document's last key (Go's field order of metav1.Table)
  const text = JSON.stringify({ ...head, rows: [] });
  if (!text.endsWith(',"rows":[]}')) {
    throw new Error(`table document without rows last: ${text.slice(0, 200)}`);
  }
  yield text.slice(0, -2);
  let first = true;
  for (const item of taken(list)) {
    const one = tables.toTable([item.object], resource, rep, meta) as { rows: unknown[] };
    const row = JSON.stringify(one.rows[0]);
    yield first ? row : "," + row;
    first = false;
  }
  yield "]}\n";
}
