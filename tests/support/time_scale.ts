/**
 * A test-only factor for the time limits of tests: `TEST_TIME_SCALE` (default 1) multiplies
 * every limit a test waits for, so that a slow machine or aarch64 under user-mode emulation
 * (`.ci/aarch64.sh` sets it) gets more time. It changes only how long tests wait, never the
 * product's own timings: the product reads no such variable. `withTimeout` and `runCli`
 * (serve_process.ts) apply it to every limit given to them; code that measures time itself
 * calls {@link scaled}.
 *
 * @module
 */

function readScale(): number {
  const raw = Deno.env.get("TEST_TIME_SCALE");
  if (raw === undefined || raw === "") return 1;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 1) {
    throw new Error(`Cannot read TEST_TIME_SCALE=${JSON.stringify(raw)}: expected a number >= 1`);
  }
  return n;
}

/** The factor from `TEST_TIME_SCALE` (>= 1; 1 when unset). */
export const TIME_SCALE: number = readScale();

/** `ms` multiplied by {@link TIME_SCALE}. */
export function scaled(ms: number): number {
  return Math.round(ms * TIME_SCALE);
}
