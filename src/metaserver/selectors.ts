/**
 * Label and field selectors with Kubernetes' syntax and semantics
 * (k8s.io/apimachinery/pkg/labels and pkg/fields).
 *
 * Label selectors: comma-separated requirements `key`, `!key`, `key=v`, `key==v`,
 * `key!=v`, `key in (a,b)`, `key notin (a,b)`, `key>1`, `key<1`. `!=` and `notin` match
 * objects without the label. Field selectors: comma-separated `field=v`, `field==v`,
 * `field!=v` (`\,` `\=` `\\` escape), over the fields a resource supports.
 *
 * @module
 */

import { RawNumber } from "../beehive/go_json.ts";

/** A selector that does not parse (answered with 400 BadRequest). */
export class SelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SelectorError";
  }
}

/** What selectors look at: an object's labels and its selectable fields. */
export interface Selectable {
  labels: Record<string, string>;
  fields: Record<string, string>;
}

// ------------------------------------------------------------------ label selectors

/** A label requirement operator. */
export type LabelOperator =
  | "="
  | "=="
  | "!="
  | "in"
  | "notin"
  | "exists"
  | "!"
  | "gt"
  | "lt";

/** One requirement of a label selector. */
export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

/** A parsed label selector (all requirements must hold). */
export class LabelSelector {
  constructor(readonly requirements: readonly LabelRequirement[]) {}

  /** True when the selector selects everything. */
  get empty(): boolean {
    return this.requirements.length === 0;
  }

  /** Whether `labels` satisfy every requirement. */
  matches(labels: Record<string, string>): boolean {
    return this.requirements.every((r) => requirementMatches(r, labels));
  }
}

function requirementMatches(r: LabelRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = has ? labels[r.key] : "";
  switch (r.operator) {
    case "=":
    case "==":
    case "in":
      return has && r.values.includes(value);
    case "!=":
    case "notin":
      return !has || !r.values.includes(value);
    case "exists":
      return has;
    case "!":
      return !has;
    case "gt":
    case "lt": {
      if (!has || !/^-?\d+$/.test(value)) return false;
      const actual = BigInt(value), wanted = BigInt(r.values[0]);
      return r.operator === "gt" ? actual > wanted : actual < wanted;
    }
  }
}

type TokenKind =
  | "id"
  | "in"
  | "notin"
  | "="
  | "=="
  | "!="
  | "!"
  | "("
  | ")"
  | ","
  | ">"
  | "<"
  | "end";

interface Token {
  kind: TokenKind;
  text: string;
}

const SPECIAL = "!=(),<>";

function lex(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (SPECIAL.includes(c)) {
      const two = input.slice(i, i + 2);
      if (two === "!=" || two === "==") {
        tokens.push({ kind: two, text: two });
        i += 2;
      } else {
        tokens.push({ kind: c as TokenKind, text: c });
        i++;
      }
      continue;
    }
    let j = i;
    while (j < input.length && !SPECIAL.includes(input[j]) && !/\s/.test(input[j])) j++;
    const text = input.slice(i, j);
    tokens.push({ kind: text === "in" ? "in" : text === "notin" ? "notin" : "id", text });
    i = j;
  }
  tokens.push({ kind: "end", text: "end of string" });
  return tokens;
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** Why `key` is not a valid label key (Kubernetes IsQualifiedName), or undefined. */
export function invalidLabelKey(key: string): string | undefined {
  const parts = key.split("/");
  let name = key;
  if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1];
    if (prefix === "") return "prefix part must be non-empty";
    if (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)) {
      return "prefix part must be a lowercase RFC 1123 subdomain";
    }
  } else if (parts.length > 2) {
    return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', " +
      "with an optional DNS subdomain prefix and '/'";
  }
  if (name === "") return "name part must be non-empty";
  if (name.length > 63) return "name part must be no more than 63 characters";
  if (!QUALIFIED_NAME.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must " +
      "start and end with an alphanumeric character";
  }
  return undefined;
}

/** Why `value` is not a valid label value, or undefined. */
export function invalidLabelValue(value: string): string | undefined {
  if (value === "") return undefined;
  if (value.length > 63) return "must be no more than 63 characters";
  if (!QUALIFIED_NAME.test(value)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, " +
      "'-', '_' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}

const OPERATORS: Partial<Record<TokenKind, LabelOperator>> = {
  "in": "in",
  "notin": "notin",
  "=": "=",
  "==": "==",
  "!=": "!=",
  ">": "gt",
  "<": "lt",
};

/**
 * Parses a label selector; "" selects everything.
 * @throws {SelectorError} with Kubernetes-style wording
 */
export function parseLabelSelector(input: string): LabelSelector {
  const tokens = lex(input);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => tokens[pos++];
  const fail = (why: string): never => {
    throw new SelectorError(`unable to parse requirement: ${why}`);
  };
  const isValue = (t: Token) => t.kind === "id" || t.kind === "in" || t.kind === "notin";
  // labels.Parser.parseValues / parseIdentifiersList: "()" is {""}, "(a,,b)" holds "".
  const parseValueSet = (): string[] => {
    const open = next();
    if (open.kind !== "(") fail(`found '${open.text}', expected: '('`);
    const set = new Set<string>();
    if (peek().kind === ")") {
      next();
      return [""];
    }
    if (!isValue(peek()) && peek().kind !== ",") {
      fail(`found '${peek().text}', expected: ',', ')' or identifier`);
    }
    for (;;) {
      const t = next();
      if (isValue(t)) {
        set.add(t.text);
        const la = peek();
        if (la.kind === ",") continue;
        if (la.kind === ")") break;
        fail(`found '${la.text}', expected: ',' or ')'`);
      } else if (t.kind === ",") {
        if (set.size === 0) set.add("");
        const la = peek();
        if (la.kind === ")") {
          set.add("");
          break;
        }
        if (la.kind === ",") {
          next();
          set.add("");
        }
      } else {
        fail(`found '${t.text}', expected: ',', or identifier`);
      }
    }
    const close = next();
    if (close.kind !== ")") fail(`found '${close.text}', expected: ')'`);
    return [...set].sort();
  };
  const requirements: LabelRequirement[] = [];
  if (peek().kind === "end") return new LabelSelector([]);
  for (;;) {
    // key, possibly negated
    let operator: LabelOperator | undefined;
    let t = next();
    if (t.kind === "!") {
      operator = "!";
      t = next();
    }
    if (t.kind !== "id") fail(`found '${t.text}', expected: !, identifier, or 'end of string'`);
    const key = t.text;
    const badKey = invalidLabelKey(key);
    if (badKey) fail(`key: Invalid value: ${JSON.stringify(key)}: ${badKey}`);
    let values: string[] = [];
    const after = peek();
    if (after.kind === "end" || after.kind === ",") {
      operator ??= "exists";
    } else if (operator === "!") {
      fail(`found '${after.text}', expected: ',' or 'end of string'`);
    } else {
      const op = OPERATORS[next().kind];
      if (op === undefined) {
        fail(`found '${after.text}', expected: in, notin, =, ==, !=, gt, lt`);
      }
      operator = op;
      if (op === "in" || op === "notin") {
        values = parseValueSet();
      } else {
        const v = peek();
        if (v.kind === "end" || v.kind === ",") values = [""];
        else if (v.kind === "id" || v.kind === "in" || v.kind === "notin") values = [next().text];
        else fail(`found '${v.text}', expected: identifier`);
        if ((op === "gt" || op === "lt") && !/^-?\d+$/.test(values[0])) {
          fail(
            `values[0]: Invalid value: ${
              JSON.stringify(values[0])
            }: for 'Gt', 'Lt' operators, the value must be an integer`,
          );
        }
      }
      if (op !== "gt" && op !== "lt") {
        for (let i = 0; i < values.length; i++) {
          const bad = invalidLabelValue(values[i]);
          if (bad) {
            fail(`values[${i}][${key}]: Invalid value: ${JSON.stringify(values[i])}: ${bad}`);
          }
        }
      }
    }
    requirements.push({ key, operator: operator!, values });
    const sep = next();
    if (sep.kind === "end") break;
    if (sep.kind !== ",") fail(`found '${sep.text}', expected: ',' or 'end of string'`);
  }
  return new LabelSelector(requirements);
}

// ------------------------------------------------------------------ field selectors

/** One term of a field selector. */
export interface FieldTerm {
  field: string;
  /** `=` (also for `==`) or `!=`. */
  operator: "=" | "!=";
  value: string;
}

/** A parsed field selector (all terms must hold). */
export class FieldSelector {
  constructor(readonly terms: readonly FieldTerm[]) {}

  /** True when the selector selects everything. */
  get empty(): boolean {
    return this.terms.length === 0;
  }

  /** Whether `fields` satisfy every term (a missing field reads as ""). */
  matches(fields: Record<string, string>): boolean {
    return this.terms.every((t) => ((fields[t.field] ?? "") === t.value) === (t.operator === "="));
  }

  /** The value `field` must equal, if a term requires one (Kubernetes RequiresExactMatch). */
  requiresExactMatch(field: string): string | undefined {
    return this.terms.find((t) => t.field === field && t.operator === "=")?.value;
  }

  /** The first field not in `supported`, if any. */
  unsupportedField(supported: readonly string[]): string | undefined {
    return this.terms.find((t) => !supported.includes(t.field))?.field;
  }
}

function splitTerms(input: string): string[] {
  const terms: string[] = [];
  let start = 0, escaped = false;
  for (let i = 0; i < input.length; i++) {
    if (escaped) escaped = false;
    else if (input[i] === "\\") escaped = true;
    else if (input[i] === ",") {
      terms.push(input.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(input.slice(start));
  return terms;
}

function unescapeValue(s: string): string {
  let out = "", escaped = false;
  for (const c of s) {
    if (escaped) {
      if (c !== "\\" && c !== "," && c !== "=") {
        throw new SelectorError(`invalid field selector: invalid escape sequence: \\${c}`);
      }
      out += c;
      escaped = false;
    } else if (c === "\\") escaped = true;
    else out += c;
  }
  if (escaped) throw new SelectorError("invalid field selector: unterminated escape sequence");
  return out;
}

const TERM_OPERATORS = ["!=", "==", "="] as const;

/**
 * Parses a field selector; "" selects everything.
 * @throws {SelectorError} for a term without an operator or a bad escape
 */
export function parseFieldSelector(input: string): FieldSelector {
  const terms: FieldTerm[] = [];
  for (const part of splitTerms(input).sort()) {
    if (part === "") continue;
    let found: FieldTerm | undefined;
    for (let i = 0; i < part.length && !found; i++) {
      const op = TERM_OPERATORS.find((o) => part.startsWith(o, i));
      if (op) {
        found = {
          field: part.slice(0, i),
          operator: op === "!=" ? "!=" : "=",
          value: unescapeValue(part.slice(i + op.length)),
        };
      }
    }
    if (!found) {
      throw new SelectorError(`invalid selector: '${input}'; can't understand '${part}'`);
    }
    terms.push(found);
  }
  return new FieldSelector(terms);
}

// ------------------------------------------------------------------ objects

function fieldText(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "boolean" || typeof v === "number" || typeof v === "bigint") return String(v);
  if (v instanceof RawNumber) return v.text;
  return "";
}

const METADATA_LABELS = ["metadata", "labels"] as const;

function atSegments(obj: unknown, segments: readonly string[]): unknown {
  let cur = obj;
  for (const seg of segments) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

/** The dotted paths of each list of field labels, split once per list. */
const SEGMENTS = new WeakMap<readonly string[], readonly (readonly string[])[]>();

function segmentsOf(fieldLabels: readonly string[]): readonly (readonly string[])[] {
  let segments = SEGMENTS.get(fieldLabels);
  if (segments === undefined) {
    segments = fieldLabels.map((f) => f.split("."));
    SEGMENTS.set(fieldLabels, segments);
  }
  return segments;
}

/**
 * The labels and the `fieldLabels` values of a decoded object. Fields are read as dotted
 * paths; booleans and numbers print as Go prints them, absent values as "".
 */
export function selectableOf(obj: unknown, fieldLabels: readonly string[]): Selectable {
  const labels: Record<string, string> = {};
  const raw = atSegments(obj, METADATA_LABELS);
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) {
    for (const [k, v] of Object.entries(raw)) if (typeof v === "string") labels[k] = v;
  }
  const fields: Record<string, string> = {};
  const segments = segmentsOf(fieldLabels);
  for (let i = 0; i < fieldLabels.length; i++) {
    fields[fieldLabels[i]] = fieldText(atSegments(obj, segments[i]));
  }
  return { labels, fields };
}

/** A label and a field selector together. */
export interface Selection {
  labels: LabelSelector;
  fields: FieldSelector;
}

/** Whether `s` passes both selectors. */
export function selects(selection: Selection, s: Selectable): boolean {
  return selection.labels.matches(s.labels) && selection.fields.matches(s.fields);
}
