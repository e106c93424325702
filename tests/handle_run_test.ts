/**
 * MetaManager.handleRun (the serve loop's batches): a run of a cloud module's inserts,
 * updates and deletes shares one savepoint, and the outcome is exactly that of handling
 * each message alone - the same database and the same outbound messages, in order - for
 * every fixture journal and hostile case, in both releases and modes, including runs in
 * which a message fails halfway (its partial writes undone in fixed mode, kept in strict
 * mode, as upstream).
 */
import assert from "node:assert/strict";
import type { Message } from "../src/beehive/message.ts";
import {
  CLOUD_SOURCES,
  CLOUD_SOURCES_V1_23,
  parseMessageOrError,
  type Transport,
} from "../src/beehive/wire.ts";
import type { CompatMode } from "../src/metamanager/compat.ts";
import { MetaManager, VOLUME_OPERATIONS } from "../src/metamanager/process.ts";
import { dumpJson } from "../src/store/dump.ts";
import type { KubeEdgeRelease } from "../src/store/schema.ts";
import { Store } from "../src/store/store.ts";
import { cloudWrite } from "./support/crash.ts";
import { countingIdentity, fixtureLines, VARIANTS, WireBus } from "./support/fixture_journals.ts";

/**
 * The messages through a fresh store, each alone (`handle`, its own transaction) or as
 * one batch (`handleRun` in one transaction, as runMetaManagerLoop does); the dump and
 * what was sent. Fresh ids are numbered; a run handled again draws new ones, so the
 * numbers are left out of the comparison.
 */
async function run(
  msgs: Message[],
  release: KubeEdgeRelease,
  mode: CompatMode,
  how: "alone" | "batch",
): Promise<{ dump: string; sent: string[]; panics: number }> {
  const store = Store.open(":memory:", { release });
  const bus = new WireBus();
  const tasks: Promise<void>[] = [];
  let panics = 0;
  const mm = new MetaManager({
    store,
    bus,
    mode,
    identity: countingIdentity(),
    spawn: (t) => tasks.push(t.catch(() => {})),
    onPanic: () => panics++,
  });
  if (how === "alone") {
    for (const m of msgs) void mm.handle(m);
  } else {
    store.db.begin();
    for (let i = 0; i < msgs.length;) i = mm.handleRun(msgs, i);
    store.db.commit();
    await mm.deliverWhenDurable(mm.outbox.take());
  }
  await Promise.all(tasks);
  const dump = dumpJson(store.db);
  store.close();
  return { dump, sent: bus.sent.map((s) => s.replace(/id-\d+/g, "id-N")), panics };
}

function decode(lines: string[], release: KubeEdgeRelease, transport: Transport): Message[] {
  const sources = release === "1.23" ? CLOUD_SOURCES_V1_23 : CLOUD_SOURCES;
  return lines.map((l) => parseMessageOrError(l, transport, sources)).filter((d): d is Message =>
    !(d instanceof Error) && !VOLUME_OPERATIONS.has(d.route.operation)
  );
}

Deno.test("handleRun: a batch ends as its messages handled one by one, for every fixture", async (t) => {
  const files = fixtureLines();
  assert.ok(files.length >= 40, `fixtures found: ${files.length}`);
  for (const v of VARIANTS) {
    await t.step(`v${v.release} ${v.mode}/${v.transport}`, async () => {
      for (const { file, lines } of files) {
        const alone = await run(decode(lines, v.release, v.transport), v.release, v.mode, "alone");
        const batch = await run(decode(lines, v.release, v.transport), v.release, v.mode, "batch");
        assert.equal(batch.dump, alone.dump, `${file}: database`);
        assert.deepEqual(batch.sent, alone.sent, `${file}: outbound messages`);
        assert.equal(batch.panics, alone.panics, `${file}: upstream crashes reported`);
      }
    });
  }
});

Deno.test("handleRun: a list that fails halfway in a run is undone in fixed mode, kept in strict mode, the rest of the run stored", async () => {
  const pod = (name: string) =>
    JSON.stringify(
      cloudWrite(`m-${name}`, "insert", { type: "pod", namespace: "default", name }, 7),
    );
  const halfBadList = JSON.stringify({
    header: { msg_id: "m-list", timestamp: 1 },
    route: {
      source: "edgecontroller",
      group: "resource",
      operation: "insert",
      resource: "default/pod/list",
    },
    content: {
      kind: "PodList",
      apiVersion: "v1",
      items: [
        { apiVersion: "v1", kind: "Pod", metadata: { name: "ok1", namespace: "default" } },
        { metadata: { name: "bad" } },
      ],
    },
  });
  const lines = [pod("a"), pod("b"), halfBadList, pod("c"), pod("d")];
  for (const mode of ["fixed", "strict"] as const) {
    const msgs = decode(lines, "1.10", "raw");
    const batch = await run(msgs, "1.10", mode, "batch");
    const alone = await run(decode(lines, "1.10", "raw"), "1.10", mode, "alone");
    assert.equal(batch.dump, alone.dump, mode);
    assert.deepEqual(batch.sent, alone.sent, mode);
    const names = (JSON.parse(batch.dump).meta_v2 as { name: string }[]).map((r) => r.name).sort();
    assert.deepEqual(names, mode === "fixed" ? ["a", "b", "c", "d"] : ["a", "b", "c", "d", "ok1"]);
    const acks = batch.sent.filter((s) => s.includes('"content":"OK"')).length;
    assert.equal(acks, 4, `${mode}: the four pods acknowledged`);
  }
});
