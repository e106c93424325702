/**
 * The bridge's sending side over a real WebSocket (serve's HTTP server and `ws`, a Deno
 * WebSocket client): a backlog queued for a module reaches its client complete and in
 * order, written a batch of frames per system call, not one each.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MessageBus } from "../src/beehive/bus.ts";
import { Content, emptyHeader, emptyRoute, type Message } from "../src/beehive/message.ts";
import { ModuleBridge, SEND_BATCH_FRAMES } from "../src/bridge/websocket.ts";
import { silentLogger } from "../src/logger.ts";
import { type PeerSocket, serveHttp } from "../src/serve/http_server.ts";

const BACKLOG = 500;

function message(i: number): Message {
  return {
    header: { ...emptyHeader(), msgId: `m-${i}` },
    route: {
      ...emptyRoute(),
      source: "metaManager",
      operation: "update",
      resource: `ns/pod/p${i}`,
    },
    content: Content.of({ i, padding: "x".repeat(1000) }),
  };
}

/** Counts the write calls reaching the TCP socket under a `ws` socket. */
function countWrites(socket: PeerSocket): { calls: number } {
  const counter = { calls: 0 };
  const tcp = (socket as unknown as { _socket: Record<string, unknown> })._socket;
  for (const name of ["_write", "_writev"]) {
    const original = tcp[name] as ((...args: unknown[]) => unknown) | undefined;
    if (typeof original !== "function") continue;
    tcp[name] = function (this: unknown, ...args: unknown[]) {
      counter.calls++;
      return original.apply(this, args);
    };
  }
  return counter;
}

Deno.test({
  name: `bridge: a backlog of ${BACKLOG} messages arrives in order, written in batches of frames`,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const bus = new MessageBus({ capacity: 1024 });
    bus.addModule("edged", "edged");
    // Queued while no client is attached: delivered on attach.
    for (let i = 0; i < BACKLOG; i++) void bus.send("edged", message(i));
    const bridge = new ModuleBridge({
      bus,
      logger: silentLogger,
      defaultDestination: "metaManager",
      maxFrameBytes: 1 << 20,
    });
    let writes: { calls: number } | undefined;
    const server = await serveHttp((_req, ctx) =>
      ctx.upgradeWebSocket!((socket) => {
        writes = countWrites(socket);
        bridge.attach(socket, "edged", "edged");
      }), {
      listen: { kind: "tcp", hostname: "127.0.0.1", port: 0 },
      maxPayload: 1 << 20,
      onError: (e) => new Response(String(e), { status: 500 }),
    });
    const ws = new WebSocket(`ws://${server.address}/`);
    try {
      const ids: string[] = [];
      const { promise: all, resolve } = Promise.withResolvers<void>();
      ws.onmessage = (e) => {
        const f = JSON.parse(e.data as string);
        assert.equal(f.content.padding.length, 1000, "frame arrived whole");
        ids.push(f.header.msg_id);
        if (ids.length === BACKLOG) resolve();
      };
      await all;
      assert.deepEqual(ids, Array.from({ length: BACKLOG }, (_, i) => `m-${i}`), "in order");
      const calls = writes!.calls;
      // One write per frame without batching; one per batch of queued frames with it.
      assert.ok(
        calls <= 2 * Math.ceil(BACKLOG / SEND_BATCH_FRAMES) + 4,
        `${calls} socket writes for ${BACKLOG} frames`,
      );
    } finally {
      ws.close();
      bridge.terminateAll();
      await server.shutdown();
    }
  },
});
