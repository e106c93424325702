/**
 * MetaServer requests answered through the cloud (spec/metaserver.md §3, §6): writes
 * (create, update, update of `/status`, patch, delete) are forwarded as applications and
 * answered with the cloud's result, the local store changing only when the cloud's
 * resulting insert/update/delete arrives; GET and LIST ask the cloud first and fall back
 * to the local store; WATCH registers a watch application.
 *
 * @module
 */

import { keyForRequest } from "../store/key.ts";
import type { ApplicationRequest, ApplicationResult, ApplicationVerb } from "./application.ts";
import { toBytes } from "./application.ts";
import type { RequestInfo } from "./request_info.ts";
import { queryBool } from "./request_info.ts";
import type { ResourceInfo } from "./resources.ts";
import { internalError, type Status, status } from "./status.ts";

/** Patch content types forwarded to the cloud. */
export const PATCH_TYPES: readonly string[] = [
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
];

/** The storage key of a request (KubeEdge's KeyFuncReq): `/<group>/<version>/<resource>/<ns>/<name>`. */
export function requestKey(resource: ResourceInfo, namespace: string, name: string): string {
  return keyForRequest(resource.group, resource.version, resource.resource, namespace, name);
}

function setIf(out: Record<string, unknown>, query: URLSearchParams, name: string): void {
  const v = query.get(name);
  if (v !== null && v !== "") out[name] = v;
}

function intIf(out: Record<string, unknown>, query: URLSearchParams, name: string): void {
  const v = query.get(name);
  if (v !== null && /^-?\d+$/.test(v)) out[name] = Number(v);
}

/** v1 GetOptions or ListOptions of a read (JSON keys as Go marshals them, empty omitted). */
export function readOptions(verb: "get" | "list" | "watch", query: URLSearchParams): unknown {
  const o: Record<string, unknown> = {};
  if (verb !== "get") {
    setIf(o, query, "labelSelector");
    setIf(o, query, "fieldSelector");
    if (verb === "watch") o.watch = true;
    if (queryBool(query, "allowWatchBookmarks")) o.allowWatchBookmarks = true;
  }
  setIf(o, query, "resourceVersion");
  if (verb !== "get") {
    setIf(o, query, "resourceVersionMatch");
    intIf(o, query, "timeoutSeconds");
    intIf(o, query, "limit");
    setIf(o, query, "continue");
  }
  return o;
}

/** v1 CreateOptions / UpdateOptions / PatchOptions of a write, from the query. */
function writeOptions(query: URLSearchParams, patch: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const dryRun = query.getAll("dryRun").filter((v) => v !== "");
  if (dryRun.length > 0) o.dryRun = dryRun;
  if (patch && query.has("force")) o.force = queryBool(query, "force");
  setIf(o, query, "fieldManager");
  setIf(o, query, "fieldValidation");
  return o;
}

/** A write's application request, or the Status of a bad request. */
export interface WriteRequest {
  app: ApplicationRequest;
  /** HTTP status of success (201 for create). */
  okCode: number;
}

/** Reads a JSON object body; undefined when it is not one. */
function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The application of a write request (`info.verb` create/update/patch/delete).
 * @returns the application, or a Status for a request that cannot be forwarded
 */
export async function writeRequest(
  req: Request,
  info: RequestInfo,
  resource: ResourceInfo,
  namespace: string,
  nodeName: string,
  maxBodyBytes: number,
): Promise<WriteRequest | Status> {
  const url = new URL(req.url);
  const query = url.searchParams;
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > maxBodyBytes) {
    return status(413, "RequestEntityTooLarge", `request body exceeds ${maxBodyBytes} bytes`);
  }
  const body = await req.text();
  if (body.length > maxBodyBytes) {
    return status(413, "RequestEntityTooLarge", `request body exceeds ${maxBodyBytes} bytes`);
  }
  const contentType = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  const key = requestKey(resource, namespace, info.name);
  const base = { key, nodeName };
  switch (info.verb) {
    case "create":
    case "update": {
      const obj = jsonObject(body);
      if (!obj) {
        return status(400, "BadRequest", "the request body is not a JSON object");
      }
      const verb: ApplicationVerb = info.verb === "update" && info.subresource === "status"
        ? "updatestatus"
        : info.verb as ApplicationVerb;
      return {
        app: { ...base, verb, option: toBytes(writeOptions(query, false)), reqBody: toBytes(obj) },
        okCode: info.verb === "create" ? 201 : 200,
      };
    }
    case "patch": {
      if (!PATCH_TYPES.includes(contentType)) {
        return status(
          415,
          "UnsupportedMediaType",
          `the body of the request was in an unknown format - accepted media types include: ${
            PATCH_TYPES.join(", ")
          }`,
        );
      }
      if (jsonObject(body) === undefined && !body.trimStart().startsWith("[")) {
        return status(400, "BadRequest", "the patch is not JSON");
      }
      const options = writeOptions(query, true);
      const reqBody = {
        Name: info.name,
        PatchType: contentType,
        Data: btoa(String.fromCharCode(...new TextEncoder().encode(body))),
        Options: options,
        Subresources: info.subresource === "" ? [] : [info.subresource],
      };
      return {
        app: { ...base, verb: "patch", option: toBytes(options), reqBody: toBytes(reqBody) },
        okCode: 200,
      };
    }
    case "delete": {
      const options = body.trim() === "" ? {} : jsonObject(body);
      if (!options) return status(400, "BadRequest", "the DeleteOptions body is not JSON");
      intIf(options, query, "gracePeriodSeconds");
      setIf(options, query, "propagationPolicy");
      return { app: { ...base, verb: "delete", option: toBytes(options) }, okCode: 200 };
    }
  }
  return status(
    405,
    "MethodNotAllowed",
    "the server does not allow this method on the requested resource",
  );
}

/**
 * The Status a client sees for a failed application: 503 while the node is offline or the
 * cloud left the last application unanswered (fixed mode), the cloud's own Status when it sent one (e.g. 409 AlreadyExists), else 500
 * InternalError with the cloud's reason (upstream), also on timeout.
 */
export function failureStatus(r: Extract<ApplicationResult, { ok: false }>): Status {
  if (r.why === "offline") {
    return status(
      503,
      "ServiceUnavailable",
      "the node is offline: writes through the MetaServer need the cloud, which is not connected",
    );
  }
  if (r.why === "unanswered") {
    return status(503, "ServiceUnavailable", `writes need the cloud: ${r.reason}`);
  }
  if (r.status) return r.status;
  return internalError(r.reason);
}
