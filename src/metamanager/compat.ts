/**
 * Every upstream behaviour (KubeEdge v1.10, commit 9a7e140; v1.23.1, commit 1a7ee88d) that
 * this reimplementation changes in `fixed` mode, as one named switch each. `strict` keeps them all; `fixed`
 * turns them all off. docs/compatibility.md lists them with the reasons.
 *
 * @module
 */

import type { KubeEdgeRelease } from "../store/schema.ts";

/** The two compatibility modes. */
export type CompatMode = "strict" | "fixed";

/** The upstream quirks, each on (`true`) in strict mode. */
export interface Quirks {
  /**
   * insert (and action, action_result) use a plain INSERT whose UNIQUE violation is
   * ignored, so an insert of an existing key keeps the stale value (KubeEdge issue 3620).
   */
  insertKeepsStaleRow: boolean;
  /**
   * Error replies carry the request's *parent* id (beehive NewErrorMessage at 9a7e140),
   * so a sender waiting on its request id never receives them.
   */
  errorParentIsRequestParent: boolean;
  /**
   * A list item that is not an object, or has neither apiVersion nor kind, crashes the
   * whole process inside Inject; replay records it as a `panic` event and keeps what was
   * written before the crash.
   */
  crashOnMalformedListItem: boolean;
  /**
   * meta_v2 (Inject) and meta are written by separate autocommit statements: a failed
   * meta write leaves the meta_v2 change in place.
   */
  nonAtomicWrites: boolean;
  /**
   * beehive's SendResp picks the message context by `header.type` (`""` means `channel`);
   * edgecore registers only the channel context, so a response whose type is anything
   * else (`unixpacket`, the socket context) is dropped with an error log and its sync
   * waiter times out (beehive pkg/core/context/context_factory.go SendResp, v1.10).
   * Fixed mode hands it to the waiter: every module of this process is on the channel bus.
   */
  respDroppedForUnknownContext: boolean;
  /**
   * v1.23 only: the error reply of a failed remote request (processRemote) is built from
   * the request as re-sent with a fresh id, so its parent is that fresh id and a sender
   * waiting with SendSync on its own id never receives it (spec/v1.23.md §3.7, quirk 3).
   */
  remoteErrorParentIsFreshId: boolean;
}

/** The message context types edgecore registers (beehive InitContext: channel only). */
export const REGISTERED_MESSAGE_CONTEXTS: ReadonlySet<string> = new Set(["", "channel"]);

const STRICT: Quirks = {
  insertKeepsStaleRow: true,
  errorParentIsRequestParent: true,
  crashOnMalformedListItem: true,
  nonAtomicWrites: true,
  respDroppedForUnknownContext: true,
  remoteErrorParentIsFreshId: false, // v1.10's remote query errors follow errorParentIsRequestParent
};

const FIXED: Quirks = {
  insertKeepsStaleRow: false,
  errorParentIsRequestParent: false,
  crashOnMalformedListItem: false,
  nonAtomicWrites: false,
  respDroppedForUnknownContext: false,
  remoteErrorParentIsFreshId: false,
};

/**
 * KubeEdge v1.23.1 in strict mode (spec/v1.23.md §10): insert upserts, error replies carry
 * the request's own id and Inject never crashes (logs and skips), so of the v1.10 quirks
 * only the non-atomic meta/meta_v2 writes and beehive's context choice remain, beside
 * v1.23's own remoteErrorParentIsFreshId. Its other differences are v1.23's behaviour, not bugs: src/metamanager/process_v1_23.ts.
 */
const STRICT_V1_23: Quirks = {
  insertKeepsStaleRow: false,
  errorParentIsRequestParent: false,
  crashOnMalformedListItem: false,
  nonAtomicWrites: true,
  // v1.23.1's beehive still picks SendResp's context by header.type (read from the code; no
  // v1.23 reference exercises it).
  respDroppedForUnknownContext: true,
  remoteErrorParentIsFreshId: true,
};

/** The quirk switches of a mode, for a release (default v1.10). */
export function quirksFor(mode: CompatMode, release: KubeEdgeRelease = "1.10"): Quirks {
  if (mode === "fixed") return FIXED;
  return release === "1.23" ? STRICT_V1_23 : STRICT;
}

/** The KubeEdge releases whose process() this program reproduces. */
export const PROCESS_RELEASES: readonly KubeEdgeRelease[] = ["1.10", "1.23"];

/**
 * Checks that `what` can run as `release`.
 * @throws {Error} naming the release and what is missing
 */
export function checkProcessRelease(release: KubeEdgeRelease, what: string): void {
  if (PROCESS_RELEASES.includes(release)) return;
  throw new Error(
    `Cannot ${what} as KubeEdge v${release}: its MetaManager process() is not reproduced yet ` +
      `(supported: ${PROCESS_RELEASES.map((r) => `v${r}`).join(", ")}; v${release} databases ` +
      `can be read with inspect). Pass --kubeedge 1.10 to run v1.10's process() on it`,
  );
}

/** A command or request refused because the chosen release and mode do not have it. */
export class ReleaseRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReleaseRefusal";
  }
}

/**
 * Checks that a forced pod-status sync (`sync`, serve's POST /v1/sync) can run as `release`
 * in `mode`. v1.10 has meta-internal-sync; v1.23 has none (spec/v1.23.md §1), so strict
 * v1.23 refuses and fixed v1.23 runs this program's sync (the one v1.10 has).
 * @param what the thing refused, e.g. `sync /var/lib/kubeedge/edgecore.db`
 * @throws {ReleaseRefusal} for strict v1.23
 */
export function checkForcedSync(release: KubeEdgeRelease, mode: CompatMode, what: string): void {
  if (release === "1.10" || mode === "fixed") return;
  throw new ReleaseRefusal(
    `Cannot ${what} as KubeEdge v${release} in strict mode: v${release} has no ` +
      `meta-internal-sync (set EDGECORE_META_COMPAT=fixed or edgecoreMeta.compat: fixed for ` +
      `this program's forced sync)`,
  );
}

/** Parses a mode name. @throws {Error} naming the bad value */
export function parseCompatMode(value: string): CompatMode {
  if (value === "strict" || value === "fixed") return value;
  throw new Error(`Invalid compatibility mode ${JSON.stringify(value)}: expected strict or fixed`);
}
