/**
 * The edge store: one database with the Meta and MetaV2 DAOs.
 *
 * @module
 */

import { Database, DatabaseError, type OpenOptions } from "./db.ts";
import { MetaDao } from "./meta.ts";
import { MetaV2Dao } from "./meta_v2.ts";

/** An open store. */
export class Store {
  /** Table `meta`. */
  readonly meta: MetaDao;
  /** Table `meta_v2`. */
  readonly metaV2: MetaV2Dao;

  private constructor(readonly db: Database) {
    this.meta = new MetaDao(db);
    this.metaV2 = new MetaV2Dao(db);
  }

  /**
   * Opens the store at `path` (`:memory:` for a throw-away one).
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
      return new Store(db);
    } catch (e) {
      db.close();
      throw e;
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
