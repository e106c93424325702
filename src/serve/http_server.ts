/**
 * serve's HTTP server: node:http with the `ws` package for WebSocket upgrades, serving a
 * fetch-style handler (`Request` in, `Response` out).
 *
 * Why not `Deno.serve`: its WebSocket (`Deno.upgradeWebSocket`) reads every frame as it
 * arrives and cannot be paused, so a peer that sends faster than serve processes makes
 * serve hold its frames in memory. A `ws` socket over node:http's upgraded TCP socket can
 * be paused ({@link PeerSocket.pause}): serve stops reading, the kernel's receive buffer
 * fills and TCP flow control makes the sender wait. That is KubeEdge's behaviour (a
 * blocked beehive channel stops edgehub reading from the cloud) without its unbounded
 * goroutines.
 *
 * @module
 */

import http from "node:http";
import type { Duplex } from "node:stream";
import { Readable } from "node:stream";
// @ts-types="npm:@types/ws@8.18.2"
import { WebSocketServer } from "ws";
// @ts-types="npm:@types/ws@8.18.2"
import type { WebSocket as WsSocket } from "ws";
import type { ListenAddress } from "./listen.ts";

/** A WebSocket peer as serve's bridge uses it (a `ws` socket). */
export type PeerSocket = WsSocket;

/** What a handler gets besides the request. */
export interface RequestContext {
  /**
   * For a WebSocket upgrade request: accepts it; `onSocket` gets the open socket. Return
   * the response this gives. Undefined for a plain request.
   */
  upgradeWebSocket?: (onSocket: (socket: PeerSocket) => void) => Response;
}

/** A fetch-style handler. */
export type Handler = (req: Request, ctx: RequestContext) => Response | Promise<Response>;

/** Options of {@link serveHttp}. */
export interface ServeHttpOptions {
  listen: ListenAddress;
  /** Largest WebSocket message read (longer ones close the connection with 1009). */
  maxPayload: number;
  onError: (e: unknown) => Response;
}

/** A running server. */
export interface HttpServer {
  /** The bound address: `HOST:PORT`, `[IPv6]:PORT` or `unix:PATH`. */
  address: string;
  /** Stops accepting connections and closes idle ones (open requests and sockets go on). */
  stopAccepting(): void;
  /**
   * Stops accepting connections and closes idle ones; resolves when every connection
   * (but upgraded WebSockets, which their owner closes) has ended.
   */
  shutdown(): Promise<void>;
  /** Resolves when the server has closed. */
  finished: Promise<void>;
}

/** Marks the response of an accepted upgrade (never sent: `ws` writes the 101). */
const UPGRADED = Symbol("upgraded");

function toRequest(req: http.IncomingMessage, withBody: boolean): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
  const url = `http://${req.headers.host || "localhost"}${req.url ?? "/"}`;
  const method = req.method ?? "GET";
  const body = withBody && method !== "GET" && method !== "HEAD"
    ? Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>
    : undefined;
  return new Request(url, { method, headers, body, duplex: "half" } as RequestInit);
}

async function writeResponse(res: http.ServerResponse, r: Response): Promise<void> {
  res.statusCode = r.status;
  for (const [k, v] of r.headers) res.setHeader(k, v);
  if (r.body === null) {
    res.end();
    return;
  }
  // A streamed body (no length: a watch, a paged LIST) gets its status line and headers at
  // once; node:http would hold them until the first chunk, and a watch may wait minutes.
  if (!r.headers.has("content-length")) res.flushHeaders();
  const reader = r.body.getReader();
  let gone = false;
  const onClose = () => {
    gone = true;
    reader.cancel().catch(() => {});
  };
  res.on("close", onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || gone) break;
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off("drain", go);
            res.off("close", go);
            resolve();
          };
          res.on("drain", go);
          res.on("close", go);
        });
      }
    }
  } catch {
    gone = true; // the body's stream failed or was cancelled
  } finally {
    res.off("close", onClose);
  }
  if (!gone) res.end();
  else res.destroy();
}

/** Writes `r` on a socket that asked for an upgrade that was not accepted, then closes it. */
async function refuseUpgrade(socket: Duplex, r: Response): Promise<void> {
  const body = new Uint8Array(await r.arrayBuffer());
  let head = `HTTP/1.1 ${r.status} ${http.STATUS_CODES[r.status] ?? ""}\r\n`;
  for (const [k, v] of r.headers) {
    if (k !== "content-length" && k !== "connection") head += `${k}: ${v}\r\n`;
  }
  head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  socket.write(head);
  socket.end(body);
}

/** Starts serving `handler` at `options.listen`. */
export async function serveHttp(handler: Handler, options: ServeHttpOptions): Promise<HttpServer> {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxPayload,
    perMessageDeflate: false,
  });
  const call = async (req: Request, ctx: RequestContext): Promise<Response> => {
    try {
      return await handler(req, ctx);
    } catch (e) {
      return options.onError(e);
    }
  };
  // Request line and headers up to 1 MiB, as Go's http.Server (DefaultMaxHeaderBytes) that
  // kube-apiserver runs on: a long selector gets the API's own answer, not 431.
  const server = http.createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => {
    call(toRequest(req, true), {}).then((r) => writeResponse(res, r)).catch(() => res.destroy());
  });
  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Uint8Array) => {
    let onSocket: ((s: PeerSocket) => void) | undefined;
    const ctx: RequestContext = {
      upgradeWebSocket: (f) => {
        onSocket = f;
        const r = new Response(null, { status: 200 });
        (r as unknown as Record<symbol, boolean>)[UPGRADED] = true;
        return r;
      },
    };
    socket.on("error", () => socket.destroy());
    call(toRequest(req, false), ctx).then((r) => {
      if (onSocket && (r as unknown as Record<symbol, boolean>)[UPGRADED]) {
        const accept = onSocket;
        wss.handleUpgrade(req, socket, head as Buffer, (ws) => accept(ws));
      } else return refuseUpgrade(socket, r);
    }).catch(() => socket.destroy());
  });
  const finished = new Promise<void>((resolve) => server.on("close", () => resolve()));
  const listening = new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.once("listening", () => {
      server.off("error", reject);
      resolve();
    });
  });
  if (options.listen.kind === "unix") server.listen(options.listen.path);
  else server.listen(options.listen.port, options.listen.hostname);
  await listening;
  const a = server.address();
  const address = typeof a === "string" || a === null
    ? `unix:${options.listen.kind === "unix" ? options.listen.path : String(a)}`
    : a.address.includes(":")
    ? `[${a.address}]:${a.port}`
    : `${a.address}:${a.port}`;
  return {
    address,
    finished,
    stopAccepting() {
      if (server.listening) server.close();
      server.closeIdleConnections();
    },
    shutdown() {
      if (server.listening) server.close();
      server.closeIdleConnections();
      return finished;
    },
  };
}
