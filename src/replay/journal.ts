/**
 * Reading an NDJSON journal of messages: line numbers, blank lines skipped, each line
 * parsed once into a typed message or a line-numbered error.
 *
 * @module
 */

import type { Message } from "../beehive/message.ts";
import { decodeUtf8Go, goTrimSpace } from "../beehive/go_decode.ts";
import { parseMessage, type Transport, WireError } from "../beehive/wire.ts";

/** One journal line: a message, or why it is not one. */
export type JournalEntry =
  | { line: number; text: string; message: Message }
  | { line: number; text: string; error: string };

/** The longest journal line processed (bytes, as serve's default `maxMessageBytes`). */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * Lines of a byte stream, numbered from 1 (a trailing `\r` is dropped). A line longer than
 * `maxBytes` is not kept in memory: it is skipped as it streams by and yielded with
 * `tooLong` (its size in bytes) and empty `text`.
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  maxBytes = MAX_LINE_BYTES,
): AsyncGenerator<{ line: number; text: string; tooLong?: number }> {
  let parts: Uint8Array[] = [];
  let size = 0;
  let skipping = false;
  let line = 0;
  const finish = () => {
    line++;
    if (skipping) return { line, text: "", tooLong: size };
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    // Go's decoding: a byte-order mark is input like any other (the line is invalid), each
    // byte that is not UTF-8 one U+FFFD.
    let text = decodeUtf8Go(bytes);
    if (text.endsWith("\r")) text = text.slice(0, -1);
    return { line, text };
  };
  const reset = () => {
    parts = [];
    size = 0;
    skipping = false;
  };
  for await (const chunk of stream) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const piece = chunk.subarray(start, nl < 0 ? chunk.length : nl);
      size += piece.length;
      if (!skipping && size > maxBytes) {
        skipping = true;
        parts = [];
      }
      if (!skipping && piece.length > 0) parts.push(piece);
      if (nl < 0) break;
      yield finish();
      reset();
      start = nl + 1;
    }
  }
  if (size > 0 || skipping) yield finish();
}

/**
 * Parses one journal line as `transport` delivers it (see parseMessage). Returns undefined
 * for a blank line (white space only, as Go's `unicode.IsSpace`: a byte-order mark is not).
 */
export function parseJournalLine(
  line: number,
  text: string,
  transport: Transport = "raw",
  cloudSources?: ReadonlySet<string>,
): JournalEntry | undefined {
  if (goTrimSpace(text) === "") return undefined;
  try {
    return { line, text, message: parseMessage(text, transport, cloudSources) };
  } catch (e) {
    const reason = e instanceof WireError ? e.message : String(e);
    return { line, text, error: `line ${line}: ${reason}` };
  }
}

/** The messages (or errors) of a journal stream, in order. */
export async function* readJournal(
  stream: ReadableStream<Uint8Array>,
  transport: Transport = "raw",
  cloudSources?: ReadonlySet<string>,
): AsyncGenerator<JournalEntry> {
  for await (const { line, text, tooLong } of readLines(stream)) {
    if (tooLong !== undefined) {
      yield {
        line,
        text: "",
        error: `line ${line}: message of ${tooLong} bytes exceeds the limit of ` +
          `${MAX_LINE_BYTES} bytes (maxMessageBytes)`,
      };
      continue;
    }
    const entry = parseJournalLine(line, text, transport, cloudSources);
    if (entry) yield entry;
  }
}
