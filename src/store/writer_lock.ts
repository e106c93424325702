/**
 * One writer per database file: serve and `sync --db` hold an exclusive OS file lock
 * (flock(2) on the database file itself, released by the kernel when the process dies) for
 * as long as they write. SQLite's own locks are POSIX record locks, independent of flock on
 * Linux, so this lock never blocks SQLite, a reader (`inspect`, `sync --dry-run`) or a real
 * edgecore; it only makes a second edgecore-meta writer refuse at once.
 *
 * @module
 */

import { DatabaseError } from "./db.ts";

/** A held writer lock; {@link release} it when the writes are over. */
export interface WriterLock {
  /** Releases the lock (idempotent). */
  release(): void;
}

/**
 * The process holding a flock on the file with inode `ino` (from `/proc/locks`), if any.
 * Returns its pid and command line, or undefined when no other process holds one.
 */
function flockHolder(ino: number): { pid: number; command: string } | undefined {
  let locks: string;
  try {
    locks = Deno.readTextFileSync("/proc/locks");
  } catch {
    return undefined; // not Linux, or /proc not mounted: the lock attempt below decides
  }
  for (const line of locks.split("\n")) {
    // "1: FLOCK  ADVISORY  WRITE 12345 fd:01:67890 0 EOF"
    const f = line.trim().split(/\s+/);
    if (f[1] !== "FLOCK" || f[3] !== "WRITE") continue;
    const pid = Number(f[4]);
    const lockedIno = Number(f[5]?.split(":")[2]);
    if (lockedIno !== ino || pid === Deno.pid) continue;
    let command = "";
    try {
      command = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").filter(Boolean)
        .join(" ");
    } catch { /* gone meanwhile */ }
    return { pid, command };
  }
  return undefined;
}

/** "serve" or "sync" from another edgecore-meta's command line. */
function describeHolder(command: string): string {
  const sub = ["serve", "sync", "backup", "edit"].find((s) => command.split(" ").includes(s));
  return sub ? `edgecore-meta ${sub}` : "another edgecore-meta";
}

/**
 * Takes the writer lock of the database file `path` (which must exist).
 * @throws {DatabaseError} `Database X is in use by edgecore-meta serve (pid N)` when another
 *   process holds it, or naming the path and the OS cause when the file cannot be opened
 */
export function acquireWriterLock(path: string): WriterLock {
  if (path === ":memory:") return { release() {} };
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (e) {
    throw new DatabaseError(path, `Cannot lock database ${path}: ${(e as Error).message}`);
  }
  const ino = file.statSync().ino;
  const holder = ino === null ? undefined : flockHolder(ino);
  if (holder) {
    file.close();
    throw new DatabaseError(
      path,
      `Database ${path} is in use by ${describeHolder(holder.command)} (pid ${holder.pid})`,
    );
  }
  try {
    file.lockSync(true);
  } catch (e) {
    file.close();
    throw new DatabaseError(path, `Cannot lock database ${path}: ${(e as Error).message}`);
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}
