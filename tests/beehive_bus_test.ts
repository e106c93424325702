import assert from "node:assert/strict";
import { MessageBus, SYNC_ERRORS_V1_10, SYNC_ERRORS_V1_23 } from "../src/beehive/bus.ts";
import {
  buildRouter,
  Content,
  type Identity,
  type Message,
  newMessage,
  newRespByMessage,
} from "../src/beehive/message.ts";
import type { Bus } from "../src/metamanager/outbox.ts";
import { createLogger } from "../src/logger.ts";

let seq = 0;
const ids: Identity = { newId: () => `id-${++seq}`, now: () => 1_700_000_000_000 };

function msg(id: string, resource = "default/pod/p"): Message {
  const m = newMessage("", { newId: () => id, now: ids.now });
  return buildRouter(m, "test", "meta", resource, "query");
}

function reply(req: Message, text: string): Message {
  return newRespByMessage(req, Content.of(text), ids);
}

/** Lets every pending timer-0 and microtask run. */
function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Tracks whether a promise has settled. */
function track(p: Promise<unknown>): { settled: boolean } {
  const state = { settled: false };
  p.then(() => state.settled = true, () => state.settled = true);
  return state;
}

/** A module that answers every sync request it receives, until it has answered `count`. */
async function responder(bus: MessageBus, module: string, count: number): Promise<Message[]> {
  const seen: Message[] = [];
  for (let i = 0; i < count; i++) {
    const req = await bus.receive(module);
    seen.push(req);
    bus.sendResp(reply(req, `${module}-ok`));
  }
  return seen;
}

Deno.test("MessageBus satisfies the Bus interface of the outbox", () => {
  const _check: Bus = new MessageBus();
  assert.equal(typeof _check.sendSync, "function");
});

Deno.test("constructor rejects an invalid capacity and blocked send limit", () => {
  assert.throws(() => new MessageBus({ capacity: 0 }), {
    name: "RangeError",
    message: "Invalid queue capacity 0: expected an integer of at least 1",
  });
  assert.throws(() => new MessageBus({ maxBlockedSends: -1 }), {
    message: "Invalid blocked send limit -1: expected an integer of at least 0",
  });
});

Deno.test("addModule, hasModule, groupMembers and removeModule keep the tables in step", () => {
  const bus = new MessageBus();
  bus.addModule("metaManager", "meta");
  bus.addModule("testManager", "meta");
  bus.addModule("edged", "edged");
  assert.equal(bus.hasModule("metaManager"), true);
  assert.equal(bus.hasModule("websocket"), false);
  assert.deepEqual(bus.groupMembers("meta"), ["metaManager", "testManager"]);
  assert.deepEqual(bus.groupMembers("hub"), []);
  bus.addModule("testManager", "other"); // re-adding moves it
  assert.deepEqual(bus.groupMembers("meta"), ["metaManager"]);
  assert.deepEqual(bus.groupMembers("other"), ["testManager"]);
  assert.equal(bus.removeModule("metaManager"), true);
  assert.equal(bus.removeModule("metaManager"), false);
  assert.equal(bus.hasModule("metaManager"), false);
  assert.deepEqual(bus.groupMembers("meta"), []);
  assert.deepEqual(Object.keys(bus.stats().queues).sort(), ["edged", "testManager"]);
});

Deno.test("send then receive delivers in FIFO order", async () => {
  const bus = new MessageBus();
  bus.addModule("edged", "edged");
  await bus.send("edged", msg("m1"));
  await bus.send("edged", msg("m2"));
  await bus.send("edged", msg("m3"));
  assert.equal(bus.stats().queues.edged.depth, 3);
  const got = [
    await bus.receive("edged"),
    await bus.receive("edged"),
    await bus.receive("edged"),
  ].map((m) => m.header.msgId);
  assert.deepEqual(got, ["m1", "m2", "m3"]);
  const stats = bus.stats();
  assert.equal(stats.sent, 3);
  assert.equal(stats.queues.edged.depth, 0);
});

Deno.test("a waiting receive gets the next message sent", async () => {
  const bus = new MessageBus();
  bus.addModule("edged", "edged");
  const pending = bus.receive("edged");
  assert.equal(bus.stats().queues.edged.waitingReceivers, 1);
  void bus.send("edged", msg("m1"));
  assert.equal((await pending).header.msgId, "m1");
  assert.equal(bus.stats().queues.edged.waitingReceivers, 0);
  assert.equal(bus.stats().queues.edged.depth, 0);
});

Deno.test("receive rejects at once for an unknown module", async () => {
  const bus = new MessageBus();
  await assert.rejects(bus.receive("nobody"), {
    message: 'Failed to receive from module "nobody": unknown module',
  });
});

Deno.test("receive rejects when its signal aborts, and leaves no waiting receiver", async () => {
  const bus = new MessageBus();
  bus.addModule("edged", "edged");
  const controller = new AbortController();
  const pending = bus.receive("edged", controller.signal);
  controller.abort(new Error("stop"));
  await assert.rejects(pending, { message: "stop" });
  assert.equal(bus.stats().queues.edged.waitingReceivers, 0);
  // a later message is not lost to the aborted receiver
  void bus.send("edged", msg("m1"));
  assert.equal(bus.stats().queues.edged.depth, 1);
  // an already aborted signal rejects even when a message is available
  await assert.rejects(bus.receive("edged", controller.signal), { message: "stop" });
  assert.equal((await bus.receive("edged")).header.msgId, "m1");
});

Deno.test("send to an unknown module is counted and logged, never thrown", async () => {
  const lines: string[] = [];
  const bus = new MessageBus({ logger: createLogger("debug", (l) => lines.push(l)) });
  await bus.send("edgefunction", msg("m1"));
  await bus.send("edgefunction", msg("m2"));
  const stats = bus.stats();
  assert.equal(stats.droppedUnknownModule, 2);
  assert.equal(stats.sent, 0);
  assert.equal(lines.length, 2);
  assert.match(lines[0], /DEBUG bus: dropped message for unknown module module=edgefunction/);
});

Deno.test("sendToGroup delivers the same msg_id to every member and no one else", async () => {
  const bus = new MessageBus();
  bus.addModule("metaManager", "meta");
  bus.addModule("testManager", "meta");
  bus.addModule("websocket", "hub");
  await bus.sendToGroup("meta", msg("g1"));
  const a = await bus.receive("metaManager");
  const b = await bus.receive("testManager");
  assert.equal(a.header.msgId, "g1");
  assert.equal(b.header.msgId, "g1");
  assert.equal(a.route.resource, "default/pod/p");
  assert.notEqual(a, b); // each member has its own copy
  const stats = bus.stats();
  assert.equal(stats.sent, 2);
  assert.equal(stats.queues.websocket.depth, 0);
});

Deno.test("sendToGroup to an unknown group is counted and logged, never thrown", async () => {
  const lines: string[] = [];
  const bus = new MessageBus({ logger: createLogger("debug", (l) => lines.push(l)) });
  bus.addModule("metaManager", "meta");
  await bus.sendToGroup("hub", msg("g1"));
  const stats = bus.stats();
  assert.equal(stats.droppedUnknownGroup, 1);
  assert.equal(stats.sent, 0);
  assert.equal(stats.queues.metaManager.depth, 0);
  assert.match(lines[0], /WARN bus: dropped message for unknown group group=hub msg_id=g1/);
});

Deno.test("sendSync sends a sync copy and resolves with the reply matched by parent id", async () => {
  const bus = new MessageBus();
  bus.addModule("websocket", "hub");
  const request = msg("q1");
  const answering = (async () => {
    const req = await bus.receive("websocket");
    // a reply to something else is not taken for the answer
    bus.sendResp(newRespByMessage(msg("other"), Content.of("wrong"), ids));
    bus.sendResp(reply(req, "right"));
    return req;
  })();
  const resp = await bus.sendSync("websocket", request, 1_000);
  const seen = await answering;
  assert.equal(seen.header.msgId, "q1");
  assert.equal(seen.header.sync, true);
  assert.equal(request.header.sync, false); // the caller's message is not modified
  assert.equal(resp.header.parentMsgId, "q1");
  assert.equal(resp.content.value(), "right");
  const stats = bus.stats();
  assert.equal(stats.replies, 1);
  assert.equal(stats.unmatchedReplies, 1);
  assert.equal(stats.lateReplies, 0);
  // the waiter is gone: a second reply is late
  bus.sendResp(reply(seen, "again"));
  assert.equal(bus.stats().lateReplies, 1);
});

Deno.test("sendSync rejects at once for an unknown module", async () => {
  const bus = new MessageBus();
  await assert.rejects(bus.sendSync("websocket", msg("q1"), 30), {
    message: "bad request module name(websocket)",
  });
});

Deno.test("sendSync times out without a reply; the late reply is counted, not thrown", async () => {
  const bus = new MessageBus();
  bus.addModule("websocket", "hub");
  const started = performance.now();
  await assert.rejects(bus.sendSync("websocket", msg("q1"), 30), {
    message: "timeout to get response",
  });
  assert.ok(performance.now() - started >= 25);
  const req = await bus.receive("websocket");
  bus.sendResp(reply(req, "too late"));
  const stats = bus.stats();
  assert.equal(stats.lateReplies, 1);
  assert.equal(stats.unmatchedReplies, 0);
  assert.equal(stats.replies, 0);
});

Deno.test("sendSync times out when the request cannot be enqueued, and withdraws it", async () => {
  const bus = new MessageBus({ capacity: 1 });
  bus.addModule("websocket", "hub");
  await bus.send("websocket", msg("m1"));
  await assert.rejects(bus.sendSync("websocket", msg("q1"), 30), {
    message: "timeout to send message",
  });
  const q = bus.stats().queues.websocket;
  assert.equal(q.depth, 1);
  assert.equal(q.blockedSends, 0);
  assert.equal((await bus.receive("websocket")).header.msgId, "m1");
  assert.equal(bus.stats().queues.websocket.depth, 0);
});

Deno.test("sendSync with a timeout of 0 uses the 30 s default", async () => {
  const bus = new MessageBus();
  bus.addModule("edged", "edged");
  const answering = (async () => {
    const req = await bus.receive("edged");
    await new Promise((resolve) => setTimeout(resolve, 40));
    bus.sendResp(reply(req, "slow"));
  })();
  const resp = await bus.sendSync("edged", msg("q1"), 0);
  await answering;
  assert.equal(resp.content.value(), "slow");
});

Deno.test("sendSync refuses a second request with an id already waiting", async () => {
  const bus = new MessageBus();
  bus.addModule("edged", "edged");
  const first = bus.sendSync("edged", msg("dup"), 1_000);
  await assert.rejects(bus.sendSync("edged", msg("dup"), 1_000), {
    message: "Failed to send sync message dup: a request with this id is waiting",
  });
  const req = await bus.receive("edged");
  bus.sendResp(reply(req, "ok"));
  assert.equal((await first).content.value(), "ok");
});

Deno.test("sendResp without any waiter is counted as unmatched", () => {
  const bus = new MessageBus();
  bus.sendResp(reply(msg("never-sent"), "x"));
  assert.equal(bus.stats().unmatchedReplies, 1);
  assert.equal(bus.stats().lateReplies, 0);
});

Deno.test("full queue: the third send waits for a receive, beyond the limit sends drop", async () => {
  const lines: string[] = [];
  const bus = new MessageBus({
    capacity: 2,
    maxBlockedSends: 1,
    logger: createLogger("warn", (l) => lines.push(l)),
  });
  bus.addModule("websocket", "hub");
  await bus.send("websocket", msg("m1"));
  await bus.send("websocket", msg("m2"));
  const third = track(bus.send("websocket", msg("m3")));
  const fourth = bus.send("websocket", msg("m4"));
  await fourth; // dropped: resolves at once
  await tick();
  assert.equal(third.settled, false);
  let stats = bus.stats();
  assert.equal(stats.droppedFull, 1);
  assert.equal(stats.sent, 2);
  assert.deepEqual(stats.queues.websocket, {
    group: "hub",
    depth: 2,
    blockedSends: 1,
    waitingReceivers: 0,
  });
  assert.equal(lines.length, 1);
  assert.match(lines[0], /WARN bus: dropped message, queue full.* module=websocket msg_id=m4/);

  assert.equal((await bus.receive("websocket")).header.msgId, "m1");
  await tick();
  assert.equal(third.settled, true);
  stats = bus.stats();
  assert.equal(stats.sent, 3);
  assert.equal(stats.queues.websocket.depth, 2);
  assert.equal(stats.queues.websocket.blockedSends, 0);
  const rest = [await bus.receive("websocket"), await bus.receive("websocket")];
  assert.deepEqual(rest.map((m) => m.header.msgId), ["m2", "m3"]);
});

Deno.test("blocked sends keep their order behind the queue", async () => {
  const bus = new MessageBus({ capacity: 1 });
  bus.addModule("edged", "edged");
  for (const id of ["a", "b", "c", "d"]) void bus.send("edged", msg(id));
  const got: string[] = [];
  for (let i = 0; i < 4; i++) got.push((await bus.receive("edged")).header.msgId);
  assert.deepEqual(got, ["a", "b", "c", "d"]);
  assert.equal(bus.stats().sent, 4);
});

Deno.test("removeModule rejects pending receives and counts lost messages", async () => {
  const bus = new MessageBus({ capacity: 1 });
  bus.addModule("edged", "edged");
  bus.addModule("twin", "twin");
  const receiving = bus.receive("twin");
  await bus.send("edged", msg("m1"));
  const blocked = bus.send("edged", msg("m2"));
  assert.equal(bus.removeModule("edged"), true);
  await blocked; // resolves, the message is lost
  assert.equal(bus.removeModule("twin"), true);
  await assert.rejects(receiving, {
    message: 'Failed to receive from module "twin": module removed',
  });
  const stats = bus.stats();
  assert.equal(stats.droppedRemoved, 2);
  assert.deepEqual(stats.queues, {});
  await bus.send("edged", msg("m3"));
  assert.equal(bus.stats().droppedUnknownModule, 1);
});

Deno.test("sendToGroupSync resolves once every member has replied", async () => {
  const bus = new MessageBus();
  bus.addModule("eventbus", "bus");
  bus.addModule("servicebus", "bus");
  const a = responder(bus, "eventbus", 1);
  const b = responder(bus, "servicebus", 1);
  await bus.sendToGroupSync("bus", msg("gs1"), 1_000);
  const [seenA, seenB] = await Promise.all([a, b]);
  assert.equal(seenA[0].header.msgId, "gs1");
  assert.equal(seenB[0].header.msgId, "gs1");
  assert.equal(seenA[0].header.sync, true);
  const stats = bus.stats();
  assert.equal(stats.replies, 2);
  assert.equal(stats.sent, 2);
});

Deno.test("sendToGroupSync times out when a member does not reply", async () => {
  const bus = new MessageBus();
  bus.addModule("eventbus", "bus");
  bus.addModule("servicebus", "bus");
  const a = responder(bus, "eventbus", 1);
  await assert.rejects(bus.sendToGroupSync("bus", msg("gs1"), 30), {
    message: "timeout to send message",
  });
  await a;
  const late = await bus.receive("servicebus");
  bus.sendResp(reply(late, "late"));
  const stats = bus.stats();
  assert.equal(stats.replies, 1);
  assert.equal(stats.lateReplies, 1);
});

Deno.test("sendToGroupSync counts members that could not be enqueued", async () => {
  const bus = new MessageBus({ capacity: 1 });
  bus.addModule("eventbus", "bus");
  bus.addModule("servicebus", "bus");
  await bus.send("servicebus", msg("filler"));
  const a = responder(bus, "eventbus", 1);
  await assert.rejects(bus.sendToGroupSync("bus", msg("gs1"), 30), {
    message: "timeout to send message, several 1 timeout when send",
  });
  await a;
  const q = bus.stats().queues.servicebus;
  assert.equal(q.depth, 1);
  assert.equal(q.blockedSends, 0);
});

Deno.test("sendToGroupSync rejects at once for an unknown group", async () => {
  const bus = new MessageBus();
  await assert.rejects(bus.sendToGroupSync("bus", msg("gs1"), 30), {
    message: "failed to get module type(bus) channel list",
  });
  assert.equal(bus.stats().droppedUnknownGroup, 0);
});

Deno.test("tryReceive takes waiting messages in order without waiting, undefined when empty", async () => {
  const bus = new MessageBus({ capacity: 1 });
  bus.addModule("m", "g");
  const a = msg("a"), b = msg("b");
  const sentB = bus.send("m", a).then(() => bus.send("m", b));
  await Promise.resolve();
  assert.equal(bus.tryReceive("m")?.header.msgId, "a");
  await sentB;
  assert.equal(bus.tryReceive("m")?.header.msgId, "b");
  assert.equal(bus.tryReceive("m"), undefined);
  assert.equal(bus.tryReceive("unknown"), undefined);
});

Deno.test("hasWaiter is true only while a sync request waits", async () => {
  const bus = new MessageBus();
  bus.addModule("peer", "g");
  const req = msg("req-1");
  const pending = bus.sendSync("peer", req, 1000);
  assert.equal(bus.hasWaiter("req-1"), true);
  const reply = msg("rep-1");
  reply.header.parentMsgId = "req-1";
  bus.sendResp(reply);
  assert.equal((await pending).header.msgId, "rep-1");
  assert.equal(bus.hasWaiter("req-1"), false);
});

Deno.test("sendSync failures in v1.23.1's words quote the request's id (v1.10's do not)", async () => {
  const bus = new MessageBus({ syncErrors: SYNC_ERRORS_V1_23, capacity: 1, maxBlockedSends: 1 });
  bus.addModule("websocket", "hub");
  await assert.rejects(bus.sendSync("websocket", msg("q1"), 30), {
    message: "timeout to get response for message q1",
  });
  // The queue holds q1; q2 waits for room until the deadline.
  await assert.rejects(bus.sendSync("websocket", msg("q2"), 30), {
    message: "timeout to send message q2",
  });
  const v110 = new MessageBus({ syncErrors: SYNC_ERRORS_V1_10, capacity: 1 });
  v110.addModule("websocket", "hub");
  await assert.rejects(v110.sendSync("websocket", msg("q1"), 30), {
    message: "timeout to get response",
  });
  await assert.rejects(v110.sendSync("websocket", msg("q2"), 30), {
    message: "timeout to send message",
  });
});
