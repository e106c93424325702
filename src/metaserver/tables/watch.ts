/**
 * Watch streams as tables (kube-apiserver behaviour for watches requested with
 * `as=Table`): every event's object becomes a Table with one row, computed when the event
 * is sent; only the first event's table carries the column definitions (kubectl reuses
 * them, and does not print the header again). ERROR events keep their Status; a BOOKMARK
 * becomes a row-less Table with the bookmark's resourceVersion.
 *
 * The transform works on the event lines of a {@link Watcher} stream and any
 * {@link TableConverter}, so the WatchHub stays representation-agnostic.
 *
 * @module
 */

import { parseJsonExact } from "../../beehive/go_json.ts";
import type { TableConverter } from "../representation.ts";
import type { ResourceInfo } from "../resources.ts";
import { isObj, obj, str } from "./format.ts";
import type { TableRepresentation } from "./table.ts";

/** Converts one watch event line (without its newline) to its table form. */
export function tableEventLine(
  line: string,
  tables: TableConverter,
  resource: ResourceInfo,
  rep: TableRepresentation,
  headers: boolean,
): { line: string; converted: boolean } {
  let event: unknown;
  try {
    event = parseJsonExact(line);
  } catch {
    return { line, converted: false };
  }
  if (!isObj(event) || !isObj(event.object) || event.type === "ERROR") {
    return { line, converted: false };
  }
  const type = str(event.type);
  let table: unknown;
  if (type === "BOOKMARK") {
    const rv = str(obj(event.object.metadata).resourceVersion);
    table = {
      kind: "Table",
      apiVersion: `meta.k8s.io/${rep.version}`,
      metadata: rv === "" ? {} : { resourceVersion: rv },
      columnDefinitions: null,
      rows: [],
    };
  } else {
    table = tables.toTable([event.object], resource, rep);
    if (!headers && isObj(table)) table.columnDefinitions = null;
  }
  return {
    line: `{"type":${JSON.stringify(type)},"object":${JSON.stringify(table)}}`,
    converted: type !== "BOOKMARK",
  };
}

/**
 * The watch body `source` (newline-delimited JSON events) with every event's object turned
 * into a Table. Cancelling the result cancels `source` (the watch is released).
 */
export function tableWatchStream(
  source: ReadableStream<Uint8Array>,
  tables: TableConverter,
  resource: ResourceInfo,
  rep: TableRepresentation,
): ReadableStream<Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let buffer = "";
  let headers = true;
  const convert = (line: string): string => {
    if (line.trim() === "") return "";
    const out = tableEventLine(line, tables, resource, rep, headers);
    if (out.converted) headers = false;
    return out.line + "\n";
  };
  return source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        buffer += decoder.decode(chunk, { stream: true });
        let out = "";
        for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
          out += convert(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
        }
        if (out !== "") controller.enqueue(encoder.encode(out));
      },
      flush(controller) {
        const rest = convert(buffer + decoder.decode());
        buffer = "";
        if (rest !== "") controller.enqueue(encoder.encode(rest));
      },
    }),
  );
}
