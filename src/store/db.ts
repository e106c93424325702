/**
 * The SQLite database file: opening it read-write or read-only, the one DDL of tables
 * `meta` and `meta_v2` (byte-identical to KubeEdge's, spec/storage.md §2), the schema
 * check, and transactions with savepoints.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  createTables,
  detectShape,
  type KubeEdgeRelease,
  SchemaError,
  type SchemaShape,
} from "./schema.ts";

export { META_DDL, META_V2_DDL } from "./schema.ts";

/** WAL pages after which a commit checkpoints by itself (SQLite's default is 1000). */
const WAL_AUTOCHECKPOINT_PAGES = 10_000;

/** SQLite `synchronous` levels accepted in configuration. */
export type Synchronous = "OFF" | "NORMAL" | "FULL" | "EXTRA";

/** How to open a database. */
export interface OpenOptions {
  /**
   * Open without any write to the database file: no table creation, no pragma that
   * changes it. On a WAL database SQLite may still create its `-wal`/`-shm` companions;
   * to read a live node's database without touching anything use
   * `withReadOnlyDatabase` (src/inspect/open.ts), as `inspect` and `sync --dry-run` do.
   */
  readOnly?: boolean;
  /** `PRAGMA synchronous` for read-write opens (default FULL). */
  synchronous?: Synchronous;
  /** Busy timeout in milliseconds (default 5000). */
  busyTimeoutMs?: number;
  /** Journal mode for read-write opens (default WAL). */
  journalMode?: "WAL" | "DELETE";
  /**
   * With `synchronous` FULL on a WAL file: move the per-commit fsync off the JavaScript
   * thread. SQLite then runs at NORMAL (which still syncs around every checkpoint and when
   * the WAL is reused) and {@link Database.durable} fdatasyncs the `-wal` file on Deno's
   * blocking-I/O thread. Whoever commits must await `durable()` before reporting the
   * commit to anyone; then the guarantee is FULL's. Ignored in any other setting.
   */
  syncOffThread?: boolean;
  /**
   * The release whose schema a new database gets (default 1.10); an existing file keeps
   * its own shape (src/store/schema.ts).
   */
  release?: KubeEdgeRelease;
}

/** A database that cannot be used: missing, not SQLite, corrupt, or with foreign tables. */
export class DatabaseError extends Error {
  /** @param path the database file the problem is about */
  constructor(readonly path: string, message: string) {
    super(message);
    this.name = "DatabaseError";
  }
}

interface SavepointStatements {
  begin: StatementSync;
  release: StatementSync;
  rollback: StatementSync;
}

/** An open database with transaction helpers. */
export class Database {
  #depth = 0;
  /** Prepared SAVEPOINT/RELEASE/ROLLBACK TO statements, by nesting depth. */
  #savepoints: SavepointStatements[] = [];
  /** True when commits leave the WAL fsync to {@link durable}. */
  #walSyncOffThread = false;
  /** SQLite's total_changes() when {@link durable} last synced (or at open). */
  #syncedChanges = 0;
  #totalChangesStmt?: StatementSync;
  #syncError?: Error;
  /** Inode of the -wal file SQLite writes (recorded at open or at the first sync). */
  #walIno?: number | null;
  /** The -wal file, opened for fsyncs at the first {@link durable} (kept open). */
  #wal?: Deno.FsFile;
  #shape?: SchemaShape;

  private constructor(
    readonly path: string,
    readonly sqlite: DatabaseSync,
    readonly readOnly: boolean,
  ) {}

  /**
   * Opens `path` (`:memory:` for an in-memory database). Read-write opens create the
   * tables if needed and set WAL and `synchronous`; read-only opens never write.
   * @throws {DatabaseError} with one clear sentence when the file cannot be used
   */
  static open(path: string, options: OpenOptions = {}): Database {
    const readOnly = options.readOnly ?? false;
    if (readOnly && path !== ":memory:") {
      let info: Deno.FileInfo;
      try {
        info = Deno.statSync(path);
      } catch {
        throw new DatabaseError(path, `Cannot open database ${path}: no such file`);
      }
      if (!info.isFile) throw new DatabaseError(path, `Cannot open database ${path}: not a file`);
    }
    let sqlite: DatabaseSync;
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    try {
      sqlite = new DatabaseSync(path, { readOnly, timeout: busyTimeoutMs });
      // Deno 2.9's node:sqlite keeps its own 5 s for a read-only open whatever `timeout`
      // says: the pragma sets it for every open.
      sqlite.exec(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
    } catch (e) {
      throw new DatabaseError(path, `Cannot open database ${path}: ${(e as Error).message}`);
    }
    const db = new Database(path, sqlite, readOnly);
    try {
      db.#prepare(options);
    } catch (e) {
      sqlite.close();
      if (e instanceof DatabaseError) throw e;
      throw new DatabaseError(path, describeOpenFailure(path, e as Error));
    }
    return db;
  }

  #prepare(options: OpenOptions): void {
    // Reading the schema is the first access: it fails on non-SQLite and corrupt files.
    // Existing tables are checked before anything is written, so a rejected file stays as it was.
    try {
      this.#shape = detectShape(this.sqlite);
    } catch (e) {
      if (!(e instanceof SchemaError)) throw e;
      throw new DatabaseError(this.path, `Cannot use database ${this.path}: ${e.message}`);
    }
    if (this.readOnly) return;
    if (this.path !== ":memory:") {
      this.sqlite.exec(`PRAGMA journal_mode = ${options.journalMode ?? "WAL"}`);
    }
    const synchronous = options.synchronous ?? "FULL";
    this.#walSyncOffThread = options.syncOffThread === true && synchronous === "FULL" &&
      this.path !== ":memory:" && this.journalMode().toLowerCase() === "wal";
    this.sqlite.exec(`PRAGMA synchronous = ${this.#walSyncOffThread ? "NORMAL" : synchronous}`);
    // Savepoints and row replacement use temp storage: keep it in memory (no file I/O).
    this.sqlite.exec("PRAGMA temp_store = MEMORY");
    // Checkpoint rarely on commit; serve checkpoints in a background worker (checkpointer.ts).
    this.sqlite.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    this.#shape = createTables(this.sqlite, options.release ?? "1.10", this.#shape);
    // Opening is not a commit anyone waits for: durable() counts changes from here.
    if (this.#walSyncOffThread) {
      this.#syncedChanges = this.totalChanges();
      try {
        this.#walIno = Deno.statSync(`${this.path}-wal`).ino;
      } catch { /* created by the first write: recorded at the first sync */ }
    }
  }

  /**
   * The shape of `meta_v2` (src/store/schema.ts): read from the file, or the one created
   * at open; undefined for a read-only file without `meta_v2`.
   */
  get shape(): SchemaShape | undefined {
    return this.#shape;
  }

  /** Names of the tables in the file, sorted. */
  tables(): string[] {
    const rows = this.sqlite.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    ).all() as { name: string }[];
    return rows.map((r) => r.name);
  }

  /** True while a transaction is open. */
  get inTransaction(): boolean {
    return this.#depth > 0;
  }

  /**
   * Runs `fn` atomically: in a new transaction (BEGIN IMMEDIATE ... COMMIT), or in a
   * savepoint when a transaction is already open. If `fn` throws, its writes are rolled
   * back and the error is rethrown.
   */
  transaction<T>(fn: () => T): T {
    if (this.#depth === 0) {
      this.sqlite.exec("BEGIN IMMEDIATE");
      this.#depth = 1;
      try {
        const result = fn();
        this.sqlite.exec("COMMIT");
        return result;
      } catch (e) {
        if (this.sqlite.isTransaction) this.sqlite.exec("ROLLBACK");
        throw e;
      } finally {
        this.#depth = 0;
      }
    }
    // One name per nesting depth, so the statements are prepared once (a savepoint per
    // message is the hot path of a batch).
    const sp = this.#savepointStatements(this.#depth);
    sp.begin.run();
    this.#depth++;
    try {
      const result = fn();
      sp.release.run();
      return result;
    } catch (e) {
      if (this.sqlite.isTransaction) {
        sp.rollback.run();
        sp.release.run();
      }
      throw e;
    } finally {
      this.#depth--;
    }
  }

  #savepointStatements(depth: number): SavepointStatements {
    let sp = this.#savepoints[depth];
    if (sp === undefined) {
      const name = `sp${depth}`;
      sp = {
        begin: this.sqlite.prepare(`SAVEPOINT ${name}`),
        release: this.sqlite.prepare(`RELEASE ${name}`),
        rollback: this.sqlite.prepare(`ROLLBACK TO ${name}`),
      };
      this.#savepoints[depth] = sp;
    }
    return sp;
  }

  /**
   * Opens a transaction that stays open across awaits (for long runs such as replay);
   * {@link transaction} calls inside it become savepoints. Pair with {@link commit}.
   */
  begin(): void {
    if (this.#depth !== 0) throw new Error("Cannot begin a transaction: one is already open");
    this.sqlite.exec("BEGIN IMMEDIATE");
    this.#depth = 1;
  }

  /** Commits the transaction opened by {@link begin}. */
  commit(): void {
    if (this.#depth !== 1) throw new Error("Cannot commit: no transaction opened by begin()");
    this.sqlite.exec("COMMIT");
    this.#depth = 0;
  }

  /** True when COMMIT leaves the WAL fsync to {@link durable} (see `syncOffThread`). */
  get syncsOffThread(): boolean {
    return this.#walSyncOffThread;
  }

  /**
   * Resolves once every commit made so far is on disk. With `syncOffThread` this
   * fdatasyncs the `-wal` file without blocking the JavaScript thread (several calls may
   * run at once); otherwise SQLite has already synced inside COMMIT and this resolves at
   * once. After one failed fsync every later call fails too: the kernel may have dropped
   * the unwritten pages, and a later fsync succeeding would not bring them back (a hole in
   * the WAL also voids the frames after it), so no later commit may be reported durable.
   * @throws when the fsync fails, now or earlier (do not report these commits)
   */
  async durable(): Promise<void> {
    if (!this.#walSyncOffThread) return;
    if (this.#syncError !== undefined) throw this.#syncError;
    // Nothing written since the last successful sync (e.g. a batch of queries): no fsync.
    const changes = this.totalChanges();
    if (changes <= this.#syncedChanges) return;
    try {
      // Only the fsync leaves the thread: the rest is a few quick system calls, cheaper
      // done here than as asynchronous operations.
      const path = `${this.path}-wal`;
      if (this.#wal === undefined) {
        this.#wal = Deno.openSync(path, { read: true });
        this.#walIno ??= this.#wal.statSync().ino;
      }
      // The file SQLite writes is the one it opened; a -wal replaced behind its back
      // (removed, renamed) is not it, and syncing the one open here would prove nothing.
      if (Deno.statSync(path).ino !== this.#walIno) {
        throw new Error("the -wal file was replaced or removed");
      }
      await this.#wal.syncData();
    } catch (e) {
      this.#syncError ??= new Error(
        `Cannot make commits to ${this.path} durable: fsync of its WAL failed: ${
          (e as Error).message
        }`,
      );
      throw this.#syncError;
    }
    if (changes > this.#syncedChanges) this.#syncedChanges = changes;
  }

  /** The failure of an earlier {@link durable}, after which no commit is reported durable. */
  get syncError(): Error | undefined {
    return this.#syncError;
  }

  /** Rows inserted, updated or deleted through this connection since it opened. */
  totalChanges(): number {
    this.#totalChangesStmt ??= this.sqlite.prepare("SELECT total_changes() AS n");
    return (this.#totalChangesStmt.get() as { n: number }).n;
  }

  /** Rolls back the transaction opened by {@link begin}, if any. */
  rollback(): void {
    if (this.sqlite.isTransaction) this.sqlite.exec("ROLLBACK");
    this.#depth = 0;
  }

  /**
   * Copies committed WAL pages into the database file without blocking writers or readers
   * (PASSIVE), so that commits on the acknowledgement path rarely have to. No-op outside WAL.
   */
  checkpoint(): void {
    if (!this.readOnly && this.#depth === 0) this.sqlite.exec("PRAGMA wal_checkpoint(PASSIVE)");
  }

  /** `PRAGMA journal_mode` as SQLite reports it (reading it changes nothing). */
  journalMode(): string {
    const row = this.sqlite.prepare("PRAGMA journal_mode").get() as { journal_mode: string };
    return row.journal_mode;
  }

  /** Closes the file. */
  close(): void {
    if (this.sqlite.isOpen) this.sqlite.close();
    try {
      this.#wal?.close();
    } catch { /* closed */ }
    this.#wal = undefined;
  }
}

/**
 * True for SQLite's SQLITE_BUSY or SQLITE_LOCKED (another connection holds a lock on the
 * database; reported once the busy timeout has passed).
 */
export function isBusyError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { errcode?: unknown }).errcode;
  if (typeof code === "number") return (code & 0xff) === 5 || (code & 0xff) === 6;
  return /database (?:table )?is (?:locked|busy)/i.test(e.message);
}

/** What a busy database says: `another process is writing X (is edgecore running?)`. */
export function busyText(path: string): string {
  return `another process is writing ${path} (is edgecore running?)`;
}

/**
 * `action` failed on the database at `path`: a DatabaseError that names the path, with
 * {@link busyText} when another process held a lock, else SQLite's own words.
 */
export function databaseFailure(path: string, action: string, e: unknown): DatabaseError {
  if (e instanceof DatabaseError) return e;
  const cause = isBusyError(e) ? busyText(path) : e instanceof Error ? e.message : String(e);
  return new DatabaseError(path, `Cannot ${action} ${path}: ${cause}`);
}

function describeOpenFailure(path: string, e: Error): string {
  if (isBusyError(e)) return `Cannot open database ${path}: ${busyText(path)}`;
  const msg = e.message;
  if (/file is not a database/i.test(msg)) {
    return `Cannot open database ${path}: the file is not an SQLite database`;
  }
  if (/malformed|corrupt/i.test(msg)) {
    return `Cannot open database ${path}: the database file is corrupt (${msg})`;
  }
  return `Cannot open database ${path}: ${msg}`;
}
