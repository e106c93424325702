/**
 * The fixture journals and hostile cases as lines, the release/mode/transport variants to
 * run them in, a bus that records what a MetaManager sends as wire text, and a fixed
 * identity: for tests that run the same lines through two paths and compare what they
 * stored and sent.
 *
 * @module
 */

import { type Identity, type Message, toWire } from "../../src/beehive/message.ts";
import type { Transport } from "../../src/beehive/wire.ts";
import type { CompatMode } from "../../src/metamanager/compat.ts";
import type { Bus } from "../../src/metamanager/outbox.ts";
import type { KubeEdgeRelease } from "../../src/store/schema.ts";

const FIXTURES = new URL("../../fixtures/", import.meta.url);

/** Every line of the fixture journals and hostile cases (blank lines dropped). */
export function fixtureLines(): { file: string; lines: string[] }[] {
  const out: { file: string; lines: string[] }[] = [];
  for (const dir of ["journals", "journals-v1.23", "fuzz", "fuzz-variants", "bad"]) {
    for (const e of Deno.readDirSync(new URL(`${dir}/`, FIXTURES))) {
      if (!e.name.endsWith(".ndjson") || e.name.endsWith(".out.ndjson")) continue;
      const text = Deno.readTextFileSync(new URL(`${dir}/${e.name}`, FIXTURES));
      out.push({ file: `${dir}/${e.name}`, lines: text.split("\n").filter((l) => l.trim()) });
    }
  }
  return out;
}

/** Records every outbound message as its wire text; sync sends time out at once. */
export class WireBus implements Bus {
  readonly sent: string[] = [];
  send(module: string, msg: Message): void {
    this.sent.push(`send ${module} ${toWire(msg)}`);
  }
  sendToGroup(group: string, msg: Message): void {
    this.sent.push(`group ${group} ${toWire(msg)}`);
  }
  sendResp(msg: Message): void {
    this.sent.push(`resp ${toWire(msg)}`);
  }
  sendSync(): Promise<Message> {
    return Promise.reject(new Error("timeout to get response"));
  }
}

/** Ids `id-0`, `id-1`, ... and a fixed clock: two runs of the same lines send the same text. */
export function countingIdentity(): Identity {
  let n = 0;
  return { newId: () => `id-${n++}`, now: () => 1_700_000_000_000 };
}

/** Both releases, each fixed with the raw transport and strict with the websocket one. */
export const VARIANTS: readonly {
  release: KubeEdgeRelease;
  mode: CompatMode;
  transport: Transport;
}[] = [
  { release: "1.10", mode: "fixed", transport: "raw" },
  { release: "1.10", mode: "strict", transport: "websocket" },
  { release: "1.23", mode: "fixed", transport: "raw" },
  { release: "1.23", mode: "strict", transport: "websocket" },
];
