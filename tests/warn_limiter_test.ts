import assert from "node:assert/strict";
import { createLogger } from "../src/logger.ts";
import { WarnLimiter } from "../src/warn_limiter.ts";
import { MessageBus } from "../src/beehive/bus.ts";
import { buildRouter, newMessage } from "../src/beehive/message.ts";

Deno.test("a repeated warning is written once per window per subject, with its count", async () => {
  const lines: string[] = [];
  const w = new WarnLimiter(createLogger("warn", (l) => lines.push(l)), 50);
  for (let i = 0; i < 1000; i++) w.warn("bus: dropped", "edged", { module: "edged", n: i });
  w.warn("bus: dropped", "other", { module: "other" });
  assert.equal(lines.length, 2, lines.join("\n")); // the first of each subject at once
  assert.match(lines[0], /WARN bus: dropped module=edged n=0 count=1/);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(lines.length, 3, lines.join("\n")); // the rest of the window in one line
  assert.match(lines[2], /module=edged n=999 count=999/);
  w.flush();
  assert.equal(lines.length, 3);
});

Deno.test("sendWaiting never drops: it waits past the blocked-send limit, in order", async () => {
  const lines: string[] = [];
  const bus = new MessageBus({
    capacity: 1,
    maxBlockedSends: 0,
    logger: createLogger("warn", (l) => lines.push(l)),
  });
  bus.addModule("metaManager", "meta");
  const msg = (id: string) =>
    buildRouter(newMessage("", { newId: () => id, now: () => 0 }), "t", "meta", "r", "insert");
  assert.equal(await bus.sendWaiting("metaManager", msg("a")), true);
  const b = bus.sendWaiting("metaManager", msg("b"));
  const c = bus.sendWaiting("metaManager", msg("c"));
  await bus.send("metaManager", msg("dropped")); // the fire-and-forget send is still bounded
  assert.equal(bus.stats().droppedFull, 1);
  const got = [];
  for (let i = 0; i < 3; i++) got.push((await bus.receive("metaManager")).header.msgId);
  assert.deepEqual(got, ["a", "b", "c"]);
  assert.deepEqual(await Promise.all([b, c]), [true, true]);
  assert.equal(await bus.sendWaiting("nobody", msg("x")), false);
});
