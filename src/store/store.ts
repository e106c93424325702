/**
 * The edge store: one database with the Meta and MetaV2 DAOs.
 *
 * @module
 */

import { Database, DatabaseError, type OpenOptions } from "./db.ts";
import { MetaDao } from "./meta.ts";
import { MetaV2Dao } from "./meta_v2.ts";
import { chooseRelease, type KubeEdgeRelease, releaseOfShape } from "./schema.ts";

/** An open store. */
export class Store {
  /** Table `meta`. */
  readonly meta: MetaDao;
  /** Table `meta_v2`. */
  readonly metaV2: MetaV2Dao;

  private constructor(
    readonly db: Database,
    /**
     * The KubeEdge release this run is compatible with: the one asked for at open, else the
     * one whose schema the file has (1.10 for a file that had none).
     */
    readonly release: KubeEdgeRelease,
  ) {
    this.meta = new MetaDao(db);
    this.metaV2 = new MetaV2Dao(db);
  }

  /**
   * Opens the store at `path` (`:memory:` for a throw-away one). `options.release` is the
   * configured release (undefined: detect it from the file); a new database gets its
   * schema, an existing one keeps its own (src/store/schema.ts).
   * @throws {import("./db.ts").DatabaseError} when the file cannot be used
   */
  static open(path: string, options: OpenOptions = {}): Store {
    const db = Database.open(path, options);
    const missing = ["meta", "meta_v2"].filter((t) => !db.tables().includes(t));
    if (missing.length > 0) {
      db.close();
      throw new DatabaseError(
        path,
        `Cannot use database ${path}: it has no ${missing.join(" or ")} table ` +
          `(not an edgecore database, or MetaManager never ran on it)`,
      );
    }
    try {
      return new Store(db, chooseRelease(options.release, db.shape));
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /**
   * The release whose schema the database at `path` has, without writing to it; undefined
   * when the file does not exist or has no `meta_v2` table. `busyTimeoutMs`: how long to
   * wait for another process's lock (default 5 s).
   * @throws {import("./db.ts").DatabaseError} when the file exists but cannot be used
   */
  static releaseOf(
    path: string,
    options: { busyTimeoutMs?: number } = {},
  ): KubeEdgeRelease | undefined {
    if (path === ":memory:") return undefined;
    try {
      Deno.statSync(path);
    } catch {
      return undefined;
    }
    const db = Database.open(path, { readOnly: true, busyTimeoutMs: options.busyTimeoutMs });
    try {
      return db.shape === undefined ? undefined : releaseOfShape(db.shape);
    } finally {
      db.close();
    }
  }

  /** Runs `fn` atomically (transaction, or savepoint when nested). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn);
  }

  /** Closes the database. */
  close(): void {
    this.db.close();
  }
}
