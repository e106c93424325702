/**
 * The real `kubectl` in end-to-end tests: where it is (tests are skipped without it), a
 * runner that isolates it from the developer's configuration, a follower for `get -w`,
 * and feeding a serve the cloud messages of a reference journal.
 *
 * @module
 */

import assert from "node:assert/strict";
import { withTimeout } from "./serve_process.ts";
import { onPath } from "./on_path.ts";
import { scaled } from "./time_scale.ts";
import { isMessage, type WsModule } from "./ws_module.ts";

const JOURNALS = new URL("../../fixtures/journals/", import.meta.url);
/** How long a test waits for an acknowledgement or kubectl output. */
export const WAIT_MS = 20_000;

/** Path of `kubectl`, undefined when it is not on PATH. */
export const KUBECTL: string | undefined = onPath("kubectl");

// ------------------------------------------------------------------ journal messages

/** A cloud message of a journal. */
export interface JournalMessage {
  line: string;
  id: string;
  operation: string;
  content: unknown;
}

/** The messages of a journal the cloud sends and acknowledges: insert/update/delete. */
export function cloudMessages(name: string): JournalMessage[] {
  return Deno.readTextFileSync(new URL(name, JOURNALS)).split("\n").filter((l) => l.trim())
    .map((line) => ({ line, m: JSON.parse(line) }))
    .filter(({ m }) =>
      ["insert", "update", "delete"].includes(m.route.operation) &&
      ["edgecontroller", "dynamiccontroller"].includes(m.route.source)
    )
    .map(({ line, m }) => ({
      line,
      id: m.header.msg_id,
      operation: m.route.operation,
      content: m.content,
    }));
}

/** Sends each message as the cloud and waits for its OK acknowledgement (after commit). */
export async function feed(hub: WsModule, messages: JournalMessage[]): Promise<void> {
  for (const m of messages) {
    hub.send(m.line);
    const ack = await hub.waitFor(
      isMessage("response", { parent: m.id }),
      WAIT_MS,
      `ack of ${m.id}`,
    );
    assert.equal(ack.content, "OK", `message ${m.id} was acknowledged OK`);
  }
}

// ------------------------------------------------------------------ kubectl

/** What a finished kubectl printed. */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** kubectl against one server, with a fresh HOME and no kubeconfig. */
export class Kubectl {
  constructor(readonly server: string, readonly home: string) {}

  #command(args: string[], piped: boolean): Deno.Command {
    return new Deno.Command(KUBECTL!, {
      // kubectl's --request-timeout also ends a watch (`get -w`) after that long: scaled, so
      // that a watch step under aarch64 emulation is not cut at 30 s (TEST_TIME_SCALE).
      args: ["--server", this.server, `--request-timeout=${scaled(30_000) / 1000}s`, ...args],
      // a fresh HOME (discovery cache) and no kubeconfig, nothing from the developer
      env: { HOME: this.home, KUBECONFIG: "/dev/null", PATH: Deno.env.get("PATH") ?? "" },
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: piped ? "piped" : "null",
    });
  }

  async run(...args: string[]): Promise<KubectlResult> {
    const out = await withTimeout(
      this.#command(args, true).output(),
      60_000,
      `kubectl ${args.join(" ")} did not finish`,
    );
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  }

  /** Runs and requires success. */
  async ok(...args: string[]): Promise<string> {
    const r = await this.run(...args);
    assert.equal(r.code, 0, `kubectl ${args.join(" ")} failed:\n${r.stderr}`);
    return r.stdout;
  }

  /** A long-running kubectl whose stdout lines are collected. */
  spawn(...args: string[]): Follower {
    return new Follower(this.#command(args, false).spawn());
  }
}

/** A running kubectl (`get -w`) and the lines it printed so far. */
export class Follower {
  text = "";
  readonly done: Promise<Deno.CommandStatus>;
  readonly #drained: Promise<void>;
  #listeners = new Set<() => void>();

  constructor(readonly child: Deno.ChildProcess) {
    this.#drained = (async () => {
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        this.text += chunk;
        for (const l of [...this.#listeners]) l();
      }
    })();
    this.done = child.status.then(async (s) => {
      await this.#drained;
      for (const l of [...this.#listeners]) l();
      return s;
    });
  }

  /** Complete output lines. */
  get lines(): string[] {
    return this.text.split("\n").slice(0, -1);
  }

  /** Waits until at least `n` complete lines were printed. */
  async waitForLines(n: number, timeoutMs = WAIT_MS): Promise<string[]> {
    let check = () => {};
    const reached = new Promise<void>((resolve, reject) => {
      check = () => {
        if (this.lines.length >= n) resolve();
        else {this.child.status.then(() => {
            if (this.lines.length < n) reject(new Error("kubectl exited"));
          });}
      };
    });
    this.#listeners.add(check);
    check();
    try {
      await withTimeout(
        reached,
        timeoutMs,
        `kubectl printed ${this.lines.length} of ${n} lines:\n${this.text}`,
      );
    } finally {
      this.#listeners.delete(check);
    }
    return this.lines;
  }

  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* already gone */ }
    await this.done;
  }
}
