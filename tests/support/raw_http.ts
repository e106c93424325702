/**
 * Hostile-input support: HTTP requests and WebSocket frames written byte for byte on a
 * plain TCP connection, for what `fetch` and `WebSocket` will not send — paths with `..`
 * or `%2e%2e` segments kept as they are, raw upgrade requests whose refusal is the point,
 * text frames that are not UTF-8, frames of any opcode.
 *
 * @module
 */

import { withTimeout } from "./serve_process.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A response read off the wire. */
export interface RawResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function indexOfCrlfCrlf(buf: Uint8Array): number {
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

/** Reads one HTTP/1.1 response head; returns it and the bytes read after it. */
async function readHead(
  conn: Deno.Conn,
  initial: Uint8Array = new Uint8Array(0),
): Promise<{ status: number; headers: Record<string, string>; rest: Uint8Array }> {
  let buf = initial;
  const chunk = new Uint8Array(64 * 1024);
  for (;;) {
    const end = indexOfCrlfCrlf(buf);
    if (end >= 0) {
      const lines = decoder.decode(buf.subarray(0, end)).split("\r\n");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const colon = l.indexOf(":");
        if (colon > 0) headers[l.slice(0, colon).trim().toLowerCase()] = l.slice(colon + 1).trim();
      }
      return { status, headers, rest: buf.slice(end + 4) };
    }
    const n = await conn.read(chunk);
    if (n === null) {
      throw new Error(`connection closed before a response head: ${decoder.decode(buf)}`);
    }
    buf = concat(buf, chunk.subarray(0, n));
  }
}

/** Decodes a chunked body (complete) or returns undefined when more bytes are needed. */
function dechunk(buf: Uint8Array): Uint8Array | undefined {
  let out = new Uint8Array(0);
  let i = 0;
  for (;;) {
    let eol = -1;
    for (let j = i; j + 1 < buf.length; j++) {
      if (buf[j] === 13 && buf[j + 1] === 10) {
        eol = j;
        break;
      }
    }
    if (eol < 0) return undefined;
    const size = parseInt(decoder.decode(buf.subarray(i, eol)).split(";")[0], 16);
    if (!Number.isFinite(size)) throw new Error("bad chunk size");
    if (size === 0) return out;
    if (eol + 2 + size + 2 > buf.length) return undefined;
    out = concat(out, buf.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
}

/**
 * Sends `request` (the request line and headers are written exactly as given; `Host` and
 * `Connection: close` are added) to `127.0.0.1:port` and reads the response.
 */
export async function rawRequest(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body = "",
  timeoutMs = 10_000,
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const all: Record<string, string> = {
      host: `127.0.0.1:${port}`,
      connection: "close",
      ...headers,
    };
    if (body !== "" || ["POST", "PUT", "PATCH"].includes(method)) {
      all["content-length"] = String(encoder.encode(body).length);
    }
    const head = `${method} ${target} HTTP/1.1\r\n` +
      Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
    await conn.write(encoder.encode(head + body));
    const read = async (): Promise<RawResponse> => {
      const { status, headers: h, rest } = await readHead(conn);
      let buf = rest;
      const chunk = new Uint8Array(64 * 1024);
      const length = h["content-length"] !== undefined ? Number(h["content-length"]) : undefined;
      const chunked = /chunked/i.test(h["transfer-encoding"] ?? "");
      for (;;) {
        if (length !== undefined && buf.length >= length) {
          return { status, headers: h, body: decoder.decode(buf.subarray(0, length)) };
        }
        if (chunked) {
          const body = dechunk(buf);
          if (body) return { status, headers: h, body: decoder.decode(body) };
        }
        if (method === "HEAD" || status === 204 || status === 304) {
          return { status, headers: h, body: "" };
        }
        const n = await conn.read(chunk);
        if (n === null) return { status, headers: h, body: decoder.decode(buf) };
        buf = concat(buf, chunk.subarray(0, n));
      }
    };
    return await withTimeout(read(), timeoutMs, `no response to ${method} ${target}`);
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** WebSocket opcodes. */
export const OPCODE = { text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** A frame received from the server. */
export interface RawFrame {
  opcode: number;
  payload: Uint8Array;
  /** Payload as text (for text and close frames). */
  text: string;
}

/**
 * A WebSocket client on a plain TCP connection: sends any frame (masked, as a client
 * must); every frame the server sends is collected in {@link frames} by a background
 * reader.
 */
export class RawWebSocket {
  /** Frames received so far, in order. */
  readonly frames: RawFrame[] = [];
  /** Resolves when the connection has ended (read side). */
  readonly ended: Promise<void>;
  #buf: Uint8Array;
  #closed = false;
  #listeners = new Set<() => void>();
  #eof = false;

  private constructor(readonly conn: Deno.Conn, rest: Uint8Array) {
    this.#buf = rest;
    this.ended = this.#readAll();
  }

  /**
   * Opens `path` with an upgrade request.
   * @throws {Error} with the status when serve refuses the upgrade
   */
  static async connect(port: number, path: string, timeoutMs = 10_000): Promise<RawWebSocket> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const req = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
        `Sec-WebSocket-Version: 13\r\n\r\n`;
      await conn.write(encoder.encode(req));
      const { status, rest } = await withTimeout(readHead(conn), timeoutMs, `upgrade ${path}`);
      if (status !== 101) throw new Error(`upgrade of ${path} refused with ${status}`);
      return new RawWebSocket(conn, rest);
    } catch (e) {
      conn.close();
      throw e;
    }
  }

  /** True once the server's side of the connection has ended. */
  get eof(): boolean {
    return this.#eof;
  }

  /** Sends one frame (FIN set) with `payload`, masked. */
  async send(opcode: number, payload: Uint8Array | string): Promise<void> {
    const data = typeof payload === "string" ? encoder.encode(payload) : payload;
    const len = data.length;
    const head: number[] = [0x80 | opcode];
    if (len < 126) head.push(0x80 | len);
    else if (len < 65536) head.push(0x80 | 126, len >> 8, len & 0xff);
    else {
      head.push(0x80 | 127, 0, 0, 0, 0);
      head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
    }
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const frame = new Uint8Array(head.length + 4 + len);
    frame.set(head, 0);
    frame.set(mask, head.length);
    const at = head.length + 4;
    for (let i = 0; i < len; i++) frame[at + i] = data[i] ^ mask[i & 3];
    let written = 0;
    while (written < frame.length) written += await this.conn.write(frame.subarray(written));
  }

  async #fill(n: number): Promise<boolean> {
    const chunk = new Uint8Array(64 * 1024);
    while (this.#buf.length < n) {
      const got = await this.conn.read(chunk);
      if (got === null) return false;
      this.#buf = concat(this.#buf, chunk.subarray(0, got));
    }
    return true;
  }

  /** The next frame from the server, or undefined when the connection ended. */
  async #next(): Promise<RawFrame | undefined> {
    if (!await this.#fill(2)) return undefined;
    const opcode = this.#buf[0] & 0x0f;
    let len = this.#buf[1] & 0x7f;
    let at = 2;
    if (len === 126) {
      if (!await this.#fill(4)) return undefined;
      len = (this.#buf[2] << 8) | this.#buf[3];
      at = 4;
    } else if (len === 127) {
      if (!await this.#fill(10)) return undefined;
      len = Number(new DataView(this.#buf.buffer, this.#buf.byteOffset + 2, 8).getBigUint64(0));
      at = 10;
    }
    if (!await this.#fill(at + len)) return undefined;
    const payload = this.#buf.slice(at, at + len);
    this.#buf = this.#buf.slice(at + len);
    const text = decoder.decode(opcode === OPCODE.close ? payload.subarray(2) : payload);
    return { opcode, payload, text };
  }

  async #readAll(): Promise<void> {
    try {
      for (;;) {
        const f = await this.#next();
        if (f === undefined) break;
        this.frames.push(f);
        this.#notify();
      }
    } catch { /* reset or closed by us */ }
    this.#eof = true;
    this.#notify();
  }

  #notify(): void {
    for (const l of [...this.#listeners]) l();
  }

  /**
   * Resolves with the first frame from index `from` on that matches (also one already
   * received), or undefined when the connection ends first.
   * @throws {Error} after `timeoutMs`, listing what was received
   */
  async waitFor(
    predicate: (f: RawFrame) => boolean,
    from = 0,
    timeoutMs = 10_000,
    what = "a matching frame",
  ): Promise<RawFrame | undefined> {
    let check = () => {};
    const found = new Promise<RawFrame | undefined>((resolve) => {
      check = () => {
        const f = this.frames.slice(from).find(predicate);
        if (f !== undefined) resolve(f);
        else if (this.#eof) resolve(undefined);
      };
    });
    this.#listeners.add(check);
    check();
    try {
      return await withTimeout(found, timeoutMs, `no ${what}`);
    } catch (e) {
      const got = this.frames.slice(from).map((f) => `${f.opcode}: ${f.text.slice(0, 200)}`);
      throw new Error(`${(e as Error).message}; received:\n${got.join("\n")}`);
    } finally {
      this.#listeners.delete(check);
    }
  }

  /** Close code of a close frame. */
  static closeCode(frame: RawFrame): number {
    return frame.payload.length >= 2 ? (frame.payload[0] << 8) | frame.payload[1] : 1005;
  }

  /** Closes the TCP connection and waits for the reader to stop. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.conn.close();
      } catch { /* closed */ }
    }
    await this.ended;
  }
}
