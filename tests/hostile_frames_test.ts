/**
 * Hostile input against a running `serve` (real process, real sockets), the WebSocket and
 * HTTP side of docs/security.md "Limits against hostile input":
 *
 * - every line of every fixtures/bad/*.ndjson as a frame from the cloud: an invalid line
 *   gets an `{"error": ...}` frame naming the problem, a valid one is processed as replay
 *   processes it (acked, answered, refused with an error message, or ignored), and the
 *   connection and the service stay up;
 * - frames over `edgecoreMeta.maxMessageBytes` (default 16 MiB, and a serve configured with
 *   64 KiB), binary frames, 100,000-deep JSON, a text frame that is not UTF-8;
 * - module names and groups that must not attach;
 * - MetaServer requests that must get a Kubernetes Status: bad selectors and
 *   resourceVersions, unknown resources and groups, traversal-looking paths, writes,
 *   protobuf-only Accept.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ServeProcess, withTimeout } from "./support/serve_process.ts";
import { type WireFrame, WsModule } from "./support/ws_module.ts";
import { OPCODE, type RawFrame, rawRequest, RawWebSocket } from "./support/raw_http.ts";

const BAD = new URL("../fixtures/bad/", import.meta.url);
const WAIT_MS = 15_000;

// ------------------------------------------------------------------ fixtures

/** A serve in a temp dir, plus what the test attached; all released by cleanup(). */
class Fixture {
  readonly modules: WsModule[] = [];
  readonly raws: RawWebSocket[] = [];

  private constructor(readonly dir: string, readonly serve: ServeProcess) {}

  /** Starts serve; `yaml` becomes its `--config` file. */
  static async start(yaml?: string): Promise<Fixture> {
    const dir = await Deno.makeTempDir({ prefix: "hostile-frames-" });
    const args: string[] = [];
    if (yaml !== undefined) {
      await Deno.writeTextFile(`${dir}/edgecore.yaml`, yaml);
      args.push("--config", `${dir}/edgecore.yaml`);
    }
    try {
      return new Fixture(dir, await ServeProcess.start({ db: `${dir}/e.db`, args }));
    } catch (e) {
      await Deno.remove(dir, { recursive: true });
      throw e;
    }
  }

  async attach(name: string, group: string): Promise<WsModule> {
    const m = await WsModule.connect(this.serve.address, name, group, WAIT_MS);
    this.modules.push(m);
    return m;
  }

  /** Attaches with a raw client; retries while the previous `name` is still detaching. */
  async attachRaw(name: string, group: string): Promise<RawWebSocket> {
    const path = `/v1/modules/${name}?group=${group}`;
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      try {
        const ws = await RawWebSocket.connect(this.serve.port, path);
        this.raws.push(ws);
        return ws;
      } catch (e) {
        if (Date.now() > deadline || !/refused with 409/.test(String(e))) throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** The service is up: liveness, readiness, and the MetaServer answers. */
  async assertUp(): Promise<void> {
    assert.ok(!this.serve.exited, `serve exited:\n${this.serve.stderr}`);
    for (const path of ["/healthz", "/readyz"]) {
      const r = await rawRequest(this.serve.port, "GET", path);
      assert.equal(r.status, 200, `${path}: ${r.body}`);
    }
    const list = await rawRequest(this.serve.port, "GET", "/api/v1/configmaps");
    assert.equal(list.status, 200);
    assert.equal(JSON.parse(list.body).kind, "ConfigMapList");
  }

  /** Nothing on serve's stderr says it failed internally. */
  assertNoInternalFailure(): void {
    assert.doesNotMatch(
      this.serve.stderr,
      /request failed|loop stopped|batch not committed|Uncaught|panic/,
      this.serve.stderr.slice(-3000),
    );
  }

  async metric(name: string): Promise<number> {
    const text = (await rawRequest(this.serve.port, "GET", "/metrics")).body;
    const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
    assert.ok(m, `metric ${name} in:\n${text}`);
    return Number(m[1]);
  }

  async cleanup(): Promise<void> {
    for (const m of this.modules) await m.close().catch(() => {});
    for (const r of this.raws) await r.close().catch(() => {});
    await this.serve.kill();
    await Deno.remove(this.dir, { recursive: true });
  }
}

async function withFixture(yaml: string | undefined, fn: (f: Fixture) => Promise<void>) {
  const f = await Fixture.start(yaml);
  try {
    await fn(f);
  } finally {
    await f.cleanup();
  }
}

/** A cloud insert of ConfigMap `ns/name`, with `data`. */
function insertConfigMap(id: string, name = id, data: unknown = { k: "v" }, ns = "default") {
  return JSON.stringify({
    header: { msg_id: id, timestamp: 1_700_000_000_000 },
    route: {
      source: "edgecontroller",
      group: "resource",
      operation: "insert",
      resource: `${ns}/configmap/${name}`,
    },
    content: { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns }, data },
  });
}

/** The OK acknowledgement of message `id` (a missing parent_msg_id reads as ""). */
function isAck(f: WireFrame, id: string): boolean {
  return f.route?.operation === "response" && (f.header?.parent_msg_id ?? "") === id &&
    f.content === "OK";
}

function frameJson(f: RawFrame): WireFrame {
  try {
    return JSON.parse(f.text);
  } catch {
    return { error: `not JSON: ${f.text.slice(0, 200)}` };
  }
}

// ------------------------------------------------------------------ 1. the corpus

/** What the cloud (and edged) see for one line of the corpus. */
type Expect =
  /** an `{"error": ...}` frame matching, nothing else */
  | { error: RegExp }
  /** the OK ack of the line's msg_id */
  | "ack"
  /** an `error` message answering the line's msg_id (fixed mode: a bad list item) */
  | { reply: RegExp }
  /** edged gets the answer to the line's query; the cloud nothing */
  | "edged"
  /** processed, nothing sent to anyone (unknown operation, empty message) */
  | "quiet";

const INVALID_JSON = /^invalid message: message: invalid JSON/;

/** Per file, per line; from the README table and what `replay --compat fixed` prints. */
const EXPECTED: Record<string, Expect[]> = {
  "deep_nesting.ndjson": ["ack", "ack", { error: /message: invalid JSON \(exceeded max depth/ }],
  "duplicate_msg_ids.ndjson": ["ack", "ack", "ack", "ack"],
  "huge_numbers.ndjson": [
    // resourceVersion beyond 2^64-1: ParseUint gives 2^64-1, at or above 2^63 (upstream
    // panics), so fixed mode's error reply
    { reply: /has resourceVersion 99999999999999999999999, at or above 2\^63/ },
    // resourceVersion 2^64-1 beside "x":1e400: the object does not decode as Go decodes it
    // (a number beyond float64), so Inject writes no meta_v2 row and never reaches the
    // resourceVersion; meta keeps the text (docs/compatibility.md, a06)
    "ack",
    {
      error:
        /header\.timestamp: expected an integer \(Go int64\), got number 99999999999999999999 \(out of range\)/,
    },
  ],
  "invalid_json.ndjson": [
    { error: INVALID_JSON },
    { error: INVALID_JSON },
    { error: INVALID_JSON },
    { error: /message: expected a JSON object, got array/ },
    { error: /message: expected a JSON object, got string/ },
    { error: /message: expected a JSON object, got number/ },
  ],
  // Sent as text decoded with U+FFFD replacement (a WebSocket text frame is UTF-8); the raw
  // bytes are the subject of a test below.
  "invalid_utf8.ndjson": ["ack", { error: INVALID_JSON }],
  "list_items.ndjson": [
    { reply: /list item 1 has neither apiVersion nor kind/ },
    { reply: /list item 1 is not an object/ },
    "ack",
    "ack",
    "ack",
  ],
  "missing_fields.ndjson": ["quiet", "quiet", "ack", "edged", "quiet"],
  "nul_bytes.ndjson": ["ack", "edged"],
  "resource_segments.ndjson": [
    ...Array<Expect>(9).fill("ack"),
    ...Array<Expect>(4).fill("edged"),
  ],
  "sql_looking_keys.ndjson": [...Array<Expect>(6).fill("ack"), "edged", "edged"],
  "unknown_operations.ndjson": Array<Expect>(9).fill("quiet"),
  "wrong_types.ndjson": [
    { error: /header\.msg_id: expected a string, got number/ },
    { error: /header\.timestamp: expected an integer, got string/ },
    { error: /header\.sync: expected a boolean, got string/ },
    { error: /header: expected an object, got string/ },
    { error: /route: expected an object, got array/ },
    { error: /route\.operation: expected a string, got number/ },
    { error: /header\.timestamp: expected an integer \(Go int64\), got number 1\.5/ },
  ],
};

/** The lines of a corpus file as text (invalid UTF-8 decoded with replacement). */
function corpusLines(name: string): string[] {
  const bytes = Deno.readFileSync(new URL(name, BAD));
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      const line = new TextDecoder().decode(bytes.subarray(start, i));
      if (line.trim() !== "") lines.push(line);
      start = i + 1;
    }
  }
  return lines;
}

function msgIdOf(line: string): string {
  return String(JSON.parse(line).header?.msg_id ?? "");
}

Deno.test({
  name:
    "hostile frames: every line of fixtures/bad as a cloud frame; connection and service stay up",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const files = [...Deno.readDirSync(BAD)].map((e) => e.name)
      .filter((n) => n.endsWith(".ndjson")).sort();
    assert.deepEqual(files, Object.keys(EXPECTED).sort(), "an expectation for every file");
    await withFixture(undefined, async (t) => {
      const cloud = await t.attach("websocket", "hub");
      const edged = await t.attach("edged", "edged");
      let probes = 0, invalid = 0;
      for (const file of files) {
        const lines = corpusLines(file);
        assert.equal(lines.length, EXPECTED[file].length, `${file}: lines`);
        for (const [n, line] of lines.entries()) {
          const where = `${file}:${n + 1}`;
          const expect = EXPECTED[file][n];
          // The line, then a probe insert: serve handles one socket's frames in order, so
          // what arrives before the probe's ack (cloud) and the probe itself (edged) is
          // what the line caused.
          const cloudFrom = cloud.frames.length, edgedFrom = edged.frames.length;
          const probe = `probe-${++probes}`;
          cloud.send(line);
          cloud.send(insertConfigMap(probe, probe, { k: "v" }, "probes"));
          const cloudEnd = cloud.frames.indexOf(
            await cloud.waitFor((f) => isAck(f, probe), WAIT_MS, `ack of ${probe} (${where})`),
          );
          const edgedEnd = edged.frames.indexOf(
            await edged.waitFor((f) => f.header?.msg_id === probe, WAIT_MS, `${probe} at edged`),
          );
          const atCloud = cloud.frames.slice(cloudFrom, cloudEnd);
          const atEdged = edged.frames.slice(edgedFrom, edgedEnd);
          const seen = `${where} cloud got ${JSON.stringify(atCloud).slice(0, 600)}; ` +
            `edged got ${JSON.stringify(atEdged).slice(0, 600)}`;
          if (typeof expect === "object" && "error" in expect) {
            invalid++;
            assert.equal(atCloud.length, 1, seen);
            assert.deepEqual(Object.keys(atCloud[0]), ["error"], seen);
            assert.match(String(atCloud[0].error), expect.error, seen);
            assert.equal(atEdged.length, 0, seen);
            continue;
          }
          const id = msgIdOf(line);
          assert.ok(!atCloud.some((f) => f.error !== undefined), `no error frame: ${seen}`);
          if (expect === "ack") {
            assert.equal(atCloud.length, 1, seen);
            assert.ok(isAck(atCloud[0], id), seen);
          } else if (expect === "quiet") {
            assert.equal(atCloud.length, 0, seen);
            assert.equal(atEdged.length, 0, seen);
          } else if (expect === "edged") {
            assert.equal(atCloud.length, 0, seen);
            assert.equal(atEdged.length, 1, seen);
            assert.equal(atEdged[0].route?.operation, "response", seen);
            assert.equal(atEdged[0].header?.parent_msg_id, id, seen);
          } else {
            assert.equal(atCloud.length, 1, seen);
            assert.equal(atCloud[0].route?.operation, "error", seen);
            assert.equal(atCloud[0].header?.parent_msg_id, id, seen);
            assert.match(String(atCloud[0].content), expect.reply, seen);
          }
        }
      }
      assert.ok(cloud.open && edged.open, "both connections are still up");
      cloud.send(insertConfigMap("final"));
      await cloud.waitFor((f) => isAck(f, "final"), WAIT_MS, "ack of the final insert");
      assert.equal(await t.metric("edgecore_meta_bad_frames_total"), invalid);
      const stored = await rawRequest(t.serve.port, "GET", "/api/v1/namespaces/default/configmaps");
      assert.ok(
        JSON.parse(stored.body).items.some((o: { metadata: { name: string } }) =>
          o.metadata.name === "final"
        ),
      );
      await t.assertUp();
      t.assertNoInternalFailure();
    });
  },
});

// ------------------------------------------------------------------ 2. frames

Deno.test({
  name:
    "hostile frames: binary, over 16 MiB, 100,000-deep JSON and non-UTF-8 text never take serve down",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withFixture(undefined, async (t) => {
      const ws = await t.attachRaw("websocket", "hub");
      let probes = 0;
      /** Sends `payload` and returns the frames it caused (up to a probe's ack). */
      const exchange = async (opcode: number, payload: Uint8Array | string) => {
        const from = ws.frames.length;
        const probe = `probe-${++probes}`;
        await ws.send(opcode, payload);
        await ws.send(OPCODE.text, insertConfigMap(probe));
        const end = await ws.waitFor((f) => isAck(frameJson(f), probe), from, WAIT_MS, probe);
        assert.ok(end, "connection still up");
        return ws.frames.slice(from, ws.frames.indexOf(end)).map(frameJson);
      };

      // binary frames are refused, whatever they hold
      for (
        const payload of [new Uint8Array([1, 2, 3]), new TextEncoder().encode(insertConfigMap("b"))]
      ) {
        const got = await exchange(OPCODE.binary, payload);
        assert.deepEqual(got, [{ error: "binary frames are not accepted; send text JSON" }]);
      }

      // the default limit: 16 MiB = 16,777,216 bytes
      const limit = 16 * 1024 * 1024;
      const over = await exchange(OPCODE.text, " ".repeat(limit + 1));
      assert.deepEqual(over, [{
        error: `frame of ${limit + 1} bytes exceeds the limit of ${limit} bytes`,
      }]);

      // 100,000 levels of nesting: a whole frame, a header field, message content
      const depth = 100_000;
      const deepArray = "[".repeat(depth) + "]".repeat(depth);
      let deepObject = "1";
      for (let i = 0; i < depth; i++) deepObject = `{"a":${deepObject}}`;
      const asFrame = await exchange(OPCODE.text, deepArray);
      assert.equal(asFrame.length, 1);
      assert.match(String(asFrame[0].error), /invalid JSON \(exceeded max depth/);
      const inHeader = await exchange(
        OPCODE.text,
        `{"header":{"msg_id":${deepObject}},"route":{"operation":"insert","resource":"a/b/c"}}`,
      );
      assert.equal(inHeader.length, 1);
      // Go's decoder refuses nesting beyond 10,000 levels anywhere in the message: one
      // invalid-message answer to the cloud each time, and serve carries on
      assert.match(String(inHeader[0].error), /invalid JSON \(exceeded max depth/);
      // as the data of a ConfigMap
      const inContent = await exchange(
        OPCODE.text,
        insertConfigMap("deep-cm", "deep-cm", "@").replace('"@"', deepObject),
      );
      assert.equal(inContent.length, 1, JSON.stringify(inContent).slice(0, 500));
      assert.match(String(inContent[0].error), /invalid JSON \(exceeded max depth/);
      // as the whole content
      const asContent = await exchange(
        OPCODE.text,
        insertConfigMap("deep-c").replace(/"content":\{.*\}\}$/, `"content":${deepObject}}`),
      );
      assert.equal(asContent.length, 1, JSON.stringify(asContent).slice(0, 500));
      assert.match(String(asContent[0].error), /invalid JSON \(exceeded max depth/);
      for (const path of ["/api/v1/configmaps", "/api/v1/namespaces/default/configmaps/deep-cm"]) {
        const r = await rawRequest(t.serve.port, "GET", path);
        assert.ok(r.status === 200 || r.status === 404, `${path}: ${r.status} ${r.body}`);
      }
      await t.assertUp();

      // A text frame that is not UTF-8 is a protocol error (RFC 6455 §8.1): serve may drop
      // the connection, but nothing else — the module detaches and can attach again.
      const line1 = Deno.readFileSync(new URL("invalid_utf8.ndjson", BAD));
      await ws.send(OPCODE.text, line1.subarray(0, line1.indexOf(0x0a)));
      await withTimeout(ws.ended, WAIT_MS, "serve kept a connection that sent invalid UTF-8");
      assert.ok(!ws.frames.some((f) => /"parent_msg_id":"u1"/.test(f.text)), "not processed");
      const again = await t.attachRaw("websocket", "hub");
      await again.send(OPCODE.text, insertConfigMap("after-utf8"));
      assert.ok(await again.waitFor((f) => isAck(frameJson(f), "after-utf8")));
      await t.assertUp();
      t.assertNoInternalFailure();
    });
  },
});

Deno.test({
  name:
    "hostile frames: with edgecoreMeta.maxMessageBytes 65536 a longer frame is refused, the connection stays",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const limit = 65536;
    await withFixture(`edgecoreMeta:\n  maxMessageBytes: ${limit}\n`, async (t) => {
      const cloud = await t.attach("websocket", "hub");
      /** An insert of `id` padded to exactly `length` characters (all ASCII: bytes). */
      const sized = (id: string, length: number) =>
        insertConfigMap(id, id, {
          k: "x".repeat(length - insertConfigMap(id, id, { k: "" }).length),
        });
      const atLimit = sized("at-limit", limit);
      assert.equal(atLimit.length, limit);
      cloud.send(atLimit);
      await cloud.waitFor((f) => isAck(f, "at-limit"), WAIT_MS, "ack of a frame at the limit");

      const over = sized("over", limit + 1);
      assert.equal(new TextEncoder().encode(over).length, limit + 1);
      cloud.send(over);
      const refused = await cloud.waitFor((f) => f.error !== undefined, WAIT_MS, "error frame");
      assert.equal(
        refused.error,
        `frame of ${limit + 1} bytes exceeds the limit of ${limit} bytes`,
      );
      const huge = " ".repeat(4 * 1024 * 1024);
      cloud.send(huge);
      await cloud.waitFor(
        (f) => f.error === `frame of ${huge.length} bytes exceeds the limit of ${limit} bytes`,
        WAIT_MS,
        "error frame for 4 MiB",
      );
      assert.ok(cloud.open, "the connection stays up");
      cloud.send(insertConfigMap("after"));
      await cloud.waitFor((f) => isAck(f, "after"), WAIT_MS, "ack after the refusals");
      assert.ok(!cloud.frames.some((f) => f.header?.parent_msg_id === "over"), "not processed");
      const r = await rawRequest(t.serve.port, "GET", "/api/v1/namespaces/default/configmaps/over");
      assert.equal(r.status, 404, "the refused insert was not stored");
      assert.equal(await t.metric("edgecore_meta_bad_frames_total"), 2);
      await t.assertUp();
      t.assertNoInternalFailure();
    });
  },
});

Deno.test({
  name: "hostile frames: the frame limit counts bytes, not characters",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const limit = 65536;
    await withFixture(`edgecoreMeta:\n  maxMessageBytes: ${limit}\n`, async (t) => {
      const cloud = await t.attach("websocket", "hub");
      const frame = insertConfigMap("wide", "wide", { k: "é".repeat(40_000) });
      const bytes = new TextEncoder().encode(frame).length;
      assert.ok(frame.length < limit && bytes > limit);
      cloud.send(frame);
      cloud.send(insertConfigMap("after"));
      await cloud.waitFor((f) => isAck(f, "after"), WAIT_MS, "ack of the next insert");
      assert.ok(!cloud.frames.some((f) => isAck(f, "wide")), "the oversized frame was acked");
      assert.ok(cloud.frames.some((f) => /exceeds the limit/.test(String(f.error))));
    });
  },
});

// ------------------------------------------------------------------ 3. attaching

const UPGRADE = {
  upgrade: "websocket",
  connection: "Upgrade",
  "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
  "sec-websocket-version": "13",
};

Deno.test({
  name: "hostile frames: invalid module names and groups, and metaManager, cannot attach",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withFixture(undefined, async (t) => {
      const refusals: [string, number, RegExp][] = [
        ["/v1/modules/..%2F..?group=hub", 400, /invalid module name "\.\.\/\.\."/],
        ["/v1/modules/x?group=", 400, /invalid or missing group ""/],
        ["/v1/modules/x", 400, /invalid or missing group ""/],
        ["/v1/modules/x?group=..%2F..", 400, /invalid or missing group/],
        ["/v1/modules/x?group=hub%00", 400, /invalid or missing group/],
        [`/v1/modules/${"a".repeat(200)}?group=hub`, 400, /invalid module name/],
        [`/v1/modules/x?group=${"g".repeat(64)}`, 400, /invalid or missing group/],
        ["/v1/modules/a%20b?group=hub", 400, /invalid module name "a b"/],
        ["/v1/modules/a%00b?group=hub", 400, /invalid module name/],
        ["/v1/modules/%2Fetc%2Fpasswd?group=hub", 400, /invalid module name/],
        ["/v1/modules/.hidden?group=hub", 400, /invalid module name/],
        ["/v1/modules/metaManager?group=meta", 409, /metaManager is internal/],
        ["/v1/modules/metaManager?group=hub", 409, /metaManager is internal/],
      ];
      for (const [path, status, message] of refusals) {
        const r = await rawRequest(t.serve.port, "GET", path, UPGRADE);
        assert.equal(r.status, status, `${path}: ${r.status} ${r.body}`);
        assert.match(JSON.parse(r.body).error, message, path);
      }
      // `.` and `..` segments (also as %2E%2E) are resolved by URL parsing before routing:
      // no module path any more, so no attach (the MetaServer answers 404)
      for (const name of ["..", "%2E%2E", "."]) {
        const path = `/v1/modules/${name}?group=hub`;
        const r = await rawRequest(t.serve.port, "GET", path, UPGRADE);
        assert.equal(r.status, 404, `${path}: ${r.body}`);
        assert.equal(JSON.parse(r.body).kind, "Status");
      }
      // 63 characters is the longest name; the attached module then owns it
      const longest = "m".repeat(63);
      const ok = await t.attach(longest, "edgegroup");
      const taken = await rawRequest(
        t.serve.port,
        "GET",
        `/v1/modules/${longest}?group=x`,
        UPGRADE,
      );
      assert.equal(taken.status, 409);
      await ok.close();
      // refusals changed nothing: the cloud attaches and is served
      const cloud = await t.attach("websocket", "hub");
      cloud.send(insertConfigMap("after-refusals"));
      await cloud.waitFor((f) => isAck(f, "after-refusals"), WAIT_MS, "ack");
      await t.assertUp();
      t.assertNoInternalFailure();
    });
  },
});

Deno.test({
  name: "hostile frames: a module name that is not valid percent-encoding is a 400",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withFixture(undefined, async (t) => {
      for (const path of ["/v1/modules/%ZZ?group=hub", "/v1/modules/%E0%A4%A?group=hub"]) {
        const r = await rawRequest(t.serve.port, "GET", path, UPGRADE);
        assert.equal(r.status, 400, `${path}: ${r.status} ${r.body}`);
        assert.match(JSON.parse(r.body).error, /invalid module name/);
      }
      await t.assertUp();
      t.assertNoInternalFailure();
    });
  },
});

// ------------------------------------------------------------------ 4. MetaServer

interface StatusCase {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  code: number;
  reason: string;
  message?: RegExp;
}

const PROTOBUF = "application/vnd.kubernetes.protobuf";

const STATUS_CASES: StatusCase[] = [
  // label selectors
  ...[
    "/api/v1/pods?labelSelector=a%3D%3D%3Db",
    "/api/v1/pods?labelSelector=!!",
    "/api/v1/pods?watch=true&labelSelector=!!",
    "/api/v1/namespaces/default/pods?labelSelector=a%20in%20(b",
    "/api/v1/pods?labelSelector=a%20in%20" + "(".repeat(10_000),
    "/api/v1/pods?labelSelector=" + "a%3Db%2C".repeat(5_000) + "!!",
    "/api/v1/pods?labelSelector=a%3E1x",
    `/api/v1/pods?labelSelector=${"k".repeat(64)}%3Dv`,
    "/apis/apps/v1/deployments?labelSelector=%3D%3D",
  ].map((path) => ({ path, code: 400, reason: "BadRequest", message: /unable to parse/ })),
  // field selectors
  {
    path: "/api/v1/pods?fieldSelector=spec.foo%3Dbar",
    code: 400,
    reason: "BadRequest",
    message: /field label not supported: spec\.foo/,
  },
  {
    path: "/api/v1/pods?watch=1&fieldSelector=metadata.labels%3Dx",
    code: 400,
    reason: "BadRequest",
    message: /field label not supported/,
  },
  {
    path: "/api/v1/configmaps?fieldSelector=nonsense",
    code: 400,
    reason: "BadRequest",
    message: /can't understand 'nonsense'/,
  },
  {
    path: "/api/v1/pods?fieldSelector=metadata.name%3Da%5Cx",
    code: 400,
    reason: "BadRequest",
    message: /invalid escape sequence/,
  },
  // resourceVersion, timeoutSeconds (watch)
  ...["abc", "-1", "1e3", "0x10", "%20"].map((rv) => ({
    path: `/api/v1/pods?watch=true&resourceVersion=${rv}`,
    code: 400,
    reason: "BadRequest",
    message: /resourceVersion: Invalid value/,
  })),
  ...["-1", "abc", "1.5"].map((s) => ({
    path: `/api/v1/pods?watch=true&timeoutSeconds=${s}`,
    code: 400,
    reason: "BadRequest",
    message: /timeoutSeconds: Invalid value/,
  })),
  // missing objects of resources outside the table, unknown groups in discovery, paths
  // that look like traversal (lists of any resource are served: see below)
  ...[
    "/api/v1/namespaces/default/foos/x",
    "/api/v1/namespaces/default/pods/x/exec",
    "/api/v1/pods/x",
    "/apis/evil.example.com/v1",
    "/apis/evil.example.com",
    "/api/v1/namespaces/../../etc/passwd",
    "/api/v1/namespaces/%2e%2e/%2e%2e/etc/passwd",
    "/api/v1/namespaces/default/pods/..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/v1/namespaces/default/pods/%ZZ",
    "/../../../etc/passwd",
    "/api/v1/watch",
  ].map((path) => ({ path, code: 404, reason: "NotFound" })),
  // writes, turned off in this test's configuration
  ...([
    ["POST", "/api/v1/namespaces/default/pods"],
    ["PUT", "/api/v1/namespaces/default/pods/x"],
    ["PATCH", "/api/v1/namespaces/default/pods/x"],
    ["DELETE", "/api/v1/namespaces/default/pods/x"],
    ["DELETE", "/api/v1/namespaces/default/pods"],
    ["POST", "/apis/apps/v1/namespaces/default/deployments"],
    ["PUT", "/api/v1/nodes/edge-1/status"],
    ["POST", "/api"],
  ] as const).map(([method, path]) => ({
    method,
    path,
    code: 405,
    reason: "MethodNotAllowed",
    message: /does not allow this method/,
  })),
  // protobuf only
  ...[
    ["/api/v1/pods", PROTOBUF],
    ["/api/v1/namespaces/default/pods/x", PROTOBUF],
    ["/api/v1/pods?watch=true", `${PROTOBUF};stream=watch`],
    ["/api", PROTOBUF],
  ].map(([path, accept]) => ({
    path,
    headers: { accept },
    code: 406,
    reason: "NotAcceptable",
    message: /only the following media types are accepted/,
  })),
];

Deno.test({
  name: "hostile frames: hostile MetaServer requests get a Kubernetes Status; the service stays up",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // writes off (edgecoreMeta.metaServer.writes: false): the MetaServer answers them 405
    const config = "edgecoreMeta:\n  metaServer:\n    writes: false\n";
    await withFixture(config, async (t) => {
      // something to read, so that a 404 is not just an empty store
      const cloud = await t.attach("websocket", "hub");
      cloud.send(insertConfigMap("present"));
      await cloud.waitFor((f) => isAck(f, "present"), WAIT_MS, "ack");
      for (const c of STATUS_CASES) {
        const method = c.method ?? "GET";
        const body = ["POST", "PUT", "PATCH"].includes(method) ? '{"kind":"Pod"}' : "";
        const headers = body !== ""
          ? { "content-type": "application/json", ...c.headers }
          : { ...c.headers };
        const r = await rawRequest(t.serve.port, method, c.path, headers, body);
        const what = `${method} ${c.path.slice(0, 120)}: ${r.status} ${r.body.slice(0, 300)}`;
        assert.equal(r.status, c.code, what);
        assert.match(r.headers["content-type"] ?? "", /^application\/json/, what);
        const s = JSON.parse(r.body);
        assert.equal(s.kind, "Status", what);
        assert.equal(s.apiVersion, "v1", what);
        assert.equal(s.status, "Failure", what);
        assert.equal(s.code, c.code, what);
        assert.equal(s.reason, c.reason, what);
        assert.equal(typeof s.message, "string", what);
        if (c.message) assert.match(s.message, c.message, what);
      }
      // any resource is served from the store, as KubeEdge serves it: empty lists here
      for (
        const path of [
          "/api/v1/foos",
          "/api/v2/pods",
          "/apis/evil.example.com/v1/widgets",
          "/apis/apps/v9/deployments",
        ]
      ) {
        const r = await rawRequest(t.serve.port, "GET", path);
        assert.equal(r.status, 200, `${path}: ${r.body}`);
        assert.deepEqual(JSON.parse(r.body).items, [], path);
      }
      // nothing was written by the write attempts
      const present = await rawRequest(
        t.serve.port,
        "GET",
        "/api/v1/namespaces/default/configmaps/present",
      );
      assert.equal(present.status, 200);
      assert.equal(
        JSON.parse((await rawRequest(t.serve.port, "GET", "/api/v1/pods")).body).items.length,
        0,
      );
      await t.assertUp();
      t.assertNoInternalFailure();
    });
  },
});
