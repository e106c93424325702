/**
 * Reading an NDJSON journal of messages: line numbers, blank lines skipped, each line
 * parsed once into a typed message or a line-numbered error.
 *
 * @module
 */

import type { Message } from "../beehive/message.ts";
import { decodeUtf8Go, goTrimSpace } from "../beehive/go_decode.ts";
import { parseMessageOrError, type Transport, WireError } from "../beehive/wire.ts";
import type { Decoded, FrameDecoder } from "../metamanager/frame_decoder.ts";

/** One journal line: a message, or why it is not one. */
export type JournalEntry =
  | { line: number; text: string; message: Message }
  | { line: number; text: string; error: string };

/** The longest journal line processed (bytes, as serve's default `maxMessageBytes`). */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** One line of a byte stream (see {@link readLineBatches}). */
export interface StreamLine {
  line: number;
  text: string;
  /** Set (its size in bytes) for a line longer than the limit, whose text is empty. */
  tooLong?: number;
}

/**
 * Lines of a byte stream, numbered from 1 (a trailing `\r` is dropped), in batches: the
 * lines that each read of the stream completes (nothing waits for more input than one
 * read gives, so a live stream's lines come as they arrive). A line longer than
 * `maxBytes` is not kept in memory: it is skipped as it streams by and yielded with
 * `tooLong` (its size in bytes) and empty `text`.
 */
export async function* readLineBatches(
  stream: ReadableStream<Uint8Array>,
  maxBytes = MAX_LINE_BYTES,
): AsyncGenerator<StreamLine[]> {
  let parts: Uint8Array[] = [];
  let size = 0;
  let skipping = false;
  let line = 0;
  const finish = (): StreamLine => {
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
    const batch: StreamLine[] = [];
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
      batch.push(finish());
      reset();
      start = nl + 1;
    }
    if (batch.length > 0) yield batch;
  }
  if (size > 0 || skipping) yield [finish()];
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
  return entryOf(line, text, parseMessageOrError(text, transport, cloudSources));
}

/** The entry of a decoded line: its message, or its error naming the line. */
function entryOf(line: number, text: string, decoded: Decoded): JournalEntry {
  if (!(decoded instanceof Error)) return { line, text, message: decoded };
  const reason = decoded instanceof WireError ? decoded.message : String(decoded);
  return { line, text, error: `line ${line}: ${reason}` };
}

function tooLongEntry(line: number, bytes: number): JournalEntry {
  return {
    line,
    text: "",
    error: `line ${line}: message of ${bytes} bytes exceeds the limit of ` +
      `${MAX_LINE_BYTES} bytes (maxMessageBytes)`,
  };
}

/**
 * The messages (or errors) of a journal stream, in order. With a `decoder`, the lines of
 * each read are decoded as one batch (on its worker when it is worth it), the next read's
 * while this one's entries are processed; the entries are the same as without.
 */
export async function* readJournal(
  stream: ReadableStream<Uint8Array>,
  transport: Transport = "raw",
  cloudSources?: ReadonlySet<string>,
  decoder?: FrameDecoder,
): AsyncGenerator<JournalEntry> {
  if (decoder === undefined) {
    for await (const batch of readLineBatches(stream)) {
      for (const { line, text, tooLong } of batch) {
        if (tooLong !== undefined) {
          yield tooLongEntry(line, tooLong);
          continue;
        }
        const entry = parseJournalLine(line, text, transport, cloudSources);
        if (entry) yield entry;
      }
    }
    return;
  }
  const batches = readLineBatches(stream);
  type Started = { lines: StreamLine[]; decoded: Promise<Decoded[]> };
  const start = async (): Promise<Started | undefined> => {
    const r = await batches.next();
    if (r.done) return undefined;
    const lines = r.value.filter((l) => l.tooLong !== undefined || goTrimSpace(l.text) !== "");
    const texts = lines.filter((l) => l.tooLong === undefined).map((l) => l.text);
    return { lines, decoded: decoder.decode(texts) };
  };
  try {
    let cur = await start();
    while (cur !== undefined) {
      const next = start(); // the next read, and its decoding, while these are processed
      next.catch(() => {}); // awaited below
      const decoded = await cur.decoded;
      let k = 0;
      for (const { line, text, tooLong } of cur.lines) {
        if (tooLong !== undefined) {
          yield tooLongEntry(line, tooLong);
          continue;
        }
        yield entryOf(line, text, decoded[k++]);
      }
      cur = await next;
    }
  } finally {
    await batches.return(undefined);
  }
}
