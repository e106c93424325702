import assert from "node:assert/strict";
import { MessageBus } from "../src/beehive/bus.ts";
import { type Module, ModuleRegistry } from "../src/beehive/module.ts";
import { buildRouter, type Message, newMessage } from "../src/beehive/message.ts";
import { createLogger } from "../src/logger.ts";

function msg(id: string): Message {
  return buildRouter(newMessage("", { newId: () => id, now: () => 0 }), "t", "meta", "r", "insert");
}

/** A module that receives until its signal aborts and records what it got. */
class LoopModule implements Module {
  readonly received: string[] = [];
  starts = 0;
  /** Whether every module named in `peers` had a queue when start was called. */
  peersHadQueues?: boolean;
  stopped = false;

  constructor(
    readonly name: string,
    readonly group: string,
    readonly enabled = true,
    readonly peers: string[] = [],
  ) {}

  async start(bus: MessageBus, signal: AbortSignal): Promise<void> {
    this.starts++;
    this.peersHadQueues = this.peers.every((p) => bus.hasModule(p));
    while (!signal.aborted) {
      try {
        this.received.push((await bus.receive(this.name, signal)).header.msgId);
      } catch {
        break;
      }
    }
    this.stopped = true;
  }
}

function lines(): { out: string[]; logger: ReturnType<typeof createLogger> } {
  const out: string[] = [];
  return { out, logger: createLogger("debug", (l) => out.push(l)) };
}

Deno.test("register replaces a module of the same name; setEnabled overrides enabled", () => {
  const reg = new ModuleRegistry();
  reg.register(new LoopModule("edged", "edged"));
  reg.register(new LoopModule("testManager", "meta", false));
  reg.register(new LoopModule("edged", "edged2", false));
  assert.deepEqual(reg.names(), ["edged", "testManager"]);
  assert.equal(reg.isEnabled("edged"), false);
  assert.equal(reg.isEnabled("testManager"), false);
  reg.setEnabled("testManager", true);
  assert.equal(reg.isEnabled("testManager"), true);
  assert.equal(reg.isEnabled("nobody"), false);
  assert.throws(() => reg.setEnabled("nobody", true), {
    message: 'Failed to enable module "nobody": not registered',
  });
});

Deno.test("start gives queues to enabled modules only, all before any module starts", async () => {
  const bus = new MessageBus();
  const reg = new ModuleRegistry();
  const meta = new LoopModule("metaManager", "meta", true, ["edged", "websocket"]);
  const edged = new LoopModule("edged", "edged", true, ["metaManager", "websocket"]);
  const hub = new LoopModule("websocket", "hub", false);
  const test = new LoopModule("testManager", "meta", false);
  for (const m of [meta, edged, hub, test]) reg.register(m);
  reg.setEnabled("websocket", true);
  reg.start(bus);
  assert.deepEqual(Object.keys(bus.stats().queues).sort(), ["edged", "metaManager", "websocket"]);
  assert.equal(bus.hasModule("testManager"), false);
  assert.deepEqual(bus.groupMembers("meta"), ["metaManager"]);
  assert.equal(meta.peersHadQueues, true);
  assert.equal(edged.peersHadQueues, true);
  assert.deepEqual([meta.starts, edged.starts, hub.starts, test.starts], [1, 1, 1, 0]);

  await bus.sendToGroup("meta", msg("c1"));
  await bus.send("edged", msg("e1"));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(meta.received, ["c1"]);
  assert.deepEqual(edged.received, ["e1"]);
  assert.deepEqual(test.received, []);

  assert.deepEqual(await reg.shutdown(), []);
});

Deno.test("shutdown aborts the signal, removes queues and waits for modules", async () => {
  const bus = new MessageBus();
  const { out, logger } = lines();
  const reg = new ModuleRegistry({ logger });
  const a = new LoopModule("a", "g");
  const b = new LoopModule("b", "g");
  reg.register(a);
  reg.register(b);
  assert.equal(reg.signal === undefined, true);
  reg.start(bus);
  const signal = reg.signal;
  assert.equal(signal?.aborted, false);
  const first = reg.shutdown(1_000);
  assert.equal(reg.shutdown(), first); // idempotent
  assert.deepEqual(await first, []);
  assert.equal(signal?.aborted, true);
  assert.equal(a.stopped, true);
  assert.equal(b.stopped, true);
  assert.deepEqual(bus.stats().queues, {});
  assert.deepEqual(bus.groupMembers("g"), []);
  assert.ok(out.some((l) => /INFO all modules stopped/.test(l)));
});

Deno.test("shutdown reports modules that do not stop in time", async () => {
  const bus = new MessageBus();
  const { out, logger } = lines();
  const reg = new ModuleRegistry({ logger });
  const stuck: Module = {
    name: "stuck",
    group: "",
    enabled: true,
    start: () => new Promise<void>(() => {}),
  };
  reg.register(stuck);
  reg.register(new LoopModule("fine", ""));
  reg.start(bus);
  const started = performance.now();
  assert.deepEqual(await reg.shutdown(30), ["stuck"]);
  assert.ok(performance.now() - started >= 25);
  assert.ok(out.some((l) => /WARN modules did not stop in time modules=stuck$/.test(l)));
});

Deno.test("a module that fails to start is logged and does not block shutdown", async () => {
  const bus = new MessageBus();
  const { out, logger } = lines();
  const reg = new ModuleRegistry({ logger });
  reg.register({
    name: "throws",
    group: "",
    enabled: true,
    start: () => {
      throw new Error("Failed to open socket 1.2.3.4");
    },
  });
  reg.register({
    name: "rejects",
    group: "",
    enabled: true,
    start: () => Promise.reject(new Error("Failed to load config x.yaml")),
  });
  reg.start(bus);
  assert.deepEqual(await reg.shutdown(1_000), []);
  const errors = out.filter((l) => / ERROR module failed/.test(l));
  assert.equal(errors.length, 2);
  assert.ok(errors.some((l) => l.includes("module=throws") && l.includes("1.2.3.4")));
  assert.ok(errors.some((l) => l.includes("module=rejects") && l.includes("x.yaml")));
});

Deno.test("start and changes after start are refused; shutdown before start is a no-op", async () => {
  const reg = new ModuleRegistry();
  assert.deepEqual(await reg.shutdown(), []);
  reg.register(new LoopModule("a", ""));
  const bus = new MessageBus();
  reg.start(bus);
  assert.throws(() => reg.start(bus), {
    message: "Failed to start modules: registry already started",
  });
  assert.throws(() => reg.register(new LoopModule("b", "")), {
    message: 'Failed to register module "b": registry already started',
  });
  assert.throws(() => reg.setEnabled("a", false), {
    message: 'Failed to disable module "a": registry already started',
  });
  assert.deepEqual(await reg.shutdown(), []);
});

Deno.test({
  name: "installSignalHandlers shuts down on SIGTERM and can be removed",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const bus = new MessageBus();
    const reg = new ModuleRegistry();
    const a = new LoopModule("a", "");
    reg.register(a);
    reg.start(bus);
    const done = Promise.withResolvers<string[]>();
    const remove = reg.installSignalHandlers((still) => done.resolve(still));
    // signal listeners do not keep the event loop alive: a timer does, until the signal
    const keepAlive = setTimeout(() => done.reject(new Error("No shutdown after SIGTERM")), 2_000);
    try {
      Deno.kill(Deno.pid, "SIGTERM");
      assert.deepEqual(await done.promise, []);
      assert.equal(reg.signal?.aborted, true);
      assert.equal(a.stopped, true);
      assert.equal(bus.hasModule("a"), false);
    } finally {
      clearTimeout(keepAlive);
      remove();
    }
  },
});
