/**
 * serve's claim on its database file: the database belongs to whoever named it.
 *
 * - A missing database is created only at the embedded default path or when asked
 *   (`--create`); a missing directory is an error naming it, never `mkdir -p` of a typo.
 * - The writer lock (src/store/writer_lock.ts) is taken before SQLite writes anything.
 * - A file that KubeEdge left in rollback-journal mode is switched to WAL only while serve
 *   runs and put back on a clean stop, so a real edgecore finds it as it left it.
 *
 * @module
 */

import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { DEFAULT_DB_PATH } from "../config/config.ts";
import { DatabaseError } from "../store/db.ts";
import { acquireWriterLock, type WriterLock } from "../store/writer_lock.ts";

/** What serve found and holds of its database file. */
export interface DatabaseClaim {
  /** True when the file did not exist and serve creates it. */
  readonly created: boolean;
  /** True when the file was in rollback-journal mode and is restored to it on release. */
  readonly restoreRollbackJournal: boolean;
  /** Takes the writer lock; call once the file exists (after SQLite opened it). */
  lock(): void;
  /**
   * After the store is closed: restores the journal mode if needed (which also folds the
   * WAL into the file) and releases the lock. Idempotent. `restore: false` (the store was
   * never opened) only releases the lock.
   */
  release(options?: { restore?: boolean }): void;
}

/** True when `path` names a directory entry that exists. */
function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw new DatabaseError(path, `Cannot use database ${path}: ${(e as Error).message}`);
  }
}

/**
 * True when an SQLite file's header records rollback-journal mode (bytes 18-19: 1 =
 * rollback journal, 2 = WAL), read without opening it through SQLite (which could change it).
 */
export function isRollbackJournalFile(path: string): boolean {
  let file: Deno.FsFile | undefined;
  try {
    file = Deno.openSync(path, { read: true });
    const header = new Uint8Array(20);
    const n = file.readSync(header) ?? 0;
    return n === 20 && header[18] === 1 && header[19] === 1;
  } catch {
    return false; // unreadable: Database.open reports it with the cause
  } finally {
    file?.close();
  }
}

/**
 * Checks the database path before anything is written.
 * @param path `database.dataSource`
 * @param create true when `--create` was given
 * @throws {DatabaseError} for a missing file or directory that serve may not create
 */
export function claimDatabase(path: string, create: boolean): DatabaseClaim {
  if (path === ":memory:") {
    return { created: true, restoreRollbackJournal: false, lock() {}, release() {} };
  }
  const created = !exists(path);
  if (created) {
    const dir = dirname(path);
    const mayCreate = create || path === DEFAULT_DB_PATH;
    if (!mayCreate) {
      throw new DatabaseError(
        path,
        exists(dir)
          ? `Database ${path} does not exist (pass --create to start a new, empty node store)`
          : `Cannot open database ${path}: directory ${dir} does not exist ` +
            `(pass --create to create it and a new, empty node store)`,
      );
    }
    try {
      Deno.mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new DatabaseError(path, `Cannot create directory ${dir}: ${(e as Error).message}`);
    }
  }
  const restoreRollbackJournal = !created && isRollbackJournalFile(path);
  let lock: WriterLock | undefined;
  let released = false;
  return {
    created,
    restoreRollbackJournal,
    lock() {
      lock ??= acquireWriterLock(path);
    },
    release({ restore = true } = {}) {
      if (released) return;
      released = true;
      try {
        if (restoreRollbackJournal && restore) {
          const db = new DatabaseSync(path);
          try {
            db.exec("PRAGMA journal_mode = DELETE"); // checkpoints the WAL and removes it
          } finally {
            db.close();
          }
        }
      } finally {
        lock?.release();
      }
    },
  };
}
