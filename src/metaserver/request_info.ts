/**
 * Request classification exactly as kube-apiserver's RequestInfoFactory does it
 * (spec/metaserver.md §2): API prefixes `api` (group-less) and `apis`, verbs from the
 * HTTP method, `namespaces/{ns}/...` paths, the legacy `/watch/` path segment, and
 * `fieldSelector=metadata.name=<x>` naming the object of a list or watch.
 *
 * @module
 */

import { parseFieldSelector } from "./selectors.ts";

/** What a request is about. */
export interface RequestInfo {
  /** True for `/api/{version}/...` and `/apis/{group}/{version}/...` paths. */
  isResourceRequest: boolean;
  /** The (decoded) URL path. */
  path: string;
  /**
   * Kubernetes verb: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
   * `deletecollection`, `proxy`, or "" for other methods. For a non-resource request, the
   * lowercase HTTP method.
   */
  verb: string;
  /** `api` or `apis` (resource requests only). */
  apiPrefix: string;
  apiGroup: string;
  apiVersion: string;
  namespace: string;
  /**
   * True when the path had a `namespaces/{namespace}/` prefix before the resource (not
   * part of kube's RequestInfo; its router knows this from the route that matched).
   */
  namespacePrefix: boolean;
  resource: string;
  subresource: string;
  name: string;
  /** Path segments from the resource on: resource/name/subresource/... */
  parts: string[];
}

/** Prefixes of API paths. */
const API_PREFIXES = new Set(["api", "apis"]);
/** Prefixes without a group segment. */
const GROUPLESS_PREFIXES = new Set(["api"]);
/** Verbs given as a path segment before the resource. */
const SPECIAL_VERBS = new Set(["proxy", "watch"]);
/** Special verbs whose third part is not a subresource. */
const SPECIAL_VERBS_NO_SUBRESOURCES = new Set(["proxy"]);
/** Subresources of a namespace (not resources inside it). */
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

const METHOD_VERBS: Record<string, string> = {
  POST: "create",
  GET: "get",
  HEAD: "get",
  PUT: "update",
  PATCH: "patch",
  DELETE: "delete",
};

/** A request could not be classified (kube-apiserver answers these with an error). */
export class RequestInfoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RequestInfoError";
  }
}

/**
 * A boolean query parameter as Kubernetes decodes it: absent, `false` (any case) or `0`
 * → false; anything else, including an empty value, → true.
 */
export function queryBool(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  if (v === null) return false;
  return !(v === "0" || v.toLowerCase() === "false");
}

function splitPath(path: string): string[] {
  const trimmed = path.replace(/^\/+|\/+$/g, "");
  return trimmed === "" ? [] : trimmed.split("/");
}

/** Go's path.IsValidPathSegmentName: not `.`/`..`, no `/` or `%`. */
function isValidPathSegmentName(name: string): boolean {
  return name !== "." && name !== ".." && !name.includes("/") && !name.includes("%");
}

/**
 * Resolves the request info of `method` on `url`.
 * @throws {RequestInfoError} for a legacy special-verb path without a resource, or a path
 *   that is not valid percent-encoding
 */
export function parseRequestInfo(method: string, url: URL): RequestInfo {
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    throw new RequestInfoError(`invalid URL path encoding: ${url.pathname}`);
  }
  const info: RequestInfo = {
    isResourceRequest: false,
    path,
    verb: method.toLowerCase(),
    apiPrefix: "",
    apiGroup: "",
    apiVersion: "",
    namespace: "",
    namespacePrefix: false,
    resource: "",
    subresource: "",
    name: "",
    parts: [],
  };
  let parts = splitPath(path);
  if (parts.length < 3 || !API_PREFIXES.has(parts[0])) return info;
  info.apiPrefix = parts[0];
  parts = parts.slice(1);
  if (!GROUPLESS_PREFIXES.has(info.apiPrefix)) {
    if (parts.length < 3) return info;
    info.apiGroup = parts[0];
    parts = parts.slice(1);
  }
  info.isResourceRequest = true;
  info.apiVersion = parts[0];
  parts = parts.slice(1);

  if (SPECIAL_VERBS.has(parts[0])) {
    if (parts.length < 2) {
      throw new RequestInfoError(`unable to determine kind and namespace from url, ${url.href}`);
    }
    info.verb = parts[0];
    parts = parts.slice(1);
  } else {
    info.verb = METHOD_VERBS[method.toUpperCase()] ?? "";
  }

  if (parts[0] === "namespaces") {
    if (parts.length > 1) {
      info.namespace = parts[1];
      if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2])) {
        parts = parts.slice(2);
        info.namespacePrefix = true;
      }
    }
  }
  info.parts = parts;
  if (parts.length >= 3 && !SPECIAL_VERBS_NO_SUBRESOURCES.has(info.verb)) {
    info.subresource = parts[2];
  }
  if (parts.length >= 2) info.name = parts[1];
  if (parts.length >= 1) info.resource = parts[0];

  if (info.name === "" && info.verb === "get") {
    const query = url.searchParams;
    info.verb = queryBool(query, "watch") ? "watch" : "list";
    const fs = query.get("fieldSelector");
    if (fs !== null) {
      try {
        const name = parseFieldSelector(fs).requiresExactMatch("metadata.name");
        if (name !== undefined && isValidPathSegmentName(name)) info.name = name;
      } catch {
        // an unparsable selector is reported by the list/watch handler
      }
    }
  }
  if (info.name === "" && info.verb === "delete") info.verb = "deletecollection";
  return info;
}
