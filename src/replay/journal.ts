/**
 * Reading an NDJSON journal of messages: line numbers, blank lines skipped, each line
 * parsed once into a typed message or a line-numbered error.
 *
 * @module
 */

import type { Message } from "../beehive/message.ts";
import { goTrimSpace } from "../beehive/go_decode.ts";
import { parseMessage, type Transport, WireError } from "../beehive/wire.ts";

/** One journal line: a message, or why it is not one. */
export type JournalEntry =
  | { line: number; text: string; message: Message }
  | { line: number; text: string; error: string };

/** Lines of a byte stream, numbered from 1 (a trailing `\r` is dropped). */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<{ line: number; text: string }> {
  const decoder = new TextDecoder();
  let buffer = "";
  let line = 0;
  for await (const chunk of stream) {
    buffer += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (;;) {
      const nl = buffer.indexOf("\n", start);
      if (nl < 0) break;
      let text = buffer.slice(start, nl);
      if (text.endsWith("\r")) text = text.slice(0, -1);
      yield { line: ++line, text };
      start = nl + 1;
    }
    buffer = buffer.slice(start);
  }
  buffer += decoder.decode();
  if (buffer.length > 0) yield { line: ++line, text: buffer.replace(/\r$/, "") };
}

/**
 * Parses one journal line as `transport` delivers it (see parseMessage). Returns undefined
 * for a blank line (white space only, as Go's `unicode.IsSpace`: a byte-order mark is not).
 */
export function parseJournalLine(
  line: number,
  text: string,
  transport: Transport = "raw",
): JournalEntry | undefined {
  if (goTrimSpace(text) === "") return undefined;
  try {
    return { line, text, message: parseMessage(text, transport) };
  } catch (e) {
    const reason = e instanceof WireError ? e.message : String(e);
    return { line, text, error: `line ${line}: ${reason}` };
  }
}

/** The messages (or errors) of a journal stream, in order. */
export async function* readJournal(
  stream: ReadableStream<Uint8Array>,
  transport: Transport = "raw",
): AsyncGenerator<JournalEntry> {
  for await (const { line, text } of readLines(stream)) {
    const entry = parseJournalLine(line, text, transport);
    if (entry) yield entry;
  }
}
