/**
 * The worker behind {@link import("./checkpointer.ts").Checkpointer}: its own connection
 * to the database file, on which it runs PASSIVE checkpoints when asked. A checkpoint
 * never blocks the writer on the other connection; with `synchronous = FULL` it fsyncs the
 * WAL before copying pages into the database file and the database file afterwards, so a
 * WAL that SQLite later reuses never holds the only copy of a committed page.
 *
 * Protocol (structured-clone messages): in `{ op: "open", path }`, `{ op: "checkpoint" }`,
 * `{ op: "close" }`; out `{ op: "opened" }`, `{ op: "done", log, checkpointed, busy }`,
 * `{ op: "closed" }`, `{ op: "error", message }`.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";

/** A request to the worker. */
export type CheckpointRequest =
  | { op: "open"; path: string }
  | { op: "checkpoint" }
  | { op: "close" };

/** A reply of the worker. */
export type CheckpointReply =
  | { op: "opened" }
  | { op: "done"; busy: number; log: number; checkpointed: number }
  | { op: "closed" }
  | { op: "error"; message: string };

interface WorkerScope {
  onmessage: ((e: MessageEvent<CheckpointRequest>) => void) | null;
  postMessage(reply: CheckpointReply): void;
  close(): void;
}

const scope = self as unknown as WorkerScope;
let db: DatabaseSync | undefined;
let checkpoint: StatementSync | undefined;

function handle(req: CheckpointRequest): CheckpointReply {
  switch (req.op) {
    case "open":
      db = new DatabaseSync(req.path, { timeout: 0 });
      db.exec("PRAGMA synchronous = FULL");
      checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
      return { op: "opened" };
    case "checkpoint": {
      if (checkpoint === undefined) {
        throw new Error("Cannot checkpoint: the database is not open");
      }
      const r = checkpoint.get() as {
        busy: number;
        log: number;
        checkpointed: number;
      };
      return { op: "done", busy: r.busy, log: r.log, checkpointed: r.checkpointed };
    }
    case "close":
      db?.close();
      db = undefined;
      checkpoint = undefined;
      return { op: "closed" };
  }
}

scope.onmessage = (e) => {
  let reply: CheckpointReply;
  try {
    reply = handle(e.data);
  } catch (err) {
    reply = { op: "error", message: (err as Error).message };
  }
  scope.postMessage(reply);
  if (e.data.op === "close") scope.close();
};
