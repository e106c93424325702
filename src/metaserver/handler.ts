/**
 * The MetaServer HTTP handler: a read-only, kubectl-compatible Kubernetes API over
 * `meta_v2` (spec/metaserver.md), plus discovery so that a stock kubectl can use it.
 *
 * | request | answer |
 * | --- | --- |
 * | `GET /version`, `/api`, `/api/v1`, `/apis`, `/apis/{g}`, `/apis/{g}/{v}` | discovery documents |
 * | `GET .../{resource}/{name}` (also `.../status`) | the stored object, or 404 Status |
 * | `GET .../{resource}` | `<Kind>List`, `metadata.resourceVersion` = hub revision; `labelSelector`, `fieldSelector` |
 * | `GET .../{resource}?watch=true` (or `/watch/...`) | chunked stream of JSON events, one per line |
 * | any of these with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` | meta.k8s.io Tables with kube-apiserver's columns (watch: one row per event) |
 * | POST, PUT, PATCH, DELETE | forwarded to the cloud as an application and answered with its result (src/metaserver/through_cloud.ts); 503 while offline; 405 MethodNotAllowed when writes are off or there is no cloud |
 * | GET, LIST with a cloud | the cloud first (a GET's object is stored), the local store on failure; WATCH registers a watch application |
 * | a resource outside the table | served from `meta_v2` as KubeEdge serves any resource (kind from the plural, generic Table columns) |
 * | unknown path | 404 NotFound Status |
 * | bad selector, resourceVersion, timeoutSeconds | 400 BadRequest Status |
 * | Accept without JSON, YAML or a wildcard (e.g. protobuf only) | 406 NotAcceptable |
 *
 * @module
 */

import type { Logger } from "../logger.ts";
import { parseJsonFloat64 } from "../beehive/go_json.ts";
import type { MetaV2Dao } from "../store/meta_v2.ts";
import { loadYaml } from "../yaml.ts";
import { discoveryDocument } from "./discovery.ts";
import { resolveResource, storedResources } from "./any_resource.ts";
import {
  OPENAPI_V2_PROTOBUF,
  OPENAPI_V2_PROTOBUF_CONTENT_TYPE,
  openApiV2Json,
  openApiV2Protobuf,
} from "./openapi.ts";
import { getObject, listPage, parseSelection } from "./read.ts";
import { ContinueError, decodeContinue, encodeContinue } from "./continue_token.ts";
import {
  type Body,
  encodeDocument,
  encodeList,
  encodeObject,
  negotiate,
  type Representation,
  SUPPORTED_MEDIA_TYPES,
  type TableConverter,
} from "./representation.ts";
import { parseRequestInfo, queryBool, type RequestInfo, RequestInfoError } from "./request_info.ts";
import { groupVersion, READ_VERBS, type ResourceInfo, storedGvr } from "./resources.ts";
import { SelectorError } from "./selectors.ts";
import type { ApplicationAgent } from "./application.ts";
import { failureStatus, readOptions, requestKey, writeRequest } from "./through_cloud.ts";
import {
  badRequest,
  expired,
  internalError,
  methodNotAllowed,
  notAcceptable,
  notFound,
  pathNotFound,
  type Status,
  tooLarge,
} from "./status.ts";
import { eventLine, type WatchHub } from "./watch.ts";
import { KUBE_TABLES, tableOptionsError } from "./tables/table.ts";
import { tableWatchStream } from "./tables/watch.ts";

/** Options of {@link createMetaServerHandler}. */
export interface MetaServerOptions {
  /** Table `meta_v2`. */
  store: MetaV2Dao;
  /** Committed changes for watches; its revision is the lists' resourceVersion. */
  hub: WatchHub;
  logger?: Logger;
  /**
   * Server-side Table output (kubectl columns). Default: kube-apiserver's printers
   * ({@link KUBE_TABLES}); `null`: Tables are not offered (kubectl falls back to plain JSON).
   */
  tables?: TableConverter | null;
  /** `serverAddress` reported by `GET /api` (default: the request's Host header). */
  serverAddress?: string;
  /**
   * The cloud, for the application round-trip (spec/metaserver.md §6). Without it reads
   * are local only and writes get 405.
   */
  cloud?: ApplicationAgent;
  /** Forward writes to the cloud (default true; false: 405 as a read-only server). */
  writes?: boolean;
  /** Largest request body of a write (default 16 MiB). */
  maxBodyBytes?: number;
  /**
   * Stores an object a GET read from the cloud (through the MetaManager's single writer);
   * `text` is the cloud's JSON text of it, which the store decodes as upstream does (the
   * unstructured decoder: integers kept exactly).
   */
  onCloudObject?: (object: Record<string, unknown>, text: string) => void;
}

/** Verbs forwarded to the cloud as applications. */
const WRITE_VERBS = new Set(["create", "update", "patch", "delete"]);
/**
 * Hard limits of one list answer (bytes of stored JSON): a page asked for with `limit`
 * ends early (with a continue token) at {@link PAGE_BYTES}; a list without `limit` over
 * {@link MAX_LIST_BYTES} gets 413 naming the limit. Both keep serve's heap (128 MB) safe.
 */
export const PAGE_BYTES = 8 * 1024 * 1024;
/** See {@link PAGE_BYTES}. */
export const MAX_LIST_BYTES = 32 * 1024 * 1024;
/** A watch's initial events are read in pages of at most this many objects... */
const WATCH_PAGE_ITEMS = 500;
/** ...or this much stored JSON (at least one object). */
const WATCH_PAGE_BYTES = 1024 * 1024;

/** kube-apiserver's message for a continue token whose resourceVersion is gone. */
const CONTINUE_EXPIRED = "The provided continue parameter is too old to display a consistent " +
  "list result. You can start a new list without the continue parameter.";

/** Subresources served (they read the object itself, as KubeEdge does). */
const READABLE_SUBRESOURCES = new Set(["", "status"]);

function respond(b: Body, status = 200, extra: Record<string, string> = {}): Response {
  return new Response(b.body, {
    status,
    headers: { "content-type": b.contentType, "x-content-type-options": "nosniff", ...extra },
  });
}

/** A Status error in the representation the client accepts (JSON when none). */
function statusResponse(s: Status, req: Request, extra: Record<string, string> = {}): Response {
  const rep = negotiate(req.headers.get("accept"), { yaml: true, table: false }) ??
    { type: "json" };
  return respond(encodeDocument(s, rep), s.code, extra);
}

/** A non-negative integer query parameter; undefined when absent. */
function uintParam(query: URLSearchParams, name: string): bigint | undefined {
  const v = query.get(name);
  if (v === null || v === "") return undefined;
  if (!/^\d+$/.test(v)) throw new SelectorError(`${name}: Invalid value: ${JSON.stringify(v)}`);
  return BigInt(v);
}

/** What a resource request reads: the resource, its namespace ("" = all) and name. */
interface Target {
  resource: ResourceInfo;
  namespace: string;
  name: string;
}

/** The request handler of the MetaServer. */
export function createMetaServerHandler(
  options: MetaServerOptions,
): (req: Request) => Response | Promise<Response> {
  const { store, hub, logger, cloud } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const tables = options.tables === undefined ? KUBE_TABLES : options.tables ?? undefined;

  /**
   * `rep` with the request's table options (query parameter `includeObject`, as
   * kube-apiserver reads them).
   * @throws {SelectorError} (400 BadRequest) for an invalid includeObject
   */
  function tableOptions(rep: Representation, query: URLSearchParams): Representation {
    if (rep.type !== "table") return rep;
    const includeObject = query.get("includeObject") ?? rep.includeObject;
    const bad = tableOptionsError(includeObject);
    if (bad !== undefined) throw new SelectorError(bad);
    return { ...rep, includeObject };
  }

  function nonResource(req: Request, info: RequestInfo): Response {
    if (info.path === "/openapi/v2" && (req.method === "GET" || req.method === "HEAD")) {
      if ((req.headers.get("accept") ?? "").includes(OPENAPI_V2_PROTOBUF)) {
        return new Response(req.method === "HEAD" ? null : openApiV2Protobuf(), {
          headers: { "content-type": OPENAPI_V2_PROTOBUF_CONTENT_TYPE },
        });
      }
      return respond(encodeDocument(openApiV2Json(), { type: "json" }));
    }
    const host = options.serverAddress ?? req.headers.get("host") ?? "";
    const doc = discoveryDocument(info.path, host, () => storedResources(store));
    if (doc === undefined) return statusResponse(pathNotFound(), req);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return statusResponse(methodNotAllowed(), req, { allow: "GET, HEAD" });
    }
    const rep = negotiate(req.headers.get("accept"), { yaml: true, table: false });
    if (!rep) return statusResponse(notAcceptable(SUPPORTED_MEDIA_TYPES), req);
    return respond(encodeDocument(doc, rep));
  }

  /** Resolves the resource and scope of a resource request, or the error response. */
  function target(req: Request, info: RequestInfo): Target | Response {
    const resource = resolveResource(store, info.apiGroup, info.apiVersion, info.resource);
    if (!resource || info.parts.length > 3 || !READABLE_SUBRESOURCES.has(info.subresource)) {
      return statusResponse(pathNotFound(), req);
    }
    let namespace = "";
    if (resource.generic) {
      // any scope, as KubeEdge serves it: the path's namespace, if any
      if (info.namespacePrefix) namespace = info.namespace;
    } else if (resource.namespaced) {
      if (info.namespacePrefix) namespace = info.namespace;
      else if (info.parts.length > 1) return statusResponse(pathNotFound(), req); // /api/v1/pods/x
    } else if (info.namespacePrefix) {
      return statusResponse(pathNotFound(), req); // /api/v1/namespaces/x/nodes
    }
    const writable = options.cloud !== undefined && options.writes !== false &&
      WRITE_VERBS.has(info.verb);
    if (!READ_VERBS.includes(info.verb) && !writable) {
      // create, update, patch, delete, deletecollection, proxy, unknown methods: read-only
      const t = { group: resource.group, resource: resource.resource, name: info.name };
      return statusResponse(methodNotAllowed(t), req, { allow: "GET, HEAD" });
    }
    return { resource, namespace, name: info.name };
  }

  function get(req: Request, t: Target, rep: Representation): Response {
    const item = getObject(store, t.resource, t.namespace, t.name);
    if (!item) {
      return statusResponse(
        notFound({ group: t.resource.group, resource: t.resource.resource, name: t.name }),
        req,
      );
    }
    return respond(encodeObject(item, t.resource, rep, tables));
  }

  function list(req: Request, url: URL, t: Target, rep: Representation): Response {
    const query = url.searchParams;
    const selection = parseSelection(query, t.resource);
    const limit = uintParam(query, "limit") ?? 0n;
    const token = query.get("continue") ?? "";
    let after = "";
    let rv = hub.revision;
    if (token !== "") {
      if ((query.get("resourceVersion") ?? "") !== "") {
        return statusResponse(
          badRequest("specifying resource version is not allowed when using continue"),
          req,
        );
      }
      try {
        const c = decodeContinue(token);
        after = c.after;
        rv = c.rv;
      } catch (e) {
        if (e instanceof ContinueError) {
          return statusResponse(badRequest(`invalid continue token: ${e.message}`), req);
        }
        throw e;
      }
      // A list at a revision the watch history no longer reaches cannot be resumed.
      if (rv < hub.minResumable) return statusResponse(expired(CONTINUE_EXPIRED), req);
    }
    const paged = limit > 0n || token !== "";
    const page = listPage(store, t.resource, t.namespace, t.name, selection, {
      after,
      limit: limit > 0n ? Number(limit) : Infinity,
      maxBytes: paged ? PAGE_BYTES : MAX_LIST_BYTES,
      failOverBytes: !paged,
    });
    if (!page) {
      return statusResponse(
        tooLarge(
          `the list of ${t.resource.resource} exceeds the limit of ${MAX_LIST_BYTES} bytes ` +
            `for one response: ask for it in pages with limit and continue ` +
            `(kubectl does, --chunk-size)`,
        ),
        req,
      );
    }
    const resourceVersion = rv.toString();
    return respond(
      encodeList(
        {
          resource: t.resource,
          resourceVersion,
          items: page.items,
          continue: page.lastKey !== undefined ? encodeContinue(page.lastKey, rv) : undefined,
        },
        rep,
        tables,
      ),
    );
  }

  function watch(req: Request, url: URL, t: Target): Response {
    const query = url.searchParams;
    const negotiated = negotiate(req.headers.get("accept"), {
      yaml: false,
      table: tables !== undefined,
    });
    if (!negotiated) return statusResponse(notAcceptable(["application/json"]), req);
    const rep = tableOptions(negotiated, query);
    const selection = parseSelection(query, t.resource);
    const rv = query.get("resourceVersion") ?? "";
    if (rv !== "" && !/^\d+$/.test(rv)) {
      return statusResponse(
        badRequest(`resourceVersion: Invalid value: ${JSON.stringify(rv)}: must be an integer`),
        req,
      );
    }
    const timeout = uintParam(query, "timeoutSeconds");
    const headers = {
      "content-type": "application/json",
      "cache-control": "no-cache, private",
      "x-content-type-options": "nosniff",
    };
    if (req.method === "HEAD") return new Response(null, { status: 200, headers });
    const initialEvents = queryBool(query, "sendInitialEvents") || rv === "" || rv === "0";
    const gvr = storedGvr(t.resource);
    // The initial events are read from the store a page at a time as the client takes
    // them (the watcher leaves out changes its pages will show), never as one list.
    const initial = initialEvents
      ? (after: string) =>
        listPage(store, t.resource, t.namespace, t.name, selection, {
          after,
          limit: WATCH_PAGE_ITEMS,
          maxBytes: WATCH_PAGE_BYTES,
        })!
      : undefined;
    let afterInitial: ((revision: bigint) => string) | undefined;
    if (queryBool(query, "sendInitialEvents") && queryBool(query, "allowWatchBookmarks")) {
      afterInitial = (revision) =>
        eventLine(
          "BOOKMARK",
          JSON.stringify({
            apiVersion: groupVersion(t.resource.group, t.resource.version),
            kind: t.resource.kind,
            metadata: {
              annotations: { "k8s.io/initial-events-end": "true" },
              resourceVersion: revision.toString(),
            },
          }),
        );
    }
    const watcher = hub.watch({
      gvr,
      namespace: t.namespace,
      name: t.name,
      selection,
      since: initialEvents ? undefined : BigInt(rv),
      initial,
      afterInitial,
      timeoutSeconds: timeout === undefined || timeout === 0n ? undefined : Number(timeout),
    });
    const body = rep.type === "table" && tables
      ? tableWatchStream(watcher.stream, tables, t.resource, rep)
      : watcher.stream;
    return new Response(body, { status: 200, headers });
  }

  /** True when a read asks the cloud first (connected, or strict mode: always). */
  function readsCloud(): boolean {
    return cloud !== undefined && cloud.readsCloud();
  }

  async function write(req: Request, info: RequestInfo, t: Target): Promise<Response> {
    const w = await writeRequest(req, info, t.resource, t.namespace, cloud!.nodeName, maxBodyBytes);
    if ("kind" in w) return statusResponse(w, req);
    const r = await cloud!.apply(w.app);
    if (!r.ok) return statusResponse(failureStatus(r), req);
    let obj: unknown;
    try {
      obj = parseJsonFloat64(r.text); // as Go's json.Unmarshal of RespBody
    } catch {
      return statusResponse(internalError("the cloud's answer is not JSON"), req);
    }
    const rep = negotiate(req.headers.get("accept"), { yaml: true, table: false }) ??
      { type: "json" as const };
    if (rep.type === "yaml") return respond(encodeDocument(obj, rep), w.okCode);
    return respond({ body: r.text.trimEnd() + "\n", contentType: "application/json" }, w.okCode);
  }

  /** GET or LIST through the cloud; undefined when the cloud did not answer it. */
  async function cloudRead(
    url: URL,
    info: RequestInfo,
    t: Target,
    rep: Representation,
  ): Promise<Response | undefined> {
    const verb = info.verb === "get" ? "get" : "list";
    const r = await cloud!.apply({
      key: requestKey(t.resource, t.namespace, t.name),
      verb,
      nodeName: cloud!.nodeName,
      option: new TextEncoder().encode(JSON.stringify(readOptions(verb, url.searchParams))),
    });
    if (!r.ok) return undefined;
    let doc: Record<string, unknown>;
    try {
      const v = parseJsonFloat64(r.text); // as Go's json.Unmarshal of RespBody
      if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
      doc = v as Record<string, unknown>;
    } catch {
      return undefined;
    }
    if (verb === "get") {
      if (typeof doc.kind === "string" && doc.kind !== "") options.onCloudObject?.(doc, r.text);
      if (rep.type === "table" && tables) {
        return respond(encodeDocument(tables.toTable([doc], t.resource, rep), { type: "json" }));
      }
    } else if (rep.type === "table" && tables) {
      const items = Array.isArray(doc.items) ? doc.items : [];
      const meta = doc.metadata as { resourceVersion?: string } | undefined;
      return respond(encodeDocument(
        tables.toTable(items, t.resource, rep, { resourceVersion: meta?.resourceVersion ?? "" }),
        { type: "json" },
      ));
    }
    if (rep.type === "yaml") return respond(encodeDocument(doc, rep));
    return respond({ body: r.text.trimEnd() + "\n", contentType: "application/json" });
  }

  /** Sends the watch application (the local watch is served whatever the answer). */
  function registerWatch(url: URL, t: Target): void {
    if (!readsCloud()) return;
    cloud!.apply({
      key: requestKey(t.resource, t.namespace, t.name),
      verb: "watch",
      nodeName: cloud!.nodeName,
      option: new TextEncoder().encode(JSON.stringify(readOptions("watch", url.searchParams))),
    }).catch(() => {});
  }

  function handle(req: Request): Response | Promise<Response> {
    const url = new URL(req.url);
    let info: RequestInfo;
    try {
      info = parseRequestInfo(req.method, url);
    } catch (e) {
      if (e instanceof RequestInfoError) return statusResponse(pathNotFound(), req);
      throw e;
    }
    if (!info.isResourceRequest) return nonResource(req, info);
    const t = target(req, info);
    if (t instanceof Response) return t;
    if (WRITE_VERBS.has(info.verb)) return write(req, info, t);
    try {
      if (info.verb === "watch") {
        const res = watch(req, url, t);
        if (res.status === 200 && req.method !== "HEAD") registerWatch(url, t);
        return res;
      }
      const rep = negotiate(req.headers.get("accept"), { yaml: true, table: tables !== undefined });
      if (!rep) return statusResponse(notAcceptable(SUPPORTED_MEDIA_TYPES), req);
      const withOptions = tableOptions(rep, url.searchParams);
      const local = () =>
        info.verb === "get" ? get(req, t, withOptions) : list(req, url, t, withOptions);
      if (readsCloud() && req.method !== "HEAD") {
        // validate the query locally first (400s do not go to the cloud)
        if (info.verb === "list") parseSelection(url.searchParams, t.resource);
        return cloudRead(url, info, t, withOptions).then((r) => r ?? local());
      }
      return local();
    } catch (e) {
      if (e instanceof SelectorError) return statusResponse(badRequest(e.message), req);
      throw e;
    }
  }

  function serve(req: Request): Response | Promise<Response> {
    const failed = (e: unknown) => {
      logger?.error("metaserver request failed", {
        method: req.method,
        url: req.url,
        error: String(e),
      });
      if (e instanceof SelectorError) return statusResponse(badRequest(e.message), req);
      return statusResponse(internalError(String((e as Error)?.message ?? e)), req);
    };
    try {
      const r = handle(req);
      return r instanceof Promise ? r.catch(failed) : r;
    } catch (e) {
      return failed(e);
    }
  }

  // The YAML library is loaded by the first request that may be answered in YAML.
  return (req: Request): Response | Promise<Response> =>
    mayWantYaml(req) ? loadYaml().then(() => serve(req)) : serve(req);
}

/** True when the request's Accept header could select YAML (then YAML must be loaded). */
function mayWantYaml(req: Request): boolean {
  return /yaml/i.test(req.headers.get("accept") ?? "");
}
