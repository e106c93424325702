/**
 * `GET /openapi/v2`: what kubectl downloads before `create -f`, `apply -f` and `replace -f`
 * (its default client-side validation) and for `apply`'s patch computation. The MetaServer
 * holds no schemas: the document is a valid OpenAPI v2 (Swagger 2.0) document without
 * definitions, in the protobuf form kubectl asks for or as JSON. kubectl then skips schema
 * validation of each object (it validates only what a schema describes) and computes apply
 * patches from its built-in types (strategic merge) or as JSON merge patches (custom
 * resources). The cloud's apiserver validates every forwarded write.
 *
 * @module
 */

import denoJson from "../../deno.json" with { type: "json" };

/** The protobuf media type of OpenAPI v2 (gnostic's openapi_v2.Document) kubectl accepts. */
export const OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/** Its Content-Type as kube-apiserver writes it (Go's mime parser refuses the `@`). */
export const OPENAPI_V2_PROTOBUF_CONTENT_TYPE =
  "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

const TITLE = "edgecore-meta MetaServer";

/** The JSON form. */
export function openApiV2Json(): Record<string, unknown> {
  return {
    swagger: "2.0",
    info: { title: TITLE, version: denoJson.version },
    paths: {},
    definitions: {},
  };
}

function protoString(field: number, s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [(field << 3) | 2, bytes.length, ...bytes]; // short strings: one-byte length
}

/**
 * The protobuf form: openapi_v2.Document with `swagger` (field 1) and `info` (field 2:
 * Info with `title` field 1, `version` field 2).
 */
export function openApiV2Protobuf(): Uint8Array<ArrayBuffer> {
  const info = [...protoString(1, TITLE), ...protoString(2, denoJson.version)];
  return new Uint8Array([...protoString(1, "2.0"), (2 << 3) | 2, info.length, ...info]);
}
