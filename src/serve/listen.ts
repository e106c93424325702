/**
 * Listen addresses: `HOST:PORT`, `[IPv6]:PORT` or `unix:PATH`.
 *
 * @module
 */

/** A parsed listen address. */
export type ListenAddress =
  | { kind: "tcp"; hostname: string; port: number }
  | { kind: "unix"; path: string };

/**
 * Parses a listen address.
 * @throws {Error} naming the value and the expected forms
 */
export function parseListen(value: string): ListenAddress {
  if (value.startsWith("unix:")) {
    const path = value.slice(5);
    if (path === "") {
      throw new Error(`Invalid listen address ${JSON.stringify(value)}: empty socket path`);
    }
    return { kind: "unix", path };
  }
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new Error(
      `Invalid listen address ${
        JSON.stringify(value)
      }: expected HOST:PORT, [IPv6]:PORT or unix:PATH`,
    );
  }
  return { kind: "tcp", hostname: m[1] ?? (m[2] || "0.0.0.0"), port };
}

/** True for loopback hosts (127.0.0.0/8, ::1, localhost). */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** The address in the form it was given (`HOST:PORT`, `[::1]:PORT`, `unix:PATH`). */
export function formatListen(a: ListenAddress): string {
  if (a.kind === "unix") return `unix:${a.path}`;
  return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
}

/**
 * Checks that `a` can be listened on, before serve touches its database: a TCP port is
 * bound and released at once; a unix socket path must be absent or a stale socket (which
 * is removed). The listener itself is opened later by the HTTP server.
 * @throws {Error} `Cannot listen on ADDRESS: cause`, the cause as the OS gives it
 */
export async function checkListen(a: ListenAddress): Promise<void> {
  const name = formatListen(a);
  if (a.kind === "tcp") {
    if (a.port === 0) return;
    try {
      Deno.listen({ hostname: a.hostname, port: a.port }).close();
    } catch (e) {
      throw new Error(`Cannot listen on ${name}: ${(e as Error).message}`);
    }
    return;
  }
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(a.path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw new Error(`Cannot listen on ${name}: ${(e as Error).message}`);
  }
  if (!info.isSocket) {
    throw new Error(`Cannot listen on ${name}: ${a.path} exists and is not a socket`);
  }
  try {
    (await Deno.connect({ transport: "unix", path: a.path })).close();
  } catch {
    Deno.removeSync(a.path); // a stale socket left by a process that died
    return;
  }
  throw new Error(`Cannot listen on ${name}: another process is listening on ${a.path}`);
}
