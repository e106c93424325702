/**
 * Finding a program on `PATH` without running it (for tests that need kubectl or npx).
 *
 * @module
 */

/** The path of `cmd` in the first `PATH` directory that has it as a file, else undefined. */
export function onPath(cmd: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      const p = `${dir}/${cmd}`;
      if (Deno.statSync(p).isFile) return p;
    } catch { /* not here */ }
  }
  return undefined;
}
