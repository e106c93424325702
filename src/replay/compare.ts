/**
 * The reference comparison of replay outputs, ported from the oracle's `compare.py`
 * (python3): what "equal" means for event lines and database dumps.
 *
 * Events: ids are normalised (a journal line's `msg_id` → `J<line>`, a journal
 * `parent_msg_id` that is no journal id → `JP<line>`, any other id → `N<k>` in order of
 * first appearance), timestamps become `J<line>` / `NOW`, the messages of one
 * `meta-internal-sync` line are sorted by (resource, canonical content), JSON is compared
 * by value (numbers as float64, strings holding a JSON object or array by their parsed
 * value), `content_bytes` is dropped, empty `parent_msg_id` / `resourceversion` / `type` /
 * `sync` / `destination` are removed, and panic and error lines compare by presence only.
 *
 * Database dumps: rows matched by key; every column compared exactly, `value` by its JSON
 * value when it holds a JSON object or array.
 *
 * To stay faithful, JSON is read the way Python's `json` module reads it (integers and
 * floats are distinct, `NaN` and `Infinity` are accepted), events are compared as Python's
 * `json.dumps(sort_keys=True)` text, rows with Python's `==`, and input lines are split
 * with universal newlines. Inputs on which `compare.py` would crash (a line that is not
 * JSON in an event file, a non-object event, an unhashable id) throw here.
 *
 * `replay --expect` / `--expect-db` and the golden tests both compare through this module.
 *
 * @module
 */

/** A JSON value as Python's `json` module builds it: integers are bigint, floats number. */
export type PyValue = null | boolean | bigint | number | string | PyValue[] | PyObject;

/** A JSON object (a Python dict); created without prototype. */
export interface PyObject {
  [key: string]: PyValue;
}

/** The result of a comparison. */
export interface Comparison {
  /**
   * One entry per difference, formatted as `compare.py` prints them (it prints only the
   * first five; all are listed here). Empty when the inputs are equal.
   */
  differences: string[];
  /** The figure `compare.py` prints last, e.g. `events: 47 expected, 47 actual, 0 differ`. */
  summary: string;
  /**
   * Where each of {@link differences} is (same order), for event comparisons: the line of
   * the expected and of the actual output file (absent for a missing event) and the
   * journal line (`in`) the event belongs to.
   */
  locations?: EventLocation[];
}

/** Where a differing event is: lines of the two output files and of the journal. */
export interface EventLocation {
  expectedLine?: number;
  actualLine?: number;
  journalLine?: number;
}

/** Options of {@link compareEvents}. */
export interface CompareEventsOptions {
  /**
   * Compare only the events of journal lines from this one on (a replay resumed with
   * `--from-line`): earlier lines' events are dropped from both outputs before they are
   * normalised.
   */
  fromLine?: number;
}

// ---- JSON as Python reads it -------------------------------------------------------------

class PyJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PyJsonError";
  }
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;

/** A recursive-descent reader of Python's `json.loads` grammar. */
class PyJsonReader {
  #i = 0;

  constructor(private readonly s: string, private readonly intsAsFloats: boolean) {}

  read(): PyValue {
    this.#ws();
    const v = this.#value();
    this.#ws();
    if (this.#i !== this.s.length) this.#fail("Extra data");
    return v;
  }

  #fail(what: string): never {
    throw new PyJsonError(`${what}: char ${this.#i}`);
  }

  #ws(): void {
    const s = this.s;
    while (this.#i < s.length) {
      const c = s.charCodeAt(this.#i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.#i++;
    }
  }

  #literal<T extends PyValue>(word: string, value: T): T {
    if (!this.s.startsWith(word, this.#i)) this.#fail("Expecting value");
    this.#i += word.length;
    return value;
  }

  #value(): PyValue {
    switch (this.s[this.#i]) {
      case '"':
        return this.#string();
      case "{":
        return this.#object();
      case "[":
        return this.#array();
      case "n":
        return this.#literal("null", null);
      case "t":
        return this.#literal("true", true);
      case "f":
        return this.#literal("false", false);
      case "N":
        return this.#literal("NaN", NaN);
      case "I":
        return this.#literal("Infinity", Infinity);
      case "-":
        if (this.s.startsWith("-Infinity", this.#i)) return this.#literal("-Infinity", -Infinity);
    }
    NUMBER.lastIndex = this.#i;
    const m = NUMBER.exec(this.s);
    if (m === null) this.#fail("Expecting value");
    this.#i = NUMBER.lastIndex;
    if (m[1] !== undefined || m[2] !== undefined || this.intsAsFloats) return Number(m[0]);
    return BigInt(m[0]);
  }

  #string(): string {
    const s = this.s, start = this.#i;
    let j = start + 1;
    for (;;) {
      if (j >= s.length) this.#fail("Unterminated string starting at");
      const c = s.charCodeAt(j);
      if (c === 0x22) break;
      j += c === 0x5c ? 2 : 1;
    }
    this.#i = j + 1;
    try {
      // The same grammar as Python's strict scanstring: escapes, no control characters.
      return JSON.parse(s.slice(start, j + 1)) as string;
    } catch {
      this.#i = start;
      this.#fail("Invalid string");
    }
  }

  #object(): PyObject {
    const o: PyObject = Object.create(null);
    this.#i++;
    this.#ws();
    if (this.s[this.#i] === "}") {
      this.#i++;
      return o;
    }
    for (;;) {
      if (this.s[this.#i] !== '"') this.#fail("Expecting property name enclosed in double quotes");
      const key = this.#string();
      this.#ws();
      if (this.s[this.#i] !== ":") this.#fail("Expecting ':' delimiter");
      this.#i++;
      this.#ws();
      o[key] = this.#value();
      this.#ws();
      const c = this.s[this.#i++];
      if (c === "}") return o;
      if (c !== ",") this.#fail("Expecting ',' delimiter");
      this.#ws();
    }
  }

  #array(): PyValue[] {
    const a: PyValue[] = [];
    this.#i++;
    this.#ws();
    if (this.s[this.#i] === "]") {
      this.#i++;
      return a;
    }
    for (;;) {
      a.push(this.#value());
      this.#ws();
      const c = this.s[this.#i++];
      if (c === "]") return a;
      if (c !== ",") this.#fail("Expecting ',' delimiter");
      this.#ws();
    }
  }
}

/** `json.loads(text)`, or with `intsAsFloats` `json.loads(text, parse_int=float)`. */
function pyLoads(text: string, intsAsFloats = false): PyValue {
  return new PyJsonReader(text, intsAsFloats).read();
}

function isDict(v: PyValue | undefined): v is PyObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function isNumeric(v: PyValue): v is boolean | bigint | number {
  return typeof v === "boolean" || typeof v === "bigint" || typeof v === "number";
}

function typeName(v: PyValue): string {
  if (v === null) return "NoneType";
  if (Array.isArray(v)) return "list";
  switch (typeof v) {
    case "boolean":
      return "bool";
    case "bigint":
      return "int";
    case "number":
      return "float";
    case "string":
      return "str";
    default:
      return "dict";
  }
}

/** `dict.get(key)`: the value, or None when absent. */
function get(o: PyObject, key: string): PyValue {
  return key in o ? o[key] : null;
}

/** Python truthiness. */
function truthy(v: PyValue): boolean {
  if (v === null) return false;
  if (Array.isArray(v)) return v.length > 0;
  switch (typeof v) {
    case "boolean":
      return v;
    case "bigint":
      return v !== 0n;
    case "number":
      return v !== 0;
    case "string":
      return v.length > 0;
    default:
      return Object.keys(v).length > 0;
  }
}

/** A dict key with Python's hashing: `1`, `1.0` and `True` are one key. */
function hashKey(v: PyValue): string {
  if (v === null) return "None";
  if (Array.isArray(v) || isDict(v)) throw new TypeError(`unhashable type: '${typeName(v)}'`);
  switch (typeof v) {
    case "boolean":
      return v ? "n:1" : "n:0";
    case "bigint":
      return `n:${v}`;
    case "number":
      return Number.isInteger(v) ? `n:${BigInt(v)}` : `n:${v}`;
    default:
      return `s:${v}`;
  }
}

function asBig(v: boolean | bigint): bigint {
  return typeof v === "boolean" ? (v ? 1n : 0n) : v;
}

/**
 * Python's `==` on JSON values. NaN equals NaN: `json` returns one shared NaN object and
 * container comparison checks identity first.
 */
function pyEq(a: PyValue, b: PyValue): boolean {
  if (isNumeric(a) && isNumeric(b)) {
    if (typeof a === "number" && typeof b === "number") {
      return a === b || (Number.isNaN(a) && Number.isNaN(b));
    }
    const x = typeof a === "number" ? a : asBig(a);
    const y = typeof b === "number" ? b : asBig(b);
    // Loose equality between bigint and number is exact, like Python's int == float.
    return x == y;
  }
  if (typeof a === "string" || typeof b === "string" || a === null || b === null) return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => pyEq(x, b[i]));
  }
  if (!isDict(a) || !isDict(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => k in b && pyEq(a[k], b[k]));
}

/** Strings in code point order (Python's), not UTF-16 unit order. */
function compareStrings(a: string, b: string): number {
  let i = 0, j = 0;
  while (i < a.length && j < b.length) {
    const x = a.codePointAt(i)!, y = b.codePointAt(j)!;
    if (x !== y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return (a.length - i > 0 ? 1 : 0) - (b.length - j > 0 ? 1 : 0);
}

/** Python's `<` ordering of two JSON values; throws where Python raises TypeError. */
function pyCompare(a: PyValue, b: PyValue): number {
  if (pyEq(a, b)) return 0;
  if (isNumeric(a) && isNumeric(b)) {
    const x = typeof a === "boolean" ? asBig(a) : a, y = typeof b === "boolean" ? asBig(b) : b;
    return x < y ? -1 : y < x ? 1 : 0;
  }
  if (typeof a === "string" && typeof b === "string") return compareStrings(a, b);
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (!pyEq(a[i], b[i])) return pyCompare(a[i], b[i]);
    }
    return a.length - b.length;
  }
  throw new TypeError(
    `'<' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`,
  );
}

/** Python's `repr(float)`: shortest round-trip digits, exponent outside [1e-4, 1e16). */
function floatRepr(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mantissa, exponent] = Math.abs(x).toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const exp = Number(exponent);
  const point = exp + 1; // value = 0.<digits> × 10^point
  if (point <= -4 || point > 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp);
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${e < 10 ? "0" : ""}${e}`;
  }
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${"0".repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

const SHORT_ESCAPES: Record<number, string> = {
  0x22: '\\"',
  0x5c: "\\\\",
  0x08: "\\b",
  0x0c: "\\f",
  0x0a: "\\n",
  0x0d: "\\r",
  0x09: "\\t",
};

/** Python's `json.dumps(str)` with `ensure_ascii`. */
function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) out += short;
    else if (c >= 0x20 && c <= 0x7e) out += s[i];
    else out += `\\u${c.toString(16).padStart(4, "0")}`;
  }
  return out + '"';
}

/** Python's `json.dumps(v, sort_keys=True)` (`compact`: `separators=(",", ":")`). */
function pyDumps(v: PyValue, compact: boolean): string {
  const item = compact ? "," : ", ", key = compact ? ":" : ": ";
  const dump = (x: PyValue): string => {
    if (x === null) return "null";
    if (Array.isArray(x)) return `[${x.map(dump).join(item)}]`;
    switch (typeof x) {
      case "boolean":
        return x ? "true" : "false";
      case "bigint":
        return x.toString();
      case "number":
        return floatRepr(x);
      case "string":
        return quote(x);
      default: {
        const keys = Object.keys(x).sort(compareStrings);
        return `{${keys.map((k) => `${quote(k)}${key}${dump(x[k])}`).join(item)}}`;
      }
    }
  };
  return dump(v);
}

/** Python's `str()` of a hashable JSON value. */
function pyStr(v: PyValue): string {
  if (v === null) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return floatRepr(v);
  return String(v);
}

/** Python's `"%d" % v`. */
function formatD(v: PyValue): string {
  if (typeof v === "boolean") return v ? "1" : "0";
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") {
    if (!Number.isFinite(v)) {
      throw new RangeError(`cannot convert float ${floatRepr(v)} to integer`);
    }
    return BigInt(Math.trunc(v)).toString();
  }
  throw new TypeError(`%d format: a real number is required, not ${typeName(v)}`);
}

const PY_WHITESPACE = new Set([
  0x09,
  0x0a,
  0x0b,
  0x0c,
  0x0d,
  0x1c,
  0x1d,
  0x1e,
  0x1f,
  0x20,
  0x85,
  0xa0,
  0x1680,
  0x2000,
  0x2001,
  0x2002,
  0x2003,
  0x2004,
  0x2005,
  0x2006,
  0x2007,
  0x2008,
  0x2009,
  0x200a,
  0x2028,
  0x2029,
  0x202f,
  0x205f,
  0x3000,
]);

/** Python's `str.strip()`. */
function strip(s: string): string {
  let a = 0, b = s.length;
  while (a < b && PY_WHITESPACE.has(s.charCodeAt(a))) a++;
  while (b > a && PY_WHITESPACE.has(s.charCodeAt(b - 1))) b--;
  return s.slice(a, b);
}

/** The lines of a file read in Python text mode (universal newlines), each with its `\n`. */
function pyLines(text: string): string[] {
  const parts = text.replace(/\r\n?/g, "\n").split("\n");
  const last = parts.pop()!;
  const lines = parts.map((p) => p + "\n");
  if (last !== "") lines.push(last);
  return lines;
}

// ---- canonical values ------------------------------------------------------------------

/** `canon_text`: a string holding a JSON object or array becomes its canonical value. */
function canonText(v: PyValue): PyValue {
  if (typeof v === "string" && (v === "" || v[0] === "{" || v[0] === "[")) {
    try {
      return canon(pyLoads(v, true));
    } catch {
      return v;
    }
  }
  return v;
}

/** `canon`: numbers as floats, JSON text inside strings parsed, recursively. */
function canon(v: PyValue): PyValue {
  if (v === null || typeof v === "boolean" || typeof v === "number") return v;
  if (typeof v === "bigint") {
    const f = Number(v);
    if (!Number.isFinite(f)) throw new RangeError("int too large to convert to float");
    return f;
  }
  if (typeof v === "string") return canonText(v);
  if (Array.isArray(v)) return v.map(canon);
  const o: PyObject = Object.create(null);
  for (const k of Object.keys(v)) o[k] = canon(v[k]);
  return o;
}

// ---- events ----------------------------------------------------------------------------

/** What `load_journal` learns from the journal: id labels, timestamps, operations. */
interface JournalFacts {
  /** id (hash key) → `J<line>` / `JP<line>`. */
  ids: Map<string, string>;
  /** timestamp (hash key) → `J<line>` of its first line. */
  timestamps: Map<string, string>;
  /** line number (hash key) → that line's header timestamp (None when absent). */
  lineTimestamps: Map<string, PyValue>;
  /** line number (hash key) → that line's route operation. */
  operations: Map<string, PyValue>;
}

function loadJournal(text: string): JournalFacts {
  const ids = new Map<string, string>();
  const parents = new Map<string, string>();
  const timestamps = new Map<string, string>();
  const lineTimestamps = new Map<string, PyValue>();
  const operations = new Map<string, PyValue>();
  pyLines(text).forEach((raw, index) => {
    const n = index + 1;
    const line = strip(raw);
    if (line === "") return;
    let m: PyValue;
    try {
      m = pyLoads(line);
    } catch {
      return;
    }
    if (!isDict(m)) return;
    let h = truthy(get(m, "header")) ? get(m, "header") : Object.create(null) as PyObject;
    if (!isDict(h)) h = Object.create(null) as PyObject;
    const msgId = get(h, "msg_id");
    if (truthy(msgId) && !ids.has(hashKey(msgId))) ids.set(hashKey(msgId), `J${n}`);
    const parent = get(h, "parent_msg_id");
    if (truthy(parent) && !parents.has(hashKey(parent))) parents.set(hashKey(parent), `JP${n}`);
    const ts = get(h, "timestamp");
    if (!timestamps.has(hashKey(ts))) timestamps.set(hashKey(ts), `J${n}`);
    lineTimestamps.set(hashKey(BigInt(n)), ts);
    const r = truthy(get(m, "route")) ? get(m, "route") : Object.create(null) as PyObject;
    operations.set(hashKey(BigInt(n)), isDict(r) ? get(r, "operation") : null);
  });
  for (const [p, label] of parents) if (!ids.has(p)) ids.set(p, label);
  return { ids, timestamps, lineTimestamps, operations };
}

/** The events of an output file, each with its line number in the file. */
function readEvents(text: string, fromLine = 0): { value: PyValue; line: number }[] {
  const events: { value: PyValue; line: number }[] = [];
  for (const [index, raw] of pyLines(text).entries()) {
    if (raw.startsWith("#### DB DUMP")) break;
    const line = strip(raw);
    if (line === "") continue;
    let value: PyValue;
    try {
      value = pyLoads(line);
    } catch (e) {
      throw new SyntaxError(
        `event line ${index + 1} is not JSON (${(e as Error).message}): ${line.slice(0, 200)}`,
      );
    }
    if (fromLine > 0 && isDict(value)) {
      const n = get(value, "in");
      if ((typeof n === "bigint" || typeof n === "number") && n < fromLine) continue;
    }
    events.push({ value, line: index + 1 });
  }
  return events;
}

function requireDict(v: PyValue, what: string): PyObject {
  if (!isDict(v)) throw new TypeError(`${what} is a ${typeName(v)}, not an object`);
  return v;
}

/** One output normalised: the events in comparable form, each with its line in the file. */
interface Normalised {
  events: PyValue[];
  /** `lines[i]`: the line of the output file event `i` came from. */
  lines: number[];
}

/** A message id (UUID) inside a text, as compare.py's `_UUID`. */
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** `normalise`: the event lines of one output in comparable form. */
function normalise(journal: JournalFacts, text: string, fromLine = 0): Normalised {
  const groups = new Map<string, { n: PyValue; events: PyObject[] }>();
  const lineOf = new WeakMap<PyObject, number>();
  for (const { value, line } of readEvents(text, fromLine)) {
    const e = requireDict(value, "event");
    lineOf.set(e, line);
    const n = get(e, "in");
    const key = hashKey(n);
    let group = groups.get(key);
    if (group === undefined) {
      group = { n, events: [] };
      groups.set(key, group);
    }
    group.events.push(e);
  }
  const fresh = new Map<string, string>();
  const label = (v: PyValue): PyValue => {
    if (!truthy(v)) return v;
    const key = hashKey(v);
    const known = journal.ids.get(key);
    if (known !== undefined) return known;
    let f = fresh.get(key);
    if (f === undefined) {
      f = `N${fresh.size + 1}`;
      fresh.set(key, f);
    }
    return f;
  };
  const fixMessage = (m: PyValue, n: PyValue): void => {
    if (!isDict(m)) return;
    const h = "header" in m
      ? requireDict(m.header, "message header")
      : Object.create(null) as PyObject;
    if ("msg_id" in h) h.msg_id = label(h.msg_id);
    if ("parent_msg_id" in h) h.parent_msg_id = label(h.parent_msg_id);
    for (const k of ["parent_msg_id", "resourceversion", "type", "sync"]) {
      if (!truthy(get(h, k))) delete h[k];
    }
    if ("timestamp" in h) {
      const t = h.timestamp;
      const own = journal.lineTimestamps.get(hashKey(n)) ?? null;
      h.timestamp = pyEq(t, own) ? `J${formatD(n)}` : journal.timestamps.get(hashKey(t)) ?? "NOW";
    }
    const r = "route" in m ? m.route : Object.create(null) as PyObject;
    if (isDict(r) && !truthy(get(r, "destination"))) delete r.destination;
    m.content = canon(get(m, "content"));
    // v1.23 error texts quote message ids (fresh ones among them)
    if (typeof m.content === "string") m.content = labelIds(m.content);
  };
  const labelIds = (s: string): string => s.replace(UUID, (id) => label(id) as string);
  const out: PyValue[] = [];
  const lines: number[] = [];
  const push = (v: PyValue, from: PyObject) => {
    out.push(v);
    lines.push(lineOf.get(from) ?? 0);
  };
  for (const { n, events } of groups.values()) {
    let messages = events.filter((e) => "message" in e);
    const other = events.filter((e) => !("message" in e));
    if (journal.operations.get(hashKey(n)) === "meta-internal-sync") {
      const keyed = messages.map((e) => {
        const m = requireDict(e.message, "message");
        const route = "route" in m ? requireDict(m.route, "message route") : null;
        const resource = route !== null && "resource" in route ? route.resource : "";
        return { e, resource, content: pyDumps(canon(get(m, "content")), false) };
      });
      keyed.sort((a, b) =>
        pyCompare(a.resource, b.resource) || compareStrings(a.content, b.content)
      );
      messages = keyed.map((k) => k.e);
    }
    for (const o of other) {
      if ("panic" in o) push({ in: n, panic: true }, o);
    }
    messages.forEach((e, i) => {
      delete e.content_bytes;
      e.seq = BigInt(i + 1);
      fixMessage(e.message, n);
      if ("reply" in e) fixMessage(e.reply, n);
      if (typeof e.error === "string") e.error = labelIds(e.error);
      push(e, e);
    });
    for (const o of other) {
      if (!("panic" in o)) push("error" in o ? { in: n, error: true } : o, o);
    }
  }
  return { events: out, lines };
}

/**
 * Compares replay event lines with the reference, as `compare.py events` does.
 *
 * @param journalText the journal replayed (NDJSON of wire messages)
 * @param expectedText the reference event lines (`NAME.out.ndjson`)
 * @param actualText the event lines produced
 * @returns the differing events (position, both normalised forms) and the figure;
 *   no differences means equal
 * @throws {SyntaxError} when an event line is not JSON (compare.py crashes there too)
 * @throws {TypeError} when an event or message has a shape compare.py cannot handle
 */
export function compareEvents(
  journalText: string,
  expectedText: string,
  actualText: string,
  options: CompareEventsOptions = {},
): Comparison {
  const journal = loadJournal(journalText);
  const na = normalise(journal, expectedText, options.fromLine);
  const nb = normalise(journal, actualText, options.fromLine);
  const a = na.events.map((e) => pyDumps(e, true));
  const b = nb.events.map((e) => pyDumps(e, true));
  const differences: string[] = [];
  const locations: EventLocation[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const ea = a[i] ?? "<missing>", eb = b[i] ?? "<missing>";
    if (ea !== eb) {
      differences.push(
        `event ${i + 1} differs:\n  expected: ${ea.slice(0, 500)}\n  actual:   ${eb.slice(0, 500)}`,
      );
      const event = na.events[i] ?? nb.events[i];
      const n = isDict(event) ? get(event, "in") : null;
      locations.push({
        expectedLine: na.lines[i],
        actualLine: nb.lines[i],
        journalLine: typeof n === "bigint" || typeof n === "number" ? Number(n) : undefined,
      });
    }
  }
  return {
    differences,
    summary: `events: ${a.length} expected, ${b.length} actual, ${differences.length} differ`,
    locations,
  };
}

// ---- database dumps --------------------------------------------------------------------

/** The rows of one table keyed by `key` (hash key → the key value and the row). */
function rowsByKey(dump: PyObject, table: string): Map<string, { key: PyValue; row: PyObject }> {
  const rows = new Map<string, { key: PyValue; row: PyObject }>();
  const list = table in dump ? dump[table] : [];
  let items: PyValue[];
  if (Array.isArray(list)) items = list;
  else if (typeof list === "string" || isDict(list)) {
    // Iterating a str or dict yields str items, which cannot be indexed by "key".
    if (truthy(list)) throw new TypeError("string indices must be integers");
    items = [];
  } else throw new TypeError(`'${typeName(list)}' object is not iterable`);
  for (const item of items) {
    const r = requireDict(item, `${table} row`);
    if (!("key" in r)) throw new TypeError(`${table} row without key`);
    const row: PyObject = Object.create(null);
    for (const k of Object.keys(r)) row[k] = k === "value" ? canonText(r[k]) : r[k];
    const h = hashKey(r.key);
    const previous = rows.get(h);
    rows.set(h, { key: previous ? previous.key : r.key, row });
  }
  return rows;
}

/**
 * Compares two database dumps (`{"meta":[...],"meta_v2":[...]}` JSON text), as
 * `compare.py db` does: rows matched by key, a missing row is a difference.
 *
 * @param expectedDump the reference dump (`NAME.db.json`)
 * @param actualDump the dump produced
 * @returns one difference per differing row (`table[key]` and both rows) and the figure
 * @throws {SyntaxError} when a dump is not JSON
 */
export function compareDb(expectedDump: string, actualDump: string): Comparison {
  const a = requireDict(pyLoads(expectedDump), "expected dump");
  const b = requireDict(pyLoads(actualDump), "actual dump");
  const differences: string[] = [];
  let total = 0;
  for (const table of ["meta", "meta_v2"]) {
    const ka = rowsByKey(a, table), kb = rowsByKey(b, table);
    const keys = new Map<string, PyValue>();
    for (const [h, { key }] of [...ka, ...kb]) if (!keys.has(h)) keys.set(h, key);
    const sorted = [...keys].sort((x, y) => pyCompare(x[1], y[1]));
    for (const [h, key] of sorted) {
      total++;
      const ra = ka.get(h)?.row ?? null, rb = kb.get(h)?.row ?? null;
      if (!pyEq(ra, rb)) {
        differences.push(
          `${table}[${pyStr(key)}]:\n  expected: ${pyDumps(ra, true).slice(0, 400)}\n  actual:   ${
            pyDumps(rb, true).slice(0, 400)
          }`,
        );
      }
    }
  }
  return { differences, summary: `db: ${total} rows, ${differences.length} differ` };
}

// ---- --exact ---------------------------------------------------------------------------

const STR = String.raw`"(?:[^"\\]|\\.)*"`;
const HEADER = new RegExp(String.raw`"header":\{((?:[^{}"]|${STR})*)\}`, "g");
const HDR_ID = new RegExp(String.raw`"(msg_id|parent_msg_id)":(${STR})`, "g");
const HDR_TS = /"timestamp":(-?\d+)(?=[,}]|$)/g;
const SEQ = /^(\{"in":-?\d+,"seq":)\d+/;
const CONTENT_BYTES = /,"content_bytes":true\}$/;

/** Lines split on `\n` only (a trailing empty piece dropped), as compare.py reads files. */
function exactLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

function normaliseExact(journal: JournalFacts, text: string): string[] {
  const groups = new Map<string, { n: PyValue; lines: { res: string; line: string }[] }>();
  for (let line of exactLines(text)) {
    if (line.startsWith("#### DB DUMP")) break;
    if (strip(line) === "") continue;
    let e: PyValue = null;
    try {
      e = pyLoads(line);
    } catch {
      e = null;
    }
    const n = isDict(e) ? get(e, "in") : null;
    let key: string;
    try {
      key = hashKey(n);
    } catch {
      key = `repr:${pyDumps(n, true)}`;
    }
    if (isDict(e) && !("message" in e) && ("panic" in e || "error" in e)) {
      line = `{"in":${pyDumps(n, true)},"${"panic" in e ? "panic" : "error"}":true}`;
    } else line = line.replace(CONTENT_BYTES, "}");
    let res = "";
    if (isDict(e) && isDict(get(e, "message"))) {
      const route = get(e.message as PyObject, "route");
      if (isDict(route)) {
        const r = "resource" in route ? route.resource : "";
        res = typeof r === "string" ? r : pyDumps(r, true);
      }
    }
    let g = groups.get(key);
    if (g === undefined) groups.set(key, g = { n, lines: [] });
    g.lines.push({ res, line });
  }
  const fresh = new Map<string, string>();
  const fid = (all: string, field: string, raw: string): string => {
    let v: string;
    try {
      v = JSON.parse(raw);
    } catch {
      v = raw;
    }
    if (v === "" || journal.ids.has(hashKey(v))) return all;
    let f = fresh.get(v);
    if (f === undefined) fresh.set(v, f = `N${fresh.size + 1}`);
    return `"${field}":"${f}"`;
  };
  const fts = (all: string, digits: string): string =>
    journal.timestamps.has(hashKey(BigInt(digits))) ? all : '"timestamp":NOW';
  const out: string[] = [];
  for (const { n, lines } of groups.values()) {
    let g = lines;
    let op: PyValue | undefined;
    try {
      op = journal.operations.get(hashKey(n));
    } catch {
      op = undefined;
    }
    if (op === "meta-internal-sync") {
      g = [...g].sort((a, b) => compareStrings(a.res, b.res));
      g = g.map(({ res, line }) => ({ res, line: line.replace(SEQ, "$1_") }));
    }
    for (const { line } of g) {
      out.push(
        line.replace(
          HEADER,
          (_all, body: string) => `"header":{${body.replace(HDR_ID, fid).replace(HDR_TS, fts)}}`,
        ),
      );
    }
  }
  if (fresh.size === 0) return out;
  const keys = [...fresh.keys()].filter((k) => k !== "").sort((a, b) => b.length - a.length);
  const quoted = new RegExp(
    keys.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"),
    "g",
  );
  return out.map((l) => l.replace(quoted, (m) => fresh.get(m) ?? m));
}

/**
 * Compares replay event lines with the reference as `compare.py --exact events` does:
 * every line textually identical once fresh ids (`N<k>`) and timestamps that are no
 * journal line's (`NOW`) are replaced inside each `"header":{...}`, the lines of a
 * `meta-internal-sync` sorted by resource with `seq` blanked, panic and error lines
 * compared by presence only and `content_bytes` ignored.
 */
export function compareEventsExact(
  journalText: string,
  expectedText: string,
  actualText: string,
): Comparison {
  const journal = loadJournal(journalText);
  const a = normaliseExact(journal, expectedText), b = normaliseExact(journal, actualText);
  const differences: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const ea = a[i] ?? "<missing>", eb = b[i] ?? "<missing>";
    if (ea !== eb) {
      differences.push(
        `line ${i + 1} differs:\n  expected: ${ea.slice(0, 500)}\n  actual:   ${eb.slice(0, 500)}`,
      );
    }
  }
  return {
    differences,
    summary:
      `events (exact): ${a.length} expected, ${b.length} actual, ${differences.length} differ`,
  };
}

/** A JSON number with a fraction or exponent, kept as its text. */
class FloatText {
  constructor(readonly text: string) {}
}

type Typed = null | boolean | string | bigint | FloatText | Typed[] | { [k: string]: Typed };

function loadsTyped(text: string): Typed {
  return JSON.parse(text, (_k, v, ctx?: { source?: string }) => {
    if (typeof v !== "number") return v;
    const src = ctx?.source ?? String(v);
    return /^-?\d+$/.test(src) ? BigInt(src) : new FloatText(src);
  });
}

function typeOf(v: Typed): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "list";
  if (v instanceof FloatText) return "float";
  return typeof v;
}

/** compare.py's same_exact: same types (int, float, bool distinct), same text, same keys. */
function sameExact(a: Typed | undefined, b: Typed | undefined): boolean {
  const work: [Typed | undefined, Typed | undefined][] = [[a, b]];
  while (work.length > 0) {
    const [x, y] = work.pop()!;
    if (x === undefined || y === undefined) {
      if (x !== y) return false;
      continue;
    }
    if (typeOf(x) !== typeOf(y)) return false;
    if (Array.isArray(x)) {
      const ys = y as Typed[];
      if (x.length !== ys.length) return false;
      x.forEach((v, i) => work.push([v, ys[i]]));
    } else if (x instanceof FloatText) {
      if (x.text !== (y as FloatText).text) return false;
    } else if (x !== null && typeof x === "object") {
      const yo = y as { [k: string]: Typed };
      const kx = Object.keys(x), ky = Object.keys(yo);
      if (kx.length !== ky.length || kx.some((k) => !Object.hasOwn(yo, k))) return false;
      for (const k of kx) work.push([x[k], yo[k]]);
    } else if (x !== y) return false;
  }
  return true;
}

/**
 * Compares two database dumps as `compare.py --exact db` does: rows matched by key,
 * every column of every row identical (values as stored text, `resourceversion` as the
 * exact integer, JSON types kept).
 */
export function compareDbExact(expectedDump: string, actualDump: string): Comparison {
  const A = loadsTyped(expectedDump), B = loadsTyped(actualDump);
  const isObj = (v: Typed): v is { [k: string]: Typed } =>
    v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof FloatText);
  if (!isObj(A) || !isObj(B)) {
    return {
      differences: ["a dump is not a JSON object"],
      summary: "db (exact): 1 rows, 1 differ",
    };
  }
  const differences: string[] = [];
  let total = 0;
  const others = [...new Set([...Object.keys(A), ...Object.keys(B)])]
    .filter((t) => t !== "meta" && t !== "meta_v2").sort(compareStrings);
  const show = (v: Typed | undefined) =>
    JSON.stringify(
      v,
      (_k, x) => typeof x === "bigint" ? x.toString() : x instanceof FloatText ? x.text : x,
    )?.slice(0, 400);
  for (const t of ["meta", "meta_v2", ...others]) {
    const ra = A[t], rb = B[t];
    if (!Array.isArray(ra) || !Array.isArray(rb)) {
      total++;
      if (!sameExact(ra, rb)) {
        differences.push(`${t}:\n  expected: ${show(ra)}\n  actual:   ${show(rb)}`);
      }
      continue;
    }
    const byKey = (rows: Typed[]) => {
      const d = new Map<string, Typed[]>();
      for (const r of rows) {
        const k = isObj(r) ? r.key : null;
        const key = typeof k === "string" ? k : "\x00" + show(k);
        if (!d.has(key)) d.set(key, []);
        d.get(key)!.push(r);
      }
      return d;
    };
    const ka = byKey(ra), kb = byKey(rb);
    for (const k of [...new Set([...ka.keys(), ...kb.keys()])].sort(compareStrings)) {
      total++;
      if (!sameExact(ka.get(k), kb.get(k))) {
        differences.push(
          `${t}[${k}]:\n  expected: ${show(ka.get(k))}\n  actual:   ${show(kb.get(k))}`,
        );
      }
    }
  }
  return { differences, summary: `db (exact): ${total} rows, ${differences.length} differ` };
}
