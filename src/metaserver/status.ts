/**
 * Kubernetes `Status` errors (metav1.Status, k8s.io/apimachinery/pkg/api/errors) as the
 * MetaServer returns them: HTTP status = `code`, body = the Status object.
 *
 * @module
 */

import { qualifiedResource } from "./resources.ts";

/** Details of a Status (which object it is about). */
export interface StatusDetails {
  name?: string;
  group?: string;
  /** The plural resource name, as Kubernetes fills it. */
  kind?: string;
  retryAfterSeconds?: number;
}

/** A metav1.Status (failure). */
export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

/** A Status with `code`, `reason` and `message`. */
export function status(
  code: number,
  reason: string,
  message: string,
  details?: StatusDetails,
): Status {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details !== undefined ? { details } : {}),
    code,
  };
}

/** Which object of which resource a Status is about. */
export interface Target {
  group: string;
  resource: string;
  name: string;
}

function details(t: Target): StatusDetails {
  const d: StatusDetails = {};
  if (t.name !== "") d.name = t.name;
  if (t.group !== "") d.group = t.group;
  d.kind = t.resource;
  return d;
}

/** 404 `pods "x" not found`. */
export function notFound(t: Target): Status {
  return status(404, "NotFound", `${qualifiedResource(t)} "${t.name}" not found`, details(t));
}

/** 404 for a path or resource the server does not serve. */
export function pathNotFound(): Status {
  return status(404, "NotFound", "the server could not find the requested resource", {});
}

/** 405: the MetaServer is read-only. */
export function methodNotAllowed(t?: Target): Status {
  return status(
    405,
    "MethodNotAllowed",
    "the server does not allow this method on the requested resource",
    t ? details(t) : {},
  );
}

/** 400 with `message`. */
export function badRequest(message: string): Status {
  return status(400, "BadRequest", message);
}

/** 406: no acceptable representation. */
export function notAcceptable(supported: readonly string[]): Status {
  return status(
    406,
    "NotAcceptable",
    `only the following media types are accepted: ${supported.join(", ")}`,
  );
}

/** 410 Expired: the requested resourceVersion is older than the watch history. */
export function expired(message: string): Status {
  return status(410, "Expired", message);
}

/** 500 InternalError. */
export function internalError(message: string): Status {
  return status(500, "InternalError", `Internal error occurred: ${message}`);
}

/** 413 RequestEntityTooLarge: an answer over a hard limit, named in `message`. */
export function tooLarge(message: string): Status {
  return status(413, "RequestEntityTooLarge", message);
}
