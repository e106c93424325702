/**
 * A WebSocket bus module that reads slowly: a raw TCP client (the browser-style WebSocket
 * always reads everything at once) that does the opening handshake, then takes one frame
 * at most every `intervalMs`, reading from the socket only when it needs more bytes, so a
 * fast sender meets TCP backpressure as it would from a slow edged.
 *
 * @module
 */

const enc = new TextEncoder();

/** A slowly reading external module. */
export class SlowWsReader {
  /** Frames read so far. */
  frames = 0;
  #buf: Uint8Array = new Uint8Array(0);
  #stopped = false;
  readonly done: Promise<void>;

  private constructor(readonly conn: Deno.TcpConn, rest: Uint8Array, intervalMs: number) {
    this.#buf = rest;
    this.done = this.#run(intervalMs);
  }

  /** Attaches as `name`/`group` to serve at `127.0.0.1:PORT` and reads a frame per `intervalMs`. */
  static async connect(
    address: string,
    name: string,
    group: string,
    intervalMs: number,
  ): Promise<SlowWsReader> {
    const [hostname, port] = address.split(":");
    const conn = await Deno.connect({ hostname, port: Number(port) });
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await conn.write(enc.encode(
      `GET /v1/modules/${name}?group=${group} HTTP/1.1\r\nHost: ${address}\r\n` +
        `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
        `Sec-WebSocket-Version: 13\r\n\r\n`,
    ));
    let head: Uint8Array = new Uint8Array(0);
    for (;;) {
      const chunk = new Uint8Array(4096);
      const n = await conn.read(chunk);
      if (n === null) throw new Error(`${address} closed during the WebSocket handshake`);
      head = concat(head, chunk.subarray(0, n));
      const text = new TextDecoder().decode(head);
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) continue;
      if (!text.startsWith("HTTP/1.1 101")) {
        conn.close();
        throw new Error(`WebSocket upgrade refused: ${text.slice(0, end)}`);
      }
      return new SlowWsReader(
        conn,
        head.subarray(enc.encode(text.slice(0, end + 4)).length),
        intervalMs,
      );
    }
  }

  async #need(n: number): Promise<boolean> {
    while (this.#buf.length < n) {
      const chunk = new Uint8Array(16 * 1024);
      let got: number | null;
      try {
        got = await this.conn.read(chunk);
      } catch {
        return false;
      }
      if (got === null) return false;
      this.#buf = concat(this.#buf, chunk.subarray(0, got));
    }
    return true;
  }

  async #run(intervalMs: number): Promise<void> {
    while (!this.#stopped) {
      if (!await this.#need(2)) return;
      let len = this.#buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (!await this.#need(4)) return;
        len = (this.#buf[2] << 8) | this.#buf[3];
        off = 4;
      } else if (len === 127) {
        if (!await this.#need(10)) return;
        len = Number(new DataView(this.#buf.buffer, this.#buf.byteOffset + 2, 8).getBigUint64(0));
        off = 10;
      }
      if (!await this.#need(off + len)) return;
      this.#buf = this.#buf.slice(off + len);
      this.frames++;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  /** Stops reading and closes the connection. */
  async close(): Promise<void> {
    this.#stopped = true;
    try {
      this.conn.close();
    } catch { /* already closed */ }
    await this.done;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
