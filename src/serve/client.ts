/**
 * A small client for serve's HTTP API, over TCP or a unix socket.
 *
 * @module
 */

import { CommandError } from "../errors.ts";

const HINT = "start `edgecore-meta serve`, point to it with --server http://HOST:PORT or " +
  "--server unix:PATH (or --config), or run on a database file with --db PATH";

async function overUnix(
  path: string,
  method: string,
  target: string,
  payloadText = "",
): Promise<[number, string]> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    const payload = new TextEncoder().encode(payloadText);
    const req = `${method} ${target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: ` +
      `${payload.length}\r\nConnection: close\r\n\r\n`;
    await conn.write(new TextEncoder().encode(req));
    if (payload.length > 0) await conn.write(payload);
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const raw = new TextDecoder().decode(
      chunks.reduce((a, c) => {
        const out = new Uint8Array(a.length + c.length);
        out.set(a);
        out.set(c, a.length);
        return out;
      }, new Uint8Array()),
    );
    const split = raw.indexOf("\r\n\r\n");
    const head = raw.slice(0, split), rest = raw.slice(split + 4);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
    if (!/transfer-encoding:\s*chunked/i.test(head)) return [status, rest];
    let body = "", i = 0;
    for (;;) {
      const eol = rest.indexOf("\r\n", i);
      const size = parseInt(rest.slice(i, eol), 16);
      if (!size) break;
      body += rest.slice(eol + 2, eol + 2 + size);
      i = eol + 2 + size + 2;
    }
    return [status, body];
  } finally {
    conn.close();
  }
}

/**
 * Sends a request (with `payload` as its body, if given) to a running serve and returns
 * the body of a 2xx answer.
 * @param server `http://HOST:PORT`, `HOST:PORT` or `unix:PATH`
 * @throws {CommandError} naming the address tried, when unreachable or not 2xx (with
 *   serve's error message)
 */
export async function requestServer(
  server: string,
  method: string,
  path: string,
  payload?: string,
): Promise<string> {
  let status: number, body: string;
  try {
    if (server.startsWith("unix:")) {
      [status, body] = await overUnix(server.slice(5), method, path, payload);
    } else {
      const base = /^https?:\/\//.test(server) ? server : `http://${server}`;
      const res = await fetch(new URL(path, base), {
        method,
        body: payload,
        signal: AbortSignal.timeout(30_000),
      });
      [status, body] = [res.status, await res.text()];
    }
  } catch (e) {
    throw new CommandError(
      `Cannot reach a running serve at ${server} (${(e as Error).message}); ${HINT}`,
    );
  }
  if (status < 200 || status > 299) {
    let message = body.trim();
    try {
      const error = JSON.parse(body)?.error; // serve's problem(): {"error": "..."}
      if (typeof error === "string") message = error;
    } catch { /* not JSON: the text as is */ }
    throw new CommandError(
      `serve at ${server} answered ${status} to ${method} ${path}: ${message}`,
    );
  }
  return body;
}
