import assert from "node:assert/strict";
import { MessageBus } from "../src/beehive/bus.ts";
import {
  type Module,
  ModuleRegistry,
  servicePart,
  type ServicePartHooks,
} from "../src/beehive/module.ts";
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
  await reg.start(bus);
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
  await reg.start(bus);
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
  await reg.start(bus);
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
  await reg.start(bus);
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
  await reg.start(bus);
  await assert.rejects(reg.start(bus), {
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
    await reg.start(bus);
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

/** A service part that records its setup, stop and cleanup in `events`. */
function recordingPart(name: string, events: string[], hooks: Partial<ServicePartHooks> = {}) {
  return servicePart(name, {
    setup: () => {
      events.push(`setup ${name}`);
      return hooks.setup?.();
    },
    stop: () => {
      events.push(`stop ${name}`);
      return hooks.stop?.();
    },
    cleanup: () => {
      events.push(`cleanup ${name}`);
      return hooks.cleanup?.();
    },
    pending: hooks.pending,
  });
}

Deno.test("modules are set up and started in order, stopped then cleaned up in reverse", async () => {
  const bus = new MessageBus();
  const events: string[] = [];
  const reg = new ModuleRegistry();
  for (const n of ["database", "loop", "server"]) reg.register(recordingPart(n, events));
  await reg.start(bus);
  assert.deepEqual(events, ["setup database", "setup loop", "setup server"]);
  assert.deepEqual(Object.keys(bus.stats().queues), [], "service parts get no queue");
  assert.deepEqual(await reg.shutdown(1_000), []);
  assert.deepEqual(events.slice(3), [
    "stop server",
    "stop loop",
    "stop database",
    "cleanup server",
    "cleanup loop",
    "cleanup database",
  ]);
});

Deno.test("a module stops only once the modules started after it have stopped", async () => {
  const bus = new MessageBus();
  const events: string[] = [];
  const reg = new ModuleRegistry();
  // The loop drains its queue after its signal aborts: what the bridge hands on while it
  // closes still arrives, because the bridge (started later) stops first.
  const loop = new LoopModule("metaManager", "meta");
  reg.register(loop);
  reg.register(recordingPart("bridge", events, {
    stop: async () => {
      await new Promise((r) => setTimeout(r, 30));
      await bus.send("metaManager", msg("sent while closing"));
    },
  }));
  await reg.start(bus);
  assert.deepEqual(await reg.shutdown(1_000), []);
  assert.deepEqual(loop.received, ["sent while closing"]);
});

Deno.test("a setup that fails cleans up the modules set up before it, in reverse, and rethrows", async () => {
  const bus = new MessageBus();
  const events: string[] = [];
  const reg = new ModuleRegistry();
  reg.register(recordingPart("database", events));
  reg.register(recordingPart("checkpointer", events));
  reg.register(recordingPart("server", events, {
    setup: () => {
      throw new Error("Cannot listen on 127.0.0.1:10550: Address already in use (os error 98)");
    },
  }));
  reg.register(recordingPart("timer", events));
  reg.register(new LoopModule("metaManager", "meta"));
  await assert.rejects(reg.start(bus), /Cannot listen on 127\.0\.0\.1:10550/);
  assert.deepEqual(events, [
    "setup database",
    "setup checkpointer",
    "setup server",
    "cleanup checkpointer",
    "cleanup database",
  ]);
  assert.equal(bus.hasModule("metaManager"), false, "queues removed");
  assert.deepEqual(await reg.shutdown(), []);
});

Deno.test("past the deadline shutdown names what was pending and cleans nothing up", async () => {
  const bus = new MessageBus();
  const events: string[] = [];
  const { out, logger } = lines();
  const reg = new ModuleRegistry({ logger });
  reg.register(recordingPart("database", events));
  reg.register(recordingPart("bridge", events, {
    stop: () => new Promise(() => {}), // a peer that never answers the close
    pending: () => "closing handshake with websocket",
  }));
  await reg.start(bus);
  const started = performance.now();
  assert.deepEqual(await reg.shutdown(50), ["bridge"]);
  assert.ok(performance.now() - started < 1_000);
  assert.equal(reg.pending, "closing handshake with websocket");
  assert.deepEqual(events.slice(2), ["stop bridge", "stop database"], "no cleanup");
  assert.ok(out.some((l) => /WARN modules did not stop in time modules=bridge$/.test(l)));
});

Deno.test({
  name:
    "a second signal (SIGTERM) during the shutdown is logged with what is pending and cut nothing short",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const bus = new MessageBus();
    const events: string[] = [];
    const { out, logger } = lines();
    const reg = new ModuleRegistry({ logger });
    const release = Promise.withResolvers<void>();
    const stopping = Promise.withResolvers<void>();
    reg.register(recordingPart("database", events));
    reg.register(recordingPart("bridge", events, {
      stop: () => {
        stopping.resolve();
        return release.promise;
      },
      pending: () => "closing handshake with websocket",
    }));
    const done = Promise.withResolvers<string[]>();
    const remove = reg.installSignalHandlers({ onShutdown: done.resolve, timeoutMs: 5_000 });
    try {
      // A signal during start-up: the shutdown runs once the start has ended.
      Deno.kill(Deno.pid, "SIGTERM");
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(events, [], "nothing stopped before the start");
      await reg.start(bus);
      await stopping.promise;
      Deno.kill(Deno.pid, "SIGTERM");
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(
        out.some((l) =>
          /INFO signal ignored, shutdown in progress signal=SIGTERM pending="closing handshake with websocket"/
            .test(l)
        ),
        out.join("\n"),
      );
      assert.equal(
        out.filter((l) => /INFO shutting down signal=SIGTERM deadline_s=5/.test(l)).length,
        1,
      );
      release.resolve();
      assert.deepEqual(await done.promise, []);
      assert.deepEqual(events.slice(2), [
        "stop bridge",
        "stop database",
        "cleanup bridge",
        "cleanup database",
      ]);
    } finally {
      remove();
    }
  },
});
