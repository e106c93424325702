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

/** A response body and its Content-Type. */
export interface Body {
  body: string;
  contentType: string;
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
 * YAML; or a Table via `tables`.
 */
export function encodeList(
  list: ListResult,
  rep: Representation,
  tables?: TableConverter,
): Body {
  const { resource } = list;
  if (rep.type === "table" && tables) {
    const table = tables.toTable(list.items.map((i) => i.object), resource, rep, {
      resourceVersion: list.resourceVersion,
    });
    if (list.continue !== undefined) {
      (table as { metadata: { continue?: string } }).metadata.continue = list.continue;
    }
    return encodeDocument(table, { type: "json" });
  }
  const apiVersion = groupVersion(resource.group, resource.version);
  const kind = `${resource.kind}List`;
  if (rep.type === "yaml") {
    return encodeDocument({
      apiVersion,
      items: list.items.map((i) => i.object),
      kind,
      metadata: list.continue !== undefined
        ? { continue: list.continue, resourceVersion: list.resourceVersion }
        : { resourceVersion: list.resourceVersion },
    }, rep);
  }
  const body = `{"apiVersion":${JSON.stringify(apiVersion)},"items":[` +
    list.items.map((i) => i.json).join(",") +
    `],"kind":${JSON.stringify(kind)},"metadata":{${
      list.continue !== undefined ? `"continue":${JSON.stringify(list.continue)},` : ""
    }"resourceVersion":${JSON.stringify(list.resourceVersion)}}}\n`;
  return { body, contentType: "application/json" };
}
