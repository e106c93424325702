/**
 * Each upstream quirk that `fixed` mode corrects (src/metamanager/compat.ts), on its own:
 * the same input processed in `strict` and in `fixed` mode, and what differs.
 */

import assert from "node:assert/strict";
import type { Message } from "../src/beehive/message.ts";
import { parseMessage } from "../src/beehive/wire.ts";
import type { CompatMode } from "../src/metamanager/compat.ts";
import type { Bus } from "../src/metamanager/outbox.ts";
import { MetaManager } from "../src/metamanager/process.ts";
import { replay } from "../src/replay/replay.ts";
import { type Dump, dumpDatabase } from "../src/store/dump.ts";
import { Store } from "../src/store/store.ts";

/** One call into the bus. */
interface Sent {
  via: "send" | "group" | "resp";
  /** Module (send), group (group), or "" (resp). */
  to: string;
  msg: Message;
}

/** A bus that records what the MetaManager sends; sync requests are never answered. */
class RecordingBus implements Bus {
  readonly sent: Sent[] = [];
  send(module: string, msg: Message): void {
    this.sent.push({ via: "send", to: module, msg });
  }
  sendToGroup(group: string, msg: Message): void {
    this.sent.push({ via: "group", to: group, msg });
  }
  sendResp(msg: Message): void {
    this.sent.push({ via: "resp", to: "", msg });
  }
  sendSync(): Promise<Message> {
    return Promise.reject(new Error("timeout to get response"));
  }
}

const FAILING_META_WRITES =
  "CREATE TRIGGER boom BEFORE INSERT ON meta BEGIN SELECT RAISE(ABORT, 'disk I/O error simulated'); END;";

interface WireMessage {
  header: Record<string, unknown>;
  route: Record<string, unknown>;
  content?: unknown;
}

function message(m: WireMessage): Message {
  return parseMessage(JSON.stringify(m));
}

function pod(name: string, resourceVersion: string, label: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", resourceVersion, labels: { version: label } },
  };
}

function podMessage(
  operation: string,
  id: string,
  content: unknown,
  extra: { source?: string; parent?: string; sync?: boolean } = {},
): Message {
  return message({
    header: {
      msg_id: id,
      parent_msg_id: extra.parent,
      timestamp: 1700000000000,
      sync: extra.sync,
    },
    route: {
      source: extra.source ?? "edgecontroller",
      group: "resource",
      operation,
      resource: "default/pod/web",
    },
    content,
  });
}

/**
 * Processes `messages` one by one through a fresh in-memory store in `mode`;
 * `beforeLast` (e.g. installing a failing trigger) runs just before the last message.
 */
function processAll(
  mode: CompatMode,
  messages: Message[],
  beforeLast?: (store: Store) => void,
): { sent: Sent[]; dump: Dump; panics: string[] } {
  const store = Store.open(":memory:");
  try {
    const bus = new RecordingBus();
    const panics: string[] = [];
    const mm = new MetaManager({ store, bus, mode, onPanic: (reason) => panics.push(reason) });
    for (const m of messages) {
      if (m === messages.at(-1)) beforeLast?.(store);
      const r = mm.handle(m);
      assert.equal(r, undefined, "no test message waits on a peer");
    }
    return { sent: bus.sent, dump: dumpDatabase(store.db), panics };
  } finally {
    store.close();
  }
}

function shape(sent: Sent[]): string[] {
  return sent.map((s) => `${s.via} ${s.to} ${s.msg.route.operation}`);
}

// ---- a. insert of an existing key ------------------------------------------------------

Deno.test("insert of an existing key: strict keeps the old meta value, fixed stores the new one", () => {
  const first = pod("web", "1", "old"), second = pod("web", "2", "new");
  const messages = [podMessage("insert", "ins-1", first), podMessage("insert", "ins-2", second)];
  const strict = processAll("strict", messages);
  const fixed = processAll("fixed", messages);

  assert.deepEqual(strict.dump.meta, [
    { key: "default/pod/web", type: "pod", value: JSON.stringify(first) },
  ]);
  assert.deepEqual(fixed.dump.meta, [
    { key: "default/pod/web", type: "pod", value: JSON.stringify(second) },
  ]);
  for (const { dump } of [strict, fixed]) {
    assert.equal(dump.meta_v2.length, 1);
    assert.equal(dump.meta_v2[0].key, "/core/v1/pods/default/web");
    assert.equal(dump.meta_v2[0].resourceversion, 2, "meta_v2 is replaced in both modes");
    assert.deepEqual(JSON.parse(dump.meta_v2[0].value).metadata.labels, { version: "new" });
  }
  const expected = [
    "send edged insert",
    "group hub response",
    "send edged insert",
    "group hub response",
  ];
  assert.deepEqual(shape(strict.sent), expected);
  assert.deepEqual(shape(fixed.sent), expected);
});

// ---- b. error replies ------------------------------------------------------------------

Deno.test("error reply to a failed insert: strict answers the request's parent id, fixed its msg_id", () => {
  const insert = podMessage("insert", "ins-1", pod("web", "1", "v"), { parent: "cloud-req-7" });
  const fail = (store: Store) => store.db.sqlite.exec(FAILING_META_WRITES);
  const strict = processAll("strict", [insert], fail);
  const fixed = processAll("fixed", [insert], fail);

  for (const [result, parent] of [[strict, "cloud-req-7"], [fixed, "ins-1"]] as const) {
    assert.deepEqual(shape(result.sent), ["group hub error"], "only the error reply is sent");
    const reply = result.sent[0].msg;
    assert.equal(reply.header.parentMsgId, parent);
    assert.notEqual(reply.header.msgId, "ins-1");
    assert.equal(reply.content.value(), "Error to save meta to DB: disk I/O error simulated");
    assert.deepEqual(reply.route, {
      source: "metaManager",
      destination: "",
      group: "resource",
      operation: "error",
      resource: "default/pod/web",
    });
    assert.deepEqual(result.panics, []);
  }
});

Deno.test("error reply to a failed sync update from edged reaches the waiting requester only in fixed mode", async () => {
  const journal = [
    JSON.stringify({
      header: {
        msg_id: "upd-1",
        parent_msg_id: "edged-req-3",
        timestamp: 1700000000000,
        sync: true,
      },
      route: { source: "edged", group: "meta", operation: "update", resource: "default/pod/web" },
      content: pod("web", "1", "v"),
    }),
  ].join("\n") + "\n";
  const run = async (mode: CompatMode) => {
    const store = Store.open(":memory:");
    try {
      store.db.sqlite.exec(FAILING_META_WRITES);
      const lines: string[] = [];
      await replay({
        journal: ReadableStream.from([new TextEncoder().encode(journal)]),
        store,
        mode,
        answers: { cloud: new Map(), edged: new Map() },
        write: (l) => lines.push(l),
      });
      return lines.map((l) => JSON.parse(l));
    } finally {
      store.close();
    }
  };
  const [strict] = await run("strict");
  const [fixed] = await run("fixed");
  assert.equal(strict.via, "resp");
  assert.equal(strict.to, "", "strict: the parent is edged-req-3, nobody waits on it");
  assert.equal(strict.message.header.parent_msg_id, "edged-req-3");
  assert.equal(fixed.via, "resp");
  assert.equal(fixed.to, "edged", "fixed: the reply answers upd-1, which edged waits on");
  assert.equal(fixed.message.header.parent_msg_id, "upd-1");
  for (const e of [strict, fixed]) {
    assert.equal(e.message.content, "Error to update meta to DB: disk I/O error simulated");
  }
});

// ---- c. atomicity ----------------------------------------------------------------------

Deno.test("failed meta write on insert: strict keeps the meta_v2 row Inject wrote, fixed writes nothing", () => {
  const insert = podMessage("insert", "ins-1", pod("web", "1", "v"));
  const fail = (store: Store) => store.db.sqlite.exec(FAILING_META_WRITES);
  const strict = processAll("strict", [insert], fail);
  const fixed = processAll("fixed", [insert], fail);

  assert.deepEqual(strict.dump.meta, []);
  assert.deepEqual(strict.dump.meta_v2.map((r) => r.key), ["/core/v1/pods/default/web"]);
  assert.deepEqual(fixed.dump, { meta: [], meta_v2: [] });
});

Deno.test("failed meta write on update: strict changes meta_v2 only, fixed leaves both tables as they were", () => {
  const messages = [
    podMessage("insert", "ins-1", pod("web", "1", "old")),
    podMessage("update", "upd-2", pod("web", "2", "new")),
  ];
  const fail = (store: Store) => store.db.sqlite.exec(FAILING_META_WRITES);
  const strict = processAll("strict", messages, fail);
  const fixed = processAll("fixed", messages, fail);
  const untouched = processAll("fixed", messages.slice(0, 1));

  assert.deepEqual(strict.dump.meta, untouched.dump.meta);
  assert.equal(strict.dump.meta_v2[0].resourceversion, 2);
  assert.deepEqual(fixed.dump, untouched.dump);
  assert.equal(fixed.dump.meta_v2[0].resourceversion, 1);
});

// ---- d. a list item with neither apiVersion nor kind ------------------------------------

Deno.test("list item without apiVersion and kind: strict records a panic and keeps earlier items, fixed answers an error and writes nothing", async () => {
  const list = {
    kind: "PodList",
    items: [
      { apiVersion: "v1", kind: "Pod", metadata: { name: "a", namespace: "d" } },
      { metadata: { name: "b" } },
    ],
  };
  const journal = [
    JSON.stringify({
      header: { msg_id: "list-1", timestamp: 1700000000000 },
      route: {
        source: "edgecontroller",
        group: "resource",
        operation: "insert",
        resource: "d/podlist",
      },
      content: list,
    }),
    JSON.stringify({
      header: { msg_id: "q-2", timestamp: 1700000000001 },
      route: { source: "edged", group: "meta", operation: "query", resource: "d/podlist" },
      content: null,
    }),
  ].join("\n") + "\n";
  const run = async (mode: CompatMode) => {
    const store = Store.open(":memory:");
    try {
      const lines: string[] = [];
      const summary = await replay({
        journal: ReadableStream.from([new TextEncoder().encode(journal)]),
        store,
        mode,
        answers: { cloud: new Map(), edged: new Map() },
        write: (l) => lines.push(l),
      });
      return { summary, events: lines.map((l) => JSON.parse(l)), dump: dumpDatabase(store.db) };
    } finally {
      store.close();
    }
  };
  const strict = await run("strict");
  const fixed = await run("fixed");

  const line1 = (r: typeof strict) => r.events.filter((e) => e.in === 1);
  assert.deepEqual(line1(strict), [{
    in: 1,
    panic: "Inject: list item 1 has neither apiVersion nor kind",
  }]);
  assert.equal(strict.summary.panics, 1);
  assert.deepEqual(strict.dump.meta, []);
  assert.deepEqual(strict.dump.meta_v2.map((r) => r.key), ["/core/v1/pods/d/a"]);

  const [reply, ...more] = line1(fixed);
  assert.deepEqual(more, []);
  assert.equal(reply.via, "group");
  assert.equal(reply.to, "websocket");
  assert.equal(reply.message.route.operation, "error");
  assert.equal(reply.message.header.parent_msg_id, "list-1");
  assert.equal(
    reply.message.content,
    "Error to inject meta_v2 object: list item 1 has neither apiVersion nor kind",
  );
  assert.equal(fixed.summary.panics, 0);
  assert.deepEqual(fixed.dump, { meta: [], meta_v2: [] });

  for (const r of [strict, fixed]) {
    const answer = r.events.find((e) => e.in === 2);
    assert.equal(answer.message.content, null, "the list was not stored in meta");
  }
});

// ---- e. response of an unregistered message context type -------------------------------

Deno.test("sync query with header.type unixpacket: strict drops the reply (no such beehive context), fixed answers it", () => {
  const query = message({
    header: { msg_id: "q-1", timestamp: 1700000000000, sync: true, type: "unixpacket" },
    route: { source: "edged", group: "meta", operation: "query", resource: "default/pod/web" },
    content: null,
  });
  const strict = processAll("strict", [query]);
  assert.deepEqual(
    shape(strict.sent),
    [],
    "strict: beehive's SendResp finds no unixpacket context",
  );
  const fixed = processAll("fixed", [query]);
  assert.deepEqual(shape(fixed.sent), ["resp  response"]);
  assert.equal(fixed.sent[0].msg.header.parentMsgId, "q-1");
  assert.equal(fixed.sent[0].msg.header.type, "unixpacket");
  // the channel context ("" or "channel") answers in both modes
  for (const type of ["", "channel"]) {
    const q = message({
      header: { msg_id: "q-2", timestamp: 1700000000000, sync: true, type },
      route: { source: "edged", group: "meta", operation: "query", resource: "default/pod/web" },
      content: null,
    });
    assert.deepEqual(shape(processAll("strict", [q]).sent), ["resp  response"], `type ${type}`);
  }
});
