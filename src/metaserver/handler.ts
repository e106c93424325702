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
 * | POST, PUT, PATCH, DELETE | 405 MethodNotAllowed (read-only) |
 * | a resource outside the table | served from `meta_v2` as KubeEdge serves any resource (kind from the plural, generic Table columns) |
 * | unknown path | 404 NotFound Status |
 * | bad selector, resourceVersion, timeoutSeconds | 400 BadRequest Status |
 * | Accept without JSON, YAML or a wildcard (e.g. protobuf only) | 406 NotAcceptable |
 *
 * @module
 */

import type { Logger } from "../logger.ts";
import type { MetaV2Dao } from "../store/meta_v2.ts";
import { loadYaml } from "../yaml.ts";
import { discoveryDocument } from "./discovery.ts";
import { resolveResource, storedResources } from "./any_resource.ts";
import { getObject, listObjects, parseSelection } from "./read.ts";
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
import {
  badRequest,
  internalError,
  methodNotAllowed,
  notAcceptable,
  notFound,
  pathNotFound,
  type Status,
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
}

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
  const { store, hub, logger } = options;
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
    if (!READ_VERBS.includes(info.verb)) {
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

  function list(url: URL, t: Target, rep: Representation): Response {
    const selection = parseSelection(url.searchParams, t.resource);
    const items = listObjects(store, t.resource, t.namespace, t.name, selection);
    const resourceVersion = hub.revision.toString();
    return respond(encodeList({ resource: t.resource, resourceVersion, items }, rep, tables));
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
    // The initial read and the registration happen in one synchronous turn: no committed
    // change can fall between them.
    const initial = initialEvents
      ? listObjects(store, t.resource, t.namespace, t.name, selection)
      : undefined;
    let afterInitial: string | undefined;
    if (queryBool(query, "sendInitialEvents") && queryBool(query, "allowWatchBookmarks")) {
      const bookmark = {
        apiVersion: groupVersion(t.resource.group, t.resource.version),
        kind: t.resource.kind,
        metadata: {
          annotations: { "k8s.io/initial-events-end": "true" },
          resourceVersion: hub.revision.toString(),
        },
      };
      afterInitial = eventLine("BOOKMARK", JSON.stringify(bookmark));
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

  function handle(req: Request): Response {
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
    try {
      if (info.verb === "watch") return watch(req, url, t);
      const rep = negotiate(req.headers.get("accept"), { yaml: true, table: tables !== undefined });
      if (!rep) return statusResponse(notAcceptable(SUPPORTED_MEDIA_TYPES), req);
      const withOptions = tableOptions(rep, url.searchParams);
      return info.verb === "get" ? get(req, t, withOptions) : list(url, t, withOptions);
    } catch (e) {
      if (e instanceof SelectorError) return statusResponse(badRequest(e.message), req);
      throw e;
    }
  }

  function serve(req: Request): Response {
    try {
      return handle(req);
    } catch (e) {
      logger?.error("metaserver request failed", {
        method: req.method,
        url: req.url,
        error: String(e),
      });
      return statusResponse(internalError(String((e as Error)?.message ?? e)), req);
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
