/**
 * Opening a database file for inspection without ever writing to it: not the file, not
 * its `-wal`, `-shm` or `-journal`, and without creating any of them, even while
 * another process has the database open for writing.
 *
 * SQLite's plain read-only open (`SQLITE_OPEN_READONLY`, what `Database.open(path,
 * { readOnly: true })` does) is not enough for WAL databases: it creates `-wal` and
 * `-shm` when they are missing, and it writes to an existing `-shm` (wal-index recovery,
 * read marks). So the way of opening is chosen from the file's header and the files
 * beside it (measured with the SQLite 3.53 of node:sqlite in Deno 2.9):
 *
 * - rollback journal (header bytes 18/19 = 1): URI `mode=ro`, shared locks only;
 * - WAL with `-wal` and `-shm`: `mode=ro&readonly_shm=1`, the `-shm` is opened read-only;
 *   when no writer keeps the index trustworthy SQLite reads the WAL into private memory;
 * - WAL without `-wal` (closed cleanly): `immutable=1`, so nothing is locked or created;
 *   afterwards the file and the absence of `-wal` are checked, and it is read again if a
 *   writer came meanwhile;
 * - WAL with `-wal` but no `-shm`, or a hot `-journal` left by a crashed writer (which a
 *   read-only connection may not roll back): a private copy in a temporary directory,
 *   recovered there; the copy is checked against changes of the originals.
 *
 * All reads of one run happen in one read transaction (a consistent snapshot), and the
 * integrity of the file is checked (`PRAGMA quick_check`) before anything is read.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { pathToFileURL } from "node:url";
import { DatabaseError } from "../store/db.ts";

/** How the file was read. */
export type ReadMethod =
  | "rollback (read-only, shared lock)"
  | "wal (read-only, -shm not written)"
  | "wal, no -wal file (immutable snapshot)"
  | "private copy (recovered outside the original)";

/** What is known about the file and its companions. */
export interface FileFacts {
  /** The path as given. */
  path: string;
  /** Size of the database file in bytes. */
  size: number;
  /** True when the header says WAL (file format versions 2). */
  wal: boolean;
  /** Sizes of the companion files, null when absent. */
  walFile: number | null;
  shmFile: number | null;
  journalFile: number | null;
}

/** A database opened for inspection, inside a read transaction. */
export interface ReadOnlyDb {
  readonly path: string;
  readonly sqlite: DatabaseSync;
  readonly method: ReadMethod;
  readonly facts: FileFacts;
}

/** Options of {@link withReadOnlyDatabase}. */
export interface ReadOnlyOptions {
  /** Busy timeout in milliseconds (default 5000). */
  busyTimeoutMs?: number;
}

const MAGIC = "SQLite format 3\0";
const HEADER_BYTES = 100;
/** Attempts when the file changes while being read. */
const ATTEMPTS = 5;

/** SQLite's SQLITE_READONLY_ROLLBACK: a hot journal that a read-only connection cannot roll back. */
const SQLITE_READONLY_ROLLBACK = 776;

interface Stamp {
  exists: boolean;
  size: number;
  mtime: number;
  ino: number | null;
}

function stamp(path: string): Stamp {
  try {
    const info = Deno.statSync(path);
    return {
      exists: true,
      size: info.size,
      mtime: info.mtime?.getTime() ?? 0,
      ino: info.ino,
    };
  } catch {
    return { exists: false, size: 0, mtime: 0, ino: null };
  }
}

function sameStamp(a: Stamp, b: Stamp): boolean {
  return a.exists === b.exists && a.size === b.size && a.mtime === b.mtime && a.ino === b.ino;
}

function readHeader(path: string): Uint8Array {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (e) {
    throw new DatabaseError(path, `Cannot open database ${path}: ${describeFsError(e)}`);
  }
  try {
    const buf = new Uint8Array(HEADER_BYTES);
    let n = 0;
    while (n < HEADER_BYTES) {
      const r = file.readSync(buf.subarray(n));
      if (r === null || r === 0) break;
      n += r;
    }
    return buf.subarray(0, n);
  } catch (e) {
    throw new DatabaseError(path, `Cannot read database ${path}: ${describeFsError(e)}`);
  } finally {
    file.close();
  }
}

function describeFsError(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such file";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.IsADirectory) return "is a directory, not a file";
  return firstLine((e as Error).message ?? String(e));
}

function firstLine(s: string): string {
  return s.split("\n")[0];
}

/** Checks the file exists, is a regular file and starts with the SQLite header. */
function checkFile(path: string): { header: Uint8Array; size: number } {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    throw new DatabaseError(path, `Cannot open database ${path}: ${describeFsError(e)}`);
  }
  if (info.isDirectory) {
    throw new DatabaseError(path, `Cannot open database ${path}: is a directory, not a file`);
  }
  if (!info.isFile) throw new DatabaseError(path, `Cannot open database ${path}: not a file`);
  if (info.size === 0) {
    throw new DatabaseError(
      path,
      `Cannot open database ${path}: the file is empty (0 bytes), not an SQLite database`,
    );
  }
  const header = readHeader(path);
  const magic = new TextDecoder("latin1").decode(header.subarray(0, MAGIC.length));
  if (header.length < HEADER_BYTES && MAGIC.startsWith(magic)) {
    throw new DatabaseError(
      path,
      `Cannot open database ${path}: the file is truncated (${header.length} bytes, shorter ` +
        `than the ${HEADER_BYTES}-byte SQLite header)`,
    );
  }
  if (header.length < HEADER_BYTES || magic !== MAGIC) {
    throw new DatabaseError(
      path,
      `Cannot open database ${path}: the file is not an SQLite database`,
    );
  }
  return { header, size: info.size };
}

/** Page size and page count promised by a header, when the header says so reliably. */
function headerGeometry(header: Uint8Array): { pageSize: number; pages: number } | null {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const raw = view.getUint16(16);
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) return null;
  const pages = view.getUint32(28);
  const changeCounter = view.getUint32(24);
  const validFor = view.getUint32(92);
  if (pages === 0 || changeCounter !== validFor) return null;
  return { pageSize, pages };
}

/** SQLite URI of `path` with query parameters (the path percent-encoded). */
function sqliteUri(path: string, params: string): string {
  return `${pathToFileURL(path).href}?${params}`;
}

/** One clear sentence for an SQLite failure while reading `path`. */
export function describeSqliteFailure(path: string, e: unknown, header?: Uint8Array): string {
  const msg = firstLine((e as Error)?.message ?? String(e));
  const errcode = (e as { errcode?: number })?.errcode;
  if (/file is not a database/i.test(msg)) {
    return `Cannot open database ${path}: the file is not an SQLite database`;
  }
  if (/malformed|corrupt/i.test(msg)) {
    const truncated = header ? truncation(path, header) : null;
    if (truncated) return truncated;
    return `Cannot read database ${path}: the database file is corrupt (${msg})`;
  }
  if (/database is locked|busy/i.test(msg)) {
    return `Cannot read database ${path}: ${msg} (a writer held its lock past the busy ` +
      `timeout; try again)`;
  }
  if (errcode === SQLITE_READONLY_ROLLBACK) {
    return `Cannot read database ${path}: it has a hot journal that needs a rollback`;
  }
  return `Cannot read database ${path}: ${msg}`;
}

/** A sentence when the file is shorter than its header says, else null. */
function truncation(path: string, header: Uint8Array): string | null {
  const geometry = headerGeometry(header);
  const size = stamp(path).size;
  if (geometry === null) return null;
  const expected = geometry.pageSize * geometry.pages;
  if (size >= expected && size % geometry.pageSize === 0) return null;
  return `Cannot read database ${path}: the file is truncated (${size} bytes; its header ` +
    `describes ${geometry.pages} pages of ${geometry.pageSize} bytes = ${expected} bytes)`;
}

/** Raised inside an attempt when the file changed under an unlocked read. */
class Changed extends Error {}

/** Raised when a read-only connection met a hot journal it may not roll back. */
class HotJournal extends Error {}

interface Plan {
  /** The file's real path (symbolic links resolved, as SQLite does for -wal and -shm). */
  real: string;
  method: ReadMethod;
  facts: FileFacts;
  header: Uint8Array;
}

function plan(path: string): Plan {
  const { header, size } = checkFile(path);
  let real: string;
  try {
    real = Deno.realPathSync(path);
  } catch (e) {
    throw new DatabaseError(path, `Cannot open database ${path}: ${describeFsError(e)}`);
  }
  const wal = header[18] === 2 || header[19] === 2;
  const walStamp = stamp(`${real}-wal`);
  const shmStamp = stamp(`${real}-shm`);
  const journalStamp = stamp(`${real}-journal`);
  const facts: FileFacts = {
    path,
    size,
    wal,
    walFile: walStamp.exists ? walStamp.size : null,
    shmFile: shmStamp.exists ? shmStamp.size : null,
    journalFile: journalStamp.exists ? journalStamp.size : null,
  };
  let method: ReadMethod;
  if (!wal) method = "rollback (read-only, shared lock)";
  else if (!walStamp.exists) method = "wal, no -wal file (immutable snapshot)";
  else if (shmStamp.exists) method = "wal (read-only, -shm not written)";
  else method = "private copy (recovered outside the original)";
  return { real, method, facts, header };
}

/** Copies the database and the named companions into a new temporary directory. */
function privateCopy(
  path: string,
  real: string,
  companions: string[],
): { dir: string; copy: string } {
  const dir = Deno.makeTempDirSync({ prefix: "edgecore-meta-inspect-" });
  const copy = `${dir}/db`;
  try {
    Deno.copyFileSync(real, copy);
    for (const suffix of companions) {
      if (stamp(real + suffix).exists) Deno.copyFileSync(real + suffix, copy + suffix);
    }
  } catch (e) {
    Deno.removeSync(dir, { recursive: true });
    throw new DatabaseError(path, `Cannot copy database ${path}: ${describeFsError(e)}`);
  }
  return { dir, copy };
}

/**
 * Opens `path` without writing anything (see the module documentation), runs `fn` in a
 * read transaction, and closes it. `fn` must read everything it needs: the transaction
 * ends when it returns. Retries when the file changed during an unlocked read.
 * @throws {DatabaseError} one sentence naming the path: missing, not SQLite, truncated,
 *   corrupt, locked
 */
export function withReadOnlyDatabase<T>(
  path: string,
  fn: (db: ReadOnlyDb) => T,
  options: ReadOnlyOptions = {},
): T {
  const ctx: Context<T> = {
    path,
    fn,
    timeout: options.busyTimeoutMs ?? 5000,
  };
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    const p = plan(path);
    try {
      return readOnce(ctx, p);
    } catch (e) {
      if (e instanceof Changed) continue;
      if (!(e instanceof HotJournal)) throw e;
    }
    // A hot journal left by a crashed writer: roll it back in a private copy, never in
    // the original (a read-only connection may not, and must not).
    try {
      return viaCopy(ctx, { ...p, method: "private copy (recovered outside the original)" }, [
        "-journal",
      ]);
    } catch (e) {
      if (!(e instanceof Changed)) throw e;
    }
  }
  throw new DatabaseError(
    path,
    `Cannot read database ${path}: it kept changing while being read (${ATTEMPTS} attempts)`,
  );
}

interface Context<T> {
  path: string;
  fn: (db: ReadOnlyDb) => T;
  timeout: number;
}

function readOnce<T>(ctx: Context<T>, p: Plan): T {
  const path = p.real;
  switch (p.method) {
    case "rollback (read-only, shared lock)":
      return run(ctx, p, () =>
        new DatabaseSync(sqliteUri(path, "mode=ro"), {
          readOnly: true,
          timeout: ctx.timeout,
        }));
    case "wal (read-only, -shm not written)":
      return run(ctx, p, () =>
        new DatabaseSync(sqliteUri(path, "mode=ro&readonly_shm=1"), {
          readOnly: true,
          timeout: ctx.timeout,
        }));
    case "wal, no -wal file (immutable snapshot)": {
      // Nothing to lock against: read, then make sure no writer appeared meanwhile.
      const watched = [path, `${path}-wal`];
      const before = watched.map(stamp);
      return run(
        ctx,
        p,
        () =>
          new DatabaseSync(sqliteUri(path, "mode=ro&immutable=1"), {
            readOnly: true,
            timeout: ctx.timeout,
          }),
        () => {
          const after = watched.map(stamp);
          return !after[1].exists && before.every((s, i) => sameStamp(s, after[i]));
        },
      );
    }
    case "private copy (recovered outside the original)":
      return viaCopy(ctx, p, ["-wal"]);
  }
}

function viaCopy<T>(ctx: Context<T>, p: Plan, companions: string[]): T {
  const path = p.real;
  const watched = [path, `${path}-wal`, `${path}-shm`, `${path}-journal`];
  const before = watched.map(stamp);
  const { dir, copy } = privateCopy(ctx.path, path, companions);
  try {
    const after = watched.map(stamp);
    if (!before.every((s, i) => sameStamp(s, after[i]))) throw new Changed();
    return run(ctx, p, () => {
      // Read-write so that SQLite can recover the copy; the original is not opened.
      const sqlite = new DatabaseSync(copy, { readOnly: false, timeout: ctx.timeout });
      sqlite.exec("PRAGMA query_only = ON");
      return sqlite;
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/**
 * Opens with `open`, runs the check and `ctx.fn` in one read transaction, closes.
 * `unchanged` (for unlocked reads) is asked after reading and after any failure.
 */
function run<T>(ctx: Context<T>, p: Plan, open: () => DatabaseSync, unchanged?: () => boolean): T {
  const path = ctx.path;
  let sqlite: DatabaseSync;
  try {
    sqlite = open();
  } catch (e) {
    throw new DatabaseError(path, describeSqliteFailure(path, e, p.header));
  }
  try {
    let result: T;
    try {
      sqlite.exec("BEGIN");
      quickCheck(path, sqlite, p.header);
      result = ctx.fn({ path, sqlite, method: p.method, facts: p.facts });
    } catch (e) {
      if (unchanged && !unchanged()) throw new Changed();
      if ((e as { errcode?: number })?.errcode === SQLITE_READONLY_ROLLBACK) throw new HotJournal();
      if (e instanceof DatabaseError || !isSqliteError(e)) throw e;
      throw new DatabaseError(path, describeSqliteFailure(path, e, p.header));
    } finally {
      try {
        if (sqlite.isTransaction) sqlite.exec("COMMIT");
      } catch {
        // A read transaction has nothing to keep; closing ends it.
      }
    }
    if (unchanged && !unchanged()) throw new Changed();
    return result;
  } finally {
    if (sqlite.isOpen) sqlite.close();
  }
}

function isSqliteError(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return typeof code === "string" && code.startsWith("ERR_SQLITE");
}

function quickCheck(path: string, sqlite: DatabaseSync, header: Uint8Array): void {
  const rows = sqlite.prepare("PRAGMA quick_check(1)").all() as { quick_check: string }[];
  const first = rows[0]?.quick_check ?? "no answer";
  if (first === "ok") return;
  const truncated = truncation(path, header);
  if (truncated) throw new DatabaseError(path, truncated);
  // quick_check prefixes "*** in database main ***" and may use several lines.
  const detail = first.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("***"))
    .join("; ");
  throw new DatabaseError(
    path,
    `Cannot read database ${path}: the database file is corrupt (quick_check: ${detail})`,
  );
}
