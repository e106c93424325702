/**
 * The worker behind {@link import("./frame_decoder.ts").FrameDecoder}: decodes batches of
 * frames into structured-clonable parts, in the order asked.
 *
 * Protocol: in `{ op: "config", transport, cloudSources }` (first), then
 * `{ op: "decode", id, texts }`; out `{ op: "decoded", id, frames }` (see PackedFrames).
 *
 * @module
 */

import type { Transport } from "../beehive/wire.ts";
import {
  type DecoderReply,
  type DecoderRequest,
  type PackedFrames,
  packFrame,
} from "./frame_decoder.ts";

interface WorkerScope {
  onmessage: ((e: MessageEvent<DecoderRequest>) => void) | null;
  postMessage(reply: DecoderReply): void;
}

const scope = self as unknown as WorkerScope;
let transport: Transport = "raw";
let cloudSources: ReadonlySet<string> = new Set();

scope.onmessage = (e) => {
  const req = e.data;
  if (req.op === "config") {
    transport = req.transport;
    cloudSources = new Set(req.cloudSources);
    return;
  }
  const frames: PackedFrames = [];
  for (const t of req.texts) packFrame(t, transport, cloudSources, frames);
  scope.postMessage({ op: "decoded", id: req.id, frames });
};
