/**
 * TEXT columns read whole. node:sqlite turns a TEXT value into a JS string up to its first
 * NUL character, while SQLite (and Go's driver, which reads by length) keeps every byte:
 * a key such as `default/pod/a\u0000b` would read back as `default/pod/a`. A column
 * selected through {@link wholeColumn} comes back as text when it holds no NUL and as its
 * UTF-8 bytes when it does; {@link wholeText} turns either into the whole string.
 *
 * @module
 */

const UTF8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * SQL for column `expr` selected as `alias`: the text itself, or its bytes (a BLOB) when
 * it holds a NUL (`instr` compares the whole value, NULs included; NULL stays NULL).
 */
export function wholeColumn(expr: string, alias: string): string {
  return `CASE WHEN instr(${expr}, char(0)) THEN CAST(${expr} AS BLOB) ELSE ${expr} END AS \`${alias}\``;
}

/** The string a {@link wholeColumn} read (NULL stays null). */
export function wholeText(v: unknown): string | null {
  if (typeof v === "string" || v === null || v === undefined) return (v ?? null) as string | null;
  if (v instanceof Uint8Array) return UTF8.decode(v);
  return String(v);
}
