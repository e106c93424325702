/**
 * Service metrics and their Prometheus text exposition.
 *
 * @module
 */

/** What the store holds, read when /metrics is scraped. */
export interface StoreGauges {
  /** Bytes of the database file and its -wal. */
  fileBytes: number;
  /** Rows of table meta per type. */
  metaRows: { group: string; rows: number }[];
  /** Rows of table meta_v2 per groupversionresource. */
  metaV2Rows: { group: string; rows: number }[];
}

/** Counters and gauges of a running service. */
export class Metrics {
  /** When the service started (ms since the epoch). */
  readonly startedAt = Date.now();
  /** Messages processed, by operation. */
  readonly processed = new Map<string, number>();
  /** Messages that ended in an error reply or a rollback. */
  errors = 0;
  /** Committed batches and their total latency. */
  commits = 0;
  commitSecondsSum = 0;
  /** Commit latency histogram buckets (seconds → count). */
  readonly commitBuckets = new Map<number, number>(
    [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, Infinity].map((b) => [b, 0]),
  );
  /** Malformed frames received on the WebSocket endpoint. */
  badFrames = 0;
  /** Frames over `maxMessageBytes` refused on the WebSocket endpoint. */
  oversizedFrames = 0;

  /** Counts one processed message. */
  countMessage(operation: string): void {
    this.processed.set(operation, (this.processed.get(operation) ?? 0) + 1);
  }

  /** Records the latency of one commit. */
  observeCommit(seconds: number): void {
    this.commits++;
    this.commitSecondsSum += seconds;
    for (const b of this.commitBuckets.keys()) {
      if (seconds <= b) this.commitBuckets.set(b, this.commitBuckets.get(b)! + 1);
    }
  }

  /**
   * Prometheus text format.
   * @param gauges extra gauges: connection state, queue depths, RSS
   */
  render(gauges: {
    connected: boolean;
    queueDepths: Record<string, number>;
    /** Bus counters of messages lost without the sender being told. */
    bus?: object;
    store?: StoreGauges;
    /** Open MetaServer watches. */
    watchers?: number;
    /** MetaServer watches closed because the client fell too far behind. */
    slowWatchersClosed?: number;
    /** Frames received from peers that wait for room in their destination queue. */
    heldFrames?: number;
    /** Most frames one peer's inbox held at once since start. */
    heldFramesPeak?: number;
    /** Times reading a peer's socket was paused because its inbox was full. */
    readPauses?: number;
    /** Batches of frames decoded by the frame decoder's worker and on the main thread. */
    decodedBatches?: { worker: number; main: number };
  }): string {
    const lines: string[] = [];
    const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
    lines.push("# HELP edgecore_meta_messages_processed_total Messages processed by operation.");
    lines.push("# TYPE edgecore_meta_messages_processed_total counter");
    for (const [op, n] of [...this.processed].sort()) {
      lines.push(`edgecore_meta_messages_processed_total{operation="${esc(op)}"} ${n}`);
    }
    lines.push("# HELP edgecore_meta_message_errors_total Messages that failed (error reply).");
    lines.push("# TYPE edgecore_meta_message_errors_total counter");
    lines.push(`edgecore_meta_message_errors_total ${this.errors}`);
    lines.push("# HELP edgecore_meta_bad_frames_total Malformed WebSocket frames received.");
    lines.push("# TYPE edgecore_meta_bad_frames_total counter");
    lines.push(`edgecore_meta_bad_frames_total ${this.badFrames}`);
    lines.push(
      "# HELP edgecore_meta_oversized_frames_total WebSocket frames over maxMessageBytes refused.",
    );
    lines.push("# TYPE edgecore_meta_oversized_frames_total counter");
    lines.push(`edgecore_meta_oversized_frames_total ${this.oversizedFrames}`);
    lines.push(
      "# HELP edgecore_meta_held_frames Frames from peers waiting for room in their destination queue.",
    );
    lines.push("# TYPE edgecore_meta_held_frames gauge");
    lines.push(`edgecore_meta_held_frames ${gauges.heldFrames ?? 0}`);
    lines.push(
      "# HELP edgecore_meta_held_frames_peak Most frames one peer's inbox held at once since start.",
    );
    lines.push("# TYPE edgecore_meta_held_frames_peak gauge");
    lines.push(`edgecore_meta_held_frames_peak ${gauges.heldFramesPeak ?? 0}`);
    lines.push(
      "# HELP edgecore_meta_peer_read_pauses_total Times serve stopped reading a peer's socket (inbox full).",
    );
    lines.push("# TYPE edgecore_meta_peer_read_pauses_total counter");
    lines.push(`edgecore_meta_peer_read_pauses_total ${gauges.readPauses ?? 0}`);
    lines.push(
      "# HELP edgecore_meta_decoded_frame_batches_total Batches of frames decoded, by thread (worker: a backlog on the second core).",
    );
    lines.push("# TYPE edgecore_meta_decoded_frame_batches_total counter");
    for (const thread of ["main", "worker"] as const) {
      lines.push(
        `edgecore_meta_decoded_frame_batches_total{thread="${thread}"} ${
          gauges.decodedBatches?.[thread] ?? 0
        }`,
      );
    }
    lines.push("# HELP edgecore_meta_commit_seconds Latency of batch commits.");
    lines.push("# TYPE edgecore_meta_commit_seconds histogram");
    for (const [b, n] of this.commitBuckets) {
      lines.push(`edgecore_meta_commit_seconds_bucket{le="${b === Infinity ? "+Inf" : b}"} ${n}`);
    }
    lines.push(`edgecore_meta_commit_seconds_sum ${this.commitSecondsSum}`);
    lines.push(`edgecore_meta_commit_seconds_count ${this.commits}`);
    lines.push("# HELP edgecore_meta_queue_depth Messages waiting per module queue.");
    lines.push("# TYPE edgecore_meta_queue_depth gauge");
    for (const [m, n] of Object.entries(gauges.queueDepths).sort()) {
      lines.push(`edgecore_meta_queue_depth{module="${esc(m)}"} ${n}`);
    }
    lines.push("# HELP edgecore_meta_bus_dropped_total Messages the bus dropped, by reason.");
    lines.push("# TYPE edgecore_meta_bus_dropped_total counter");
    for (
      const [reason, key] of [
        ["unknown_module", "droppedUnknownModule"],
        ["unknown_group", "droppedUnknownGroup"],
        ["queue_full", "droppedFull"],
        ["module_removed", "droppedRemoved"],
        ["late_reply", "lateReplies"],
        ["unmatched_reply", "unmatchedReplies"],
      ]
    ) {
      const n = (gauges.bus as Record<string, unknown> | undefined)?.[key];
      if (typeof n === "number") {
        lines.push(`edgecore_meta_bus_dropped_total{reason="${reason}"} ${n}`);
      }
    }
    lines.push("# HELP edgecore_meta_cloud_connected 1 when the cloud link is up.");
    lines.push("# TYPE edgecore_meta_cloud_connected gauge");
    lines.push(`edgecore_meta_cloud_connected ${gauges.connected ? 1 : 0}`);
    if (gauges.store) {
      const st = gauges.store;
      lines.push("# HELP edgecore_meta_db_file_bytes Size of the database file plus its -wal.");
      lines.push("# TYPE edgecore_meta_db_file_bytes gauge");
      lines.push(`edgecore_meta_db_file_bytes ${st.fileBytes}`);
      lines.push("# HELP edgecore_meta_rows Rows stored, by table and type or resource.");
      lines.push("# TYPE edgecore_meta_rows gauge");
      for (const { group, rows } of st.metaRows) {
        lines.push(`edgecore_meta_rows{table="meta",resource="${esc(group)}"} ${rows}`);
      }
      for (const { group, rows } of st.metaV2Rows) {
        lines.push(`edgecore_meta_rows{table="meta_v2",resource="${esc(group)}"} ${rows}`);
      }
    }
    lines.push("# HELP edgecore_meta_watchers Open MetaServer watch streams.");
    lines.push("# TYPE edgecore_meta_watchers gauge");
    lines.push(`edgecore_meta_watchers ${gauges.watchers ?? 0}`);
    lines.push(
      "# HELP edgecore_meta_slow_watchers_closed_total Watches closed because the client fell behind.",
    );
    lines.push("# TYPE edgecore_meta_slow_watchers_closed_total counter");
    lines.push(`edgecore_meta_slow_watchers_closed_total ${gauges.slowWatchersClosed ?? 0}`);
    lines.push("# HELP edgecore_meta_uptime_seconds Seconds since the service started.");
    lines.push("# TYPE edgecore_meta_uptime_seconds gauge");
    lines.push(`edgecore_meta_uptime_seconds ${((Date.now() - this.startedAt) / 1000).toFixed(3)}`);
    lines.push("# HELP process_resident_memory_bytes Resident memory size in bytes.");
    lines.push("# TYPE process_resident_memory_bytes gauge");
    lines.push(`process_resident_memory_bytes ${Deno.memoryUsage().rss}`);
    return lines.join("\n") + "\n";
  }
}
