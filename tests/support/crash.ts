/**
 * Crash-safety test support: a seeded random source, the cloud messages the crash tests
 * send (pods and configmaps whose value encodes a sequence number), reading a database
 * file read-only, and the checks every crashed database must pass: `PRAGMA
 * integrity_check`, and no partial message (each Kubernetes object in `meta` has its
 * `meta_v2` row carrying the same object, and each `meta_v2` row its `meta` row).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";

// ---- randomness --------------------------------------------------------------------------

/** A small seeded PRNG (mulberry32), so that a failing run can be repeated with its seed. */
export class Random {
  #state: number;

  constructor(readonly seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
}

/** A positive integer from environment variable `name`, else `fallback`. */
export function envInt(name: string, fallback: number): number {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${raw}: expected an integer ≥ 0`);
  return n;
}

/** The seed from `CRASH_SEED`, else a fresh random one. */
export function crashSeed(): number {
  const raw = Deno.env.get("CRASH_SEED");
  if (raw !== undefined && raw.trim() !== "") return Number(raw) >>> 0;
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

// ---- objects and messages ----------------------------------------------------------------

/** The two kinds the crash tests write. */
export const KINDS = {
  pod: { kind: "Pod", plural: "pods" },
  configmap: { kind: "ConfigMap", plural: "configmaps" },
} as const;

/** A meta `type` written by the crash tests. */
export type CrashType = keyof typeof KINDS;

/** Where one object lives. */
export interface ObjectRef {
  type: CrashType;
  namespace: string;
  name: string;
}

/** The `meta` key of an object: `<ns>/<type>/<name>`. */
export function metaKey(ref: ObjectRef): string {
  return `${ref.namespace}/${ref.type}/${ref.name}`;
}

/** The `meta_v2` key of an object: `/core/v1/<plural>/<ns>/<name>`. */
export function metaV2Key(ref: ObjectRef): string {
  return `/core/v1/${KINDS[ref.type].plural}/${ref.namespace}/${ref.name}`;
}

/**
 * The object `ref` at sequence number `seq`: `metadata.resourceVersion` is the sequence
 * number, and so is a data field (`data.seq` of a configmap, the `crash/seq` annotation
 * and an environment variable of a pod).
 */
export function objectAt(ref: ObjectRef, seq: number): Record<string, unknown> {
  const metadata = {
    name: ref.name,
    namespace: ref.namespace,
    resourceVersion: String(seq),
    uid: `uid-${ref.namespace}-${ref.type}-${ref.name}`,
  };
  if (ref.type === "configmap") {
    return { apiVersion: "v1", kind: "ConfigMap", metadata, data: { seq: String(seq) } };
  }
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { ...metadata, annotations: { "crash/seq": String(seq) } },
    spec: {
      nodeName: "edge-1",
      containers: [{ name: "app", image: "busybox", env: [{ name: "SEQ", value: String(seq) }] }],
    },
  };
}

/** A cloud message (`edgecontroller`, group `resource`) in KubeEdge wire JSON. */
export interface CloudMessage {
  header: { msg_id: string; timestamp: number };
  route: { source: string; group: string; operation: string; resource: string };
  content: Record<string, unknown>;
}

/** The cloud's `insert` or `update` of `ref` at `seq`, with msg_id `msgId`. */
export function cloudWrite(
  msgId: string,
  operation: "insert" | "update",
  ref: ObjectRef,
  seq: number,
): CloudMessage {
  return {
    header: { msg_id: msgId, timestamp: 1644300000000 + seq },
    route: { source: "edgecontroller", group: "resource", operation, resource: metaKey(ref) },
    content: objectAt(ref, seq),
  };
}

/** The sequence number an object value encodes (its resourceVersion), or NaN. */
export function seqOf(value: unknown): number {
  if (value === null || typeof value !== "object") return NaN;
  const metadata = (value as Record<string, unknown>).metadata as Record<string, unknown>;
  const rv = metadata?.resourceVersion;
  return typeof rv === "string" && /^\d+$/.test(rv) ? Number(rv) : NaN;
}

const TYPE_OF_PLURAL: Record<string, CrashType> = { pods: "pod", configmaps: "configmap" };

// ---- the database file ---------------------------------------------------------------------

/** One `meta` row. */
export interface MetaRow {
  key: string;
  type: string;
  value: string;
}

/** One `meta_v2` row. */
export interface MetaV2Row {
  key: string;
  groupversionresource: string;
  namespace: string;
  name: string;
  resourceversion: number | bigint;
  value: string;
}

/** What a database file holds, read in one read transaction. */
export interface DbSnapshot {
  /** First row of `PRAGMA integrity_check` (`ok` when sound). */
  integrity: string;
  meta: MetaRow[];
  metaV2: MetaV2Row[];
}

/**
 * Reads both tables (sorted by key) and runs `PRAGMA integrity_check`, through a read-only
 * connection: safe while serve runs, and it neither checkpoints nor removes a `-wal` file
 * that a killed process left (the next start must recover it itself).
 */
export function readSnapshot(path: string): DbSnapshot {
  const db = new DatabaseSync(path, { readOnly: true, timeout: 5000 });
  try {
    return snapshotOf(db);
  } finally {
    db.close();
  }
}

/** {@link readSnapshot} on an open connection (e.g. an in-memory reference database). */
export function snapshotOf(db: DatabaseSync): DbSnapshot {
  db.exec("BEGIN"); // one consistent view of both tables
  try {
    const check = db.prepare("PRAGMA integrity_check").all() as Record<string, unknown>[];
    const integrity = check.map((r) => String(Object.values(r)[0])).join("; ");
    const meta = db.prepare("SELECT `key`, `type`, `value` FROM meta ORDER BY `key`").all()
      .map((r) => ({ ...r })) as unknown as MetaRow[];
    const metaV2 = db.prepare(
      "SELECT `key`, groupversionresource, namespace, name, resourceversion, value " +
        "FROM meta_v2 ORDER BY `key`",
    ).all().map((r) => ({ ...r })) as unknown as MetaV2Row[];
    return { integrity, meta, metaV2 };
  } finally {
    db.exec("COMMIT");
  }
}

/** The highest sequence number in `meta` (0 when empty), read-only. */
export function maxSeqInDb(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true, timeout: 5000 });
  try {
    const row = db.prepare("SELECT MAX(resourceversion) AS m FROM meta_v2").get() as
      | { m: number | null }
      | undefined;
    return Number(row?.m ?? 0);
  } finally {
    db.close();
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${
      Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")
    }}`;
  }
  return JSON.stringify(v);
}

/**
 * Partial messages: every `meta` row whose value is a Kubernetes object (has `kind`) must
 * have its `meta_v2` row holding the same object (same resourceversion), and every
 * `meta_v2` row its `meta` row. Returns one line per problem (empty when none).
 */
export function partialProblems(snapshot: DbSnapshot): string[] {
  const problems: string[] = [];
  const v2 = new Map(snapshot.metaV2.map((r) => [r.key, r]));
  const meta = new Map(snapshot.meta.map((r) => [r.key, r]));
  for (const row of snapshot.meta) {
    const obj = parse(row.value) as Record<string, unknown> | undefined;
    if (obj === undefined || obj === null || typeof obj !== "object" || !obj.kind) continue;
    const [namespace, type, name, ...rest] = row.key.split("/") as [string, CrashType, string];
    if (!(type in KINDS) || row.type !== type || rest.length > 0) {
      problems.push(`meta ${row.key}: unexpected key or type ${row.type}`);
      continue;
    }
    const md = (obj.metadata ?? {}) as Record<string, unknown>;
    if (obj.kind !== KINDS[type].kind || md.namespace !== namespace || md.name !== name) {
      problems.push(`meta ${row.key} holds another object: ${row.value}`);
    }
    const key = metaV2Key({ type, namespace, name });
    const other = v2.get(key);
    if (!other) {
      problems.push(`meta ${row.key} (seq ${seqOf(obj)}) has no meta_v2 row ${key}`);
      continue;
    }
    const otherObj = parse(other.value);
    if (!sameJson(obj, otherObj) || Number(other.resourceversion) !== seqOf(obj)) {
      problems.push(
        `meta ${row.key} holds seq ${seqOf(obj)} but meta_v2 ${key} holds seq ${
          seqOf(otherObj)
        } (resourceversion ${other.resourceversion})`,
      );
    }
  }
  for (const row of snapshot.metaV2) {
    const m = /^\/core\/v1\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(row.key);
    const type = m ? TYPE_OF_PLURAL[m[1]] : undefined;
    if (!m || !type) {
      problems.push(`meta_v2 ${row.key}: unexpected key`);
      continue;
    }
    const key = metaKey({ type, namespace: m[2], name: m[3] });
    if (!meta.has(key)) {
      problems.push(`meta_v2 ${row.key} (seq ${row.resourceversion}) has no meta row ${key}`);
    }
  }
  return problems;
}

/** `meta` key → sequence number of the stored value (NaN for a value that is not ours). */
export function seqsByKey(snapshot: DbSnapshot): Map<string, number> {
  return new Map(snapshot.meta.map((r) => [r.key, seqOf(parse(r.value))]));
}

// ---- processes ---------------------------------------------------------------------------

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
