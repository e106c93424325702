/**
 * Writing to stdout as Unix tools do: when the reader went away (`| head`, a closed
 * pager), output ends quietly and the process exits 0, as if SIGPIPE had ended it,
 * instead of failing with "Broken pipe (os error 32)" and whatever the unfinished work
 * logs on its way out.
 *
 * @module
 */

const encoder = new TextEncoder();

/** True for the error a write to a pipe without a reader raises (EPIPE). */
export function isBrokenPipe(e: unknown): boolean {
  return e instanceof Deno.errors.BrokenPipe ||
    (e as { code?: string })?.code === "EPIPE" ||
    /broken pipe|os error 32/i.test((e as Error)?.message ?? "");
}

/** Ends the process with exit 0 because stdout's reader is gone. */
export function exitOnClosedStdout(): never {
  Deno.exit(0);
}

/** Writes all of `data` (text or bytes) to stdout; exits 0 when the pipe is closed. */
export function writeStdoutSync(data: string | Uint8Array): void {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  let written = 0;
  try {
    while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
  } catch (e) {
    if (isBrokenPipe(e)) exitOnClosedStdout();
    throw e;
  }
}
