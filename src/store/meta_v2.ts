/**
 * The MetaV2 DAO: table `meta_v2`, Kubernetes objects in an etcd-like key space
 * (spec/storage.md §5–6), and the one kind → resource table used to build its keys.
 *
 * @module
 */

import type { StatementSync } from "node:sqlite";
import type { Database } from "./db.ts";
import { goMarshal, parseJsonExact } from "../beehive/go_json.ts";
import { keyFor, parseApiVersion, parseGroupVersion, parseKey } from "./key.ts";
import { wholeText } from "./whole_text.ts";
import {
  detectShape,
  type MetaV2Statements,
  metaV2Statements,
  type SchemaShape,
} from "./schema.ts";

/** One row of `meta_v2`. */
export interface MetaV2Row {
  key: string;
  groupversionresource: string;
  namespace: string;
  name: string;
  resourceversion: number | bigint;
  value: string;
}

/** A row of `meta_v2` as stored, SQL NULL kept (see {@link MetaV2Dao.storedRows}). */
export interface StoredMetaV2Row {
  key: string;
  groupversionresource: string | null;
  namespace: string | null;
  name: string | null;
  resourceversion: number | bigint | null;
  value: string;
}

export {
  GROUP_CORE,
  gvrString,
  kindToResource,
  NULL_SEGMENT,
  parseApiVersion,
  type ParsedKey,
  parseKey,
} from "./key.ts";

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

const UINT64_MAX = 18446744073709551615n;

/**
 * metadata.resourceVersion as stored (as int64 bits, like Go): apiserver's
 * APIObjectVersioner returns `strconv.ParseUint(rv, 10, 64)` whatever its error, so an
 * unsigned decimal beyond 2^64-1 is 2^64-1 (ParseUint's value on a range error) and
 * anything else that is not an unsigned decimal is 0. A value at or above 2^63 comes out
 * negative: the SQLite driver refuses it (see UnstorableResourceVersion).
 */
export function parseResourceVersion(rv: string): number | bigint {
  if (!/^[0-9]+$/.test(rv)) return 0;
  let n = BigInt(rv);
  if (n > UINT64_MAX) n = UINT64_MAX;
  if (n <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(n);
  return BigInt.asIntN(64, n);
}

/** A Kubernetes object, as decoded from JSON. */
export type KubeObject = Record<string, unknown>;

/**
 * The meta_v2 row for an object: its key built as KeyFuncObj does, the
 * `groupversionresource`, `namespace` and `name` columns parsed back from that key as
 * ParseKey does (so a name `null` is stored empty and a `/` spills into the next segment).
 * An apiVersion that does not parse (see {@link isStorable}) counts as empty. `goJson`,
 * when given, is `goMarshal(obj)` already computed by the caller.
 */
export function rowForObject(obj: KubeObject, goJson?: string): MetaV2Row {
  const gv = parseApiVersion(str(obj.apiVersion));
  const meta = obj.metadata !== null && typeof obj.metadata === "object" &&
      !Array.isArray(obj.metadata)
    ? obj.metadata as Record<string, unknown>
    : {};
  const key = keyFor(gv.group, gv.version, str(obj.kind), str(meta.namespace), str(meta.name));
  const parsed = parseKey(key);
  return {
    key,
    groupversionresource: parsed.gvr,
    namespace: parsed.namespace,
    name: parsed.name,
    resourceversion: parseResourceVersion(str(meta.resourceVersion)),
    value: (goJson ?? goMarshal(obj)) + "\n",
  };
}

/**
 * False when the unstructured decoder refuses the object, so upstream writes no meta_v2
 * row for it: its apiVersion does not parse as a group/version (two or more `/`).
 */
export function isStorable(obj: KubeObject): boolean {
  return parseGroupVersion(str(obj.apiVersion)) !== undefined;
}

/** Parses object JSON text the way the unstructured decoder does (int64 kept exactly). */
export function decodeObject(json: string): unknown {
  return parseJsonExact(json);
}

/** A row as the schema's selects return it (src/store/schema.ts: output names). */
interface RawRow {
  // text, or bytes when the text holds a NUL (wholeColumn)
  key: string | Uint8Array;
  gvr: string | Uint8Array | null;
  namespace: string | Uint8Array | null;
  name: string | Uint8Array | null;
  rv: number | bigint | null;
  value: string | null;
}

/** A stored resourceversion as a number when exact, else as a bigint. */
export function fromStoredVersion(v: number | bigint): number | bigint {
  return typeof v === "bigint" && v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

function fromRaw(r: RawRow): MetaV2Row {
  return {
    key: wholeText(r.key) as string,
    groupversionresource: wholeText(r.gvr) ?? "",
    namespace: wholeText(r.namespace) ?? "",
    name: wholeText(r.name) ?? "",
    resourceversion: fromStoredVersion(r.rv ?? 0),
    value: r.value ?? "",
  };
}

/** Data access for table `meta_v2`. */
export class MetaV2Dao {
  #upsert: StatementSync;
  #delete: StatementSync;
  #maxRv: StatementSync;
  #select = new Map<string, StatementSync>();
  #all: StatementSync;
  #first?: StatementSync;
  #gvrs?: StatementSync;

  /** The shape of the table this DAO reads and writes (src/store/schema.ts). */
  readonly shape: SchemaShape;
  #sql: MetaV2Statements;

  /**
   * @param db an open database holding table `meta_v2` (a read-only view will do for reads)
   * @param shape its shape; read from the file when not given
   */
  constructor(
    readonly db: Pick<Database, "sqlite"> & { shape?: SchemaShape },
    shape?: SchemaShape,
  ) {
    const s = db.sqlite;
    this.shape = shape ?? db.shape ?? detectShape(s) ?? "beego";
    this.#sql = metaV2Statements(this.shape);
    this.#upsert = s.prepare(this.#sql.upsert);
    this.#delete = s.prepare(this.#sql.deleteByKey);
    this.#maxRv = s.prepare(this.#sql.maxRevision);
    this.#all = s.prepare(this.#sql.select);
    // resourceversion is a 64-bit integer: read it exactly.
    this.#maxRv.setReadBigInts(true);
    this.#all.setReadBigInts(true);
  }

  /** Inserts or replaces a row. */
  insertOrReplace(row: MetaV2Row): void {
    this.#upsert.run(
      row.key,
      row.groupversionresource,
      row.namespace,
      row.name,
      row.resourceversion,
      row.value,
    );
  }

  /** Deletes the row with `key` (no error if absent). */
  deleteByKey(key: string): void {
    this.#delete.run(key);
  }

  /** The highest resourceversion stored (the imitator's start revision), 0 when empty. */
  maxResourceVersion(): number {
    const row = this.#maxRv.get() as { rv: bigint | null } | undefined;
    return row ? Number(row.rv ?? 0) : 0;
  }

  /**
   * Rows matching (gvr, namespace, name) with KubeEdge's WHERE selection: an empty gvr
   * selects all rows; an empty namespace or name is not a condition. Scan order.
   */
  select(gvr: string, namespace: string, name: string): MetaV2Row[] {
    const where: string[] = [];
    const args: string[] = [];
    if (gvr !== "") {
      where.push(`${this.#sql.gvrExpr} = ?`);
      args.push(gvr);
      if (namespace !== "") {
        where.push("`namespace` = ?");
        args.push(namespace);
      }
      if (name !== "") {
        where.push("`name` = ?");
        args.push(name);
      }
    }
    const sql = this.#sql.select +
      (where.length ? " WHERE " + where.join(" AND ") : "");
    let st = this.#select.get(sql);
    if (!st) {
      st = this.db.sqlite.prepare(sql);
      st.setReadBigInts(true);
      this.#select.set(sql, st);
    }
    return (st.all(...args) as unknown as RawRow[]).map(fromRaw);
  }

  /**
   * The rows of `gvr` (and `namespace`, `name` when not "") whose key sorts after
   * `afterKey`, in key order (kube-apiserver's list order), read one at a time through the
   * primary key's index: a list page takes what it needs and stops.
   */
  *selectAfter(
    gvr: string,
    namespace: string,
    name: string,
    afterKey: string,
  ): Generator<MetaV2Row> {
    const where = [`${this.#sql.gvrExpr} = ?`];
    const args: string[] = [gvr];
    if (namespace !== "") {
      where.push("`namespace` = ?");
      args.push(namespace);
    }
    if (name !== "") {
      where.push("`name` = ?");
      args.push(name);
    }
    where.push("`key` > ?");
    args.push(afterKey);
    const sql = this.#sql.select + " WHERE " + where.join(" AND ") + " ORDER BY `meta_v2`.`key`";
    // a statement of its own per call: a page may stop iterating at any row
    const st = this.db.sqlite.prepare(sql);
    st.setReadBigInts(true);
    for (const r of st.iterate(...args)) yield fromRaw(r as unknown as RawRow);
  }

  /** The value of one row stored under `gvr` (the lowest key), undefined when none. */
  firstValue(gvr: string): string | undefined {
    this.#first ??= this.db.sqlite.prepare(
      `SELECT \`value\` FROM \`meta_v2\` WHERE ${this.#sql.gvrExpr} = ? ORDER BY \`key\` LIMIT 1`,
    );
    const row = this.#first.get(gvr) as { value: string | null } | undefined;
    return row ? row.value ?? "" : undefined;
  }

  /** Each `groupversionresource` stored, and whether any of its rows has a namespace. */
  storedGvrs(): { gvr: string; namespaced: boolean }[] {
    this.#gvrs ??= this.db.sqlite.prepare(
      `SELECT ${this.#sql.gvrExpr} AS gvr, MAX(\`namespace\` <> '') AS namespaced FROM \`meta_v2\` GROUP BY gvr`,
    );
    return (this.#gvrs.all() as { gvr: string | null; namespaced: number }[])
      .filter((r) => typeof r.gvr === "string")
      .map((r) => ({ gvr: r.gvr as string, namespaced: r.namespaced === 1 }));
  }

  /** Rows for a storage key (see {@link parseKey}). */
  selectByKey(key: string): MetaV2Row[] {
    const k = parseKey(key);
    return this.select(k.gvr, k.namespace, k.name);
  }

  /** Every row, in scan order. */
  all(): MetaV2Row[] {
    return (this.#all.all() as unknown as RawRow[]).map(fromRaw);
  }

  /**
   * Every row as stored in the data columns of the release that owns the shape (SQL NULL
   * kept: a migrated file's rows v1.23 never rewrote), for the dump: in key order
   * (SQLite's BINARY order: bytewise on UTF-8), read one at a time.
   */
  *storedRows(): Generator<StoredMetaV2Row> {
    const st = this.db.sqlite.prepare(this.#sql.dumpSelect + " ORDER BY `meta_v2`.`key`");
    st.setReadBigInts(true);
    for (const raw of st.iterate()) {
      const r = raw as unknown as RawRow;
      yield {
        key: wholeText(r.key) as string,
        groupversionresource: wholeText(r.gvr),
        namespace: wholeText(r.namespace),
        name: wholeText(r.name),
        resourceversion: r.rv === null ? null : fromStoredVersion(r.rv),
        value: r.value ?? "",
      };
    }
  }

  /** Every row, in scan order, one at a time (only one row's value in memory at once). */
  *rows(): Generator<MetaV2Row> {
    for (const r of this.#all.iterate()) yield fromRaw(r as unknown as RawRow);
  }
}
