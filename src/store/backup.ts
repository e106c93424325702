/**
 * A consistent copy of a database another process may be writing: SQLite's `VACUUM
 * INTO` from a read-only connection, which reads one snapshot (one read transaction) and
 * writes a compacted, self-contained file (no -wal needed) that every committed
 * transaction up to the snapshot is in.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { DatabaseError } from "./db.ts";

/**
 * Copies `source` to `dest` (which must not exist).
 * @throws {DatabaseError} naming the file that failed
 */
export function backupDatabase(source: string, dest: string): { bytes: number } {
  try {
    Deno.statSync(dest);
    throw new DatabaseError(dest, `Cannot back up to ${dest}: the file exists (remove it first)`);
  } catch (e) {
    if (e instanceof DatabaseError) throw e;
  }
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(source);
  } catch {
    throw new DatabaseError(source, `Cannot back up ${source}: no such file`);
  }
  if (!info.isFile) throw new DatabaseError(source, `Cannot back up ${source}: not a file`);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(source, { readOnly: true, timeout: 5000 });
  } catch (e) {
    throw new DatabaseError(source, `Cannot open database ${source}: ${(e as Error).message}`);
  }
  try {
    db.prepare("VACUUM INTO ?").run(dest);
  } catch (e) {
    try {
      Deno.removeSync(dest);
    } catch {
      // nothing was written
    }
    throw new DatabaseError(
      source,
      `Cannot back up ${source} to ${dest}: ${(e as Error).message.split("\n")[0]}`,
    );
  } finally {
    db.close();
  }
  return { bytes: Deno.statSync(dest).size };
}
