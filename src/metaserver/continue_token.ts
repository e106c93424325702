/**
 * List paging as kube-apiserver does it (`limit`, `continue`): a continue token is
 * base64url (no padding) of `{"v":"meta.k8s.io/v1","rv":N,"start":"KEY\u0000"}`, where
 * `start` is the first key of the next page and `rv` the resourceVersion of the first
 * page (k8s.io/apiserver/pkg/storage: EncodeContinue / DecodeContinue).
 *
 * @module
 */

/** A decoded continue token. */
export interface ContinueToken {
  /** resourceVersion of the list's first page. */
  rv: bigint;
  /** The next page starts after this key. */
  after: string;
}

/** kube-apiserver's storage.ErrGenericInvalidKey. */
const INVALID = "continue key is not valid";

/** A malformed continue token (kube-apiserver: 400 `invalid continue token: ...`). */
export class ContinueError extends Error {}

/** The token for the page after key `lastKey` of a list at `rv`. */
export function encodeContinue(lastKey: string, rv: bigint): string {
  const json = JSON.stringify({ v: "meta.k8s.io/v1", rv: Number(rv), start: lastKey + "\u0000" });
  const bytes = new TextEncoder().encode(json);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Decodes a continue token.
 * @throws {ContinueError} with kube-apiserver's message for a malformed token
 */
export function decodeContinue(token: string): ContinueToken {
  if (!/^[A-Za-z0-9_-]*$/.test(token) || token.length % 4 === 1) {
    const at = token.search(/[^A-Za-z0-9_-]/);
    throw new ContinueError(
      `${INVALID}: illegal base64 data at input byte ${at < 0 ? token.length - 1 : at}`,
    );
  }
  let value: unknown;
  try {
    const bin = atob(token.replace(/-/g, "+").replace(/_/g, "/"));
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(bin, (c) => c.charCodeAt(0)),
    ));
  } catch (e) {
    throw new ContinueError(`${INVALID}: ${(e as Error).message}`);
  }
  const t = value as { v?: unknown; rv?: unknown; start?: unknown } | null;
  if (t === null || typeof t !== "object" || t.v !== "meta.k8s.io/v1") {
    throw new ContinueError(`${INVALID}: server does not recognize this encoded version`);
  }
  if (typeof t.rv !== "number" || !Number.isSafeInteger(t.rv) || t.rv < 0) {
    throw new ContinueError(
      `${INVALID}: incorrect encoded start resourceVersion (version meta.k8s.io/v1)`,
    );
  }
  if (typeof t.start !== "string" || t.start === "") {
    throw new ContinueError(`${INVALID}: encoded start key empty (version meta.k8s.io/v1)`);
  }
  // "KEY\0" starts at KEY's successor: the page is every key > KEY
  const after = t.start.endsWith("\u0000") ? t.start.slice(0, -1) : t.start;
  return { rv: BigInt(t.rv), after };
}
