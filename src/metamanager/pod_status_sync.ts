/**
 * The pod-status sync of meta-internal-sync (spec/metamanager.md §6): orphaned
 * podstatus rows are deleted, the rest grouped by namespace for the cloud.
 *
 * @module
 */

import { Content, type Identity, type Message, newMessage } from "../beehive/message.ts";
import { parseJsonFloat64 } from "../beehive/go_json.ts";
import type { Logger } from "../logger.ts";
import type { MetaDao } from "../store/meta.ts";
import { namespaceOf } from "./resource.ts";

/** What a pod-status sync found. */
export interface PodStatusSyncResult {
  /** Keys of podstatus rows whose pod is gone (deleted unless dry run). */
  orphans: string[];
  /** Parsed statuses per namespace, in first-seen order. */
  byNamespace: Map<string, unknown[]>;
}

/** Options of {@link podStatusSync}. */
export interface PodStatusSyncOptions {
  /** Report orphans without deleting them. */
  dryRun?: boolean;
  log?: Logger;
}

/** Runs the sync algorithm on table `meta`. */
export function podStatusSync(
  meta: MetaDao,
  options: PodStatusSyncOptions = {},
): PodStatusSyncResult {
  const log = options.log;
  const result: PodStatusSyncResult = { orphans: [], byNamespace: new Map() };
  let records;
  try {
    records = meta.queryAllMeta("type", "podstatus");
  } catch (e) {
    log?.error("pod status sync: query failed", { error: String(e) });
    return result;
  }
  if (records.length === 0) {
    log?.debug("pod status sync: no podstatus rows");
    return result;
  }
  for (const r of records) {
    const podKey = r.key.replace("/podstatus/", "/pod/");
    let pods: string[];
    try {
      pods = meta.queryMeta("key", podKey);
    } catch (e) {
      log?.error("pod status sync: pod lookup failed", { key: podKey, error: String(e) });
      return { orphans: result.orphans, byNamespace: new Map() };
    }
    if (pods.length === 0) {
      result.orphans.push(r.key);
      if (!options.dryRun) {
        try {
          meta.deleteMetaByKey(r.key);
        } catch (e) {
          log?.error("pod status sync: delete failed", { key: r.key, error: String(e) });
        }
      }
      continue;
    }
    let status: unknown;
    try {
      status = parseJsonFloat64(r.value); // Go: json.Unmarshal into interface{}
    } catch {
      log?.warn("pod status sync: unparsable status", { key: r.key });
      continue;
    }
    const ns = namespaceOf(r.key);
    const list = result.byNamespace.get(ns);
    if (list) list.push(status);
    else result.byNamespace.set(ns, [status]);
  }
  return result;
}

/**
 * The per-namespace update messages of a sync result, as the MetaManager sends them, from
 * module `source` (the release's MetaManager name: v1.10 `metaManager`, v1.23 `metamanager`).
 */
export function podStatusMessages(
  result: PodStatusSyncResult,
  id: Identity,
  source = "metaManager",
): Message[] {
  const messages: Message[] = [];
  for (const [ns, statuses] of result.byNamespace) {
    const m = newMessage("", id);
    m.route.source = source;
    m.route.group = "resource";
    m.route.resource = `${ns}/podstatus`;
    m.route.operation = "update";
    m.content = Content.of(statuses);
    messages.push(m);
  }
  return messages;
}
