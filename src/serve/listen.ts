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
